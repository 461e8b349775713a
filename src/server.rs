//! Start-up and shutdown: data directory, store, CA and leaf, token issuer, default vault,
//! both listeners. [`start`] is the one way to run an emulator: `main`, the embedding API in
//! `lib.rs` and the tests all call it.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::task::JoinHandle;
use tower::ServiceBuilder;

use crate::api::body::BodyLimits;
use crate::api::front_door::{FrontDoor, Port};
use crate::api::host::HostPolicy;
use crate::api::{self, AppState, RuntimeFacts, Services};
use crate::auth::identity::IdentityDirectory;
use crate::auth::issuer::TokenIssuer;
use crate::auth::validate::TokenValidator;
use crate::clock::Clock;
use crate::config::{Config, Storage};
use crate::connections::CappedAcceptor;
use crate::crypto::sealing::MasterKey;
use crate::due_work::DueWorkScheduler;
use crate::keys::KeyService;
use crate::keys::pool::RsaKeyPool;
use crate::keys::version_cache::VersionCache;
use crate::tls::{self, LocalCa};
use crate::vaults::{DEFAULT_VAULT, VaultError, VaultName, VaultRegistry};
use crate::{files, provision, store};

const MASTER_KEY_FILE: &str = "master.key";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {path}: {source}{hint}", hint = data_dir_hint(.source))]
    DataDir { path: String, source: std::io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("token issuer: {0}")]
    Issuer(#[from] crate::auth::issuer::IssuerError),
    #[error("vault: {0}")]
    Vault(#[from] crate::vaults::VaultError),
    #[error("crypto: {0}")]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error("purging deleted keys past their date: {0}")]
    Purge(String),
    #[error("config: {0}")]
    Config(String),
    #[error("--ca-copy {path}: {source}")]
    CaCopy { path: String, source: std::io::Error },
    #[error("--diagnostics-log {path}: {source}")]
    DiagnosticsLog { path: String, source: std::io::Error },
}

/// What to do when the data directory may not be written. In a container this is nearly always
/// a bind mount of a host directory that the image's user (uid 10001) does not own.
fn data_dir_hint(source: &std::io::Error) -> &'static str {
    match source.kind() {
        std::io::ErrorKind::PermissionDenied => {
            "\nThe emulator's user may not write to its data directory. In the container image that user \
             is uid 10001: give it the host directory of a bind mount (`sudo chown 10001:10001 DIR`), or \
             run the container as the directory's owner (`docker run --user \"$(id -u):$(id -g)\"`, \
             compose `user:`). A named volume needs neither. Outside a container, pass a --data-dir \
             that your user owns."
        }
        _ => "",
    }
}

fn data_dir_error(path: &Path, source: std::io::Error) -> StartError {
    StartError::DataDir { path: path.display().to_string(), source }
}

/// The master key of a data directory, created on first start; in memory, a fresh one.
fn load_or_create_master_key(dir: Option<&Path>) -> Result<MasterKey, StartError> {
    let Some(dir) = dir else {
        return Ok(MasterKey::from_bytes(&MasterKey::generate_bytes()?)?);
    };
    let path = dir.join(MASTER_KEY_FILE);
    if path.exists() {
        let bytes = std::fs::read(&path).map_err(|e| data_dir_error(&path, e))?;
        return Ok(MasterKey::from_bytes(&bytes)?);
    }
    let bytes = MasterKey::generate_bytes()?;
    files::write_private(&path, &bytes).map_err(|e| data_dir_error(&path, e))?;
    Ok(MasterKey::from_bytes(&bytes)?)
}

/// Where the CA certificate is written for clients to trust. In memory there is no data
/// directory, so it goes to a private temporary directory removed at shutdown.
fn write_ca_file(storage: &Storage, ca_pem: &str) -> Result<(PathBuf, Option<tempfile::TempDir>), StartError> {
    match storage {
        Storage::Directory(dir) => {
            Ok((std::path::absolute(dir.join(tls::CA_FILE)).map_err(|e| data_dir_error(dir, e))?, None))
        }
        Storage::InMemory => {
            let temp = tempfile::Builder::new()
                .prefix("keyvault-emulator-")
                .tempdir()
                .map_err(|e| data_dir_error(&std::env::temp_dir(), e))?;
            let path = temp.path().join(tls::CA_FILE);
            files::write_atomically(&path, ca_pem.as_bytes()).map_err(|e| data_dir_error(&path, e))?;
            Ok((path, Some(temp)))
        }
    }
}

fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    let listener = TcpListener::bind(addr).map_err(|source| StartError::Bind { addr, source })?;
    listener.set_nonblocking(true).map_err(|source| StartError::Bind { addr, source })?;
    Ok(listener)
}

/// The most header bytes a request may send: beyond it HTTP/1.1 answers 431, HTTP/2 refuses
/// the stream. Azure SDK requests send about 2 KiB, tokens included.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// A client that has not sent its whole request head by then is disconnected.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn limit_connections(builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>) {
    builder.http1().max_buf_size(MAX_HEADER_BYTES).header_read_timeout(HEADER_READ_TIMEOUT);
    builder.http2().max_header_list_size(MAX_HEADER_BYTES as u32);
}

