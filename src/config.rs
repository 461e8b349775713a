//! The command line. Every flag also reads a `KVEMU_*` environment variable; the serve flags
//! become one [`Config`] that `server::start` takes by value.
//! Over 400 lines: every flag is declared once here with its variable, default and help text
//! (the one settings table, as STYLE asks), and its parsing tests sit beside it.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use uuid::Uuid;

use crate::config_file::ConfigFile;
use crate::connections::DEFAULT_MAX_CONNECTIONS;
use crate::keys::pool::{DEFAULT_KEY_POOL, KeyPoolSpec};
use crate::vaults::VaultSettings;

/// The tenant every vault and identity belongs to unless configured otherwise. Put the same
/// value in `AZURE_TENANT_ID` for credentials that need one.
pub const DEFAULT_TENANT_ID: Uuid = uuid::uuid!("7e6a71f0-2c3b-4d5e-8f90-a1b2c3d4e5f6");
pub const DEFAULT_DOMAIN: &str = "vault.localhost";
pub const DEFAULT_HTTPS_PORT: u16 = 8443;
pub const DEFAULT_HTTP_PORT: u16 = 8080;

/// A local Azure Key Vault: the keys REST API over HTTPS, state in SQLite, access-policy
/// authorization, and the managed-identity tokens it validates.
///
/// Vaults are served at https://{vault}.{domain}:{https-port}; any host that names no vault
/// (localhost, 127.0.0.1) is the vault "default". Managed-identity tokens come from
/// http://{bind}:{http-port}/msi/token (App Service protocol) and
/// /metadata/identity/oauth2/token (IMDS protocol). On start the emulator prints the URLs, the
/// CA file, an /etc/hosts line and environment variables for SDK clients, then `ready`.
/// Log verbosity follows KVEMU_LOG (for example `debug`); logs go to stderr.
#[derive(Debug, Parser)]
#[command(name = "keyvault-emulator", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the emulator (the default when no subcommand is given).
    Serve(ServeArgs),
    /// Exit 0 when a running emulator answers its health check (for container HEALTHCHECKs).
    Healthcheck(ClientArgs),
    /// Print an access token from a running emulator's managed-identity endpoint, for curl.
    Token {
        #[command(flatten)]
        client: ClientArgs,
        /// The resource (audience) to request a token for.
        #[arg(long, env = "KVEMU_TOKEN_RESOURCE", default_value = "https://vault.azure.net")]
        resource: String,
        /// Client id of a user-assigned identity; the default identity when omitted.
        #[arg(long, env = "KVEMU_TOKEN_CLIENT_ID", conflicts_with_all = ["identity", "federated"])]
        client_id: Option<String>,
        /// Any declared identity by name (managed identity or service principal).
        #[arg(long, conflicts_with = "federated")]
        identity: Option<String>,
        /// Instead of an access token, a federated assertion from the emulator's workload-identity
        /// issuer, for `client_assertion` (AZURE_FEDERATED_TOKEN_FILE).
        #[arg(long, requires = "subject")]
        federated: bool,
        /// The assertion's `sub` (with --federated).
        #[arg(long)]
        subject: Option<String>,
        /// The assertion's `iss` (with --federated); the emulator's issuer URL when omitted.
        #[arg(long)]
        issuer: Option<String>,
        /// The assertion's `aud` (with --federated).
        #[arg(long, default_value = "api://AzureADTokenExchange")]
        audience: String,
    },
    /// Print the CA certificate (PEM) of a data directory, creating the CA if needed.
    Ca {
        /// The data directory whose CA to print.
        #[arg(long, env = "KVEMU_DATA_DIR", default_value = "./kv-data")]
        data_dir: PathBuf,
    },
}

/// How a subcommand reaches a running emulator's plain-HTTP port.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Address of the running emulator.
    #[arg(long, env = "KVEMU_CONNECT", default_value = "127.0.0.1")]
    pub connect: IpAddr,
    /// Its plain-HTTP port.
    #[arg(long, env = "KVEMU_HTTP_PORT", default_value_t = DEFAULT_HTTP_PORT)]
    pub http_port: u16,
    /// The admin token it was started with, if any.
    #[arg(long, env = "KVEMU_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Args)]
