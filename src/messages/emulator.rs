//! The texts of the emulator's own controls (`/_emulator/*` on the plain-HTTP port, the
//! dashboard) and of the faults they inject. All are the emulator's own wording.

pub const JSON_CONTENT_TYPE_REQUIRED: &str =
    "Emulator controls that change state require 'Content-Type: application/json' (so that no web page can send them).";

/// A browser's write to the emulator controls without the dashboard's per-start token.
pub const DASHBOARD_TOKEN_MISSING: &str = "A browser may change the emulator's state only from its own dashboard: \
     send the per-start token of the page served at / in the X-Kvemu-Dashboard-Token header.";

pub const DASHBOARD_TOKEN_WRONG: &str = "The X-Kvemu-Dashboard-Token header does not hold this emulator's \
     per-start dashboard token (it changes at every start: reload the dashboard).";

pub const METADATA_HEADER_REQUIRED: &str = "Send the header 'Metadata: true' (as with IMDS), so that no web page or forged server-side request can mint a token.";

/// Key Vault's throttling message for 429; the others say plainly that they were asked for.
#[must_use]
pub fn injected_fault(status: u16, retry_after: Option<u32>) -> String {
    match (status, retry_after) {
        (429, Some(seconds)) => format!("Rate limit is exceeded. Try again in {seconds} seconds."),
        (503, _) => "The service is temporarily unavailable (injected by /_emulator/faults).".to_owned(),
        _ => "An unexpected error occurred (injected by /_emulator/faults).".to_owned(),
    }
}

// `/_emulator/clock`, `/_emulator/token`, authorization edits and the dashboard's views.

pub const CLOCK_CHANGE_AMBIGUOUS: &str =
    "Give exactly one of: advance (ISO-8601 duration), advanceSeconds, offsetSeconds, reset: true.";

#[must_use]
pub fn clock_offset_too_large(max: impl std::fmt::Display) -> String {
    format!("The clock may move at most {max} seconds (1,000 years) from the wall clock.")
}

#[must_use]
pub fn no_vault_named(name: &str) -> String {
    format!("No vault named '{name}'.")
}

#[must_use]
pub fn no_identity_named(name: &str) -> String {
    format!("No identity named '{name}'.")
}

#[must_use]
pub fn page_size_out_of_range(max: impl std::fmt::Display) -> String {
    format!("top must be between 1 and {max}.")
}

// `/_emulator/faults`.

#[must_use]
pub fn fault_count_out_of_range(max: impl std::fmt::Display) -> String {
    format!("count must be between 1 and {max}.")
}

pub const FAULT_STATUS_NOT_INJECTABLE: &str = "status must be 429, 500 or 503.";

#[must_use]
pub fn fault_retry_after_too_long(max: impl std::fmt::Display) -> String {
    format!("retryAfter must be at most {max} seconds.")
}

#[must_use]
pub fn fault_operation_unknown(name: &str, names: &str) -> String {
    format!("Unknown operation '{name}'; one of: {names}.")
}

// The audit API (`/_emulator/audit`, its stream and key usage).

#[must_use]
pub fn audit_query_invalid(error: impl std::fmt::Display) -> String {
    format!("The query string is not valid: {error}.")
}

pub const LAST_EVENT_ID_INVALID: &str = "Last-Event-ID must be the id of an audit event.";

#[must_use]
pub fn audit_parameter_unknown(name: &str, allowed: &str) -> String {
    format!("Unknown query parameter '{name}'. The parameters are: {allowed}.")
}

#[must_use]
pub fn audit_parameter_repeated(name: &str) -> String {
    format!("The query parameter '{name}' is given more than once.")
}

#[must_use]
pub fn audit_parameter_empty(name: &str) -> String {
    format!("The query parameter '{name}' is empty.")
}

#[must_use]
pub fn audit_decision_invalid(value: &str) -> String {
    format!("decision '{value}' is not valid: use 'allowed' or 'denied'.")
}

#[must_use]
pub fn audit_max_results_invalid(value: &str, max: impl std::fmt::Display) -> String {
    format!("maxResults '{value}' is not valid: use an integer from 1 to {max}.")
}

#[must_use]
pub fn audit_cursor_invalid(value: &str) -> String {
    format!("cursor '{value}' is not valid: take it from a nextLink.")
}

pub const AUDIT_TIME_RANGE_EMPTY: &str = "The time range is empty: 'from' is after 'to'.";

#[must_use]
pub fn audit_operation_unknown(value: &str, names: &str) -> String {
    format!("operation '{value}' is not an operation of the authorization table; one of: {names}.")
}

#[must_use]
pub fn audit_time_out_of_range(name: &str, value: &str) -> String {
    format!("{name} '{value}' is out of range.")
}

#[must_use]
pub fn audit_time_invalid(name: &str, value: &str) -> String {
    format!("{name} '{value}' is not a time: use RFC 3339 (2026-12-07T10:00:00Z) or Unix seconds.")
}
