//! The subset of Azure Resource Manager that provisioning code uses before any key operation:
//! the subscription and resource groups (so the SDKs' preflight calls answer), and
//! `Microsoft.KeyVault/vaults` with their access policies. Vaults go through the same registry
//! and rules as the command line and the config file, so what ARM sets, the data plane enforces
//! on the next request.
//!
//! Authentication: tokens of the emulator's issuer for the management audience; only owners
//! (the default admin service principal) may call it. Paths are matched case-insensitively.

use crate::api::routes::Routes;
use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::AppState;
use super::extract::{KvJson, Origin};
use crate::auth::identity::{DEFAULT_ADMIN, default_subscription};
use crate::auth::policy::AccessPolicy;
use crate::auth::rbac::{AssignmentScope, RoleAssignment, RoleDefinition};
use crate::vault::{
    ArmInfo, Authorization, DEFAULT_RETENTION_DAYS, Vault, VaultDefinition, VaultError, VaultName, VaultSettings,
};

const VAULTS: &str = "/subscriptions/{subscription}/resourcegroups/{group}/providers/microsoft.keyvault/vaults";
const IDENTITIES: &str =
    "/subscriptions/{subscription}/resourcegroups/{group}/providers/microsoft.managedidentity/userassignedidentities";
const ASSIGNMENTS: &str = "providers/microsoft.authorization/roleassignments";
const DEFINITIONS: &str = "providers/microsoft.authorization/roledefinitions";

pub fn router(state: AppState) -> Routes {
    Routes::new()
        .route("/subscriptions", get(list_subscriptions))
        .route("/subscriptions/{subscription}", get(get_subscription))
        .route("/subscriptions/{subscription}/resourcegroups/{group}", get(get_group).put(put_group).head(head_group))
        .route("/subscriptions/{subscription}/providers/microsoft.keyvault/vaults", get(list_subscription_vaults))
        .route(VAULTS, get(list_group_vaults))
        .route(&format!("{VAULTS}/{{vault}}"), get(get_vault).put(put_vault).patch(patch_vault).delete(delete_vault))
        .route("/subscriptions/{subscription}/providers/microsoft.keyvault/deletedvaults", get(list_deleted_vaults))
        .route(
            "/subscriptions/{subscription}/providers/microsoft.keyvault/locations/{location}/deletedvaults/{vault}",
            get(get_deleted_vault),
        )
        .route(
            "/subscriptions/{subscription}/providers/microsoft.keyvault/locations/{location}/deletedvaults/{vault}/purge",
            axum::routing::post(purge_deleted_vault),
        )
        .route(&format!("{VAULTS}/{{vault}}/accesspolicies/{{kind}}"), put(update_access_policies))
        .route(IDENTITIES, get(list_identities))
        .route(
            "/subscriptions/{subscription}/providers/microsoft.managedidentity/userassignedidentities",
            get(list_subscription_identities),
        )
        .route(&format!("{IDENTITIES}/{{name}}"), get(get_identity).put(put_identity).delete(delete_identity))
        .route(&format!("{VAULTS}/{{vault}}/{ASSIGNMENTS}"), get(list_assignments))
        .route(
            &format!("{VAULTS}/{{vault}}/{ASSIGNMENTS}/{{id}}"),
            get(get_assignment).put(put_assignment).delete(delete_assignment),
        )
        .route(&format!("{VAULTS}/{{vault}}/keys/{{key}}/{ASSIGNMENTS}"), get(list_assignments))
        .route(
            &format!("{VAULTS}/{{vault}}/keys/{{key}}/{ASSIGNMENTS}/{{id}}"),
            get(get_assignment).put(put_assignment).delete(delete_assignment),
        )
        .route(&format!("{VAULTS}/{{vault}}/{DEFINITIONS}"), get(list_definitions))
        .route(&format!("{VAULTS}/{{vault}}/keys/{{key}}/{DEFINITIONS}"), get(list_definitions))
        .route(&format!("/subscriptions/{{subscription}}/{DEFINITIONS}"), get(list_definitions))
        .route(&format!("/subscriptions/{{subscription}}/{DEFINITIONS}/{{id}}"), get(get_definition))
        .map_router(|router| router.layer(middleware::from_fn_with_state(state, authenticate)))
}

