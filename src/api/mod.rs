//! The HTTP layer: two routers (`router.rs`), the middleware around them (`middleware.rs`) and
//! the state every handler reaches (`state.rs`). Handlers stay thin: extract → authorize → call a
//! service → map to wire. No SQL, crypto or lifecycle rules live here.

pub mod arm;
pub mod attestation;
pub mod audit;
pub mod body;
pub mod cloud_metadata;
pub mod dashboard;
pub mod data_plane;
pub mod emulator;
pub mod errors;
pub mod extract;
pub mod front_door;
pub mod graph;
pub mod host;
#[cfg(test)]
mod import_graph;
pub mod login;
pub mod middleware;
pub mod msi;
pub mod router;
pub mod routes;
pub mod state;

#[cfg(test)]
mod graph_tests;
#[cfg(test)]
mod router_tests;
#[cfg(test)]
pub(crate) mod test_app;

pub use body::MAX_BODY_BYTES;
pub use state::{AppState, RuntimeFacts, Services};
