//! The `/_emulator` read views the dashboard draws (vaults, keys with their versions, deleted
//! keys, effective permissions) and its two key writes (enable or disable a version, purge a
//! deleted key). Each is a thin mapping onto the vault registry, the keys service and
//! `auth::effective`; listings are paged so that a vault of thousands of keys stays cheap.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, patch};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::super::AppState;
use super::super::errors::{ApiError, ApiResult};
use super::super::extract::{KvJson, KvPath, KvQuery};
use super::super::routes::Routes;
use crate::auth::effective;
use crate::auth::local_rbac;
use crate::auth::rbac::RoleDefinition;
use crate::keys::model::{DeletedKey, Key, KeyName};
use crate::keys::requests::{AttributeChanges, UpdateKeyRequest};
use crate::messages;
use crate::vaults::{Authorization, Flavour, Vault};

/// A page of keys is at most this long (the page asks for fewer).
const MAX_PAGE: u32 = 500;
/// The versions one key view shows at most; the answer says when there are more.
const MAX_VERSIONS: u32 = 500;

pub fn router() -> Routes {
    Routes::new()
        .route("/_emulator/vaults", get(list_vaults))
        .route("/_emulator/vaults/{vault}/keys", get(list_keys))
        .route("/_emulator/vaults/{vault}/keys/{key}", get(key_detail))
        .route("/_emulator/vaults/{vault}/keys/{key}/versions/{version}", patch(set_version_enabled))
        .route("/_emulator/vaults/{vault}/deletedkeys", get(list_deleted_keys))
        .route("/_emulator/vaults/{vault}/deletedkeys/{key}", delete(purge_deleted_key))
        .route("/_emulator/identities/{identity}/permissions", get(identity_permissions))
}

/// A vault or a Managed HSM (they share one namespace): the key views are the same for both.
fn vault(state: &AppState, name: &str) -> ApiResult<std::sync::Arc<Vault>> {
    state
        .vaults
        .get(name)
        .or_else(|| state.vaults.get_of(Flavour::ManagedHsm, name))
        .ok_or_else(|| ApiError::VaultNotFound { message: messages::data_plane::vault_not_found(name) })
}

fn vault_view(vault: &Vault) -> Value {
    let authorization = Authorization::of(vault);
    let hsm = vault.managed_hsm();
    let role_name = |id: Uuid| match hsm {
        Some(hsm) => local_rbac::role_name(id, &hsm.role_definitions),
        None => RoleDefinition::find(&id.to_string()).map_or_else(|| id.to_string(), |r| r.name.to_string()),
    };
    json!({
        "name": vault.name.as_str(),
        "kind": if hsm.is_some() { "managedHsm" } else { "vault" },
        "resourceId": vault.resource_id(),
        "resourceGroup": vault.arm.resource_group,
        "location": vault.arm.location,
        "sku": vault.arm.sku,
        "tags": vault.arm.tags,
        "tenantId": vault.tenant_id,
        "softDeleteRetentionInDays": vault.soft_delete_retention_days,
        "enablePurgeProtection": vault.purge_protection,
        "enableRbacAuthorization": vault.rbac_authorization,
        "recoveryLevel": vault.recovery_level(),
        "accessPolicies": authorization.access_policies,
        "roleAssignments": authorization.role_assignments.iter().map(|assignment| {
            let mut view = json!(assignment);
            view["roleName"] = role_name(assignment.role_definition_id).into();
            view
        }).collect::<Vec<_>>(),
        // What only a Managed HSM has: its activation and local RBAC's custom roles. The
        // security domain's keys stay out of the page.
        "managedHsm": hsm.map(|hsm| json!({
            "activated": hsm.activated,
            "initialAdminObjectIds": hsm.initial_admin_object_ids,
            "customRoles": hsm.role_definitions.iter().map(|r| r.role_name.as_str()).collect::<Vec<_>>(),
            "securityDomainDownloaded": hsm.security_domain.download.is_some(),
            "securityDomainUploaded": hsm.security_domain.upload.is_some(),
        })),
        "deleted": vault.deletion.map(|d| json!({
            "deletedDate": d.deleted_date,
            "scheduledPurgeDate": d.scheduled_purge_date,
        })),
    })
}

/// `GET /_emulator/vaults`: every vault, then every Managed HSM, with its settings and
/// authorization; soft-deleted ones last.
async fn list_vaults(State(state): State<AppState>) -> Json<Value> {
    let registry = &state.vaults;
    let vaults: Vec<Value> = registry
        .all_stores()
        .iter()
        .chain(registry.all_deleted().iter())
        .chain(registry.all_of(Flavour::ManagedHsm, true).iter())
        .map(|v| vault_view(v))
        .collect();
    Json(json!({ "value": vaults }))
}

fn version_view(key: &Key) -> Value {
    let attributes = &key.attributes;
    json!({
        "name": key.name.as_str(),
        "version": key.version.as_str(),
        "kty": key.key_type.as_str(),
        "keySize": key.public.key_size(),
        "crv": key.public.curve().map(|c| c.jwk_name()),
        "keyOps": key.key_ops.iter().map(|op| op.as_str()).collect::<Vec<_>>(),
        "enabled": attributes.enabled,
        "nbf": attributes.not_before,
        "exp": attributes.expires,
        "exportable": attributes.exportable,
        "created": attributes.created,
        "updated": attributes.updated,
        "tags": key.tags,
        "releasePolicy": key.release_policy.is_some(),
    })
}

