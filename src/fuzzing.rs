//! Entry points for the `cargo fuzz` targets in `fuzz/` (feature `fuzzing`): each takes the
//! fuzzer's bytes to one parser that faces untrusted input, returns normally on any input, and
//! panics only when an invariant breaks. Kept in the crate so the targets reach the real code
//! paths, including private ones, without widening the crate's API.

use std::sync::OnceLock;

use uuid::Uuid;

use crate::api::data_plane::wire;
use crate::auth::identity::Identity;
use crate::auth::issuer::TokenIssuer;
use crate::auth::validate::{Audience, TokenValidator};
use crate::crypto::rsa;
use crate::crypto::sealing::MasterKey;
use crate::keys::backup::KeyBackup;
use crate::keys::model::PublicKey;
use crate::keys::service::{CreateKeyRequest, ImportKeyRequest, UpdateKeyRequest, imported_public_key};

/// The tenant the targets' tokens and backups belong to.
pub const TENANT: Uuid = Uuid::from_u128(0x7e6a_71f0_2c3b_4d5e_8f90_a1b2_c3d4_e5f6);

/// A fixed RSA-2048 signing key for the token target (PKCS#8 DER, test-only), so that the
/// committed seed tokens verify and the fuzzer can mutate valid tokens, not just noise. Read at
/// run time rather than compiled in: only the fuzz targets and the corpus replay need it.
pub const TOKEN_KEY_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/token-key.pk8");

fn issuer() -> &'static TokenIssuer {
    static ISSUER: OnceLock<TokenIssuer> = OnceLock::new();
    ISSUER.get_or_init(|| {
        let pkcs8 = std::fs::read(TOKEN_KEY_PATH).unwrap_or_else(|e| panic!("{TOKEN_KEY_PATH}: {e}"));
        let material = rsa::material_from_pkcs8(&pkcs8).expect("the committed token key parses");
        TokenIssuer::from_material(&material).expect("a token issuer from the committed key")
    })
}

/// A token as the emulator issues it to the managed identity `name`, signed with the fixed key:
/// what the seed corpus holds.
#[must_use]
pub fn seed_token(name: &str, audience: &str) -> String {
    let identity = Identity::user_assigned(TENANT, name);
    issuer().issue_for_identity(&identity, audience).expect("a seed token").access_token
}

/// Bearer-token validation. Invariant: a token is accepted only if its signed part (header and
/// claims, as sent) is exactly what the issuer signed; changing any of it must fail.
pub fn token(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let validator = TokenValidator::new(issuer().clone(), "vault.localhost");
    let now = crate::clock::wall_now();
    for audience in [Audience::Vault, Audience::Management] {
        if validator.validate_for(text, TENANT, now, audience).is_ok() {
            let signed = text.rsplit_once('.').map_or("", |(signed, _)| signed);
            let payload = signed.split_once('.').map_or("", |(_, payload)| payload);
            let claims = crate::crypto::base64url::decode(payload).expect("an accepted token's claims decode");
            let claims: crate::auth::issuer::AccessTokenClaims =
                serde_json::from_slice(&claims).expect("an accepted token's claims are the issuer's");
            let resigned = issuer().sign(&claims).expect("re-signing").access_token;
            let resigned_signed = resigned.rsplit_once('.').map_or("", |(signed, _)| signed);
            assert_eq!(signed, resigned_signed, "accepted a token the issuer did not sign");
        }
        // The header form goes through the same checks.
        let _ = validator.validate_header(Some(&format!("Bearer {text}")), TENANT);
    }
}

/// JWK import (`PUT /keys/{name}`): the body's JSON, its checks, and turning the JWK into key
/// material. Invariant: an RSA or EC key that imports keeps the public members it was given.
pub fn jwk_import(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<wire::KeyImportParameters>(data) else { return };
    let Ok(request) = ImportKeyRequest::try_from(body) else { return };
    let given = request.material.clone();
    let Ok(public) = imported_public_key(&request.material, request.hsm) else { return };
    match (&given, &public) {
        (crate::keys::service::PrivateJwk::Rsa { n, .. }, PublicKey::Rsa { n: kept, .. })
        | (crate::keys::service::PrivateJwk::RsaWithoutCrt { n, .. }, PublicKey::Rsa { n: kept, .. }) => {
            assert_eq!(crate::crypto::trim_leading_zeros(n), crate::crypto::trim_leading_zeros(kept));
        }
        (crate::keys::service::PrivateJwk::Ec { x, y, .. }, PublicKey::Ec { x: kx, y: ky, .. }) => {
            assert_eq!((x, y), (kx, ky));
        }
        _ => {}
    }
}

/// The other request bodies a vault decodes: create, update, key operations, sign, verify,
/// random bytes, and their conversion to service requests.
pub fn bodies(data: &[u8]) {
    if let Ok(body) = serde_json::from_slice::<wire::KeyCreateParameters>(data) {
        let _ = CreateKeyRequest::try_from(body);
    }
    if let Ok(body) = serde_json::from_slice::<wire::KeyUpdateParameters>(data) {
        let _ = UpdateKeyRequest::try_from(body);
    }
    if let Ok(body) = serde_json::from_slice::<wire::KeyOperationsParameters>(data) {
        let _ = crate::keys::cipher::CipherInput::from(body);
    }
    let _ = serde_json::from_slice::<wire::KeySignParameters>(data);
    let _ = serde_json::from_slice::<wire::KeyVerifyParameters>(data);
    let _ = serde_json::from_slice::<wire::GetRandomBytesRequest>(data);
    if let Ok(policy) = serde_json::from_slice::<crate::keys::rotation::RotationPolicy>(data) {
        let _ = policy.normalized(None, crate::clock::wall_now());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = wire::decode_skip_token(text);
    }
}

fn master() -> &'static MasterKey {
    static MASTER: OnceLock<MasterKey> = OnceLock::new();
    MASTER.get_or_init(|| MasterKey::from_bytes(&[0x42; 32]).expect("a master key"))
}

/// The backup blob reader (`POST /keys/restore`). The first byte picks what the rest is: a
/// blob as a client sends it, or the plaintext inside one (sealed here with the target's own
/// master key, so the fuzzer reaches the parser behind the authentication). Invariant: a blob
/// that opens seals and opens again to the same key versions.
pub fn backup(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let blob = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let Ok(blob) = KeyBackup::seal_plaintext(rest, master(), TENANT) else { return };
        blob
    };
    let Ok(opened) = KeyBackup::open(&blob, master(), TENANT) else { return };
    let again = opened.seal(master(), TENANT).expect("an opened backup seals");
    let reopened = KeyBackup::open(&again, master(), TENANT).expect("a resealed backup opens");
    assert_eq!(opened.name, reopened.name);
    assert_eq!(opened.current_version, reopened.current_version);
    assert_eq!(opened.versions, reopened.versions);
    assert!(KeyBackup::open(&blob, master(), Uuid::nil()).is_err(), "another tenant's emulator cannot open it");
}
