DROP INDEX users_legacy_password_idx;
ALTER TABLE users DROP COLUMN pw_scheme;
