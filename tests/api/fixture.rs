//! The library fixture itself: what users' tests rely on.

use std::time::Duration;

use keyvault_emulator::{Config, Emulator};

#[tokio::test]
async fn dropping_the_handle_stops_the_emulator_and_frees_its_ports() {
    let emulator = Emulator::start(Config::in_memory()).await.unwrap();
    let (https, http) = (emulator.https_addr(), emulator.http_url());
    let client = emulator.http_client();
    let health = client.get(format!("{http}/_emulator/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    drop(emulator);
    let mut stopped = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(https).await.is_err() {
            stopped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(stopped, "the HTTPS port still accepts connections after drop");
    std::net::TcpListener::bind(https).expect("the port is free again");
}

#[tokio::test]
async fn the_client_reaches_every_vault_host_without_dns() {
    let emulator =
        Emulator::start(Config::in_memory().with_config_text("[[vault]]\nname = \"cmk\"\n").unwrap()).await.unwrap();
    let client = emulator.http_client();
    // Unauthenticated: the challenge proves the request reached the emulator over verified TLS.
    for vault in ["default", "cmk"] {
        let response = client.get(format!("{}/keys?api-version=2025-07-01", emulator.vault_url(vault))).send().await;
        let response = response.unwrap_or_else(|e| panic!("{vault}: {e}"));
        assert_eq!(response.status(), 401, "{vault}");
        assert!(response.headers().contains_key("www-authenticate"));
    }
    // Any name under the domain reaches the emulator, which answers for vaults it does not serve.
    let response = client.get(format!("{}/keys?api-version=2025-07-01", emulator.vault_url("nowhere"))).send().await;
    assert_eq!(response.unwrap().status(), 404);
}
