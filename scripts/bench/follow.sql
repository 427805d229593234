-- POST /fllws/<user> {"follow"}: follow-service inserts the pair, idempotently.
\set a random(1, :users)
\set b 1 + (:a + random(0, :users - 2)) % :users
INSERT INTO follows (follower_id, followee_id) VALUES (:a, :b) ON CONFLICT DO NOTHING;
