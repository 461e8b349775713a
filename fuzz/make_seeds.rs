//! Writes the token target's seed tokens into fuzz/corpus/token: tokens the fixed test key
//! signs, as the emulator issues them, so the fuzzer starts from valid tokens and mutates them.
//! (The JSON seeds of the other targets are request bodies from the Key Vault REST examples and
//! the project's tests, committed as they are.)
//!
//!     cargo run --bin make_seeds

use std::path::Path;

use keyvault_emulator::fuzzing::seed_token;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/token");
    std::fs::create_dir_all(&dir).expect("corpus directory");
    let seeds = [
        ("vault", seed_token("svc", "https://vault.azure.net")),
        ("vault-domain", seed_token("svc", "https://vault.localhost:8443")),
        ("management", seed_token("admin", "https://management.azure.com/")),
    ];
    for (name, token) in seeds {
        std::fs::write(dir.join(format!("seed-{name}")), token).expect("seed written");
    }
    std::fs::write(dir.join("seed-not-a-jwt"), "not.a.jwt").expect("seed written");
}
