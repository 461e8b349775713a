//! `Microsoft.KeyVault/managedHSMs` and `deletedManagedHSMs`: read, list, create or update
//! (PUT, PATCH, recovery by `createMode: recover`), soft delete, purge, and
//! `checkMhsmNameAvailability`. Writes complete at once (201 or 200 with `provisioningState:
//! Succeeded`), so SDK pollers finish on the first answer. The rules are
//! `management::managed_hsms`'; role assignments on an HSM are its local RBAC on the data plane,
//! as in Azure, not ARM's.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::access::requires;
use super::{ArmError, ArmResult, check_subscription, iso};
use crate::api::AppState;
use crate::api::extract::{KvJson, Origin};
use crate::api::routes::Routes;
use crate::auth::identity::default_subscription;
use crate::auth::table::ManagementOperation as Op;
use crate::management::managed_hsms::{self as rules, HsmChange, NameUnavailable};
use crate::management::vaults::CreateMode;
use crate::vaults::{Flavour, Vault, VaultName};

const HSMS: &str = "/subscriptions/{subscription}/resourcegroups/{group}/providers/microsoft.keyvault/managedhsms";
const DELETED: &str =
    "/subscriptions/{subscription}/providers/microsoft.keyvault/locations/{location}/deletedmanagedhsms/{name}";

pub fn routes() -> Routes {
    Routes::new()
        .route(
            "/subscriptions/{subscription}/providers/microsoft.keyvault/managedhsms",
            get(list_subscription_hsms.layer(requires(Op::ReadManagedHsm))),
        )
        .route(HSMS, get(list_group_hsms.layer(requires(Op::ReadManagedHsm))))
        .route(
            &format!("{HSMS}/{{name}}"),
            get(get_hsm.layer(requires(Op::ReadManagedHsm)))
                .put(put_hsm.layer(requires(Op::WriteManagedHsm)))
                .patch(patch_hsm.layer(requires(Op::WriteManagedHsm)))
                .delete(delete_hsm.layer(requires(Op::DeleteManagedHsm))),
        )
        .route(
            "/subscriptions/{subscription}/providers/microsoft.keyvault/deletedmanagedhsms",
            get(list_deleted_hsms.layer(requires(Op::ReadDeletedManagedHsm))),
        )
        .route(DELETED, get(get_deleted_hsm.layer(requires(Op::ReadDeletedManagedHsm))))
        .route(&format!("{DELETED}/purge"), post(purge_deleted_hsm.layer(requires(Op::PurgeDeletedManagedHsm))))
        .route(
            "/subscriptions/{subscription}/providers/microsoft.keyvault/checkmhsmnameavailability",
            post(check_name.layer(requires(Op::CheckManagedHsmName))),
        )
}

/// The ARM representation of an HSM; `origin` gives the port its `hsmUri` carries.
pub fn hsm_body(hsm: &Vault, origin: &str, vault_domain: &str) -> Value {
    let port = crate::api::host::split_authority(origin.trim_start_matches("https://")).1;
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    let state = hsm.managed_hsm().cloned().unwrap_or_default();
    let (activation, activation_message) = if state.activated {
        ("Active", crate::messages::management::HSM_ACTIVE)
    } else {
        ("NotActivated", crate::messages::management::HSM_NOT_ACTIVATED)
    };
    json!({
        "id": hsm.resource_id(),
        "name": hsm.name.as_str(),
        "type": "Microsoft.KeyVault/managedHSMs",
        "location": hsm.arm.location,
        "tags": hsm.arm.tags,
        "sku": {"family": sku_family(&hsm.arm.sku), "name": hsm.arm.sku},
        "properties": {
            "tenantId": hsm.tenant_id,
            "initialAdminObjectIds": state.initial_admin_object_ids,
            "hsmUri": format!("https://{}.{}{port}/", hsm.name, crate::vaults::hsm_domain(vault_domain)),
            "enableSoftDelete": true,
            "softDeleteRetentionInDays": hsm.soft_delete_retention_days,
            "enablePurgeProtection": hsm.purge_protection,
            "statusMessage": crate::messages::management::HSM_PROVISIONED,
            "provisioningState": "Succeeded",
            "securityDomainProperties": {
                "activationStatus": activation,
                "activationStatusMessage": activation_message,
            },
            "publicNetworkAccess": "Enabled",
            "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow"},
            "regions": [],
        },
    })
}

