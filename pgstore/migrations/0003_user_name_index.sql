-- teamscim schema, version 3: the unique index on userNames leads with the userName's digest.
--
-- With team_id first, PostgreSQL could not tell that index from the primary key (team_id, id)
-- while the users table had no statistics (a new database, until its first ANALYZE): it planned
-- a lookup by ID on the userName index, reading every user of the team, and kept that plan in
-- the connection's prepared statement until the table was analyzed. With the digest first, a
-- lookup by ID can only use the primary key, and a lookup by userName uses both columns here.
--
-- The new index is built before the old one is dropped: building it holds off writes to the
-- users table (reads go on) for the time it takes, a few seconds per million users.
CREATE UNIQUE INDEX teamscim_users_user_name_key ON teamscim_users (user_name_key, team_id);
DROP INDEX teamscim_users_user_name;
ALTER INDEX teamscim_users_user_name_key RENAME TO teamscim_users_user_name;