pub struct ServeArgs {
    /// HTTPS port for the vaults and the login endpoints; 0 picks a free port.
    #[arg(long, env = "KVEMU_HTTPS_PORT", default_value_t = DEFAULT_HTTPS_PORT)]
    pub https_port: u16,
    /// Plain-HTTP port for managed identity and /_emulator controls; 0 picks a free port.
    #[arg(long, env = "KVEMU_HTTP_PORT", default_value_t = DEFAULT_HTTP_PORT)]
    pub http_port: u16,
    /// Address both listeners bind to (0.0.0.0 inside containers).
    #[arg(long, env = "KVEMU_BIND", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// DNS suffix of vault hosts: vault NAME is served at NAME.{domain}.
    #[arg(long, env = "KVEMU_DOMAIN", default_value = DEFAULT_DOMAIN)]
    pub domain: String,
    /// Tenant id (GUID) of the vaults, identities and tokens.
    #[arg(long, env = "KVEMU_TENANT_ID", default_value_t = DEFAULT_TENANT_ID)]
    pub tenant_id: Uuid,
    /// Directory for the SQLite database, master key and CA. Created if missing.
    #[arg(long, env = "KVEMU_DATA_DIR", default_value = "./kv-data")]
    pub data_dir: PathBuf,
    /// Keep all state in memory (nothing is written except a temporary CA file).
    #[arg(long, env = "KVEMU_IN_MEMORY")]
    pub in_memory: bool,
    /// A vault to serve besides `default`: NAME[:retention-days=N][:purge-protection].
    /// Repeat the flag for several; in the variable, separate them with ';'. Naming `default`
    /// sets the default vault's properties. Retention (7-90 days, default 90) is fixed when a
    /// vault is created; purge protection can be turned on later but never off.
    #[arg(long = "vault", env = "KVEMU_VAULTS", value_delimiter = ';', value_parser = VaultSettings::parse)]
    pub vaults: Vec<VaultSettings>,
    /// A Managed HSM to serve at https://NAME.managedhsm.{parent of --domain}:
    /// NAME[:retention-days=N][:purge-protection]. Repeat for several; in the variable, separate
    /// them with ';'. It starts activated (no security domain needed), with the emulator's
    /// default identity as its initial Administrator and as Crypto User at scope `/`.
    #[arg(long = "hsm", env = "KVEMU_HSMS", value_delimiter = ';', value_parser = VaultSettings::parse)]
    pub hsms: Vec<VaultSettings>,
    /// Log format.
    #[arg(long, env = "KVEMU_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Serve this certificate chain (PEM) instead of one issued by the local CA.
    #[arg(long, env = "KVEMU_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for --tls-cert.
    #[arg(long, env = "KVEMU_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// An extra DNS name or IP address for the HTTPS certificate, such as a compose service
    /// name (`kvemu`) that other containers use for the login endpoints. Repeat the flag for
    /// several; in the variable, separate them with ','.
    #[arg(long = "tls-san", env = "KVEMU_TLS_SANS", value_delimiter = ',', value_parser = parse_san)]
    pub tls_sans: Vec<String>,
    /// Also write the CA certificate (PEM) to this file at start, for example on a volume that
    /// client containers mount to trust the emulator.
    #[arg(long, env = "KVEMU_CA_COPY")]
    pub ca_copy: Option<PathBuf>,
    /// Pre-generated RSA keys to keep ready, so creates skip key generation: `0` turns the
    /// pool off, `N` keeps N RSA-2048 keys, `SIZE:DEPTH,...` sets each size (`2048:4,4096:1`).
    #[arg(long, env = "KVEMU_KEY_POOL", default_value = DEFAULT_KEY_POOL, value_parser = KeyPoolSpec::parse)]
    pub key_pool: KeyPoolSpec,
    /// A TOML file declaring tenants, identities, vaults with access policies or role
    /// assignments, and seed keys (see the README).
    #[arg(long, env = "KVEMU_CONFIG")]
    pub config: Option<PathBuf>,

    /// Also accept a data-plane api-version dated after every version this emulator knows, and
    /// serve it as the newest known one (warning once per version): for SDKs newer than the
    /// emulator. Off by default, as strict as Azure.
    #[arg(long, env = "KVEMU_LENIENT_API_VERSION")]
    pub lenient_api_version: bool,
    /// A secret (16 or more of A-Z a-z 0-9 - . _ ~) that every plain-HTTP route except
    /// /_emulator/health and /_emulator/ca.pem then requires: the emulator controls and the
    /// token endpoints. Send it as `Authorization: Bearer TOKEN`, or as the first path segment
    /// (IDENTITY_ENDPOINT=http://host:8080/TOKEN/msi/token). Set it when binding off loopback.
    #[arg(long, env = "KVEMU_ADMIN_TOKEN", value_parser = parse_admin_token, hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Open connections allowed across both ports; one more is closed at once.
    #[arg(long, env = "KVEMU_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::value_parser!(usize))]
    pub max_connections: usize,
    /// MiB of request bodies all requests together may hold in memory; beyond it a request is
    /// answered 503 with Retry-After.
    #[arg(long, env = "KVEMU_MAX_BODY_BUFFER_MIB", default_value_t = DEFAULT_BODY_BUFFER_MIB)]
    pub max_body_buffer_mib: usize,
}