/// `Standard_B1` is of family `B`, `Custom_C42` of `C`: the letter after the underscore.
fn sku_family(sku: &str) -> String {
    sku.split_once('_').and_then(|(_, size)| size.get(..1)).unwrap_or("B").to_owned()
}

fn not_found(name: String) -> ArmError {
    ArmError::ResourceNotFound { kind: "Microsoft.KeyVault/managedHSMs", name }
}

async fn get_hsm(
    State(state): State<AppState>,
    Origin(origin): Origin,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let hsm = state.vaults.get_hsm(&name).filter(|h| h.arm.resource_group.eq_ignore_ascii_case(&group));
    let hsm = hsm.ok_or_else(|| not_found(name))?;
    Ok(Json(hsm_body(&hsm, &origin, &state.facts.domain)))
}

fn list_body(state: &AppState, origin: &str, group: Option<&str>) -> Json<Value> {
    let value: Vec<Value> = state
        .vaults
        .all_of(Flavour::ManagedHsm, false)
        .iter()
        .filter(|h| group.is_none_or(|g| h.arm.resource_group.eq_ignore_ascii_case(g)))
        .map(|h| hsm_body(h, origin, &state.facts.domain))
        .collect();
    Json(json!({ "value": value }))
}

async fn list_group_hsms(
    State(state): State<AppState>,
    Origin(origin): Origin,
    Path((subscription, group)): Path<(String, String)>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    Ok(list_body(&state, &origin, Some(&group)))
}

