//! The emulator's built-in attestation authority, the stand-in for Microsoft Azure Attestation
//! in secure key release.
//!
//! A release needs a `target`: a JWT from an attestation authority, whose `iss` a release
//! policy names and whose `x-ms-runtime.keys` carries the RSA key to wrap the released key for.
//! There is no TEE here, so the emulator is its own authority: it mints such tokens for any
//! claims a test asks for (`/attestation/generate-test-token`, shaped like the mock authority
//! the Azure SDKs' own tests use) and accepts exactly the tokens it signed. Tokens from any
//! other authority are refused: the emulator never fetches keys from the network.
//!
//! The authority signs with its own key, never the access-token issuer's: anyone may mint
//! attestation tokens with any claims, so sharing a key would let anyone forge access tokens.
//! The key lives in memory and is made on first use (start-up stays fast); attestation tokens
//! are test artefacts and need not outlive the process.

use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Value, json};

use super::issuer::TokenIssuer;
use crate::clock::wall_now;
use crate::crypto::base64url;

/// Where the authority lives on the HTTPS port; its issuer URL is the origin plus this path.
pub const AUTHORITY_PATH: &str = "/attestation";

/// How long minted attestation tokens last (the SDK test authority uses a week too).
const TOKEN_LIFETIME_SECONDS: i64 = 7 * 24 * 3600;

#[must_use]
pub fn authority_url(origin: &str) -> String {
    format!("{origin}{AUTHORITY_PATH}")
}

/// Mints an attestation token: `claims` are merged into the defaults, and `runtime_keys`, when
/// given, become `x-ms-runtime.keys`. `iss` is always the authority at `origin`.
pub fn mint(
    issuer: &TokenIssuer,
    origin: &str,
    claims: Option<&serde_json::Map<String, Value>>,
    runtime_keys: Option<Vec<Value>>,
) -> Result<String, String> {
    let now = wall_now();
    let mut token = json!({
        "iss": authority_url(origin),
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_LIFETIME_SECONDS,
        "x-ms-inittime": {},
        "x-ms-runtime": {},
    });
    if let Some(claims) = claims {
        for (name, value) in claims {
            token[name] = value.clone();
        }
    }
    if let Some(keys) = runtime_keys {
        token["x-ms-runtime"]["keys"] = Value::Array(keys);
    }
    token["iss"] = Value::String(authority_url(origin));
    issuer.sign_claims(&token).map_err(|e| e.to_string())
}

/// The token the SDKs' test authority hands out on `GET /generate-test-token`: the claim
/// `sdk-test: true` and one RSA encryption key (`fake-release-key`). Its private half stays in
/// the emulator, so the release succeeds but nobody can unwrap the result, as with that mock.
pub fn sdk_test_token(issuer: &TokenIssuer, origin: &str) -> Result<String, String> {
    let (n, e) = issuer.public_components().map_err(|e| e.to_string())?;
    let claims = json!({"sdk-test": true});
    let key = json!({"kty": "RSA", "kid": "fake-release-key", "use": "enc", "n": base64url::encode(n), "e": base64url::encode(e)});
    mint(issuer, origin, claims.as_object(), Some(vec![key]))
}

/// The OpenID metadata of the authority at `origin`.
#[must_use]
pub fn openid_configuration(origin: &str) -> Value {
    let authority = authority_url(origin);
    json!({ "issuer": authority, "jwks_uri": format!("{authority}/certs") })
}

/// Verifies a `target` token: signed by this emulator's authority key and within its
/// validity. Returns its claims; the release policy then decides whether they suffice.
pub fn verify(issuer: &TokenIssuer, token: &str) -> Result<Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(crate::messages::data_plane::attestation_not_a_jwt)?;
    let kid = header.kid.ok_or(crate::messages::data_plane::ATTESTATION_NO_KID)?;
    let key = issuer
        .decoding_key(&kid)
        .ok_or_else(|| crate::messages::data_plane::attestation_unknown_kid(&kid, AUTHORITY_PATH))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_aud = false;
    validation.required_spec_claims = ["exp".to_owned(), "iss".to_owned()].into();
    validation.leeway = 300;
    let claims = jsonwebtoken::decode::<Value>(token, key, &validation)
        .map_err(crate::messages::data_plane::attestation_does_not_verify)?;
    if claims.claims.get("iss").and_then(Value::as_str).is_none_or(|iss| !iss.ends_with(AUTHORITY_PATH)) {
        return Err(crate::messages::data_plane::ATTESTATION_FOREIGN_ISSUER.into());
    }
    Ok(claims.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> TokenIssuer {
        TokenIssuer::from_material(&crate::crypto::rsa::generate(2048).unwrap()).unwrap()
    }

    #[test]
    fn minted_tokens_verify_and_carry_the_claims() {
        let issuer = issuer();
        let token = mint(
            &issuer,
            "https://localhost:8443",
            json!({"tee": "sevsnpvm"}).as_object(),
            Some(vec![json!({"kid": "k"})]),
        )
        .unwrap();
        let verified = verify(&issuer, &token).unwrap();
        assert_eq!(verified["iss"], "https://localhost:8443/attestation");
        assert_eq!(verified["tee"], "sevsnpvm");
        assert_eq!(verified["x-ms-runtime"]["keys"][0]["kid"], "k");

        let sdk = verify(&issuer, &sdk_test_token(&issuer, "https://localhost:1").unwrap()).unwrap();
        assert_eq!(sdk["sdk-test"], true);
        assert_eq!(sdk["x-ms-runtime"]["keys"][0]["kid"], "fake-release-key");
    }

    #[test]
    fn foreign_or_tampered_tokens_are_refused() {
        let ours = issuer();
        let theirs = issuer();
        let foreign = mint(&theirs, "https://localhost:1", None, None).unwrap();
        assert!(verify(&ours, &foreign).is_err());
        let token = mint(&ours, "https://localhost:1", None, None).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = base64url::encode(br#"{"iss":"https://localhost:1/attestation","exp":99999999999,"sdk-test":true}"#);
        assert!(verify(&ours, &parts.join(".")).is_err());
        assert!(verify(&ours, "not a token").is_err());
        let claims = json!({"iss": "https://sts.windows.net/tenant/", "aud": "https://vault.azure.net"});
        let token = mint(&ours, "https://localhost:1", claims.as_object(), None).unwrap();
        assert_eq!(verify(&ours, &token).unwrap()["iss"], "https://localhost:1/attestation", "iss cannot be chosen");
    }
}
