-- A key's release policy (secure key release): JSON {contentType, immutable, data}, where data
-- is the canonical policy document. Key-level: later versions inherit it.
ALTER TABLE keys ADD COLUMN release_policy TEXT;
