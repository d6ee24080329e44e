-- What replicas sharing this database share beyond the entities.
--
-- status_feed: every status change, numbered in commit order (a
-- transaction-scoped advisory lock serializes the inserts), so every
-- replica reads the same changes in the same order and a client that
-- reconnects to any replica asks for those after the last id it saw.
-- Pruned by age; agent rows may be gone, so it names what it needs.
CREATE TABLE status_feed (
    id           BIGSERIAL PRIMARY KEY,
    at           TIMESTAMPTZ NOT NULL,
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

-- throttles: failed logins and registrations per account or address,
-- counted by whichever replica the attempt reached.
CREATE TABLE throttles (
    key          TEXT COLLATE "C" PRIMARY KEY,
    count        INTEGER NOT NULL,
    last_at      TIMESTAMPTZ NOT NULL,
    locked_until TIMESTAMPTZ NOT NULL
);
