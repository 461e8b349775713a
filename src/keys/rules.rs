//! Pure rules a new or updated key must satisfy: exportability and release policies, key_ops
//! against the key type, and the sizes a create may ask for. No store, no clock.

use crate::crypto::ec::Curve;
use crate::crypto::mldsa::MlDsa;
use crate::crypto::rsa;

use super::model::{KeyFamily, KeyOperation, KeyType, Tags, default_key_ops, validate_tags};
use super::requests::CreateKeyRequest;
use super::{Error, Result};

pub(super) fn immutable_policy() -> Error {
    Error::BadParameter(crate::messages::keys::IMMUTABLE_RELEASE_POLICY.into())
}

/// Exportable keys and release policies go together (contract §5.2; texts as the real service
/// sends them, with their AKV.SKR codes).
pub(super) fn check_exportability(exportable: bool, has_release_policy: bool) -> Result<()> {
    match (exportable, has_release_policy) {
        (true, false) => Err(Error::BadParameter(crate::messages::keys::EXPORTABLE_NEEDS_RELEASE_POLICY.into())),
        (false, true) => Err(Error::BadParameter(crate::messages::keys::NON_EXPORTABLE_WITH_RELEASE_POLICY.into())),
        _ => Ok(()),
    }
}

pub(super) fn validate_key_ops(ops: &[KeyOperation], key_type: KeyType) -> Result<()> {
    match ops.iter().find(|op| !op.supported_by(key_type.family())) {
        Some(op) => Err(Error::BadParameter(crate::messages::keys::operation_unsupported_by_key_type(
            op.as_str(),
            key_type.as_str(),
        ))),
        None => Ok(()),
    }
}

/// The key_ops a new version gets (the request's, or the type's defaults), once they and
/// the tags are valid.
pub(super) fn checked_key_ops(
    requested: Option<Vec<KeyOperation>>,
    key_type: KeyType,
    tags: Option<&Tags>,
) -> Result<Vec<KeyOperation>> {
    let key_ops = requested.unwrap_or_else(|| default_key_ops(key_type.family()));
    validate_key_ops(&key_ops, key_type)?;
    if let Some(tags) = tags {
        validate_tags(tags)?;
    }
    Ok(key_ops)
}

/// A Managed HSM holds only HSM-protected key types (RSA-HSM, EC-HSM, oct-HSM, AKP-HSM); a
/// software type is refused with the service's invalid-kty error ([unverified] on an HSM: the
/// text is the one a vault gives for a type it does not hold).
pub(super) fn check_store_accepts(vault: &crate::vaults::Vault, key_type: KeyType) -> Result<()> {
    if vault.is_managed_hsm() && !key_type.is_hsm() {
        return Err(Error::BadParameter(crate::messages::keys::hsm_key_type_required(key_type.as_str())));
    }
    Ok(())
}

/// What a create will generate, once its parameters are checked.
#[derive(Clone, Copy, Debug)]
pub(super) enum GenerationPlan {
    Rsa(u32),
    Ec(Curve),
    Oct(u32),
    MlDsa(MlDsa),
}

pub(super) fn validate_generation(request: &CreateKeyRequest) -> Result<GenerationPlan> {
    match request.key_type.family() {
        KeyFamily::Rsa => {
            let bits = request.key_size.unwrap_or(2048);
            if !rsa::SUPPORTED_SIZES.contains(&bits) {
                return Err(Error::BadParameter(crate::messages::keys::rsa_size_unsupported(bits)));
            }
            if let Some(e) = request.public_exponent.filter(|e| *e != 65537) {
                return Err(Error::BadParameter(crate::messages::keys::public_exponent_unsupported(e)));
            }
            Ok(GenerationPlan::Rsa(bits))
        }
        KeyFamily::Ec => Ok(GenerationPlan::Ec(request.curve.unwrap_or(Curve::P256))),
        KeyFamily::Oct => {
            let bits = request.key_size.unwrap_or(256);
            if !OCT_KEY_SIZES.contains(&bits) {
                return Err(Error::BadParameter(crate::messages::keys::oct_size_unsupported(bits)));
            }
            Ok(GenerationPlan::Oct(bits))
        }
        KeyFamily::Akp => request
            .ml_dsa
            .map(GenerationPlan::MlDsa)
            .ok_or_else(|| Error::BadParameter(crate::messages::keys::AKP_NEEDS_ALGORITHM.into())),
    }
}

/// AES key sizes an `oct` key may have (contract §8).
pub(super) const OCT_KEY_SIZES: [u32; 3] = [128, 192, 256];
