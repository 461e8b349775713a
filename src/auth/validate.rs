//! Bearer-token validation for vault requests (contract §3): signature, issuer, audience,
//! lifetime and tenant, checked against the real wall clock. Each failure says what was wrong;
//! `api::errors` turns it into a 401 with the challenge. The same checks serve the management
//! API and the Graph subset, each with its own audience. The header, signature and lifetime
//! checks are `auth::jwt`'s, shared with the client assertions of `auth::client_credentials`.
//! Over 400 lines since Managed HSM tokens joined: its tests (half the file) exercise every
//! claim check on real signed tokens, for both audiences.

use std::sync::Arc;

use uuid::Uuid;

use super::issuer::TokenIssuer;
pub use super::jwt::CLOCK_SKEW_SECONDS;
use super::jwt::{Claims, bearer_token, verify_rs256};
use super::verified::{self, VerifiedTokens};
use super::{Principal, v1_issuer};
use crate::clock::{UnixSeconds, wall_now};

/// The Key Vault resource every real token for a vault names.
pub const KEY_VAULT_AUDIENCE: &str = "https://vault.azure.net";
/// The resource every real token for a Managed HSM names.
pub const MANAGED_HSM_AUDIENCE: &str = "https://managedhsm.azure.net";
/// Key Vault's first-party application id, also accepted as an audience.
pub const KEY_VAULT_APP_ID: &str = "cfa8b339-82a2-471a-a3c9-0fc0be7a4093";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("{}", crate::messages::token_reasons::NO_BEARER_TOKEN)]
    Missing,
    #[error("{}", crate::messages::token_reasons::malformed(.0))]
    Malformed(String),
    #[error("{}", crate::messages::token_reasons::algorithm_not_accepted(.0))]
    UnsupportedAlgorithm(String),
    #[error("{}", crate::messages::token_reasons::unknown_signing_key(.0))]
    UnknownSigningKey(String),
    #[error("{}", crate::messages::token_reasons::BAD_SIGNATURE)]
    BadSignature,
    #[error("{}", crate::messages::token_reasons::invalid_issuer(found))]
    InvalidIssuer { expected: String, found: String },
    #[error("{}", crate::messages::token_reasons::invalid_audience(found))]
    InvalidAudience { found: String },
    #[error("{}", crate::messages::token_reasons::expired(.0))]
    Expired(UnixSeconds),
    #[error("{}", crate::messages::token_reasons::not_yet_valid(.0))]
    NotYetValid(UnixSeconds),
    #[error("{}", crate::messages::token_reasons::wrong_tenant(found, expected))]
    WrongTenant { expected: Uuid, found: String },
    #[error("{}", crate::messages::token_reasons::missing_claim(.0))]
    MissingClaim(&'static str),
}

/// What a token must be for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience<'a> {
    Vault,
    /// A Managed HSM: `https://managedhsm.azure.net` or `https://{hsm domain}` on any port.
    /// Vault tokens are not accepted, nor HSM tokens on vaults.
    ManagedHsm,
    /// Azure Resource Manager: `https://management.azure.com/` or the older
    /// `https://management.core.windows.net/`.
    Management,
    /// Microsoft Graph: its own resource URI or app id, or the emulator's URL as the client
    /// addressed it (`own_origin`), which is the Graph resource `az` registers from the
    /// emulator's cloud metadata.
    Graph {
        own_origin: &'a str,
    },
}

/// Microsoft Graph's resource URI and first-party app id, both accepted as its audience.
pub const GRAPH_AUDIENCES: [&str; 2] = ["https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"];

#[must_use]
pub fn is_graph_audience(aud: &str, own_origin: &str) -> bool {
    let aud = aud.strip_suffix('/').unwrap_or(aud);
    GRAPH_AUDIENCES.iter().any(|g| aud.eq_ignore_ascii_case(g))
        || aud.eq_ignore_ascii_case(own_origin.strip_suffix('/').unwrap_or(own_origin))
}

