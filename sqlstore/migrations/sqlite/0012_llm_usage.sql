-- The LLM gateway's usage: one row per agent, UTC day and model, added to
-- atomically (INSERT ... ON CONFLICT DO UPDATE). Rows outlive their agent:
-- what a deleted agent spent still counts against its owner's budget.
CREATE TABLE llm_usage (
    agent_id          TEXT    NOT NULL,
    user_id           TEXT    NOT NULL,
    usage_day         TEXT    NOT NULL, -- 2026-12-07, UTC
    model             TEXT    NOT NULL,
    requests          INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, usage_day, model)
);
CREATE INDEX llm_usage_user_day ON llm_usage (user_id, usage_day);
CREATE INDEX llm_usage_day ON llm_usage (usage_day);
