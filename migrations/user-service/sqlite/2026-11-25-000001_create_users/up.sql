-- Accounts. Usernames are unique and immutable; the unique index decides a race
-- between two registrations of one name (the loser gets 409), and serves the
-- lookups by name (login, GET /users/by-name/{username}).
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL CHECK (length(username) BETWEEN 1 AND 64),
    email TEXT NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    -- argon2id in PHC string format: algorithm, parameters, salt and hash in one.
    pw_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
);
CREATE UNIQUE INDEX users_username_key ON users (username);
-- The batch lookup by ids (POST /users/batch) uses the primary key (rowid).
