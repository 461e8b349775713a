//! Many writers at once on one key: nothing is lost, the current version is the last created,
//! and no request sees a 5xx (a busy store is waited for, never surfaced).

use std::collections::BTreeSet;

use futures::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{API, TestVault, spawn_with};

const WRITERS: usize = 500;

async fn send(vault: &TestVault, token: &str, method: reqwest::Method, url: String, body: Value) -> (u16, Value) {
    let response = vault.http.request(method, url).bearer_auth(token).json(&body).send().await.expect("sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// Every version of `name`, in creation order, following nextLink.
async fn versions(vault: &TestVault, token: &str, name: &str) -> Vec<String> {
    let mut url = format!("{}/keys/{name}/versions?{API}", vault.vault_url());
    let mut kids = Vec::new();
    loop {
        let page: Value = vault.http.get(&url).bearer_auth(token).send().await.unwrap().json().await.unwrap();
        kids.extend(page["value"].as_array().unwrap().iter().map(|v| v["kid"].as_str().unwrap().to_owned()));
        match page["nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => return kids,
        }
    }
}

async fn current_version(vault: &TestVault, token: &str) -> Value {
    let url = format!("{}/keys/hot?{API}", vault.vault_url());
    vault.call_as(reqwest::Method::GET, &url, Some(token), None).await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_concurrent_versions_and_updates_lose_nothing() {
    // A file-backed store (synchronous=FULL, one fsync per write) is where contention shows.
    let dir = tempfile::tempdir().unwrap();
    let vault = spawn_with(keyvault_emulator::Config::in_directory(dir.path())).await;
    let token = vault.token().await;
    vault.create_rsa("hot").await;

    let creates = (0..WRITERS).map(|_| {
        let url = format!("{}/keys/hot/create?{API}", vault.vault_url());
        send(&vault, &token, reqwest::Method::POST, url, json!({"kty": "EC", "crv": "P-256"}))
    });
    let created = join_all(creates).await;
    let failures: Vec<_> = created.iter().filter(|(status, _)| *status != 200).collect();
    assert!(failures.is_empty(), "{} of {WRITERS} creates failed, e.g. {:?}", failures.len(), failures.first());
    let created_kids: BTreeSet<String> =
        created.iter().map(|(_, body)| body["key"]["kid"].as_str().unwrap().to_owned()).collect();
    assert_eq!(created_kids.len(), WRITERS, "every create made its own version");

    let listed = versions(&vault, &token, "hot").await;
    assert_eq!(listed.len(), WRITERS + 1);
    assert!(created_kids.iter().all(|kid| listed.contains(kid)), "a created version is missing");
    let current = current_version(&vault, &token).await;
    assert_eq!(current["key"]["kid"].as_str(), listed.last().map(String::as_str), "current = last created");

    // One update per version, all at once: each version keeps its own.
    let updates = listed.iter().enumerate().map(|(i, kid)| {
        send(&vault, &token, reqwest::Method::PATCH, format!("{kid}?{API}"), json!({"tags": {"writer": i.to_string()}}))
    });
    let updated = join_all(updates).await;
    let failures: Vec<_> = updated.iter().filter(|(status, _)| *status != 200).collect();
    assert!(failures.is_empty(), "{} updates failed, e.g. {:?}", failures.len(), failures.first());
    for (i, kid) in listed.iter().enumerate() {
        let (_, version) = vault.call_as(reqwest::Method::GET, &format!("{kid}?{API}"), Some(&token), None).await;
        assert_eq!(version["tags"]["writer"], i.to_string(), "{kid} lost its update");
    }

    // And 500 updates of the one current version: every one answered, the last write stands whole.
    let updates = (0..WRITERS).map(|i| {
        let url = format!("{}/keys/hot?{API}", vault.vault_url());
        send(&vault, &token, reqwest::Method::PATCH, url, json!({"tags": {"a": i.to_string(), "b": i.to_string()}}))
    });
    let updated = join_all(updates).await;
    assert!(updated.iter().all(|(status, _)| *status == 200), "an update of the current version failed");
    let current = current_version(&vault, &token).await;
    assert_eq!(current["tags"]["a"], current["tags"]["b"], "an update was applied by halves");
}
