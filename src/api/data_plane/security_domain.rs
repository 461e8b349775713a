//! The security-domain endpoints of a Managed HSM (`/securitydomain/...`, api-version 7.5 and
//! later): download (activates a new HSM), its status, the transfer key, and upload (restores a
//! domain into a new HSM). Each completes within its request; the `Azure-AsyncOperation` URL
//! the SDK pollers follow answers with the outcome at once. Thin handlers: the rules are
//! `crate::security_domain`'s, each write is one registry transaction.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::AppState;
use crate::api::errors::{ApiError, ApiResult};
use crate::api::extract::{ApiVersion, KvJson, VaultRequest};
use crate::crypto::base64url;
use crate::security_domain::{self as rules, Certificate, Outcome, SecurityDomainError, SecurityDomainState};
use crate::vaults::{Vault, VaultError, VaultKind};

impl From<SecurityDomainError> for ApiError {
    fn from(err: SecurityDomainError) -> Self {
        match err {
            SecurityDomainError::Invalid(message) => ApiError::bad_parameter(message),
            SecurityDomainError::AlreadyActivated => ApiError::Conflict {
                message: crate::messages::managed_hsm::HSM_ALREADY_ACTIVATED.to_owned(),
                inner: None,
            },
            SecurityDomainError::NoTransferKey => {
                ApiError::bad_parameter(crate::messages::managed_hsm::HSM_NO_TRANSFER_KEY)
            }
            SecurityDomainError::Crypto(detail) => ApiError::Internal { detail },
        }
    }
}

/// A failure inside a registry transaction: a rule's refusal, or the store's.
enum Failure {
    Rule(SecurityDomainError),
    Store(VaultError),
}

impl From<VaultError> for Failure {
    fn from(err: VaultError) -> Self {
        Self::Store(err)
    }
}

impl From<Failure> for ApiError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Rule(err) => err.into(),
            Failure::Store(err) => ApiError::Internal { detail: err.to_string() },
        }
    }
}

/// Runs `change` over the HSM's security-domain state and activation inside one transaction;
/// returns what `change` produced besides the new state.
async fn transact<T>(
    state: &AppState,
    hsm: &Vault,
    change: impl FnOnce(&SecurityDomainState, bool) -> Result<(Option<SecurityDomainState>, T), SecurityDomainError>,
) -> Result<T, ApiError> {
    let mut produced = None;
    state
        .vaults
        .transact_hsm(hsm.name.as_str(), |current| {
            let mut current = current.filter(|v| !v.is_deleted()).cloned().ok_or_else(|| {
                Failure::Rule(SecurityDomainError::Invalid(crate::messages::managed_hsm::hsm_gone(hsm.name.as_str())))
            })?;
            let VaultKind::ManagedHsm(hsm_state) = &mut current.kind else {
                return Err(Failure::Rule(SecurityDomainError::Invalid(
                    crate::messages::managed_hsm::NOT_A_MANAGED_HSM.into(),
                )));
            };
            let (next, value) = change(&hsm_state.security_domain, hsm_state.activated).map_err(Failure::Rule)?;
            if let Some(next) = next {
                hsm_state.activated |= next.domain_key.is_some();
                hsm_state.security_domain = next;
            }
            produced = Some(value);
            Ok(current)
        })
        .await?;
    produced.ok_or_else(|| ApiError::Internal { detail: "security domain transaction produced nothing".into() })
}

fn operation_response(status: StatusCode, origin: &str, pending: &str, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(url) = HeaderValue::from_str(&format!("{origin}/securitydomain/{pending}/pending?api-version=7.5")) {
        response.headers_mut().insert(HeaderName::from_static("azure-asyncoperation"), url);
    }
    response.headers_mut().insert(HeaderName::from_static("retry-after"), HeaderValue::from_static("0"));
    response
}

fn status_body(outcome: Option<&Outcome>, none: &str) -> Value {
    match outcome {
        Some(o) => json!({"status": if o.succeeded { "Success" } else { "Failed" }, "status_details": o.details}),
        None => json!({"status": "Failed", "status_details": none}),
    }
}

#[derive(Debug, Deserialize)]
pub struct DownloadRequest {
    certificates: Vec<WrappingJwk>,
    required: u32,
}

