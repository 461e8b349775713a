//! New key material: generated for a create or rotation, or taken from an imported JWK, with
//! the public members the key will show.

use crate::crypto::ec::{self, Curve};
use crate::crypto::{aes, mldsa, rsa};

use super::model::{KeyType, PublicKey};
use super::requests::PrivateJwk;
use super::rules::{GenerationPlan, OCT_KEY_SIZES};
use super::{Error, Result};

/// Generated or imported material: what gets sealed (PKCS#8 DER for RSA and EC, the raw key
/// for `oct`) and the public JWK members.
pub(super) struct NewMaterial {
    pub(super) private: Vec<u8>,
    pub(super) public: PublicKey,
}

pub(super) fn generate_material(plan: GenerationPlan) -> Result<NewMaterial> {
    match plan {
        GenerationPlan::Rsa(bits) => {
            let material = rsa::generate(bits)?;
            Ok(NewMaterial { private: material.pkcs8_der, public: PublicKey::Rsa { n: material.n, e: material.e } })
        }
        GenerationPlan::Ec(curve) => {
            let material = ec::generate(curve)?;
            Ok(NewMaterial {
                private: material.pkcs8_der,
                public: PublicKey::Ec { curve: material.curve, x: material.x, y: material.y },
            })
        }
        GenerationPlan::Oct(bits) => {
            Ok(NewMaterial { private: aes::generate(bits)?, public: PublicKey::Symmetric { bits } })
        }
        GenerationPlan::MlDsa(algorithm) => {
            let material = mldsa::generate(algorithm)?;
            Ok(NewMaterial {
                private: material.pkcs8_der,
                public: PublicKey::Akp { algorithm, public: material.public },
            })
        }
    }
}

/// The public key an import of `jwk` would store (the fuzz targets check import with it).
#[cfg(feature = "fuzzing")]
pub(crate) fn imported_public_key(jwk: &PrivateJwk, hsm: bool) -> Result<PublicKey> {
    imported_material(jwk, hsm).map(|(_, material)| material.public)
}

/// The material of an imported JWK and the key type it becomes (`Hsm` asks for the -HSM type).
pub(super) fn imported_material(jwk: &PrivateJwk, hsm: bool) -> Result<(KeyType, NewMaterial)> {
    let pick = |soft: KeyType, hard: KeyType| if hsm { hard } else { soft };
    match jwk {
        PrivateJwk::Rsa { n, e, d, p, q, dp, dq, qi } => {
            let imported = rsa::import(&rsa::RsaPrivateComponents { n, e, d, p, q, dp, dq, qi })?;
            let public = PublicKey::Rsa { n: imported.n, e: imported.e };
            Ok((pick(KeyType::Rsa, KeyType::RsaHsm), NewMaterial { private: imported.pkcs8_der, public }))
        }
        PrivateJwk::RsaWithoutCrt { n, e, d } => {
            let imported = rsa::complete_from_d(n, e, d)?;
            let public = PublicKey::Rsa { n: imported.n, e: imported.e };
            Ok((pick(KeyType::Rsa, KeyType::RsaHsm), NewMaterial { private: imported.pkcs8_der, public }))
        }
        PrivateJwk::Pkcs8 { der } => {
            if let Ok(rsa_key) = rsa::material_from_pkcs8(der) {
                let bits = crate::crypto::trim_leading_zeros(&rsa_key.n).len() * 8;
                if !rsa::SUPPORTED_SIZES.iter().any(|s| *s as usize == bits) {
                    return Err(Error::BadParameter(crate::messages::keys::rsa_import_size(bits)));
                }
                let public = PublicKey::Rsa { n: rsa_key.n, e: rsa_key.e };
                return Ok((pick(KeyType::Rsa, KeyType::RsaHsm), NewMaterial { private: rsa_key.pkcs8_der, public }));
            }
            let ec_key = Curve::ALL
                .iter()
                .find_map(|curve| ec::material_from_pkcs8(*curve, der).ok())
                .ok_or_else(|| Error::BadParameter(crate::messages::keys::PKCS8_KEY_UNSUPPORTED.into()))?;
            let public = PublicKey::Ec { curve: ec_key.curve, x: ec_key.x, y: ec_key.y };
            Ok((pick(KeyType::Ec, KeyType::EcHsm), NewMaterial { private: ec_key.pkcs8_der, public }))
        }
        PrivateJwk::Ec { curve, d, x, y } => {
            let imported = ec::import(*curve, d, x, y)?;
            let public = PublicKey::Ec { curve: imported.curve, x: imported.x, y: imported.y };
            Ok((pick(KeyType::Ec, KeyType::EcHsm), NewMaterial { private: imported.pkcs8_der, public }))
        }
        PrivateJwk::Oct { k } => {
            let bits = u32::try_from(k.len() * 8).unwrap_or(u32::MAX);
            if !OCT_KEY_SIZES.contains(&bits) {
                return Err(Error::BadParameter(crate::messages::keys::oct_import_length(k.len())));
            }
            let public = PublicKey::Symmetric { bits };
            Ok((pick(KeyType::Oct, KeyType::OctHsm), NewMaterial { private: k.clone(), public }))
        }
    }
}
