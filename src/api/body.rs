//! Request bodies under a time limit and a byte budget, read only when a handler asks for them
//! (DESIGN.md, request flow). Authentication and the 413 are therefore decided from the headers:
//! a token-less 1 GiB upload gets its 401 at once, and no byte of it is buffered.
//!
//! A body the answer did not need is read and thrown away while the answer goes out (within the
//! same time limit and at most [`MAX_DRAINED_BYTES`]): a client that writes its whole body
//! before reading (Python's `ssl`, curl over HTTP/1.1) would otherwise see the connection reset
//! by the server closing on unread bytes, instead of the 401, 404 or 413.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Version, header};
use axum::response::{IntoResponse, Response};
use http_body::{Body as _, Frame};
use http_body_util::BodyExt as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::errors::ApiError;
use crate::messages;

/// The largest request body read (Key Vault's own requests are a few KiB; a backup blob of a
/// key with many versions stays well below).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How much of an unneeded body is read and dropped so that a client still sending receives
/// the answer rather than a reset connection; past it the connection is closed.
pub const MAX_DRAINED_BYTES: usize = 16 * MAX_BODY_BYTES;

/// A body must have arrived this long after its request head, or the answer is 408 and the
/// connection is closed. 1 MiB in 10 s is 100 KiB/s, far below any local or CI network.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Default for the bytes all requests together may hold in memory.
pub const DEFAULT_BODY_BUDGET_BYTES: usize = 64 * MAX_BODY_BYTES;

/// The limits every request body is read under, shared by both ports.
#[derive(Debug)]
pub struct BodyLimits {
    budget: Arc<Semaphore>,
    budget_bytes: usize,
    timeout: Duration,
}

impl BodyLimits {
    #[must_use]
    pub fn new(budget_bytes: usize, timeout: Duration) -> Self {
        let budget_bytes = budget_bytes.clamp(MAX_BODY_BYTES, Semaphore::MAX_PERMITS);
        Self { budget: Arc::new(Semaphore::new(budget_bytes)), budget_bytes, timeout }
    }

    /// Bytes of the budget not held by a request right now (for tests and metrics).
    #[must_use]
    pub fn available(&self) -> usize {
        self.budget.available_permits()
    }

    #[must_use]
    pub fn budget_bytes(&self) -> usize {
        self.budget_bytes
    }
}

/// Why reading a body stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyFailure {
    TooLarge,
    TimedOut,
    OverBudget,
    Broken,
}

impl BodyFailure {
    fn into_response(self, limits: &BodyLimits) -> Response {
        let error = match self {
            Self::TooLarge => {
                ApiError::PayloadTooLarge { message: messages::front_door::body_too_large(MAX_BODY_BYTES) }
            }
            Self::TimedOut => {
                ApiError::RequestTimeout { message: messages::front_door::body_timed_out(limits.timeout) }
            }
            Self::OverBudget => {
                ApiError::Overloaded { message: messages::front_door::BODY_BUDGET_EXHAUSTED.to_owned() }
            }
            Self::Broken => ApiError::bad_parameter(messages::data_plane::BROKEN_BODY),
        };
        let mut response = error.into_response();
        response.extensions_mut().insert(Refused(self.reason()));
        response
    }

    fn reason(self) -> &'static str {
        match self {
            Self::TooLarge => "body_too_large",
            Self::TimedOut => "body_timeout",
            Self::OverBudget => "body_budget",
            Self::Broken => "body_broken",
        }
    }
}

/// Marks a response the body limits made instead of the handler, so the front door can count
/// the refusal by its reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused(pub &'static str);

/// What the guarded body and the middleware that made it share.
struct Shared {
    /// The client's body; left here when a handler drops the request, so it can be drained.
    inner: Option<Body>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    declared: Option<usize>,
    read: usize,
    /// Budget bytes held for this request until its answer is sent.
    reserved: Option<OwnedSemaphorePermit>,
    budget: Arc<Semaphore>,
    failure: Option<BodyFailure>,
    ended: bool,
}

