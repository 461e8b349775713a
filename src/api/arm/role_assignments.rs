//! `Microsoft.Authorization/roleAssignments` at subscription, resource-group, vault and key
//! scope: put, read, delete, and list with the `$filter` forms `az` sends
//! (`atScope()`, `principalId eq '…'`, `assignedTo('…')`). The rules and the transaction are in
//! `management::role_assignments`.

use std::collections::HashMap;

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
use super::{ArmError, ArmQuery, ArmResult, FilterQuery, VAULTS, check_subscription};
use crate::api::AppState;
use crate::api::extract::KvJson;
use crate::api::routes::Routes;
use crate::auth::identity::default_subscription;
use crate::auth::rbac::{AssignmentScope, RoleAssignment};
use crate::auth::table::ManagementOperation as Op;
use crate::management::role_assignments::{self as rules, ListFilter, PutOutcome, scope_id};
use crate::vaults::Vault;

const ASSIGNMENTS: &str = "providers/microsoft.authorization/roleassignments";

pub fn routes() -> Routes {
    let one = || {
        get(get_assignment.layer(requires(Op::ReadRoleAssignment)))
            .put(put_assignment.layer(requires(Op::WriteRoleAssignment)))
            .delete(delete_assignment.layer(requires(Op::DeleteRoleAssignment)))
    };
    let list = || get(list_assignments.layer(requires(Op::ReadRoleAssignment)));
    Routes::new()
        .route(&format!("/subscriptions/{{subscription}}/{ASSIGNMENTS}"), list())
        .route(&format!("/subscriptions/{{subscription}}/{ASSIGNMENTS}/{{id}}"), one())
        .route(&format!("/subscriptions/{{subscription}}/resourcegroups/{{group}}/{ASSIGNMENTS}"), list())
        .route(&format!("/subscriptions/{{subscription}}/resourcegroups/{{group}}/{ASSIGNMENTS}/{{id}}"), one())
        .route(&format!("{VAULTS}/{{vault}}/{ASSIGNMENTS}"), list())
        .route(&format!("{VAULTS}/{{vault}}/{ASSIGNMENTS}/{{id}}"), one())
        .route(&format!("{VAULTS}/{{vault}}/keys/{{key}}/{ASSIGNMENTS}"), list())
        .route(&format!("{VAULTS}/{{vault}}/keys/{{key}}/{ASSIGNMENTS}/{{id}}"), one())
}

type Params = HashMap<String, String>;

fn param<'a>(params: &'a Params, name: &str) -> &'a str {
    params.get(name).map_or("", String::as_str)
}

/// Where an assignment path points: into a vault (or one of its keys), or at the subscription
/// or a resource group.
enum Target {
    InVault(std::sync::Arc<Vault>, AssignmentScope),
    Scoped(String),
}

impl Target {
    fn scope_id(&self) -> String {
        match self {
            Self::InVault(vault, scope) => scope_id(vault, scope),
            Self::Scoped(scope) => scope.clone(),
        }
    }
}

fn target_of(state: &AppState, params: &Params) -> ArmResult<Target> {
    let subscription = check_subscription(state, param(params, "subscription"))?;
    let group = params.get("group").map(String::as_str);
    let Some(name) = params.get("vault") else {
        return Ok(Target::Scoped(rules::arm_scope(subscription, group)));
    };
    let vault = rules::vault_in_group(&state.vaults, group.unwrap_or_default(), name)?;
    let scope = params.get("key").map_or(AssignmentScope::Vault, |key| AssignmentScope::Key(key.clone()));
    Ok(Target::InVault(vault, scope))
}

fn assignment_id(params: &Params) -> ArmResult<Uuid> {
    Uuid::parse_str(param(params, "id")).map_err(|_| ArmError::InvalidRoleAssignmentId)
}

pub fn definition_id(state: &AppState, role: Uuid) -> String {
    format!(
        "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{role}",
        default_subscription(state.facts.tenant_id)
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
    let target = target_of(&state, &params)?;
    let role = rules::role(&body.properties.role_definition_id)?;
    let id = assignment_id(&params)?;
    let principal_id = body.properties.principal_id;
    let (assignment, outcome) = match &target {
        Target::InVault(vault, scope) => {
            let assignment = RoleAssignment { id, principal_id, role_definition_id: role.id, scope: scope.clone() };
            let group = param(&params, "group");
            let (_, outcome) =
                rules::put_assignment(&state.vaults, group, vault.name.as_str(), assignment.clone()).await?;
            (assignment, outcome)
        }
        Target::Scoped(scope) => {
            let assignment = RoleAssignment {
                id,
                principal_id,
                role_definition_id: role.id,
                scope: AssignmentScope::Inherited(scope.clone()),
            };
            (assignment.clone(), rules::put_scoped(&state.vaults, scope, assignment).await?)
        }
    };
    let status = if outcome == PutOutcome::Created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(assignment_body(&state, &assignment, &target.scope_id()))).into_response())
}

async fn get_assignment(State(state): State<AppState>, Path(params): Path<Params>) -> ArmResult<Json<Value>> {
    let target = target_of(&state, &params)?;
    let id = assignment_id(&params)?;
    let assignment = match &target {
        Target::InVault(vault, scope) => vault
            .own_role_assignments()
            .find(|a| a.id == id && &a.scope == scope)
            .cloned()
            .ok_or(ArmError::RoleAssignmentNotFound)?,
        Target::Scoped(scope) => rules::get_scoped(&state.vaults, scope, id)?,
    };
    Ok(Json(assignment_body(&state, &assignment, &target.scope_id())))
}

/// 200 with the deleted assignment, or 204 when there was none.
async fn delete_assignment(State(state): State<AppState>, Path(params): Path<Params>) -> ArmResult<Response> {
    let target = target_of(&state, &params)?;
    let id = assignment_id(&params)?;
    let removed = match &target {
        Target::InVault(vault, scope) => {
            rules::delete_assignment(&state.vaults, param(&params, "group"), vault.name.as_str(), id, scope).await?
        }
        Target::Scoped(scope) => rules::delete_scoped(&state.vaults, scope, id).await?,
    };
    Ok(match removed {
        Some(removed) => Json(assignment_body(&state, &removed, &target.scope_id())).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// A listing at a scope shows the assignments at, above and (without `atScope()`) below it.
async fn list_assignments(
    State(state): State<AppState>,
    Path(params): Path<Params>,
    ArmQuery(query): ArmQuery<FilterQuery>,
) -> ArmResult<Json<Value>> {
    let scope = target_of(&state, &params)?.scope_id();
    let filter = ListFilter::parse(query.filter.as_deref())?;
    let value: Vec<Value> = rules::list(rules::all_assignments(&state.vaults), &scope, &filter)
        .iter()
        .map(|(at, a)| assignment_body(&state, a, at))
        .collect();
    Ok(Json(json!({ "value": value })))
}
