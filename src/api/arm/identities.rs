//! `Microsoft.ManagedIdentity/userAssignedIdentities`: create or update, read, list, delete.
//! An identity made here gets tokens from the managed-identity endpoints at once.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::requires;
use super::{ArmResult, check_subscription};
use crate::api::AppState;
use crate::api::extract::KvJson;
use crate::api::routes::Routes;
use crate::auth::table::ManagementOperation as Op;
use crate::management::identities::{self as rules, ArmIdentity};

const IDENTITIES: &str =
    "/subscriptions/{subscription}/resourcegroups/{group}/providers/microsoft.managedidentity/userassignedidentities";

pub fn routes() -> Routes {
    Routes::new()
        .route(IDENTITIES, get(list_identities.layer(requires(Op::ReadIdentity))))
        .route(
            "/subscriptions/{subscription}/providers/microsoft.managedidentity/userassignedidentities",
            get(list_subscription_identities.layer(requires(Op::ReadIdentity))),
        )
        .route(
            &format!("{IDENTITIES}/{{name}}"),
            get(get_identity.layer(requires(Op::ReadIdentity)))
                .put(put_identity.layer(requires(Op::WriteIdentity)))
                .delete(delete_identity.layer(requires(Op::DeleteIdentity))),
        )
}

fn identity_body(found: &ArmIdentity) -> Value {
    let identity = &found.identity;
    json!({
        "id": identity.resource_id,
        "name": identity.name,
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
        "location": found.location,
        "tags": found.tags,
        "properties": {
            "tenantId": identity.tenant_id,
            "principalId": identity.object_id,
            "clientId": identity.client_id,
        },
    })
}

#[derive(Debug, Deserialize)]
struct IdentityPut {
    location: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

async fn put_identity(
    State(state): State<AppState>,
    Path((subscription, group, name)): Path<(String, String, String)>,
    KvJson(body): KvJson<IdentityPut>,
) -> ArmResult<Response> {
    check_subscription(&state, &subscription)?;
    let tenant = state.facts.tenant_id;
    let (identity, created) = rules::put(&state.identities, tenant, &group, &name, body.location, body.tags).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(identity_body(&identity))).into_response())
}

async fn get_identity(
    State(state): State<AppState>,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    Ok(Json(identity_body(&rules::get(&state.identities, &group, &name)?)))
}

async fn list_subscription_identities(
    State(state): State<AppState>,
    Path(subscription): Path<String>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let value: Vec<Value> = rules::list(&state.identities, None).iter().map(identity_body).collect();
    Ok(Json(json!({ "value": value })))
}

async fn list_identities(
    State(state): State<AppState>,
    Path((subscription, group)): Path<(String, String)>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let value: Vec<Value> = rules::list(&state.identities, Some(&group)).iter().map(identity_body).collect();
    Ok(Json(json!({ "value": value })))
}

/// 200 when deleted, 204 when there was none; a declared identity is a 409.
async fn delete_identity(
    State(state): State<AppState>,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> ArmResult<StatusCode> {
    check_subscription(&state, &subscription)?;
    let deleted = rules::delete(&state.identities, &group, &name).await?;
    Ok(if deleted { StatusCode::OK } else { StatusCode::NO_CONTENT })
}
