//! `Microsoft.Authorization/roleDefinitions`: the built-in Key Vault roles, read-only, with
//! `$filter=roleName eq '…'` (how `az role assignment create --role NAME` finds a role).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::routing::get;
use serde_json::{Value, json};

use super::access::requires;
use super::role_assignments::definition_id;
use super::{ArmError, ArmQuery, ArmResult, FilterQuery, VAULTS, check_subscription, filter_value};
use crate::api::AppState;
use crate::api::routes::Routes;
use crate::auth::rbac::{BUILT_IN_ROLES, RoleDefinition};
use crate::auth::table::ManagementOperation as Op;

const DEFINITIONS: &str = "providers/microsoft.authorization/roledefinitions";

pub fn routes() -> Routes {
    let list = || get(list_definitions.layer(requires(Op::ReadRoleDefinition)));
    Routes::new()
        .route(&format!("{VAULTS}/{{vault}}/{DEFINITIONS}"), list())
        .route(&format!("{VAULTS}/{{vault}}/keys/{{key}}/{DEFINITIONS}"), list())
        .route(&format!("/subscriptions/{{subscription}}/{DEFINITIONS}"), list())
        .route(&format!("/subscriptions/{{subscription}}/resourcegroups/{{group}}/{DEFINITIONS}"), list())
        .route(
            &format!("/subscriptions/{{subscription}}/{DEFINITIONS}/{{id}}"),
            get(get_definition.layer(requires(Op::ReadRoleDefinition))),
        )
}

type Params = HashMap<String, String>;

fn subscription_of(state: &AppState, params: &Params) -> ArmResult<()> {
    check_subscription(state, params.get("subscription").map_or("", String::as_str)).map(|_| ())
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
                "actions": role.actions,
                "notActions": role.not_actions,
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
    subscription_of(&state, &params)?;
    let name = filter_value(query.filter.as_deref(), "roleName");
    let value: Vec<Value> = BUILT_IN_ROLES
        .iter()
        .filter(|r| name.as_deref().is_none_or(|n| r.name.eq_ignore_ascii_case(n)))
        .map(|r| definition_body(&state, r))
        .collect();
    Ok(Json(json!({ "value": value })))
}

async fn get_definition(State(state): State<AppState>, Path(params): Path<Params>) -> ArmResult<Json<Value>> {
    subscription_of(&state, &params)?;
    let id = params.get("id").map_or("", String::as_str);
    let role = RoleDefinition::find(id).ok_or_else(|| ArmError::ResourceNotFound {
        kind: "Microsoft.Authorization/roleDefinitions",
        name: id.to_owned(),
    })?;
    Ok(Json(definition_body(&state, role)))
}
