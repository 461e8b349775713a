//! The texts of the checks before routing, on both ports (`api/front_door.rs`, `api/body.rs`):
//! Host, browser origin, admin token and request bodies. All are the emulator's own wording.

#[must_use]
pub fn body_too_large(limit: usize) -> String {
    format!("The request body is larger than {limit} bytes.")
}

#[must_use]
pub fn body_timed_out(limit: std::time::Duration) -> String {
    format!("The request body did not arrive within {} seconds; the connection is closed.", limit.as_secs())
}

pub const BODY_BUDGET_EXHAUSTED: &str =
    "The emulator is holding as many request bodies as it allows (--max-body-buffer-mib); retry the request.";

pub const MISSING_HOST: &str = "The request has no Host header; HTTP/1.1 requires one (RFC 9112 section 3.2).";

#[must_use]
pub fn malformed_host(why: &str) -> String {
    format!("The Host header is not a host and optional port: {why}.")
}

#[must_use]
pub fn host_not_served(host: &str) -> String {
    format!(
        "This emulator does not serve the host '{host}'. It answers to IP addresses, localhost and *.localhost, \
         its vault domain and the names given with --tls-san (this refusal defeats DNS rebinding)."
    )
}

#[must_use]
pub fn foreign_origin(origin: &str) -> String {
    format!("Requests from the web origin '{origin}' are refused: only the emulator's own pages may call it.")
}

pub const ADMIN_TOKEN_REQUIRED: &str = "This emulator was started with --admin-token: send 'Authorization: Bearer <admin token>', \
     or put the admin token as the first path segment (http://host:port/<admin token>/...).";

// What is wrong with a Host header, completing `malformed_host`.

pub const HOST_REPEATED: &str = "more than one Host header";
pub const HOST_NOT_TEXT: &str = "a Host header that is not text";

/// `why` is one of the `AUTHORITY_*` texts below.
#[must_use]
pub fn authority_problem(authority: &str, why: &str) -> String {
    format!("'{authority}' {why}")
}

pub const AUTHORITY_EMPTY: &str = "is empty";
pub const AUTHORITY_USERINFO: &str = "carries userinfo";
pub const AUTHORITY_PATH: &str = "carries a path";
pub const AUTHORITY_UNCLOSED_IPV6: &str = "has an unclosed IPv6 literal";
pub const AUTHORITY_BAD_IPV6: &str = "is not a valid IPv6 literal";
pub const AUTHORITY_AFTER_IPV6: &str = "has characters after the IPv6 literal";
pub const AUTHORITY_BAD_PORT: &str = "has an invalid port";
pub const AUTHORITY_NOT_A_HOST_NAME: &str = "is not a host name";
