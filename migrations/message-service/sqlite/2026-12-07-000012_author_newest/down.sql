DROP TRIGGER author_newest_flag;
DROP TRIGGER author_newest_insert;
DROP TABLE author_newest;
