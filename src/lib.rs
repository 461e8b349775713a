//! keyvault-emulator: a local Azure Key Vault (keys API) over HTTPS, with SQLite state and its
//! own managed-identity token issuer.
//!
//! Embed it in tests (feature `fixture`): [`Emulator::start`] serves an in-memory emulator on
//! free ports in milliseconds; the handle gives the vault URLs, the CA, an HTTPS client and an
//! Azure SDK transport that trust the CA and reach every `*.vault.localhost` host without DNS,
//! SDK credentials for any identity, and the clock. Dropping the handle stops the emulator.
//!
//! ```toml
//! [dev-dependencies]
//! keyvault-emulator = { git = "...", features = ["fixture"] }
//! ```
//!
//! ```
//! # #[cfg(feature = "fixture")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use azure_core::http::ClientOptions;
//! use azure_security_keyvault_keys::models::{CreateKeyParameters, KeyOperationParameters, KeyType};
//! use azure_security_keyvault_keys::{KeyClient, KeyClientOptions};
//! use keyvault_emulator::{Config, Emulator};
//!
//! let config = Config::in_memory().with_config_text(
//!     r#"
//!     [[vault]]
//!     name = "cmk"
//!     purge_protection = true
//!     "#,
//! )?;
//! let emulator = Emulator::start(config).await?;
//! let options = KeyClientOptions {
//!     client_options: ClientOptions { transport: Some(emulator.transport()), ..Default::default() },
//!     ..Default::default()
//! };
//! // The official SDK with its default checks: TLS against the emulator's CA, challenge resource.
//! let client = KeyClient::new(&emulator.vault_url("cmk"), emulator.credential("admin"), Some(options.clone()))?;
//!
//! let create = CreateKeyParameters { kty: Some(KeyType::Rsa), key_size: Some(2048), ..Default::default() };
//! let key = client.create_key("storage-cmk", create.try_into()?, None).await?.into_model()?;
//! let wrap = KeyOperationParameters {
//!     algorithm: Some("RSA-OAEP-256".parse()?),
//!     value: Some(vec![7; 32]),
//!     ..Default::default()
//! };
//! let wrapped = client.wrap_key("storage-cmk", wrap.try_into()?, None).await?.into_model()?;
//! assert_eq!(wrapped.kid, key.key.and_then(|jwk| jwk.kid));
//!
//! // A managed identity that the vault grants nothing is refused, as in Azure.
//! let stranger = KeyClient::new(&emulator.vault_url("cmk"), emulator.credential("stranger"), Some(options))?;
//! let refused = stranger.get_key("storage-cmk", None).await.unwrap_err();
//! assert_eq!(refused.http_status(), Some(azure_core::http::StatusCode::Forbidden));
//!
//! // Lifecycle rules follow the emulator clock; tokens keep the wall clock.
//! emulator.advance_clock(86_400).await?;
//! # Ok(()) }
//! # #[cfg(not(feature = "fixture"))]
//! # fn main() {}
//! ```

pub mod api;
pub mod api_version;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod config;
pub mod config_file;
pub mod connections;
pub mod crypto;
pub mod due_work;
pub mod faults;
pub mod files;
#[cfg(feature = "fixture")]
pub mod fixture;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod keys;
pub mod management;
pub mod messages;
pub mod metrics;
pub mod provision;
pub mod security_domain;
pub mod server;
pub mod store;
#[cfg(feature = "testcontainers")]
pub mod testcontainers;
pub mod tls;
pub mod vaults;

pub use config::Config;
pub use server::StartError;

/// `addr`, with an unspecified IP (`0.0.0.0`, `::`) replaced by the loopback address of its
/// family: where a client on the same host connects.
fn reachable(addr: std::net::SocketAddr) -> std::net::SocketAddr {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    std::net::SocketAddr::new(ip, addr.port())
}

/// A running emulator, started in-process.
#[derive(Debug)]
pub struct Emulator {
    inner: server::RunningEmulator,
}

/// The header value printed for `IDENTITY_HEADER`. With no configuration, any non-empty value
/// selects the default identity.
pub const DEFAULT_IDENTITY_HEADER: &str = "keyvault-emulator";

