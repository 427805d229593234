-- A password imported from a legacy MiniTwit (minitwit-admin import) keeps its hash
-- as it was, and `pw_scheme` names how to verify it (user_service::legacy::Scheme:
-- werkzeug-pbkdf2, werkzeug-scrypt, werkzeug-salted, hex-md5, hex-sha256, or disabled
-- for a value of no known scheme, which matches no password). NULL: the
-- hash is argon2id. The first successful login re-hashes with argon2id and sets NULL.
ALTER TABLE users ADD COLUMN pw_scheme TEXT;
-- The gauge minitwit_users_legacy_password counts these every 30 s: an index of only
-- the legacy rows keeps that count as small as they are.
CREATE INDEX users_legacy_password_idx ON users (id) WHERE pw_scheme IS NOT NULL;
