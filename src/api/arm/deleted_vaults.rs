//! `Microsoft.KeyVault/deletedVaults`: soft-deleted vaults, listed, read and purged. A purge
//! completes at once (the SDK's poller finishes on the first answer) and is refused while purge
//! protection holds. Recovery is a vault PUT with `createMode: recover` (see `vaults`).

use axum::Json;
use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::access::requires;
use super::{ArmError, ArmResult, check_subscription, iso};
use crate::api::AppState;
use crate::api::routes::Routes;
use crate::auth::identity::default_subscription;
use crate::auth::table::ManagementOperation as Op;
use crate::vaults::Vault;

const DELETED: &str =
    "/subscriptions/{subscription}/providers/microsoft.keyvault/locations/{location}/deletedvaults/{vault}";

pub fn routes() -> Routes {
    Routes::new()
        .route(
            "/subscriptions/{subscription}/providers/microsoft.keyvault/deletedvaults",
            get(list_deleted_vaults.layer(requires(Op::ReadDeletedVault))),
        )
        .route(DELETED, get(get_deleted_vault.layer(requires(Op::ReadDeletedVault))))
        .route(&format!("{DELETED}/purge"), post(purge_deleted_vault.layer(requires(Op::PurgeDeletedVault))))
}

fn deleted_vault_body(state: &AppState, vault: &Vault) -> Value {
    let (deleted, purge) = vault.deletion.map_or((0, 0), |d| (d.deleted_date, d.scheduled_purge_date));
    json!({
        "id": format!(
            "/subscriptions/{}/providers/Microsoft.KeyVault/locations/{}/deletedVaults/{}",
            default_subscription(state.facts.tenant_id),
            vault.arm.location,
            vault.name
        ),
        "name": vault.name.as_str(),
        "type": "Microsoft.KeyVault/deletedVaults",
        "properties": {
            "vaultId": vault.resource_id(),
            "location": vault.arm.location,
            "deletionDate": iso(deleted),
            "scheduledPurgeDate": iso(purge),
            "tags": vault.arm.tags,
            "purgeProtectionEnabled": vault.purge_protection,
        },
    })
}

async fn list_deleted_vaults(
    State(state): State<AppState>,
    Path(subscription): Path<String>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let value: Vec<Value> = state.vaults.all_deleted().iter().map(|v| deleted_vault_body(&state, v)).collect();
    Ok(Json(json!({ "value": value })))
}

async fn get_deleted_vault(
    State(state): State<AppState>,
    Path((subscription, location, name)): Path<(String, String, String)>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let vault = state
        .vaults
        .get_deleted(&name)
        .filter(|v| v.arm.location.eq_ignore_ascii_case(&location))
        .ok_or(ArmError::ResourceNotFound { kind: "Microsoft.KeyVault/deletedVaults", name })?;
    Ok(Json(deleted_vault_body(&state, &vault)))
}

async fn purge_deleted_vault(
    State(state): State<AppState>,
    Path((subscription, location, name)): Path<(String, String, String)>,
) -> ArmResult<StatusCode> {
    check_subscription(&state, &subscription)?;
    crate::management::vaults::purge_vault(&state.vaults, &location, &name).await?;
    Ok(StatusCode::OK)
}
