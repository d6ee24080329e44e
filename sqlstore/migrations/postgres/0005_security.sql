-- Agents' secret env vars, sealed with AES-256-GCM by package secret;
-- never stored in clear text. Empty when the agent has none.
ALTER TABLE agents ADD COLUMN secret_env TEXT NOT NULL DEFAULT '';

-- A disabled user can neither log in nor use a token or key. limits holds
-- an admin's per-user quota overrides as JSON; {} means the defaults.
ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN limits TEXT NOT NULL DEFAULT '{}';

-- API keys for automation, by the SHA-256 of their secret; prefix is the
-- start of the key, shown so a user can tell keys apart.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    read_only    BOOLEAN NOT NULL DEFAULT FALSE,
    expires_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ
);

CREATE INDEX api_keys_user_id ON api_keys (user_id);