/// Default of `--max-body-buffer-mib`.
pub const DEFAULT_BODY_BUFFER_MIB: usize = crate::api::body::DEFAULT_BODY_BUDGET_BYTES / (1024 * 1024);

/// An admin token: long enough not to be guessed, and usable as a URL path segment.
fn parse_admin_token(value: &str) -> Result<String, String> {
    let ok = value.len() >= 16 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if ok {
        Ok(value.to_owned())
    } else {
        Err("the admin token must be 16 or more of the characters A-Z a-z 0-9 - . _ ~".to_owned())
    }
}

/// A certificate name: an IP address, or a DNS name of letters, digits, '-' and '.'.
fn parse_san(value: &str) -> Result<String, String> {
    let name = value.trim().trim_end_matches('.').to_ascii_lowercase();
    let dns_label = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.parse::<IpAddr>().is_ok() || (name.len() <= 253 && name.split('.').all(dns_label)) {
        Ok(name)
    } else {
        Err(format!("'{value}' is neither a DNS name nor an IP address"))
    }
}

/// Where state lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Storage {
    InMemory,
    Directory(PathBuf),
}

/// Everything `server::start` needs, validated.
#[derive(Clone, Debug)]
pub struct Config {
    pub https_port: u16,
    pub http_port: u16,
    pub bind: IpAddr,
    pub domain: String,
    pub tenant_id: Uuid,
    pub storage: Storage,
    pub log_format: LogFormat,
    pub tls_files: Option<(PathBuf, PathBuf)>,
    /// Names the issued HTTPS certificate carries besides the loopback names and the domain.
    pub tls_sans: Vec<String>,
    pub ca_copy: Option<PathBuf>,
    pub vaults: Vec<VaultSettings>,
    /// Managed HSMs declared by `--hsm`: activated, the default identity administers and uses them.
    pub hsms: Vec<VaultSettings>,
    pub key_pool: KeyPoolSpec,
    pub config_file: Option<ConfigFile>,
    pub lenient_api_version: bool,
    /// Required on the plain-HTTP port when set (see `--admin-token`).
    pub admin_token: Option<String>,
    pub max_connections: usize,
    /// Bytes of request bodies all requests together may hold.
    pub max_body_buffer_bytes: usize,
}

impl Config {
    /// An in-memory emulator on free loopback ports: the test fixture's configuration.
    #[must_use]
    pub fn in_memory() -> Self {
        Self {
            https_port: 0,
            http_port: 0,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            domain: DEFAULT_DOMAIN.to_owned(),
            tenant_id: DEFAULT_TENANT_ID,
            storage: Storage::InMemory,
            log_format: LogFormat::Text,
            tls_files: None,
            tls_sans: Vec::new(),
            ca_copy: None,
            vaults: Vec::new(),
            hsms: Vec::new(),
            key_pool: KeyPoolSpec::parse(DEFAULT_KEY_POOL).unwrap_or_default(),
            config_file: None,
            lenient_api_version: false,
            admin_token: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_body_buffer_bytes: crate::api::body::DEFAULT_BODY_BUDGET_BYTES,
        }
    }

    /// As [`Config::in_memory`], with state in `dir`.
    /// Applies a config file; when it declares tenants, the first becomes the default tenant.
    #[must_use]
    pub fn with_config_file(mut self, file: ConfigFile) -> Self {
        self.tenant_id = file.default_tenant.unwrap_or(self.tenant_id);
        self.config_file = Some(file);
        self
    }

    /// Parses TOML config text (see [`ConfigFile`]) and applies it; for tests and embedders.
    pub fn with_config_text(self, toml: &str) -> Result<Self, String> {
        let file = ConfigFile::parse(toml, std::path::Path::new("(inline config)"), self.tenant_id)?;
        Ok(self.with_config_file(file))
    }

    #[must_use]
    pub fn in_directory(dir: impl Into<PathBuf>) -> Self {
        Self { storage: Storage::Directory(dir.into()), ..Self::in_memory() }
    }
}

impl TryFrom<ServeArgs> for Config {
    type Error = String;

