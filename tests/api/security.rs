//! The local attack surface (issue 15; README "Security model"): a web page's cross-site
//! request, a DNS-rebinding Host, malformed Hosts, slow and oversized bodies, connection floods,
//! the admin token and the data directory's modes, each driven as the hostile neighbour would,
//! with raw requests on both ports. Over 400 lines because each defence needs its own
//! raw-socket reproduction; they share the small HTTP/1.1 and TLS helpers at the top.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use keyvault_emulator::Config;
use serde_json::Value;

use crate::helpers::{API, TestVault, spawn, spawn_with};

/// A raw HTTP/1.1 answer: status, head (lower-cased) and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
    }
}

/// Reads one answer: the head, then as many body bytes as it declares (or to the end).
fn read_answer(stream: &mut impl Read) -> Result<Answer, String> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_none_or(|length| bytes.len() >= end + 4 + length) {
                let body_end = length.map_or(bytes.len(), |length| end + 4 + length);
                let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("no status")?;
                let body = String::from_utf8_lossy(&bytes[end + 4..body_end]).into_owned();
                return Ok(Answer { status, head, body });
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(format!("closed after {} bytes", bytes.len())),
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Sends `request` as is to the plain-HTTP port and reads the answer.
async fn plain(vault: &TestVault, request: String) -> Answer {
    let addr: SocketAddr = vault.emulator.http_url().trim_start_matches("http://").parse().unwrap();
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        read_answer(&mut stream).unwrap()
    })
    .await
    .unwrap()
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A TLS connection to `addr` trusting `ca_pem`, for server name `sni` (HTTP/1.1 only).
fn tls_connect(ca_pem: &str, addr: SocketAddr, sni: &str) -> TlsStream {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(sni.to_owned()).unwrap();
    let connection = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let socket = TcpStream::connect(addr).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    rustls::StreamOwned::new(connection, socket)
}

/// Sends `request` as is over TLS to the vault port and reads the answer.
async fn secure(vault: &TestVault, request: String) -> Answer {
    let (ca, addr, sni) =
        (vault.emulator.ca_pem().to_owned(), vault.emulator.https_addr(), vault.emulator.vault_host("default"));
    tokio::task::spawn_blocking(move || {
        let mut tls = tls_connect(&ca, addr, &sni);
        tls.write_all(request.as_bytes()).unwrap();
        tls.flush().unwrap();
        read_answer(&mut tls).unwrap()
    })
    .await
    .unwrap()
}

fn http_host(vault: &TestVault) -> String {
    vault.emulator.http_url().trim_start_matches("http://").to_owned()
}

