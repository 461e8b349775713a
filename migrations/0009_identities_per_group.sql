-- A user-assigned identity's name is unique within its resource group, as in Azure, not
-- emulator-wide. Rows made before keep the ids derived from their name (client_id and
-- object_id NULL); identities made from now on store the ids they were given.
CREATE TABLE identities_per_group (
    resource_group TEXT NOT NULL COLLATE NOCASE,
    name TEXT NOT NULL COLLATE NOCASE,
    tenant_id TEXT NOT NULL,
    location TEXT NOT NULL,
    tags TEXT NOT NULL,
    client_id TEXT,
    object_id TEXT,
    created INTEGER NOT NULL,
    PRIMARY KEY (resource_group, name)
);
INSERT INTO identities_per_group (resource_group, name, tenant_id, location, tags, created)
    SELECT resource_group, name, tenant_id, location, tags, created FROM identities;
DROP TABLE identities;
ALTER TABLE identities_per_group RENAME TO identities;
