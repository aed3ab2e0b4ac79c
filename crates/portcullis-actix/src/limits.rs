//! Serving on actix-web within the engine's [`ServerLimits`].

use std::net::TcpListener;
use std::num::NonZeroUsize;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, Error, HttpServer};
use portcullis::ServerLimits;

/// Serves the apps `app` makes (one per worker) on `listener` within `limits`: one worker per
/// available core, [`ServerLimits::max_connections`] shared among them (actix-web counts per
/// worker), a request head's deadline ([`ServerLimits::header_read_timeout`]) and an idle
/// connection's ([`ServerLimits::idle_timeout`]). The deadline of a whole request
/// ([`ServerLimits::request_timeout`]) is the services' own: give it to
/// [`Router::request_timeout`](crate::Router::request_timeout) and
/// [`HostRouter::request_timeout`](crate::HostRouter::request_timeout). No signal handlers:
/// the host stops the server through its [`handle`](Server::handle), gracefully with
/// `stop(true)`, whose drain is bounded as `portcullis_axum::serve_with_shutdown`'s is
/// ([`drain_bound`]). Await the returned server on an actix-web runtime
/// (`actix_web::rt::System`).
pub fn serve<F, T, B>(
    app: F,
    listener: TcpListener,
    limits: &ServerLimits,
) -> std::io::Result<Server>
where
    F: Fn() -> App<T> + Send + Clone + 'static,
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let workers = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    Ok(HttpServer::new(app)
        .workers(workers)
        .max_connections((limits.max_connections.get() / workers).max(1))
        .client_request_timeout(limits.header_read_timeout)
        .keep_alive(limits.idle_timeout)
        .shutdown_timeout(drain_bound(limits).as_secs())
        .disable_signals()
        .listen(listener)?
        .run())
}

/// How long a graceful stop (`ServerHandle::stop(true)`) of [`serve`]'s server (and
/// `serve_tls`'s) waits for its connections: [`ServerLimits::header_read_timeout`] (a head
/// still arriving) plus [`ServerLimits::request_timeout`] (its answer), rounded up to whole
/// seconds, actix-web's `shutdown_timeout` — the longest a request in progress can take
/// within the limits, and what bounds `portcullis_axum::serve_with_shutdown`'s drain.
///
/// At the stop the listener closes (new connections are refused) and each request in
/// progress is answered; the stop completes once every connection has closed, or at this
/// bound, when the connections still open are cut off. actix-web checks once a second, so
/// the stop may take up to a second longer, and it keeps idle keep-alive connections open
/// until they idle out ([`ServerLimits::idle_timeout`]) or the bound passes. actix-web
/// handles one server command at a time, so a `stop(false)` sent during a graceful stop
/// does not cut it short: a host that wants a shorter drain sets smaller limits.
///
/// Known limit: actix-server 2.6 (the newest within this workspace's `rust-version`) can end
/// a worker before its stop arrives when the accept thread exits first, dropping that
/// worker's requests in progress (fixed upstream in actix-server 2.9.1, which needs Rust
/// 1.88). Seen rarely, under CPU load (about one stop in 30 in `tests/limits.rs` with three
/// busy loops beside it).
pub fn drain_bound(limits: &ServerLimits) -> Duration {
    let bound = limits
        .header_read_timeout
        .saturating_add(limits.request_timeout);
    let secs = bound.as_secs() + u64::from(bound.subsec_nanos() > 0);
    Duration::from_secs(secs)
}