/// Paging by name: `after` is the last name of the previous page.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NamePage {
    #[serde(default = "default_page")]
    top: u32,
    after: Option<String>,
}

fn default_page() -> u32 {
    100
}

impl NamePage {
    fn size(&self) -> ApiResult<u32> {
        if (1..=MAX_PAGE).contains(&self.top) {
            Ok(self.top)
        } else {
            Err(ApiError::bad_parameter(crate::messages::emulator::page_size_out_of_range(MAX_PAGE)))
        }
    }
}

/// `GET /_emulator/vaults/{vault}/keys?top=&after=`: the current version of each key, by name.
async fn list_keys(
    State(state): State<AppState>,
    KvPath(name): KvPath<String>,
    KvQuery(page): KvQuery<NamePage>,
) -> ApiResult<Json<Value>> {
    let vault = vault(&state, &name)?;
    let listed = state.keys.list_keys(&vault, page.size()?, page.after).await?;
    Ok(Json(json!({ "value": listed.items.iter().map(version_view).collect::<Vec<_>>(), "nextAfter": listed.next })))
}

/// `GET /_emulator/vaults/{vault}/keys/{key}`: every version (oldest first, at most
/// [`MAX_VERSIONS`]) and the rotation policy.
async fn key_detail(
    State(state): State<AppState>,
    KvPath((vault_name, key_name)): KvPath<(String, String)>,
) -> ApiResult<Json<Value>> {
    let vault = vault(&state, &vault_name)?;
    let name = KeyName::parse(&key_name)?;
    let versions = state.keys.list_versions(&vault, &name, MAX_VERSIONS, None).await?;
    let policy = state.keys.get_rotation_policy(&vault, &name).await?;
    let current = state.keys.get_key(&vault, &name, None).await?;
    Ok(Json(json!({
        "name": current.name.as_str(),
        "currentVersion": current.version.as_str(),
        "versions": versions.items.iter().map(version_view).collect::<Vec<_>>(),
        "moreVersions": versions.next.is_some(),
        "rotationPolicy": policy,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnabledChange {
    enabled: bool,
}

/// `PATCH /_emulator/vaults/{vault}/keys/{key}/versions/{version}` with `{"enabled": bool}`:
/// the same update the data plane's `UpdateKey` makes, without a bearer token.
async fn set_version_enabled(
    State(state): State<AppState>,
    KvPath((vault_name, key_name, version)): KvPath<(String, String, String)>,
    KvJson(change): KvJson<EnabledChange>,
) -> ApiResult<Json<Value>> {
    let vault = vault(&state, &vault_name)?;
    let name = KeyName::parse(&key_name)?;
    let update = UpdateKeyRequest {
        attributes: Some(AttributeChanges { enabled: Some(change.enabled), ..AttributeChanges::default() }),
        ..UpdateKeyRequest::default()
    };
    let key = state.keys.update_key(&vault, &name, Some(version.as_str()), update).await?;
    tracing::info!(vault = %vault.name, key = %key.name, version = %key.version, enabled = change.enabled, "key version changed from the emulator controls");
    Ok(Json(version_view(&key)))
}

fn deleted_view(deleted: &DeletedKey) -> Value {
    json!({
        "name": deleted.key.name.as_str(),
        "version": deleted.key.version.as_str(),
        "deletedDate": deleted.deleted_date,
        "scheduledPurgeDate": deleted.scheduled_purge_date,
    })
}

/// `GET /_emulator/vaults/{vault}/deletedkeys?top=&after=`.
async fn list_deleted_keys(
    State(state): State<AppState>,
    KvPath(name): KvPath<String>,
    KvQuery(page): KvQuery<NamePage>,
) -> ApiResult<Json<Value>> {
    let vault = vault(&state, &name)?;
    let listed = state.keys.list_deleted_keys(&vault, page.size()?, page.after).await?;
    Ok(Json(json!({ "value": listed.items.iter().map(deleted_view).collect::<Vec<_>>(), "nextAfter": listed.next })))
}

/// `DELETE /_emulator/vaults/{vault}/deletedkeys/{key}`: the data plane's purge, with its rule
/// (refused under purge protection).
async fn purge_deleted_key(
    State(state): State<AppState>,
    KvPath((vault_name, key_name)): KvPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let vault = vault(&state, &vault_name)?;
    let name = KeyName::parse(&key_name)?;
    state.keys.purge_deleted_key(&vault, &name).await?;
    tracing::info!(vault = %vault.name, key = %name, "deleted key purged from the emulator controls");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /_emulator/identities/{identity}/permissions`: what the identity may do in each vault,
/// every operation decided by the authorization the requests themselves go through.
async fn identity_permissions(State(state): State<AppState>, KvPath(name): KvPath<String>) -> ApiResult<Json<Value>> {
    let identity = state
        .identities
        .by_name(&name)
        .ok_or_else(|| ApiError::bad_parameter(crate::messages::emulator::no_identity_named(&name)))?;
    let principal = effective::principal_of(&identity);
    let vaults: Vec<effective::VaultAccess> =
        state.vaults.all_stores().iter().map(|vault| effective::vault_access(vault, &principal)).collect();
    Ok(Json(json!({
        "identity": identity.name,
        "objectId": identity.object_id,
        "clientId": identity.client_id,
        "vaults": vaults,
    })))
}
