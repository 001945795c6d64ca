-- Runs once, when the postgres volume is first initialised (docker-entrypoint-initdb.d).
-- Two databases: `app` (sites, users, conversations, form definitions, audit trail) and
-- `vault` (tokenized, encrypted submissions only). Keeping the vault in its own database
-- lets you back it up, restrict and audit it apart from the app data; for stricter
-- separation give each database its own role and use two different URLs.
CREATE DATABASE app;
CREATE DATABASE vault;