#[must_use]
pub fn is_management_audience(aud: &str) -> bool {
    let aud = aud.strip_suffix('/').unwrap_or(aud);
    ["https://management.azure.com", "https://management.core.windows.net"].iter().any(|m| aud.eq_ignore_ascii_case(m))
}

/// Validates tokens for vaults served on `domain`.
#[derive(Clone, Debug)]
pub struct TokenValidator {
    issuer: TokenIssuer,
    domain: String,
    verified: Arc<VerifiedTokens<Claims>>,
}

/// Is `aud` a Key Vault audience for a vault under `domain`? Accepted: `https://vault.azure.net`,
/// Key Vault's app id, and `https://{domain}` on any port (the port a client sees can differ
/// from ours behind docker port mapping), each with or without a trailing slash.
#[must_use]
pub fn is_vault_audience(aud: &str, domain: &str) -> bool {
    let aud = aud.strip_suffix('/').unwrap_or(aud);
    if aud.eq_ignore_ascii_case(KEY_VAULT_AUDIENCE) || aud.eq_ignore_ascii_case(KEY_VAULT_APP_ID) {
        return true;
    }
    let Some(authority) = aud.strip_prefix("https://") else {
        return false;
    };
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    host.eq_ignore_ascii_case(domain)
}

/// Is `aud` a Managed HSM audience for an HSM under `vault_domain`'s HSM sibling?
#[must_use]
pub fn is_managed_hsm_audience(aud: &str, vault_domain: &str) -> bool {
    let trimmed = aud.strip_suffix('/').unwrap_or(aud);
    trimmed.eq_ignore_ascii_case(MANAGED_HSM_AUDIENCE)
        || (!trimmed.eq_ignore_ascii_case(KEY_VAULT_APP_ID)
            && !trimmed.eq_ignore_ascii_case(KEY_VAULT_AUDIENCE)
            && is_vault_audience(trimmed, &crate::vaults::hsm_domain(vault_domain)))
}

impl TokenValidator {
    #[must_use]
    pub fn new(issuer: TokenIssuer, domain: &str) -> Self {
        Self { issuer, domain: domain.to_ascii_lowercase(), verified: Arc::default() }
    }

    /// Validates a raw `Authorization` header value for a vault of `tenant`.
    pub fn validate_header(&self, authorization: Option<&str>, tenant: Uuid) -> Result<Principal, TokenError> {
        self.validate(bearer_token(authorization)?, tenant, wall_now())
    }

