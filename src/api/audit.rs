//! The audit log's read-only controls on the plain-HTTP port: `GET /_emulator/audit` (filtered,
//! paged), `GET /_emulator/audit/stream` (server-sent events), and
//! `GET /_emulator/keys/{vault}/{key}/usage`. All GETs that change nothing, under the same
//! front door (Host and Origin checks, admin token off loopback) as the other controls.

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use super::errors::{ApiError, ApiResult};
use super::routes::Routes;
use crate::audit::LiveRecord;
use crate::audit::filter::AuditFilter;
use crate::audit::record::AuditRecord;
use crate::messages;
use crate::store;

/// Records a stream replays after `Last-Event-ID` before going live.
const REPLAY_LIMIT: u32 = 1000;

pub fn router() -> Routes {
    Routes::new()
        .route("/_emulator/audit", get(list_audit))
        .route("/_emulator/audit/stream", get(stream_audit))
        .route("/_emulator/keys/{vault}/{key}/usage", get(key_usage))
}

fn query_pairs(query: Option<&str>) -> ApiResult<Vec<(String, String)>> {
    serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| ApiError::bad_parameter(crate::messages::emulator::audit_query_invalid(e)))
}

fn internal(err: &sqlx::Error) -> ApiError {
    ApiError::Internal { detail: format!("audit log: {err}") }
}

/// `GET /_emulator/audit`: newest first. `{"value": [record...], "nextLink": url|null,
/// "dropped": n}`.
async fn list_audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let pairs = query_pairs(query.as_deref())?;
    let (filter, page) = AuditFilter::parse(&pairs, true).map_err(ApiError::bad_parameter)?;
    state.audit.flush().await;
    let mut conn = state.audit.pool().acquire().await.map_err(|e| internal(&e))?;
    let mut records =
        store::audit::page(&mut conn, &filter, page.before, page.max_results + 1).await.map_err(|e| internal(&e))?;
    drop(conn);
    let more = records.len() > page.max_results as usize;
    records.truncate(page.max_results as usize);
    let next_link = match records.last() {
        Some(last) if more => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
            let mut next: Vec<(String, String)> =
                pairs.into_iter().filter(|(name, _)| !name.eq_ignore_ascii_case("cursor")).collect();
            next.push(("cursor".into(), last.id.to_string()));
            let query = serde_urlencoded::to_string(&next).unwrap_or_default();
            Some(format!("http://{host}/_emulator/audit?{query}"))
        }
        _ => None,
    };
    Ok(Json(serde_json::json!({ "value": records, "nextLink": next_link, "dropped": state.audit.dropped() }))
        .into_response())
}

/// `GET /_emulator/audit/stream`: one `audit` event per new record (the id is the record's
/// id), with the list's filters. With `Last-Event-ID`, the records after it come first. A
/// subscriber that falls behind gets a `lagged` event with how many it missed.
async fn stream_audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let pairs = query_pairs(query.as_deref())?;
    let (filter, _) = AuditFilter::parse(&pairs, false).map_err(ApiError::bad_parameter)?;
    let last_seen =
        match headers.get("last-event-id").map(|v| v.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok())) {
            None => None,
            Some(Some(id)) => Some(id),
            Some(None) => return Err(ApiError::bad_parameter(crate::messages::emulator::LAST_EVENT_ID_INVALID)),
        };
    // Subscribe before reading the backlog, so nothing falls between the two.
    let live = state.audit.subscribe();
    let mut backlog = Vec::new();
    if let Some(after) = last_seen {
        state.audit.flush().await;
        let mut conn = state.audit.pool().acquire().await.map_err(|e| internal(&e))?;
        backlog = store::audit::after(&mut conn, &filter, after, REPLAY_LIMIT).await.map_err(|e| internal(&e))?;
    }
    let newest_sent = backlog.last().map(|r| r.id).or(last_seen).unwrap_or(0);
    let events = audit_events(live, filter, backlog, newest_sent);
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

fn audit_event(record: &AuditRecord) -> Event {
    Event::default().event("audit").id(record.id.to_string()).json_data(record).unwrap_or_default()
}

fn audit_events(
    live: tokio::sync::broadcast::Receiver<LiveRecord>,
    filter: AuditFilter,
    backlog: Vec<AuditRecord>,
    newest_sent: i64,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let replay = stream::iter(backlog.into_iter().map(|record| Ok(audit_event(&record))));
    let live = stream::unfold((live, filter, newest_sent), |(mut live, filter, newest_sent)| async move {
        loop {
            match live.recv().await {
                Ok(LiveRecord { time_ms, record }) => {
                    if record.id > newest_sent && filter.matches(&record, time_ms) {
                        let event = audit_event(&record);
                        return Some((Ok(event), (live, filter, newest_sent)));
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    let event = Event::default().event("lagged").data(format!("{{\"missed\":{missed}}}"));
                    return Some((Ok(event), (live, filter, newest_sent)));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    stream::StreamExt::chain(replay, live)
}

/// `GET /_emulator/keys/{vault}/{key}/usage`.
async fn key_usage(State(state): State<AppState>, Path((vault, key)): Path<(String, String)>) -> ApiResult<Response> {
    if state.vaults.get(&vault).is_none() {
        return Err(ApiError::VaultNotFound { message: messages::data_plane::vault_not_found(&vault) });
    }
    state.audit.flush().await;
    let mut conn = state.audit.pool().acquire().await.map_err(|e| internal(&e))?;
    let uses = store::audit::uses_by_caller(&mut conn, &vault, &key).await.map_err(|e| internal(&e))?;
    let denials = store::audit::last_denials(&mut conn, &vault, &key).await.map_err(|e| internal(&e))?;
    Ok(Json(crate::audit::usage::summarise(&vault, &key, uses, denials)).into_response())
}
