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
