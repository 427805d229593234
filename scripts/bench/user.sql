-- GET /msgs/<user>?no=30: one author's page.
\set author random(1, :users)
SELECT id, author_id, text, pub_date, flagged FROM messages WHERE author_id = :author AND NOT flagged AND (pub_date, id) < (9223372036854775807, 9223372036854775807) ORDER BY pub_date DESC, id DESC LIMIT 30;
