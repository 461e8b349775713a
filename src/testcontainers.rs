//! keyvault-emulator as an image for the `testcontainers` crate (feature `testcontainers`), for
//! tests that want the emulator in a container rather than in-process ([`crate::Emulator`]):
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use keyvault_emulator::testcontainers::{KeyVaultEmulatorContainer, KeyVaultEmulatorImage};
//!
//! let kv = KeyVaultEmulatorContainer::start(KeyVaultEmulatorImage::default()).await?;
//! let url = kv.vault_url("default"); // https://default.vault.localhost:{random port}
//! // azure_security_keyvault_keys::KeyClient::new(&url, kv.credential(), Some(KeyClientOptions {
//! //     client_options: ClientOptions { transport: Some(kv.transport()), ..Default::default() }, ..Default::default() }))
//! # Ok(()) }
//! ```
//!
//! Both ports are published on random loopback ports. The emulator takes a vault's name, the port
//! of key ids and the challenge's resource from the Host header, so the SDK's challenge check
//! passes on whatever port Docker picked; [`KeyVaultEmulatorContainer::transport`] trusts the
//! container's CA and sends every `*.vault.localhost` name to it without DNS.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use testcontainers::bollard::models::PortBinding;
use testcontainers::core::{ContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, Image, ImageExt, TestcontainersError};

/// The container's HTTPS port: vaults, login, management.
pub const HTTPS_PORT: ContainerPort = ContainerPort::Tcp(8443);
/// The container's plain-HTTP port: managed-identity tokens, `/_emulator`.
pub const HTTP_PORT: ContainerPort = ContainerPort::Tcp(8080);
const DOMAIN: &str = "vault.localhost";
const DEFAULT_IDENTITY_HEADER: &str = "keyvault-emulator";

/// The keyvault-emulator image (`docker build -f docker/Dockerfile -t keyvault-emulator .`),
/// running in memory.
#[derive(Debug, Clone)]
pub struct KeyVaultEmulatorImage {
    name: String,
    tag: String,
    env: Vec<(String, String)>,
}

impl Default for KeyVaultEmulatorImage {
    fn default() -> Self {
        Self::new("keyvault-emulator", "latest")
    }
}

impl KeyVaultEmulatorImage {
    /// The image `name:tag`, with state in memory (it goes with the container).
    #[must_use]
    pub fn new(name: impl Into<String>, tag: impl Into<String>) -> Self {
        Self { name: name.into(), tag: tag.into(), env: vec![("KVEMU_IN_MEMORY".into(), "true".into())] }
    }

    /// Sets one of the emulator's `KVEMU_*` variables (every flag has one).
    #[must_use]
    pub fn with_setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }
}

impl Image for KeyVaultEmulatorImage {
    fn name(&self) -> &str {
        &self.name
    }

    fn tag(&self) -> &str {
        &self.tag
    }

    /// The banner's last line, `ready` (the only stdout line with that word), printed once both
    /// ports serve: readiness, not a sleep.
    fn ready_conditions(&self) -> Vec<WaitFor> {
        vec![WaitFor::message_on_stdout("ready\n")]
    }

    fn env_vars(&self) -> impl IntoIterator<Item = (impl Into<Cow<'_, str>>, impl Into<Cow<'_, str>>)> {
        self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn expose_ports(&self) -> &[ContainerPort] {
        &[HTTPS_PORT, HTTP_PORT]
    }
}

/// A started emulator container and what an SDK client needs to reach it.
pub struct KeyVaultEmulatorContainer {
    container: ContainerAsync<KeyVaultEmulatorImage>,
    https_port: u16,
    http_port: u16,
    ca_pem: String,
    ca_file: tempfile::NamedTempFile,
}

impl std::fmt::Debug for KeyVaultEmulatorContainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVaultEmulatorContainer")
            .field("id", &self.container.id())
            .field("https_port", &self.https_port)
            .field("http_port", &self.http_port)
            .finish_non_exhaustive()
    }
}

