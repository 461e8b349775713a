//! Extractors whose rejections are Key Vault errors: the api-version, paging parameters, JSON
//! bodies, and the request context (vault, origin, caller) the authentication layer attached.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::errors::ApiError;
use crate::api_version::{DataPlaneVersion, Feature, Policy};
use crate::auth::Principal;
use crate::auth::decision::{Decision, Denial, Target, decide};
use crate::auth::table::Operation;
use crate::messages;
use crate::vaults::Vault;

fn query_map(parts: &Parts) -> HashMap<String, String> {
    parts.uri.query().map(|q| url_decode_pairs(q).into_iter().collect::<HashMap<String, String>>()).unwrap_or_default()
}

/// Percent-decodes `a=b&c=d` (names too: the JS SDK sends `api%2Dversion`).
fn url_decode_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

/// The query string deserialized into `T`, or what is wrong with it.
pub fn parse_query<T: DeserializeOwned>(parts: &Parts) -> Result<T, String> {
    serde_urlencoded::from_str(parts.uri.query().unwrap_or(""))
        .map_err(|e| messages::data_plane::invalid_query(&e.to_string()))
}

/// Query parameters as `T`; one that does not fit is a Key Vault `BadParameter`, not axum's
/// plain-text rejection.
pub struct KvQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for KvQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts).map(Self).map_err(ApiError::bad_parameter)
    }
}

/// The request's `api-version`, checked against the version table (`crate::api_version`): what
/// the client asked for, and the table entry it is served as (the same one, unless the
/// emulator is lenient and the client is newer than the table).
#[derive(Clone, Debug)]
pub struct ApiVersion {
    pub requested: String,
    pub served: &'static DataPlaneVersion,
}

impl ApiVersion {
    /// Whether this request sees a version-dependent feature.
    #[must_use]
    pub fn has(&self, feature: Feature) -> bool {
        self.served.has(feature)
    }

    /// Refuses `what` (an operation or a parameter) unless this version has `feature`.
    pub fn require(&self, feature: Feature, what: &str) -> Result<(), ApiError> {
        if self.has(feature) {
            Ok(())
        } else {
            Err(ApiError::bad_parameter(messages::data_plane::not_in_api_version(
                what,
                &self.requested,
                DataPlaneVersion::introducing(feature).name,
            )))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ApiVersion {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = query_map(parts);
        let requested = query.get("api-version").ok_or_else(|| {
            ApiError::bad_parameter(messages::data_plane::missing_api_version(DataPlaneVersion::latest_stable().name))
        })?;
        // The vault layer hands over the configured policy; without one, as strict as Azure.
        let strict = Policy::default();
        let policy = parts.extensions.get::<Arc<Policy>>().map_or(&strict, |p| p.as_ref());
        let served = policy.resolve(requested).map_err(|_| {
            ApiError::bad_parameter(messages::data_plane::unknown_api_version(
                requested,
                DataPlaneVersion::latest_stable().name,
            ))
        })?;
        Ok(Self { requested: requested.clone(), served })
    }
}

/// `maxresults` (1–25, default 25) and the opaque `$skiptoken` of a listing (contract §5.3).
#[derive(Clone, Debug)]
pub struct Paging {
    pub max_results: u32,
    pub skip_token: Option<String>,
}

pub const MAX_PAGE_SIZE: u32 = 25;

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = query_map(parts);
        let max_results = match query.get("maxresults") {
            None => MAX_PAGE_SIZE,
            Some(text) => text.parse::<u32>().ok().filter(|n| (1..=MAX_PAGE_SIZE).contains(n)).ok_or_else(|| {
                ApiError::bad_parameter(messages::data_plane::invalid_max_results(text, MAX_PAGE_SIZE))
            })?,
        };
        Ok(Self { max_results, skip_token: query.get("$skiptoken").cloned() })
    }
}

/// A JSON body parsed into `T`; any failure is a `BadParameter`, whatever the Content-Type.
pub struct KvJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for KvJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_parameter(messages::data_plane::unreadable_body(&e.to_string())))?;
        if bytes.is_empty() {
            return Err(ApiError::bad_parameter(messages::data_plane::EMPTY_BODY));
        }
        // serde reads a struct from a JSON array too, field by field; Key Vault wants objects.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::bad_parameter(messages::data_plane::BODY_NOT_AN_OBJECT));
        }
        serde_json::from_slice(&bytes)
            .map(KvJson)
            .map_err(|e| ApiError::bad_parameter(messages::data_plane::invalid_body(&e.to_string())))
    }
}

/// What the authentication layer established for a vault request.
#[derive(Clone, Debug)]
pub struct VaultRequest {
    pub vault: Arc<Vault>,
    /// `https://` + the Host the client used: every returned id is built from it (contract §1).
    pub origin: String,
    pub principal: Principal,
}

impl VaultRequest {
    /// Refuses the request unless the vault grants `operation` on `target` to the caller.
    pub fn authorize(&self, operation: Operation, target: Target<'_>) -> Result<(), ApiError> {
        match self.refusal(&decide(&self.vault, &self.principal, operation, target), target) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// The 403 a refused decision answers with.
    #[must_use]
    pub fn refusal(&self, decision: &Decision, target: Target<'_>) -> Option<ApiError> {
        let denial = decision.outcome.clone().err()?;
        Some(match denial {
            Denial::AccessPolicy { permission } => ApiError::Forbidden {
                message: messages::data_plane::access_denied(
                    &self.principal.describe(),
                    permission,
                    self.vault.name.as_str(),
                ),
                inner: "AccessDenied",
            },
            Denial::LocalRbac { data_action } => ApiError::Forbidden {
                message: messages::managed_hsm::local_rbac_denied(
                    &self.principal.describe(),
                    data_action,
                    &target.key.map_or_else(|| "/".to_owned(), |key| format!("/keys/{key}")),
                    self.vault.name.as_str(),
                ),
                inner: "ForbiddenByRbac",
            },
            Denial::Rbac { data_action } => {
                let mut resource = self.vault.resource_id();
                if let Some(key) = target.key {
                    resource.push_str(&format!("/keys/{key}"));
                }
                ApiError::Forbidden {
                    message: messages::data_plane::rbac_denied(
                        &self.principal.describe(),
                        data_action,
                        &resource,
                        self.vault.name.as_str(),
                    ),
                    inner: "ForbiddenByRbac",
                }
            }
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for VaultRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<VaultRequest>()
            .cloned()
            .ok_or_else(|| ApiError::Internal { detail: "vault route reached without the authentication layer".into() })
    }
}

/// `https://{authority}` as the client addressed this server, for ids and URLs in responses.
pub struct Origin(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(format!("https://{}", super::host::authority_of(&parts.uri, &parts.headers))))
    }
}

/// Path parameters whose rejection (for example a segment that is not valid UTF-8 once
/// percent-decoded) is a Key Vault `BadParameter`, not axum's plain-text answer.
pub struct KvPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for KvPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| KvPath(value))
            .map_err(|rejection| ApiError::bad_parameter(messages::data_plane::invalid_uri(&rejection.to_string())))
    }
}