/// A running emulator. [`RunningEmulator::shutdown`] stops it gracefully; dropping it stops
/// it at once (connections in flight are cut).
pub struct RunningEmulator {
    pub https_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub domain: String,
    pub tenant_id: uuid::Uuid,
    pub ca_pem: String,
    pub ca_path: PathBuf,
    pub clock: Clock,
    pub default_identity_client_id: uuid::Uuid,
    state: AppState,
    handle: axum_server::Handle<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
    sweep_task: JoinHandle<()>,
    store: store::Pool,
    _temp_dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("https_addr", &self.https_addr)
            .field("http_addr", &self.http_addr)
            .finish_non_exhaustive()
    }
}

/// Makes one service per connection that tags each request with the connection's peer address
/// (the audit log's client address).
fn with_client_address<S: Clone>(
    service: S,
) -> impl tower::Service<
    SocketAddr,
    Response = axum::middleware::AddExtension<S, crate::audit::ClientAddress>,
    Error = std::convert::Infallible,
    Future = std::future::Ready<
        Result<axum::middleware::AddExtension<S, crate::audit::ClientAddress>, std::convert::Infallible>,
    >,
> + Clone {
    tower::service_fn(move |peer: SocketAddr| {
        let tagged = tower::Layer::layer(&axum::Extension(crate::audit::ClientAddress(peer)), service.clone());
        std::future::ready(Ok(tagged))
    })
}

