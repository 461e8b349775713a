//! The JWT checks every token the emulator accepts goes through, whatever it is for: the bearer
//! header, the RS256 signature against a key the emulator holds, the audience list, and the
//! lifetime with the tolerated clock skew. Access tokens (`validate`) and client assertions
//! (`client_credentials`) differ only in whose issuer and audience they accept.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::validate::TokenError;
use crate::clock::UnixSeconds;

/// Tolerated clock difference between issuer and validator, as Entra-validated services allow.
pub const CLOCK_SKEW_SECONDS: i64 = 300;

/// The registered and Entra claims the emulator reads, each optional so that a missing one
/// is reported by name rather than as a parse failure.
#[derive(Debug, Deserialize)]
pub struct Claims {
    pub aud: Option<serde_json::Value>,
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    pub tid: Option<String>,
    pub oid: Option<String>,
    pub appid: Option<String>,
    pub azp: Option<String>,
}

impl Claims {
    /// `aud` as a list: a JWT may carry one audience or several.
    #[must_use]
    pub fn audiences(&self) -> Vec<&str> {
        match &self.aud {
            Some(serde_json::Value::String(one)) => vec![one.as_str()],
            Some(serde_json::Value::Array(items)) => items.iter().filter_map(serde_json::Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// `exp` is required; `nbf`, when present, must have come.
    pub fn check_lifetime(&self, now: UnixSeconds) -> Result<(), TokenError> {
        let exp = self.exp.ok_or(TokenError::MissingClaim("exp"))?;
        if now >= exp.saturating_add(CLOCK_SKEW_SECONDS) {
            return Err(TokenError::Expired(exp));
        }
        if let Some(nbf) = self.nbf
            && now.saturating_add(CLOCK_SKEW_SECONDS) < nbf
        {
            return Err(TokenError::NotYetValid(nbf));
        }
        Ok(())
    }
}

/// The token in an `Authorization: Bearer …` header value (the scheme in any case).
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, TokenError> {
    let value = authorization.ok_or(TokenError::Missing)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(TokenError::Missing)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(TokenError::Missing);
    }
    Ok(token)
}

/// The claims of a token whose signature has not been checked: only for choosing which
/// checks apply (a federated credential by issuer), never for trusting it.
pub fn unverified_claims(token: &str) -> Result<Claims, TokenError> {
    jsonwebtoken::dangerous::insecure_decode::<Claims>(token)
        .map(|data| data.claims)
        .map_err(|e| TokenError::Malformed(e.to_string()))
}

/// The token's claims, if it is RS256 and signed by the key `key_for` finds for its `kid`.
/// Only the signature is checked here; the caller checks the claims, so that each failure
/// can carry its own message.
pub fn verify_rs256<'k>(
    token: &str,
    key_for: impl FnOnce(&str) -> Option<&'k DecodingKey>,
) -> Result<Claims, TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
    if header.alg != Algorithm::RS256 {
        return Err(TokenError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
    }
    let kid = header.kid.unwrap_or_default();
    let key = key_for(&kid).ok_or_else(|| TokenError::UnknownSigningKey(kid.clone()))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Claims>(token, key, &validation).map(|data| data.claims).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::BadSignature,
        _ => TokenError::Malformed(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lifetime(exp: Option<i64>, nbf: Option<i64>) -> Claims {
        Claims { aud: None, iss: None, sub: None, exp, nbf, tid: None, oid: None, appid: None, azp: None }
    }

    #[test]
    fn bearer_headers() {
        assert_eq!(bearer_token(None), Err(TokenError::Missing));
        assert_eq!(bearer_token(Some("Basic abc")), Err(TokenError::Missing));
        assert_eq!(bearer_token(Some("Bearer ")), Err(TokenError::Missing));
        assert_eq!(bearer_token(Some("Bearer")), Err(TokenError::Missing));
        assert_eq!(bearer_token(Some(" bearer  a.b.c ")), Ok("a.b.c"));
        assert_eq!(bearer_token(Some("BEARER t")), Ok("t"));
    }

    #[test]
    fn lifetimes_tolerate_the_skew_on_both_sides() {
        let now = 1_000_000;
        assert_eq!(lifetime(None, None).check_lifetime(now), Err(TokenError::MissingClaim("exp")));
        assert!(lifetime(Some(now - CLOCK_SKEW_SECONDS + 1), None).check_lifetime(now).is_ok());
        assert_eq!(
            lifetime(Some(now - CLOCK_SKEW_SECONDS), None).check_lifetime(now),
            Err(TokenError::Expired(now - CLOCK_SKEW_SECONDS))
        );
        assert!(lifetime(Some(now + 60), Some(now + CLOCK_SKEW_SECONDS)).check_lifetime(now).is_ok());
        assert_eq!(
            lifetime(Some(now + 60), Some(now + CLOCK_SKEW_SECONDS + 1)).check_lifetime(now),
            Err(TokenError::NotYetValid(now + CLOCK_SKEW_SECONDS + 1))
        );
    }

    #[test]
    fn audiences_may_be_one_or_many() {
        let mut c = lifetime(None, None);
        assert!(c.audiences().is_empty());
        c.aud = Some(serde_json::json!("a"));
        assert_eq!(c.audiences(), ["a"]);
        c.aud = Some(serde_json::json!(["a", 1, "b"]));
        assert_eq!(c.audiences(), ["a", "b"]);
    }
}
