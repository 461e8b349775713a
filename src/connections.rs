//! A cap on open connections across both ports: each accepted connection holds a permit until
//! it closes, and one accepted while none is free is closed at once, before its TLS handshake,
//! so a flood of idle or stalled sockets cannot grow the process without bound.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::metrics::Metrics;

/// Open connections allowed when not configured: far above what a developer's tools or a CI
/// job open, far below what exhausts file descriptors or memory.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Accepts a connection only while a permit is free, and sets `TCP_NODELAY` on it (a response
/// written in more than one segment would otherwise wait for the client's delayed ACK).
#[derive(Clone, Debug)]
pub struct CappedAcceptor {
    permits: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

impl CappedAcceptor {
    #[must_use]
    pub fn new(permits: Arc<Semaphore>, metrics: Arc<Metrics>) -> Self {
        Self { permits, metrics }
    }
}

impl<S> Accept<TcpStream, S> for CappedAcceptor {
    type Stream = CappedStream;
    type Service = S;
    type Future = std::future::Ready<io::Result<(CappedStream, S)>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            tracing::warn!(
                peer = ?stream.peer_addr().ok(),
                "connection refused: the emulator has as many open connections as --max-connections allows"
            );
            // Both ports share one cap, so the refusal is counted without a port.
            self.metrics.record_refusal("any", "connections");
            return std::future::ready(Err(io::Error::other("too many open connections")));
        };
        std::future::ready(stream.set_nodelay(true).map(|()| (CappedStream { stream, _permit: permit }, service)))
    }
}

/// A connection that gives its permit back when it closes.
#[derive(Debug)]
pub struct CappedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for CappedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CappedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
