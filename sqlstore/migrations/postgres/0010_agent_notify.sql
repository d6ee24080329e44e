-- Every update or deletion of an agent row notifies warder_agents with
-- the agent's id, so every replica drops that row from its cache at once
-- (rowCache in sqlstore/rowcache.go; the feed's connection listens). A
-- trigger rather than a NOTIFY in each of the store's write methods: it
-- covers every writer, whatever its version or origin (another replica,
-- the warder CLI, an operator's SQL), and the notification is sent only
-- if the write commits, after it does. An insert needs none: no cache
-- holds a row that did not exist. PostgreSQL folds identical
-- notifications of one transaction into one. TRUNCATE names no row: its
-- empty payload drops them all.
CREATE FUNCTION warder_agent_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('warder_agents', '');
    ELSE
        PERFORM pg_notify('warder_agents', OLD.id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER agents_written AFTER UPDATE OR DELETE ON agents
    FOR EACH ROW EXECUTE FUNCTION warder_agent_written();

CREATE TRIGGER agents_truncated AFTER TRUNCATE ON agents
    FOR EACH STATEMENT EXECUTE FUNCTION warder_agent_written();
