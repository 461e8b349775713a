-- The purge sweep looks up soft-deleted keys by their scheduled purge date.
CREATE INDEX keys_by_scheduled_purge ON keys (scheduled_purge_date) WHERE scheduled_purge_date IS NOT NULL;
