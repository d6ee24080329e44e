-- migrations/sqlite/0004_conversations.sql in PostgreSQL's types; ids
-- sort bytewise (COLLATE "C"), as agents.id does.

-- The container's health check while it runs: "healthy", "unhealthy",
-- "starting", or '' (not running, or no health check).
ALTER TABLE agents ADD COLUMN health TEXT NOT NULL DEFAULT '';

-- Conversations with an agent, and their messages; both go with the agent.
-- title is the start of the first message, for lists.
CREATE TABLE conversations (
    id         TEXT COLLATE "C" PRIMARY KEY,
    agent_id   TEXT COLLATE "C" NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX conversations_agent ON conversations (agent_id, updated_at);

-- Messages in the order they were stored (id); role is "user" or
-- "assistant", model the model that wrote an assistant message.
CREATE TABLE messages (
    id              BIGSERIAL PRIMARY KEY,
    conversation_id TEXT COLLATE "C" NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role            TEXT NOT NULL,
    content         TEXT NOT NULL,
    model           TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL
);

CREATE INDEX messages_conversation ON messages (conversation_id, id);
