//! Secure key release: the release policy (its grammar, canonical form and evaluation against
//! an attestation token's claims), the choice of the caller's wrapping key, and the
//! `CKM_RSA_AES_KEY_WRAP` family that wraps the released key for it.
//!
//! The grammar is Key Vault's: `{"version":"1.0.0","anyOf":[{"authority":…,"allOf"|"anyOf":
//! [conditions]}]}`, where a condition is `{"claim":"a.b","equals":v}` (or the older
//! `{"claim","condition":"equals","value"}`) or a nested `allOf`/`anyOf`. Key Vault stores the
//! policy re-serialised in a canonical member order, and so does the emulator.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crypto::aes::{self, WrapPadding};
use crate::crypto::rsa::{self, Padding};

use super::{Error, Result};

pub const DEFAULT_CONTENT_TYPE: &str = "application/json; charset=utf-8";
const POLICY_VERSION: &str = "1.0.0";

/// A key's release policy as stored and returned: the canonical policy document, its content
/// type and whether it may ever change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleasePolicy {
    pub content_type: String,
    pub immutable: bool,
    /// The canonical policy JSON text (the wire's `data`, before base64url).
    pub data: String,
}

/// A condition group: every condition (`allOf`) or at least one (`anyOf`).
#[derive(Clone, Debug, PartialEq, Serialize)]
enum Group {
    #[serde(rename = "allOf")]
    AllOf(Vec<Condition>),
    #[serde(rename = "anyOf")]
    AnyOf(Vec<Condition>),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
enum Condition {
    Claim { claim: String, equals: Value },
    Group(Group),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
struct AuthorityStatement {
    authority: String,
    #[serde(flatten)]
    group: Group,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
struct PolicyDocument {
    version: &'static str,
    #[serde(rename = "anyOf")]
    any_of: Vec<AuthorityStatement>,
}

fn invalid(reason: impl std::fmt::Display) -> Error {
    Error::BadParameter(crate::messages::keys::release_policy_invalid(&reason.to_string()))
}

fn parse_group(object: &serde_json::Map<String, Value>, context: &str) -> Result<Group> {
    match (object.get("allOf"), object.get("anyOf")) {
        (Some(conditions), None) => Ok(Group::AllOf(parse_conditions(conditions, context)?)),
        (None, Some(conditions)) => Ok(Group::AnyOf(parse_conditions(conditions, context)?)),
        (Some(_), Some(_)) => Err(invalid(crate::messages::keys::policy_group_has_both(context))),
        (None, None) => Err(invalid(crate::messages::keys::policy_group_missing(context))),
    }
}

fn parse_conditions(value: &Value, context: &str) -> Result<Vec<Condition>> {
    let list = value
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| invalid(crate::messages::keys::policy_conditions_not_a_list(context)))?;
    list.iter().map(|c| parse_condition(c, context)).collect()
}

fn parse_condition(value: &Value, context: &str) -> Result<Condition> {
    let object =
        value.as_object().ok_or_else(|| invalid(crate::messages::keys::policy_condition_not_an_object(context)))?;
    let Some(claim) = object.get("claim") else {
        return parse_group(object, context).map(Condition::Group);
    };
    let claim =
        claim.as_str().filter(|c| !c.is_empty()).ok_or_else(|| invalid(crate::messages::keys::POLICY_CLAIM_MISSING))?;
    let equals = match (object.get("equals"), object.get("condition"), object.get("value")) {
        (Some(expected), None, None) => expected,
        (None, Some(Value::String(op)), Some(expected)) if op.eq_ignore_ascii_case("equals") => expected,
        (None, Some(op), _) => {
            return Err(invalid(crate::messages::keys::policy_operator_unsupported(op)));
        }
        _ => return Err(invalid(crate::messages::keys::policy_equals_missing(claim))),
    };
    if equals.is_object() || equals.is_array() || equals.is_null() {
        return Err(invalid(crate::messages::keys::policy_value_type(claim)));
    }
    Ok(Condition::Claim { claim: claim.to_owned(), equals: equals.clone() })
}

impl PolicyDocument {
    fn parse(data: &[u8]) -> Result<Self> {
        let document: Value = serde_json::from_slice(data)
            .map_err(|e| invalid(crate::messages::keys::policy_not_json(&e.to_string())))?;
        let object = document.as_object().ok_or_else(|| invalid(crate::messages::keys::POLICY_NOT_AN_OBJECT))?;
        match object.get("version") {
            None => {}
            Some(Value::String(v)) if v == POLICY_VERSION || v == "1.0" => {}
            Some(other) => {
                return Err(invalid(crate::messages::keys::policy_version_unsupported(
                    &other.to_string(),
                    POLICY_VERSION,
                )));
            }
        }
        let statements = object
            .get("anyOf")
            .and_then(Value::as_array)
            .filter(|l| !l.is_empty())
            .ok_or_else(|| invalid(crate::messages::keys::POLICY_AUTHORITIES_MISSING))?;
        let any_of = statements
            .iter()
            .map(|statement| {
                let object = statement
                    .as_object()
                    .ok_or_else(|| invalid(crate::messages::keys::POLICY_AUTHORITY_NOT_AN_OBJECT))?;
                let authority = object
                    .get("authority")
                    .and_then(Value::as_str)
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| invalid(crate::messages::keys::POLICY_AUTHORITY_MISSING))?;
                let group = parse_group(object, &format!("authority '{authority}'"))?;
                Ok(AuthorityStatement { authority: authority.to_owned(), group })
            })
            .collect::<Result<_>>()?;
        Ok(Self { version: POLICY_VERSION, any_of })
    }

