//! The Microsoft Graph subset's texts (`api/graph.rs`, `GraphError`, and the directory queries
//! `src/management/graph_directory.rs` decides). Graph's style; none is recorded in the
//! contract, so all are [unverified]. The audit reason at the end is the emulator's own wording.

use std::fmt::Display;

pub const ACCESS_TOKEN_EMPTY: &str = "Access token is empty.";

#[must_use]
pub fn access_token_invalid(reason: impl Display) -> String {
    format!("Access token validation failure: {reason}.")
}

pub const ME_NEEDS_DELEGATED_TOKEN: &str = "/me request is only valid with delegated authentication flow.";

#[must_use]
pub fn resource_not_found(id: &str) -> String {
    format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present.")
}

#[must_use]
pub fn invalid_get_by_ids_body(error: impl Display) -> String {
    format!("The request body is not a valid getByIds request: {error}.")
}

#[must_use]
pub fn invalid_filter_clause(detail: &str) -> String {
    format!("Invalid filter clause: {detail}")
}

#[must_use]
pub fn unsupported_filter(property: &str) -> String {
    format!(
        "Unsupported or invalid query filter clause specified for property '{property}' of resource 'ServicePrincipal'."
    )
}

#[must_use]
pub fn invalid_top(top: &str) -> String {
    format!("Invalid value '{top}' for query parameter $top: it must be an integer from 1 to 999.")
}

#[must_use]
pub fn invalid_skip_token(token: &str) -> String {
    format!("Invalid $skiptoken '{token}'.")
}

#[must_use]
pub fn invalid_object_id(id: &str) -> String {
    format!("Invalid object identifier '{id}'.")
}

pub const TOO_MANY_IDS: &str = "Too many ids: at most 1000 may be requested at once.";

#[must_use]
pub fn unknown_type(name: &str) -> String {
    format!("'{name}' is not a directory object type.")
}

/// The audit log's reason for every Graph request that passed authentication.
pub const AUDIT_ANY_TENANT_IDENTITY: &str = "every authenticated identity of the tenant may read the directory \
     (on Azure an application would also need a Graph permission such as Application.Read.All)";
