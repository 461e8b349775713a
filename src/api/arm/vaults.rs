//! `Microsoft.KeyVault/vaults`: read, list, create or update (PUT, PATCH) and soft delete.
//! Creation and updates complete at once (201 or 200), so SDK pollers finish on the first answer.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::access::requires;
use super::{ArmError, ArmQuery, ArmResult, VAULTS, check_subscription};
use crate::api::AppState;
use crate::api::extract::{KvJson, Origin};
use crate::api::routes::Routes;
use crate::auth::policy::AccessPolicy;
use crate::auth::table::ManagementOperation as Op;
use crate::management::vaults::{self as rules, Context, CreateMode, PutOutcome, VaultChange};
use crate::vaults::{Vault, VaultName};

pub fn routes() -> Routes {
    Routes::new()
        .route(
            "/subscriptions/{subscription}/providers/microsoft.keyvault/vaults",
            get(list_subscription_vaults.layer(requires(Op::ReadVault))),
        )
        .route(VAULTS, get(list_group_vaults.layer(requires(Op::ReadVault))))
        .route(
            &format!("{VAULTS}/{{vault}}"),
            get(get_vault.layer(requires(Op::ReadVault)))
                .put(put_vault.layer(requires(Op::WriteVault)))
                .patch(patch_vault.layer(requires(Op::WriteVault)))
                .delete(delete_vault.layer(requires(Op::DeleteVault))),
        )
}

/// The ARM representation of a vault; `origin` gives the port its `vaultUri` carries.
pub fn vault_body(vault: &Vault, origin: &str, domain: &str) -> Value {
    let port = crate::api::host::split_authority(origin.trim_start_matches("https://")).1;
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    json!({
        "id": vault.resource_id(),
        "name": vault.name.as_str(),
        "type": "Microsoft.KeyVault/vaults",
        "location": vault.arm.location,
        "tags": vault.arm.tags,
        "properties": {
            "tenantId": vault.tenant_id,
            "sku": {"family": "A", "name": vault.arm.sku},
            "accessPolicies": vault.access_policies.iter().map(policy_body).collect::<Vec<_>>(),
            "vaultUri": format!("https://{}.{domain}{port}/", vault.name),
            "enabledForDeployment": false,
            "enabledForDiskEncryption": false,
            "enabledForTemplateDeployment": false,
            "enableSoftDelete": true,
            "softDeleteRetentionInDays": vault.soft_delete_retention_days,
            "enableRbacAuthorization": vault.rbac_authorization,
            "enablePurgeProtection": vault.purge_protection.then_some(true),
            "provisioningState": "Succeeded",
            "publicNetworkAccess": "Enabled",
        },
    })
}

/// An access policy as ARM shows it, with the permission kinds the emulator has no use for.
pub fn policy_body(policy: &AccessPolicy) -> Value {
    let mut body = json!({
        "tenantId": policy.tenant_id,
        "objectId": policy.object_id,
        "permissions": {"keys": policy.permissions.keys, "secrets": [], "certificates": [], "storage": []},
    });
    if let Some(app) = policy.application_id {
        body["applicationId"] = json!(app);
    }
    body
}

fn find_vault(state: &AppState, group: &str, name: &str) -> ArmResult<std::sync::Arc<Vault>> {
    Ok(crate::management::role_assignments::vault_in_group(&state.vaults, group, name)?)
}

async fn get_vault(
    State(state): State<AppState>,
    Origin(origin): Origin,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let vault = find_vault(&state, &group, &name)?;
    Ok(Json(vault_body(&vault, &origin, &state.facts.domain)))
}

fn list_body(state: &AppState, origin: &str, group: Option<&str>) -> Json<Value> {
    let value: Vec<Value> = state
        .vaults
        .all()
        .iter()
        .filter(|v| group.is_none_or(|g| v.arm.resource_group.eq_ignore_ascii_case(g)))
        .map(|v| vault_body(v, origin, &state.facts.domain))
        .collect();
    Json(json!({ "value": value }))
}

