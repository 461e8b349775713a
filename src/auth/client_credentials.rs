//! The client-credentials grant of the Entra-like token endpoint, without HTTP: which
//! resource the scope names, which service principal asks, and whether its secret or its
//! federated assertion (workload identity) proves it. `api/login.rs` parses the form and
//! renders each [`ClientCredentialsError`] as Entra's error body with its AADSTS code.
//!
//! A federated assertion goes through the same JWT checks as an access token (`jwt`): the
//! signature against a key the emulator holds, the audience list and the lifetime with the
//! same skew. Its issuer and audience are accepted when one of the app's federated
//! credentials names them, and its key must be the emulator's workload-identity issuer's, the
//! only issuer whose keys the emulator holds (it never fetches keys from the network).

use uuid::Uuid;

use super::identity::{FederatedCredential, Identities, Identity, IdentityKind};
use super::issuer::LazySigner;
use super::jwt::{unverified_claims, verify_rs256};
use super::scope::client_credentials_resource;
use super::validate::TokenError;
use crate::clock::UnixSeconds;

/// The one `client_assertion_type` Entra accepts.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A token request's fields, empty ones already dropped; `client_id` and `client_secret`
/// may come from HTTP Basic credentials instead of the form.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientCredentialsRequest<'a> {
    pub grant_type: Option<&'a str>,
    pub scope: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub client_secret: Option<&'a str>,
    pub client_assertion_type: Option<&'a str>,
    pub client_assertion: Option<&'a str>,
}

/// How the client proved who it is; tokens say it in `appidacr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientProof {
    Secret,
    Assertion,
}

impl ClientProof {
    /// The `appidacr` claim: 1 for a secret, 2 for a certificate or assertion.
    #[must_use]
    pub fn appidacr(self) -> &'static str {
        match self {
            Self::Secret => "1",
            Self::Assertion => "2",
        }
    }
}

