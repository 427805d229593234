-- A message posted with an idempotency key is stored once per (author, key): a post
-- repeated with the same key (a retry after an answer was lost) answers the message
-- stored the first time instead of inserting a second one. Keys are at most
-- minitwit_api::domain::KEY_MAX_CHARS characters; messages without one are not keyed.
ALTER TABLE messages ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX messages_idempotency_idx ON messages (author_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
