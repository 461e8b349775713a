//! Managed HSM local RBAC on the HSM's own host: role assignments and role definitions at
//! `/`, `/keys` and `/keys/{name}` (`{scope}/providers/Microsoft.Authorization/...`). The
//! writes are `vaults::local_rbac`; this file is the wire format.

use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api::AppState;
use crate::api::errors::{ApiError, ApiResult};
use crate::api::extract::{ApiVersion, KvJson, KvQuery, VaultRequest};
use crate::auth::local_rbac::{self, BUILT_IN_ROLES, BuiltInRole, CustomRole, Permission};
use crate::auth::rbac::{AssignmentScope, RoleAssignment};
use crate::vaults::local_rbac as writes;

const DEFINITION_PREFIX: &str = "Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/";

/// The HSM scope a request's path names: the part before `/providers/`.
fn scope_of(uri: &Uri) -> Result<AssignmentScope, ApiError> {
    let path = uri.path();
    let before = path.split("/providers/").next().unwrap_or("");
    local_rbac::parse_scope(before).map_err(ApiError::bad_parameter)
}

fn assignment_body(assignment: &RoleAssignment) -> Value {
    let scope = local_rbac::scope_text(&assignment.scope);
    let prefix = if scope == "/" { String::new() } else { scope.clone() };
    json!({
        "id": format!("{prefix}/providers/Microsoft.Authorization/roleAssignments/{}", assignment.id),
        "name": assignment.id.to_string(),
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "scope": scope,
            "roleDefinitionId": format!("{DEFINITION_PREFIX}{}", assignment.role_definition_id),
            "principalId": assignment.principal_id.to_string(),
        }
    })
}

fn definition_body(
    id: Uuid,
    name: &str,
    description: &str,
    kind: &str,
    permissions: &[Permission],
    scopes: &[String],
) -> Value {
    json!({
        "id": format!("{DEFINITION_PREFIX}{id}"),
        "name": id.to_string(),
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": name,
            "description": description,
            "type": kind,
            "permissions": permissions.iter().map(|p| json!({
                "actions": [],
                "notActions": [],
                "dataActions": p.data_actions,
                "notDataActions": p.not_data_actions,
            })).collect::<Vec<_>>(),
            "assignableScopes": scopes,
        }
    })
}

fn built_in_body(role: &BuiltInRole) -> Value {
    let permission = Permission {
        data_actions: role.data_actions.iter().map(|a| (*a).to_owned()).collect(),
        not_data_actions: vec![],
    };
    definition_body(role.id, role.name, "", "AKVBuiltInRole", &[permission], &["/".to_owned()])
}

fn custom_body(role: &CustomRole) -> Value {
    definition_body(
        role.id,
        &role.role_name,
        &role.description,
        "CustomRole",
        &role.permissions,
        &role.assignable_scopes,
    )
}

#[derive(Deserialize)]
pub struct AssignmentCreate {
    properties: AssignmentCreateProperties,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentCreateProperties {
    role_definition_id: String,
    principal_id: String,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(rename = "$filter")]
    filter: Option<String>,
}

/// The assignment `name` of the path (the last segment).
fn last_segment(uri: &Uri) -> &str {
    uri.path().trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

pub async fn create_role_assignment(
    State(state): State<AppState>,
    ctx: VaultRequest,
    _version: ApiVersion,
    uri: Uri,
    KvJson(body): KvJson<AssignmentCreate>,
) -> ApiResult<(axum::http::StatusCode, Json<Value>)> {
    let scope = scope_of(&uri)?;
    let id = writes::parse_name(last_segment(&uri), "role assignment")?;
    let principal_id = Uuid::parse_str(&body.properties.principal_id).map_err(|_| {
        ApiError::bad_parameter(crate::messages::managed_hsm::invalid_principal_id(&body.properties.principal_id))
    })?;
    let role_definition_id = writes::parse_role_definition_id(&body.properties.role_definition_id)?;
    let assignment = RoleAssignment { id, principal_id, role_definition_id, scope };
    let created = writes::create_assignment(&state.vaults, ctx.vault.name.as_str(), assignment).await?;
    Ok((axum::http::StatusCode::CREATED, Json(assignment_body(&created))))
}

fn find_assignment<'a>(ctx: &'a VaultRequest, uri: &Uri) -> Result<&'a RoleAssignment, ApiError> {
    let scope = scope_of(uri)?;
    let name = last_segment(uri);
    let id = writes::parse_name(name, "role assignment")?;
    ctx.vault
        .role_assignments
        .iter()
        .find(|a| a.id == id && a.scope == scope)
        .ok_or_else(|| writes::LocalRbacError::AssignmentNotFound(name.to_owned()).into())
}

pub async fn get_role_assignment(ctx: VaultRequest, _version: ApiVersion, uri: Uri) -> ApiResult<Json<Value>> {
    find_assignment(&ctx, &uri).map(|a| Json(assignment_body(a)))
}

