//! The emulator's one subscription and its resource groups. Any resource group exists, so the
//! SDKs' preflight calls and a `create_or_update` of a group both succeed.

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, handler::Handler};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::access::{Caller, requires};
use super::{ArmResult, check_subscription};
use crate::api::AppState;
use crate::api::extract::KvJson;
use crate::api::routes::Routes;
use crate::auth::identity::default_subscription;
use crate::auth::table::ManagementOperation as Op;
use crate::vaults::DEFAULT_LOCATION;

pub fn routes() -> Routes {
    Routes::new()
        .route("/subscriptions", get(list_subscriptions.layer(requires(Op::ListSubscriptions))))
        .route("/subscriptions/{subscription}", get(get_subscription.layer(requires(Op::ReadSubscription))))
        .route(
            "/subscriptions/{subscription}/resourcegroups/{group}",
            get(get_group.layer(requires(Op::ReadResourceGroup)))
                .head(head_group.layer(requires(Op::ReadResourceGroup)))
                .put(put_group.layer(requires(Op::WriteResourceGroup))),
        )
}

/// Every authenticated caller gets an answer, listing the subscription only if it holds a role
/// in it, as ARM does (so `az login --identity` works for an identity with no role at all).
async fn list_subscriptions(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Json<Value> {
    let value: Vec<Value> = caller.has_any_role().then(|| subscription_body(&state)).into_iter().collect();
    Json(json!({ "value": value }))
}

async fn get_subscription(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(subscription): Path<String>,
) -> ArmResult<Json<Value>> {
    let id = check_subscription(&state, &subscription)?;
    if !caller.has_any_role() {
        return Err(super::ArmError::AuthorizationFailed {
            app_id: caller.principal.app_id,
            object_id: caller.principal.object_id,
            action: "Microsoft.Resources/subscriptions/read",
            scope: format!("/subscriptions/{id}"),
        });
    }
    Ok(Json(subscription_body(&state)))
}

fn subscription_body(state: &AppState) -> Value {
    let id = default_subscription(state.facts.tenant_id);
    json!({
        "id": format!("/subscriptions/{id}"),
        "subscriptionId": id,
        "tenantId": state.facts.tenant_id,
        "displayName": "keyvault-emulator",
        "state": "Enabled",
        "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "Internal_2014-09-01", "spendingLimit": "Off"},
        "authorizationSource": "RoleBased",
    })
}

fn group_body(subscription: Uuid, group: &str, location: &str) -> Value {
    json!({
        "id": format!("/subscriptions/{subscription}/resourceGroups/{group}"),
        "name": group,
        "type": "Microsoft.Resources/resourceGroups",
        "location": location,
        "properties": {"provisioningState": "Succeeded"},
    })
}

async fn get_group(
    State(state): State<AppState>,
    Path((subscription, group)): Path<(String, String)>,
) -> ArmResult<Json<Value>> {
    let id = check_subscription(&state, &subscription)?;
    Ok(Json(group_body(id, &group, DEFAULT_LOCATION)))
}

async fn head_group(
    State(state): State<AppState>,
    Path((subscription, _)): Path<(String, String)>,
) -> ArmResult<StatusCode> {
    check_subscription(&state, &subscription)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct GroupPut {
    location: Option<String>,
}

async fn put_group(
    State(state): State<AppState>,
    Path((subscription, group)): Path<(String, String)>,
    KvJson(body): KvJson<GroupPut>,
) -> ArmResult<Json<Value>> {
    let id = check_subscription(&state, &subscription)?;
    Ok(Json(group_body(id, &group, body.location.as_deref().unwrap_or(DEFAULT_LOCATION))))
}
