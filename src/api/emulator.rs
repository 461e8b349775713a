//! Emulator controls on the plain-HTTP port, reachable before anyone trusts the CA:
//! health, the CA certificate, the emulator clock, faults, authorization and tokens.
//!
//! No web page may use them (DESIGN.md, Security model). The front door refuses foreign Hosts
//! and Origins; here, what changes state takes only `Content-Type: application/json` (a web page
//! cannot send that cross-site without a CORS preflight, which is never granted), and the token
//! routes take only requests with `Metadata: true`, a header no simple cross-site request and
//! no naive server-side fetch (SSRF) carries, as IMDS does. Off loopback, `--admin-token`.

use crate::api::routes::Routes;
use axum::Json;
use axum::extract::Request;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::errors::{ApiError, ApiResult};
use super::extract::{KvJson, KvQuery};
use crate::clock::parse_iso8601_duration;
use crate::due_work::DueWork;
use crate::messages;
use crate::vaults::Authorization;

use super::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/_emulator/health", get(health))
        .route("/metrics", get(metrics))
        .route("/_emulator/ca.pem", get(ca_pem))
        .route("/_emulator/clock", get(get_clock).post(move_clock))
        .route("/_emulator/identities", get(list_identities))
        .route("/_emulator/token", get(identity_token))
        .route("/_emulator/federated-token", get(federated_token))
        .route("/_emulator/vaults/{vault}/authorization", get(get_authorization).put(set_authorization))
        .route("/_emulator/faults", get(list_faults).post(add_fault).delete(clear_faults))
        .map_router(|router| router.route_layer(middleware::from_fn(json_for_changes)))
}

/// State-changing controls (POST, PUT, PATCH) take JSON only; see the module header.
async fn json_for_changes(req: Request, next: Next) -> Response {
    let changes = [Method::POST, Method::PUT, Method::PATCH].contains(req.method());
    if changes && !is_json(req.headers()) {
        return ApiError::UnsupportedMediaType { message: messages::emulator::JSON_CONTENT_TYPE_REQUIRED.to_owned() }
            .into_response();
    }
    next.run(req).await
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The token routes answer only requests carrying `Metadata: true`.
fn require_metadata_header(headers: &HeaderMap) -> ApiResult<()> {
    if headers.get("metadata").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true")) {
        Ok(())
    } else {
        Err(ApiError::bad_parameter(messages::emulator::METADATA_HEADER_REQUIRED))
    }
}

/// `GET /metrics`: the Prometheus text exposition.
async fn metrics(State(state): State<AppState>) -> Response {
    let pool = state.keys.rsa_key_pool();
    let mut text = state.metrics.render(&pool.ready(), pool.target());
    text.push_str(&crate::audit::render_metrics(&state.audit));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

async fn health(State(state): State<AppState>) -> Response {
    if state.facts.is_ready() {
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
    ([(header::CONTENT_TYPE, "application/x-pem-file")], state.facts.ca_pem.clone()).into_response()
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
        view["purgedVaults"] = done.purged_vaults.into();
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
            return Err(ApiError::bad_parameter(crate::messages::emulator::CLOCK_CHANGE_AMBIGUOUS));
        }
    };
    let max = crate::clock::MAX_OFFSET_SECONDS;
    let new_offset = new_offset
        .filter(|offset| (-max..=max).contains(offset))
        .ok_or_else(|| ApiError::bad_parameter(crate::messages::emulator::clock_offset_too_large(max)))?;
    state.clock.set_offset(new_offset);
    let done = state.due_work.run().await?;
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
    ApiError::VaultNotFound { message: crate::messages::emulator::no_vault_named(name) }
}

/// A vault's authorization: `enableRbacAuthorization`, `accessPolicies`, `roleAssignments`.
async fn get_authorization(
    State(state): State<AppState>,
    axum::extract::Path(vault): axum::extract::Path<String>,
) -> ApiResult<Json<Authorization>> {
    let vault = state.vaults.get(&vault).ok_or_else(|| vault_not_found(&vault))?;
    Ok(Json(Authorization::of(&vault)))
}

/// Replaces a vault's authorization; the next request is decided by it.
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

/// `POST /_emulator/faults`: the next `count` requests to `vault` (of `operation` only, when
/// given) answer `status` instead of running.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultRequest {
    vault: String,
    operation: Option<String>,
    #[serde(default = "one")]
    count: u32,
    status: u16,
    retry_after: Option<u32>,
}

fn one() -> u32 {
    1
}

async fn add_fault(
    State(state): State<AppState>,
    KvJson(request): KvJson<FaultRequest>,
) -> ApiResult<(StatusCode, Json<crate::faults::FaultRule>)> {
    if state.vaults.get(&request.vault).is_none() {
        return Err(vault_not_found(&request.vault));
    }
    let rule = state
        .faults
        .add(&request.vault, request.operation.as_deref(), request.count, request.status, request.retry_after)
        .map_err(ApiError::bad_parameter)?;
    tracing::info!(vault = %rule.vault, operation = ?rule.operation, count = rule.remaining, status = rule.response.status, "fault injection armed");
    Ok((StatusCode::CREATED, Json(rule)))
}

async fn list_faults(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "value": state.faults.pending() }))
}

async fn clear_faults(State(state): State<AppState>) -> StatusCode {
    state.faults.clear();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct IdentityTokenQuery {
    identity: String,
    #[serde(default = "default_resource")]
    resource: String,
}

fn default_resource() -> String {
    "https://vault.azure.net".to_owned()
}

/// An access token for any declared identity by name: what `keyvault-emulator token
/// --identity NAME` prints, for curl users.
async fn identity_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    KvQuery(query): KvQuery<IdentityTokenQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    require_metadata_header(&headers)?;
    let identity = state
        .identities
        .by_name(&query.identity)
        .ok_or_else(|| ApiError::bad_parameter(crate::messages::emulator::no_identity_named(&query.identity)))?;
    let resource = crate::auth::scope::resource_of(&query.resource);
    state.issuer.ready().await;
    let token = state
        .issuer
        .issue_for_identity(&identity, resource)
        .map_err(|e| ApiError::Internal { detail: format!("token issuance: {e}") })?;
    Ok(Json(serde_json::json!({
        "access_token": token.access_token,
        "expires_on": token.expires_on,
        "client_id": identity.client_id,
        "object_id": identity.object_id,
    })))
}

#[derive(Debug, Deserialize)]
struct FederatedTokenQuery {
    subject: String,
    issuer: Option<String>,
    #[serde(default = "default_audience")]
    audience: String,
}

fn default_audience() -> String {
    crate::auth::identity::DEFAULT_FEDERATED_AUDIENCE.to_owned()
}

/// The emulator's workload-identity issuer (`http://{http addr}/federation` unless the caller
/// names another `iss`): a federated assertion for `subject`, signed with the issuer's own key,
/// for a service principal whose federated credential names that issuer and subject.
async fn federated_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    KvQuery(query): KvQuery<FederatedTokenQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    require_metadata_header(&headers)?;
    let signer = state
        .federation
        .get()
        .await
        .map_err(|detail| ApiError::Internal { detail: format!("federation key: {detail}") })?;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let now = crate::clock::wall_now();
    let claims = serde_json::json!({
        "iss": query.issuer.unwrap_or_else(|| format!("http://{host}/federation")),
        "sub": query.subject,
        "aud": query.audience,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": uuid::Uuid::new_v4(),
    });
    let token = signer.sign_claims(&claims).map_err(|e| ApiError::Internal { detail: format!("signing: {e}") })?;
    Ok(Json(serde_json::json!({ "token": token })))
}