impl Shared {
    /// Holds budget for `needed` bytes in total; false when the budget cannot give them.
    fn reserve(&mut self, needed: usize) -> bool {
        let held = self.reserved.as_ref().map_or(0, OwnedSemaphorePermit::num_permits);
        if needed <= held {
            return true;
        }
        let Ok(more) = u32::try_from(needed - held) else { return false };
        match self.budget.clone().try_acquire_many_owned(more) {
            Ok(permit) => {
                match &mut self.reserved {
                    Some(reserved) => reserved.merge(permit),
                    None => self.reserved = Some(permit),
                }
                true
            }
            Err(_) => false,
        }
    }

    fn fail(&mut self, failure: BodyFailure) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.failure = Some(failure);
        Poll::Ready(Some(Err(axum::Error::new(format!("request body: {failure:?}")))))
    }

    fn poll_guarded(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Some(failure) = self.failure {
            return self.fail(failure);
        }
        if self.ended {
            return Poll::Ready(None);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            return self.fail(BodyFailure::TimedOut);
        }
        // The whole declared length is held at the first read, so that a request the budget
        // cannot take is refused before it has cost anything.
        if self.read == 0 && !self.reserve(self.declared.unwrap_or(0)) {
            return self.fail(BodyFailure::OverBudget);
        }
        let Some(inner) = self.inner.as_mut() else { return Poll::Ready(None) };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(_))) => self.fail(BodyFailure::Broken),
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.read = self.read.saturating_add(data.len());
                    if self.read > MAX_BODY_BYTES {
                        return self.fail(BodyFailure::TooLarge);
                    }
                    if !self.reserve(self.read) {
                        return self.fail(BodyFailure::OverBudget);
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }
}

/// The body handlers see: the client's, read under the limits.
struct GuardedBody(Arc<Mutex<Shared>>);

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.0.lock() {
            Ok(mut shared) => shared.poll_guarded(cx),
            Err(_) => Poll::Ready(Some(Err(axum::Error::new("request body lock poisoned")))),
        }
    }
}

