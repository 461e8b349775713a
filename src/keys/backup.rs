//! Backup blobs: every version of a key, its private material and properties, sealed with
//! AES-256-GCM under the data directory's master key and bound to the tenant, so a blob
//! restores into any vault of the same emulator and tenant and nowhere else. Clients treat the
//! blob as opaque (contract §5 item 12).

use serde::{Deserialize, Serialize};

use crate::crypto::base64url::Base64Url;
use crate::crypto::sealing::MasterKey;

use super::Error;
use super::model::{Key, KeyAttributes, KeyName, KeyOperation, KeyType, KeyVersion, PublicKey, PublicMembers, Tags};
use super::release::ReleasePolicy;

/// Marks our blobs (and their format version) before the sealed part.
const MAGIC: &[u8] = b"kvemu-key-backup-v1:";

fn associated_data(tenant: uuid::Uuid) -> String {
    format!("key-backup/{tenant}")
}

#[derive(Serialize, Deserialize)]
struct BackupVersion {
    version: String,
    kty: String,
    #[serde(flatten)]
    public: PublicMembers,
    /// The private material: PKCS#8 DER for RSA and EC, the raw key for `oct`.
    pkcs8: Base64Url,
    key_ops: Vec<String>,
    enabled: bool,
    nbf: Option<i64>,
    exp: Option<i64>,
    exportable: Option<bool>,
    created: i64,
    updated: i64,
    tags: Option<Tags>,
}

#[derive(Serialize, Deserialize)]
struct BackupContents {
    name: String,
    current_version: String,
    versions: Vec<BackupVersion>,
    #[serde(default)]
    release_policy: Option<ReleasePolicy>,
}

/// A key as a backup carries it: its name, current version and versions with material.
pub struct KeyBackup {
    pub name: KeyName,
    pub current_version: KeyVersion,
    /// Oldest first, each with its private material (PKCS#8 DER, or the raw `oct` key).
    pub versions: Vec<(Key, Vec<u8>)>,
    pub release_policy: Option<ReleasePolicy>,
}

fn invalid() -> Error {
    Error::BadParameter(crate::messages::keys::INVALID_BACKUP.into())
}

impl KeyBackup {
    pub fn seal(&self, master: &MasterKey, tenant: uuid::Uuid) -> Result<Vec<u8>, Error> {
        let versions = self
            .versions
            .iter()
            .map(|(key, pkcs8)| {
                let a = &key.attributes;
                BackupVersion {
                    version: key.version.to_string(),
                    kty: key.key_type.as_str().to_owned(),
                    public: PublicMembers::from(&key.public),
                    pkcs8: Base64Url(pkcs8.clone()),
                    key_ops: key.key_ops.iter().map(|op| op.as_str().to_owned()).collect(),
                    enabled: a.enabled,
                    nbf: a.not_before,
                    exp: a.expires,
                    exportable: a.exportable,
                    created: a.created,
                    updated: a.updated,
                    tags: key.tags.clone(),
                }
            })
            .collect();
        let contents = BackupContents {
            name: self.name.to_string(),
            current_version: self.current_version.to_string(),
            versions,
            release_policy: self.release_policy.clone(),
        };
        let plaintext = serde_json::to_vec(&contents).map_err(|e| Error::Internal(format!("backup encoding: {e}")))?;
        Self::seal_plaintext(&plaintext, master, tenant)
    }

    /// The blob around a backup's JSON: the magic, then the JSON sealed for `tenant`.
    pub(crate) fn seal_plaintext(plaintext: &[u8], master: &MasterKey, tenant: uuid::Uuid) -> Result<Vec<u8>, Error> {
        let mut blob = MAGIC.to_vec();
        blob.extend(master.seal(&associated_data(tenant), plaintext)?);
        Ok(blob)
    }

    /// Opens a blob; anything that is not an intact blob of this emulator and tenant is a 400.
    pub fn open(blob: &[u8], master: &MasterKey, tenant: uuid::Uuid) -> Result<Self, Error> {
        let sealed = blob.strip_prefix(MAGIC).ok_or_else(invalid)?;
        let plaintext = master.open(&associated_data(tenant), sealed).map_err(|_| invalid())?;
        let contents: BackupContents = serde_json::from_slice(&plaintext).map_err(|_| invalid())?;
        let name = KeyName::parse(&contents.name).map_err(|_| invalid())?;
        let mut versions = Vec::with_capacity(contents.versions.len());
        for v in contents.versions {
            let public = PublicKey::try_from(v.public).map_err(|_| invalid())?;
            let key = Key {
                name: name.clone(),
                version: KeyVersion::parse(&v.version).ok_or_else(invalid)?,
                key_type: KeyType::parse(&v.kty).map_err(|_| invalid())?,
                public,
                key_ops: v
                    .key_ops
                    .iter()
                    .map(|op| KeyOperation::parse(op))
                    .collect::<Result<_, _>>()
                    .map_err(|_| invalid())?,
                attributes: KeyAttributes {
                    enabled: v.enabled,
                    not_before: v.nbf,
                    expires: v.exp,
                    exportable: v.exportable,
                    created: v.created,
                    updated: v.updated,
                },
                tags: v.tags,
                release_policy: contents.release_policy.clone(),
            };
            versions.push((key, v.pkcs8.0));
        }
        let current_version = KeyVersion::parse(&contents.current_version).ok_or_else(invalid)?;
        if !versions.iter().any(|(key, _)| key.version == current_version) {
            return Err(invalid());
        }
        Ok(Self { name, current_version, versions, release_policy: contents.release_policy })
    }
}
