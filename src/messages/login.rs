//! The Entra ID (login) plane's texts: the `error_description` of an `AadError`, after its
//! `AADSTS{code}:` prefix (`api/login.rs`). The AADSTS codes and the wording follow Entra's
//! answers; none is recorded in the contract, so all are [unverified].

use std::fmt::Display;

/// The full `error_description`: Entra's layout around one of the texts below.
#[must_use]
pub fn error_description(
    code: u32,
    description: &str,
    trace_id: impl Display,
    correlation_id: impl Display,
    timestamp: &str,
) -> String {
    format!("AADSTS{code}: {description} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}")
}

#[must_use]
pub fn unknown_tenant(tenant: &str) -> String {
    format!(
        "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
    )
}

/// The token issuer's key was not ready; the login and managed-identity planes both say this.
pub const TOKEN_SIGNING_FAILED: &str = "The emulator could not sign a token.";

pub const UNSUPPORTED_GRANT_TYPE: &str =
    "The app requested an unsupported grant type. The emulator supports client_credentials.";
pub const SCOPE_REQUIRED: &str = "The request body must contain the following parameter: 'scope'.";

#[must_use]
pub fn invalid_scope(scope: &str) -> String {
    format!(
        "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
    )
}

#[must_use]
pub fn unknown_client(client_id: &str, tenant: &str) -> String {
    format!(
        "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
    )
}

pub const CREDENTIAL_REQUIRED: &str =
    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.";
pub const INVALID_CLIENT_SECRET: &str = "Invalid client secret provided.";

#[must_use]
pub fn invalid_client_secret_of(client_id: impl Display) -> String {
    format!(
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
    )
}

pub const WRONG_ASSERTION_TYPE: &str = "JWT token is invalid or malformed: client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.";

#[must_use]
pub fn malformed_assertion(detail: impl Display) -> String {
    format!("JWT token is invalid or malformed ({detail}).")
}

#[must_use]
pub fn no_credential_for_issuer(issuer: &str) -> String {
    format!("No matching federated identity record found for presented assertion issuer '{issuer}'.")
}

#[must_use]
pub fn no_credential_for_audience(audiences: &str) -> String {
    format!("No matching federated identity record found for presented assertion audience '{audiences}'.")
}

#[must_use]
pub fn no_credential_for_subject(subject: &str) -> String {
    format!("No matching federated identity record found for presented assertion subject '{subject}'.")
}

#[must_use]
pub fn unregistered_assertion_key(kid: impl Display) -> String {
    format!(
        "The certificate with identifier '{kid}' used to sign the client assertion is not registered: the emulator verifies assertions its own workload-identity issuer signed (keyvault-emulator token --federated)."
    )
}

pub const ASSERTION_OUTSIDE_VALID_TIME: &str = "Client assertion is not within its valid time range.";

#[must_use]
pub fn issuer_unavailable(detail: impl Display) -> String {
    format!("federation key: {detail}")
}
