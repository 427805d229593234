-- Each author's newest unflagged message, (pub_date, id): "my timeline" ranks its
-- authors by it and reads messages of only those who can reach the page (see
-- `AuthorsTimeline` in crates/message-service/src/messages.rs), so its cost stays
-- flat as the table grows. A row exists while the author has an unflagged message.
-- Kept by the triggers below on every write path: the service's inserts, the bulk
-- loads' COPY (one statement, one aggregate over its rows), flag and unflag.
CREATE TABLE author_newest (
    author_id BIGINT PRIMARY KEY,
    pub_date BIGINT NOT NULL,
    id BIGINT NOT NULL
);

INSERT INTO author_newest (author_id, pub_date, id)
SELECT DISTINCT ON (author_id) author_id, pub_date, id
FROM messages WHERE NOT flagged
ORDER BY author_id, pub_date DESC, id DESC;

CREATE FUNCTION author_newest_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO author_newest AS n (author_id, pub_date, id)
    SELECT DISTINCT ON (author_id) author_id, pub_date, id
    FROM inserted WHERE NOT flagged
    ORDER BY author_id, pub_date DESC, id DESC
    ON CONFLICT (author_id) DO UPDATE SET pub_date = EXCLUDED.pub_date, id = EXCLUDED.id
        WHERE (EXCLUDED.pub_date, EXCLUDED.id) > (n.pub_date, n.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER author_newest_insert AFTER INSERT ON messages
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION author_newest_after_insert();

-- Flags are rare (an operator's command): the author's row is computed again from
-- messages_author_idx (one index descent).
CREATE FUNCTION author_newest_after_flag() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM author_newest WHERE author_id = NEW.author_id;
    INSERT INTO author_newest (author_id, pub_date, id)
    SELECT author_id, pub_date, id FROM messages
    WHERE author_id = NEW.author_id AND NOT flagged
    ORDER BY pub_date DESC, id DESC LIMIT 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER author_newest_flag AFTER UPDATE OF flagged ON messages
    FOR EACH ROW WHEN (OLD.flagged IS DISTINCT FROM NEW.flagged)
    EXECUTE FUNCTION author_newest_after_flag();