    /// Validates a raw `Authorization` header value for a Managed HSM of `tenant`.
    pub fn validate_hsm_header(&self, authorization: Option<&str>, tenant: Uuid) -> Result<Principal, TokenError> {
        let value = authorization.ok_or(TokenError::Missing)?;
        let (scheme, token) = value.trim().split_once(' ').ok_or(TokenError::Missing)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(TokenError::Missing);
        }
        self.validate_for(token.trim(), tenant, wall_now(), Audience::ManagedHsm)
    }

    pub fn validate(&self, token: &str, tenant: Uuid, now: UnixSeconds) -> Result<Principal, TokenError> {
        self.validate_for(token, tenant, now, Audience::Vault)
    }

    /// Validates a raw `Authorization` header value for the management API of `tenant`.
    pub fn validate_management_header(
        &self,
        authorization: Option<&str>,
        tenant: Uuid,
    ) -> Result<Principal, TokenError> {
        self.validate_for(bearer_token(authorization)?, tenant, wall_now(), Audience::Management)
    }

    /// Validates a raw `Authorization` header value for the Microsoft Graph subset of `tenant`,
    /// reached at `own_origin`.
    pub fn validate_graph_header(
        &self,
        authorization: Option<&str>,
        tenant: Uuid,
        own_origin: &str,
    ) -> Result<Principal, TokenError> {
        self.validate_for(bearer_token(authorization)?, tenant, wall_now(), Audience::Graph { own_origin })
    }

    /// Validates a token for `audience` in `tenant`.
    pub fn validate_for(
        &self,
        token: &str,
        tenant: Uuid,
        now: UnixSeconds,
        audience: Audience<'_>,
    ) -> Result<Principal, TokenError> {
        let fingerprint = verified::fingerprint(token);
        let claims = match self.verified.get(&fingerprint, now) {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(self.verify_signature(token)?);
                if let Some(exp) = claims.exp {
                    let useless_after = exp.saturating_add(CLOCK_SKEW_SECONDS);
                    self.verified.insert(fingerprint, claims.clone(), useless_after, now);
                }
                claims
            }
        };
        self.check_claims(&claims, tenant, now, audience)
    }

    /// The token's claims, if it is an RS256 token signed by the emulator's issuer key.
    fn verify_signature(&self, token: &str) -> Result<Claims, TokenError> {
        verify_rs256(token, |kid| self.issuer.decoding_key(kid))
    }

    /// Issuer, audience, lifetime at `now`, tenant and the caller's ids.
    fn check_claims(
        &self,
        claims: &Claims,
        tenant: Uuid,
        now: UnixSeconds,
        audience: Audience<'_>,
    ) -> Result<Principal, TokenError> {
        let expected_issuers = [v1_issuer(tenant), format!("https://login.microsoftonline.com/{tenant}/v2.0")];
        let iss = claims.iss.as_deref().ok_or(TokenError::MissingClaim("iss"))?;
        if !expected_issuers.iter().any(|e| e.eq_ignore_ascii_case(iss)) {
            return Err(TokenError::InvalidIssuer { expected: expected_issuers[0].clone(), found: iss.to_owned() });
        }

        let audiences = claims.audiences();
        if audiences.is_empty() {
            return Err(TokenError::MissingClaim("aud"));
        }
        let accepted = |aud: &str| match audience {
            Audience::Vault => is_vault_audience(aud, &self.domain),
            Audience::ManagedHsm => is_managed_hsm_audience(aud, &self.domain),
            Audience::Management => is_management_audience(aud),
            Audience::Graph { own_origin } => is_graph_audience(aud, own_origin),
        };
        if !audiences.iter().any(|a| accepted(a)) {
            return Err(TokenError::InvalidAudience { found: audiences.join(",") });
        }

        claims.check_lifetime(now)?;

        let tid = claims.tid.as_deref().ok_or(TokenError::MissingClaim("tid"))?;
        if Uuid::parse_str(tid).ok() != Some(tenant) {
            return Err(TokenError::WrongTenant { expected: tenant, found: tid.to_owned() });
        }
        let object_id =
            claims.oid.as_deref().and_then(|o| Uuid::parse_str(o).ok()).ok_or(TokenError::MissingClaim("oid"))?;
        let as_uuid = |claim: &Option<String>| claim.as_deref().and_then(|v| Uuid::parse_str(v).ok());
        let app_id =
            as_uuid(&claims.appid).or_else(|| as_uuid(&claims.azp)).ok_or(TokenError::MissingClaim("appid"))?;
        Ok(Principal { tenant_id: tenant, object_id, app_id, issuer: iss.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::auth::identity::Identity;
    use crate::auth::issuer::AccessTokenClaims;

    fn issuer() -> TokenIssuer {
        static ISSUER: OnceLock<TokenIssuer> = OnceLock::new();
        ISSUER.get_or_init(|| TokenIssuer::from_material(&crate::crypto::rsa::generate(2048).unwrap()).unwrap()).clone()
    }

    fn tenant() -> Uuid {
        Uuid::from_u128(0x5eed)
    }

    fn validator() -> TokenValidator {
        TokenValidator::new(issuer(), "vault.localhost")
    }

    fn claims() -> AccessTokenClaims {
        let identity = Identity::user_assigned(tenant(), "svc");
        let token = issuer().issue_for_managed_identity(&identity, "https://vault.localhost:8443").unwrap();
        let payload = token.access_token.split('.').nth(1).unwrap();
        serde_json::from_slice(&crate::crypto::base64url::decode(payload).unwrap()).unwrap()
    }

    fn check(claims: &AccessTokenClaims) -> Result<Principal, TokenError> {
        let token = issuer().sign(claims).unwrap().access_token;
        validator().validate(&token, tenant(), wall_now())
    }

    #[test]
    fn a_fresh_managed_identity_token_is_accepted() {
        let c = claims();
        let principal = check(&c).unwrap();
        assert_eq!(principal.object_id.to_string(), c.oid);
        assert_eq!(principal.app_id.to_string(), c.appid);
        assert_eq!(principal.tenant_id, tenant());
    }

    #[test]
    fn audiences() {
        for ok in [
            "https://vault.azure.net",
            "https://vault.azure.net/",
            "https://vault.localhost:8443",
            "https://vault.localhost",
            "https://VAULT.localhost:1/",
            KEY_VAULT_APP_ID,
        ] {
            assert!(is_vault_audience(ok, "vault.localhost"), "{ok}");
        }
        for bad in [
            "https://management.azure.com/",
            "http://vault.localhost:8443",
            "https://evil.localhost",
            "https://vault.localhost:8443/keys",
        ] {
            assert!(!is_vault_audience(bad, "vault.localhost"), "{bad}");
        }
        let mut c = claims();
        c.aud = "https://management.azure.com/".into();
        assert!(matches!(check(&c), Err(TokenError::InvalidAudience { .. })));
    }

    #[test]
    fn managed_hsm_audiences_are_not_vault_audiences() {
        for ok in ["https://managedhsm.azure.net", "https://managedhsm.azure.net/", "https://managedhsm.localhost:8443"]
        {
            assert!(is_managed_hsm_audience(ok, "vault.localhost"), "{ok}");
            assert!(!is_vault_audience(ok, "vault.localhost"), "{ok}");
        }
        for bad in ["https://vault.azure.net", KEY_VAULT_APP_ID, "https://vault.localhost:8443"] {
            assert!(!is_managed_hsm_audience(bad, "vault.localhost"), "{bad}");
        }
    }

    #[test]
    fn graph_audiences_are_graphs_own_or_the_emulators_url_as_addressed() {
        let own = "https://localhost:8443";
        for ok in [
            "https://graph.microsoft.com/",
            "https://graph.microsoft.com",
            GRAPH_AUDIENCES[1],
            "https://localhost:8443/",
        ] {
            assert!(is_graph_audience(ok, own), "{ok}");
        }
        for bad in [
            "https://localhost:9443/",
            "https://vault.localhost:8443",
            "https://management.azure.com/",
            "https://localhost:8443/v1.0",
        ] {
            assert!(!is_graph_audience(bad, own), "{bad}");
        }
        let mut c = claims();
        c.aud = "https://localhost:8443/".into();
        let token = issuer().sign(&c).unwrap().access_token;
        let graph = Audience::Graph { own_origin: own };
        assert!(validator().validate_for(&token, tenant(), wall_now(), graph).is_ok());
        assert!(matches!(
            validator().validate_for(&token, tenant(), wall_now(), Audience::Management),
            Err(TokenError::InvalidAudience { .. })
        ));
        assert!(matches!(validator().validate(&token, tenant(), wall_now()), Err(TokenError::InvalidAudience { .. })));
    }

    #[test]
    fn expired_and_future_tokens_are_rejected() {
        let mut c = claims();
        c.exp = wall_now() - CLOCK_SKEW_SECONDS - 1;
        assert!(matches!(check(&c), Err(TokenError::Expired(_))));
        let mut c = claims();
        c.nbf = wall_now() + CLOCK_SKEW_SECONDS + 60;
        assert!(matches!(check(&c), Err(TokenError::NotYetValid(_))));
    }

    #[test]
    fn wrong_issuer_or_tenant_is_rejected() {
        let mut c = claims();
        c.iss = v1_issuer(Uuid::from_u128(7));
        assert!(matches!(check(&c), Err(TokenError::InvalidIssuer { .. })));
        let mut c = claims();
        c.tid = Uuid::from_u128(7).to_string();
        assert!(matches!(check(&c), Err(TokenError::WrongTenant { .. })));
    }

    #[test]
    fn a_signature_from_another_key_is_rejected() {
        let other = TokenIssuer::from_material(&crate::crypto::rsa::generate(2048).unwrap()).unwrap();
        let forged = other.sign(&claims()).unwrap().access_token;
        // Same kid as ours, so the validator tries our key and the signature fails.
        let mut parts: Vec<String> = forged.split('.').map(str::to_owned).collect();
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": issuer().kid().unwrap()});
        parts[0] = crate::crypto::base64url::encode(header.to_string().as_bytes());
        let token = parts.join(".");
        assert_eq!(validator().validate(&token, tenant(), wall_now()), Err(TokenError::BadSignature));
        assert!(matches!(validator().validate(&forged, tenant(), wall_now()), Err(TokenError::UnknownSigningKey(_))));
    }

    #[test]
    fn tampered_claims_break_the_signature() {
        let token = issuer().sign(&claims()).unwrap().access_token;
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut c = claims();
        c.oid = Uuid::new_v4().to_string();
        parts[1] = crate::crypto::base64url::encode(serde_json::to_string(&c).unwrap().as_bytes());
        assert_eq!(validator().validate(&parts.join("."), tenant(), wall_now()), Err(TokenError::BadSignature));
    }

    #[test]
    fn alg_none_and_hmac_are_rejected() {
        let body = crate::crypto::base64url::encode(serde_json::to_string(&claims()).unwrap().as_bytes());
        let none = format!("{}.{body}.", crate::crypto::base64url::encode(br#"{"alg":"none","typ":"JWT"}"#));
        assert!(matches!(validator().validate(&none, tenant(), wall_now()), Err(TokenError::Malformed(_))));
        let hs = format!("{}.{body}.c2ln", crate::crypto::base64url::encode(br#"{"alg":"HS256","typ":"JWT"}"#));
        assert!(matches!(validator().validate(&hs, tenant(), wall_now()), Err(TokenError::UnsupportedAlgorithm(_))));
    }

    #[test]
    fn a_remembered_token_still_has_every_claim_checked() {
        let v = validator();
        let c = claims();
        let token = issuer().sign(&c).unwrap().access_token;
        let now = wall_now();
        assert!(v.validate(&token, tenant(), now).is_ok());
        assert!(v.validate(&token, tenant(), now).is_ok(), "served from the verified-token cache");
        assert!(matches!(v.validate(&token, Uuid::from_u128(7), now), Err(TokenError::InvalidIssuer { .. })));
        assert!(matches!(v.validate(&token, tenant(), c.exp + CLOCK_SKEW_SECONDS), Err(TokenError::Expired(_))));
        assert!(matches!(
            v.validate_for(&token, tenant(), now, Audience::Management),
            Err(TokenError::InvalidAudience { .. })
        ));
        // A token that failed its signature check is never remembered as verified.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = crate::crypto::base64url::encode(b"forged");
        parts[2] = &forged;
        let tampered = parts.join(".");
        for _ in 0..2 {
            assert_eq!(v.validate(&tampered, tenant(), now), Err(TokenError::BadSignature));
        }
    }

    #[test]
    fn header_parsing() {
        let v = validator();
        assert_eq!(v.validate_header(None, tenant()), Err(TokenError::Missing));
        assert_eq!(v.validate_header(Some("Basic abc"), tenant()), Err(TokenError::Missing));
        assert!(matches!(v.validate_header(Some("Bearer not.a.jwt"), tenant()), Err(TokenError::Malformed(_))));
        let token = issuer().sign(&claims()).unwrap().access_token;
        assert!(v.validate_header(Some(&format!("bearer {token}")), tenant()).is_ok());
    }
}
