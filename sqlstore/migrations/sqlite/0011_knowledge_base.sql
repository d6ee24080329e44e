-- An agent's knowledge_base, as the original Warder's clients send it:
-- JSON text kept and shown back, NULL when none. Warder does not act on it.
ALTER TABLE agents ADD COLUMN knowledge_base TEXT;
