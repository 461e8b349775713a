//! The RSA-2048 private-key operations the emulator serves, timed in-process through the same
//! functions its handlers use: the ceiling for unwrapKey and sign over HTTPS, to set beside
//! `openssl speed rsa2048` (bench/bench.py reports both).
//!
//!     taskset -c 0 cargo bench --bench rsa_ops            # 3 s per operation
//!     taskset -c 0 cargo bench --bench rsa_ops -- 10      # or any number of seconds
//!
//! Prints operations per second for RSA-OAEP-256 decryption, RS256 signing of a digest, and
//! RSA-OAEP-256 encryption with the public key.

use std::time::{Duration, Instant};

use keyvault_emulator::crypto::{Hash, rsa};

fn rate(label: &str, seconds: f64, mut op: impl FnMut()) {
    let window = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < window {
        op();
        count += 1;
    }
    let per_second = count as f64 / start.elapsed().as_secs_f64();
    println!("{label:<34} {per_second:>9.0} ops/s   {:>7.1} µs/op", 1e6 / per_second);
}

fn main() {
    let seconds: f64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(3.0);
    let material = rsa::generate(2048).expect("RSA-2048 key");
    let decrypting = rsa::parse_decrypting(&material.pkcs8_der).expect("parsed for decryption");
    let signing = rsa::parse_signing(&material.pkcs8_der).expect("parsed for signing");
    let public = rsa::parse_public(&material.n, &material.e).expect("parsed public key");
    let secret = [7u8; 32];
    let wrapped = rsa::encrypt_with(&public, rsa::Padding::OaepSha256, &secret).expect("wrapped");
    let digest = [9u8; 32];

    rate("unwrap (RSA-OAEP-256 decrypt)", seconds, || {
        let out = rsa::decrypt_with(&decrypting, rsa::Padding::OaepSha256, &wrapped).expect("unwrap");
        assert_eq!(out, secret);
    });
    rate("sign (RS256, digest)", seconds, || {
        rsa::sign_digest_with(&signing, rsa::SignaturePadding::Pkcs1, Hash::Sha256, &digest).expect("sign");
    });
    rate("wrap (RSA-OAEP-256 encrypt)", seconds, || {
        rsa::encrypt_with(&public, rsa::Padding::OaepSha256, &secret).expect("wrap");
    });
}