    fn try_from(args: ServeArgs) -> Result<Self, String> {
        let domain = args.domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if domain.is_empty() || !domain.contains('.') || domain.split('.').any(str::is_empty) {
            return Err(format!(
                "--domain '{}' must be a DNS name with at least two labels, such as vault.localhost",
                args.domain
            ));
        }
        let config_file = args.config.as_deref().map(|path| ConfigFile::load(path, args.tenant_id)).transpose()?;
        // A config file that declares tenants decides the default tenant.
        let tenant_id = config_file.as_ref().and_then(|f| f.default_tenant).unwrap_or(args.tenant_id);
        Ok(Self {
            https_port: args.https_port,
            http_port: args.http_port,
            bind: args.bind,
            domain,
            tenant_id,
            storage: if args.in_memory { Storage::InMemory } else { Storage::Directory(args.data_dir) },
            log_format: args.log_format,
            tls_files: args.tls_cert.zip(args.tls_key),
            tls_sans: args.tls_sans,
            ca_copy: args.ca_copy,
            vaults: args.vaults,
            hsms: args.hsms,
            key_pool: args.key_pool,
            config_file,
            lenient_api_version: args.lenient_api_version,
            admin_token: args.admin_token,
            max_connections: args.max_connections.max(1),
            max_body_buffer_bytes: args.max_body_buffer_mib.max(1).saturating_mul(1024 * 1024),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let cli = Cli::try_parse_from(["keyvault-emulator"]).unwrap();
        let config = Config::try_from(cli.serve).unwrap();
        assert_eq!((config.https_port, config.http_port), (8443, 8080));
        assert_eq!(config.domain, "vault.localhost");
        assert_eq!(config.storage, Storage::Directory(PathBuf::from("./kv-data")));
        assert_eq!(config.tenant_id.to_string(), "7e6a71f0-2c3b-4d5e-8f90-a1b2c3d4e5f6");
    }

    #[test]
    fn in_memory_and_bad_domains() {
        let cli = Cli::try_parse_from(["keyvault-emulator", "--in-memory", "--https-port", "0"]).unwrap();
        let config = Config::try_from(cli.serve).unwrap();
        assert_eq!(config.storage, Storage::InMemory);
        assert_eq!(config.https_port, 0);
        let cli = Cli::try_parse_from(["keyvault-emulator", "--domain", "localhost"]).unwrap();
        assert!(Config::try_from(cli.serve).is_err());
    }

    #[test]
    fn vaults_from_flags() {
        let cli = Cli::try_parse_from([
            "keyvault-emulator",
            "--vault",
            "cmk:purge-protection",
            "--vault",
            "short:retention-days=7",
        ])
        .unwrap();
        let names: Vec<_> = cli.serve.vaults.iter().map(|v| v.name.as_str().to_owned()).collect();
        assert_eq!(names, ["cmk", "short"]);
        assert!(Cli::try_parse_from(["keyvault-emulator", "--vault", "cmk:retention-days=1"]).is_err());
    }

    #[test]
    fn key_pool_flag() {
        let default = Config::try_from(Cli::try_parse_from(["keyvault-emulator"]).unwrap().serve).unwrap();
        assert_eq!(default.key_pool.to_string(), "2048:4");
        let off = Cli::try_parse_from(["keyvault-emulator", "--key-pool", "0"]).unwrap();
        assert!(off.serve.key_pool.is_off());
        let sized = Cli::try_parse_from(["keyvault-emulator", "--key-pool", "2048:8,4096:1"]).unwrap();
        assert_eq!(sized.serve.key_pool.to_string(), "2048:8,4096:1");
        assert!(Cli::try_parse_from(["keyvault-emulator", "--key-pool", "1024:1"]).is_err());
    }

    #[test]
    fn extra_certificate_names() {
        let cli = Cli::try_parse_from(["keyvault-emulator", "--tls-san", "KVEMU", "--tls-san", "10.0.0.5"]).unwrap();
        assert_eq!(cli.serve.tls_sans, ["kvemu", "10.0.0.5"]);
        assert!(Cli::try_parse_from(["keyvault-emulator", "--tls-san", "bad name"]).is_err());
        assert!(Cli::try_parse_from(["keyvault-emulator", "--tls-san", "*.x"]).is_err());
    }

    #[test]
    fn admin_token_and_limits() {
        let config = Config::try_from(Cli::try_parse_from(["keyvault-emulator"]).unwrap().serve).unwrap();
        assert_eq!((config.admin_token, config.max_connections, config.max_body_buffer_bytes), (None, 1024, 64 << 20));
        let cli = Cli::try_parse_from([
            "keyvault-emulator",
            "--admin-token",
            "0123456789abcdef-_",
            "--max-connections",
            "10",
            "--max-body-buffer-mib",
            "8",
        ])
        .unwrap();
        let config = Config::try_from(cli.serve).unwrap();
        assert_eq!(config.admin_token.as_deref(), Some("0123456789abcdef-_"));
        assert_eq!((config.max_connections, config.max_body_buffer_bytes), (10, 8 << 20));
        assert!(Cli::try_parse_from(["keyvault-emulator", "--admin-token", "short"]).is_err());
        assert!(Cli::try_parse_from(["keyvault-emulator", "--admin-token", "0123456789abcdef/x"]).is_err());
    }

    #[test]
    fn tls_cert_needs_its_key() {
        assert!(Cli::try_parse_from(["keyvault-emulator", "--tls-cert", "c.pem"]).is_err());
    }
}