    fn satisfied_by(&self, claims: &Value) -> bool {
        let issuer = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
        self.any_of.iter().any(|s| same_authority(&s.authority, issuer) && s.group.satisfied_by(claims))
    }
}

/// Authorities compare like issuer URLs: case-insensitively, a trailing `/` ignored.
fn same_authority(authority: &str, issuer: &str) -> bool {
    !issuer.is_empty() && authority.trim_end_matches('/').eq_ignore_ascii_case(issuer.trim_end_matches('/'))
}

impl Group {
    fn satisfied_by(&self, claims: &Value) -> bool {
        match self {
            Self::AllOf(conditions) => conditions.iter().all(|c| c.satisfied_by(claims)),
            Self::AnyOf(conditions) => conditions.iter().any(|c| c.satisfied_by(claims)),
        }
    }
}

/// A scalar's text, so that `"true"` in a policy matches `true` in a token as it does on the
/// real service.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) => Some(value.to_string()),
        _ => None,
    }
}

impl Condition {
    fn satisfied_by(&self, claims: &Value) -> bool {
        match self {
            Self::Group(group) => group.satisfied_by(claims),
            Self::Claim { claim, equals } => {
                // Dotted names reach into nested objects; a missing claim is simply not satisfied.
                let found = claim.split('.').try_fold(claims, |node, part| node.get(part));
                match (found.and_then(scalar_text), scalar_text(equals)) {
                    (Some(actual), Some(expected)) => actual == expected,
                    _ => false,
                }
            }
        }
    }
}

impl ReleasePolicy {
    /// Validates a policy sent by a client and stores it in canonical form.
    pub fn parse(data: &[u8], content_type: Option<String>, immutable: Option<bool>) -> Result<Self> {
        let document = PolicyDocument::parse(data)?;
        let data = serde_json::to_string(&document).map_err(|e| Error::Internal(format!("release policy: {e}")))?;
        Ok(Self {
            content_type: content_type.unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_owned()),
            immutable: immutable.unwrap_or(false),
            data,
        })
    }

    /// Whether an attestation token's (verified) claims satisfy the policy.
    pub fn satisfied_by(&self, claims: &Value) -> Result<bool> {
        let document = PolicyDocument::parse(self.data.as_bytes())?;
        Ok(document.satisfied_by(claims))
    }
}

/// The `enc` of a release: how the key is wrapped for the caller (contract §5 item 20).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseWrapping {
    CkmRsaAesKeyWrap,
    RsaAesKeyWrap256,
    RsaAesKeyWrap384,
}

