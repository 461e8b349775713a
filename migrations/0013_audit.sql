-- The audit log (src/audit): one row per request that reached authorization. The filterable
-- fields are columns; `record` is the whole JSON record as served. AUTOINCREMENT so that an id is
-- never reused after retention deletes the newest rows' predecessors: ids are paging cursors
-- and SSE event ids.
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms INTEGER NOT NULL,
    vault TEXT COLLATE NOCASE,
    key_name TEXT COLLATE NOCASE,
    version TEXT,
    caller_object_id TEXT NOT NULL,
    caller_app_id TEXT NOT NULL,
    caller_name TEXT COLLATE NOCASE,
    operation TEXT NOT NULL COLLATE NOCASE,
    allowed INTEGER NOT NULL,
    status INTEGER NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX audit_time ON audit (time_ms);
CREATE INDEX audit_key ON audit (vault, key_name, version);
