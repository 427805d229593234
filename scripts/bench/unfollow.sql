-- POST /fllws/<user> {"unfollow"}: follow-service deletes the pair (if any).
\set a random(1, :users)
\set b 1 + (:a + random(0, :users - 2)) % :users
DELETE FROM follows WHERE follower_id = :a AND followee_id = :b;
