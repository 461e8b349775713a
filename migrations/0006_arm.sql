-- What the management API knows about a vault: resource group, location, tags and SKU
-- (JSON {resourceGroup, location, tags, sku}); NULL for vaults made before it, which get the
-- defaults.
ALTER TABLE vaults ADD COLUMN arm TEXT;
