//! The vault data plane: routes, and the authentication layer that runs before any handler,
//! before any body is read (SDKs send their first request without a body and expect a 401
//! challenge; contract §3, §9.1). Bodies are read only when a handler's extractor asks
//! (`api/body.rs`); `api/router_tests.rs` checks that a 401 never touches the body.

pub mod backup;
pub mod crypto;
pub mod deleted_keys;
pub mod key_ref;
pub mod keys;
pub mod release;
pub mod rotation;
pub mod route_table;
pub mod secure_wrap;
pub mod signing;
pub mod wire;

use crate::api::routes::Routes;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post, put};

use super::AppState;
use super::errors::ApiError;
use super::extract::VaultRequest;
use super::messages;
use crate::auth::decision::{Target, decide};
use crate::auth::table::Operation;
use crate::vaults::DEFAULT_VAULT;
use axum::extract::FromRequestParts;

pub fn router(state: AppState) -> Routes {
    use Operation as Op;
    Routes::new()
        .route("/keys", endpoint(get(keys::list_keys), Op::ListKeys))
        .route("/keys/{name}", key_endpoint())
        .route("/keys/{name}/", key_endpoint())
        .route("/keys/{name}/create", endpoint(post(keys::create_key), Op::CreateKey))
        .route("/keys/{name}/versions", endpoint(get(keys::list_key_versions), Op::ListKeyVersions))
        .route("/keys/{name}/backup", endpoint(post(backup::backup_key), Op::BackupKey))
        .route("/keys/{name}/rotate", endpoint(post(rotation::rotate_key), Op::RotateKey))
        .route(
            "/keys/{name}/rotationpolicy",
            endpoint(get(rotation::get_rotation_policy), Op::GetRotationPolicy)
                .merge(endpoint(put(rotation::set_rotation_policy), Op::SetRotationPolicy)),
        )
        .route("/keys/{name}/encrypt", endpoint(post(crypto::encrypt), Op::Encrypt))
        .route("/keys/{name}/decrypt", endpoint(post(crypto::decrypt), Op::Decrypt))
        .route("/keys/{name}/wrapkey", endpoint(post(crypto::wrap_key), Op::WrapKey))
        .route("/keys/{name}/unwrapkey", endpoint(post(crypto::unwrap_key), Op::UnwrapKey))
        .route("/keys/{name}/securewrapkey", endpoint(post(secure_wrap::secure_wrap_key), Op::WrapKey))
        .route("/keys/{name}/secureunwrapkey", endpoint(post(secure_wrap::secure_unwrap_key), Op::UnwrapKey))
        .route("/keys/{name}/sign", endpoint(post(crypto::sign), Op::Sign))
        .route("/keys/{name}/verify", endpoint(post(crypto::verify), Op::Verify))
        .route("/keys/{name}/release", endpoint(post(release::release_key), Op::Release))
        .route("/keys/{name}/attestation", endpoint(get(release::get_key_attestation), Op::GetKeyAttestation))
        .route(
            "/keys/{name}/{version}",
            endpoint(get(keys::get_key), Op::GetKey).merge(endpoint(patch(keys::update_key), Op::UpdateKey)),
        )
        .route("/keys/{name}/{version}/encrypt", endpoint(post(crypto::encrypt), Op::Encrypt))
        .route("/keys/{name}/{version}/decrypt", endpoint(post(crypto::decrypt), Op::Decrypt))
        .route("/keys/{name}/{version}/wrapkey", endpoint(post(crypto::wrap_key), Op::WrapKey))
        .route("/keys/{name}/{version}/unwrapkey", endpoint(post(crypto::unwrap_key), Op::UnwrapKey))
        .route("/keys/{name}/{version}/securewrapkey", endpoint(post(secure_wrap::secure_wrap_key), Op::WrapKey))
        .route("/keys/{name}/{version}/secureunwrapkey", endpoint(post(secure_wrap::secure_unwrap_key), Op::UnwrapKey))
        .route("/keys/{name}/{version}/sign", endpoint(post(crypto::sign), Op::Sign))
        .route("/keys/{name}/{version}/verify", endpoint(post(crypto::verify), Op::Verify))
        .route("/keys/{name}/{version}/release", endpoint(post(release::release_key), Op::Release))
        .route("/keys/{name}/{version}/attestation", endpoint(get(release::get_key_attestation), Op::GetKeyAttestation))
        .route("/rng", endpoint(post(crypto::get_random_bytes), Op::GetRandomBytes))
        .route("/deletedkeys", endpoint(get(deleted_keys::list_deleted_keys), Op::ListDeletedKeys))
        .route(
            "/deletedkeys/{name}",
            endpoint(get(deleted_keys::get_deleted_key), Op::GetDeletedKey)
                .merge(endpoint(delete(deleted_keys::purge_deleted_key), Op::PurgeDeletedKey)),
        )
        .route("/deletedkeys/{name}/recover", endpoint(post(deleted_keys::recover_deleted_key), Op::RecoverDeletedKey))
        .map_router(|router| router.layer(middleware::from_fn_with_state(state, authenticate)))
}

