//! The `keyvault-emulator` binary: serve (default), healthcheck, token, ca.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use keyvault_emulator::config::{Cli, ClientArgs, Command, LogFormat, ServeArgs};
use keyvault_emulator::{Config, Emulator};

/// mimalloc rather than glibc's malloc: the server allocates on one thread and frees on another
/// (the audit writer's batches go to SQLite's connection thread), which glibc's arenas handle
/// slowly. Only the binary: a program that embeds the emulator keeps its own allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option: its place in mimalloc v3's `mi_option_e` (a test checks it
/// by its default).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory stays with the process for reuse instead of going back to the OS a second
/// later. Under load, the pages returned between two audit batches were faulted back in (and
/// zeroed) by the next, on the core that serves requests: about 1.5 % of the unwrap benchmark's
/// throughput (bench/RESULTS.md, "Audit log on vs off"). The process keeps its peak instead,
/// which for a local emulator is tens of MiB.
#[allow(unsafe_code)]
fn keep_freed_memory() {
    // SAFETY: sets an integer in mimalloc's option table; any value is valid for this option.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(args),
        Some(Command::Healthcheck(client)) => healthcheck(&client),
        Some(Command::Token { client, resource, client_id, identity, federated, subject, issuer, audience }) => {
            let request = if federated {
                let mut query = vec![("subject", subject.unwrap_or_default()), ("audience", audience)];
                query.extend(issuer.map(|i| ("issuer", i)));
                format!("/_emulator/federated-token?{}", serde_urlencoded::to_string(&query).unwrap_or_default())
            } else if let Some(identity) = identity {
                let query = [("identity", identity), ("resource", resource)];
                format!("/_emulator/token?{}", serde_urlencoded::to_string(query).unwrap_or_default())
            } else {
                let mut query = vec![("api-version", "2019-08-01".to_owned()), ("resource", resource)];
                query.extend(client_id.map(|id| ("client_id", id)));
                format!("/msi/token?{}", serde_urlencoded::to_string(&query).unwrap_or_default())
            };
            token(&client, &request)
        }
        Some(Command::Ca { data_dir }) => print_ca(&data_dir),
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KVEMU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a terminal: escape codes are noise in files and `docker logs`, and cost
    // time on every event.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let config = match Config::try_from(args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    init_logging(config.log_format);
    let admin_token_required = config.admin_token.is_some();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let emulator = match Emulator::start(config).await {
            Ok(emulator) => emulator,
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::FAILURE;
            }
        };
        // Before the banner: a supervisor that stops the emulator as soon as it reads `ready`
        // must get a graceful shutdown, not the default action of the signal.
        let stop = stop_signal();
        print_banner(&emulator, admin_token_required);
        stop.await;
        tracing::info!("shutting down");
        emulator.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// What a user needs to connect, in a fixed order, ending with the line `ready`.
fn print_banner(emulator: &Emulator, admin_token_required: bool) {
    let port = emulator.https_port();
    let vaults = emulator.vaults();
    let mut out = String::new();
    out.push_str(&format!("keyvault-emulator {}\n", env!("CARGO_PKG_VERSION")));
    out.push_str("Vault URLs:\n");
    for vault in &vaults {
        let name = vault.name.as_str();
        out.push_str(&format!(
            "  {}  (vault \"{name}\"; {}, soft-delete retention {} days{})\n",
            emulator.vault_url(name),
            vault.recovery_level(),
            vault.soft_delete_retention_days,
            if vault.purge_protection { ", purge protection" } else { "" }
        ));
    }
    out.push_str(&format!(
        "  https://localhost:{port}  (also vault \"default\"; SDKs need challenge-resource verification off)\n"
    ));
    for hsm in emulator.managed_hsms() {
        let name = hsm.name.as_str();
        let activated = hsm.managed_hsm().is_some_and(|state| state.activated);
        out.push_str(&format!(
            "  {}  (managed HSM \"{name}\"; {}, soft-delete retention {} days{})\n",
            emulator.hsm_url(name),
            if activated { "activated" } else { "not activated" },
            hsm.soft_delete_retention_days,
            if hsm.purge_protection { ", purge protection" } else { "" }
        ));
    }
    out.push_str(&format!(
        "  Managed identity: {} (App Service), {}/metadata/identity/oauth2/token (IMDS)\n",
        emulator.identity_endpoint(),
        emulator.http_url()
    ));
    if let Some(admin) = emulator.identity(keyvault_emulator::auth::identity::DEFAULT_ADMIN) {
        out.push_str(&format!(
            "  Service principal \"admin\" (every key permission unless the config file says otherwise): tenant {}, client id {}, secret {}\n    authority host https://localhost:{port} (AZURE_AUTHORITY_HOST; token endpoint https://localhost:{port}/{}/oauth2/v2.0/token)\n",
            admin.tenant_id,
            admin.client_id,
            keyvault_emulator::auth::identity::DEFAULT_ADMIN_SECRET,
            admin.tenant_id
        ));
    }
    out.push_str(&format!(
        "  Management API: https://localhost:{port}  (subscription {}, owner \"admin\")\n",
        keyvault_emulator::auth::identity::default_subscription(emulator.tenant_id())
    ));
    out.push_str(&format!(
        "CA certificate: {}  (also {}/_emulator/ca.pem)\n",
        emulator.ca_path().display(),
        emulator.http_url()
    ));
    out.push_str(&format!(
        "Dashboard: {}{}{}\n",
        emulator.http_url(),
        if admin_token_required { "/<admin token>" } else { "" },
        keyvault_emulator::api::dashboard::PATH
    ));
    out.push_str("Where *.vault.localhost does not resolve, add to /etc/hosts:\n");
    let hosts: Vec<String> = vaults.iter().map(|v| emulator.vault_host(v.name.as_str())).collect();
    out.push_str(&format!("  127.0.0.1 {}\n", hosts.join(" ")));
    out.push_str("Environment for SDK clients (Python, Node and Rust read the same variables;\n");
    out.push_str(
        "  REQUESTS_CA_BUNDLE is for Python, NODE_EXTRA_CA_CERTS for Node, SSL_CERT_FILE for Rust, Go and .NET):\n",
    );
    for (name, value) in emulator.client_environment() {
        out.push_str(&format!("export {name}={value}\n"));
    }
    if admin_token_required {
        out.push_str(
            "The HTTP port requires the admin token (all but /_emulator/health and /_emulator/ca.pem): send\n  \
             Authorization: Bearer <admin token>, or prefix the path: IDENTITY_ENDPOINT=http://HOST:PORT/<admin token>/msi/token\n",
        );
    }
    if !emulator.bind_addr().is_loopback() {
        out.push_str(&off_loopback_warning(emulator, admin_token_required));
    }
    out.push_str("ready\n");
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}

