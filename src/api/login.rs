//! The Entra-like login endpoints on the HTTPS port: OpenID metadata, the signing keys, and the
//! v2.0 token endpoint for service principals (`client_credentials` with a client secret, or
//! with a federated assertion: workload identity). Errors are Entra's bodies with their AADSTS
//! codes. The issuer in the metadata is built from the Host the client used, since msal-node
//! insists that it share the authority's scheme, host and port.

use crate::api::routes::Routes;
use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jsonwebtoken::{Algorithm, Validation};
use serde_json::json;
use uuid::Uuid;

use super::AppState;
use super::extract::Origin;
use crate::auth::identity::{Identity, IdentityKind};

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
            "error_description": format!(
                "AADSTS{code}: {} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}",
                self.description
            ),
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
    aad_error(
        StatusCode::BAD_REQUEST,
        "invalid_tenant",
        90002,
        &format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        ),
    )
}

/// A tenant the emulator serves: the default one, or one an identity or vault belongs to.
fn known_tenant(state: &AppState, tenant: &str) -> Option<Uuid> {
    let id = Uuid::parse_str(tenant).ok()?;
    let known = id == state.settings.tenant_id
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

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The resource a client-credentials `scope` names: exactly one `{resource}/.default`.
fn resource_of(scope: &str) -> Option<String> {
    let mut scopes = scope.split_whitespace();
    let only = scopes.next()?;
    if scopes.next().is_some() {
        return None;
    }
    only.strip_suffix("/.default").filter(|r| !r.is_empty()).map(str::to_owned)
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
    if field("grant_type") != Some("client_credentials") {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type. The emulator supports client_credentials.",
        ));
    }
    let Some(scope) = field("scope") else {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        ));
    };
    let Some(resource) = resource_of(scope) else {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    };
    let basic = basic_credentials(&headers);
    let client_id = field("client_id").map(str::to_owned).or_else(|| basic.as_ref().map(|(id, _)| id.clone()));
    let Some(client) = client_id.as_deref().and_then(|id| state.identities.service_principal(tenant_id, id)) else {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
                client_id.as_deref().unwrap_or_default()
            ),
        ));
    };
    let secret = field("client_secret").map(str::to_owned).or_else(|| basic.map(|(_, secret)| secret));
    let assertion = field("client_assertion").map(str::trim);
    let appidacr = match (secret, assertion) {
        (Some(secret), _) => {
            check_secret(&client, &secret)?;
            "1"
        }
        (None, Some(assertion)) => {
            if field("client_assertion_type") != Some(JWT_BEARER) {
                return Err(aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    50027,
                    "JWT token is invalid or malformed: client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
                ));
            }
            check_assertion(&state, &client, assertion).await?;
            "2"
        }
        (None, None) => {
            return Err(aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
    };
    state.issuer.ready().await;
    match state.issuer.issue_for(&client, &resource, appidacr) {
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
                "The emulator could not sign a token.",
            ))
        }
    }
}

fn check_secret(client: &Identity, secret: &str) -> Result<(), AadError> {
    let IdentityKind::ServicePrincipal { secrets, .. } = &client.kind else {
        return Err(aad_error(StatusCode::UNAUTHORIZED, "invalid_client", 7000215, "Invalid client secret provided."));
    };
    let matches = secrets
        .iter()
        .any(|known| aws_lc_rs::constant_time::verify_slices_are_equal(known.as_bytes(), secret.as_bytes()).is_ok());
    if matches {
        Ok(())
    } else {
        Err(aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                client.client_id
            ),
        ))
    }
}

/// A federated assertion: it must match one of the app's federated credentials (issuer, then
/// audience, then subject, exactly) and be signed by the emulator's workload-identity issuer,
/// the only issuer whose keys the emulator holds (it never fetches keys from the network).
async fn check_assertion(state: &AppState, client: &Identity, assertion: &str) -> Result<(), AadError> {
    let invalid =
        |code: u32, error: &'static str, status: StatusCode, message: &str| aad_error(status, error, code, message);
    let unverified = jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(assertion)
        .map_err(|e| {
            invalid(
                50027,
                "invalid_request",
                StatusCode::BAD_REQUEST,
                &format!("JWT token is invalid or malformed ({e})."),
            )
        })?
        .claims;
    let text = |name: &str| unverified.get(name).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    let (issuer, subject) = (text("iss"), text("sub"));
    let audiences: Vec<String> = match unverified.get("aud") {
        Some(serde_json::Value::String(aud)) => vec![aud.clone()],
        Some(serde_json::Value::Array(list)) => list.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
        _ => vec![],
    };
    let federated = match &client.kind {
        IdentityKind::ServicePrincipal { federated, .. } => federated.as_slice(),
        _ => &[],
    };
    let by_issuer: Vec<_> = federated.iter().filter(|f| f.issuer == issuer).collect();
    if by_issuer.is_empty() {
        return Err(invalid(
            700211,
            "invalid_client",
            StatusCode::UNAUTHORIZED,
            &format!("No matching federated identity record found for presented assertion issuer '{issuer}'."),
        ));
    }
    let by_audience: Vec<_> = by_issuer.into_iter().filter(|f| audiences.contains(&f.audience)).collect();
    if by_audience.is_empty() {
        return Err(invalid(
            700212,
            "invalid_client",
            StatusCode::UNAUTHORIZED,
            &format!(
                "No matching federated identity record found for presented assertion audience '{}'.",
                audiences.join(",")
            ),
        ));
    }
    if !by_audience.iter().any(|f| f.subject == subject) {
        return Err(invalid(
            700213,
            "invalid_client",
            StatusCode::UNAUTHORIZED,
            &format!("No matching federated identity record found for presented assertion subject '{subject}'."),
        ));
    }
    let signer = state.federation.get().await.map_err(|e| {
        aad_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", 50001, &format!("federation key: {e}"))
    })?;
    let kid = jsonwebtoken::decode_header(assertion).ok().and_then(|h| h.kid).unwrap_or_default();
    let key = signer.decoding_key(&kid).ok_or_else(|| {
        invalid(
            7000272,
            "invalid_client",
            StatusCode::UNAUTHORIZED,
            &format!("The certificate with identifier '{kid}' used to sign the client assertion is not registered: the emulator verifies assertions its own workload-identity issuer signed (keyvault-emulator token --federated)."),
        )
    })?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 300;
    validation.validate_aud = false;
    validation.required_spec_claims = ["exp".to_owned()].into();
    jsonwebtoken::decode::<serde_json::Value>(assertion, key, &validation).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature | jsonwebtoken::errors::ErrorKind::ImmatureSignature => {
            invalid(
                700024,
                "invalid_client",
                StatusCode::UNAUTHORIZED,
                "Client assertion is not within its valid time range.",
            )
        }
        _ => invalid(
            50027,
            "invalid_request",
            StatusCode::BAD_REQUEST,
            &format!("JWT token is invalid or malformed ({e})."),
        ),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_credential_scopes_name_one_resource() {
        assert_eq!(resource_of("https://vault.azure.net/.default").as_deref(), Some("https://vault.azure.net"));
        assert_eq!(
            resource_of("https://managedhsm.azure.net/.default").as_deref(),
            Some("https://managedhsm.azure.net")
        );
        assert_eq!(resource_of("https://vault.azure.net/keys.read"), None);
        assert_eq!(resource_of("a/.default b/.default"), None);
        assert_eq!(resource_of("/.default"), None);
    }
}