fn declared_length(req: &Request) -> Option<usize> {
    req.headers().get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// Runs `next` with the request's body under `limits`: 413 from Content-Length before anything
/// is read; 408, 413 or 503 when reading stops; the unneeded rest drained after answering.
pub async fn limit_body<F, Fut>(limits: &BodyLimits, req: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let version = req.version();
    let declared = declared_length(&req);
    // A client waiting for `100 Continue` has not sent its body: none is solicited to drain it.
    let awaits_continue =
        req.headers().get(header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let (parts, body) = req.into_parts();
    let deadline = tokio::time::Instant::now() + limits.timeout;
    if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
        let response = BodyFailure::TooLarge.into_response(limits);
        let drainable = declared.is_some_and(|length| length <= MAX_DRAINED_BYTES) && !awaits_continue;
        return answer_then_drain(response, version, drainable.then_some(body), deadline, MAX_DRAINED_BYTES);
    }
    let shared = Arc::new(Mutex::new(Shared {
        inner: Some(body),
        deadline: Box::pin(tokio::time::sleep_until(deadline)),
        declared,
        read: 0,
        reserved: None,
        budget: limits.budget.clone(),
        failure: None,
        ended: false,
    }));
    let guarded = Body::new(GuardedBody(shared.clone()));
    let response = next(Request::from_parts(parts, guarded)).await;

    let (failure, rest, read) = match shared.lock() {
        Ok(mut shared) => {
            let rest = if shared.ended { None } else { shared.inner.take() };
            // The answer is made: the bytes the handler held are gone.
            shared.reserved = None;
            (shared.failure, rest, shared.read)
        }
        Err(_) => (Some(BodyFailure::Broken), None, 0),
    };
    let response = match failure {
        Some(failure) => failure.into_response(limits),
        None => response,
    };
    let Some(rest) = rest.filter(|rest| !rest.is_end_stream()) else { return response };
    if failure == Some(BodyFailure::TimedOut) || (awaits_continue && read == 0) {
        return answer_then_drain(response, version, None, deadline, 0);
    }
    answer_then_drain(response, version, Some(rest), deadline, MAX_DRAINED_BYTES.saturating_sub(read))
}

/// The answer goes out now; over HTTP/1 the rest of the body is read and dropped meanwhile (until
/// `deadline`, at most `limit` bytes), so that a client still sending it reads the answer instead
/// of a reset. Without a body to drain, the connection cannot carry another request: it says so.
fn answer_then_drain(
    mut response: Response,
    version: Version,
    rest: Option<Body>,
    deadline: tokio::time::Instant,
    limit: usize,
) -> Response {
    if version > Version::HTTP_11 {
        // HTTP/2 resets just the stream.
        return response;
    }
    match rest {
        Some(rest) => {
            tokio::spawn(drain(rest, deadline, limit));
        }
        None => {
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
    response
}

/// Reads and drops what is left of a body, until `deadline` and at most `limit` bytes; dropping
/// it early closes the connection once the answer is written.
async fn drain(mut body: Body, deadline: tokio::time::Instant, limit: usize) {
    let mut read = 0usize;
    let until_end = async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                read = read.saturating_add(data.len());
                if read > limit {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout_at(deadline, until_end).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> BodyLimits {
        BodyLimits::new(2 * MAX_BODY_BYTES, Duration::from_millis(200))
    }

    async fn read_all(req: Request) -> Response {
        match axum::body::to_bytes(req.into_body(), usize::MAX).await {
            Ok(bytes) => bytes.len().to_string().into_response(),
            Err(_) => "failed".into_response(),
        }
    }

    fn request(body: Body, length: Option<usize>) -> Request {
        let mut builder = axum::http::Request::builder().method("POST").uri("/");
        if let Some(length) = length {
            builder = builder.header(header::CONTENT_LENGTH, length);
        }
        builder.body(body).unwrap()
    }

    #[tokio::test]
    async fn declared_oversize_is_413_without_reading() {
        let limits = limits();
        let response = limit_body(&limits, request(Body::empty(), Some(1 << 30)), |_req: Request| async {
            panic!("no handler for an oversized body")
        })
        .await;
        assert_eq!(response.status(), 413);
        assert_eq!(response.headers()[header::CONNECTION], "close");
    }

    #[tokio::test]
    async fn a_stalled_body_is_408_and_closes() {
        let limits = limits();
        let body = stalled_body();
        let response = limit_body(&limits, request(body, Some(10)), read_all).await;
        assert_eq!(response.status(), 408);
        assert_eq!(response.headers()[header::CONNECTION], "close");
        assert_eq!(limits.available(), limits.budget_bytes(), "the budget is given back");
    }

    #[tokio::test]
    async fn the_budget_refuses_what_it_cannot_hold_and_gives_back_what_it_held() {
        let limits = BodyLimits::new(MAX_BODY_BYTES, Duration::from_secs(5));
        let held = limits.budget.clone().try_acquire_many_owned(u32::try_from(MAX_BODY_BYTES - 10).unwrap()).unwrap();
        let response = limit_body(&limits, request(Body::from(vec![0u8; 100]), Some(100)), read_all).await;
        assert_eq!(response.status(), 503);
        drop(held);
        let response = limit_body(&limits, request(Body::from(vec![0u8; 100]), Some(100)), read_all).await;
        assert_eq!(response.status(), 200);
        assert_eq!(limits.available(), MAX_BODY_BYTES);
    }

    #[tokio::test]
    async fn an_unread_body_is_drained_before_the_answer() {
        let limits = limits();
        let response = limit_body(&limits, request(Body::from(vec![0u8; 1000]), Some(1000)), |_req| async {
            axum::http::StatusCode::UNAUTHORIZED.into_response()
        })
        .await;
        assert_eq!(response.status(), 401);
        assert!(response.headers().get(header::CONNECTION).is_none(), "drained: the connection stays usable");
    }

    #[tokio::test]
    async fn a_streamed_body_over_the_limit_is_413() {
        let limits = limits();
        let response = limit_body(&limits, request(Body::from(vec![0u8; MAX_BODY_BYTES + 1]), None), read_all).await;
        assert_eq!(response.status(), 413);
    }

    /// A body that never sends anything.
    fn stalled_body() -> Body {
        Body::from_stream(futures::stream::pending::<Result<Bytes, std::io::Error>>())
    }
}
