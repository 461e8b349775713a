//! Emulator controls on the plain-HTTP port, reachable before anyone trusts the CA:
//! health, the CA certificate, and the emulator clock. Anyone who can reach this port can move
//! time; keep it on loopback or a private network.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::errors::{ApiError, ApiResult};
use super::extract::KvJson;
use crate::clock::parse_iso8601_duration;
use crate::keys::service::DueWork;
use crate::vault::Authorization;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/_emulator/health", get(health))
        .route("/_emulator/ca.pem", get(ca_pem))
        .route("/_emulator/clock", get(get_clock).post(move_clock))
        .route("/_emulator/identities", get(list_identities))
        .route("/_emulator/vaults/{vault}/authorization", get(get_authorization).put(set_authorization))
}

async fn health(State(state): State<AppState>) -> Response {
    if state.settings.is_ready() {
        // Ready RSA keys per size, so a benchmark or test can wait for a warm pool.
        let pool: serde_json::Map<String, serde_json::Value> = state
            .keys
            .rsa_key_pool()
            .ready()
            .into_iter()
            .map(|(size, ready)| (size.to_string(), ready.into()))
            .collect();
        Json(serde_json::json!({ "status": "ready", "rsaKeyPool": pool })).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "status": "starting" }))).into_response()
    }
}

async fn ca_pem(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/x-pem-file")], state.settings.ca_pem.clone()).into_response()
}

/// How to move the clock: exactly one of the fields.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClockChange {
    /// ISO-8601 duration to move forward by, e.g. `P8D` or `PT1H`.
    advance: Option<String>,
    /// Seconds to move by (negative moves back).
    advance_seconds: Option<i64>,
    /// The offset from the wall clock to set, in seconds.
    offset_seconds: Option<i64>,
    /// `true` puts the clock back on the wall clock.
    reset: Option<bool>,
}

fn clock_view(state: &AppState, done: Option<DueWork>) -> Json<serde_json::Value> {
    let mut view = serde_json::json!({ "now": state.clock.now(), "offsetSeconds": state.clock.offset() });
    if let Some(done) = done {
        view["purged"] = done.purged.into();
        view["rotated"] = done.rotated.into();
    }
    Json(view)
}

async fn get_clock(State(state): State<AppState>) -> Json<serde_json::Value> {
    clock_view(&state, None)
}

/// Moves the clock, then runs what became due at once (purges, rotations), so a caller sees
/// the consequences as soon as this returns.
async fn move_clock(
    State(state): State<AppState>,
    KvJson(change): KvJson<ClockChange>,
) -> ApiResult<Json<serde_json::Value>> {
    let offset = state.clock.offset();
    let new_offset = match change {
        ClockChange { advance: Some(duration), advance_seconds: None, offset_seconds: None, reset: None } => {
            let seconds = parse_iso8601_duration(&duration).ok_or_else(|| {
                ApiError::bad_parameter(format!("'{duration}' is not an ISO-8601 duration such as P8D or PT1H."))
            })?;
            offset.checked_add(seconds)
        }
        ClockChange { advance: None, advance_seconds: Some(seconds), offset_seconds: None, reset: None } => {
            offset.checked_add(seconds)
        }
        ClockChange { advance: None, advance_seconds: None, offset_seconds: Some(seconds), reset: None } => {
            Some(seconds)
        }
        ClockChange { advance: None, advance_seconds: None, offset_seconds: None, reset: Some(true) } => Some(0),
        _ => {
            return Err(ApiError::bad_parameter(
                "Give exactly one of: advance (ISO-8601 duration), advanceSeconds, offsetSeconds, reset: true.",
            ));
        }
    };
    let new_offset = new_offset.ok_or_else(|| ApiError::bad_parameter("The clock offset would overflow."))?;
    state.clock.set_offset(new_offset);
    let done = state.keys.run_due(&state.vaults.all()).await?;
    Ok(clock_view(&state, Some(done)))
}

/// The identities the emulator knows, with their ids (secrets are never shown).
async fn list_identities(State(state): State<AppState>) -> Json<serde_json::Value> {
    use crate::auth::identity::IdentityKind;
    let identities: Vec<serde_json::Value> = state
        .identities
        .all()
        .iter()
        .map(|i| {
            let (kind, header) = match &i.kind {
                IdentityKind::SystemAssigned { identity_header } => ("system-assigned", identity_header.clone()),
                IdentityKind::UserAssigned => ("user-assigned", None),
                IdentityKind::ServicePrincipal { .. } => ("service-principal", None),
            };
            serde_json::json!({
                "name": i.name,
                "type": kind,
                "tenantId": i.tenant_id,
                "clientId": i.client_id,
                "objectId": i.object_id,
                "resourceId": (!i.resource_id.is_empty()).then_some(&i.resource_id),
                "identityHeader": header,
            })
        })
        .collect();
    Json(serde_json::json!({ "value": identities }))
}

fn vault_not_found(name: &str) -> ApiError {
    ApiError::VaultNotFound { message: format!("No vault named '{name}'.") }
}

/// A vault's authorization: `enableRbacAuthorization`, `accessPolicies`, `roleAssignments`.
async fn get_authorization(
    State(state): State<AppState>,
    axum::extract::Path(vault): axum::extract::Path<String>,
) -> ApiResult<Json<Authorization>> {
    let vault = state.vaults.get(&vault).ok_or_else(|| vault_not_found(&vault))?;
    Ok(Json(Authorization::of(&vault)))
}

/// Replaces a vault's authorization; the next request is decided by it. Anyone who can reach
/// this port can change who may use the vaults, as with the clock.
async fn set_authorization(
    State(state): State<AppState>,
    axum::extract::Path(vault): axum::extract::Path<String>,
    KvJson(authorization): KvJson<Authorization>,
) -> ApiResult<Json<Authorization>> {
    if state.vaults.get(&vault).is_none() {
        return Err(vault_not_found(&vault));
    }
    let updated = state
        .vaults
        .set_authorization(&vault, authorization)
        .await
        .map_err(|e| ApiError::Internal { detail: format!("updating vault authorization: {e}") })?;
    Ok(Json(Authorization::of(&updated)))
}
