-- The generation of a user's web sessions: the gateway keeps it in the session
-- cookie and accepts the cookie only while it is current; logging out
-- (POST /users/{id}/session/end) adds one, so every cookie issued before is worthless.
ALTER TABLE users ADD COLUMN session_generation BIGINT NOT NULL DEFAULT 0;