#[derive(Debug, Deserialize)]
struct WrappingJwk {
    n: Option<String>,
    e: Option<String>,
    #[serde(default)]
    x5c: Vec<String>,
}

fn certificate(jwk: &WrappingJwk) -> ApiResult<Certificate> {
    let bad = || ApiError::bad_parameter(crate::messages::managed_hsm::SECURITY_DOMAIN_CERTIFICATE);
    let decode = |text: Option<&String>| text.and_then(|t| base64url::decode(t).ok()).ok_or_else(bad);
    Ok(Certificate { n: decode(jwk.n.as_ref())?, e: decode(jwk.e.as_ref())?, x5c: decode(jwk.x5c.first())? })
}

pub async fn download(
    State(state): State<AppState>,
    ctx: VaultRequest,
    _version: ApiVersion,
    KvJson(request): KvJson<DownloadRequest>,
) -> ApiResult<Response> {
    let certificates = request.certificates.iter().map(certificate).collect::<ApiResult<Vec<_>>>()?;
    let file = transact(&state, &ctx.vault, |current, activated| {
        let (next, file) = rules::download(current, activated, &certificates, request.required)?;
        Ok((Some(next), file))
    })
    .await?;
    Ok(operation_response(StatusCode::ACCEPTED, &ctx.origin, "download", json!({ "value": file })))
}

pub async fn download_status(ctx: VaultRequest, _version: ApiVersion) -> ApiResult<Json<Value>> {
    let domain = ctx.vault.managed_hsm().map(|h| h.security_domain.download.clone()).unwrap_or_default();
    Ok(Json(status_body(domain.as_ref(), crate::messages::managed_hsm::NO_SECURITY_DOMAIN_DOWNLOADED)))
}

/// The transfer key as a JSON string inside the answer: what `az keyvault security-domain
/// init-recovery` parses (it reads `x5c[0]`).
pub async fn transfer_key(
    State(state): State<AppState>,
    ctx: VaultRequest,
    _version: ApiVersion,
) -> ApiResult<Json<Value>> {
    let name = ctx.vault.name.to_string();
    let key = transact(&state, &ctx.vault, |current, activated| {
        if activated {
            return Err(SecurityDomainError::AlreadyActivated);
        }
        let next = rules::ensure_transfer_key(current, &name)?;
        let key = next.as_ref().unwrap_or(current).transfer_key.clone();
        Ok((next, key))
    })
    .await?
    .ok_or_else(|| ApiError::Internal { detail: "no transfer key after making one".into() })?;
    let jwk = json!({
        "kid": format!("{}/securitydomain/transferkey", ctx.origin),
        "kty": "RSA",
        "key_ops": ["wrapKey", "encrypt"],
        "alg": "RSA-OAEP-256",
        "n": base64url::encode(&key.n.0),
        "e": base64url::encode(&key.e.0),
        "x5c": [base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &key.certificate.0)],
        "x5t#S256": crate::crypto::security_domain::thumbprint(&key.certificate.0),
    });
    Ok(Json(json!({"key_format": "jwk", "transfer_key": jwk.to_string()})))
}

#[derive(Debug, Deserialize)]
pub struct UploadRequest {
    value: String,
}

pub async fn upload(
    State(state): State<AppState>,
    ctx: VaultRequest,
    _version: ApiVersion,
    KvJson(request): KvJson<UploadRequest>,
) -> ApiResult<Response> {
    let outcome = transact(&state, &ctx.vault, |current, activated| {
        let next = rules::upload(current, activated, &request.value)?;
        let outcome = next.upload.clone();
        Ok((Some(next), outcome))
    })
    .await?;
    let body = status_body(outcome.as_ref(), "");
    Ok(operation_response(StatusCode::ACCEPTED, &ctx.origin, "upload", body))
}

pub async fn upload_status(ctx: VaultRequest, _version: ApiVersion) -> ApiResult<Json<Value>> {
    let domain = ctx.vault.managed_hsm().map(|h| h.security_domain.upload.clone()).unwrap_or_default();
    Ok(Json(status_body(domain.as_ref(), crate::messages::managed_hsm::NO_SECURITY_DOMAIN_UPLOADED)))
}
