-- The schema of migrations/sqlite/0001_init.sql, in PostgreSQL's types:
-- TIMESTAMPTZ for times, and the same TEXT columns (ids are text UUIDs,
-- config and container_config JSON text, stored as written).
--
-- The unique constraints are named: when two transactions race past the
-- store's pre-checks (READ COMMITTED lets them), the constraint name in
-- the error tells the store which value clashed (see dialect.go).
--
-- username_key and email_key hold the lower-cased (Go's strings.ToLower)
-- username and email: folding in Go rather than with SQL lower() makes
-- SQLite and PostgreSQL agree. email_key is NULL when the user has no
-- email, so many users may have none.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL CONSTRAINT users_username_unique UNIQUE,
    email         TEXT NOT NULL DEFAULT '',
    email_key     TEXT CONSTRAINT users_email_unique UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

-- Bearer tokens, by the SHA-256 of their secret. A user's tokens go with it.
CREATE TABLE tokens (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX tokens_user_id ON tokens (user_id);
CREATE INDEX tokens_expires_at ON tokens (expires_at);

-- Agents. host_port is NULL while the agent holds no port; UNIQUE lets
-- many rows be NULL and makes claiming a port atomic across processes.
-- id sorts bytewise (COLLATE "C"), as in SQLite: ListAgents orders by
-- (created_at, id), and the database's default collation may ignore the
-- hyphens of a UUID.
CREATE TABLE agents (
    id               TEXT COLLATE "C" PRIMARY KEY,
    user_id          TEXT NOT NULL REFERENCES users (id),
    name             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    type             TEXT NOT NULL DEFAULT '',
    config           TEXT NOT NULL DEFAULT '{}',
    container_config TEXT NOT NULL DEFAULT '{}',
    status           TEXT NOT NULL,
    container_id     TEXT NOT NULL DEFAULT '',
    container_name   TEXT NOT NULL DEFAULT '',
    container_status TEXT NOT NULL DEFAULT '',
    host_port        INTEGER CONSTRAINT agents_host_port_unique UNIQUE,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    CONSTRAINT agents_user_name_unique UNIQUE (user_id, name)
);

CREATE INDEX agents_created_at ON agents (created_at, id);