/// An ARM error: `{"error":{"code","message"}}`.
#[derive(Debug)]
pub struct ArmError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ArmError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    fn not_found(kind: &str, name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "The Resource '{kind}/{name}' under resource group was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
            ),
        )
    }
}

impl IntoResponse for ArmError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": {"code": self.code, "message": self.message}}))).into_response()
    }
}

/// Query parameters as `T`; one that does not fit is a Resource Manager `BadRequest`.
struct ArmQuery<T>(T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for ArmQuery<T> {
    type Rejection = ArmError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, ArmError> {
        super::extract::parse_query(parts)
            .map(Self)
            .map_err(|message| ArmError::new(StatusCode::BAD_REQUEST, "BadRequest", message))
    }
}

impl From<VaultError> for ArmError {
    fn from(err: VaultError) -> Self {
        match err {
            VaultError::Invalid(message) => Self::new(StatusCode::BAD_REQUEST, "BadRequest", message),
            VaultError::NameInUse(message) => Self::new(StatusCode::CONFLICT, "VaultAlreadyExists", message),
            VaultError::Deleted(name) => Self::new(
                StatusCode::CONFLICT,
                "ConflictError",
                format!(
                    "Exist soft deleted vault with the same name '{name}'. Recover it with createMode 'recover', or purge it first."
                ),
            ),
            VaultError::NotFound(name) => Self::not_found("Microsoft.KeyVault/vaults", &name),
            VaultError::PurgeProtected(name) => Self::new(
                StatusCode::CONFLICT,
                "Conflict",
                format!(
                    "The vault '{name}' has purge protection enabled: it cannot be purged before its scheduled purge date."
                ),
            ),
            VaultError::Store(e) => {
                tracing::error!(error = %e, "management API store error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "The emulator's store failed.")
            }
        }
    }
}

type ArmResult<T> = Result<T, ArmError>;

pub(crate) async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let tenant = state.settings.tenant_id;
    let value = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let principal = match state.validator.validate_management_header(value, tenant) {
        Ok(principal) => principal,
        Err(err) => {
            let (code, message) = match value {
                None => {
                    ("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.".to_owned())
                }
                Some(_) => ("InvalidAuthenticationToken", format!("The access token is invalid: {err}.")),
            };
            let mut response = ArmError::new(StatusCode::UNAUTHORIZED, code, message).into_response();
            let challenge = format!(
                r#"Bearer authorization_uri="https://login.windows.net/{tenant}", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header.""#
            );
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
            }
            return response;
        }
    };
    let owner = state.identities.by_name(DEFAULT_ADMIN).is_some_and(|admin| admin.object_id == principal.object_id)
        || state.settings.owners.contains(&principal.object_id);
    if !owner {
        let scope = req.uri().path().to_owned();
        return ArmError::new(
            StatusCode::FORBIDDEN,
            "AuthorizationFailed",
            format!(
                "The client '{}' with object id '{}' does not have authorization to perform action '{} {}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
                principal.app_id,
                principal.object_id,
                req.method(),
                scope
            ),
        )
        .into_response();
    }
    next.run(req).await
}

fn check_subscription(state: &AppState, subscription: &str) -> ArmResult<Uuid> {
    let expected = default_subscription(state.settings.tenant_id);
    match Uuid::parse_str(subscription) {
        Ok(id) if id == expected => Ok(id),
        _ => Err(ArmError::new(
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
            format!(
                "The subscription '{subscription}' could not be found. The emulator's subscription is '{expected}'."
            ),
        )),
    }
}

async fn list_subscriptions(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "value": [subscription_body(&state)] }))
}

async fn get_subscription(State(state): State<AppState>, Path(subscription): Path<String>) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    Ok(Json(subscription_body(&state)))
}

