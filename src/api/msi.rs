//! Managed-identity token endpoints on the plain-HTTP port (sdk-clients §3):
//! the App Service protocol at `/msi/token` and the IMDS protocol at
//! `/metadata/identity/oauth2/token`. Both return every field as a string, as the real
//! endpoints do, because some SDKs deserialize `expires_on` only as a string.
//!
//! It also answers the IMDSv2 probe newer Microsoft auth libraries send before the classic IMDS
//! token request: MSAL .NET's `ImdsV2ManagedIdentitySource.GetCsrMetadataAsync` in probe mode
//! sends `GET /metadata/identity/getplatformmetadata?cred-api-version=2.0` (plus `client_id`,
//! `object_id` or `msi_res_id` for a user-assigned identity) with `Metadata: true` and
//! `x-ms-client-request-id`, and falls back to the classic flow on any answer but a 200 whose
//! `Server` header names IMDS. Its retry policy retries 408, 410, 429 and 5xx, but not 404, so
//! the emulator answers 404 at once, as a VM without IMDSv2 does: the IMDSv2 flow itself needs
//! a certificate-bound (mTLS) token request that SDK clients only make on real Azure VMs.

use crate::api::routes::Routes;
use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use crate::auth::identity::IdentitySelector;

pub fn router() -> Routes {
    Routes::new()
        .route("/msi/token", get(app_service_token))
        .route("/metadata/identity/oauth2/token", get(imds_token))
        .route("/metadata/identity/oauth2/token/", get(imds_token))
        // MSAL .NET spells the path in lower case; earlier releases wrote `getPlatformMetadata`.
        .route("/metadata/identity/getplatformmetadata", get(imds_v2_probe))
        .route("/metadata/identity/getPlatformMetadata", get(imds_v2_probe))
}

/// The IMDSv2 platform-metadata probe: 404, so the client falls back to the classic protocol.
async fn imds_v2_probe() -> Response {
    let body = serde_json::json!({
        "error": "not_found",
        "error_description": crate::messages::managed_identity::IMDS_V2_UNAVAILABLE,
    });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

/// The OAuth-style error both protocols answer with; App Service answers an identity it cannot
/// find in its own shape instead.
struct TokenEndpointError {
    status: StatusCode,
    description: &'static str,
    app_service_shape: bool,
}

impl TokenEndpointError {
    fn invalid_request(description: &'static str) -> Self {
        Self { status: StatusCode::BAD_REQUEST, description, app_service_shape: false }
    }
}

impl IntoResponse for TokenEndpointError {
    fn into_response(self) -> Response {
        if self.app_service_shape {
            let body = serde_json::json!({
                "statusCode": self.status.as_u16(),
                "message": self.description,
                "correlationId": uuid::Uuid::new_v4(),
            });
            return (self.status, Json(body)).into_response();
        }
        let error = if self.status.is_server_error() { "server_error" } else { "invalid_request" };
        (self.status, Json(serde_json::json!({ "error": error, "error_description": self.description })))
            .into_response()
    }
}

type TokenResult = Result<Response, TokenEndpointError>;

/// Which identity the query selects: `client_id`, `object_id`/`principal_id`, or the resource
/// id (`mi_res_id` on App Service, `msi_res_id` on IMDS). More than one is an error.
fn selector(query: &HashMap<String, String>) -> Result<IdentitySelector, TokenEndpointError> {
    let mut found = Vec::new();
    if let Some(id) = query.get("client_id") {
        found.push(IdentitySelector::ClientId(id.clone()));
    }
    if let Some(id) = query.get("object_id").or_else(|| query.get("principal_id")) {
        found.push(IdentitySelector::ObjectId(id.clone()));
    }
    if let Some(id) = query.get("mi_res_id").or_else(|| query.get("msi_res_id")) {
        found.push(IdentitySelector::ResourceId(id.clone()));
    }
    match found.len() {
        0 => Ok(IdentitySelector::Default),
        1 => Ok(found.remove(0)),
        _ => Err(TokenEndpointError::invalid_request(crate::messages::managed_identity::ONE_SELECTOR_ONLY)),
    }
}

/// A token request's `resource`; a trailing `/.default` scope suffix is tolerated.
fn resource(query: &HashMap<String, String>) -> Result<String, TokenEndpointError> {
    let resource = query
        .get("resource")
        .filter(|r| !r.is_empty())
        .ok_or(TokenEndpointError::invalid_request(crate::messages::managed_identity::RESOURCE_REQUIRED))?;
    Ok(crate::auth::scope::resource_of(resource).to_owned())
}

fn require_api_version(query: &HashMap<String, String>) -> Result<(), TokenEndpointError> {
    if query.contains_key("api-version") {
        Ok(())
    } else {
        Err(TokenEndpointError::invalid_request(crate::messages::managed_identity::API_VERSION_REQUIRED))
    }
}

fn select_and_issue(state: &AppState, query: &HashMap<String, String>, identity_header: Option<&str>) -> TokenResult {
    require_api_version(query)?;
    let selector = selector(query)?;
    let resource = resource(query)?;
    // An unknown selector is never answered with someone else's identity.
    let identity = state.identities.select(&selector, identity_header).ok_or(match identity_header {
        Some(_) => TokenEndpointError {
            status: StatusCode::BAD_REQUEST,
            description: crate::messages::managed_identity::APP_SERVICE_IDENTITY_NOT_FOUND,
            app_service_shape: true,
        },
        None => TokenEndpointError::invalid_request(crate::messages::managed_identity::IDENTITY_NOT_FOUND),
    })?;
    let token = state.issuer.issue_for_managed_identity(&identity, &resource).map_err(|err| {
        tracing::error!(error = %err, "token issuance failed");
        TokenEndpointError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            description: crate::messages::login::TOKEN_SIGNING_FAILED,
            app_service_shape: false,
        }
    })?;
    let lifetime = (token.expires_on - token.issued_at).to_string();
    Ok(Json(serde_json::json!({
        "access_token": token.access_token,
        "expires_in": lifetime,
        "expires_on": token.expires_on.to_string(),
        "ext_expires_in": lifetime,
        "not_before": token.issued_at.to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": identity.client_id.to_string(),
    }))
    .into_response())
}

async fn app_service_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> TokenResult {
    let identity_header = headers.get("x-identity-header").and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty());
    let Some(identity_header) = identity_header else {
        return Err(TokenEndpointError {
            status: StatusCode::UNAUTHORIZED,
            description: crate::messages::managed_identity::IDENTITY_HEADER_REQUIRED,
            app_service_shape: false,
        });
    };
    state.issuer.ready().await;
    select_and_issue(&state, &query, Some(identity_header))
}

async fn imds_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> TokenResult {
    if !headers.get("metadata").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true")) {
        return Err(TokenEndpointError::invalid_request(crate::messages::managed_identity::METADATA_HEADER_MISSING));
    }
    state.issuer.ready().await;
    select_and_issue(&state, &query, None)
}
