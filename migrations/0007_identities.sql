-- User-assigned identities created through the management API (config-file identities are
-- declared at every start and not stored). Ids derive from tenant and name.
CREATE TABLE identities (
    name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
    tenant_id TEXT NOT NULL,
    resource_group TEXT NOT NULL,
    location TEXT NOT NULL,
    tags TEXT NOT NULL,
    created INTEGER NOT NULL
);
