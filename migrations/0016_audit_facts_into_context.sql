-- Audit rows lose their vault, key, version, caller object id and path to the shared context.
-- They were most of a row's bytes (about 360 with the usage index's entries), every byte is
-- written twice (WAL, then checkpoint) on the core that serves the requests, and they repeat
-- from request to request as much as the rest of the context does: a service unwrapping with
-- one key version sends the same path each time. A row is now about 110 bytes with its index
-- entries. The query string stays a row column: paging tokens differ per request.
ALTER TABLE audit_context ADD COLUMN vault TEXT COLLATE NOCASE;
ALTER TABLE audit_context ADD COLUMN key_name TEXT COLLATE NOCASE;
ALTER TABLE audit_context ADD COLUMN version TEXT;
ALTER TABLE audit_context ADD COLUMN caller_object_id TEXT;

-- Each existing record's new context (`SharedContext` in src/audit/context.rs): its old context
-- with the moved facts added.
CREATE TEMP TABLE audit_regrouped AS
SELECT
    a.id,
    a.vault,
    a.key_name,
    a.version,
    a.caller_object_id,
    c.app_id,
    c.caller_name,
    c.operation,
    json_set(
        c.context,
        '$.caller.objectId', a.caller_object_id,
        '$.vault', a.vault,
        '$.key', a.key_name,
        '$.version', a.version,
        '$.path', CASE WHEN instr(a.path, '?') > 0 THEN substr(a.path, 1, instr(a.path, '?') - 1) ELSE a.path END
    ) AS context,
    CASE WHEN instr(a.path, '?') > 0 THEN substr(a.path, instr(a.path, '?') + 1) END AS query
FROM audit a
JOIN audit_context c ON c.id = a.context;

INSERT OR IGNORE INTO audit_context (app_id, caller_name, operation, vault, key_name, version, caller_object_id, context)
SELECT app_id, caller_name, operation, vault, key_name, version, caller_object_id, context FROM audit_regrouped;

-- As in 0015: no foreign key on `context` (the writer stores a context before its rows, in the
-- same transaction).
CREATE TABLE audit_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms INTEGER NOT NULL,
    context INTEGER NOT NULL,
    allowed INTEGER NOT NULL,
    status INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    client_request_id TEXT,
    client_address TEXT,
    query TEXT,
    duration_ms REAL NOT NULL
);

INSERT INTO audit_new (id, time_ms, context, allowed, status, request_id, client_request_id, client_address, query,
                       duration_ms)
SELECT a.id, a.time_ms, c.id, a.allowed, a.status, a.request_id, a.client_request_id, a.client_address, r.query,
       a.duration_ms
FROM audit a
JOIN audit_regrouped r ON r.id = a.id
JOIN audit_context c ON c.context = r.context;

DROP TABLE audit_regrouped;

-- Ids are never reused (paging cursors, SSE event ids): as in 0015, the new table goes on from
-- the highest id the old one handed out.
INSERT INTO sqlite_sequence (name, seq)
SELECT 'audit_new', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'audit_new');
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'audit'), 0))
WHERE name = 'audit_new';

DROP TABLE audit;
ALTER TABLE audit_new RENAME TO audit;
CREATE INDEX audit_time ON audit (time_ms);
-- The per-version usage summary finds a key's contexts, then reads this index alone.
CREATE INDEX audit_use ON audit (context, allowed, status);

-- The contexts of before, without the moved facts, name no record now.
DELETE FROM audit_context WHERE id NOT IN (SELECT context FROM audit);
CREATE INDEX audit_context_key ON audit_context (vault, key_name);