async fn list_group_vaults(
    State(state): State<AppState>,
    Origin(origin): Origin,
    Path((subscription, group)): Path<(String, String)>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    Ok(list_body(&state, &origin, Some(&group)))
}

async fn list_subscription_vaults(
    State(state): State<AppState>,
    Origin(origin): Origin,
    Path(subscription): Path<String>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    Ok(list_body(&state, &origin, None))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VaultProperties {
    tenant_id: Option<Uuid>,
    sku: Option<Sku>,
    access_policies: Option<Vec<AccessPolicy>>,
    enable_soft_delete: Option<bool>,
    soft_delete_retention_in_days: Option<u32>,
    enable_purge_protection: Option<bool>,
    enable_rbac_authorization: Option<bool>,
    create_mode: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Sku {
    name: String,
}

#[derive(Debug, Deserialize)]
struct VaultPut {
    location: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    properties: Option<VaultProperties>,
}

/// `api-version`, which decides a new vault's default authorization model.
#[derive(Debug, Deserialize)]
struct Version {
    #[serde(rename = "api-version", default)]
    api_version: String,
}

fn change_of(body: VaultPut, properties: VaultProperties) -> ArmResult<VaultChange> {
    Ok(VaultChange {
        location: body.location,
        tags: body.tags,
        tenant_id: properties.tenant_id,
        sku: properties.sku.map(|s| s.name),
        access_policies: properties.access_policies,
        enable_soft_delete: properties.enable_soft_delete,
        soft_delete_retention_in_days: properties.soft_delete_retention_in_days,
        enable_purge_protection: properties.enable_purge_protection,
        enable_rbac_authorization: properties.enable_rbac_authorization,
        create_mode: CreateMode::parse(properties.create_mode.as_deref())?,
    })
}

async fn put_vault(
    State(state): State<AppState>,
    Origin(origin): Origin,
    Path((subscription, group, name)): Path<(String, String, String)>,
    ArmQuery(version): ArmQuery<Version>,
    KvJson(mut body): KvJson<VaultPut>,
) -> ArmResult<Response> {
    check_subscription(&state, &subscription)?;
    let name = VaultName::parse(&name).ok_or(ArmError::VaultNameNotValid(name))?;
    let properties = body
        .properties
        .take()
        .ok_or_else(|| ArmError::BadRequest(crate::messages::management::PROPERTIES_REQUIRED.into()))?;
    let change = change_of(body, properties)?;
    let context = Context { group: &group, default_tenant: state.facts.tenant_id, api_version: &version.api_version };
    let (vault, outcome) = rules::put_vault(&state.vaults, &name, change, context).await?;
    let status = if outcome == PutOutcome::Created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(vault_body(&vault, &origin, &state.facts.domain))).into_response())
}

async fn patch_vault(
    State(state): State<AppState>,
    Origin(origin): Origin,
    Path((subscription, group, name)): Path<(String, String, String)>,
    ArmQuery(version): ArmQuery<Version>,
    KvJson(mut body): KvJson<VaultPut>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let properties = body.properties.take().unwrap_or_default();
    let change = change_of(body, properties)?;
    let context = Context { group: &group, default_tenant: state.facts.tenant_id, api_version: &version.api_version };
    let vault = rules::patch_vault(&state.vaults, &name, change, context).await?;
    Ok(Json(vault_body(&vault, &origin, &state.facts.domain)))
}

/// A soft delete, as for every vault with soft-delete on: its keys are unreachable until it is
/// recovered (`createMode: recover`), and it is purged at its scheduled date.
async fn delete_vault(
    State(state): State<AppState>,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> ArmResult<StatusCode> {
    check_subscription(&state, &subscription)?;
    let deleted = rules::delete_vault(&state.vaults, &group, &name).await?;
    Ok(if deleted { StatusCode::OK } else { StatusCode::NO_CONTENT })
}