async fn list_subscription_hsms(
    State(state): State<AppState>,
    Origin(origin): Origin,
    Path(subscription): Path<String>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    Ok(list_body(&state, &origin, None))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HsmProperties {
    tenant_id: Option<Uuid>,
    initial_admin_object_ids: Option<Vec<Uuid>>,
    enable_soft_delete: Option<bool>,
    /// A number, or a string of digits: what `az keyvault create --hsm-name --retention-days` sends.
    soft_delete_retention_in_days: Option<Value>,
    enable_purge_protection: Option<bool>,
    create_mode: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Sku {
    name: String,
}

#[derive(Debug, Deserialize)]
struct HsmPut {
    location: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    sku: Option<Sku>,
    properties: Option<HsmProperties>,
}

fn change_of(body: HsmPut) -> ArmResult<HsmChange> {
    let properties = body.properties.unwrap_or_default();
    Ok(HsmChange {
        location: body.location,
        tags: body.tags,
        sku: body.sku.map(|s| s.name),
        tenant_id: properties.tenant_id,
        initial_admin_object_ids: properties.initial_admin_object_ids,
        enable_soft_delete: properties.enable_soft_delete,
        soft_delete_retention_in_days: match properties.soft_delete_retention_in_days {
            None | Some(Value::Null) => None,
            Some(days) => Some(
                days.as_u64()
                    .or_else(|| days.as_str().and_then(|t| t.parse().ok()))
                    .and_then(|d| u32::try_from(d).ok())
                    .ok_or_else(|| {
                        ArmError::BadRequest(format!("'softDeleteRetentionInDays' is not a number of days: {days}"))
                    })?,
            ),
        },
        enable_purge_protection: properties.enable_purge_protection,
        create_mode: CreateMode::parse(properties.create_mode.as_deref())?,
    })
}

async fn put_hsm(
    State(state): State<AppState>,
    Origin(origin): Origin,
    Path((subscription, group, name)): Path<(String, String, String)>,
    KvJson(body): KvJson<HsmPut>,
) -> ArmResult<Response> {
    check_subscription(&state, &subscription)?;
    let name = VaultName::parse(&name).ok_or(ArmError::VaultNameNotValid(name))?;
    // 200 for creation too: the managedHSMs PUT answers 200 or 202 (never 201), and the SDK
    // refuses any other status.
    let (hsm, _outcome) = rules::put_hsm(&state.vaults, &name, change_of(body)?, &group).await?;
    Ok((StatusCode::OK, Json(hsm_body(&hsm, &origin, &state.facts.domain))).into_response())
}

async fn patch_hsm(
    State(state): State<AppState>,
    Origin(origin): Origin,
    Path((subscription, group, name)): Path<(String, String, String)>,
    KvJson(body): KvJson<HsmPut>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let hsm = rules::patch_hsm(&state.vaults, &name, change_of(body)?, &group).await.map_err(|err| match err {
        crate::management::ManagementError::VaultNotFound(_) => not_found(name.clone()),
        other => other.into(),
    })?;
    Ok(Json(hsm_body(&hsm, &origin, &state.facts.domain)))
}

/// A soft delete (soft delete is always on for an HSM): its keys are unreachable until it is
/// recovered, and it is purged at its scheduled date.
async fn delete_hsm(
    State(state): State<AppState>,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> ArmResult<StatusCode> {
    check_subscription(&state, &subscription)?;
    let deleted = rules::delete_hsm(&state.vaults, &group, &name).await?;
    Ok(if deleted { StatusCode::OK } else { StatusCode::NO_CONTENT })
}

fn deleted_hsm_body(state: &AppState, hsm: &Vault) -> Value {
    let (deleted, purge) = hsm.deletion.map_or((0, 0), |d| (d.deleted_date, d.scheduled_purge_date));
    json!({
        "id": format!(
            "/subscriptions/{}/providers/Microsoft.KeyVault/locations/{}/deletedManagedHSMs/{}",
            default_subscription(state.facts.tenant_id),
            hsm.arm.location,
            hsm.name
        ),
        "name": hsm.name.as_str(),
        "type": "Microsoft.KeyVault/deletedManagedHSMs",
        "properties": {
            "mhsmId": hsm.resource_id(),
            "location": hsm.arm.location,
            "deletionDate": iso(deleted),
            "scheduledPurgeDate": iso(purge),
            "purgeProtectionEnabled": hsm.purge_protection,
            "tags": hsm.arm.tags,
        },
    })
}

async fn list_deleted_hsms(State(state): State<AppState>, Path(subscription): Path<String>) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let value: Vec<Value> =
        state.vaults.all_of(Flavour::ManagedHsm, true).iter().map(|h| deleted_hsm_body(&state, h)).collect();
    Ok(Json(json!({ "value": value })))
}

async fn get_deleted_hsm(
    State(state): State<AppState>,
    Path((subscription, location, name)): Path<(String, String, String)>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let hsm = state
        .vaults
        .get_deleted_hsm(&name)
        .filter(|h| h.arm.location.eq_ignore_ascii_case(&location))
        .ok_or(ArmError::ResourceNotFound { kind: "Microsoft.KeyVault/deletedManagedHSMs", name })?;
    Ok(Json(deleted_hsm_body(&state, &hsm)))
}

async fn purge_deleted_hsm(
    State(state): State<AppState>,
    Path((subscription, location, name)): Path<(String, String, String)>,
) -> ArmResult<StatusCode> {
    check_subscription(&state, &subscription)?;
    rules::purge_hsm(&state.vaults, &location, &name).await.map_err(|err| match err {
        crate::management::ManagementError::DeletedVaultNotFound(_) => {
            ArmError::ResourceNotFound { kind: "Microsoft.KeyVault/deletedManagedHSMs", name: name.clone() }
        }
        other => other.into(),
    })?;
    Ok(StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct NameCheck {
    name: String,
}

async fn check_name(
    State(state): State<AppState>,
    Path(subscription): Path<String>,
    KvJson(body): KvJson<NameCheck>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    Ok(Json(match rules::name_availability(&state.vaults, &body.name) {
        None => json!({"nameAvailable": true}),
        Some(NameUnavailable::Invalid) => json!({
            "nameAvailable": false,
            "reason": "AccountNameInvalid",
            "message": crate::messages::management::hsm_name_invalid(&body.name),
        }),
        Some(NameUnavailable::AlreadyExists) => json!({
            "nameAvailable": false,
            "reason": "AlreadyExists",
            "message": crate::messages::management::name_in_use(&body.name),
        }),
    }))
}