impl ReleaseWrapping {
    const ALL: [Self; 3] = [Self::CkmRsaAesKeyWrap, Self::RsaAesKeyWrap256, Self::RsaAesKeyWrap384];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CkmRsaAesKeyWrap => "CKM_RSA_AES_KEY_WRAP",
            Self::RsaAesKeyWrap256 => "RSA_AES_KEY_WRAP_256",
            Self::RsaAesKeyWrap384 => "RSA_AES_KEY_WRAP_384",
        }
    }

    /// The requested wrapping; Key Vault uses `CKM_RSA_AES_KEY_WRAP` when none is named.
    pub fn parse(text: Option<&str>) -> Result<Self> {
        let Some(text) = text else { return Ok(Self::CkmRsaAesKeyWrap) };
        Self::ALL
            .into_iter()
            .find(|w| w.as_str() == text)
            .ok_or_else(|| Error::BadParameter(crate::messages::keys::invalid_export_algorithm(text)))
    }

    fn oaep(self) -> Padding {
        match self {
            Self::CkmRsaAesKeyWrap => Padding::OaepSha1,
            Self::RsaAesKeyWrap256 => Padding::OaepSha256,
            Self::RsaAesKeyWrap384 => Padding::OaepSha384,
        }
    }
}

/// The caller's RSA public key the released key is wrapped for, from the attestation token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappingKey {
    pub kid: String,
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

/// The first RSA key in `x-ms-runtime.keys` with a `kid` that is meant for encryption
/// (`use: enc`, or `key_ops` naming `encrypt`), as Key Vault chooses it.
pub fn wrapping_key(claims: &Value) -> Result<WrappingKey> {
    let keys = claims
        .pointer("/x-ms-runtime/keys")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::BadParameter(crate::messages::keys::ATTESTATION_HAS_NO_RUNTIME_KEYS.into()))?;
    let for_encryption = |key: &Value| {
        key.get("use").and_then(Value::as_str) == Some("enc")
            || match key.get("key_ops") {
                Some(Value::String(op)) => op == "encrypt",
                Some(Value::Array(ops)) => ops.iter().any(|op| op.as_str() == Some("encrypt")),
                _ => false,
            }
    };
    let member = |key: &Value, name: &str| {
        key.get(name).and_then(Value::as_str).and_then(|text| crate::crypto::base64url::decode(text).ok())
    };
    keys.iter()
        .filter(|key| key.get("kty").and_then(Value::as_str) == Some("RSA") && for_encryption(key))
        .find_map(|key| {
            Some(WrappingKey {
                kid: key.get("kid").and_then(Value::as_str).filter(|k| !k.is_empty())?.to_owned(),
                n: member(key, "n")?,
                e: member(key, "e")?,
            })
        })
        .ok_or_else(|| Error::BadParameter(crate::messages::keys::ATTESTATION_HAS_NO_ENCRYPTION_KEY.into()))
}