fn subscription_body(state: &AppState) -> Value {
    let id = default_subscription(state.settings.tenant_id);
    json!({
        "id": format!("/subscriptions/{id}"),
        "subscriptionId": id,
        "tenantId": state.settings.tenant_id,
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

/// Resource groups are accepted as named: any group exists, so the SDKs' preflight calls and
/// a `create_or_update` of a group both succeed.
async fn get_group(
    State(state): State<AppState>,
    Path((subscription, group)): Path<(String, String)>,
) -> ArmResult<Json<Value>> {
    let id = check_subscription(&state, &subscription)?;
    Ok(Json(group_body(id, &group, crate::vault::DEFAULT_LOCATION)))
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
    Ok(Json(group_body(id, &group, body.location.as_deref().unwrap_or(crate::vault::DEFAULT_LOCATION))))
}

/// The ARM representation of a vault.
fn vault_body(vault: &Vault, origin_port: Option<&str>, domain: &str) -> Value {
    let port = origin_port.map(|p| format!(":{p}")).unwrap_or_default();
    let policies: Vec<Value> = vault
        .access_policies
        .iter()
        .map(|p| {
            let mut policy = json!({
                "tenantId": p.tenant_id,
                "objectId": p.object_id,
                "permissions": {"keys": p.permissions.keys, "secrets": [], "certificates": [], "storage": []},
            });
            if let Some(app) = p.application_id {
                policy["applicationId"] = json!(app);
            }
            policy
        })
        .collect();
    json!({
        "id": vault.resource_id(),
        "name": vault.name.as_str(),
        "type": "Microsoft.KeyVault/vaults",
        "location": vault.arm.location,
        "tags": vault.arm.tags,
        "properties": {
            "tenantId": vault.tenant_id,
            "sku": {"family": "A", "name": vault.arm.sku},
            "accessPolicies": policies,
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

fn port_of(origin: &str) -> Option<&str> {
    super::vault::split_authority(origin.trim_start_matches("https://")).1
}

fn find_vault(state: &AppState, group: &str, name: &str) -> ArmResult<std::sync::Arc<Vault>> {
    state
        .vaults
        .get(name)
        .filter(|v| v.arm.resource_group.eq_ignore_ascii_case(group))
        .ok_or_else(|| ArmError::not_found("Microsoft.KeyVault/vaults", name))
}

async fn get_vault(
    State(state): State<AppState>,
    Origin(origin): Origin,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let vault = find_vault(&state, &group, &name)?;
    Ok(Json(vault_body(&vault, port_of(&origin), &state.settings.domain)))
}

fn list_body(state: &AppState, origin: &str, group: Option<&str>) -> Json<Value> {
    let value: Vec<Value> = state
        .vaults
        .all()
        .iter()
        .filter(|v| group.is_none_or(|g| v.arm.resource_group.eq_ignore_ascii_case(g)))
        .map(|v| vault_body(v, port_of(origin), &state.settings.domain))
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
    tags: Option<std::collections::BTreeMap<String, String>>,
    properties: Option<VaultProperties>,
}

fn bad_request(message: impl Into<String>) -> ArmError {
    ArmError::new(StatusCode::BAD_REQUEST, "BadRequest", message)
}

/// Applies `properties` over `base` (the existing vault, or defaults) and stores the result.
async fn store_vault(
    state: &AppState,
    group: &str,
    name: &VaultName,
    base: Option<&Vault>,
    location: Option<String>,
    tags: Option<std::collections::BTreeMap<String, String>>,
    properties: VaultProperties,
) -> ArmResult<std::sync::Arc<Vault>> {
    if properties.enable_soft_delete == Some(false) {
        return Err(bad_request(
            "The property \"enableSoftDelete\" cannot be set to false. Soft delete is always on for new vaults.",
        ));
    }
    if let Some(mode) = properties
        .create_mode
        .as_deref()
        .filter(|m| !m.eq_ignore_ascii_case("default") && !m.eq_ignore_ascii_case("recover"))
    {
        return Err(bad_request(format!("createMode '{mode}' is not valid: use 'default' or 'recover'.")));
    }
    let retention = properties
        .soft_delete_retention_in_days
        .or(base.map(|v| v.soft_delete_retention_days))
        .unwrap_or(DEFAULT_RETENTION_DAYS);
    if !(7..=90).contains(&retention) {
        return Err(bad_request(format!(
            "The property \"softDeleteRetentionInDays\" has an invalid value {retention}. It must be between 7 and 90."
        )));
    }
    let was_protected = base.is_some_and(|v| v.purge_protection);
    if was_protected && properties.enable_purge_protection == Some(false) {
        return Err(bad_request(
            "The property \"enablePurgeProtection\" cannot be set to false. Enabling the purge protection for a vault is an irreversible action.",
        ));
    }
    let tenant_id = properties.tenant_id.or(base.map(|v| v.tenant_id)).unwrap_or(state.settings.tenant_id);
    let mut settings = VaultSettings::new(name.clone());
    settings.soft_delete_retention_days = retention;
    settings.purge_protection = properties.enable_purge_protection.unwrap_or(was_protected);
    let authorization = Authorization {
        enable_rbac_authorization: properties
            .enable_rbac_authorization
            .or(base.map(|v| v.rbac_authorization))
            .unwrap_or(false),
        access_policies: properties
            .access_policies
            .or_else(|| base.map(|v| v.access_policies.clone()))
            .unwrap_or_default(),
        role_assignments: base.map(|v| v.role_assignments.clone()).unwrap_or_default(),
    };
    let defaults = base.map(|v| v.arm.clone()).unwrap_or_default();
    let arm = ArmInfo {
        resource_group: group.to_owned(),
        location: location.unwrap_or(defaults.location),
        tags: tags.unwrap_or(defaults.tags),
        sku: properties.sku.map(|s| s.name).unwrap_or(defaults.sku),
    };
    Ok(state.vaults.put(VaultDefinition { settings, tenant_id, authorization, arm }).await?)
}

fn vault_name(name: &str) -> ArmResult<VaultName> {
    VaultName::parse(name).ok_or_else(|| {
        ArmError::new(
            StatusCode::BAD_REQUEST,
            "VaultNameNotValid",
            format!("The vault name '{name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens. Follow this link for more information: https://go.microsoft.com/fwlink/?linkid=2147742"),
        )
    })
}

/// PUT: create or update. Created answers 201, updated 200; both complete at once, so SDK
/// pollers finish on the first response.
async fn put_vault(
    State(state): State<AppState>,
    Origin(origin): Origin,
    Path((subscription, group, name)): Path<(String, String, String)>,
    KvJson(body): KvJson<VaultPut>,
) -> ArmResult<Response> {
    check_subscription(&state, &subscription)?;
    let name = vault_name(&name)?;
    let properties = body.properties.ok_or_else(|| bad_request("The request body needs 'properties'."))?;
    if properties.create_mode.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("recover")) {
        let deleted = state.vaults.get_deleted(name.as_str()).ok_or_else(|| {
            ArmError::new(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                format!("No soft-deleted vault named '{name}' to recover."),
            )
        })?;
        if !deleted.arm.resource_group.eq_ignore_ascii_case(&group) {
            return Err(bad_request(format!(
                "The deleted vault '{name}' belongs to resource group '{}'.",
                deleted.arm.resource_group
            )));
        }
        state.vaults.recover(name.as_str()).await?;
    }
    let existing = state.vaults.get(name.as_str());
    if existing.is_none() && properties.sku.is_none() {
        return Err(bad_request("The parameter 'properties.sku' is required to create a vault."));
    }
    let vault = store_vault(&state, &group, &name, existing.as_deref(), body.location, body.tags, properties).await?;
    let status = if existing.is_some() { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(vault_body(&vault, port_of(&origin), &state.settings.domain))).into_response())
}

async fn patch_vault(
    State(state): State<AppState>,
    Origin(origin): Origin,
    Path((subscription, group, name)): Path<(String, String, String)>,
    KvJson(body): KvJson<VaultPut>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let existing = find_vault(&state, &group, &name)?;
    let vault = store_vault(
        &state,
        &group,
        &existing.name,
        Some(&existing),
        body.location,
        body.tags,
        body.properties.unwrap_or_default(),
    )
    .await?;
    Ok(Json(vault_body(&vault, port_of(&origin), &state.settings.domain)))
}

#[derive(Debug, Deserialize)]
struct AccessPolicyUpdate {
    properties: AccessPolicyList,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessPolicyList {
    access_policies: Vec<AccessPolicy>,
}

/// `accessPolicies/add` merges permissions into an entry of the same tenant and object (and
/// application), `replace` replaces that entry, `remove` takes the named permissions away and
/// drops entries left empty.
async fn update_access_policies(
    State(state): State<AppState>,
    Path((subscription, group, name, kind)): Path<(String, String, String, String)>,
    KvJson(body): KvJson<AccessPolicyUpdate>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let vault = find_vault(&state, &group, &name)?;
    let mut policies = vault.access_policies.clone();
    let same = |a: &AccessPolicy, b: &AccessPolicy| {
        a.tenant_id == b.tenant_id && a.object_id == b.object_id && a.application_id == b.application_id
    };
    for change in body.properties.access_policies {
        let existing = policies.iter().position(|p| same(p, &change));
        match (kind.to_ascii_lowercase().as_str(), existing) {
            ("add", Some(i)) => {
                for permission in change.permissions.keys {
                    if !policies[i].permissions.keys.iter().any(|p| p.eq_ignore_ascii_case(&permission)) {
                        policies[i].permissions.keys.push(permission);
                    }
                }
            }
            ("add", None) => policies.push(change),
            ("replace", Some(i)) => policies[i] = change,
            ("replace", None) => policies.push(change),
            ("remove", Some(i)) => {
                let removed = &change.permissions.keys;
                policies[i].permissions.keys.retain(|p| !removed.iter().any(|r| r.eq_ignore_ascii_case(p)));
                if removed.is_empty() || policies[i].permissions.keys.is_empty() {
                    policies.remove(i);
                }
            }
            ("remove", None) => {}
            (other, _) => {
                return Err(bad_request(format!(
                    "'{other}' is not an access policy operation: use add, replace or remove."
                )));
            }
        }
    }
    let mut authorization = Authorization::of(&vault);
    authorization.access_policies = policies.clone();
    state.vaults.set_authorization(vault.name.as_str(), authorization).await?;
    Ok(Json(json!({
        "id": format!("{}/accessPolicies/{}", vault.resource_id(), kind.to_ascii_lowercase()),
        "type": "Microsoft.KeyVault/vaults/accessPolicies",
        "properties": {"accessPolicies": policies},
    })))
}

fn identity_body(
    identity: &crate::auth::identity::Identity,
    location: &str,
    tags: &std::collections::BTreeMap<String, String>,
) -> Value {
    json!({
        "id": identity.resource_id,
        "name": identity.name,
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
        "location": location,
        "tags": tags,
        "properties": {
            "tenantId": identity.tenant_id,
            "principalId": identity.object_id,
            "clientId": identity.client_id,
        },
    })
}

fn user_assigned_in_group(state: &AppState, group: &str, name: &str) -> ArmResult<crate::auth::identity::Identity> {
    state
        .identities
        .by_name(name)
        .filter(|i| {
            i.kind == crate::auth::identity::IdentityKind::UserAssigned
                && i.resource_id
                    .to_ascii_lowercase()
                    .contains(&format!("/resourcegroups/{}/", group.to_ascii_lowercase()))
        })
        .ok_or_else(|| ArmError::not_found("Microsoft.ManagedIdentity/userAssignedIdentities", name))
}

#[derive(Debug, Deserialize)]
struct IdentityPut {
    location: Option<String>,
    tags: Option<std::collections::BTreeMap<String, String>>,
}

async fn put_identity(
    State(state): State<AppState>,
    Path((subscription, group, name)): Path<(String, String, String)>,
    KvJson(body): KvJson<IdentityPut>,
) -> ArmResult<Response> {
    check_subscription(&state, &subscription)?;
    let existed = state.identities.by_name(&name).is_some();
    let location = body.location.unwrap_or_else(|| crate::vault::DEFAULT_LOCATION.to_owned());
    let tags = body.tags.unwrap_or_default();
    let stored = crate::store::identities::StoredIdentity {
        name: name.clone(),
        tenant_id: state.settings.tenant_id,
        resource_group: group,
        location: location.clone(),
        tags: tags.clone(),
    };
    let identity = state
        .identities
        .put_user_assigned(stored)
        .await
        .map_err(|message| ArmError::new(StatusCode::CONFLICT, "Conflict", message))?;
    let status = if existed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(identity_body(&identity, &location, &tags))).into_response())
}

async fn get_identity(
    State(state): State<AppState>,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let identity = user_assigned_in_group(&state, &group, &name)?;
    Ok(Json(stored_identity_body(&state, &identity)))
}

/// An identity as ARM shows it, with the location and tags its PUT stored.
fn stored_identity_body(state: &AppState, identity: &crate::auth::identity::Identity) -> Value {
    match state.identities.arm_metadata(&identity.name) {
        Some(stored) => identity_body(identity, &stored.location, &stored.tags),
        None => identity_body(identity, crate::vault::DEFAULT_LOCATION, &std::collections::BTreeMap::new()),
    }
}

async fn list_subscription_identities(
    State(state): State<AppState>,
    Path(subscription): Path<String>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let value: Vec<Value> = state
        .identities
        .all()
        .iter()
        .filter(|i| i.kind == crate::auth::identity::IdentityKind::UserAssigned)
        .map(|i| stored_identity_body(&state, i))
        .collect();
    Ok(Json(json!({ "value": value })))
}

async fn delete_identity(
    State(state): State<AppState>,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> ArmResult<StatusCode> {
    check_subscription(&state, &subscription)?;
    if user_assigned_in_group(&state, &group, &name).is_err() {
        return Ok(StatusCode::NO_CONTENT);
    }
    let removed = state
        .identities
        .delete_user_assigned(&name)
        .await
        .map_err(|message| ArmError::new(StatusCode::CONFLICT, "Conflict", message))?;
    if removed {
        return Ok(StatusCode::OK);
    }
    // Built-in identities and those the config file declares are not the management API's to
    // delete: saying 204 (nothing there) while the identity stays would be a lie.
    if state.identities.by_name(&name).is_some() {
        return Err(ArmError::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!(
                "The identity '{name}' is declared by the emulator (built in, or in its config file) and cannot be deleted through the management API."
            ),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn list_identities(
    State(state): State<AppState>,
    Path((subscription, group)): Path<(String, String)>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let value: Vec<Value> = state
        .identities
        .all()
        .iter()
        .filter(|i| user_assigned_in_group(&state, &group, &i.name).is_ok())
        .map(|i| stored_identity_body(&state, i))
        .collect();
    Ok(Json(json!({ "value": value })))
}

type Params = std::collections::HashMap<String, String>;

fn param<'a>(params: &'a Params, name: &str) -> &'a str {
    params.get(name).map_or("", String::as_str)
}

/// The vault and, for key scope, the key an assignment path names.
fn assignment_scope(state: &AppState, params: &Params) -> ArmResult<(std::sync::Arc<Vault>, AssignmentScope, String)> {
    check_subscription(state, param(params, "subscription"))?;
    let vault = find_vault(state, param(params, "group"), param(params, "vault"))?;
    let (scope, scope_id) = match params.get("key") {
        Some(key) => (AssignmentScope::Key(key.clone()), format!("{}/keys/{key}", vault.resource_id())),
        None => (AssignmentScope::Vault, vault.resource_id()),
    };
    Ok((vault, scope, scope_id))
}

fn definition_id(state: &AppState, role: Uuid) -> String {
    format!(
        "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{role}",
        default_subscription(state.settings.tenant_id)
    )
}

fn assignment_body(state: &AppState, assignment: &RoleAssignment, scope_id: &str) -> Value {
    json!({
        "id": format!("{scope_id}/providers/Microsoft.Authorization/roleAssignments/{}", assignment.id),
        "name": assignment.id,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": definition_id(state, assignment.role_definition_id),
            "principalId": assignment.principal_id,
            "principalType": "ServicePrincipal",
            "scope": scope_id,
        },
    })
}

fn scope_id_of(vault: &Vault, scope: &AssignmentScope) -> String {
    match scope {
        AssignmentScope::Vault => vault.resource_id(),
        AssignmentScope::Key(key) => format!("{}/keys/{key}", vault.resource_id()),
    }
}

fn assignment_id(params: &Params) -> ArmResult<Uuid> {
    Uuid::parse_str(param(params, "id")).map_err(|_| {
        ArmError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRoleAssignmentId",
            "The role assignment ID is not valid. The role assignment ID must be a GUID.",
        )
    })
}

#[derive(Debug, Deserialize)]
struct AssignmentPut {
    properties: AssignmentProperties,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssignmentProperties {
    role_definition_id: String,
    principal_id: Uuid,
}

async fn put_assignment(
    State(state): State<AppState>,
    Path(params): Path<Params>,
    KvJson(body): KvJson<AssignmentPut>,
) -> ArmResult<Response> {
    let (vault, scope, scope_id) = assignment_scope(&state, &params)?;
    let id = assignment_id(&params)?;
    let role = RoleDefinition::find(&body.properties.role_definition_id).ok_or_else(|| {
        ArmError::new(
            StatusCode::BAD_REQUEST,
            "RoleDefinitionDoesNotExist",
            format!("The specified role definition with ID '{}' does not exist.", body.properties.role_definition_id),
        )
    })?;
    let assignment =
        RoleAssignment { id, principal_id: body.properties.principal_id, role_definition_id: role.id, scope };
    let mut authorization = Authorization::of(&vault);
    let existing = authorization.role_assignments.iter().find(|a| a.id == id);
    if existing.is_some_and(|a| {
        a.role_definition_id != assignment.role_definition_id || a.principal_id != assignment.principal_id
    }) {
        return Err(ArmError::new(
            StatusCode::BAD_REQUEST,
            "RoleAssignmentUpdateNotPermitted",
            "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
        ));
    }
    if existing.is_none()
        && authorization.role_assignments.iter().any(|a| {
            a.principal_id == assignment.principal_id
                && a.role_definition_id == assignment.role_definition_id
                && a.scope == assignment.scope
        })
    {
        return Err(ArmError::new(StatusCode::CONFLICT, "RoleAssignmentExists", "The role assignment already exists."));
    }
    let existed = existing.is_some();
    authorization.role_assignments.retain(|a| a.id != id);
    authorization.role_assignments.push(assignment.clone());
    state.vaults.set_authorization(vault.name.as_str(), authorization).await?;
    let status = if existed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(assignment_body(&state, &assignment, &scope_id))).into_response())
}

async fn get_assignment(State(state): State<AppState>, Path(params): Path<Params>) -> ArmResult<Json<Value>> {
    let (vault, scope, scope_id) = assignment_scope(&state, &params)?;
    let id = assignment_id(&params)?;
    let assignment = vault.role_assignments.iter().find(|a| a.id == id && a.scope == scope).ok_or_else(|| {
        ArmError::new(StatusCode::NOT_FOUND, "RoleAssignmentNotFound", "The role assignment does not exist.")
    })?;
    Ok(Json(assignment_body(&state, assignment, &scope_id)))
}

async fn delete_assignment(State(state): State<AppState>, Path(params): Path<Params>) -> ArmResult<Response> {
    let (vault, scope, scope_id) = assignment_scope(&state, &params)?;
    let id = assignment_id(&params)?;
    let Some(assignment) = vault.role_assignments.iter().find(|a| a.id == id && a.scope == scope).cloned() else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mut authorization = Authorization::of(&vault);
    authorization.role_assignments.retain(|a| a.id != id);
    state.vaults.set_authorization(vault.name.as_str(), authorization).await?;
    Ok(Json(assignment_body(&state, &assignment, &scope_id)).into_response())
}

#[derive(Debug, Deserialize)]
struct FilterQuery {
    #[serde(rename = "$filter")]
    filter: Option<String>,
}

/// `$filter=principalId eq '…'` (or `atScope()`, which every listing here already is).
fn filter_value(filter: Option<&str>, field: &str) -> Option<String> {
    let filter = filter?;
    let (_, rest) = filter.split_once(&format!("{field} eq '"))?;
    rest.split_once('\'').map(|(value, _)| value.to_owned())
}

async fn list_assignments(
    State(state): State<AppState>,
    Path(params): Path<Params>,
    ArmQuery(query): ArmQuery<FilterQuery>,
) -> ArmResult<Json<Value>> {
    let (vault, scope, _) = assignment_scope(&state, &params)?;
    let principal = filter_value(query.filter.as_deref(), "principalId");
    // A listing at a scope shows the assignments at, above and below it.
    let value: Vec<Value> = vault
        .role_assignments
        .iter()
        .filter(|a| scope == AssignmentScope::Vault || a.scope == AssignmentScope::Vault || a.scope == scope)
        .filter(|a| principal.as_deref().is_none_or(|p| a.principal_id.to_string().eq_ignore_ascii_case(p)))
        .map(|a| assignment_body(&state, a, &scope_id_of(&vault, &a.scope)))
        .collect();
    Ok(Json(json!({ "value": value })))
}

fn definition_body(state: &AppState, role: &RoleDefinition) -> Value {
    json!({
        "id": definition_id(state, role.id),
        "name": role.id,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": role.name,
            "type": "BuiltInRole",
            "description": format!("{} (built-in Key Vault role)", role.name),
            "assignableScopes": ["/"],
            "permissions": [{
                "actions": [],
                "notActions": [],
                "dataActions": role.data_actions,
                "notDataActions": role.not_data_actions,
            }],
        },
    })
}

async fn list_definitions(
    State(state): State<AppState>,
    Path(params): Path<Params>,
    ArmQuery(query): ArmQuery<FilterQuery>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, param(&params, "subscription"))?;
    let name = filter_value(query.filter.as_deref(), "roleName");
    let value: Vec<Value> = crate::auth::rbac::BUILT_IN_ROLES
        .iter()
        .filter(|r| name.as_deref().is_none_or(|n| r.name.eq_ignore_ascii_case(n)))
        .map(|r| definition_body(&state, r))
        .collect();
    Ok(Json(json!({ "value": value })))
}

async fn get_definition(State(state): State<AppState>, Path(params): Path<Params>) -> ArmResult<Json<Value>> {
    check_subscription(&state, param(&params, "subscription"))?;
    let role = RoleDefinition::find(param(&params, "id")).ok_or_else(|| {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "RoleDefinitionDoesNotExist",
            "The specified role definition does not exist.",
        )
    })?;
    Ok(Json(definition_body(&state, role)))
}

