//! The web dashboard: one page and its script and style, embedded in the binary and served on
//! the plain-HTTP port at `/`, and the rule that keeps its write actions to itself.
//!
//! Write actions (moving the clock, enabling or disabling a key version, faults, purges) are
//! ordinary `/_emulator` requests. Besides the front door's checks (own Host, own Origin, JSON
//! only), a state-changing `/_emulator` request that a browser makes must carry the per-start
//! dashboard token, which only the page served here knows: a cross-site page can neither read
//! that page (no CORS grant, and the Host check defeats DNS rebinding) nor frame it
//! (`frame-ancestors 'none'`). Scripts and SDK fixtures, which send no `Origin`, keep calling the
//! controls as before. The read views need no token.

mod views;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::errors::ApiError;
use super::routes::Routes;
use crate::messages;

/// The header the page sends its token in.
pub const TOKEN_HEADER: &str = "x-kvemu-dashboard-token";

/// Where the page is served; the banner prints it.
pub const PATH: &str = "/";

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
/// Where the page finds its token: the one placeholder in `index.html`.
const TOKEN_PLACEHOLDER: &str = "{{DASHBOARD_TOKEN}}";

/// Only the page's own script and style, no framing by any other page, no referrer.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub fn router() -> Routes {
    Routes::new()
        .route(PATH, get(page))
        .route("/_emulator/dashboard/app.js", get(script))
        .route("/_emulator/dashboard/app.css", get(style))
        .merge(views::router())
}

/// A fresh per-start token: 32 random bytes from AWS-LC, hex.
#[must_use]
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // Never a guessable token: fall back to the kernel's generator through uuid.
        bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn page(State(state): State<AppState>) -> Response {
    let html = INDEX_HTML.replace(TOKEN_PLACEHOLDER, &state.facts.dashboard_token);
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    protect(headers);
    response
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    protect(response.headers_mut());
    response
}

fn protect(headers: &mut HeaderMap) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

/// A state-changing `/_emulator` request from a browser (it carries `Origin` or
/// `Sec-Fetch-Site`, as every browser's POST, PUT, PATCH and DELETE does) needs the per-start
/// token; see the module header.
pub async fn browser_writes_need_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let headers = req.headers();
    let from_browser = headers.contains_key(header::ORIGIN) || headers.contains_key("sec-fetch-site");
    if changes && from_browser && req.uri().path().starts_with("/_emulator/") {
        let presented = headers.get(TOKEN_HEADER).map(HeaderValue::as_bytes);
        let expected = state.facts.dashboard_token.as_bytes();
        let refusal = match presented {
            None => Some((messages::emulator::DASHBOARD_TOKEN_MISSING, "DashboardTokenMissing")),
            Some(token) if aws_lc_rs::constant_time::verify_slices_are_equal(token, expected).is_err() => {
                Some((messages::emulator::DASHBOARD_TOKEN_WRONG, "DashboardTokenInvalid"))
            }
            Some(_) => None,
        };
        if let Some((message, inner)) = refusal {
            tracing::warn!(path = req.uri().path(), inner, "browser write refused: no valid dashboard token");
            return ApiError::Forbidden { message: message.to_owned(), inner }.into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests;