/// Starts an emulator; returns once both listeners accept connections.
pub async fn start(config: Config) -> Result<RunningEmulator, StartError> {
    let data_dir = match &config.storage {
        Storage::Directory(dir) => {
            let loose = files::prepare_private_dir(dir).map_err(|e| data_dir_error(dir, e))?;
            for finding in loose {
                tracing::warn!(
                    "data directory: {finding}; other local users may read it (chmod 700 the directory, 600 its files)"
                );
            }
            let db = dir.join(store::DB_FILE);
            files::create_private_file(&db).map_err(|e| data_dir_error(&db, e))?;
            Some(dir.as_path())
        }
        Storage::InMemory => None,
    };
    let master = Arc::new(load_or_create_master_key(data_dir)?);
    let pool = store::open(data_dir).await?;
    let clock = Clock::new();

    let ca = LocalCa::load_or_create(data_dir)?;
    let (chain, key) = match &config.tls_files {
        Some((cert, key)) => tls::load_pem_pair(cert, key)?,
        None => ca.issue_leaf(&config.domain, &config.tls_sans)?,
    };
    let rustls_config = axum_server::tls_rustls::RustlsConfig::from_config(tls::server_config(chain, key)?);
    let (ca_path, temp_dir) = write_ca_file(&config.storage, &ca.cert_pem)?;
    if let Some(copy) = &config.ca_copy {
        let write = || {
            if let Some(parent) = copy.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            files::write_atomically(copy, ca.cert_pem.as_bytes())
        };
        write().map_err(|source| StartError::CaCopy { path: copy.display().to_string(), source })?;
    }

    let issuer = TokenIssuer::load_or_create(&pool, &master).await?;
    let mut directory = IdentityDirectory::with_defaults(config.tenant_id);
    for identity in config.config_file.iter().flat_map(|file| file.identities.iter()) {
        directory.add(identity.clone()).map_err(StartError::Config)?;
    }
    let identities = crate::auth::identity::Identities::load(pool.clone(), directory).await?;
    let key_versions = Arc::new(VersionCache::default());
    let vaults = VaultRegistry::load(pool.clone(), clock.clone(), key_versions.clone()).await?;
    let default_identity = identities.default_identity().clone();
    let default_name =
        VaultName::parse(DEFAULT_VAULT).ok_or_else(|| VaultError::Invalid("default vault name".into()))?;
    let declared_default = config.vaults.iter().find(|v| v.name == default_name);
    let policies = provision::default_policies(&identities.current(), config.tenant_id);
    vaults.ensure(&default_name, declared_default, config.tenant_id, &policies).await?;
    for settings in config.vaults.iter().filter(|v| v.name != default_name) {
        vaults.ensure(&settings.name, Some(settings), config.tenant_id, &policies).await?;
    }
    let hsm_users: Vec<_> = policies.iter().map(|p| p.object_id).collect();
    for settings in &config.hsms {
        provision::declare_hsm(&vaults, settings, config.tenant_id, &hsm_users).await?;
    }

    let facts = Arc::new(RuntimeFacts {
        owners: config.config_file.as_ref().map(|f| f.owners.clone()).unwrap_or_default(),
        domain: config.domain.clone(),
        tenant_id: config.tenant_id,
        ca_pem: ca.cert_pem.clone(),
        ready: AtomicBool::new(false),
        dashboard_token: api::dashboard::new_token(),
    });
    let keys =
        KeyService::new(pool.clone(), clock.clone(), master, RsaKeyPool::new(config.key_pool.clone()), key_versions);
    // Keys whose purge date passed while the emulator was stopped go before anyone can see them.
    keys.purge_due().await.map_err(|e| StartError::Purge(e.to_string()))?;
    if let Some(file) = &config.config_file {
        provision::apply_vaults(file, config.tenant_id, &identities.current(), &vaults, &keys)
            .await
            .map_err(StartError::Config)?;
        provision::apply_hsms(file, config.tenant_id, &identities.current(), &vaults)
            .await
            .map_err(StartError::Config)?;
    }
    let metrics = Arc::new(crate::metrics::Metrics::default());
    let audit = crate::audit::AuditLog::start(config.audit.clone(), pool.clone(), clock.clone(), identities.clone())
        .map_err(|source| StartError::DiagnosticsLog {
            path: config.audit.diagnostics_log.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            source,
        })?;
    let due_work = DueWorkScheduler::new(keys.clone(), vaults.clone());
    let state = AppState::from(Services {
        clock: clock.clone(),
        keys: keys.clone(),
        vaults,
        due_work: due_work.clone(),
        identities,
        validator: TokenValidator::new(issuer.clone(), &config.domain),
        issuer,
        attestation: Arc::default(),
        federation: Arc::default(),
        facts: facts.clone(),
        metrics: metrics.clone(),
        faults: Arc::default(),
        api_versions: Arc::new(crate::api_version::Policy::new(config.lenient_api_version)),
        audit,
    });

    let https_listener = bind(SocketAddr::new(config.bind, config.https_port))?;
    let http_listener = bind(SocketAddr::new(config.bind, config.http_port))?;
    let https_addr = https_listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr: SocketAddr::new(config.bind, config.https_port), source })?;
    let http_addr = http_listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr: SocketAddr::new(config.bind, config.http_port), source })?;

    let hosts = HostPolicy::new(&config.domain, &config.tls_sans);
    let bodies = Arc::new(BodyLimits::new(config.max_body_buffer_bytes, api::body::BODY_READ_TIMEOUT));
    let front_door = |port| {
        let door = FrontDoor {
            port,
            hosts: hosts.clone(),
            admin_token: config.admin_token.clone(),
            bodies: bodies.clone(),
            metrics: metrics.clone(),
        };
        axum::middleware::from_fn_with_state(Arc::new(door), api::front_door::front_door)
    };
    let connections =
        CappedAcceptor::new(Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1))), metrics.clone());

    let https_service = ServiceBuilder::new()
        .map_request(api::middleware::with_axum_body)
        .layer(front_door(Port::Https))
        .map_request(api::middleware::normalize_path)
        .service(api::router::https_router(state.clone()));
    let handle = axum_server::Handle::new();
    let mut https_server = axum_server::from_tcp_rustls(https_listener, rustls_config)
        .map_err(|source| StartError::Bind { addr: https_addr, source })?
        .map(|tls| tls.acceptor(connections.clone()))
        .handle(handle.clone());
    limit_connections(https_server.http_builder());
    let https_task = tokio::spawn(async move {
        if let Err(err) = https_server.serve(with_client_address(https_service)).await {
            tracing::error!(error = %err, "HTTPS listener stopped");
        }
    });

    let mut http_server = axum_server::from_tcp(http_listener)
        .map_err(|source| StartError::Bind { addr: http_addr, source })?
        .acceptor(connections)
        .handle(handle.clone());
    limit_connections(http_server.http_builder());
    let http_service = ServiceBuilder::new()
        .map_request(api::middleware::with_axum_body)
        .layer(front_door(Port::Http))
        .service(api::router::http_router(state.clone()));
    let http_task = tokio::spawn(async move {
        if let Err(err) = http_server.serve(with_client_address(http_service)).await {
            tracing::error!(error = %err, "HTTP listener stopped");
        }
    });

    let sweep_task = tokio::spawn(due_work.sweep(crate::due_work::SWEEP_INTERVAL));

    facts.mark_ready();
    // Only now, so that filling the pool never competes with start-up.
    state.keys.rsa_key_pool().start_refilling();
    Ok(RunningEmulator {
        https_addr,
        http_addr,
        domain: config.domain,
        tenant_id: config.tenant_id,
        ca_pem: ca.cert_pem,
        ca_path,
        clock,
        default_identity_client_id: default_identity.client_id,
        state,
        handle,
        tasks: vec![https_task, http_task],
        sweep_task,
        store: pool,
        _temp_dir: temp_dir,
    })
}

impl RunningEmulator {
    /// The shared state, for in-process tests that call services directly.
    #[must_use]
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting connections, lets requests in flight finish, and waits for both listeners.
    pub async fn shutdown(mut self) {
        self.sweep_task.abort();
        self.handle.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
        // Every finished request's audit record is committed, and the audit writer's own
        // connection closed, before the store closes.
        self.state.audit.close().await;
        // Closing the store checkpoints the WAL and removes it before shutdown returns, so the
        // data directory is complete and still when the caller looks at it.
        self.store.close().await;
    }
}

impl Drop for RunningEmulator {
    /// A test that ends (or panics) without `shutdown` still frees its ports and tasks.
    fn drop(&mut self) {
        self.sweep_task.abort();
        self.handle.shutdown();
        for task in &self.tasks {
            task.abort();
        }
    }
}
