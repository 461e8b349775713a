//! Replays the committed fuzz corpus (fuzz/corpus/{target}/*) through the same entry points the
//! `cargo fuzz` targets call, on the stable toolchain: every input the fuzzer kept, and every
//! crash it found (saved there as a regression input once fixed), must run without a panic.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut inputs = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).expect("corpus input");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target}: {} panicked", path.display());
        inputs += 1;
    }
    assert!(inputs > 0, "{target}: the corpus is empty");
}

#[test]
fn token_corpus() {
    replay("token", keyvault_emulator::fuzzing::token);
}

#[test]
fn jwk_import_corpus() {
    replay("jwk_import", keyvault_emulator::fuzzing::jwk_import);
}

#[test]
fn backup_corpus() {
    replay("backup", keyvault_emulator::fuzzing::backup);
}

#[test]
fn bodies_corpus() {
    replay("bodies", keyvault_emulator::fuzzing::bodies);
}
