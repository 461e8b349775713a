#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyvault_emulator::fuzzing::bodies(data));
