//! Wire shapes of the keys API (contract §5.1, §8) and their mapping from domain types.
//! snake_case JWK members, camelCase elsewhere, absent fields omitted, `nextLink` null at the end.
//! Over 400 lines: every key body of the contract with its mapping, so the wire reads in one
//! place; sign and verify are in `signing.rs`, secure wrap in `secure_wrap.rs`.

use serde::{Deserialize, Serialize};

use crate::api_version::{DataPlaneVersion, Feature};
use crate::crypto::base64url::{self, Base64Url};
use crate::crypto::ec::Curve;
use crate::crypto::mldsa::MlDsa;
use crate::keys::model::{DeletedKey, Key, KeyFamily, KeyOperation, KeyType, PublicKey, Tags};
use crate::keys::release::ReleasePolicy;
use crate::keys::service::{
    AttributeChanges, CipherInput, CipherOutput, CreateKeyRequest, ImportKeyRequest, PrivateJwk, UpdateKeyRequest,
};
use crate::keys::{Error, Result};
use crate::vaults::Vault;

pub use super::signing::{KeySignParameters, KeyVerifyParameters, SignatureRequest};

/// Writable attributes as clients send them; read-only members they echo back are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct AttributesInput {
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub exportable: Option<bool>,
    /// `external_key` (2026-01-01-preview and later): a key held in an external key manager.
    pub external_key: Option<serde_json::Value>,
}

impl AttributesInput {
    /// External keys live in an external HSM reached through a managed HSM's EKM connection;
    /// the emulator has none, and answers as a vault without that capability.
    fn check_version(&self, version: &DataPlaneVersion) -> Result<()> {
        if self.external_key.is_some() && version.has(Feature::SecureWrapAndKeySize) {
            return Err(Error::BadParameter(crate::messages::data_plane::EXTERNAL_KEYS_UNSUPPORTED.into()));
        }
        Ok(())
    }
}

impl From<AttributesInput> for AttributeChanges {
    fn from(a: AttributesInput) -> Self {
        Self { enabled: a.enabled, not_before: a.nbf, expires: a.exp, exportable: a.exportable }
    }
}

#[derive(Debug, Deserialize)]
pub struct KeyCreateParameters {
    pub kty: String,
    pub key_size: Option<u32>,
    pub public_exponent: Option<u32>,
    pub key_ops: Option<Vec<String>>,
    pub attributes: Option<AttributesInput>,
    pub tags: Option<Tags>,
    pub crv: Option<String>,
    pub release_policy: Option<KeyReleasePolicyInput>,
    /// The parameter set of an AKP key (2026-05-01-preview and later).
    pub alg: Option<String>,
}

impl KeyCreateParameters {
    /// Refuses what `version` does not have: AKP key types before the version that added them
    /// (as an unknown `kty`), and external keys.
    pub fn check_version(&self, version: &DataPlaneVersion) -> Result<()> {
        let akp_known = version.has(Feature::MlDsaKeys);
        if !akp_known && KeyType::parse(&self.kty).is_ok_and(|t| t.family() == KeyFamily::Akp) {
            return Err(KeyType::unknown(&self.kty, false));
        }
        self.attributes.as_ref().map_or(Ok(()), |a| a.check_version(version))
    }
}

fn parse_ml_dsa(alg: &str) -> Result<MlDsa> {
    MlDsa::from_name(alg).ok_or_else(|| Error::BadParameter(crate::messages::data_plane::invalid_ml_dsa_algorithm(alg)))
}

fn parse_curve(crv: &str) -> Result<Curve> {
    Curve::from_jwk_name(crv).ok_or_else(|| Error::BadParameter(crate::messages::data_plane::invalid_curve(crv)))
}

/// A release policy as clients send it: the policy document base64url-encoded in `data`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyReleasePolicyInput {
    pub content_type: Option<String>,
    pub immutable: Option<bool>,
    pub data: Option<Base64Url>,
}

fn parse_release_policy(input: Option<KeyReleasePolicyInput>) -> Result<Option<ReleasePolicy>> {
    input
        .map(|p| {
            let data = p
                .data
                .ok_or_else(|| Error::BadParameter(crate::messages::data_plane::RELEASE_POLICY_DATA_REQUIRED.into()))?;
            ReleasePolicy::parse(&data.0, p.content_type, p.immutable)
        })
        .transpose()
}

/// The release policy as responses show it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyReleasePolicyOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    pub immutable: bool,
    pub data: Base64Url,
}

