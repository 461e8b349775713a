-- Managed HSMs share the vaults table (names are unique across vaults and HSMs). NULL: a vault;
-- otherwise the HSM's own state as JSON (activation, initial administrators, custom roles).
ALTER TABLE vaults ADD COLUMN managed_hsm TEXT;