/// `/keys/{name}` and `/keys/{name}/`: get and update the current version, delete the key,
/// import a new version, and `POST /keys/restore`.
fn key_endpoint() -> MethodRouter<AppState> {
    endpoint(get(keys::get_key), Operation::GetKey)
        .merge(endpoint(patch(keys::update_key), Operation::UpdateKey))
        .merge(endpoint(delete(deleted_keys::delete_key), Operation::DeleteKey))
        .merge(endpoint(put(keys::import_key), Operation::ImportKey))
        .merge(
            endpoint(post(backup::restore_key), Operation::RestoreKey)
                .route_layer(middleware::from_fn(only_restore_is_posted)),
        )
}

/// `POST /keys/{name}` exists only as `POST /keys/restore`; any other name is a 405, decided
/// before authorization and before the body is read.
async fn only_restore_is_posted(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.strip_prefix("/keys/").is_some_and(|name| name.eq_ignore_ascii_case("restore")) {
        return next.run(req).await;
    }
    let mut response =
        ApiError::MethodNotAllowed { message: messages::method_not_allowed("POST", path) }.into_response();
    response.headers_mut().insert(header::ALLOW, axum::http::HeaderValue::from_static("GET,HEAD,PATCH,DELETE,PUT"));
    response
}

/// A vault endpoint: its requests are authorized for `operation` (the authorization table
/// says which permission or data action that needs) before the handler runs, so before any
/// path or body validation.
fn endpoint(method: MethodRouter<AppState>, operation: Operation) -> MethodRouter<AppState> {
    method.route_layer(middleware::from_fn(move |req: Request, next: Next| authorize(operation, req, next)))
}

async fn authorize(operation: Operation, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    // The key and version the path names: RBAC scopes and the audit log need them. Restore and
    // listings name none.
    let params = axum::extract::RawPathParams::from_request_parts(&mut parts, &()).await.ok();
    let param = |wanted: &str| {
        params.as_ref().and_then(|p| p.iter().find(|(name, _)| *name == wanted).map(|(_, value)| value.to_owned()))
    };
    let (key, version) = (param("name"), param("version"));
    let target = Target { key: key.as_deref(), version: version.as_deref().filter(|v| !v.is_empty()) };
    let Some(ctx) = parts.extensions.get::<VaultRequest>() else {
        return ApiError::Internal { detail: "vault endpoint reached without authentication".into() }.into_response();
    };
    // Injected failures stand in for the service itself: after authentication, before anything.
    let fault = parts
        .extensions
        .get::<std::sync::Arc<crate::faults::Faults>>()
        .and_then(|faults| faults.take(ctx.vault.name.as_str(), operation));
    if let Some(response) = fault {
        return ApiError::injected(response).into_response();
    }
    let decision = decide(&ctx.vault, &ctx.principal, operation, target);
    let pending = parts.extensions.get::<std::sync::Arc<crate::audit::AuditLog>>().map(|audit| {
        let (emulator_ms, wall_ms) = audit.now_ms();
        crate::audit::PendingAudit {
            emulator_ms,
            wall_ms,
            principal: ctx.principal.clone(),
            subject: crate::audit::Subject::Vault {
                vault: ctx.vault.clone(),
                operation,
                key: key.clone(),
                version: target.version.map(str::to_owned),
                decision: decision.clone(),
            },
            exchange: crate::audit::Exchange::default(),
        }
    });
    let mut response = match ctx.refusal(&decision, target) {
        None => next.run(Request::from_parts(parts, body)).await,
        Some(err) => err.into_response(),
    };
    if let Some(pending) = pending {
        response.extensions_mut().insert(pending);
    }
    response
}

/// The authority the client addressed: HTTP/2 `:authority`, else the Host header.
pub fn request_authority(req: &Request) -> String {
    authority_of(req.uri(), req.headers())
}

/// [`request_authority`] from a request's parts.
pub fn authority_of(uri: &axum::http::Uri, headers: &axum::http::HeaderMap) -> String {
    uri.authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned))
        .unwrap_or_else(|| "localhost".to_owned())
        .to_ascii_lowercase()
}

