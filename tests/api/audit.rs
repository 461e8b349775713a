//! The audit log: `/_emulator/audit` (records, reasons for refusals, filters, paging),
//! `/_emulator/keys/{vault}/{key}/usage` (the Cosmos DB guide's question), the live stream,
//! `--diagnostics-log` (which leaves Graph records out), persistence across a restart,
//! retention, and requests that never wait for the log.
//! Over 400 lines: every endpoint and property of the one audit log is tested here, with the
//! shared vault set-up and request helpers at the top.

use std::time::{Duration, Instant};

use keyvault_emulator::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{API, TestVault, error_codes, spawn_with};

const CONFIG: &str = r#"
[[identity]]
name = "cosmos"
type = "user-assigned"

[[identity]]
name = "reader"
type = "user-assigned"

[[identity]]
name = "stranger"
type = "user-assigned"

[[vault]]
name = "cmk"
[[vault.access_policy]]
identity = "cosmos"
keys = ["get", "wrapKey", "unwrapKey"]
[[vault.access_policy]]
identity = "reader"
keys = ["get"]
"#;

async fn spawn_cmk(mut config: Config) -> TestVault {
    config = config.with_config_text(CONFIG).unwrap();
    spawn_with(config).await
}

impl TestVault {
    /// `method path` on vault `cmk` as identity `who`; returns status, body, `x-ms-request-id`.
    async fn call_by(&self, who: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value, String) {
        let token = self.emulator.token_for_identity(who, "https://vault.azure.net").await.unwrap();
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.emulator.vault_url("cmk")))
            .bearer_auth(token)
            .header("user-agent", format!("audit-test/{who}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let request_id = response.headers()["x-ms-request-id"].to_str().unwrap().to_owned();
        (status, response.json().await.unwrap_or_default(), request_id)
    }

    async fn audit(&self, query: &str) -> (StatusCode, Value) {
        let url = format!("{}/_emulator/audit?{query}", self.emulator.http_url());
        self.call_as(Method::GET, &url, None, None).await
    }
}

fn version_of(kid: &Value) -> String {
    kid.as_str().unwrap().rsplit('/').next().unwrap().to_owned()
}