/// DELETE: a soft delete, as for every vault with soft-delete on; its keys are unreachable until
/// it is recovered (`createMode: recover`), and it is purged at its scheduled date.
async fn delete_vault(
    State(state): State<AppState>,
    Path((subscription, group, name)): Path<(String, String, String)>,
) -> ArmResult<StatusCode> {
    check_subscription(&state, &subscription)?;
    let Ok(vault) = find_vault(&state, &group, &name) else {
        return Ok(StatusCode::NO_CONTENT);
    };
    state.vaults.delete(vault.name.as_str()).await?;
    Ok(StatusCode::OK)
}

fn iso(seconds: crate::clock::UnixSeconds) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn deleted_vault_body(state: &AppState, vault: &Vault) -> Value {
    let deletion = vault.deletion.unwrap_or(crate::vault::VaultDeletion { deleted_date: 0, scheduled_purge_date: 0 });
    json!({
        "id": format!(
            "/subscriptions/{}/providers/Microsoft.KeyVault/locations/{}/deletedVaults/{}",
            default_subscription(state.settings.tenant_id),
            vault.arm.location,
            vault.name
        ),
        "name": vault.name.as_str(),
        "type": "Microsoft.KeyVault/deletedVaults",
        "properties": {
            "vaultId": vault.resource_id(),
            "location": vault.arm.location,
            "deletionDate": iso(deletion.deleted_date),
            "scheduledPurgeDate": iso(deletion.scheduled_purge_date),
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

fn find_deleted(state: &AppState, location: &str, name: &str) -> ArmResult<std::sync::Arc<Vault>> {
    state
        .vaults
        .get_deleted(name)
        .filter(|v| v.arm.location.eq_ignore_ascii_case(location))
        .ok_or_else(|| ArmError::not_found("Microsoft.KeyVault/deletedVaults", name))
}

async fn get_deleted_vault(
    State(state): State<AppState>,
    Path((subscription, location, name)): Path<(String, String, String)>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let vault = find_deleted(&state, &location, &name)?;
    Ok(Json(deleted_vault_body(&state, &vault)))
}

/// Purges at once (the SDK's poller finishes on the first answer); refused while purge
/// protection holds.
async fn purge_deleted_vault(
    State(state): State<AppState>,
    Path((subscription, location, name)): Path<(String, String, String)>,
) -> ArmResult<StatusCode> {
    check_subscription(&state, &subscription)?;
    let vault = find_deleted(&state, &location, &name)?;
    state.vaults.purge(vault.name.as_str()).await?;
    Ok(StatusCode::OK)
}