/// What anyone who can reach the ports can do when they are not bound to loopback.
fn off_loopback_warning(emulator: &Emulator, admin_token_required: bool) -> String {
    let mut out =
        format!("Warning: listening on {}, not loopback. Anyone who can reach the ports can:\n", emulator.bind_addr());
    if admin_token_required {
        out.push_str(&format!(
            "  - HTTP port {}: only /_emulator/health and /_emulator/ca.pem without the admin token;\n    \
             with it, everything below.\n",
            emulator.http_port()
        ));
    } else {
        out.push_str(&format!(
            "  - HTTP port {}: mint tokens for every identity, the admin service principal and subscription owner\n    \
             included (/msi/token, IMDS, /_emulator/token); move the emulator clock, which purges soft-deleted\n    \
             keys for good; rewrite any vault's access policies and role assignments; inject faults.\n    \
             Start with --admin-token (KVEMU_ADMIN_TOKEN) to require a secret for all of that.\n",
            emulator.http_port()
        ));
    }
    out.push_str(&format!(
        "  - HTTPS port {}: get owner tokens from the login endpoint with the admin service principal's\n    \
         published secret, and with them use every vault and the management API.\n",
        emulator.https_port()
    ));
    out
}

/// Installs the SIGINT and SIGTERM handlers now and returns a future that ends at the first
/// of them.
#[cfg(unix)]
fn stop_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        match (interrupt, terminate) {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}

#[cfg(not(unix))]
fn stop_signal() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A minimal HTTP/1.1 GET over loopback, so the image needs no curl. Returns (status, body).
fn http_get(addr: SocketAddr, path_and_query: &str, headers: &[(&str, &str)]) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut request = format!("GET {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response"))?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

fn healthcheck(client: &ClientArgs) -> ExitCode {
    match http_get(SocketAddr::new(client.connect, client.http_port), "/_emulator/health", &[]) {
        Ok((200, _)) => ExitCode::SUCCESS,
        Ok((status, body)) => {
            eprintln!("unhealthy: HTTP {status} {body}");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("unhealthy: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the `access_token` (or `token`) the emulator's http port answers `path_and_query` with.
fn token(client: &ClientArgs, path_and_query: &str) -> ExitCode {
    let addr = SocketAddr::new(client.connect, client.http_port);
    let bearer = client.admin_token.as_ref().map(|token| format!("Bearer {token}"));
    // The identity header selects the default identity on /msi/token; `Metadata: true` is what
    // the /_emulator token routes ask for.
    let mut headers = vec![("X-IDENTITY-HEADER", keyvault_emulator::DEFAULT_IDENTITY_HEADER), ("Metadata", "true")];
    headers.extend(bearer.as_deref().map(|b| ("Authorization", b)));
    match http_get(addr, path_and_query, &headers) {
        Ok((200, body)) => {
            let token = serde_json::from_str::<serde_json::Value>(body.trim()).ok().and_then(|v| {
                v.get("access_token").or_else(|| v.get("token")).and_then(|t| t.as_str()).map(str::to_owned)
            });
            match token {
                Some(token) => {
                    println!("{token}");
                    ExitCode::SUCCESS
                }
                None => {
                    eprintln!("error: unexpected token response: {body}");
                    ExitCode::FAILURE
                }
            }
        }
        Ok((status, body)) => {
            eprintln!("error: HTTP {status}: {body}");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("error: cannot reach the emulator at {addr}: {err}");
            ExitCode::FAILURE
        }
    }
}

fn print_ca(data_dir: &std::path::Path) -> ExitCode {
    if let Err(err) = keyvault_emulator::files::prepare_private_dir(data_dir) {
        eprintln!("error: {}: {err}", data_dir.display());
        return ExitCode::FAILURE;
    }
    match keyvault_emulator::tls::LocalCa::load_or_create(Some(data_dir)) {
        Ok(ca) => {
            print!("{}", ca.cert_pem);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code)]
    fn the_option_kept_is_mimallocs_purge_delay() {
        // SAFETY: reads an integer from mimalloc's option table.
        let read = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        // No other option of mimalloc v3 defaults to 1000 (unless the environment set this one).
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(read(), 1000, "MI_OPTION_PURGE_DELAY names another option");
        }
        keep_freed_memory();
        assert_eq!(read(), -1);
    }
}
