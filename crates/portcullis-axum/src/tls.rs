//! Serving a router over TLS (feature `tls`), handing each request the client's certificate
//! (mutual-TLS client authentication, RFC 8705 §2).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use axum::serve::Listener;
use axum::Router;
use portcullis::tls::ServerTls;
use portcullis::ServerLimits;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;

use crate::serve::{accept_until, serve_connection};

/// [`serve`](crate::serve) over TLS with `tls` (the server's certificate, and the client CA
/// if any): the handshake must complete within
/// [`header_read_timeout`](ServerLimits::header_read_timeout), and counts against
/// [`max_connections`](ServerLimits::max_connections). Each request carries, besides the
/// peer's address, the certificate its client presented as a
/// [`portcullis::ClientCertificate`] extension (marked by whether it chains to the client
/// CA), which the engine's client authentication reads. Give
/// [`ServerTls::client_certificate_auth`] to the provider's builder. Runs until dropped.
pub async fn serve_tls<L>(
    listener: L,
    router: Router,
    limits: ServerLimits,
    tls: ServerTls,
) -> Infallible
where
    L: Listener,
    L::Addr: Clone + Send + Sync + 'static,
{
    serve_tls_with_shutdown(listener, router, limits, tls, std::future::pending()).await;
    std::future::pending().await
}

/// [`serve_tls`] until `signal` completes, then shuts down gracefully as
/// [`serve_with_shutdown`](crate::serve_with_shutdown) does.
pub async fn serve_tls_with_shutdown<L>(
    listener: L,
    router: Router,
    limits: ServerLimits,
    tls: ServerTls,
    signal: impl Future<Output = ()> + Send,
) where
    L: Listener,
    L::Addr: Clone + Send + Sync + 'static,
{
    let acceptor = TlsAcceptor::from(tls.config());
    let tls = Arc::new(tls);
    accept_until(listener, &limits, signal, move |io, addr, stopping| {
        let (router, acceptor, tls) = (router.clone(), acceptor.clone(), tls.clone());
        async move {
            // A handshake that fails or never completes closes the connection.
            if let Ok(Ok(stream)) = timeout(limits.header_read_timeout, acceptor.accept(io)).await {
                let certificate = tls.client_certificate(stream.get_ref().1.peer_certificates());
                serve_connection(stream, addr, certificate, router, limits, stopping).await;
            }
        }
    })
    .await;
}
