-- Every call that changed something (or tried to): who, what, which agent,
-- the result and when. No foreign keys: the record outlives the agent
-- (and the user) it names.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         TIMESTAMP NOT NULL,
    user_id    TEXT NOT NULL DEFAULT '',
    username   TEXT NOT NULL DEFAULT '',
    action     TEXT NOT NULL,
    agent_id   TEXT NOT NULL DEFAULT '',
    status     INTEGER NOT NULL,
    result     TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_user ON audit_log (user_id, at);
CREATE INDEX audit_log_agent ON audit_log (agent_id, at);
