//! The Entra-like login endpoints on the HTTPS port: OpenID metadata, the signing keys, and the
//! v2.0 token endpoint for service principals (`client_credentials` with a client secret, or
//! with a federated assertion: workload identity). Errors are Entra's bodies with their AADSTS
//! codes. Which requests are granted is `auth::client_credentials`'s call; this file keeps the
//! wire format: the form, HTTP Basic credentials and the error bodies. The issuer in the metadata is built from the Host the client used, since msal-node
//! insists that it share the authority's scheme, host and port.

use crate::api::routes::Routes;
use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use uuid::Uuid;

use super::AppState;
use super::extract::Origin;
use crate::auth::client_credentials::{self, ClientCredentialsError, ClientCredentialsRequest};
use crate::clock::wall_now;

pub fn router() -> Routes {
    Routes::new()
        .route("/{tenant}/discovery/v2.0/keys", get(jwks))
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(openid_configuration))
        .route("/{tenant}/oauth2/v2.0/token", post(token))
}

/// An Entra error: `error`, `error_description` starting with the AADSTS code, and the integer
/// `error_codes` some clients require.
struct AadError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    description: String,
}

fn aad_error(status: StatusCode, error: &'static str, code: u32, description: &str) -> AadError {
    AadError { status, error, code, description: description.to_owned() }
}

