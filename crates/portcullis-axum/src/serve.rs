//! Serving a router with limits, so that no client can hold the server.

use std::convert::Infallible;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use axum::serve::Listener;
use axum::Router;
use http::header::{HeaderValue, CONNECTION};
use http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use portcullis::{ClientCertificate, ServerLimits};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout, Instant};
use tower::ServiceExt;

/// Serves `router` on `listener` over HTTP/1.1 within `limits`: see
/// [the crate documentation](crate#server-limits). Each request carries the peer's address
/// as a [`ConnectInfo`] extension (`ConnectInfo<SocketAddr>` for a `TcpListener`). Runs
/// until dropped.
pub async fn serve<L>(listener: L, router: Router, limits: ServerLimits) -> Infallible
where
    L: Listener,
    L::Addr: Clone + Send + Sync + 'static,
{
    serve_with_shutdown(listener, router, limits, std::future::pending()).await;
    std::future::pending().await
}

/// [`serve`] until `signal` completes, then shuts down gracefully: the listener is closed
/// (new connections are refused), idle connections are closed, and each connection with a
/// request in progress answers it — within the limits, so within
/// [`request_timeout`](ServerLimits::request_timeout) — and then closes
/// (`Connection: close`). Returns once every connection has closed; bound the wait with a
/// timeout of your own if need be: dropping this future cuts off the connections still
/// open (see [the crate documentation](crate#graceful-shutdown)).
pub async fn serve_with_shutdown<L>(
    listener: L,
    router: Router,
    limits: ServerLimits,
    signal: impl Future<Output = ()> + Send,
) where
    L: Listener,
    L::Addr: Clone + Send + Sync + 'static,
{
    accept_until(listener, &limits, signal, move |io, addr, stopping| {
        serve_connection(io, addr, None, router.clone(), limits, stopping)
    })
    .await;
}

/// Accepts connections on `listener`, at most [`max_connections`](ServerLimits::max_connections)
/// at once (the rest wait, unaccepted, in the backlog), and runs `connection` on each in a
/// task of its own, until `signal` completes. Then closes the listener, tells every
/// connection to stop (its receiver turns `true`), and waits until all have ended. The
/// connection tasks belong to this future: dropping it (a drain cut short) aborts them.
pub(crate) async fn accept_until<L, F, C>(
    mut listener: L,
    limits: &ServerLimits,
    signal: impl Future<Output = ()> + Send,
    connection: F,
) where
    L: Listener,
    F: Fn(L::Io, L::Addr, watch::Receiver<bool>) -> C,
    C: Future<Output = ()> + Send + 'static,
{
    let max = limits.max_connections.get();
    let connections = Arc::new(Semaphore::new(max));
    let (stop, stopping) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut signal = pin!(signal);
    loop {
        let accepted = async {
            let permit = connections
                .clone()
                .acquire_owned()
                .await
                .expect("the connection semaphore is never closed");
            (permit, listener.accept().await)
        };
        let (permit, (io, addr)) = tokio::select! {
            () = signal.as_mut() => break,
            accepted = accepted => accepted,
        };
        let served = connection(io, addr, stopping.clone());
        while tasks.try_join_next().is_some() {}
        tasks.spawn(async move {
            served.await;
            drop(permit);
        });
    }
    drop(listener);
    stop.send_replace(true);
    while tasks.join_next().await.is_some() {}
}

/// Where a connection is, for its timeouts.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Reading a request head since then (the first byte, or the connection's opening).
    Head(Instant),
    /// A request is being answered (bounded by the request timeout).
    Busy,
    /// Idle since then: the last response was handed over (or last made progress), and no
    /// byte has come since.
    Idle(Instant),
}

impl Phase {
    fn deadline(self, limits: &ServerLimits) -> Option<Instant> {
        match self {
            Self::Head(since) => Some(since + limits.header_read_timeout),
            Self::Busy => None,
            Self::Idle(since) => Some(since + limits.idle_timeout),
        }
    }
}

/// Serves one connection: each request gets the peer's address and, over TLS, the client's
/// certificate as extensions.
pub(crate) async fn serve_connection<I, A>(
    io: I,
    addr: A,
    certificate: Option<ClientCertificate>,
    router: Router,
    limits: ServerLimits,
    mut stopping: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    A: Clone + Send + Sync + 'static,
{
    let (phase, mut watched) = watch::channel(Phase::Head(Instant::now()));
    let phase = Arc::new(phase);
    let io = TokioIo::new(Watched {
        io,
        phase: phase.clone(),
    });
    let service = service_fn(move |req: Request<Incoming>| {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(addr.clone()));
        if let Some(certificate) = &certificate {
            req.extensions_mut().insert(certificate.clone());
        }
        phase.send_replace(Phase::Busy);
        let (phase, router) = (phase.clone(), router.clone());
        async move {
            let response = match timeout(limits.request_timeout, router.oneshot(req)).await {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_) => request_timed_out(),
            };
            phase.send_replace(Phase::Idle(Instant::now()));
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = http1::Builder::new();
    // The phases below time the head; hyper's own header timer would also run while idle.
    builder.header_read_timeout(None);
    let mut conn = pin!(builder.serve_connection(io, service));
    let mut alarm = pin!(sleep_until(Instant::now()));
    let mut draining = false;
    loop {
        let deadline = watched.borrow_and_update().deadline(&limits);
        if let Some(deadline) = deadline {
            alarm.as_mut().reset(deadline);
        }
        tokio::select! {
            _ = conn.as_mut() => return,
            stopped = stopping.wait_for(|stop| *stop), if !draining => {
                draining = true;
                if stopped.is_ok() {
                    // Answers a request in progress, then closes; closes an idle connection.
                    conn.as_mut().graceful_shutdown();
                }
            }
            changed = watched.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = alarm.as_mut(), if deadline.is_some() => {
                // Writing a response pushes the idle deadline back without waking this loop.
                let now = Instant::now();
                if watched.borrow().deadline(&limits).is_some_and(|d| d <= now) {
                    return;
                }
            }
        }
    }
}

/// `408 Request Timeout`, closing the connection (RFC 9110 §15.5.9).
fn request_timed_out() -> Response {
    let mut response = (StatusCode::REQUEST_TIMEOUT, "request timeout").into_response();
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A connection's I/O, noting the first byte of a request that arrives on an idle
/// connection, and a response's progress.
struct Watched<I> {
    io: I,
    phase: Arc<watch::Sender<Phase>>,
}

impl<I> Watched<I> {
    /// A response is making progress: the connection is idle from now on, not from when
    /// the response was handed over (no wake-up needed: the deadline only moves later).
    fn wrote(&self) {
        self.phase.send_if_modified(|phase| {
            if let Phase::Idle(since) = phase {
                *since = Instant::now();
            }
            false
        });
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.phase.send_if_modified(|phase| match phase {
                Phase::Idle(_) => {
                    *phase = Phase::Head(Instant::now());
                    true
                }
                _ => false,
            });
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.wrote();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
