//! The one error type of the HTTP layer and its one rendering into the Key Vault error body
//! `{"error":{"code","message","innererror"}}` (contract §7), with `WWW-Authenticate` on 401.
//! Domain errors map in here; the domain never sees a status code. Just over 400 lines: the
//! table test of every variant's status and codes sits with the mapping it checks.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::auth::validate::TokenError;
use crate::keys;
use crate::messages;

#[derive(Debug)]
pub enum ApiError {
    /// 401 with the challenge the client must answer.
    Unauthorized {
        message: String,
        challenge: String,
    },
    /// 403 with an inner code: AccessDenied, KeyOperationForbidden, KeyDisabled, ...
    Forbidden {
        message: String,
        inner: &'static str,
    },
    KeyNotFound {
        message: String,
    },
    VaultNotFound {
        message: String,
    },
    RouteNotFound {
        message: String,
    },
    /// 404 for an object with its own code (a Managed HSM role assignment or definition).
    ObjectNotFound {
        code: &'static str,
        message: String,
    },
    MethodNotAllowed {
        message: String,
    },
    BadParameter {
        message: String,
    },
    /// 409, with an inner code where the contract gives one.
    Conflict {
        message: String,
        inner: Option<&'static str>,
    },
    /// 413: the body is larger than the emulator reads.
    PayloadTooLarge {
        message: String,
    },
    /// 408: the body did not arrive in time; the connection is closed.
    RequestTimeout {
        message: String,
    },
    /// 415: a state-changing emulator control sent without `Content-Type: application/json`.
    UnsupportedMediaType {
        message: String,
    },
    /// 421: a Host the emulator does not serve (a DNS-rebinding name, say).
    MisdirectedRequest {
        message: String,
    },
    /// 503: the bytes all requests may buffer together are taken; retry shortly.
    Overloaded {
        message: String,
    },
    /// A failure asked for through `/_emulator/faults`.
    Injected {
        response: crate::faults::FaultResponse,
        message: String,
    },
    /// The store is momentarily locked by another writer; clients retry 503 on their own.
    ServiceUnavailable,
    /// A bug or an unavailable store. The detail goes to the log, never to the client.
    Internal {
        detail: String,
    },
}

pub type ApiResult<T> = Result<T, ApiError>;

/// What went wrong inside, attached to a 500 response for the logging middleware.
#[derive(Clone, Debug)]
pub struct InternalErrorDetail(pub String);

/// Logs the detail of every internal error, with the request it answered.
pub async fn log_internal_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    if let Some(InternalErrorDetail(detail)) = response.extensions().get::<InternalErrorDetail>() {
        tracing::error!(%method, %path, detail = %detail, "internal error");
    }
    response
}

