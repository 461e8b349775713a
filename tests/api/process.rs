//! The binary as users run it: its banner, its JSON logs, request ids on the plain-HTTP port.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[tokio::test]
async fn json_logs_carry_one_event_per_request_with_its_ids() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyvault-emulator"))
        .args(["--in-memory", "--https-port", "0", "--http-port", "0", "--key-pool", "0", "--log-format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut http_url = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("Managed identity: ") {
            http_url = rest.split("/msi/token").next().map(str::to_owned);
        }
        if line == "ready" {
            break;
        }
    }
    let http_url = http_url.expect("the banner names the managed-identity endpoint");

    let response = reqwest::Client::new()
        .get(format!("{http_url}/_emulator/health"))
        .header("x-ms-client-request-id", "client-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-ms-client-request-id"], "client-42");
    let request_id = response.headers()["x-ms-request-id"].to_str().unwrap().to_owned();
    assert_eq!(request_id.len(), 36);

    tokio::time::sleep(Duration::from_millis(100)).await;
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let events: Vec<serde_json::Value> =
        stderr.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))).collect();
    let request = events
        .iter()
        .find(|event| event["target"] == "request")
        .unwrap_or_else(|| panic!("no request event in {stderr}"));
    assert_eq!(request["fields"]["request_id"], request_id.as_str());
    assert_eq!(request["fields"]["client_request_id"], "client-42");
    assert_eq!(request["fields"]["route"], "/_emulator/health");
    assert_eq!(request["fields"]["status"], 200);
}

/// Starts the binary with `args` and returns it once it printed `ready`, with its banner.
fn start_binary(args: &[&str]) -> (std::process::Child, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyvault-emulator"))
        .args(["--https-port", "0", "--http-port", "0", "--key-pool", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut banner = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line == "ready" {
            return (child, banner);
        }
        banner.push(line);
    }
    let status = child.wait();
    panic!("the emulator exited ({status:?}) before ready: {banner:?}");
}

/// No `-wal` or `-shm` file left in `data_dir`: the store was closed, nothing needs recovery.
fn assert_database_closed(data_dir: &std::path::Path) {
    let leftovers: Vec<_> = std::fs::read_dir(data_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with("-wal") || name.ends_with("-shm"))
        .collect();
    assert!(leftovers.is_empty(), "the database was not closed: {leftovers:?}");
}

#[test]
fn sigterm_right_after_ready_shuts_down_cleanly_leaving_no_wal() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let (child, _) = start_binary(&["--data-dir", dir.path().to_str().unwrap()]);
        let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "exit status {:?}: not a graceful shutdown", output.status);
        assert_database_closed(dir.path());
    }
}

#[test]
fn listening_on_every_address_prints_loopback_urls_and_a_warning() {
    let (mut child, banner) = start_binary(&["--in-memory", "--bind", "0.0.0.0"]);
    child.kill().unwrap();
    let _ = child.wait();
    let exports: Vec<_> = banner.iter().filter(|l| l.starts_with("export ")).collect();
    assert!(exports.iter().any(|l| l.starts_with("export IDENTITY_ENDPOINT=http://127.0.0.1:")), "{exports:?}");
    assert!(!exports.iter().any(|l| l.contains("0.0.0.0")), "{exports:?}");
    assert!(banner.iter().any(|l| l.starts_with("Warning: listening on 0.0.0.0")));
    // Honest about what the ports allow (issue 15), and about the remedy.
    let text = banner.join("\n");
    for claim in ["mint tokens for every identity", "move the emulator clock", "rewrite any vault's", "--admin-token"] {
        assert!(text.contains(claim), "{claim} in {text}");
    }
}

#[test]
fn with_an_admin_token_the_banner_says_how_to_send_it() {
    let (mut child, banner) = start_binary(&["--in-memory", "--admin-token", "banner-test-token-0123456789"]);
    child.kill().unwrap();
    let _ = child.wait();
    let text = banner.join("\n");
    assert!(text.contains("The HTTP port requires the admin token"), "{text}");
    assert!(!text.contains("banner-test-token-0123456789"), "the banner never prints the secret");
}

/// The value of `export NAME=…` in the banner.
fn exported(banner: &[String], name: &str) -> String {
    let prefix = format!("export {name}=");
    banner.iter().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_else(|| panic!("no {name} in {banner:?}")).to_owned()
}

/// An HTTPS client for the vault the banner names, trusting only the emulator's CA, and a
/// managed-identity token for it.
async fn vault_client(banner: &[String]) -> (reqwest::Client, String, String) {
    let vault_url = exported(banner, "AZURE_KEYVAULT_URL");
    let ca = std::fs::read(exported(banner, "REQUESTS_CA_BUNDLE")).unwrap();
    let port: u16 = vault_url.rsplit(':').next().unwrap().parse().unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .resolve("default.vault.localhost", std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .build()
        .unwrap();
    let token: serde_json::Value = client
        .get(exported(banner, "IDENTITY_ENDPOINT"))
        .query(&[("resource", "https://vault.azure.net"), ("api-version", "2019-08-01")])
        .header("X-IDENTITY-HEADER", exported(banner, "IDENTITY_HEADER"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (client, vault_url, token["access_token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_and_keeps_its_write() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    // An RSA-4096 create with the key pool off takes long enough (key generation) to still be
    // running when the signal arrives; when it was not, try again.
    let mut attempts = 0;
    let (kid, banner) = loop {
        attempts += 1;
        assert!(attempts <= 5, "the create never outlasted the signal");
        let (child, banner) = start_binary(&["--data-dir", data_dir]);
        let (client, vault_url, token) = vault_client(&banner).await;
        let name = format!("in-flight-{attempts}");
        let create = tokio::spawn(
            client
                .post(format!("{vault_url}/keys/{name}/create?api-version=7.6"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"kty": "RSA", "key_size": 4096}))
                .send(),
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let in_flight = !create.is_finished();
        assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
        let response = create.await.unwrap().expect("the in-flight request gets its answer");
        assert_eq!(response.status(), 200, "the in-flight create completes");
        let body: serde_json::Value = response.json().await.unwrap();
        let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
        assert!(output.status.success(), "exit status {:?}: not a graceful shutdown", output.status);
        if in_flight {
            break (body["key"]["kid"].as_str().unwrap().to_owned(), banner);
        }
    };
    assert_database_closed(dir.path());
    drop(banner);

    // The write acknowledged during shutdown is there after a restart.
    let (mut child, banner) = start_binary(&["--data-dir", data_dir]);
    let (client, vault_url, token) = vault_client(&banner).await;
    let path = kid.split_once("/keys/").unwrap().1;
    let response =
        client.get(format!("{vault_url}/keys/{path}?api-version=7.6")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["key"]["kid"].as_str().unwrap().rsplit('/').next(), kid.rsplit('/').next());
    child.kill().unwrap();
    let _ = child.wait();
}
