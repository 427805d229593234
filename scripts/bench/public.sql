-- GET /msgs?no=30: the public timeline page (authors come from the gateway's cache).
SELECT id, author_id, text, pub_date, flagged FROM messages WHERE NOT flagged AND (pub_date, id) < (9223372036854775807, 9223372036854775807) ORDER BY pub_date DESC, id DESC LIMIT 30;
