-- Refresh tokens, by the SHA-256 of their secret, as tokens are. Each
-- login starts a family; a refresh uses its token up (used_at) and issues
-- the family's next one with a new access token (access_hash). A used
-- token shown again revokes its family and the access tokens issued in
-- it; so does logging out with one of those access tokens. Used rows stay
-- until they expire so that both can still find the family's tokens.
CREATE TABLE refresh_tokens (
    hash        TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family      TEXT NOT NULL,
    access_hash TEXT NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);

CREATE INDEX refresh_tokens_user_id ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_access_hash ON refresh_tokens (access_hash);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

-- When an admin last changed a user (role, disabled, limits); NULL until
-- then, read as created_at.
ALTER TABLE users ADD COLUMN updated_at TIMESTAMP;