/// CKM_RSA_AES_KEY_WRAP: a fresh AES-256 key encrypted with RSA-OAEP for the caller, followed by
/// the key material wrapped under that AES key with RFC 5649 key wrap with padding.
pub fn wrap_for_release(wrapping: ReleaseWrapping, to: &WrappingKey, material: &[u8]) -> Result<Vec<u8>> {
    let transport_key = aes::generate(256)?;
    let mut out = rsa::encrypt(&to.n, &to.e, wrapping.oaep(), &transport_key)
        .map_err(|e| Error::BadParameter(crate::messages::keys::attestation_wrapping_key_unusable(&e.to_string())))?;
    out.extend(aes::wrap(&transport_key, WrapPadding::Rfc5649, material)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(value: &Value) -> Result<ReleasePolicy> {
        ReleasePolicy::parse(value.to_string().as_bytes(), None, None)
    }

    #[test]
    fn policies_are_stored_in_canonical_order() {
        let sent = json!({"anyOf": [{"allOf": [{"equals": "true", "claim": "sdk-test"}], "authority": "https://a/"}], "version": "1.0.0"});
        let stored = policy(&sent).unwrap();
        assert_eq!(
            stored.data,
            r#"{"version":"1.0.0","anyOf":[{"authority":"https://a/","allOf":[{"claim":"sdk-test","equals":"true"}]}]}"#
        );
        assert_eq!((stored.content_type.as_str(), stored.immutable), (DEFAULT_CONTENT_TYPE, false));
        let legacy = json!({"anyOf": [{"authority": "https://a", "anyOf": [{"claim": "x", "condition": "equals", "value": 1}]}]});
        assert_eq!(
            policy(&legacy).unwrap().data,
            r#"{"version":"1.0.0","anyOf":[{"authority":"https://a","anyOf":[{"claim":"x","equals":1}]}]}"#
        );
    }

    #[test]
    fn malformed_policies_are_bad_parameters() {
        for bad in [
            json!([]),
            json!({"anyOf": []}),
            json!({"version": "2.0", "anyOf": [{"authority": "a", "allOf": [{"claim": "c", "equals": 1}]}]}),
            json!({"anyOf": [{"allOf": [{"claim": "c", "equals": 1}]}]}),
            json!({"anyOf": [{"authority": "a"}]}),
            json!({"anyOf": [{"authority": "a", "allOf": [{"claim": "c", "equals": [1]}]}]}),
            json!({"anyOf": [{"authority": "a", "allOf": [{"claim": "c", "condition": "greater", "value": 1}]}]}),
            json!({"anyOf": [{"authority": "a", "allOf": [], "anyOf": []}]}),
        ] {
            assert!(matches!(policy(&bad), Err(Error::BadParameter(_))), "{bad}");
        }
        assert!(ReleasePolicy::parse(b"not json", None, None).is_err());
    }

    #[test]
    fn evaluation_matches_authority_and_nested_claims() {
        let stored = policy(&json!({"version": "1.0.0", "anyOf": [{
            "authority": "https://attest.example/",
            "allOf": [
                {"claim": "sdk-test", "equals": "true"},
                {"anyOf": [{"claim": "x-ms-isolation-tee.x-ms-attestation-type", "equals": "sevsnpvm"}, {"claim": "debug", "equals": false}]}
            ]
        }]}))
        .unwrap();
        let mut claims = json!({"iss": "https://ATTEST.example", "sdk-test": true, "x-ms-isolation-tee": {"x-ms-attestation-type": "sevsnpvm"}});
        assert!(stored.satisfied_by(&claims).unwrap());
        claims["x-ms-isolation-tee"]["x-ms-attestation-type"] = json!("sgx");
        assert!(!stored.satisfied_by(&claims).unwrap());
        claims["debug"] = json!(false);
        assert!(stored.satisfied_by(&claims).unwrap());
        claims["iss"] = json!("https://other.example");
        assert!(!stored.satisfied_by(&claims).unwrap(), "another authority");
        claims["iss"] = json!("https://attest.example");
        claims.as_object_mut().unwrap().remove("sdk-test");
        assert!(!stored.satisfied_by(&claims).unwrap(), "a missing claim fails");
    }

    #[test]
    fn the_wrapping_key_is_the_first_rsa_encryption_key_and_unwraps_the_release() {
        let caller = crate::crypto::rsa::generate(2048).unwrap();
        let b64 = crate::crypto::base64url::encode;
        let claims = json!({"x-ms-runtime": {"keys": [
            {"kty": "EC", "kid": "ec", "use": "enc"},
            {"kty": "RSA", "kid": "sig-only", "use": "sig", "n": b64(&caller.n), "e": b64(&caller.e)},
            {"kty": "RSA", "kid": "TpmEphemeralEncryptionKey", "key_ops": "encrypt", "n": b64(&caller.n), "e": b64(&caller.e)}
        ]}});
        let key = wrapping_key(&claims).unwrap();
        assert_eq!(key.kid, "TpmEphemeralEncryptionKey");
        assert!(wrapping_key(&json!({"x-ms-runtime": {"keys": []}})).is_err());

        for wrapping in ReleaseWrapping::ALL {
            let material = b"pkcs8 or raw key bytes".to_vec();
            let wrapped = wrap_for_release(wrapping, &key, &material).unwrap();
            let (rsa_part, kwp_part) = wrapped.split_at(256);
            let transport = crate::crypto::rsa::decrypt(&caller.pkcs8_der, wrapping.oaep(), rsa_part).unwrap();
            assert_eq!(aes::unwrap(&transport, WrapPadding::Rfc5649, kwp_part).unwrap(), material, "{wrapping:?}");
        }
        assert_eq!(ReleaseWrapping::parse(None).unwrap(), ReleaseWrapping::CkmRsaAesKeyWrap);
        assert!(ReleaseWrapping::parse(Some("A256KW")).is_err());
    }
}
