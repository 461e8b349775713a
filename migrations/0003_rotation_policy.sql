-- A key's rotation policy, as the JSON the API exchanges (lifetimeActions, attributes).
ALTER TABLE keys ADD COLUMN rotation_policy TEXT;