/// Splits `host[:port]` (IPv6 literals in brackets) into host and port.
#[must_use]
pub fn split_authority(authority: &str) -> (&str, Option<&str>) {
    if let Some(rest) = authority.strip_prefix('[')
        && let Some((host, after)) = rest.split_once(']')
    {
        return (host, after.strip_prefix(':'));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, Some(port)),
        _ => (authority, None),
    }
}

/// The vault a host names: `{vault}.{domain}` names a vault; any other host (`localhost`, an
/// IP, the bare domain, a compose service name) means the default vault. `None`: a host under
/// the domain with more than one label before it, which names nothing.
#[must_use]
pub fn vault_for_host<'a>(host: &'a str, domain: &str) -> Option<&'a str> {
    // A fully qualified name may end with a dot; it names the same host.
    let host = host.strip_suffix('.').unwrap_or(host);
    match host.strip_suffix(domain).and_then(|prefix| prefix.strip_suffix('.')) {
        Some(label) if !label.is_empty() && !label.contains('.') => Some(label),
        Some(_) => None,
        None => Some(DEFAULT_VAULT),
    }
}

/// `WWW-Authenticate` for a request to `authority` (contract §3, sdk-clients §1): the resource
/// is the domain with the client's port, so the vault host always ends with `.` + resource
/// host; values carry no `,` or `=`, since Python splits on them.
#[must_use]
pub fn challenge(authority: &str, domain: &str, tenant: &uuid::Uuid) -> String {
    let port = split_authority(authority).1.map(|p| format!(":{p}")).unwrap_or_default();
    format!(r#"Bearer authorization="https://localhost{port}/{tenant}", resource="https://{domain}{port}""#)
}

async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let authority = request_authority(&req);
    let (host, _) = split_authority(&authority);
    if host.is_empty() {
        return ApiError::bad_parameter("The request has an empty Host header.").into_response();
    }
    let domain = &state.settings.domain;
    let vault = vault_for_host(host, domain).and_then(|name| state.vaults.get(name));
    let Some(vault) = vault else {
        return ApiError::VaultNotFound { message: messages::vault_not_found(host) }.into_response();
    };
    let header_value = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match state.validator.validate_header(header_value, vault.tenant_id) {
        Ok(principal) => {
            let origin = format!("https://{authority}");
            req.extensions_mut().insert(VaultRequest { vault, origin, principal });
            req.extensions_mut().insert(state.api_versions.clone());
            if state.faults.any() {
                req.extensions_mut().insert(state.faults.clone());
            }
            if state.audit.enabled() {
                req.extensions_mut().insert(state.audit.clone());
            }
            next.run(req).await
        }
        Err(err) => {
            tracing::debug!(error = %err, "rejected bearer token");
            ApiError::unauthorized(&err, challenge(&authority, domain, &vault.tenant_id)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_map_to_vaults() {
        let d = "vault.localhost";
        assert_eq!(vault_for_host("default.vault.localhost", d), Some("default"));
        assert_eq!(vault_for_host("cmk.vault.localhost", d), Some("cmk"));
        assert_eq!(vault_for_host("localhost", d), Some(DEFAULT_VAULT));
        assert_eq!(vault_for_host("127.0.0.1", d), Some(DEFAULT_VAULT));
        assert_eq!(vault_for_host("vault.localhost", d), Some(DEFAULT_VAULT));
        assert_eq!(vault_for_host("keyvault", d), Some(DEFAULT_VAULT));
        assert_eq!(vault_for_host("a.b.vault.localhost", d), None);
        assert_eq!(vault_for_host("cmk.vault.localhost.", d), Some("cmk"));
    }

    #[test]
    fn authorities_split() {
        assert_eq!(split_authority("a.vault.localhost:8443"), ("a.vault.localhost", Some("8443")));
        assert_eq!(split_authority("localhost"), ("localhost", None));
        assert_eq!(split_authority("[::1]:8443"), ("::1", Some("8443")));
        assert_eq!(split_authority("[::1]"), ("::1", None));
    }

    #[test]
    fn challenge_keeps_the_port_and_has_no_commas_or_equals_in_values() {
        let tenant = uuid::Uuid::nil();
        let c = challenge("default.vault.localhost:8443", "vault.localhost", &tenant);
        assert_eq!(
            c,
            r#"Bearer authorization="https://localhost:8443/00000000-0000-0000-0000-000000000000", resource="https://vault.localhost:8443""#
        );
        for value in c.split('"').skip(1).step_by(2) {
            assert!(!value.contains(',') && !value.contains('='), "{value}");
        }
        assert!(
            challenge("x.vault.localhost", "vault.localhost", &tenant)
                .ends_with(r#"resource="https://vault.localhost""#)
        );
    }
}
