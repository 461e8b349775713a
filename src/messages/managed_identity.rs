//! The managed-identity plane's texts (`api/msi.rs`): the IMDS and App Service token endpoints'
//! `error_description` (or App Service's `message`). The IMDS texts follow the real endpoint's
//! answers; none is recorded in the contract, so all are [unverified]. The failure to sign a
//! token shares the login plane's text (`login::TOKEN_SIGNING_FAILED`).

pub const IMDS_V2_UNAVAILABLE: &str =
    "IMDSv2 (certificate-bound managed identity) is not available; use /metadata/identity/oauth2/token.";
pub const ONE_SELECTOR_ONLY: &str = "Only one of client_id, object_id and mi_res_id may be specified.";
pub const RESOURCE_REQUIRED: &str = "Required query variable 'resource' is missing";
pub const API_VERSION_REQUIRED: &str = "Required query variable 'api-version' is missing";
/// App Service's answer for an identity it cannot find.
pub const APP_SERVICE_IDENTITY_NOT_FOUND: &str = "Unable to load the proper Managed Identity.";
pub const IDENTITY_NOT_FOUND: &str = "Identity not found";
pub const IDENTITY_HEADER_REQUIRED: &str = "The X-IDENTITY-HEADER header is required.";
pub const METADATA_HEADER_MISSING: &str = "Required metadata header not specified";
