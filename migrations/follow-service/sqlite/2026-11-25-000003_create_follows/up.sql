-- The follow graph: one row per (follower, followee) pair of user ids (user-service
-- owns the users; no foreign key crosses databases).
-- WITHOUT ROWID: the table is stored in its primary key, so there is no second b-tree.
CREATE TABLE follows (
    follower_id BIGINT NOT NULL,
    followee_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL DEFAULT (unixepoch()),
    -- One row however often a pair is followed: PUT /follows/{a}/{b} inserts
    -- ON CONFLICT DO NOTHING, so concurrent follows leave one row. The same key
    -- serves DELETE and GET /follows/{a}/{b} (a point lookup) and GET /follows/{a}
    -- (a range scan on follower_id in followee_id order).
    PRIMARY KEY (follower_id, followee_id),
    -- Following yourself is refused (400 self_follow); the route checks first, this
    -- keeps the data honest.
    CHECK (follower_id <> followee_id)
) WITHOUT ROWID;
-- No index on followee_id: no route asks "who follows X". Add one with that route.
