-- When the gateway received the stored `latest` (microseconds since the Unix epoch).
-- A write carrying an older time is ignored, so a call that lands late (a hedged
-- copy, or one the gateway gave up on that the service still finished) cannot set
-- `latest` back past a newer value. 0: the row written before this column existed.
ALTER TABLE sim_latest ADD COLUMN recorded_at BIGINT NOT NULL DEFAULT 0;
