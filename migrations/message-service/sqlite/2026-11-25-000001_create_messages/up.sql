-- Messages. `author_id` is a user-service id (no foreign key: each service owns its
-- own database). `pub_date` is unix seconds, set by the service at insert. Flagged
-- messages stay in the table but are left out of every timeline.
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL,
    -- At most minitwit_api::domain::TEXT_MAX_CHARS characters.
    text TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 1000),
    pub_date INTEGER NOT NULL,
    flagged BOOLEAN NOT NULL DEFAULT false CHECK (flagged IN (0, 1))
);
-- The public timeline (GET /messages): newest unflagged messages first, and the
-- keyset condition (pub_date, id) < (cursor) as the start of the range scan.
CREATE INDEX messages_public_idx ON messages (pub_date DESC, id DESC) WHERE NOT flagged;
-- One author's messages (GET /messages/by-author/{id}) and "my timeline"
-- (POST /messages/by-authors, one range per author of the IN list).
CREATE INDEX messages_author_idx ON messages (author_id, pub_date DESC, id DESC) WHERE NOT flagged;
-- Flag and unflag by id (PUT/DELETE /messages/{id}/flag) use the primary key (rowid).