#[tokio::test]
async fn records_say_who_did_what_and_which_rule_allowed_or_refused_it() {
    let vault = spawn_cmk(Config::in_memory()).await;
    let (status, key, _) =
        vault.call_by("admin", Method::POST, &format!("/keys/cmk/create?{API}"), Some(json!({"kty": "RSA"}))).await;
    assert_eq!(status, 200, "{key}");
    let wrap = json!({"alg": "RSA-OAEP-256", "value": "AAEC"});
    let (status, _, wrap_id) =
        vault.call_by("cosmos", Method::POST, &format!("/keys/cmk/wrapkey?{API}"), Some(wrap.clone())).await;
    assert_eq!(status, 200);
    let (status, _, lacking_id) =
        vault.call_by("reader", Method::POST, &format!("/keys/cmk/wrapkey?{API}"), Some(wrap.clone())).await;
    assert_eq!(status, 403);
    let (status, _, stranger_id) = vault.call_by("stranger", Method::GET, &format!("/keys/cmk?{API}"), None).await;
    assert_eq!(status, 403);

    let (status, page) = vault.audit("vault=cmk").await;
    assert_eq!(status, 200, "{page}");
    let records = page["value"].as_array().unwrap();
    assert_eq!(records.len(), 4, "{page}");
    assert_eq!(page["dropped"], 0);
    assert!(page["nextLink"].is_null());
    assert!(records.windows(2).all(|w| w[0]["id"].as_i64() > w[1]["id"].as_i64()), "newest first");

    let by_request = |id: &str| records.iter().find(|r| r["requestId"] == id).cloned().unwrap();
    let allowed = by_request(&wrap_id);
    let cosmos = vault.emulator.identity("cosmos").unwrap();
    assert_eq!(allowed["plane"], "vault");
    assert_eq!(allowed["operation"], "WrapKey");
    assert_eq!(allowed["key"], "cmk");
    assert_eq!(allowed["version"].as_str().unwrap(), version_of(&key["key"]["kid"]), "the version the service used");
    assert_eq!(allowed["decision"], "allowed");
    assert_eq!(allowed["status"], 200);
    assert_eq!(allowed["caller"]["name"], "cosmos");
    assert_eq!(allowed["caller"]["objectId"], cosmos.object_id.to_string());
    assert_eq!(allowed["caller"]["appId"], cosmos.client_id.to_string());
    assert_eq!(allowed["caller"]["tokenKind"], "userAssignedManagedIdentity");
    assert_eq!(allowed["rule"]["kind"], "accessPolicy");
    assert_eq!(allowed["rule"]["permission"], "wrapKey");
    assert_eq!(allowed["rule"]["accessPolicy"]["objectId"], cosmos.object_id.to_string());
    assert_eq!(allowed["userAgent"], "audit-test/cosmos");
    assert!(allowed["clientAddress"].as_str().unwrap().starts_with("127.0.0.1:"), "{allowed}");
    assert!(allowed["path"].as_str().unwrap().starts_with("/keys/cmk/wrapkey?api-version="));
    assert!(allowed["resourceId"].as_str().unwrap().ends_with("/providers/Microsoft.KeyVault/vaults/cmk"));
    for field in ["time", "wallTime"] {
        assert!(allowed[field].as_str().unwrap().ends_with('Z'), "{field}: {allowed}");
    }

    let lacking = by_request(&lacking_id);
    assert_eq!((lacking["decision"].as_str(), lacking["status"].as_u64()), (Some("denied"), Some(403)));
    assert_eq!(lacking["rule"]["kind"], "accessPolicy", "the caller's own policy, which lacks the permission");
    assert_eq!(lacking["rule"]["accessPolicy"]["permissions"], json!(["get"]));
    assert!(lacking["reason"].as_str().unwrap().contains("lacks key permission 'wrapKey'"), "{lacking}");

    let stranger = by_request(&stranger_id);
    assert_eq!(stranger["rule"]["kind"], "none", "no policy at all: {stranger}");
    assert!(stranger["reason"].as_str().unwrap().contains("no access policy"), "{stranger}");

    // Filters.
    let count = |page: &Value| page["value"].as_array().unwrap().len();
    assert_eq!(count(&vault.audit("vault=CMK&decision=denied").await.1), 2);
    assert_eq!(count(&vault.audit("caller=reader").await.1), 1);
    assert_eq!(count(&vault.audit(&format!("caller={}", cosmos.object_id)).await.1), 1);
    assert_eq!(count(&vault.audit("operation=wrapkey&decision=allowed").await.1), 1);
    assert_eq!(count(&vault.audit(&format!("key=cmk&version={}", version_of(&key["key"]["kid"]))).await.1), 1);
    assert_eq!(count(&vault.audit("vault=other").await.1), 0);
    assert_eq!(count(&vault.audit("to=1000").await.1), 0, "nothing before 1970 + 1000 s");
    assert_eq!(count(&vault.audit("from=2000-01-01T00:00:00Z&vault=cmk").await.1), 4);

    // Paging: no record twice, none missed.
    let (_, first) = vault.audit("vault=cmk&maxResults=3").await;
    assert_eq!(count(&first), 3);
    let next = first["nextLink"].as_str().unwrap().to_owned();
    assert!(next.contains("vault=cmk") && next.contains("cursor="), "{next}");
    let (status, second) = vault.call_as(Method::GET, &next, None, None).await;
    assert_eq!(status, 200);
    assert_eq!(count(&second), 1);
    assert!(second["nextLink"].is_null());
    assert_eq!(second["value"][0]["id"], records[3]["id"]);
}

