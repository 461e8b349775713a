-- Audit rows lose what they share with many others. Each row used to carry its whole JSON record
-- (1.4 kB: resource id, rule, reason, user agent...), and writing it twice (WAL, then checkpoint)
-- was most of what the audit log cost a request (bench/RESULTS.md, "Audit log on vs off").
-- What repeats from request to request now lives once in `audit_context` (`src/audit/context.rs`
-- gives its JSON shape); a row keeps only what differs per request and the context's id.
-- `app_id`, `caller_name` and `operation` are columns of the context for the list's filters.
CREATE TABLE audit_context (
    id INTEGER PRIMARY KEY,
    app_id TEXT NOT NULL,
    caller_name TEXT COLLATE NOCASE,
    operation TEXT NOT NULL COLLATE NOCASE,
    context TEXT NOT NULL UNIQUE
);

-- The shared part of each existing record, in the shape `SharedContext` deserialises. The wall
-- clock becomes the emulator clock's offset from it.
CREATE TEMP VIEW audit_old_context AS
SELECT
    id,
    caller_app_id,
    caller_name,
    operation,
    json_object(
        'plane', record ->> '$.plane',
        'resourceId', record ->> '$.resourceId',
        'operation', record ->> '$.operation',
        'caller', json_object(
            'appId', record ->> '$.caller.appId',
            'tenantId', record ->> '$.caller.tenantId',
            'name', record ->> '$.caller.name',
            'tokenKind', record ->> '$.caller.tokenKind'
        ),
        'rule', record -> '$.rule',
        'reason', record ->> '$.reason',
        'userAgent', record ->> '$.userAgent',
        'method', record ->> '$.method',
        'host', record ->> '$.host',
        'clockOffsetMs', time_ms
            - CAST(ROUND((julianday(record ->> '$.wallTime') - 2440587.5) * 86400000) AS INTEGER)
    ) AS context
FROM audit;

INSERT OR IGNORE INTO audit_context (app_id, caller_name, operation, context)
SELECT caller_app_id, caller_name, operation, context FROM audit_old_context;

-- No foreign key on `context`: it would cost every insert a lookup, and the only writer (the
-- audit writer task) inserts a context before the rows that name it, in the same transaction.
CREATE TABLE audit_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms INTEGER NOT NULL,
    vault TEXT COLLATE NOCASE,
    key_name TEXT COLLATE NOCASE,
    version TEXT,
    caller_object_id TEXT NOT NULL,
    allowed INTEGER NOT NULL,
    status INTEGER NOT NULL,
    context INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    client_request_id TEXT,
    client_address TEXT,
    path TEXT NOT NULL,
    duration_ms REAL NOT NULL
);

INSERT INTO audit_new (id, time_ms, vault, key_name, version, caller_object_id, allowed, status, context,
                       request_id, client_request_id, client_address, path, duration_ms)
SELECT a.id, a.time_ms, a.vault, a.key_name, a.version, a.caller_object_id, a.allowed, a.status, c.id,
       a.record ->> '$.requestId', a.record ->> '$.clientRequestId', a.record ->> '$.clientAddress',
       a.record ->> '$.path', a.record ->> '$.durationMs'
FROM audit a
JOIN audit_old_context o ON o.id = a.id
JOIN audit_context c ON c.context = o.context;

DROP VIEW audit_old_context;

-- Ids are never reused (they are paging cursors and SSE event ids): the new table goes on from
-- the highest id the old one ever handed out, even if retention deleted it.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'audit_new', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'audit_new');
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'audit'), 0))
WHERE name = 'audit_new';

DROP TABLE audit;
ALTER TABLE audit_new RENAME TO audit;
CREATE INDEX audit_time ON audit (time_ms);
-- As in 0014: the per-version usage summary reads this index alone.
CREATE INDEX audit_key_use ON audit (vault, key_name, version, caller_object_id, allowed, status);
