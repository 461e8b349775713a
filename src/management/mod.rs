//! Resource Manager and Microsoft Graph semantics with no HTTP in them: vaults, access policies,
//! role assignments, user-assigned identities, the generic resource listing (`resource_query`) and
//! the Graph directory view (`graph_directory`, `odata_filter`). Each write reads what it changes
//! inside its one transaction (see `vaults::VaultRegistry::transact`), so concurrent provisioning loses nothing.
//! `api/arm` translates between the wire and these functions; [`ManagementError`] names each
//! refusal, and `api/arm` maps it to a status and an ARM code.

pub mod access_policies;
mod error;
pub mod graph_directory;
pub mod identities;
pub mod managed_hsms;
pub mod odata_filter;
pub mod resource_query;
pub mod role_assignments;
pub mod vaults;

pub use error::ManagementError;
