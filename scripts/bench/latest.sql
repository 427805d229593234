-- The simulator's `latest`, written by every request of the naive design: the upsert
-- message-service runs (one row, so every writer waits for the same row lock).
INSERT INTO sim_latest (id, value) VALUES (1, :client_id) ON CONFLICT (id) DO UPDATE SET value = excluded.value;