impl ApiError {
    pub fn bad_parameter(message: impl Into<String>) -> Self {
        Self::BadParameter { message: message.into() }
    }

    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::KeyNotFound { .. }
            | Self::VaultNotFound { .. }
            | Self::RouteNotFound { .. }
            | Self::ObjectNotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadParameter { .. } => StatusCode::BAD_REQUEST,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MisdirectedRequest { .. } => StatusCode::MISDIRECTED_REQUEST,
            Self::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Injected { response, .. } => {
                StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized { .. } => "Unauthorized",
            Self::Forbidden { .. } => "Forbidden",
            Self::KeyNotFound { .. } => "KeyNotFound",
            Self::VaultNotFound { .. } => "VaultNotFound",
            Self::RouteNotFound { .. } => "NotFound",
            Self::ObjectNotFound { code, .. } => code,
            Self::MethodNotAllowed { .. } => "MethodNotAllowed",
            Self::BadParameter { .. } => "BadParameter",
            Self::Conflict { .. } => "Conflict",
            Self::PayloadTooLarge { .. } => "RequestBodyTooLarge",
            Self::RequestTimeout { .. } => "RequestTimeout",
            Self::UnsupportedMediaType { .. } => "UnsupportedMediaType",
            Self::MisdirectedRequest { .. } => "MisdirectedRequest",
            Self::Overloaded { .. } => "ServiceUnavailable",
            Self::Injected { response, .. } => match response.status {
                429 => "Throttled",
                503 => "ServiceUnavailable",
                _ => "InternalServerError",
            },
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::Internal { .. } => "InternalServerError",
        }
    }

    #[must_use]
    pub fn inner_code(&self) -> Option<&'static str> {
        match self {
            Self::Forbidden { inner, .. } => Some(inner),
            Self::Conflict { inner, .. } => *inner,
            _ => None,
        }
    }

    #[must_use]
    pub fn message(&self) -> &str {
        match self {
            Self::Unauthorized { message, .. }
            | Self::Forbidden { message, .. }
            | Self::KeyNotFound { message }
            | Self::VaultNotFound { message }
            | Self::RouteNotFound { message }
            | Self::ObjectNotFound { message, .. }
            | Self::MethodNotAllowed { message }
            | Self::Conflict { message, .. }
            | Self::BadParameter { message }
            | Self::PayloadTooLarge { message }
            | Self::RequestTimeout { message }
            | Self::UnsupportedMediaType { message }
            | Self::MisdirectedRequest { message }
            | Self::Overloaded { message }
            | Self::Injected { message, .. } => message,
            Self::ServiceUnavailable => messages::data_plane::SERVICE_UNAVAILABLE,
            Self::Internal { .. } => messages::data_plane::INTERNAL,
        }
    }

    #[must_use]
    pub fn body(&self) -> serde_json::Value {
        let mut error = json!({ "code": self.code(), "message": self.message() });
        if let Some(inner) = self.inner_code() {
            error["innererror"] = json!({ "code": inner });
        }
        json!({ "error": error })
    }

    /// The answer to a request that a rule of `/_emulator/faults` fails.
    #[must_use]
    pub fn injected(response: crate::faults::FaultResponse) -> Self {
        Self::Injected { response, message: messages::emulator::injected_fault(response.status, response.retry_after) }
    }

    /// The 401 for a token failure, carrying `challenge`.
    #[must_use]
    pub fn unauthorized(err: &TokenError, challenge: String) -> Self {
        let message = match err {
            TokenError::Missing => messages::data_plane::MISSING_TOKEN.to_owned(),
            TokenError::Malformed(detail) => messages::data_plane::malformed_token(detail),
            TokenError::UnsupportedAlgorithm(alg) => messages::data_plane::unsupported_token_algorithm(alg),
            TokenError::UnknownSigningKey(kid) => messages::data_plane::unknown_signing_key(kid),
            TokenError::BadSignature => messages::data_plane::BAD_SIGNATURE.to_owned(),
            TokenError::InvalidIssuer { expected, found } => messages::data_plane::invalid_issuer(expected, found),
            TokenError::InvalidAudience { found } => messages::data_plane::invalid_audience(found),
            TokenError::Expired(exp) => messages::data_plane::token_expired(*exp),
            TokenError::NotYetValid(nbf) => messages::data_plane::token_not_yet_valid(*nbf),
            TokenError::WrongTenant { expected, found } => {
                messages::data_plane::wrong_tenant(&expected.to_string(), found)
            }
            TokenError::MissingClaim(claim) => messages::data_plane::missing_claim(claim),
        };
        Self::Unauthorized { message, challenge }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        // The detail rides along for `log_internal_errors`; the client only sees the generic body.
        if let Self::Internal { detail } = self {
            response.extensions_mut().insert(InternalErrorDetail(detail));
            return response;
        }
        if let Self::Forbidden { inner, .. } = &self
            && AUTHORIZATION_DENIALS.contains(inner)
        {
            response.extensions_mut().insert(AuthorizationDenied(inner));
        }
        if let Self::Injected { response: crate::faults::FaultResponse { retry_after: Some(seconds), .. }, .. } = &self
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if matches!(self, Self::ServiceUnavailable | Self::Overloaded { .. }) {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let Self::Unauthorized { challenge, .. } = &self
            && let Ok(value) = HeaderValue::from_str(challenge)
        {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// The inner codes of a refusal by access policies or RBAC (rather than by the key's own state).
const AUTHORIZATION_DENIALS: [&str; 2] = ["AccessDenied", "ForbiddenByRbac"];

/// Marks a response refused by authorization, for the metrics.
#[derive(Clone, Copy, Debug)]
pub struct AuthorizationDenied(pub &'static str);

use crate::store::is_busy;

impl From<crate::vaults::local_rbac::LocalRbacError> for ApiError {
    fn from(err: crate::vaults::local_rbac::LocalRbacError) -> Self {
        use crate::vaults::local_rbac::LocalRbacError as E;
        match err {
            E::BadParameter(message) => Self::BadParameter { message },
            E::AssignmentNotFound(_) => {
                Self::ObjectNotFound { code: "RoleAssignmentNotFound", message: err.to_string() }
            }
            E::DefinitionNotFound(_) => {
                Self::ObjectNotFound { code: "RoleDefinitionNotFound", message: err.to_string() }
            }
            E::AssignmentExists(_) => Self::Conflict { message: err.to_string(), inner: Some("RoleAssignmentExists") },
            E::Vault(crate::vaults::VaultError::Store(e)) if is_busy(&e) => Self::ServiceUnavailable,
            E::Vault(other) => Self::Internal { detail: other.to_string() },
        }
    }
}

impl From<keys::Error> for ApiError {
    fn from(err: keys::Error) -> Self {
        use keys::Error as E;
        match err {
            E::KeyNotFound { name, version } => {
                Self::KeyNotFound { message: messages::data_plane::key_not_found(&name, version.as_deref()) }
            }
            E::DeletedKeyNotFound { name } => {
                Self::KeyNotFound { message: messages::data_plane::deleted_key_not_found(&name) }
            }
            E::DeletedButRecoverable { name } => Self::Conflict {
                message: messages::data_plane::deleted_but_recoverable(&name),
                inner: Some("ObjectIsDeletedButRecoverable"),
            },
            E::PurgeProtected { vault } => Self::Forbidden {
                message: messages::data_plane::purge_protected(&vault),
                inner: messages::data_plane::PURGE_PROTECTED_INNER,
            },
            E::RestoreConflict { name, version } => Self::Conflict {
                message: messages::data_plane::restore_conflict(&format!("/keys/{name}/{version}")),
                inner: None,
            },
            E::InvalidName(name) => Self::bad_parameter(messages::data_plane::invalid_name(&name)),
            E::BadParameter(message) => Self::BadParameter { message },
            E::OperationNotPermitted(op) => Self::Forbidden {
                message: messages::data_plane::operation_not_permitted(op.as_str()),
                inner: "KeyOperationForbidden",
            },
            E::KeyDisabled(op) => {
                Self::Forbidden { message: messages::data_plane::key_disabled(op.as_str()), inner: "KeyDisabled" }
            }
            E::KeyExpired(op) => {
                Self::Forbidden { message: messages::data_plane::key_expired(op.as_str()), inner: "KeyExpired" }
            }
            E::KeyNotYetValid(op) => Self::Forbidden {
                message: messages::data_plane::key_not_yet_valid(op.as_str()),
                inner: "KeyNotYetValid",
            },
            E::ReleasePolicyNotSatisfied => Self::Forbidden {
                message: messages::data_plane::RELEASE_POLICY_NOT_SATISFIED.into(),
                inner: "ReleasePolicyNotSatisfied",
            },
            E::Store(e) if is_busy(&e) => Self::ServiceUnavailable,
            E::Store(e) => Self::Internal { detail: format!("store: {e}") },
            E::Internal(detail) => Self::Internal { detail },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::model::KeyOperation;

    fn render(err: ApiError) -> (StatusCode, serde_json::Value) {
        (err.status(), err.body())
    }

    #[test]
    fn every_variant_renders_its_status_and_code() {
        let cases: Vec<(ApiError, u16, &str, Option<&str>)> = vec![
            (ApiError::Unauthorized { message: "m".into(), challenge: "c".into() }, 401, "Unauthorized", None),
            (
                ApiError::Forbidden { message: "m".into(), inner: "AccessDenied" },
                403,
                "Forbidden",
                Some("AccessDenied"),
            ),
            (ApiError::KeyNotFound { message: "m".into() }, 404, "KeyNotFound", None),
            (ApiError::VaultNotFound { message: "m".into() }, 404, "VaultNotFound", None),
            (ApiError::RouteNotFound { message: "m".into() }, 404, "NotFound", None),
            (
                ApiError::ObjectNotFound { code: "RoleAssignmentNotFound", message: "m".into() },
                404,
                "RoleAssignmentNotFound",
                None,
            ),
            (ApiError::MethodNotAllowed { message: "m".into() }, 405, "MethodNotAllowed", None),
            (ApiError::bad_parameter("m"), 400, "BadParameter", None),
            (ApiError::ServiceUnavailable, 503, "ServiceUnavailable", None),
            (ApiError::Overloaded { message: "m".into() }, 503, "ServiceUnavailable", None),
            (ApiError::RequestTimeout { message: "m".into() }, 408, "RequestTimeout", None),
            (ApiError::UnsupportedMediaType { message: "m".into() }, 415, "UnsupportedMediaType", None),
            (ApiError::MisdirectedRequest { message: "m".into() }, 421, "MisdirectedRequest", None),
            (ApiError::PayloadTooLarge { message: "m".into() }, 413, "RequestBodyTooLarge", None),
            (
                ApiError::Conflict { message: "m".into(), inner: Some("ObjectIsDeletedButRecoverable") },
                409,
                "Conflict",
                Some("ObjectIsDeletedButRecoverable"),
            ),
            (ApiError::Internal { detail: "secret detail".into() }, 500, "InternalServerError", None),
        ];
        for (err, status, code, inner) in cases {
            let (s, body) = render(err);
            assert_eq!(s.as_u16(), status);
            assert_eq!(body["error"]["code"], code);
            assert_eq!(body["error"]["innererror"]["code"].as_str(), inner);
            assert!(!body.to_string().contains("secret detail"));
        }
    }

    #[test]
    fn key_not_found_uses_the_recorded_message() {
        let (status, body) = render(keys::Error::KeyNotFound { name: "k1".into(), version: None }.into());
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body,
            json!({"error": {"code": "KeyNotFound", "message": "A key with (name/id) k1 was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"}})
        );
    }

    #[test]
    fn lifecycle_refusals_are_403_with_inner_codes() {
        let (status, body) = render(keys::Error::OperationNotPermitted(KeyOperation::Decrypt).into());
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            body,
            json!({"error": {"code": "Forbidden", "message": "Operation decrypt is not permitted on this key.", "innererror": {"code": "KeyOperationForbidden"}}})
        );
        let (_, body) = render(keys::Error::KeyDisabled(KeyOperation::UnwrapKey).into());
        assert_eq!(body["error"]["innererror"]["code"], "KeyDisabled");
        assert_eq!(body["error"]["message"], "Operation unwrapKey is not allowed on a disabled key.");
    }

    #[test]
    fn missing_token_renders_the_recorded_401() {
        let err = ApiError::unauthorized(&TokenError::Missing, "Bearer x".into());
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer x");
        let (_, body) = render(ApiError::unauthorized(&TokenError::Missing, String::new()));
        assert_eq!(
            body,
            json!({"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}})
        );
    }
}
