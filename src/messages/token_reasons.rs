//! Why a bearer token was refused, in the words the Resource Manager ("The access token is
//! invalid: …") and Graph ("Access token validation failure: …") planes quote after their own
//! prefix (`auth::validate::TokenError`'s `Display`). The Key Vault plane answers with its
//! `AKV100xx` texts in `data_plane.rs` instead. The emulator's own wording.

use std::fmt::Display;

pub const NO_BEARER_TOKEN: &str = "no bearer token";

#[must_use]
pub fn malformed(detail: &str) -> String {
    format!("malformed token: {detail}")
}

#[must_use]
pub fn algorithm_not_accepted(alg: &str) -> String {
    format!("algorithm {alg} not accepted")
}

#[must_use]
pub fn unknown_signing_key(kid: &str) -> String {
    format!("unknown signing key {kid}")
}

pub const BAD_SIGNATURE: &str = "bad signature";

#[must_use]
pub fn invalid_issuer(found: &str) -> String {
    format!("invalid issuer {found}")
}

#[must_use]
pub fn invalid_audience(found: &str) -> String {
    format!("invalid audience {found}")
}

#[must_use]
pub fn expired(exp: impl Display) -> String {
    format!("expired at {exp}")
}

#[must_use]
pub fn not_yet_valid(nbf: impl Display) -> String {
    format!("not valid before {nbf}")
}

#[must_use]
pub fn wrong_tenant(found: &str, expected: impl Display) -> String {
    format!("tenant {found} is not the vault's tenant {expected}")
}

#[must_use]
pub fn missing_claim(claim: &str) -> String {
    format!("claim {claim} missing or invalid")
}
