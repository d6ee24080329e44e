-- Listing and quotas without reading every agent. A user's agents in the
-- listing order, so a page of GET /api/agents (keyset on created_at, id)
-- reads only its own rows; and a user's agents by status, so the quota
-- checks count running agents from the index alone. Counting all of a
-- user's agents uses the (user_id, name) unique index already there.
CREATE INDEX agents_user_created_at ON agents (user_id, created_at, id);
CREATE INDEX agents_user_status ON agents (user_id, status);
