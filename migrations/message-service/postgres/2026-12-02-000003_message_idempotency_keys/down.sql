DROP INDEX messages_idempotency_idx;
ALTER TABLE messages DROP COLUMN idempotency_key;
