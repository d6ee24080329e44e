-- Users. username_key and email_key hold the lower-cased (Go's
-- strings.ToLower) username and email: uniqueness and login are
-- case-insensitive, and folding in Go rather than with SQL lower() makes
-- SQLite (ASCII-only lower) and PostgreSQL (locale-dependent) agree.
-- email_key is NULL when the user has no email, so many users may have none.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL,
    username_key  TEXT NOT NULL UNIQUE,
    email         TEXT NOT NULL DEFAULT '',
    email_key     TEXT UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL
);

-- Bearer tokens, by the SHA-256 of their secret. A user's tokens go with it.
CREATE TABLE tokens (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE INDEX tokens_user_id ON tokens (user_id);
CREATE INDEX tokens_expires_at ON tokens (expires_at);

-- Agents. config and container_config are JSON text. host_port is NULL
-- while the agent holds no port; UNIQUE lets many rows be NULL and makes
-- claiming a port atomic across processes.
CREATE TABLE agents (
    id               TEXT PRIMARY KEY,
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
    host_port        INTEGER UNIQUE,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    UNIQUE (user_id, name)
);

CREATE INDEX agents_created_at ON agents (created_at, id);
