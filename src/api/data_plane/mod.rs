//! The Key Vault data plane (vaults and Managed HSMs): routes, and the authentication layer that
//! runs before any handler, before any body is read (SDKs send their first request without a
//! body and expect a 401 challenge; contract §3, §9.1). Bodies are read only when a handler's
//! extractor asks (`api/body.rs`); `api/router_tests.rs` checks that a 401 never touches the body.

pub mod backup;
pub mod crypto;
pub mod deleted_keys;
pub mod key_ref;
pub mod keys;
pub mod local_rbac;
pub mod release;
pub mod rotation;
pub mod route_table;
pub mod secure_wrap;
pub mod security_domain;
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
use super::host::{challenge, request_authority, split_authority, store_for_host};
use crate::auth::decision::{Target, decide};
use crate::auth::table::{NOT_ON_VAULTS, Operation};
use crate::messages;
use crate::vaults::Flavour;
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
        .merge(local_rbac_routes())
        .route("/securitydomain/download", endpoint(post(security_domain::download), Op::SecurityDomainDownload))
        .route(
            "/securitydomain/download/pending",
            endpoint(get(security_domain::download_status), Op::SecurityDomainDownloadStatus),
        )
        .route(
            "/securitydomain/transferkey",
            endpoint(get(security_domain::transfer_key), Op::SecurityDomainTransferKey),
        )
        .route(
            "/securitydomain/upload",
            endpoint(post(security_domain::upload), Op::SecurityDomainUpload)
                .merge(endpoint(get(security_domain::transfer_key), Op::SecurityDomainTransferKey)),
        )
        .route(
            "/securitydomain/upload/pending",
            endpoint(get(security_domain::upload_status), Op::SecurityDomainUploadStatus),
        )
        .map_router(|router| router.layer(middleware::from_fn_with_state(state, authenticate)))
}

/// A Managed HSM's local RBAC at its three scopes: `/`, `/keys` and `/keys/{name}` (the scope
/// is the path before `/providers/`; the SDKs' empty segments are collapsed before routing).
fn local_rbac_routes() -> Routes {
    use Operation as Op;
    const ASSIGNMENTS: &str = "providers/Microsoft.Authorization/roleAssignments";
    const DEFINITIONS: &str = "providers/Microsoft.Authorization/roleDefinitions";
    let mut routes = Routes::new();
    for scope in ["", "/keys", "/keys/{name}"] {
        routes = routes
            .route(
                &format!("{scope}/{ASSIGNMENTS}"),
                endpoint(get(local_rbac::list_role_assignments), Op::ReadRoleAssignment),
            )
            .route(
                &format!("{scope}/{ASSIGNMENTS}/{{assignment}}"),
                endpoint(get(local_rbac::get_role_assignment), Op::ReadRoleAssignment)
                    .merge(endpoint(put(local_rbac::create_role_assignment), Op::WriteRoleAssignment))
                    .merge(endpoint(delete(local_rbac::delete_role_assignment), Op::DeleteRoleAssignment)),
            )
            .route(
                &format!("{scope}/{DEFINITIONS}"),
                endpoint(get(local_rbac::list_role_definitions), Op::ReadRoleDefinition),
            )
            .route(
                &format!("{scope}/{DEFINITIONS}/{{definition}}"),
                endpoint(get(local_rbac::get_role_definition), Op::ReadRoleDefinition)
                    .merge(endpoint(put(local_rbac::set_role_definition), Op::WriteRoleDefinition))
                    .merge(endpoint(delete(local_rbac::delete_role_definition), Op::DeleteRoleDefinition)),
            );
    }
    routes
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
        ApiError::MethodNotAllowed { message: messages::data_plane::method_not_allowed("POST", path) }.into_response();
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
    // Local RBAC and the security domain exist only on a Managed HSM's host.
    if operation.permission() == NOT_ON_VAULTS && !ctx.vault.is_managed_hsm() {
        let (method, path) = (parts.method.as_str(), parts.uri.path());
        return ApiError::RouteNotFound { message: messages::data_plane::route_not_found(method, path) }
            .into_response();
    }
    if let Some(hsm) = ctx.vault.managed_hsm()
        && hsm.refuses_before_activation(operation)
    {
        return ApiError::Forbidden {
            message: messages::managed_hsm::hsm_not_activated(ctx.vault.name.as_str()),
            inner: "HsmNotActivated",
        }
        .into_response();
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

async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let authority = request_authority(&req);
    let (host, _) = split_authority(&authority);
    if host.is_empty() {
        return ApiError::bad_parameter(messages::data_plane::EMPTY_HOST).into_response();
    }
    let domain = &state.facts.domain;
    let addressed = store_for_host(host, domain);
    let vault = addressed.and_then(|(flavour, name)| state.vaults.get_of(flavour, name));
    let (Some((flavour, _)), Some(vault)) = (addressed, vault) else {
        return ApiError::VaultNotFound { message: messages::data_plane::vault_not_found(host) }.into_response();
    };
    let header_value = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let validated = match flavour {
        Flavour::Vault => state.validator.validate_header(header_value, vault.tenant_id),
        Flavour::ManagedHsm => state.validator.validate_hsm_header(header_value, vault.tenant_id),
    };
    match validated {
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
            ApiError::unauthorized(&err, challenge(&authority, flavour, domain, &vault.tenant_id)).into_response()
        }
    }
}
