-- Soft-deleted vaults: their keys stay, unreachable, until recovered or purged.
ALTER TABLE vaults ADD COLUMN deleted_date INTEGER;
ALTER TABLE vaults ADD COLUMN scheduled_purge_date INTEGER;
