DROP TRIGGER author_newest_flag ON messages;
DROP TRIGGER author_newest_insert ON messages;
DROP FUNCTION author_newest_after_flag();
DROP FUNCTION author_newest_after_insert();
DROP TABLE author_newest;
