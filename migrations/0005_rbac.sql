-- enableRbacAuthorization and the vault's role assignments (JSON array of
-- {id, principalId, roleDefinitionId, scope}); access policies stay in access_policies.
ALTER TABLE vaults ADD COLUMN rbac_authorization INTEGER NOT NULL DEFAULT 0;
ALTER TABLE vaults ADD COLUMN role_assignments TEXT NOT NULL DEFAULT '[]';
