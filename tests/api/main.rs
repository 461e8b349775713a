//! Integration tests against a real emulator over HTTPS: one test binary, the files follow the
//! URL tree. `helpers` starts an emulator per test on free ports.

mod api_versions;
mod arm;
mod arm_concurrency;
mod arm_identities;
mod arm_managed_hsms;
mod arm_roles;
mod audit;
mod auth;
mod authorization;
mod az_endpoints;
mod backup;
mod concurrency;
mod deleted_keys;
mod faults;
mod fixture;
mod helpers;
mod hsm;
mod identity;
mod import;
mod keys;
mod limits;
mod login;
mod metrics;
mod ml_dsa;
mod openapi;
mod persistence;
mod process;
mod release;
mod rotation;
mod sdk;
mod security;
mod signatures;
mod symmetric;
