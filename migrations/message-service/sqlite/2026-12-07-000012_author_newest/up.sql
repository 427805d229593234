-- Each author's newest unflagged message, (pub_date, id): "my timeline" ranks its
-- authors by it and reads messages of only those who can reach the page (see
-- `by_authors` in crates/message-service/src/messages.rs). A row exists while the
-- author has an unflagged message. Kept by the triggers below on every write path.
CREATE TABLE author_newest (
    author_id INTEGER PRIMARY KEY,
    pub_date INTEGER NOT NULL,
    id INTEGER NOT NULL
);

INSERT INTO author_newest (author_id, pub_date, id)
SELECT author_id, pub_date, id FROM (
    SELECT author_id, pub_date, id,
           row_number() OVER (PARTITION BY author_id ORDER BY pub_date DESC, id DESC) AS newest
    FROM messages WHERE NOT flagged
) WHERE newest = 1;

CREATE TRIGGER author_newest_insert AFTER INSERT ON messages WHEN NOT NEW.flagged
BEGIN
    INSERT INTO author_newest (author_id, pub_date, id) VALUES (NEW.author_id, NEW.pub_date, NEW.id)
    ON CONFLICT (author_id) DO UPDATE SET pub_date = excluded.pub_date, id = excluded.id
        WHERE (excluded.pub_date, excluded.id) > (author_newest.pub_date, author_newest.id);
END;

CREATE TRIGGER author_newest_flag AFTER UPDATE OF flagged ON messages
    WHEN OLD.flagged IS NOT NEW.flagged
BEGIN
    DELETE FROM author_newest WHERE author_id = NEW.author_id;
    INSERT INTO author_newest (author_id, pub_date, id)
    SELECT author_id, pub_date, id FROM messages
    WHERE author_id = NEW.author_id AND NOT flagged
    ORDER BY pub_date DESC, id DESC LIMIT 1;
END;
