//! Serving on actix-web over TLS (feature `tls`), handing each request the client's
//! certificate (mutual-TLS client authentication, RFC 8705 §2).

use std::net::TcpListener;
use std::num::NonZeroUsize;

use actix_tls::accept::rustls_0_23::TlsStream;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::rt::net::TcpStream;
use actix_web::{App, Error, HttpServer};
use portcullis::tls::ServerTls;
use portcullis::ServerLimits;

/// [`serve`](crate::serve) over TLS with `tls` (the server's certificate, and the client CA
/// if any), the handshake within [`ServerLimits::header_read_timeout`]. The certificate each
/// connection's client presented reaches the engine as a [`portcullis::ClientCertificate`]
/// extension of its requests (marked by whether it chains to the client CA), which the
/// engine's client authentication reads. Give [`ServerTls::client_certificate_auth`] to the
/// provider's builder. A graceful stop drains within [`drain_bound`](crate::drain_bound),
/// as [`serve`](crate::serve)'s.
pub fn serve_tls<F, T, B>(
    app: F,
    listener: TcpListener,
    limits: &ServerLimits,
    tls: ServerTls,
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
    let config = (*tls.config()).clone();
    Ok(HttpServer::new(app)
        .workers(workers)
        .max_connections((limits.max_connections.get() / workers).max(1))
        .client_request_timeout(limits.header_read_timeout)
        .keep_alive(limits.idle_timeout)
        .tls_handshake_timeout(limits.header_read_timeout)
        .shutdown_timeout(crate::drain_bound(limits).as_secs())
        .on_connect(move |connection, data| {
            let stream = connection.downcast_ref::<TlsStream<TcpStream>>();
            let peer = stream.and_then(|s| s.get_ref().1.peer_certificates());
            if let Some(certificate) = tls.client_certificate(peer) {
                data.insert(certificate);
            }
        })
        .disable_signals()
        .listen_rustls_0_23(listener, config)?
        .run())
}