pub async fn delete_role_assignment(
    State(state): State<AppState>,
    ctx: VaultRequest,
    _version: ApiVersion,
    uri: Uri,
) -> ApiResult<Json<Value>> {
    let scope = scope_of(&uri)?;
    let id = writes::parse_name(last_segment(&uri), "role assignment")?;
    let removed = writes::delete_assignment(&state.vaults, ctx.vault.name.as_str(), &scope, id).await?;
    Ok(Json(assignment_body(&removed)))
}

/// `$filter` as the SDKs send it: `atScope()`, or `principalId eq '{id}'`.
enum AssignmentFilter {
    All,
    AtScope,
    Principal(Uuid),
}

fn parse_filter(filter: Option<&str>) -> Result<AssignmentFilter, ApiError> {
    let Some(filter) = filter.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(AssignmentFilter::All);
    };
    if filter.eq_ignore_ascii_case("atScope()") {
        return Ok(AssignmentFilter::AtScope);
    }
    let principal = filter
        .strip_prefix("principalId eq ")
        .map(|v| v.trim().trim_matches('\''))
        .and_then(|v| Uuid::parse_str(v).ok());
    principal
        .map(AssignmentFilter::Principal)
        .ok_or_else(|| ApiError::bad_parameter(crate::messages::managed_hsm::unsupported_assignment_filter(filter)))
}

pub async fn list_role_assignments(
    ctx: VaultRequest,
    _version: ApiVersion,
    uri: Uri,
    KvQuery(query): KvQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let scope = scope_of(&uri)?;
    let filter = parse_filter(query.filter.as_deref())?;
    let value: Vec<Value> = ctx
        .vault
        .own_role_assignments()
        .filter(|a| {
            let above = local_rbac::scope_covers(&a.scope, &scope);
            let below = local_rbac::scope_covers(&scope, &a.scope);
            match &filter {
                AssignmentFilter::All => above || below,
                AssignmentFilter::AtScope => above,
                AssignmentFilter::Principal(id) => (above || below) && a.principal_id == *id,
            }
        })
        .map(assignment_body)
        .collect();
    Ok(Json(json!({ "value": value, "nextLink": null })))
}

fn custom_roles(ctx: &VaultRequest) -> &[CustomRole] {
    ctx.vault.managed_hsm().map(|h| h.role_definitions.as_slice()).unwrap_or_default()
}

pub async fn list_role_definitions(ctx: VaultRequest, _version: ApiVersion, uri: Uri) -> ApiResult<Json<Value>> {
    scope_of(&uri)?;
    let mut value: Vec<Value> = BUILT_IN_ROLES.iter().map(built_in_body).collect();
    value.extend(custom_roles(&ctx).iter().map(custom_body));
    Ok(Json(json!({ "value": value, "nextLink": null })))
}

pub async fn get_role_definition(ctx: VaultRequest, _version: ApiVersion, uri: Uri) -> ApiResult<Json<Value>> {
    scope_of(&uri)?;
    let name = last_segment(&uri);
    let id = writes::parse_name(name, "role definition")?;
    if let Some(role) = BUILT_IN_ROLES.iter().find(|r| r.id == id) {
        return Ok(Json(built_in_body(role)));
    }
    custom_roles(&ctx)
        .iter()
        .find(|r| r.id == id)
        .map(|r| Json(custom_body(r)))
        .ok_or_else(|| writes::LocalRbacError::DefinitionNotFound(name.to_owned()).into())
}

#[derive(Deserialize)]
pub struct DefinitionCreate {
    properties: DefinitionCreateProperties,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefinitionCreateProperties {
    role_name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    permissions: Vec<Permission>,
    #[serde(default)]
    assignable_scopes: Vec<String>,
}

pub async fn set_role_definition(
    State(state): State<AppState>,
    ctx: VaultRequest,
    _version: ApiVersion,
    uri: Uri,
    KvJson(body): KvJson<DefinitionCreate>,
) -> ApiResult<(axum::http::StatusCode, Json<Value>)> {
    scope_of(&uri)?;
    let id = writes::parse_name(last_segment(&uri), "role definition")?;
    let properties = body.properties;
    let role = CustomRole {
        id,
        role_name: properties.role_name.unwrap_or_default(),
        description: properties.description.unwrap_or_default(),
        assignable_scopes: if properties.assignable_scopes.is_empty() {
            vec!["/".to_owned()]
        } else {
            properties.assignable_scopes
        },
        permissions: properties.permissions,
    };
    let written = writes::set_role_definition(&state.vaults, ctx.vault.name.as_str(), role).await?;
    Ok((axum::http::StatusCode::CREATED, Json(custom_body(&written))))
}

pub async fn delete_role_definition(
    State(state): State<AppState>,
    ctx: VaultRequest,
    _version: ApiVersion,
    uri: Uri,
) -> ApiResult<Json<Value>> {
    scope_of(&uri)?;
    let id = writes::parse_name(last_segment(&uri), "role definition")?;
    let removed = writes::delete_role_definition(&state.vaults, ctx.vault.name.as_str(), id).await?;
    Ok(Json(custom_body(&removed)))
}
