//! `PUT .../vaults/{vault}/accessPolicies/{add|replace|remove}`: the merge runs in
//! `management::access_policies`, in one transaction with the read of the vault's policies.

use axum::Json;
use axum::extract::{Path, State};
use axum::handler::Handler;
use axum::routing::put;
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::requires;
use super::vaults::policy_body;
use super::{ArmResult, VAULTS, check_subscription};
use crate::api::AppState;
use crate::api::extract::KvJson;
use crate::api::routes::Routes;
use crate::auth::policy::AccessPolicy;
use crate::auth::table::ManagementOperation as Op;
use crate::management::access_policies::{self as rules, PolicyChange};

pub fn routes() -> Routes {
    Routes::new().route(
        &format!("{VAULTS}/{{vault}}/accesspolicies/{{kind}}"),
        put(update_access_policies.layer(requires(Op::WriteAccessPolicy))),
    )
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

async fn update_access_policies(
    State(state): State<AppState>,
    Path((subscription, group, name, kind)): Path<(String, String, String, String)>,
    KvJson(body): KvJson<AccessPolicyUpdate>,
) -> ArmResult<Json<Value>> {
    check_subscription(&state, &subscription)?;
    let kind = PolicyChange::parse(&kind)?;
    let (vault_id, policies) =
        rules::update(&state.vaults, &group, &name, kind, body.properties.access_policies).await?;
    Ok(Json(json!({
        "id": format!("{vault_id}/accessPolicies/{}", kind.as_str()),
        "type": "Microsoft.KeyVault/vaults/accessPolicies",
        "properties": {"accessPolicies": policies.iter().map(policy_body).collect::<Vec<_>>()},
    })))
}
