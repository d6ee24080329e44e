-- What the container last reported, why the status is what it is, and
-- when the agent was last used (for idle auto-stop).
ALTER TABLE agents ADD COLUMN exit_code INTEGER;
ALTER TABLE agents ADD COLUMN restart_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE agents ADD COLUMN status_changed_at TIMESTAMP;
ALTER TABLE agents ADD COLUMN last_used_at TIMESTAMP;

-- Every status change of an agent, kept with the agent.
CREATE TABLE agent_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    agent_id    TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    at          TIMESTAMP NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL DEFAULT ''
);

CREATE INDEX agent_events_agent ON agent_events (agent_id, id);
