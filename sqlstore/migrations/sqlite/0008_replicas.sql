-- The tables replicas share on PostgreSQL (see its 0008_replicas.sql).
-- An embedded SQLite database is one process's, which keeps these in
-- memory; the tables exist so both schemas stay the same.
CREATE TABLE status_feed (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TIMESTAMP NOT NULL,
    agent_id     TEXT NOT NULL,
    agent_name   TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    container_id TEXT NOT NULL DEFAULT '',
    from_status  TEXT NOT NULL,
    to_status    TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    actor        TEXT NOT NULL DEFAULT ''
);

CREATE INDEX status_feed_at ON status_feed (at);

CREATE TABLE throttles (
    key          TEXT PRIMARY KEY,
    count        INTEGER NOT NULL,
    last_at      TIMESTAMP NOT NULL,
    locked_until TIMESTAMP NOT NULL
);
