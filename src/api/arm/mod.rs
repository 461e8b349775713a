//! The subset of Azure Resource Manager that provisioning code uses before any key operation:
//! the subscription and resource groups (so the SDKs' preflight calls answer),
//! `Microsoft.KeyVault/vaults` with their access policies and deleted vaults, managed HSMs
//! (`managedHSMs`, `deletedManagedHSMs`), user-assigned
//! identities, and role assignments and definitions. Thin handlers, one file per resource: the
//! rules live in `crate::management`, each route declares its operation from the one
//! authorization table where it is registered, and [`ArmError`] is the one error shape.
//!
//! Authentication: tokens of the emulator's issuer for the management audience. Paths are
//! matched case-insensitively.

mod access;
mod access_policies;
mod deleted_vaults;
mod error;
mod identities;
mod managed_hsms;
mod resources;
mod role_assignments;
mod role_definitions;
pub mod route_table;
mod subscriptions;
mod vaults;

use axum::middleware;
use uuid::Uuid;

use super::AppState;
use crate::api::routes::Routes;
use crate::auth::identity::default_subscription;
pub use access::Caller;
pub use error::{ArmError, ArmResult};

pub fn router(state: AppState) -> Routes {
    Routes::new()
        .merge(subscriptions::routes())
        .merge(vaults::routes())
        .merge(access_policies::routes())
        .merge(deleted_vaults::routes())
        .merge(identities::routes())
        .merge(managed_hsms::routes())
        .merge(role_assignments::routes())
        .merge(role_definitions::routes())
        .merge(resources::routes())
        .map_router(|router| router.layer(middleware::from_fn_with_state(state, access::authenticate)))
}

/// `/subscriptions/{s}/resourcegroups/{g}/providers/microsoft.keyvault/vaults`
const VAULTS: &str = "/subscriptions/{subscription}/resourcegroups/{group}/providers/microsoft.keyvault/vaults";

/// The emulator's one subscription, if `subscription` names it.
fn check_subscription(state: &AppState, subscription: &str) -> ArmResult<Uuid> {
    let expected = default_subscription(state.facts.tenant_id);
    match Uuid::parse_str(subscription) {
        Ok(id) if id == expected => Ok(id),
        _ => Err(ArmError::SubscriptionNotFound { given: subscription.to_owned(), expected }),
    }
}

/// Query parameters as `T`; one that does not fit is a Resource Manager `BadRequest`.
struct ArmQuery<T>(T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for ArmQuery<T> {
    type Rejection = ArmError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _state: &S) -> Result<Self, ArmError> {
        super::extract::parse_query(parts).map(Self).map_err(ArmError::BadRequest)
    }
}

/// `$filter` on a listing.
#[derive(Debug, serde::Deserialize)]
struct FilterQuery {
    #[serde(rename = "$filter")]
    filter: Option<String>,
}

/// The value of `field eq '…'` in a `$filter`, if it has one.
fn filter_value(filter: Option<&str>, field: &str) -> Option<String> {
    let filter = filter?;
    let lower = filter.to_ascii_lowercase();
    let start = lower.find(&format!("{} eq '", field.to_ascii_lowercase()))? + field.len() + " eq '".len();
    filter[start..].split_once('\'').map(|(value, _)| value.to_owned())
}

/// RFC 3339 for a time on the emulator clock.
fn iso(seconds: crate::clock::UnixSeconds) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_yield_the_quoted_value() {
        assert_eq!(filter_value(Some("principalId eq 'abc'"), "principalId").as_deref(), Some("abc"));
        assert_eq!(filter_value(Some("atScope() and PrincipalId eq 'X'"), "principalId").as_deref(), Some("X"));
        assert_eq!(filter_value(Some("atScope()"), "principalId"), None);
        assert_eq!(filter_value(None, "roleName"), None);
    }
}
