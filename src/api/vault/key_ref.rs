//! The key a data-plane path names: `/keys/{name}` or `/keys/{name}/{version}`, with or without
//! an operation after it. One extractor serves both shapes, so each operation has one handler.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::api::errors::ApiError;
use crate::api::extract::KvPath;
use crate::keys::model::KeyName;

/// A key name, checked, and the version segment: `None` when the path has none or it is
/// empty (`/keys/{name}//wrapkey`), both meaning the current version.
#[derive(Clone, Debug)]
pub struct KeyRef {
    pub name: KeyName,
    pub version: Option<String>,
}

impl KeyRef {
    #[must_use]
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for KeyRef {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let KvPath(mut params) = KvPath::<HashMap<String, String>>::from_request_parts(parts, state).await?;
        let name = params
            .remove("name")
            .ok_or_else(|| ApiError::Internal { detail: "a key route without a {name} segment".into() })?;
        let version = params.remove("version").filter(|v| !v.is_empty());
        Ok(Self { name: KeyName::parse(&name)?, version })
    }
}
