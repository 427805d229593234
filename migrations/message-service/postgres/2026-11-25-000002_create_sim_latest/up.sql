-- The simulator's `latest` value (GET/PUT /latest): one row, id fixed to 1, written
-- with an upsert. No row yet means nothing was ever recorded (GET answers -1).
CREATE TABLE sim_latest (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
