//! What the in-process router tests share: an [`AppState`] over an in-memory store with the
//! default vault and identities plus one identity (`stranger`) that holds no access, the real
//! routers, and requests sent through `tower::ServiceExt::oneshot`, so no socket is opened.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;
use uuid::Uuid;

use super::{AppState, RuntimeFacts, Services};
use crate::auth::identity::{Identities, Identity, IdentityDirectory};
use crate::auth::issuer::TokenIssuer;
use crate::auth::validate::TokenValidator;
use crate::clock::Clock;
use crate::crypto::sealing::MasterKey;
use crate::due_work::DueWorkScheduler;
use crate::keys::KeyService;
use crate::keys::pool::RsaKeyPool;
use crate::keys::version_cache::VersionCache;
use crate::vaults::{DEFAULT_VAULT, VaultName, VaultRegistry};

pub const DOMAIN: &str = "vault.localhost";
pub const STRANGER: &str = "stranger";
/// An api-version every vault route accepts.
pub const API: &str = "api-version=2025-07-01";

pub fn tenant() -> Uuid {
    Uuid::from_u128(0x7e57)
}

/// The token issuer's key, made once per test binary: RSA generation is the slow part.
fn issuer() -> TokenIssuer {
    static ISSUER: std::sync::OnceLock<TokenIssuer> = std::sync::OnceLock::new();
    ISSUER.get_or_init(|| TokenIssuer::from_material(&crate::crypto::rsa::generate(2048).unwrap()).unwrap()).clone()
}

pub async fn state() -> AppState {
    state_with_audit(crate::audit::AuditSettings::default()).await
}

/// [`state`] with the audit log kept as `audit` says (`enabled: false` is `--no-audit-log`).
pub async fn state_with_audit(audit: crate::audit::AuditSettings) -> AppState {
    let pool = crate::store::open(None).await.unwrap();
    let clock = Clock::new();
    let mut directory = IdentityDirectory::with_defaults(tenant());
    directory.add(Identity::user_assigned(tenant(), STRANGER)).unwrap();
    let identities = Identities::load(pool.clone(), directory).await.unwrap();
    let versions = Arc::new(VersionCache::default());
    let vaults = VaultRegistry::load(pool.clone(), clock.clone(), versions.clone()).await.unwrap();
    let policies = crate::provision::default_policies(&identities.current(), tenant());
    vaults.ensure(&VaultName::parse(DEFAULT_VAULT).unwrap(), None, tenant(), &policies).await.unwrap();
    let master = Arc::new(MasterKey::from_bytes(&MasterKey::generate_bytes().unwrap()).unwrap());
    let audit = crate::audit::AuditLog::start(audit, pool.clone(), clock.clone(), identities.clone()).unwrap();
    let keys = KeyService::new(pool, clock.clone(), master, RsaKeyPool::new(Default::default()), versions);
    let facts = RuntimeFacts {
        owners: Vec::new(),
        domain: DOMAIN.to_owned(),
        tenant_id: tenant(),
        ca_pem: String::new(),
        ready: AtomicBool::new(true),
        dashboard_token: "in-process-dashboard-token".to_owned(),
    };
    AppState::from(Services {
        clock,
        due_work: DueWorkScheduler::new(keys.clone(), vaults.clone()),
        keys,
        vaults,
        identities,
        validator: TokenValidator::new(issuer(), DOMAIN),
        issuer: issuer(),
        attestation: Arc::default(),
        federation: Arc::default(),
        facts: Arc::new(facts),
        metrics: Arc::default(),
        faults: Arc::default(),
        api_versions: Arc::new(crate::api_version::Policy::new(false)),
        audit,
    })
}

/// A vault token for identity `name`.
pub fn token_for(state: &AppState, name: &str) -> String {
    let identity = state.identities.by_name(name).unwrap();
    state.issuer.issue_for_identity(&identity, "https://vault.azure.net").unwrap().access_token
}

/// The HTTPS router as the listener serves it, after path canonicalisation.
pub async fn send(router: &Router, request: Request<Body>) -> Response {
    router.clone().oneshot(super::middleware::normalize_path(request)).await.unwrap()
}

/// The status and the body as JSON (`Null` when the body is not JSON).
pub async fn json_of(response: Response) -> (StatusCode, serde_json::Value) {
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

/// A request to the default vault at `localhost:8443`, with `token` when given.
pub fn vault_request(method: &str, path_and_query: &str, token: Option<&str>, body: Body) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path_and_query).header("host", "localhost:8443");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.header("content-type", "application/json").body(body).unwrap()
}
