//! Keys: the domain model, the lifecycle rules and the service that owns every key rule.
//! Nothing in here knows about HTTP; `api::data_plane` translates between this and the wire.

pub mod algorithms;
pub mod backup;
pub mod cipher;
pub mod error;
pub mod lifecycle;
mod material;
pub mod ml_dsa;
pub mod model;
pub mod pool;
pub mod release;
pub mod requests;
pub mod rotation;
mod rules;
pub mod secure_wrap;
pub mod service;
pub mod unsealed;
pub mod version_cache;

pub use error::{Error, Result};
pub use service::KeyService;