impl KeyReleasePolicyOut {
    #[must_use]
    pub fn new(policy: &ReleasePolicy) -> Self {
        Self {
            content_type: Some(policy.content_type.clone()),
            immutable: policy.immutable,
            data: Base64Url(policy.data.as_bytes().to_vec()),
        }
    }
}

fn parse_key_ops(ops: Option<Vec<String>>) -> Result<Option<Vec<KeyOperation>>> {
    ops.map(|ops| ops.iter().map(|op| KeyOperation::parse(op)).collect()).transpose()
}

impl TryFrom<KeyCreateParameters> for CreateKeyRequest {
    type Error = Error;

    fn try_from(p: KeyCreateParameters) -> Result<Self> {
        let key_type = KeyType::parse(&p.kty)?;
        let curve = p.crv.as_deref().map(parse_curve).transpose()?;
        let ml_dsa = match key_type.family() {
            KeyFamily::Akp => p.alg.as_deref().map(parse_ml_dsa).transpose()?,
            _ => None,
        };
        let attributes = p.attributes.unwrap_or_default();
        Ok(Self {
            key_type,
            key_size: p.key_size,
            public_exponent: p.public_exponent,
            curve,
            ml_dsa,
            key_ops: parse_key_ops(p.key_ops)?,
            attributes: attributes.into(),
            tags: p.tags,
            release_policy: parse_release_policy(p.release_policy)?,
        })
    }
}

/// A JWK as import takes it: private members included.
#[derive(Debug, Deserialize)]
pub struct JsonWebKeyImport {
    pub kty: String,
    pub key_ops: Option<Vec<String>>,
    pub n: Option<Base64Url>,
    pub e: Option<Base64Url>,
    pub d: Option<Base64Url>,
    pub p: Option<Base64Url>,
    pub q: Option<Base64Url>,
    pub dp: Option<Base64Url>,
    pub dq: Option<Base64Url>,
    pub qi: Option<Base64Url>,
    pub k: Option<Base64Url>,
    pub crv: Option<String>,
    pub x: Option<Base64Url>,
    pub y: Option<Base64Url>,
    pub key_hsm: Option<Base64Url>,
}

#[derive(Debug, Deserialize)]
pub struct KeyImportParameters {
    pub key: JsonWebKeyImport,
    /// Spelled with a capital H on the wire (contract §1).
    #[serde(rename = "Hsm")]
    pub hsm: Option<bool>,
    pub attributes: Option<AttributesInput>,
    pub tags: Option<Tags>,
    pub release_policy: Option<KeyReleasePolicyInput>,
}

impl KeyImportParameters {
    /// As [`KeyCreateParameters::check_version`].
    pub fn check_version(&self, version: &DataPlaneVersion) -> Result<()> {
        if !version.has(Feature::MlDsaKeys) && KeyType::parse(&self.key.kty).is_ok_and(|t| t.family() == KeyFamily::Akp)
        {
            return Err(KeyType::unknown(&self.key.kty, false));
        }
        self.attributes.as_ref().map_or(Ok(()), |a| a.check_version(version))
    }
}

fn required(member: Option<Base64Url>, name: &str, kty: &str) -> Result<Vec<u8>> {
    member
        .map(|m| m.0)
        .ok_or_else(|| Error::BadParameter(crate::messages::data_plane::import_member_missing(kty, name)))
}

impl TryFrom<KeyImportParameters> for ImportKeyRequest {
    type Error = Error;

