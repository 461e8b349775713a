//! Wire shapes of sign and verify (contract §5, items 14–19), and which form a request takes:
//! a classic algorithm over a digest, or, from api-version 2026-05-01-preview, ML-DSA over a
//! message (with an optional context) or an external mu.

use serde::Deserialize;

use crate::api_version::{DataPlaneVersion, Feature};
use crate::crypto::base64url::Base64Url;
use crate::crypto::mldsa::MlDsa;
use crate::keys::ml_dsa::MlDsaInput;
use crate::keys::service::SignatureAlgorithm;
use crate::keys::{Error, Result};

/// `alg` and `value` are required but for AKP keys (2026-05-01-preview and later), which sign
/// the message in `value` with an optional `context`, or an `external_mu` instead.
#[derive(Debug, Deserialize)]
pub struct KeySignParameters {
    pub alg: Option<String>,
    pub value: Option<Base64Url>,
    pub external_mu: Option<Base64Url>,
    pub context: Option<Base64Url>,
}

/// As [`KeySignParameters`]; for AKP keys `digest` is the message.
#[derive(Debug, Deserialize)]
pub struct KeyVerifyParameters {
    pub alg: Option<String>,
    pub digest: Option<Base64Url>,
    pub value: Base64Url,
    pub external_mu: Option<Base64Url>,
    pub context: Option<Base64Url>,
}

/// What a sign or verify request asks for.
#[derive(Debug)]
pub enum SignatureRequest {
    /// A classic algorithm over a digest.
    Digest { alg: SignatureAlgorithm, digest: Vec<u8> },
    /// An ML-DSA signature; `alg`, when sent, must be the key's.
    MlDsa { alg: Option<String>, input: MlDsaInput },
}

fn required_member(member: Option<Base64Url>, name: &str) -> Result<Vec<u8>> {
    member.map(|m| m.0).ok_or_else(|| Error::BadParameter(crate::messages::data_plane::parameter_required(name)))
}

/// Sorts a sign (`message` = `value`) or verify (`message` = `digest`) request into its form.
/// Before the api-version that added ML-DSA, `context` and `external_mu` are unknown members
/// and `alg` is required, as it was.
fn signature_request(
    version: &DataPlaneVersion,
    alg: Option<String>,
    (message, message_name): (Option<Base64Url>, &str),
    external_mu: Option<Base64Url>,
    context: Option<Base64Url>,
) -> Result<SignatureRequest> {
    let ml_dsa_known = version.has(Feature::MlDsaKeys);
    let (external_mu, context) = if ml_dsa_known { (external_mu, context) } else { (None, None) };
    let named_ml_dsa = alg.as_deref().is_some_and(|a| MlDsa::from_name(a).is_some());
    if !(ml_dsa_known && (alg.is_none() || named_ml_dsa || external_mu.is_some() || context.is_some())) {
        let alg = alg.ok_or_else(|| Error::BadParameter(crate::messages::data_plane::ALG_REQUIRED.into()))?;
        return Ok(SignatureRequest::Digest {
            alg: SignatureAlgorithm::parse(&alg)?,
            digest: required_member(message, message_name)?,
        });
    }
    let input = match external_mu {
        Some(_) if message.is_some() || context.is_some() => {
            return Err(Error::BadParameter(crate::messages::data_plane::external_mu_excludes(message_name)));
        }
        Some(mu) => MlDsaInput::ExternalMu(mu.0),
        None => MlDsaInput::Message {
            message: required_member(message, message_name)?,
            context: context.map(|c| c.0).unwrap_or_default(),
        },
    };
    Ok(SignatureRequest::MlDsa { alg, input })
}

impl KeySignParameters {
    pub fn into_request(self, version: &DataPlaneVersion) -> Result<SignatureRequest> {
        signature_request(version, self.alg, (self.value, "value"), self.external_mu, self.context)
    }
}

impl KeyVerifyParameters {
    /// The request's form and the signature to check.
    pub fn into_request(self, version: &DataPlaneVersion) -> Result<(SignatureRequest, Vec<u8>)> {
        let request = signature_request(version, self.alg, (self.digest, "digest"), self.external_mu, self.context)?;
        Ok((request, self.value.0))
    }
}
