//! Resource Manager and Microsoft Graph semantics with no HTTP in them.
//!
//! - `resource_query`: the generic resource listing (`/resources`): its `$filter` and paging.
//! - `graph_directory`: the emulator's identities as Microsoft Graph directory objects, and the
//!   `$filter` forms the Graph subset answers.
//! - `odata_filter`: the OData `$filter` clauses both read.

pub mod graph_directory;
pub mod odata_filter;
pub mod resource_query;