/// A granted request: the client, the resource its token is for, and how it signed in.
#[derive(Clone, Debug)]
pub struct Grant {
    pub client: Identity,
    pub resource: String,
    pub proof: ClientProof,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientCredentialsError {
    #[error("grant type is not client_credentials")]
    UnsupportedGrantType,
    #[error("no scope")]
    MissingScope,
    #[error("scope {0} is not one {{resource}}/.default")]
    InvalidScope(String),
    #[error("no service principal with client id {0}")]
    UnknownClient(String),
    #[error("neither a client secret nor a client assertion")]
    MissingCredential,
    /// `client_id` is `None` when the client has no secrets to compare with.
    #[error("invalid client secret")]
    InvalidSecret { client_id: Option<Uuid> },
    #[error("client_assertion_type is not jwt-bearer")]
    WrongAssertionType,
    #[error("malformed assertion: {0}")]
    MalformedAssertion(String),
    #[error("no federated credential for issuer {0}")]
    NoCredentialForIssuer(String),
    #[error("no federated credential for audience {0}")]
    NoCredentialForAudience(String),
    #[error("no federated credential for subject {0}")]
    NoCredentialForSubject(String),
    #[error("assertion signed with unregistered key {0}")]
    UnregisteredAssertionKey(String),
    #[error("assertion outside its valid time range")]
    AssertionOutsideValidTime,
    #[error("the workload-identity issuer's key is unavailable: {0}")]
    IssuerUnavailable(String),
}

/// Checks a client-credentials request of `tenant` at wall-clock time `now`.
pub async fn authenticate(
    request: ClientCredentialsRequest<'_>,
    tenant: Uuid,
    identities: &Identities,
    federation: &LazySigner,
    now: UnixSeconds,
) -> Result<Grant, ClientCredentialsError> {
    if request.grant_type != Some("client_credentials") {
        return Err(ClientCredentialsError::UnsupportedGrantType);
    }
    let scope = request.scope.ok_or(ClientCredentialsError::MissingScope)?;
    let resource =
        client_credentials_resource(scope).ok_or_else(|| ClientCredentialsError::InvalidScope(scope.to_owned()))?;
    let client = request
        .client_id
        .and_then(|id| identities.service_principal(tenant, id))
        .ok_or_else(|| ClientCredentialsError::UnknownClient(request.client_id.unwrap_or_default().to_owned()))?;
    let proof = match (request.client_secret, request.client_assertion) {
        (Some(secret), _) => {
            check_secret(&client, secret)?;
            ClientProof::Secret
        }
        (None, Some(assertion)) => {
            if request.client_assertion_type != Some(JWT_BEARER) {
                return Err(ClientCredentialsError::WrongAssertionType);
            }
            check_assertion(&client, assertion, federation, now).await?;
            ClientProof::Assertion
        }
        (None, None) => return Err(ClientCredentialsError::MissingCredential),
    };
    Ok(Grant { client, resource: resource.to_owned(), proof })
}

/// The secret must equal one of the app's, compared in constant time.
pub fn check_secret(client: &Identity, secret: &str) -> Result<(), ClientCredentialsError> {
    let IdentityKind::ServicePrincipal { secrets, .. } = &client.kind else {
        return Err(ClientCredentialsError::InvalidSecret { client_id: None });
    };
    let matches = secrets
        .iter()
        .any(|known| aws_lc_rs::constant_time::verify_slices_are_equal(known.as_bytes(), secret.as_bytes()).is_ok());
    if matches { Ok(()) } else { Err(ClientCredentialsError::InvalidSecret { client_id: Some(client.client_id) }) }
}

/// A federated assertion must match one of the app's federated credentials (issuer, then
/// audience, then subject, exactly, as Entra reports them), then verify under the
/// workload-identity issuer's key and be within its lifetime.
pub async fn check_assertion(
    client: &Identity,
    assertion: &str,
    federation: &LazySigner,
    now: UnixSeconds,
) -> Result<(), ClientCredentialsError> {
    let malformed = |e: TokenError| ClientCredentialsError::MalformedAssertion(e.to_string());
    let unverified = unverified_claims(assertion).map_err(malformed)?;
    let credentials = match &client.kind {
        IdentityKind::ServicePrincipal { federated, .. } => federated.as_slice(),
        _ => &[],
    };
    matching_credential(credentials, &unverified)?;

    let signer = federation.get().await.map_err(ClientCredentialsError::IssuerUnavailable)?;
    let verified = verify_rs256(assertion, |kid| signer.decoding_key(kid)).map_err(|e| match e {
        TokenError::UnknownSigningKey(kid) => ClientCredentialsError::UnregisteredAssertionKey(kid),
        other => malformed(other),
    })?;
    verified.check_lifetime(now).map_err(|e| match e {
        TokenError::Expired(_) | TokenError::NotYetValid(_) => ClientCredentialsError::AssertionOutsideValidTime,
        other => malformed(other),
    })
}

/// The federated credential an assertion's issuer, audience and subject name.
fn matching_credential<'c>(
    credentials: &'c [FederatedCredential],
    claims: &super::jwt::Claims,
) -> Result<&'c FederatedCredential, ClientCredentialsError> {
    let issuer = claims.iss.as_deref().unwrap_or_default();
    let subject = claims.sub.as_deref().unwrap_or_default();
    let audiences = claims.audiences();
    let by_issuer: Vec<_> = credentials.iter().filter(|f| f.issuer == issuer).collect();
    if by_issuer.is_empty() {
        return Err(ClientCredentialsError::NoCredentialForIssuer(issuer.to_owned()));
    }
    let by_audience: Vec<_> = by_issuer.into_iter().filter(|f| audiences.contains(&f.audience.as_str())).collect();
    if by_audience.is_empty() {
        return Err(ClientCredentialsError::NoCredentialForAudience(audiences.join(",")));
    }
    by_audience
        .into_iter()
        .find(|f| f.subject == subject)
        .ok_or_else(|| ClientCredentialsError::NoCredentialForSubject(subject.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::wall_now;

    const ISSUER: &str = "http://localhost:8080/federation";
    const AUDIENCE: &str = "api://AzureADTokenExchange";

    fn app() -> Identity {
        let credential =
            FederatedCredential { issuer: ISSUER.into(), subject: "system:sa".into(), audience: AUDIENCE.into() };
        Identity::service_principal(Uuid::from_u128(1), "ci", vec!["s3cret".into()], vec![credential])
    }

    async fn assertion(federation: &LazySigner, claims: serde_json::Value) -> String {
        federation.get().await.unwrap().sign_claims(&claims).unwrap()
    }

    fn claims(iss: &str, aud: &str, sub: &str, exp: i64) -> serde_json::Value {
        serde_json::json!({ "iss": iss, "aud": aud, "sub": sub, "nbf": wall_now(), "exp": exp })
    }

    #[test]
    fn secrets_compare_exactly() {
        assert_eq!(check_secret(&app(), "s3cret"), Ok(()));
        assert_eq!(
            check_secret(&app(), "s3cre"),
            Err(ClientCredentialsError::InvalidSecret { client_id: Some(app().client_id) })
        );
        let managed = Identity::user_assigned(Uuid::from_u128(1), "mi");
        assert_eq!(check_secret(&managed, "x"), Err(ClientCredentialsError::InvalidSecret { client_id: None }));
    }

    #[tokio::test]
    async fn assertions_match_issuer_then_audience_then_subject_then_verify() {
        let federation = LazySigner::default();
        let now = wall_now();
        let check = |token: String| {
            let federation = &federation;
            async move { check_assertion(&app(), &token, federation, now).await }
        };
        let good = assertion(&federation, claims(ISSUER, AUDIENCE, "system:sa", now + 600)).await;
        assert_eq!(check(good).await, Ok(()));

        let other_issuer = assertion(&federation, claims("https://other", "x", "y", now + 600)).await;
        assert_eq!(
            check(other_issuer).await,
            Err(ClientCredentialsError::NoCredentialForIssuer("https://other".into()))
        );
        let other_audience = assertion(&federation, claims(ISSUER, "x", "system:sa", now + 600)).await;
        assert_eq!(check(other_audience).await, Err(ClientCredentialsError::NoCredentialForAudience("x".into())));
        let other_subject = assertion(&federation, claims(ISSUER, AUDIENCE, "y", now + 600)).await;
        assert_eq!(check(other_subject).await, Err(ClientCredentialsError::NoCredentialForSubject("y".into())));
        let expired = assertion(&federation, claims(ISSUER, AUDIENCE, "system:sa", now - 3600)).await;
        assert_eq!(check(expired).await, Err(ClientCredentialsError::AssertionOutsideValidTime));

        let stranger = LazySigner::default();
        let foreign = assertion(&stranger, claims(ISSUER, AUDIENCE, "system:sa", now + 600)).await;
        assert!(matches!(check(foreign).await, Err(ClientCredentialsError::UnregisteredAssertionKey(_))));
        assert!(matches!(check("not a jwt".into()).await, Err(ClientCredentialsError::MalformedAssertion(_))));
    }
}