    fn try_from(p: KeyImportParameters) -> Result<Self> {
        let jwk = p.key;
        let key_type = KeyType::parse(&jwk.kty)?;
        if jwk.key_hsm.is_some() {
            return Err(Error::BadParameter(crate::messages::data_plane::KEY_HSM_IMPORT_UNSUPPORTED.into()));
        }
        let kty = key_type.as_str();
        let material = match key_type.family() {
            KeyFamily::Rsa => {
                let crt = [&jwk.p, &jwk.q, &jwk.dp, &jwk.dq, &jwk.qi];
                if crt.iter().all(|m| m.is_none()) {
                    // Only d: the service derives the CRT members.
                    PrivateJwk::RsaWithoutCrt {
                        n: required(jwk.n, "n", kty)?,
                        e: required(jwk.e, "e", kty)?,
                        d: required(jwk.d, "d", kty)?,
                    }
                } else if crt.iter().any(|m| m.is_none()) {
                    return Err(Error::BadParameter(crate::messages::data_plane::RSA_IMPORT_PARTIAL_CRT.into()));
                } else {
                    PrivateJwk::Rsa {
                        n: required(jwk.n, "n", kty)?,
                        e: required(jwk.e, "e", kty)?,
                        d: required(jwk.d, "d", kty)?,
                        p: required(jwk.p, "p", kty)?,
                        q: required(jwk.q, "q", kty)?,
                        dp: required(jwk.dp, "dp", kty)?,
                        dq: required(jwk.dq, "dq", kty)?,
                        qi: required(jwk.qi, "qi", kty)?,
                    }
                }
            }
            KeyFamily::Ec => {
                let crv = jwk
                    .crv
                    .ok_or_else(|| Error::BadParameter(crate::messages::data_plane::EC_IMPORT_WITHOUT_CURVE.into()))?;
                PrivateJwk::Ec {
                    curve: parse_curve(&crv)?,
                    d: required(jwk.d, "d", kty)?,
                    x: required(jwk.x, "x", kty)?,
                    y: required(jwk.y, "y", kty)?,
                }
            }
            KeyFamily::Oct => PrivateJwk::Oct { k: required(jwk.k, "k", kty)? },
            KeyFamily::Akp => {
                return Err(Error::BadParameter(crate::messages::data_plane::AKP_IMPORT_UNSUPPORTED.into()));
            }
        };
        Ok(Self {
            material,
            hsm: p.hsm.unwrap_or(false) || key_type.is_hsm(),
            key_ops: parse_key_ops(jwk.key_ops)?,
            attributes: p.attributes.unwrap_or_default().into(),
            tags: p.tags,
            release_policy: parse_release_policy(p.release_policy)?,
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct KeyUpdateParameters {
    pub key_ops: Option<Vec<String>>,
    pub attributes: Option<AttributesInput>,
    pub tags: Option<Tags>,
    pub release_policy: Option<KeyReleasePolicyInput>,
}

impl KeyUpdateParameters {
    /// As [`KeyCreateParameters::check_version`]: no external keys.
    pub fn check_version(&self, version: &DataPlaneVersion) -> Result<()> {
        self.attributes.as_ref().map_or(Ok(()), |a| a.check_version(version))
    }
}

impl TryFrom<KeyUpdateParameters> for UpdateKeyRequest {
    type Error = Error;

    fn try_from(p: KeyUpdateParameters) -> Result<Self> {
        Ok(Self {
            key_ops: parse_key_ops(p.key_ops)?,
            attributes: p.attributes.map(Into::into),
            tags: p.tags,
            release_policy: parse_release_policy(p.release_policy)?,
        })
    }
}

#[derive(Debug, Serialize)]
pub struct JsonWebKey {
    pub kid: String,
    pub kty: &'static str,
    pub key_ops: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// An AKP key's parameter set (2026-05-01-preview and later).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<&'static str>,
    /// An AKP key's public key (2026-05-01-preview and later).
    #[serde(rename = "pub", skip_serializing_if = "Option::is_none")]
    pub public: Option<String>,
    /// Only in a release: the key wrapped for the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_hsm: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyAttributesOut {
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    pub created: i64,
    pub updated: i64,
    pub recovery_level: &'static str,
    pub recoverable_days: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exportable: Option<bool>,
    /// A symmetric key's size (2026-01-01-preview and later).
    #[serde(rename = "key_size", skip_serializing_if = "Option::is_none")]
    pub key_size: Option<u32>,
}

impl KeyAttributesOut {
    fn new(key: &Key, vault: &Vault, version: &DataPlaneVersion) -> Self {
        let a = &key.attributes;
        Self {
            enabled: a.enabled,
            nbf: a.not_before,
            exp: a.expires,
            created: a.created,
            updated: a.updated,
            recovery_level: vault.recovery_level(),
            recoverable_days: vault.recoverable_days(),
            exportable: a.exportable,
            key_size: match key.public {
                PublicKey::Symmetric { bits } if version.has(Feature::SecureWrapAndKeySize) => Some(bits),
                _ => None,
            },
        }
    }
}

/// `{origin}/keys/{name}`
#[must_use]
pub fn base_id(origin: &str, key: &Key) -> String {
    format!("{origin}/keys/{}", key.name)
}

/// `{origin}/keys/{name}/{version}`
#[must_use]
pub fn versioned_id(origin: &str, key: &Key) -> String {
    format!("{origin}/keys/{}/{}", key.name, key.version)
}

#[derive(Debug, Serialize)]
pub struct KeyBundle {
    pub key: JsonWebKey,
    pub attributes: KeyAttributesOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_policy: Option<KeyReleasePolicyOut>,
}

impl KeyBundle {
    #[must_use]
    pub fn new(key: &Key, vault: &Vault, origin: &str, version: &DataPlaneVersion) -> Self {
        let mut jwk = JsonWebKey {
            kid: versioned_id(origin, key),
            kty: key.key_type.as_str(),
            key_ops: key.key_ops.iter().map(|op| op.as_str()).collect(),
            n: None,
            e: None,
            crv: None,
            x: None,
            y: None,
            alg: None,
            public: None,
            key_hsm: None,
        };
        match &key.public {
            PublicKey::Rsa { n, e } => {
                jwk.n = Some(base64url::encode(n));
                jwk.e = Some(base64url::encode(e));
            }
            PublicKey::Ec { curve, x, y } => {
                jwk.crv = Some(curve.jwk_name());
                jwk.x = Some(base64url::encode(x));
                jwk.y = Some(base64url::encode(y));
            }
            // An oct key's JWK carries no material at all (contract §5.2 item 3).
            PublicKey::Symmetric { .. } => {}
            // Clients of versions before AKP keys see the key without its members.
            PublicKey::Akp { algorithm, public } => {
                if version.has(Feature::MlDsaKeys) {
                    jwk.alg = Some(algorithm.as_str());
                    jwk.public = Some(base64url::encode(public));
                }
            }
        }
        Self {
            key: jwk,
            attributes: KeyAttributesOut::new(key, vault, version),
            tags: key.tags.clone(),
            release_policy: key.release_policy.as_ref().map(KeyReleasePolicyOut::new),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct KeyItem {
    pub kid: String,
    pub attributes: KeyAttributesOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
}

impl KeyItem {
    #[must_use]
    pub fn new(key: &Key, vault: &Vault, kid: String, version: &DataPlaneVersion) -> Self {
        Self { kid, attributes: KeyAttributesOut::new(key, vault, version), tags: key.tags.clone() }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyListResult {
    pub value: Vec<KeyItem>,
    /// Serialized as `null` on the last page, as the real service does.
    pub next_link: Option<String>,
}

/// `{origin}/deletedkeys/{name}`
#[must_use]
pub fn recovery_id(origin: &str, key: &Key) -> String {
    format!("{origin}/deletedkeys/{}", key.name)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedKeyBundle {
    #[serde(flatten)]
    pub bundle: KeyBundle,
    pub recovery_id: String,
    pub deleted_date: i64,
    pub scheduled_purge_date: i64,
}

impl DeletedKeyBundle {
    #[must_use]
    pub fn new(deleted: &DeletedKey, vault: &Vault, origin: &str, version: &DataPlaneVersion) -> Self {
        Self {
            bundle: KeyBundle::new(&deleted.key, vault, origin, version),
            recovery_id: recovery_id(origin, &deleted.key),
            deleted_date: deleted.deleted_date,
            scheduled_purge_date: deleted.scheduled_purge_date,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedKeyItem {
    #[serde(flatten)]
    pub item: KeyItem,
    pub recovery_id: String,
    pub deleted_date: i64,
    pub scheduled_purge_date: i64,
}

impl DeletedKeyItem {
    #[must_use]
    pub fn new(deleted: &DeletedKey, vault: &Vault, origin: &str, version: &DataPlaneVersion) -> Self {
        Self {
            item: KeyItem::new(&deleted.key, vault, base_id(origin, &deleted.key), version),
            recovery_id: recovery_id(origin, &deleted.key),
            deleted_date: deleted.deleted_date,
            scheduled_purge_date: deleted.scheduled_purge_date,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedKeyListResult {
    pub value: Vec<DeletedKeyItem>,
    pub next_link: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct KeyOperationsParameters {
    pub alg: String,
    pub value: Base64Url,
    pub iv: Option<Base64Url>,
    pub aad: Option<Base64Url>,
    pub tag: Option<Base64Url>,
}

impl From<KeyOperationsParameters> for CipherInput {
    fn from(p: KeyOperationsParameters) -> Self {
        Self { value: p.value.0, iv: p.iv.map(|v| v.0), aad: p.aad.map(|v| v.0), tag: p.tag.map(|v| v.0) }
    }
}

#[derive(Debug, Serialize)]
pub struct KeyVerifyResult {
    pub value: bool,
}

#[derive(Debug, Serialize)]
pub struct KeyOperationResult {
    pub kid: String,
    pub value: Base64Url,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iv: Option<Base64Url>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<Base64Url>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aad: Option<Base64Url>,
}

impl KeyOperationResult {
    #[must_use]
    pub fn new(kid: String, output: CipherOutput) -> Self {
        Self {
            kid,
            value: Base64Url(output.value),
            iv: output.iv.map(Base64Url),
            tag: output.tag.map(Base64Url),
            aad: output.aad.map(Base64Url),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct GetRandomBytesRequest {
    pub count: i64,
}

#[derive(Debug, Serialize)]
pub struct RandomBytes {
    pub value: Base64Url,
}

/// The opaque `$skiptoken`: base64url of `{"NextMarker": marker}`, shaped like the real one.
#[must_use]
pub fn encode_skip_token(marker: &str) -> String {
    base64url::encode(serde_json::json!({ "NextMarker": marker, "TargetLocation": 0 }).to_string().as_bytes())
}

#[must_use]
pub fn decode_skip_token(token: &str) -> Option<String> {
    let bytes = base64url::decode(token).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("NextMarker")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::model::{KeyAttributes, KeyFamily, KeyName, KeyVersion, default_key_ops};
    use uuid::Uuid;

    fn latest() -> &'static DataPlaneVersion {
        DataPlaneVersion::latest()
    }

    fn vault() -> Vault {
        Vault {
            name: crate::vaults::VaultName::parse("default").unwrap(),
            tenant_id: Uuid::nil(),
            soft_delete_retention_days: 7,
            purge_protection: false,
            access_policies: vec![],
            rbac_authorization: false,
            role_assignments: vec![],
            arm: crate::vaults::ArmInfo::default(),
            deletion: None,
            kind: crate::vaults::VaultKind::Vault,
        }
    }

    #[test]
    fn rsa_bundle_has_exactly_the_public_members() {
        let key = Key {
            name: KeyName::parse("cmk").unwrap(),
            version: KeyVersion::parse("78deebed173b48e48f55abf87ed4cf71").unwrap(),
            key_type: KeyType::Rsa,
            public: PublicKey::Rsa { n: vec![0xc3, 0x01], e: vec![1, 0, 1] },
            key_ops: default_key_ops(KeyFamily::Rsa),
            attributes: KeyAttributes {
                enabled: true,
                not_before: None,
                expires: None,
                exportable: None,
                created: 1_629_299_980,
                updated: 1_629_299_980,
            },
            tags: None,
            release_policy: None,
        };
        let json =
            serde_json::to_value(KeyBundle::new(&key, &vault(), "https://default.vault.localhost:8443", latest()))
                .unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "key": {
                    "kid": "https://default.vault.localhost:8443/keys/cmk/78deebed173b48e48f55abf87ed4cf71",
                    "kty": "RSA",
                    "key_ops": ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"],
                    "n": "wwE",
                    "e": "AQAB"
                },
                "attributes": {"enabled": true, "created": 1_629_299_980, "updated": 1_629_299_980, "recoveryLevel": "CustomizedRecoverable+Purgeable", "recoverableDays": 7}
            })
        );
    }

    #[test]
    fn last_page_has_null_next_link() {
        let json = serde_json::to_value(KeyListResult { value: vec![], next_link: None }).unwrap();
        assert_eq!(json, serde_json::json!({"value": [], "nextLink": null}));
    }

    #[test]
    fn skip_tokens_round_trip_and_reject_garbage() {
        assert_eq!(decode_skip_token(&encode_skip_token("key-7")).as_deref(), Some("key-7"));
        assert_eq!(decode_skip_token("!!!"), None);
        assert_eq!(decode_skip_token(&base64url::encode(b"[1]")), None);
    }

    #[test]
    fn create_parameters_validate() {
        let parse = |v: serde_json::Value| -> Result<CreateKeyRequest> {
            serde_json::from_value::<KeyCreateParameters>(v).unwrap().try_into()
        };
        assert!(parse(serde_json::json!({"kty": "RSA", "key_size": 3072})).is_ok());
        assert!(matches!(parse(serde_json::json!({"kty": "DSA"})), Err(Error::BadParameter(_))));
        assert!(matches!(parse(serde_json::json!({"kty": "EC", "crv": "P-999"})), Err(Error::BadParameter(_))));
        assert!(matches!(parse(serde_json::json!({"kty": "RSA", "key_ops": ["fly"]})), Err(Error::BadParameter(_))));
    }
}