async fn clock_offset(vault: &TestVault) -> i64 {
    let answer = plain(
        vault,
        format!("GET /_emulator/clock HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", http_host(vault)),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json()["offsetSeconds"].as_i64().unwrap()
}

fn post(path: &str, host: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\n{extra_headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn a_cross_site_request_cannot_move_the_clock_or_arm_faults() {
    let vault = spawn().await;
    let host = http_host(&vault);
    let advance = r#"{"advance":"P8D"}"#;
    // The reproduction: a "simple" request a page sends with no preflight.
    let answer = plain(
        &vault,
        post("/_emulator/clock", &host, "Content-Type: text/plain\r\nOrigin: http://evil.example\r\n", advance),
    )
    .await;
    assert_eq!((answer.status, answer.code()), (403, "Forbidden".to_owned()), "{answer:?}");
    assert_eq!(answer.json()["error"]["innererror"]["code"], "ForeignOrigin");
    // Without an Origin (a non-browser client forgot it), the content type alone refuses it.
    let answer = plain(&vault, post("/_emulator/clock", &host, "Content-Type: text/plain\r\n", advance)).await;
    assert_eq!(answer.status, 415, "{answer:?}");
    let fault = r#"{"vault":"default","count":1000,"status":503}"#;
    let answer = plain(&vault, post("/_emulator/faults", &host, "Content-Type: text/plain\r\n", fault)).await;
    assert_eq!(answer.status, 415, "{answer:?}");
    let answer =
        plain(&vault, post("/_emulator/faults", &host, "Content-Type: application/json\r\nOrigin: null\r\n", fault))
            .await;
    assert_eq!(answer.status, 403, "{answer:?}");
    let answer = plain(
        &vault,
        post(
            "/_emulator/vaults/default/authorization",
            &host,
            "Content-Type: application/x-www-form-urlencoded\r\n",
            "{}",
        )
        .replacen("POST", "PUT", 1),
    )
    .await;
    assert_eq!(answer.status, 415, "{answer:?}");

    assert_eq!(clock_offset(&vault).await, 0, "the clock has not moved");
    assert_eq!(vault.emulator.clock().offset(), 0);
    let faults =
        plain(&vault, format!("GET /_emulator/faults HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")).await;
    assert_eq!(faults.json()["value"], serde_json::json!([]), "no fault was armed");

    // The emulator's own page is same-origin, and may with the per-start token it carries.
    let own = format!("Content-Type: application/json\r\nOrigin: http://{host}\r\n");
    let answer = plain(&vault, post("/_emulator/clock", &host, &own, r#"{"advanceSeconds":60}"#)).await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(answer.json()["error"]["innererror"]["code"], "DashboardTokenMissing");
    let page = plain(&vault, format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")).await;
    let token = page
        .body
        .split(r#"name="kvemu-dashboard-token" content=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the dashboard carries its token")
        .to_owned();
    let with_token = format!("{own}X-Kvemu-Dashboard-Token: {token}\r\n");
    let answer = plain(&vault, post("/_emulator/clock", &host, &with_token, r#"{"advanceSeconds":60}"#)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(clock_offset(&vault).await, 60);
}

#[tokio::test]
async fn a_rebinding_host_gets_no_token_and_cannot_touch_anything() {
    let vault = spawn().await;
    let rebind = "rebind.evil.example:8080";
    let token_request = |host: &str, metadata: bool| {
        format!(
            "GET /_emulator/token?identity=admin&resource=https://management.azure.com/ HTTP/1.1\r\nHost: {host}\r\n{}Connection: close\r\n\r\n",
            if metadata { "Metadata: true\r\n" } else { "" }
        )
    };
    let answer = plain(&vault, token_request(rebind, true)).await;
    assert_eq!((answer.status, answer.code()), (421, "MisdirectedRequest".to_owned()), "{answer:?}");
    assert!(!answer.body.contains("access_token"));
    let msi = format!(
        "GET /msi/token?api-version=2019-08-01&resource=https://vault.azure.net HTTP/1.1\r\nHost: {rebind}\r\nX-IDENTITY-HEADER: x\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(plain(&vault, msi).await.status, 421);
    let imds = format!(
        "GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net HTTP/1.1\r\nHost: {rebind}\r\nMetadata: true\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(plain(&vault, imds).await.status, 421);
    let clock = post("/_emulator/clock", rebind, "Content-Type: application/json\r\n", r#"{"advance":"P8D"}"#);
    assert_eq!(plain(&vault, clock).await.status, 421);
    assert_eq!(vault.emulator.clock().offset(), 0, "the clock has not moved");

    // The vault port refuses it too, even with a valid token.
    let token = vault.token().await;
    let keys = format!(
        "GET /keys?{API} HTTP/1.1\r\nHost: rebind.evil.example:8443\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    let answer = secure(&vault, keys).await;
    assert_eq!((answer.status, answer.code()), (421, "MisdirectedRequest".to_owned()), "{answer:?}");

    // The token route wants `Metadata: true` even from a name it serves (no simple request, no
    // naive server-side fetch); with it, the token comes.
    let host = http_host(&vault);
    assert_eq!(plain(&vault, token_request(&host, false)).await.status, 400);
    let answer = plain(&vault, token_request(&host, true)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.json()["access_token"].is_string());
    let localhost = format!("localhost:{}", vault.emulator.http_port());
    assert_eq!(plain(&vault, token_request(&localhost, true)).await.status, 200);

    // Four refusals on the HTTP port and one on the HTTPS port are counted by reason.
    let metrics = refusal_metrics(&vault).await;
    assert!(
        metrics.contains(&"kvemu_front_door_refusals_total{port=\"http\",reason=\"host\"} 4".to_owned()),
        "{metrics:?}"
    );
    assert!(
        metrics.contains(&"kvemu_front_door_refusals_total{port=\"https\",reason=\"host\"} 1".to_owned()),
        "{metrics:?}"
    );
}

/// The `kvemu_front_door_refusals_total` lines of `/metrics`.
async fn refusal_metrics(vault: &TestVault) -> Vec<String> {
    let host = http_host(vault);
    let answer = plain(vault, format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.body.lines().filter(|line| line.starts_with("kvemu_front_door_refusals_total{")).map(str::to_owned).collect()
}

#[tokio::test]
async fn missing_or_malformed_hosts_are_400_with_the_key_vault_error_body() {
    let vault = spawn().await;
    let token = vault.token().await;
    let port = vault.emulator.https_port();
    let no_host = format!("GET /keys?{API} HTTP/1.1\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
    let answer = secure(&vault, no_host).await;
    assert_eq!((answer.status, answer.code()), (400, "BadParameter".to_owned()), "{answer:?}");
    for host in [
        format!("default.vault.localhost:{port}/x"),
        format!("user@default.vault.localhost:{port}"),
        "default.vault.localhost:99999".to_owned(),
        "default.vault.localhost:84x3".to_owned(),
    ] {
        let request = format!(
            "POST /keys/k/create?{API} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{{\"kty\":\"RSA\"}}"
        );
        let answer = secure(&vault, request).await;
        assert_eq!((answer.status, answer.code()), (400, "BadParameter".to_owned()), "{host}: {answer:?}");
    }
    let (status, _) = vault.call(reqwest::Method::GET, &format!("/keys/k?{API}"), None).await;
    assert_eq!(status, 404, "no key was created under a malformed Host");
    let answer = plain(&vault, "GET /_emulator/health HTTP/1.1\r\nConnection: close\r\n\r\n".to_owned()).await;
    assert_eq!(answer.status, 400, "{answer:?}");
}

#[tokio::test]
async fn authentication_and_the_413_come_from_the_headers_alone() {
    let vault = spawn().await;
    let host = format!("{}:{}", vault.emulator.vault_host("default"), vault.emulator.https_port());
    let (ca, addr, sni) =
        (vault.emulator.ca_pem().to_owned(), vault.emulator.https_addr(), vault.emulator.vault_host("default"));
    let token = vault.token().await;
    let cases = [
        // Token-less, a gibibyte declared: nothing of it is waited for.
        (String::new(), 1usize << 30, 413),
        // Token-less, a body the emulator would read: the 401 does not wait for it either.
        (String::new(), 500_000, 401),
        // A valid token and too much declared.
        (format!("Authorization: Bearer {token}\r\n"), 1 << 30, 413),
    ];
    for (auth, length, expected) in cases {
        let (ca, sni, host) = (ca.clone(), sni.clone(), host.clone());
        let (status, elapsed) = tokio::task::spawn_blocking(move || {
            let mut tls = tls_connect(&ca, addr, &sni);
            let head = format!(
                "POST /keys/x/create?{API} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
            );
            let started = Instant::now();
            tls.write_all(head.as_bytes()).unwrap();
            tls.flush().unwrap();
            (read_answer(&mut tls).unwrap().status, started.elapsed())
        })
        .await
        .unwrap();
        assert_eq!(status, expected);
        assert!(elapsed < Duration::from_secs(2), "answered after {elapsed:?}");
    }
}

#[tokio::test]
async fn a_stalled_body_is_cut_with_408_within_the_limit() {
    let vault = spawn().await;
    vault.create_rsa("k").await;
    let host = format!("{}:{}", vault.emulator.vault_host("default"), vault.emulator.https_port());
    let (ca, addr, sni) =
        (vault.emulator.ca_pem().to_owned(), vault.emulator.https_addr(), vault.emulator.vault_host("default"));
    let token = vault.token().await;
    let (answer, elapsed, closed) = tokio::task::spawn_blocking(move || {
        let mut tls = tls_connect(&ca, addr, &sni);
        let head = format!(
            "POST /keys/k/wrapkey?{API} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"alg\":"
        );
        let started = Instant::now();
        tls.write_all(head.as_bytes()).unwrap();
        tls.flush().unwrap();
        let answer = read_answer(&mut tls).unwrap();
        let elapsed = started.elapsed();
        let mut rest = [0u8; 64];
        let closed = matches!(tls.read(&mut rest), Ok(0) | Err(_));
        (answer, elapsed, closed)
    })
    .await
    .unwrap();
    assert_eq!((answer.status, answer.code()), (408, "RequestTimeout".to_owned()), "{answer:?}");
    assert!(answer.head.contains("connection: close"), "{}", answer.head);
    assert!(elapsed >= Duration::from_secs(9) && elapsed < Duration::from_secs(13), "cut after {elapsed:?}");
    assert!(closed, "the connection is closed after the 408");
    let metrics = refusal_metrics(&vault).await;
    assert!(
        metrics.contains(&"kvemu_front_door_refusals_total{port=\"https\",reason=\"body_timeout\"} 1".to_owned()),
        "{metrics:?}"
    );
}

#[tokio::test]
async fn bodies_beyond_the_shared_budget_are_503_and_the_budget_comes_back() {
    let config = Config { max_body_buffer_bytes: keyvault_emulator::api::MAX_BODY_BYTES, ..Config::in_memory() };
    let vault = spawn_with(config).await;
    vault.create_rsa("k").await;
    let host = format!("{}:{}", vault.emulator.vault_host("default"), vault.emulator.https_port());
    let (ca, addr, sni) =
        (vault.emulator.ca_pem().to_owned(), vault.emulator.https_addr(), vault.emulator.vault_host("default"));
    let token = vault.token().await;
    // An authenticated request declares most of the budget and stalls.
    let holder = {
        let (ca, sni, host, token) = (ca.clone(), sni.clone(), host.clone(), token.clone());
        std::thread::spawn(move || {
            let mut tls = tls_connect(&ca, addr, &sni);
            let head = format!(
                "POST /keys/k/wrapkey?{API} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{{"
            );
            tls.write_all(head.as_bytes()).unwrap();
            tls.flush().unwrap();
            read_answer(&mut tls).unwrap().status
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let wrap = serde_json::json!({"alg": "RSA-OAEP-256", "value": "A".repeat(100_000)});
    let response = vault
        .http
        .post(format!("{}/keys/k/wrapkey?{API}", vault.vault_url()))
        .bearer_auth(&token)
        .json(&wrap)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(tokio::task::spawn_blocking(move || holder.join().unwrap()).await.unwrap(), 408);
    let (status, body) = vault
        .call(
            reqwest::Method::POST,
            &format!("/keys/k/wrapkey?{API}"),
            Some(serde_json::json!({"alg": "RSA-OAEP-256", "value": "AAEC"})),
        )
        .await;
    assert_eq!(status, 200, "the budget came back: {body}");
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once() {
    let vault = spawn_with(Config { max_connections: 3, ..Config::in_memory() }).await;
    let addr: SocketAddr = http_host(&vault).parse().unwrap();
    let held: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = tokio::task::spawn_blocking(move || {
        let mut extra = TcpStream::connect(addr).unwrap();
        extra.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = extra.write_all(format!("GET /_emulator/health HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes());
        read_answer(&mut extra)
    })
    .await
    .unwrap();
    assert!(refused.is_err(), "a fourth connection is closed: {refused:?}");
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let answer =
        plain(&vault, format!("GET /_emulator/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")).await;
    assert_eq!(answer.status, 200, "closed connections give their place back");
    let metrics = refusal_metrics(&vault).await;
    assert!(
        metrics.contains(&"kvemu_front_door_refusals_total{port=\"any\",reason=\"connections\"} 1".to_owned()),
        "{metrics:?}"
    );
}

#[tokio::test]
async fn with_an_admin_token_the_http_port_asks_for_it() {
    let secret = "test-admin-token-0123456789";
    let vault = spawn_with(Config { admin_token: Some(secret.to_owned()), ..Config::in_memory() }).await;
    let host = http_host(&vault);
    let get = |path: &str, headers: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n")
    };
    assert_eq!(plain(&vault, get("/_emulator/health", "")).await.status, 200);
    assert_eq!(plain(&vault, get("/_emulator/ca.pem", "")).await.status, 200);
    let answer = plain(&vault, get("/_emulator/clock", "")).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(
        plain(&vault, get("/_emulator/clock", "Authorization: Bearer wrong-token-0123456789\r\n")).await.status,
        401
    );
    assert_eq!(
        plain(&vault, get("/_emulator/clock", &format!("Authorization: Bearer {secret}\r\n"))).await.status,
        200
    );
    let msi = "/msi/token?api-version=2019-08-01&resource=https://vault.azure.net";
    assert_eq!(plain(&vault, get(msi, "X-IDENTITY-HEADER: x\r\n")).await.status, 401);
    // As an IDENTITY_ENDPOINT prefix, which SDKs keep unchanged.
    let answer = plain(&vault, get(&format!("/{secret}{msi}"), "X-IDENTITY-HEADER: x\r\n")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let imds =
        format!("/{secret}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net");
    assert_eq!(plain(&vault, get(&imds, "Metadata: true\r\n")).await.status, 200);
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_is_0700_and_every_file_in_it_0600() {
    use std::os::unix::fs::PermissionsExt;
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("kv-data");
    let vault = spawn_with(Config::in_directory(&dir)).await;
    vault.create_rsa("k").await;
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        names.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    names.sort();
    for expected in
        ["ca-key.pem", "ca.pem", "keyvault.sqlite3", "keyvault.sqlite3-wal", "keyvault.sqlite3-shm", "master.key"]
    {
        assert!(names.iter().any(|n| n == expected), "{expected} in {names:?}");
    }
}

/// Resident memory of a process, from /proc.
#[cfg(target_os = "linux")]
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap()
}

/// The issue's reproduction against the binary: 100 token-less connections each send 1,000,000
/// bytes of a 1,048,000-byte body and stall. Each gets its 401 at once, nothing of the bodies is
/// kept, and every connection is closed within the body time limit (10 s). Measured on the
/// 2-core project machine (debug build): 17.7 MB before, 36.2 MB with the 100 connections open
/// (TLS and read buffers), 24.6 MB once they were closed; before this change the release build
/// went from 19 MB to 125 MB and kept all of them open after 30 s. The bound on the growth, 32 MiB,
/// stays far below the 100 MB the bodies would take if they were buffered.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hundred_stalled_uploads_leave_the_memory_bounded_and_are_closed() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    const RSS_BOUND_KIB: u64 = 32 * 1024;

    let mut child = Command::new(env!("CARGO_BIN_EXE_keyvault-emulator"))
        .args(["--in-memory", "--https-port", "0", "--http-port", "0", "--key-pool", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let (mut https_port, mut ca_path) = (None, None);
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("https://localhost:") {
            https_port = rest.split_whitespace().next().and_then(|p| p.parse::<u16>().ok());
        }
        if let Some(rest) = line.strip_prefix("CA certificate: ") {
            ca_path = rest.split("  (").next().map(str::to_owned);
        }
        if line == "ready" {
            break;
        }
    }
    let port = https_port.expect("the banner names the HTTPS port");
    let ca = std::fs::read_to_string(ca_path.expect("the banner names the CA file")).unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let before = rss_kib(child.id());

    let started = Instant::now();
    let uploads: Vec<_> = (0..100)
        .map(|_| {
            let ca = ca.clone();
            std::thread::spawn(move || {
                let mut tls = tls_connect(&ca, addr, "default.vault.localhost");
                let head = format!(
                    "POST /keys/x/create?{API} HTTP/1.1\r\nHost: default.vault.localhost:{port}\r\nContent-Type: application/json\r\nContent-Length: 1048000\r\n\r\n"
                );
                tls.write_all(head.as_bytes()).unwrap();
                let chunk = vec![b'A'; 100_000];
                for _ in 0..10 {
                    if tls.write_all(&chunk).is_err() {
                        break;
                    }
                }
                let _ = tls.flush();
                let answer = read_answer(&mut tls).map(|a| a.status);
                let mut rest = [0u8; 64];
                // Stalled: the emulator must close the connection itself.
                let closed = matches!(tls.read(&mut rest), Ok(0) | Err(_));
                (answer, closed, started.elapsed())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = rss_kib(child.id());
    let results: Vec<_> =
        tokio::task::spawn_blocking(move || uploads.into_iter().map(|u| u.join().unwrap()).collect()).await.unwrap();
    let after = rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    eprintln!("RSS before {before} KiB, with 100 stalled uploads {during} KiB, after {after} KiB");
    for (answer, closed, elapsed) in &results {
        assert_eq!(answer.as_ref().ok(), Some(&401), "{answer:?}");
        assert!(closed, "the stalled connection is closed by the emulator");
        assert!(*elapsed < Duration::from_secs(14), "closed after {elapsed:?}");
    }
    assert!(during.saturating_sub(before) < RSS_BOUND_KIB, "RSS grew from {before} KiB to {during} KiB");
}
