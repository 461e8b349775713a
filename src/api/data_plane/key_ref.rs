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

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn echo(key: KeyRef) -> String {
        format!("{}|{:?}", key.name, key.version)
    }

    async fn call(uri: &str) -> (StatusCode, String) {
        let app = Router::new().route("/keys/{name}/sign", get(echo)).route("/keys/{name}/{version}/sign", get(echo));
        let response = app.oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn both_path_shapes_name_one_key_and_an_empty_version_is_the_current_one() {
        assert_eq!(call("/keys/k-1/sign").await, (StatusCode::OK, "k-1|None".into()));
        assert_eq!(call("/keys/k-1//sign").await, (StatusCode::OK, "k-1|None".into()));
        assert_eq!(call("/keys/k-1/abc/sign").await, (StatusCode::OK, r#"k-1|Some("abc")"#.into()));
    }

    #[tokio::test]
    async fn a_bad_name_is_a_bad_parameter_before_the_handler() {
        let (status, body) = call("/keys/bad_name/sign").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("BadParameter"), "{body}");
    }
}
