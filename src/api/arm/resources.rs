//! Resource Manager listings beside the Key Vault provider's own: the generic resource list
//! (`/subscriptions/{s}[/resourceGroups/{g}]/resources`, what `az keyvault list` and
//! `az keyvault show --name X` without `-g` call). The managed-HSM lists are `managed_hsms`'. The rules
//! (what is a resource, the `$filter` forms, paging) are `management::resource_query`'s.
//!
//! Each route declares its operation from the one authorization table, as every ARM route does.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::handler::Handler;
use axum::routing::get;
use serde_json::{Value, json};
use uuid::Uuid;

use super::access::requires;
use super::{ArmError, ArmResult, check_subscription};
use crate::api::AppState;
use crate::api::extract::Origin;
use crate::api::routes::Routes;
use crate::auth::table::ManagementOperation as Op;
use crate::management::resource_query::{ResourceQuery, ResourceQueryError, ResourceRecord};

pub fn routes() -> Routes {
    Routes::new()
        .route(
            "/subscriptions/{subscription}/resources",
            get(list_subscription_resources.layer(requires(Op::ListResources))),
        )
        .route(
            "/subscriptions/{subscription}/resourcegroups/{group}/resources",
            get(list_group_resources.layer(requires(Op::ListResources))),
        )
}

impl From<ResourceQueryError> for ArmError {
    fn from(err: ResourceQueryError) -> Self {
        match err {
            ResourceQueryError::InvalidFilter { .. } => Self::InvalidFilter(err.to_string()),
            ResourceQueryError::InvalidTop(_) | ResourceQueryError::InvalidSkipToken(_) => {
                Self::BadRequest(err.to_string())
            }
        }
    }
}

/// Every resource the emulator holds: vaults and managed HSMs (not the soft-deleted ones) and
/// user-assigned identities.
fn all_resources(state: &AppState) -> Vec<ResourceRecord> {
    let vaults = state.vaults.all().into_iter().chain(state.vaults.all_hsms());
    let vaults = vaults.map(|v| ResourceRecord::of_vault(&v)).collect::<Vec<_>>();
    let identities = state.identities.all().into_iter().filter_map(|identity| {
        let stored = state.identities.arm_metadata(&identity);
        let (location, tags) = match &stored {
            Some(stored) => (stored.location.as_str(), stored.tags.clone()),
            None => (crate::vaults::DEFAULT_LOCATION, std::collections::BTreeMap::new()),
        };
        ResourceRecord::of_identity(&identity, location, &tags)
    });
    vaults.into_iter().chain(identities).collect()
}

fn resource_body(resource: &ResourceRecord) -> Value {
    json!({
        "id": resource.id,
        "name": resource.name,
        "type": resource.resource_type,
        "location": resource.location,
        "tags": resource.tags,
    })
}

fn listing(
    state: &AppState,
    origin: &str,
    path: &str,
    raw_query: Option<&str>,
    group: Option<&str>,
    subscription: Uuid,
) -> ArmResult<Json<Value>> {
    let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(raw_query.unwrap_or("")).unwrap_or_default();
    let option = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let query = ResourceQuery::parse(option("$filter"), option("$top"), option("$skiptoken"))?;
    let in_scope = all_resources(state).into_iter().filter(|r| r.is_in(subscription, group));
    let (page, next) = query.page(in_scope);
    let mut body = json!({"value": page.iter().map(resource_body).collect::<Vec<_>>()});
    if let Some(next) = next {
        let mut kept: Vec<(String, String)> = pairs.iter().filter(|(n, _)| n != "$skiptoken").cloned().collect();
        kept.push(("$skiptoken".to_owned(), next.to_string()));
        body["nextLink"] = json!(format!("{origin}{path}?{}", serde_urlencoded::to_string(&kept).unwrap_or_default()));
    }
    Ok(Json(body))
}

async fn list_subscription_resources(
    State(state): State<AppState>,
    Origin(origin): Origin,
    Path(requested): Path<String>,
    RawQuery(query): RawQuery,
) -> ArmResult<Json<Value>> {
    let id = check_subscription(&state, &requested)?;
    listing(&state, &origin, &format!("/subscriptions/{id}/resources"), query.as_deref(), None, id)
}

async fn list_group_resources(
    State(state): State<AppState>,
    Origin(origin): Origin,
    Path((requested, group)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> ArmResult<Json<Value>> {
    let id = check_subscription(&state, &requested)?;
    let path = format!("/subscriptions/{id}/resourceGroups/{group}/resources");
    listing(&state, &origin, &path, query.as_deref(), Some(&group), id)
}
