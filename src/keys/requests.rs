//! What callers ask the keys service for: create, import and update requests, in domain terms
//! (the wire layer parses JSON into these).

use crate::clock::UnixSeconds;
use crate::crypto::ec::Curve;
use crate::crypto::mldsa::MlDsa;

use super::model::{KeyOperation, KeyType, Tags};
use super::release::ReleasePolicy;

/// Writable attributes in a create or update request; `None` leaves a value as it is (or at
/// its default on create).
#[derive(Clone, Debug, Default)]
pub struct AttributeChanges {
    pub enabled: Option<bool>,
    pub not_before: Option<UnixSeconds>,
    pub expires: Option<UnixSeconds>,
    pub exportable: Option<bool>,
}

#[derive(Clone, Debug)]
pub struct CreateKeyRequest {
    pub key_type: KeyType,
    pub key_size: Option<u32>,
    pub public_exponent: Option<u32>,
    pub curve: Option<Curve>,
    /// The parameter set of an AKP key (its `alg`).
    pub ml_dsa: Option<MlDsa>,
    pub key_ops: Option<Vec<KeyOperation>>,
    pub attributes: AttributeChanges,
    pub tags: Option<Tags>,
    pub release_policy: Option<ReleasePolicy>,
}

/// The private members of an imported JWK, checked present by the wire layer.
#[derive(Clone, Debug)]
pub enum PrivateJwk {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
        d: Vec<u8>,
        p: Vec<u8>,
        q: Vec<u8>,
        dp: Vec<u8>,
        dq: Vec<u8>,
        qi: Vec<u8>,
    },
    /// Only the private exponent: the CRT members are derived at import.
    RsaWithoutCrt {
        n: Vec<u8>,
        e: Vec<u8>,
        d: Vec<u8>,
    },
    /// A PKCS#8 `PrivateKeyInfo` (from a PEM file): RSA, or EC on any supported curve.
    Pkcs8 {
        der: Vec<u8>,
    },
    Ec {
        curve: Curve,
        d: Vec<u8>,
        x: Vec<u8>,
        y: Vec<u8>,
    },
    Oct {
        k: Vec<u8>,
    },
}

#[derive(Clone, Debug)]
pub struct ImportKeyRequest {
    pub material: PrivateJwk,
    /// The `Hsm` flag: report the key as `RSA-HSM`/`EC-HSM`/`oct-HSM`.
    pub hsm: bool,
    pub key_ops: Option<Vec<KeyOperation>>,
    pub attributes: AttributeChanges,
    pub tags: Option<Tags>,
    pub release_policy: Option<ReleasePolicy>,
}

/// Patch semantics: each present field replaces the stored one whole (contract §5.2 item 4).
#[derive(Clone, Debug, Default)]
pub struct UpdateKeyRequest {
    pub key_ops: Option<Vec<KeyOperation>>,
    pub attributes: Option<AttributeChanges>,
    pub tags: Option<Tags>,
    pub release_policy: Option<ReleasePolicy>,
}
