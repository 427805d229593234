-- POST /msgs/<user>: message-service inserts the message (the gateway's user cache
-- answers the name lookup).
\set author random(1, :users)
INSERT INTO messages (author_id, text, pub_date) VALUES (:author, 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt', extract(epoch FROM now())::bigint) RETURNING id, author_id, text, pub_date, flagged;
