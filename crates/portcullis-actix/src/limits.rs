//! Serving on actix-web within the engine's [`ServerLimits`].

use std::net::TcpListener;
use std::num::NonZeroUsize;

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
/// the host stops the server through its [`handle`](Server::handle). Await the returned
/// server on an actix-web runtime (`actix_web::rt::System`).
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
        .disable_signals()
        .listen(listener)?
        .run())
}
