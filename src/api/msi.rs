//! Managed-identity token endpoints on the plain-HTTP port (sdk-clients §3):
//! the App Service protocol at `/msi/token` and the IMDS protocol at
//! `/metadata/identity/oauth2/token`. Both return every field as a string, as the real
//! endpoints do, because some SDKs deserialize `expires_on` only as a string.

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use crate::auth::identity::{IdentitySelector, ManagedIdentity};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/msi/token", get(app_service_token))
        .route("/metadata/identity/oauth2/token", get(imds_token))
        .route("/metadata/identity/oauth2/token/", get(imds_token))
}

/// The OAuth-style error body both protocols use.
fn token_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

fn invalid_request(description: &str) -> Response {
    token_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

/// Which identity the query selects: `client_id`, `object_id`/`principal_id`, or the resource
/// id (`mi_res_id` on App Service, `msi_res_id` on IMDS). More than one is an error.
fn selector(query: &HashMap<String, String>) -> Result<IdentitySelector, Response> {
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
        _ => Err(invalid_request(
            "Only one of client_id, object_id and mi_res_id may be specified.",
        )),
    }
}

/// A token request's `resource`; a trailing `/.default` scope suffix is tolerated.
fn resource(query: &HashMap<String, String>) -> Result<String, Response> {
    let resource = query
        .get("resource")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| invalid_request("Required query variable 'resource' is missing"))?;
    Ok(resource
        .strip_suffix("/.default")
        .unwrap_or(resource)
        .to_owned())
}

fn issue(state: &AppState, identity: &ManagedIdentity, resource: &str) -> Response {
    match state.issuer.issue_for_managed_identity(identity, resource) {
        Ok(token) => {
            let lifetime = (token.expires_on - token.issued_at).to_string();
            Json(serde_json::json!({
                "access_token": token.access_token,
                "expires_in": lifetime,
                "expires_on": token.expires_on.to_string(),
                "ext_expires_in": lifetime,
                "not_before": token.issued_at.to_string(),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": identity.client_id.to_string(),
            }))
            .into_response()
        }
        Err(err) => {
            tracing::error!(error = %err, "token issuance failed");
            token_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "The emulator could not sign a token.",
            )
        }
    }
}

fn select_and_issue(state: &AppState, query: &HashMap<String, String>) -> Response {
    let selector = match selector(query) {
        Ok(s) => s,
        Err(response) => return response,
    };
    let resource = match resource(query) {
        Ok(r) => r,
        Err(response) => return response,
    };
    match state.identities.select(&selector) {
        Some(identity) => issue(state, identity, &resource),
        None => invalid_request("Identity not found"),
    }
}

async fn app_service_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if headers
        .get("x-identity-header")
        .is_none_or(|v| v.is_empty())
    {
        return token_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "The X-IDENTITY-HEADER header is required.",
        );
    }
    if !query.contains_key("api-version") {
        return invalid_request("Required query variable 'api-version' is missing");
    }
    select_and_issue(&state, &query)
}

async fn imds_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !headers
        .get("metadata")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"))
    {
        return invalid_request("Required metadata header not specified");
    }
    if !query.contains_key("api-version") {
        return invalid_request("Required query variable 'api-version' is missing");
    }
    select_and_issue(&state, &query)
}
