-- A key made with another key records it: deleting a key deletes the
-- keys made with it, and theirs, so no key outlives its maker's revocation.
ALTER TABLE api_keys ADD COLUMN parent_id TEXT REFERENCES api_keys (id) ON DELETE CASCADE;

CREATE INDEX api_keys_parent_id ON api_keys (parent_id);