/// Why a container could not be started or reached.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("container: {0}")]
    Container(#[from] TestcontainersError),
    #[error("reading the CA certificate from the container: {0}")]
    Ca(#[from] reqwest::Error),
    #[error("writing the CA certificate to a file: {0}")]
    CaFile(#[from] std::io::Error),
}

impl KeyVaultEmulatorContainer {
    /// Starts `image` with both ports on random host ports of 127.0.0.1 (anyone who reaches the
    /// plain-HTTP port can mint tokens, so not on every interface), waits for readiness and reads
    /// the CA certificate. The container is removed when this value is dropped.
    ///
    /// # Errors
    /// When the engine cannot start the container, it does not become ready in time (60 s), or
    /// its CA certificate cannot be read.
    pub async fn start(image: KeyVaultEmulatorImage) -> Result<Self, ContainerError> {
        let container = image
            .with_startup_timeout(std::time::Duration::from_secs(60))
            .with_host_config_modifier(|host_config| {
                let loopback =
                    |_| Some(vec![PortBinding { host_ip: Some("127.0.0.1".into()), host_port: Some(String::new()) }]);
                let bindings: HashMap<_, _> =
                    [HTTPS_PORT, HTTP_PORT].into_iter().map(|port| (port.to_string(), loopback(port))).collect();
                host_config.port_bindings = Some(bindings);
                host_config.publish_all_ports = Some(false);
            })
            .start()
            .await?;
        let https_port = container.get_host_port_ipv4(HTTPS_PORT).await?;
        let http_port = container.get_host_port_ipv4(HTTP_PORT).await?;
        let ca_url = format!("http://127.0.0.1:{http_port}/_emulator/ca.pem");
        let ca_pem = reqwest::get(ca_url).await?.error_for_status()?.text().await?;
        let mut ca_file = tempfile::Builder::new().prefix("kvemu-ca-").suffix(".pem").tempfile()?;
        std::io::Write::write_all(&mut ca_file, ca_pem.as_bytes())?;
        Ok(Self { container, https_port, http_port, ca_pem, ca_file })
    }

    /// The container, for logs, exec and the like.
    #[must_use]
    pub fn container(&self) -> &ContainerAsync<KeyVaultEmulatorImage> {
        &self.container
    }

    /// The host port of the container's HTTPS port.
    #[must_use]
    pub fn https_port(&self) -> u16 {
        self.https_port
    }

    /// The host port of the container's plain-HTTP port.
    #[must_use]
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// `https://{vault}.vault.localhost:{port}`.
    #[must_use]
    pub fn vault_url(&self, vault: &str) -> String {
        format!("https://{}.{DOMAIN}:{}", vault.to_ascii_lowercase(), self.https_port)
    }

    /// The plain-HTTP port: managed identity and `/_emulator`.
    #[must_use]
    pub fn control_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The managed-identity endpoint (App Service protocol, `IDENTITY_ENDPOINT`).
    #[must_use]
    pub fn identity_endpoint(&self) -> String {
        format!("{}/msi/token", self.control_url())
    }

    /// The CA certificate (PEM) that signs the container's HTTPS certificate.
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A file holding [`Self::ca_pem`], removed when this value is dropped.
    #[must_use]
    pub fn ca_file(&self) -> &std::path::Path {
        self.ca_file.path()
    }

    /// The variables the Azure SDKs read, for a child process: the vault, a managed identity
    /// (App Service protocol; `identity_header` picks it) and the CA.
    #[must_use]
    pub fn sdk_env(&self, vault: &str, identity_header: &str) -> Vec<(&'static str, String)> {
        let ca = self.ca_file().display().to_string();
        vec![
            ("AZURE_KEYVAULT_URL", self.vault_url(vault)),
            ("IDENTITY_ENDPOINT", self.identity_endpoint()),
            ("IDENTITY_HEADER", identity_header.to_owned()),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", self.control_url()),
            ("AZURE_AUTHORITY_HOST", format!("https://localhost:{}", self.https_port)),
            ("REQUESTS_CA_BUNDLE", ca.clone()),
            ("NODE_EXTRA_CA_CERTS", ca.clone()),
            ("SSL_CERT_FILE", ca),
        ]
    }

    /// A `reqwest` client that trusts only the container's CA and sends `localhost` and every
    /// `*.vault.localhost` name to 127.0.0.1 (the URL's port is kept).
    ///
    /// # Panics
    /// If the container's CA certificate does not parse, which would be a bug of the image.
    #[must_use]
    pub fn http_client(&self) -> reqwest::Client {
        crate::fixture::emulator_client(&self.ca_pem, DOMAIN, SocketAddr::from((Ipv4Addr::LOCALHOST, self.https_port)))
    }

    /// [`Self::http_client`] as an Azure SDK transport, for `ClientOptions::transport`.
    #[must_use]
    pub fn transport(&self) -> azure_core::http::Transport {
        azure_core::http::Transport::new(Arc::new(self.http_client()))
    }

    /// A credential of the default managed identity (every key permission on every vault unless
    /// a config file says otherwise), asking the container's managed-identity endpoint as
    /// `ManagedIdentityCredential` does with `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`.
    #[must_use]
    pub fn credential(&self) -> Arc<ManagedIdentityEndpointCredential> {
        self.credential_for(DEFAULT_IDENTITY_HEADER)
    }

    /// As [`Self::credential`], for the identity whose `identity_header` (config file) is given.
    #[must_use]
    pub fn credential_for(&self, identity_header: &str) -> Arc<ManagedIdentityEndpointCredential> {
        Arc::new(ManagedIdentityEndpointCredential {
            endpoint: self.identity_endpoint(),
            identity_header: identity_header.to_owned(),
            client: reqwest::Client::new(),
        })
    }
}

/// An Azure SDK credential that asks an App Service managed-identity endpoint for tokens.
#[derive(Debug, Clone)]
pub struct ManagedIdentityEndpointCredential {
    endpoint: String,
    identity_header: String,
    client: reqwest::Client,
}

#[derive(serde::Deserialize)]
struct EndpointToken {
    access_token: String,
    expires_on: serde_json::Value,
}

#[async_trait::async_trait]
impl TokenCredential for ManagedIdentityEndpointCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let fail = |message: String| azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, message);
        let scope = scopes.first().copied().ok_or_else(|| fail("no scope requested".into()))?;
        let resource = crate::auth::scope::resource_of(scope);
        let response = self
            .client
            .get(&self.endpoint)
            .query(&[("resource", resource), ("api-version", "2019-08-01")])
            .header("X-IDENTITY-HEADER", &self.identity_header)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| fail(format!("managed-identity endpoint {}: {e}", self.endpoint)))?;
        let token: EndpointToken = response.json().await.map_err(|e| fail(format!("token response: {e}")))?;
        // App Service answers expires_on as a string of Unix seconds; accept a number too.
        let expires_on = match &token.expires_on {
            serde_json::Value::String(s) => s.parse::<i64>().ok(),
            other => other.as_i64(),
        }
        .ok_or_else(|| fail(format!("token response: expires_on {}", token.expires_on)))?;
        let expires_on = time::OffsetDateTime::from_unix_timestamp(expires_on)
            .map_err(|e| fail(format!("token expiry {expires_on}: {e}")))?;
        Ok(AccessToken::new(token.access_token, expires_on))
    }
}