#[tokio::test]
async fn bad_filters_are_a_400_in_the_emulator_planes_error_shape() {
    let vault = spawn_cmk(Config::in_memory()).await;
    for query in [
        "decision=maybe",
        "operation=Frobnicate",
        "from=yesterday",
        "maxResults=0",
        "colour=red",
        "vault=",
        "from=9&to=1",
    ] {
        let (status, body) = vault.audit(query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(error_codes(&body).0, "BadParameter", "{query}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    let url = format!("{}/_emulator/audit/stream?cursor=3", vault.emulator.http_url());
    let (status, body) = vault.call_as(Method::GET, &url, None, None).await;
    assert_eq!((status.as_u16(), error_codes(&body).0.as_str()), (400, "BadParameter"), "the stream does not page");
    let url = format!("{}/_emulator/keys/nosuchvault/cmk/usage", vault.emulator.http_url());
    assert_eq!(vault.call_as(Method::GET, &url, None, None).await.0, 404);
}

/// The Cosmos DB customer-managed-key guide: an old key version may be disabled once the audit
/// log shows no more activity on it. Which identity last used version 1 after the rotation?
#[tokio::test]
async fn usage_answers_which_identity_last_used_version_1_after_a_rotation() {
    let vault = spawn_cmk(Config::in_memory()).await;
    let (_, key, _) =
        vault.call_by("admin", Method::POST, &format!("/keys/cmk/create?{API}"), Some(json!({"kty": "RSA"}))).await;
    let v1 = version_of(&key["key"]["kid"]);
    let (_, wrapped, _) = vault
        .call_by(
            "cosmos",
            Method::POST,
            &format!("/keys/cmk/{v1}/wrapkey?{API}"),
            Some(json!({"alg": "RSA-OAEP", "value": "AAEC"})),
        )
        .await;
    let (status, rotated, _) = vault.call_by("admin", Method::POST, &format!("/keys/cmk/rotate?{API}"), None).await;
    assert_eq!(status, 200, "{rotated}");
    let v2 = version_of(&rotated["key"]["kid"]);
    let unwrap_v1 = json!({"alg": "RSA-OAEP", "value": wrapped["value"]});
    // After the rotation, the admin still unwraps with v1 once, then cosmos does, twice; a
    // versionless wrap resolves to v2; the reader is refused on v1.
    for who in ["admin", "cosmos", "cosmos"] {
        let (status, body, _) =
            vault.call_by(who, Method::POST, &format!("/keys/cmk/{v1}/unwrapkey?{API}"), Some(unwrap_v1.clone())).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, _, _) = vault
        .call_by(
            "cosmos",
            Method::POST,
            &format!("/keys/cmk/wrapkey?{API}"),
            Some(json!({"alg": "RSA-OAEP", "value": "AAEC"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _, denied_id) = vault
        .call_by("reader", Method::POST, &format!("/keys/cmk/{v1}/unwrapkey?{API}"), Some(unwrap_v1.clone()))
        .await;
    assert_eq!(status, 403);

    let url = format!("{}/_emulator/keys/cmk/cmk/usage", vault.emulator.http_url());
    let (status, usage) = vault.call_as(Method::GET, &url, None, None).await;
    assert_eq!(status, 200, "{usage}");
    let version = |v: &str| usage["versions"].as_array().unwrap().iter().find(|u| u["version"] == v).cloned().unwrap();
    let first = version(&v1);
    assert_eq!(first["lastUsed"]["caller"]["name"], "cosmos", "the answer: {first}");
    assert_eq!(first["lastUsed"]["operation"], "UnwrapKey");
    assert_eq!(first["useCount"], 4, "one wrap and three unwraps");
    let callers: Vec<(String, i64)> = first["callers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["caller"]["name"].as_str().unwrap().to_owned(), c["useCount"].as_i64().unwrap()))
        .collect();
    assert_eq!(callers, [("cosmos".to_owned(), 3), ("admin".to_owned(), 1)], "most recent first");
    assert_eq!(first["lastDenied"]["requestId"], denied_id.as_str());
    assert_eq!(first["lastDenied"]["caller"]["name"], "reader");
    let second = version(&v2);
    assert_eq!(second["useCount"], 1);
    assert_eq!(second["lastUsed"]["caller"]["name"], "cosmos");
    assert!(second["lastDenied"].is_null());
}

#[tokio::test]
async fn the_stream_sends_new_records_with_the_lists_filters_and_resumes_after_last_event_id() {
    let vault = spawn_cmk(Config::in_memory()).await;
    vault.call_by("admin", Method::POST, &format!("/keys/cmk/create?{API}"), Some(json!({"kty": "RSA"}))).await;
    let url = format!("{}/_emulator/audit/stream?vault=cmk&decision=denied", vault.emulator.http_url());
    let mut stream = vault.http.get(&url).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    vault.call_by("cosmos", Method::GET, &format!("/keys/cmk?{API}"), None).await;
    let (_, _, denied_id) = vault.call_by("stranger", Method::GET, &format!("/keys/cmk?{API}"), None).await;

    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text.contains("\n\n") {
        let chunk =
            tokio::time::timeout_at(deadline.into(), stream.chunk()).await.expect("an event in time").unwrap().unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        // Keep-alive comments carry no event.
        text = text.trim_start_matches(":\n\n").to_owned();
    }
    let event = text.split("\n\n").next().unwrap();
    assert!(event.contains("event: audit"), "{event}");
    let data = event.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let record: Value = serde_json::from_str(data).unwrap();
    assert_eq!(record["requestId"], denied_id.as_str(), "the allowed read was filtered out");
    let id = event.lines().find_map(|l| l.strip_prefix("id: ")).unwrap();
    assert_eq!(id, record["id"].to_string());
    drop(stream);

    // Resuming after an earlier id replays what came since.
    let response = vault
        .http
        .get(format!("{}/_emulator/audit/stream?vault=cmk", vault.emulator.http_url()))
        .header("last-event-id", "0")
        .send()
        .await
        .unwrap();
    let mut replay = response;
    let mut text = String::new();
    while text.matches("event: audit").count() < 3 {
        let chunk = tokio::time::timeout(Duration::from_secs(10), replay.chunk()).await.unwrap().unwrap().unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(text.contains(&denied_id), "{text}");
}

#[tokio::test]
async fn the_log_survives_a_restart_and_retention_keeps_it_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let vault = spawn_cmk(Config::in_directory(dir.path())).await;
    vault.call_by("admin", Method::POST, &format!("/keys/cmk/create?{API}"), Some(json!({"kty": "RSA"}))).await;
    for _ in 0..5 {
        vault.call_by("cosmos", Method::GET, &format!("/keys/cmk?{API}"), None).await;
    }
    let (_, before) = vault.audit("vault=cmk").await;
    assert_eq!(before["value"].as_array().unwrap().len(), 6);
    vault.emulator.shutdown().await;

    let vault = spawn_cmk(Config::in_directory(dir.path())).await;
    let (_, after) = vault.audit("vault=cmk").await;
    assert_eq!(after["value"], before["value"], "the same records after a restart");
    vault.call_by("cosmos", Method::GET, &format!("/keys/cmk?{API}"), None).await;
    let (_, newer) = vault.audit("vault=cmk&maxResults=1").await;
    assert!(newer["value"][0]["id"].as_i64() > before["value"][0]["id"].as_i64(), "ids are never reused");
    vault.emulator.shutdown().await;

    // A smaller count limit applies at the next start; so does an age limit.
    let mut config = Config::in_directory(dir.path());
    config.audit.max_records = 3;
    let vault = spawn_cmk(config).await;
    let (_, kept) = vault.audit("vault=cmk").await;
    assert_eq!(kept["value"].as_array().unwrap().len(), 3, "{kept}");
    assert_eq!(kept["value"][0]["id"], newer["value"][0]["id"], "the newest are kept");
    vault.emulator.shutdown().await;

    let config = Config::in_directory(dir.path()).with_config_text("[audit]\nmax_age = \"PT1S\"").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let vault = spawn_with(config).await;
    let (_, aged) = vault.audit("vault=cmk").await;
    assert_eq!(aged["value"], json!([]), "older than a second on the emulator clock: {aged}");
}

#[tokio::test]
async fn requests_do_not_wait_for_a_stalled_audit_writer() {
    let dir = tempfile::tempdir().unwrap();
    let vault = spawn_cmk(Config::in_directory(dir.path())).await;
    let (_, key, _) =
        vault.call_by("admin", Method::POST, &format!("/keys/cmk/create?{API}"), Some(json!({"kty": "RSA"}))).await;
    let v1 = version_of(&key["key"]["kid"]);
    let (_, wrapped, _) = vault
        .call_by(
            "cosmos",
            Method::POST,
            &format!("/keys/cmk/{v1}/wrapkey?{API}"),
            Some(json!({"alg": "RSA-OAEP", "value": "AAEC"})),
        )
        .await;
    let unwrap = json!({"alg": "RSA-OAEP", "value": wrapped["value"]});
    vault.audit("vault=cmk").await;

    // Another connection holds the database's write lock: the audit writer cannot commit.
    let other = keyvault_emulator::store::open(Some(dir.path())).await.unwrap();
    let lock = keyvault_emulator::store::begin_write(&other).await.unwrap();
    let started = Instant::now();
    for _ in 0..10 {
        let (status, body, _) = vault
            .call_by("cosmos", Method::POST, &format!("/keys/cmk/{v1}/unwrapkey?{API}"), Some(unwrap.clone()))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    // A request that waited for the log would wait out the writer's 10 s busy timeout.
    assert!(started.elapsed() < Duration::from_secs(8), "unwraps waited for the audit log: {:?}", started.elapsed());
    lock.rollback().await.unwrap();
    other.close().await;

    let (_, page) = vault.audit("vault=cmk&operation=UnwrapKey").await;
    assert_eq!(page["value"].as_array().unwrap().len(), 10, "written once the lock was released");
    let metrics =
        vault.http.get(format!("{}/metrics", vault.emulator.http_url())).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("kvemu_audit_dropped_total 0"), "{metrics}");
    assert!(metrics.contains("kvemu_audit_records_total 12"), "{metrics}");
}

#[tokio::test]
async fn the_diagnostics_log_has_azures_audit_event_fields() {
    use keyvault_emulator::audit::diagnostics::{FIELDS, PROPERTIES};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("diagnostics.jsonl");
    let mut config = Config::in_memory();
    config.audit.diagnostics_log = Some(path.clone());
    let vault = spawn_cmk(config).await;
    vault.call_by("admin", Method::POST, &format!("/keys/cmk/create?{API}"), Some(json!({"kty": "RSA"}))).await;
    let wrap = json!({"alg": "RSA-OAEP", "value": "AAEC"});
    let client_request_id = "5f0c6a51-3b22-4d6e-9a43-0a1b2c3d4e5f";
    let token = vault.emulator.token_for_identity("cosmos", "https://vault.azure.net").await.unwrap();
    let response = vault
        .http
        .post(format!("{}/keys/cmk/wrapkey?{API}", vault.emulator.vault_url("cmk")))
        .bearer_auth(token)
        .header("x-ms-client-request-id", client_request_id)
        .json(&wrap)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    vault.call_by("reader", Method::POST, &format!("/keys/cmk/wrapkey?{API}"), Some(wrap)).await;
    // A Graph lookup is in the audit log but not in the AuditEvent lines: Key Vault's log never
    // holds Graph calls.
    let graph_token = vault.emulator.token_for_identity("cosmos", "https://graph.microsoft.com").await.unwrap();
    let graph = format!("https://localhost:{}/v1.0/servicePrincipals", vault.emulator.https_port());
    assert_eq!(vault.call_as(Method::GET, &graph, Some(&graph_token), None).await.0, 200);
    let (_, graph_records) = vault.audit("operation=ListServicePrincipals").await;
    assert_eq!(graph_records["value"].as_array().unwrap().len(), 1, "{graph_records}");
    assert_eq!(graph_records["value"][0]["plane"], "graph");

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{text}");
    for line in &lines {
        let mut got: Vec<&str> = line.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = FIELDS.to_vec();
        expected.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, expected, "exactly the documented top-level fields: {line}");
        assert_eq!(line["category"], "AuditEvent");
        assert!(line["durationMs"].is_string());
        assert!(line["resourceId"].as_str().unwrap().ends_with("/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/CMK"));
        assert_eq!(line["operationVersion"], "2025-07-01");
        assert_eq!(line["callerIpAddress"], "127.0.0.1");
        for property in line["properties"].as_object().unwrap().keys() {
            assert!(PROPERTIES.contains(&property.as_str()), "undocumented property {property}");
        }
        for required in ["id", "clientInfo", "requestUri", "httpStatusCode", "isAccessPolicyMatch"] {
            assert!(!line["properties"][required].is_null(), "{required}: {line}");
        }
        assert!(line["identity"]["claim"]["appid"].is_string());
    }
    let (create, wrap, refused) = (&lines[0], &lines[1], &lines[2]);
    assert_eq!(create["operationName"], "KeyCreate");
    assert_eq!((wrap["operationName"].as_str(), wrap["resultType"].as_str()), (Some("KeyWrap"), Some("Success")));
    assert_eq!(wrap["resultSignature"], "OK");
    assert_eq!(wrap["correlationId"], client_request_id);
    assert_eq!(wrap["properties"]["httpStatusCode"], 200);
    assert_eq!(wrap["properties"]["isAccessPolicyMatch"], true);
    assert!(wrap["properties"]["requestUri"].as_str().unwrap().starts_with("https://cmk.vault.localhost:"));
    assert_eq!(refused["resultType"], "Failure");
    assert_eq!(refused["resultSignature"], "Forbidden");
    assert_eq!(refused["properties"]["isAccessPolicyMatch"], false);
    assert!(refused["resultDescription"].as_str().unwrap().contains("wrapKey"));
}
