ALTER TABLE sim_latest DROP COLUMN recorded_at;
