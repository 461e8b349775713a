-- Vaults, keys and their versions, and the token issuer's signing keys.
-- Names compare case-insensitively, as Key Vault identifiers do (contract §1).

CREATE TABLE vaults (
    name TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
    tenant_id TEXT NOT NULL,
    soft_delete_retention_days INTEGER NOT NULL,
    purge_protection INTEGER NOT NULL,
    -- JSON array of access policies: [{tenantId, objectId, applicationId?, permissions: {keys: [...]}}]
    access_policies TEXT NOT NULL,
    created INTEGER NOT NULL
);

CREATE TABLE keys (
    vault TEXT NOT NULL COLLATE NOCASE REFERENCES vaults (name) ON DELETE CASCADE,
    name TEXT NOT NULL COLLATE NOCASE,
    current_version TEXT NOT NULL,
    deleted_date INTEGER,
    scheduled_purge_date INTEGER,
    PRIMARY KEY (vault, name)
);

CREATE TABLE key_versions (
    vault TEXT NOT NULL COLLATE NOCASE,
    name TEXT NOT NULL COLLATE NOCASE,
    version TEXT NOT NULL,
    -- creation order within the vault, for listing versions oldest first
    seq INTEGER NOT NULL,
    kty TEXT NOT NULL,
    -- JSON object of the public JWK members (n, e) or (crv, x, y), base64url
    public_jwk TEXT NOT NULL,
    -- private material (PKCS#8 DER) sealed under the data directory's master key
    sealed_private_key BLOB NOT NULL,
    key_ops TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    nbf INTEGER,
    exp INTEGER,
    exportable INTEGER,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    tags TEXT,
    PRIMARY KEY (vault, name, version),
    FOREIGN KEY (vault, name) REFERENCES keys (vault, name) ON DELETE CASCADE
);

CREATE INDEX key_versions_by_seq ON key_versions (vault, name, seq);

CREATE TABLE signing_keys (
    kid TEXT NOT NULL PRIMARY KEY,
    sealed_private_key BLOB NOT NULL,
    created INTEGER NOT NULL
);
