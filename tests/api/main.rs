//! Integration tests against a real emulator over HTTPS: one test binary, the files follow the
//! URL tree. `helpers` starts an emulator per test on free ports.

mod arm;
mod auth;
mod authorization;
mod az_endpoints;
mod backup;
mod concurrency;
mod deleted_keys;
mod faults;
mod fixture;
mod helpers;
mod identity;
mod import;
mod keys;
mod limits;
mod login;
mod metrics;
mod openapi;
mod persistence;
mod process;
mod release;
mod rotation;
mod sdk;
mod signatures;
mod symmetric;