impl Emulator {
    /// Starts an emulator and returns once both listeners accept connections.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        Ok(Self { inner: server::start(config).await? })
    }

    #[must_use]
    pub fn https_port(&self) -> u16 {
        self.inner.https_addr.port()
    }

    #[must_use]
    pub fn http_port(&self) -> u16 {
        self.inner.http_addr.port()
    }

    /// `https://{vault}.{domain}:{port}`: the URL SDK clients take, challenge verification on.
    #[must_use]
    pub fn vault_url(&self, vault: &str) -> String {
        format!("https://{vault}.{}:{}", self.inner.domain, self.https_port())
    }

    /// `https://{hsm}.managedhsm.{parent of the domain}:{port}`: a Managed HSM's URL.
    #[must_use]
    pub fn hsm_url(&self, hsm: &str) -> String {
        format!("https://{hsm}.{}:{}", vaults::hsm_domain(&self.inner.domain), self.https_port())
    }

    /// Creates Managed HSM `name` as the management API does: with `initial_admins` as its
    /// Administrators, and not activated unless `activated` (a security domain download
    /// activates it). Declaring an existing HSM again adds admins and may activate it.
    ///
    /// # Errors
    /// A name that is not valid, or taken by a vault.
    pub async fn create_managed_hsm(
        &self,
        name: &str,
        initial_admins: &[uuid::Uuid],
        activated: bool,
    ) -> Result<std::sync::Arc<vaults::Vault>, vaults::VaultError> {
        let name = vaults::VaultName::parse(name)
            .ok_or_else(|| vaults::VaultError::Invalid(format!("'{name}' is not a valid managed HSM name")))?;
        let settings = vaults::VaultSettings::new(name);
        self.inner.state().vaults.ensure_hsm(&settings, self.tenant_id(), initial_admins, activated).await
    }

    /// Every Managed HSM this emulator serves.
    #[must_use]
    pub fn managed_hsms(&self) -> Vec<std::sync::Arc<vaults::Vault>> {
        self.inner.state().vaults.all_hsms()
    }

    /// Every vault this emulator serves, `default` included.
    #[must_use]
    pub fn vaults(&self) -> Vec<std::sync::Arc<vaults::Vault>> {
        self.inner.state().vaults.all()
    }

    /// The vault host name, for a resolver that maps it to the loopback address.
    #[must_use]
    pub fn vault_host(&self, vault: &str) -> String {
        format!("{vault}.{}", self.inner.domain)
    }

    /// The HTTPS listener's address (the loopback one when it listens on every address).
    #[must_use]
    pub fn https_addr(&self) -> std::net::SocketAddr {
        reachable(self.inner.https_addr)
    }

    /// The address the listeners are bound to (`0.0.0.0` inside containers).
    #[must_use]
    pub fn bind_addr(&self) -> std::net::IpAddr {
        self.inner.https_addr.ip()
    }

    /// The CA certificate (PEM) that issued the HTTPS certificate.
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        &self.inner.ca_pem
    }

    /// The CA certificate file (kept in the data directory, or a temporary one in memory).
    #[must_use]
    pub fn ca_path(&self) -> &std::path::Path {
        &self.inner.ca_path
    }

    /// `IDENTITY_ENDPOINT` for the App Service managed-identity protocol.
    #[must_use]
    pub fn identity_endpoint(&self) -> String {
        format!("{}/msi/token", self.http_url())
    }

    /// `http://{address}:{http-port}`, for the `/_emulator` controls and IMDS. When the
    /// emulator listens on every address (`0.0.0.0`, `::`), this names the loopback one, which
    /// a client on the same host can use; other containers use the host or service name.
    #[must_use]
    pub fn http_url(&self) -> String {
        format!("http://{}", reachable(self.inner.http_addr))
    }

    #[must_use]
    pub fn tenant_id(&self) -> uuid::Uuid {
        self.inner.tenant_id
    }

    /// The client id of the identity handed out when a token request selects none.
    #[must_use]
    pub fn default_identity_client_id(&self) -> uuid::Uuid {
        self.inner.default_identity_client_id
    }

    /// The emulator clock, which tests may move.
    #[must_use]
    pub fn clock(&self) -> &clock::Clock {
        &self.inner.clock
    }

    /// Moves the emulator clock by `seconds` and runs what became due (scheduled purges,
    /// policy rotations), as `POST /_emulator/clock` does.
    pub async fn advance_clock(&self, seconds: i64) -> Result<due_work::DueWork, keys::Error> {
        self.inner.clock.advance(seconds);
        self.inner.state().due_work.run().await
    }

    /// The environment variables that point SDK clients at this emulator, in print order.
    #[must_use]
    pub fn client_environment(&self) -> Vec<(&'static str, String)> {
        let ca = self.ca_path().display().to_string();
        vec![
            ("AZURE_KEYVAULT_URL", self.vault_url(vaults::DEFAULT_VAULT)),
            ("IDENTITY_ENDPOINT", self.identity_endpoint()),
            ("IDENTITY_HEADER", DEFAULT_IDENTITY_HEADER.to_owned()),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", self.http_url()),
            ("AZURE_TENANT_ID", self.tenant_id().to_string()),
            ("REQUESTS_CA_BUNDLE", ca.clone()),
            ("NODE_EXTRA_CA_CERTS", ca.clone()),
            ("SSL_CERT_FILE", ca),
        ]
    }

    /// A token for the identity `name`: a declared one, else a user-assigned identity whose ids
    /// derive from the tenant and the name, whether or not any vault grants it anything.
    pub async fn token_for_identity(&self, name: &str, resource: &str) -> Result<String, auth::issuer::IssuerError> {
        let state = self.inner.state();
        state.issuer.ready().await;
        let identity = state.identities.named_or_user_assigned(self.tenant_id(), name);
        Ok(state.issuer.issue_for_identity(&identity, resource)?.access_token)
    }

    /// A declared identity (or a default one: `default`, `admin`) by name.
    #[must_use]
    pub fn identity(&self, name: &str) -> Option<auth::identity::Identity> {
        self.inner.state().identities.by_name(name)
    }

    /// The path templates each listener serves, `(https, http)`: for checks that an API
    /// description covers every route.
    #[must_use]
    pub fn route_templates(&self) -> (Vec<String>, Vec<String>) {
        let https = api::router::https_routes(self.inner.state()).paths().to_vec();
        (https, api::router::http_routes().paths().to_vec())
    }

    /// Stops the listeners gracefully, letting requests in flight finish, and closes the store.
    /// Dropping the handle stops the emulator too, without waiting.
    pub async fn shutdown(self) {
        self.inner.shutdown().await;
    }
}