impl IntoResponse for AadError {
    fn into_response(self) -> Response {
        let code = self.code;
        let (trace_id, correlation_id) = (Uuid::new_v4(), Uuid::new_v4());
        let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");
        let timestamp = time::OffsetDateTime::now_utc().format(&format).unwrap_or_default();
        let body = json!({
            "error": self.error,
            "error_description": crate::messages::login::error_description(code, &self.description, trace_id, correlation_id, &timestamp),
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        });
        (self.status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
    }
}

fn unknown_tenant(tenant: &str) -> AadError {
    aad_error(StatusCode::BAD_REQUEST, "invalid_tenant", 90002, &crate::messages::login::unknown_tenant(tenant))
}

/// A tenant the emulator serves: the default one, or one an identity or vault belongs to.
fn known_tenant(state: &AppState, tenant: &str) -> Option<Uuid> {
    let id = Uuid::parse_str(tenant).ok()?;
    let known = id == state.facts.tenant_id
        || state.identities.all().iter().any(|i| i.tenant_id == id)
        || state.vaults.all().iter().any(|v| v.tenant_id == id);
    known.then_some(id)
}

async fn jwks(State(state): State<AppState>, Path(tenant): Path<String>) -> Response {
    if known_tenant(&state, &tenant).is_none() {
        return unknown_tenant(&tenant).into_response();
    }
    state.issuer.ready().await;
    match state.issuer.jwks() {
        Ok(jwks) => Json(jwks).into_response(),
        Err(err) => {
            crate::api::errors::ApiError::Internal { detail: format!("token signing key: {err}") }.into_response()
        }
    }
}

/// Entra's multi-tenant authorities. MSAL reads their metadata, for example when `az logout`
/// builds its public client for `organizations`; Entra names the issuer `{tenantid}` there.
const MULTI_TENANT_ALIASES: [&str; 3] = ["common", "organizations", "consumers"];

async fn openid_configuration(
    State(state): State<AppState>,
    Origin(origin): Origin,
    Path(tenant): Path<String>,
) -> Response {
    let alias = MULTI_TENANT_ALIASES.iter().any(|a| a.eq_ignore_ascii_case(&tenant));
    if !alias && known_tenant(&state, &tenant).is_none() {
        return unknown_tenant(&tenant).into_response();
    }
    let base = format!("{origin}/{tenant}");
    let issuer = if alias { format!("{origin}/{{tenantid}}/v2.0") } else { format!("{base}/v2.0") };
    Json(json!({
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "tenant_region_scope": null,
        "cloud_instance_name": "microsoftonline.com",
    }))
    .into_response()
}

/// HTTP Basic client credentials, which Entra accepts besides form fields.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded.trim()).ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

async fn token(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, AadError> {
    let Some(tenant_id) = known_tenant(&state, &tenant) else {
        return Err(unknown_tenant(&tenant));
    };
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let basic = basic_credentials(&headers);
    let request = ClientCredentialsRequest {
        grant_type: field("grant_type"),
        scope: field("scope"),
        client_id: field("client_id").or(basic.as_ref().map(|(id, _)| id.as_str())),
        client_secret: field("client_secret").or(basic.as_ref().map(|(_, secret)| secret.as_str())),
        client_assertion_type: field("client_assertion_type"),
        client_assertion: field("client_assertion").map(str::trim),
    };
    let grant = client_credentials::authenticate(request, tenant_id, &state.identities, &state.federation, wall_now())
        .await
        .map_err(|err| rejection(&err, &tenant))?;
    state.issuer.ready().await;
    match state.issuer.issue_for(&grant.client, &grant.resource, grant.proof.appidacr()) {
        Ok(token) => {
            let lifetime = token.expires_on - token.issued_at;
            let body = json!({
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token.access_token,
            });
            Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
        }
        Err(err) => {
            tracing::error!(error = %err, "token issuance failed");
            Err(aad_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                50001,
                crate::messages::login::TOKEN_SIGNING_FAILED,
            ))
        }
    }
}

/// Entra's answer to each refused client-credentials request: status, error, AADSTS code
/// and description. `tenant` is the path segment the client sent.
fn rejection(err: &ClientCredentialsError, tenant: &str) -> AadError {
    use ClientCredentialsError as E;
    let (bad_request, unauthorized) = (StatusCode::BAD_REQUEST, StatusCode::UNAUTHORIZED);
    match err {
        E::UnsupportedGrantType => {
            aad_error(bad_request, "unsupported_grant_type", 70003, crate::messages::login::UNSUPPORTED_GRANT_TYPE)
        }
        E::MissingScope => aad_error(bad_request, "invalid_request", 900144, crate::messages::login::SCOPE_REQUIRED),
        E::InvalidScope(scope) => {
            aad_error(bad_request, "invalid_scope", 1002012, &crate::messages::login::invalid_scope(scope))
        }
        E::UnknownClient(client_id) => aad_error(
            bad_request,
            "unauthorized_client",
            700016,
            &crate::messages::login::unknown_client(client_id, tenant),
        ),
        E::MissingCredential => {
            aad_error(unauthorized, "invalid_client", 7000218, crate::messages::login::CREDENTIAL_REQUIRED)
        }
        E::InvalidSecret { client_id: None } => {
            aad_error(unauthorized, "invalid_client", 7000215, crate::messages::login::INVALID_CLIENT_SECRET)
        }
        E::InvalidSecret { client_id: Some(client_id) } => aad_error(
            unauthorized,
            "invalid_client",
            7000215,
            &crate::messages::login::invalid_client_secret_of(client_id),
        ),
        E::WrongAssertionType => {
            aad_error(bad_request, "invalid_request", 50027, crate::messages::login::WRONG_ASSERTION_TYPE)
        }
        E::MalformedAssertion(detail) => {
            aad_error(bad_request, "invalid_request", 50027, &crate::messages::login::malformed_assertion(detail))
        }
        E::NoCredentialForIssuer(issuer) => {
            aad_error(unauthorized, "invalid_client", 700211, &crate::messages::login::no_credential_for_issuer(issuer))
        }
        E::NoCredentialForAudience(audiences) => aad_error(
            unauthorized,
            "invalid_client",
            700212,
            &crate::messages::login::no_credential_for_audience(audiences),
        ),
        E::NoCredentialForSubject(subject) => aad_error(
            unauthorized,
            "invalid_client",
            700213,
            &crate::messages::login::no_credential_for_subject(subject),
        ),
        E::UnregisteredAssertionKey(kid) => {
            aad_error(unauthorized, "invalid_client", 7000272, &crate::messages::login::unregistered_assertion_key(kid))
        }
        E::AssertionOutsideValidTime => {
            aad_error(unauthorized, "invalid_client", 700024, crate::messages::login::ASSERTION_OUTSIDE_VALID_TIME)
        }
        E::IssuerUnavailable(detail) => aad_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            50001,
            &crate::messages::login::issuer_unavailable(detail),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejection_is_an_entra_client_error_with_its_code() {
        use ClientCredentialsError as E;
        let cases = [
            (E::UnsupportedGrantType, 400, 70003),
            (E::MissingScope, 400, 900144),
            (E::InvalidScope("x".into()), 400, 1002012),
            (E::UnknownClient("x".into()), 400, 700016),
            (E::MissingCredential, 401, 7000218),
            (E::InvalidSecret { client_id: None }, 401, 7000215),
            (E::WrongAssertionType, 400, 50027),
            (E::MalformedAssertion("x".into()), 400, 50027),
            (E::NoCredentialForIssuer("x".into()), 401, 700211),
            (E::NoCredentialForAudience("x".into()), 401, 700212),
            (E::NoCredentialForSubject("x".into()), 401, 700213),
            (E::UnregisteredAssertionKey("x".into()), 401, 7000272),
            (E::AssertionOutsideValidTime, 401, 700024),
            (E::IssuerUnavailable("x".into()), 503, 50001),
        ];
        for (err, status, code) in cases {
            let aad = rejection(&err, "tenant");
            assert_eq!((aad.status.as_u16(), aad.code), (status, code), "{err:?}");
        }
    }
}
