//! axum adapter for Portcullis: translation only.
//!
//! [`router`] mounts the provider's endpoints at the paths of [`portcullis::paths`]. When
//! the authorization endpoint needs the user, it calls the host's [`Interaction`] (the
//! engine's trait, on `http` types, which every adapter shares) with the
//! [`PendingAuthorization`](portcullis::PendingAuthorization); the host asks
//! [`next_step`](portcullis::PendingAuthorization::next_step) what to show, renders its login
//! and consent pages, carries the [`ticket`](portcullis::PendingAuthorization::ticket) through its
//! forms, and finishes with [`Provider::resume`] then [`Provider::approve`] or
//! [`Provider::deny`]; [`into_response`] converts the engine's responses for its own axum
//! handlers, and [`host_routes`] mounts its routes written on `http` types (the engine's
//! [`HostRoutes`], which every adapter mounts alike). Logout goes the same way with
//! [`PendingLogout`](portcullis::PendingLogout).
//!
//! ```no_run
//! # use bytes::Bytes;
//! # use portcullis::{NextStep, PendingAuthorization, PendingLogout, Provider, SessionFacts};
//! struct Pages {
//!     provider: Provider,
//! }
//!
//! impl Pages {
//!     /// The host's signed-in user, from its session cookie.
//!     fn session(&self, _req: &http::request::Parts) -> Option<SessionFacts> {
//!         None
//!     }
//!
//!     fn page(html: String) -> http::Response<Bytes> {
//!         http::Response::new(Bytes::from(html))
//!     }
//! }
//!
//! #[portcullis_axum::async_trait]
//! impl portcullis_axum::Interaction for Pages {
//!     async fn begin(
//!         &self,
//!         pending: PendingAuthorization,
//!         req: http::request::Parts,
//!     ) -> http::Response<Bytes> {
//!         let session = self.session(&req);
//!         let Ok(step) = pending.next_step(&self.provider, session.as_ref()).await else {
//!             return http::Response::builder().status(503).body(Bytes::new()).unwrap();
//!         };
//!         let form = |action| format!("<form method=post action={action}>\
//!             <input type=hidden name=ticket value=\"{}\">…</form>", pending.ticket());
//!         match step {
//!             NextStep::Approve(approval) => self.provider.approve(pending, approval).await,
//!             NextStep::Login(_prompt) => Self::page(form("/login")),
//!             NextStep::Consent => Self::page(form("/consent")),
//!             NextStep::Refuse(reason) => self.provider.cannot_interact(pending, reason).await,
//!         }
//!     }
//!     async fn end_session(
//!         &self,
//!         pending: PendingLogout,
//!         _req: http::request::Parts,
//!     ) -> http::Response<Bytes> {
//!         // End the host's session, after a confirmation page unless
//!         // `pending.ends_without_asking(&self.provider, local_subject)`.
//!         self.provider.finish_logout(pending).await
//!     }
//! }
//! # fn f(provider: Provider) {
//! let app: axum::Router = portcullis_axum::router(provider.clone(), Pages { provider });
//! # }
//! ```
//!
//! # Server limits
//!
//! Serve the router with [`serve`] and [`ServerLimits`] rather than `axum::serve`, which
//! sets no timeout and no connection limit: a client that opens connections and sends
//! nothing, or half a request head, or stops reading its responses, keeps them as long as it
//! likes, and enough of them exhaust the process's file descriptors. [`serve`] closes a
//! connection at the first of these:
//!
//! * its request head (request line and headers) is not complete within
//!   [`header_read_timeout`](ServerLimits::header_read_timeout) (default 10 s) of its first
//!   byte, or of the connection's opening for the first request (slowloris);
//! * its request is not answered within [`request_timeout`](ServerLimits::request_timeout)
//!   (default 30 s) of a complete head, the body's reading included: it gets `408 Request
//!   Timeout` and the connection is closed (a body sent slowly, a handler stuck);
//! * it is idle — no request in progress, no byte of the next one received, its last
//!   response making no progress — for [`idle_timeout`](ServerLimits::idle_timeout) (default
//!   60 s): an unused keep-alive connection, or a client that stopped reading;
//!
//! and serves at most [`max_connections`](ServerLimits::max_connections) (default 512) at
//! once: further clients wait, unaccepted, in the listener's backlog until one closes.
//!
//! ```no_run
//! # async fn f(app: axum::Router) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let never = portcullis_axum::serve(listener, app, portcullis_axum::ServerLimits::default()).await;
//! match never {}
//! # }
//! ```
//!
//! A host serving the routers with a server of its own must set the same four limits there
//! (with hyper 1.x directly: `http1::Builder::timer` and `header_read_timeout`, which also
//! ends idle keep-alive connections, a timeout around each request, and a semaphore around
//! `accept`; behind a reverse proxy, e.g. nginx's `client_header_timeout`,
//! `client_body_timeout`, `keepalive_timeout`, `send_timeout` and `limit_conn`). The request
//! body limit, [`MAX_BODY_BYTES`], is the routers' own and applies under any server.
//!
//! # Graceful shutdown
//!
//! [`serve_with_shutdown`] (and, with the feature `tls`, `serve_tls_with_shutdown`) serve
//! until a signal, then
//! close the listener — new connections are refused — and close idle connections, while
//! each connection with a request in progress answers it and then closes. They return once
//! every connection has closed: at the latest after
//! [`header_read_timeout`](ServerLimits::header_read_timeout) (a head still arriving) plus
//! [`request_timeout`](ServerLimits::request_timeout) (plus the time to write the answer,
//! bounded by the idle timeout), so a host that wants a shorter drain wraps them in a
//! timeout of its own. The connections' tasks belong to the returned future: when that
//! timeout drops it, every connection still open is cut off at once.
//!
//! ```no_run
//! # async fn f(app: axum::Router) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let limits = portcullis_axum::ServerLimits::default();
//! let ctrl_c = async {
//!     let _ = tokio::signal::ctrl_c().await;
//! };
//! let drain = portcullis_axum::serve_with_shutdown(listener, app, limits, ctrl_c);
//! let _ = tokio::time::timeout(std::time::Duration::from_secs(30), drain).await;
//! # Ok(()) }
//! ```
//!
//! # TLS and client certificates
//!
//! With the feature `tls`, `serve_tls` serves within the same limits over TLS (rustls on
//! ring, from a `portcullis::tls::ServerTls`), and hands each request the certificate its
//! client presented as a [`portcullis::ClientCertificate`] extension: mutual-TLS client
//! authentication (RFC 8705 §2).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod serve;
#[cfg(feature = "tls")]
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use bytes::Bytes;
use http::StatusCode;
use portcullis::{
    paths, AuthorizeOutcome, HostRoutes, IssuerMount, LogoutOutcome, MountError, Provider,
};

pub use async_trait::async_trait;
pub use portcullis::Interaction;
pub use portcullis::ServerLimits;
pub use serve::{serve, serve_with_shutdown};
#[cfg(feature = "tls")]
pub use tls::{serve_tls, serve_tls_with_shutdown};

/// Largest request body accepted (a token request is a few hundred bytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

struct Shared<I> {
    provider: Provider,
    interaction: I,
}

/// A router with every endpoint at its path below the issuer ([`portcullis::paths`]). Mount
/// it at the root for an issuer without a path, or nest it at the issuer's path.
pub fn router<I: Interaction>(provider: Provider, interaction: I) -> Router {
    let shared = Arc::new(Shared {
        provider,
        interaction,
    });
    Router::new()
        .route(paths::AUTHORIZE, any(authorize::<I>))
        .route(paths::TOKEN, any(token::<I>))
        .route(paths::PAR, any(pushed_authorization_request::<I>))
        .route(paths::DEVICE_AUTHORIZATION, any(device_authorization::<I>))
        .route(paths::INTROSPECT, any(introspect::<I>))
        .route(paths::REVOKE, any(revoke::<I>))
        .route(paths::USERINFO, any(userinfo::<I>))
        .route(paths::REGISTER, any(registration::<I>))
        .route(paths::END_SESSION, any(end_session::<I>))
        .route(paths::JWKS, get(jwks::<I>))
        .route(paths::OPENID_CONFIGURATION, get(discovery::<I>))
        .route(paths::OAUTH_AUTHORIZATION_SERVER, get(discovery::<I>))
        .with_state(shared)
}

/// A router serving several issuers by the paths of their identifiers
/// (`https://auth.example/tenant-a` below `/tenant-a`), each with its own provider and
/// pages, e.g. one per tenant over one shared store. Each issuer's endpoints and its OpenID
/// Provider metadata (`/tenant-a/.well-known/openid-configuration`, OpenID Connect
/// Discovery 1.0 §4) lie below its path, and its authorization server metadata also at
/// `/.well-known/oauth-authorization-server/tenant-a` (RFC 8414 §3): where its discovery
/// document says they are. Fails for an issuer without a path, or whose path overlaps
/// another's ([`MountError`]).
///
/// ```no_run
/// # fn f(a: portcullis::Provider, b: portcullis::Provider,
/// #     pages_a: impl portcullis_axum::Interaction + Clone) -> Result<(), portcullis::MountError> {
/// // a's issuer is https://auth.example/tenant-a, b's https://auth.example/tenant-b.
/// let app = portcullis_axum::multi_issuer_router([(a, pages_a.clone()), (b, pages_a)])?;
/// # Ok(()) }
/// ```
pub fn multi_issuer_router<I: Interaction>(
    issuers: impl IntoIterator<Item = (Provider, I)>,
) -> Result<Router, MountError> {
    let issuers: Vec<(Provider, I)> = issuers.into_iter().collect();
    let mounts = IssuerMount::all(issuers.iter().map(|(p, _)| p.issuer()))?;
    let mut app = Router::new();
    for (mount, (provider, interaction)) in mounts.into_iter().zip(issuers) {
        let metadata = provider.clone();
        app = app
            .nest(mount.prefix(), router(provider, interaction))
            .route(
                &mount.oauth_authorization_server(),
                get(move || std::future::ready(into_response(metadata.discovery()))),
            );
    }
    Ok(app)
}

async fn introspect<I: Interaction>(
    State(shared): State<Arc<Shared<I>>>,
    req: Request,
) -> Response {
    match read_client_request(&shared.provider, paths::INTROSPECT, req).await {
        Ok(r) => into_response(shared.provider.introspect(r).await),
        Err(r) => r,
    }
}

async fn revoke<I: Interaction>(State(shared): State<Arc<Shared<I>>>, req: Request) -> Response {
    match read_client_request(&shared.provider, paths::REVOKE, req).await {
        Ok(r) => into_response(shared.provider.revoke(r).await),
        Err(r) => r,
    }
}

async fn userinfo<I: Interaction>(State(shared): State<Arc<Shared<I>>>, req: Request) -> Response {
    match read_client_request(&shared.provider, paths::USERINFO, req).await {
        Ok(r) => into_response(shared.provider.userinfo(r).await),
        Err(r) => r,
    }
}

async fn registration<I: Interaction>(
    State(shared): State<Arc<Shared<I>>>,
    req: Request,
) -> Response {
    match read_client_request(&shared.provider, paths::REGISTER, req).await {
        Ok(r) => into_response(shared.provider.registration(r).await),
        Err(r) => r,
    }
}

async fn end_session<I: Interaction>(
    State(shared): State<Arc<Shared<I>>>,
    req: Request,
) -> Response {
    let req = match read_request(req).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let (parts, body) = req.into_parts();
    let engine_req = http::Request::from_parts(parts.clone(), body);
    match shared.provider.end_session(engine_req).await {
        LogoutOutcome::Respond(r) => into_response(r),
        LogoutOutcome::Pending(p) => into_response(shared.interaction.end_session(p, parts).await),
    }
}

async fn jwks<I: Interaction>(State(shared): State<Arc<Shared<I>>>) -> Response {
    into_response(shared.provider.jwks().await)
}

async fn discovery<I: Interaction>(State(shared): State<Arc<Shared<I>>>) -> Response {
    into_response(shared.provider.discovery())
}

async fn authorize<I: Interaction>(State(shared): State<Arc<Shared<I>>>, req: Request) -> Response {
    let req = match read_request(req).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let (parts, body) = req.into_parts();
    let engine_req = http::Request::from_parts(parts.clone(), body);
    match shared.provider.authorize(engine_req).await {
        AuthorizeOutcome::Respond(r) => into_response(r),
        AuthorizeOutcome::Pending(p) => into_response(shared.interaction.begin(p, parts).await),
    }
}

async fn token<I: Interaction>(State(shared): State<Arc<Shared<I>>>, req: Request) -> Response {
    match read_client_request(&shared.provider, paths::TOKEN, req).await {
        Ok(r) => into_response(shared.provider.token(r).await),
        Err(r) => r,
    }
}

async fn pushed_authorization_request<I: Interaction>(
    State(shared): State<Arc<Shared<I>>>,
    req: Request,
) -> Response {
    match read_client_request(&shared.provider, paths::PAR, req).await {
        Ok(r) => into_response(shared.provider.pushed_authorization_request(r).await),
        Err(r) => r,
    }
}

async fn device_authorization<I: Interaction>(
    State(shared): State<Arc<Shared<I>>>,
    req: Request,
) -> Response {
    match read_client_request(&shared.provider, paths::DEVICE_AUTHORIZATION, req).await {
        Ok(r) => into_response(shared.provider.device_authorization(r).await),
        Err(r) => r,
    }
}

/// The host's own routes ([`HostRoutes`]: its forms' targets, its account pages) as a
/// router to merge with [`router`]'s: each request read by [`read_request`].
pub fn host_routes(routes: HostRoutes) -> Router {
    let routes = Arc::new(routes);
    let paths: Vec<String> = routes.paths().map(str::to_owned).collect();
    paths.into_iter().fold(Router::new(), |app, path| {
        let (routes, at) = (routes.clone(), path.clone());
        app.route(
            &path,
            any(move |req: Request| async move {
                match read_request(req).await {
                    Ok(req) => into_response(routes.answer(&at, req).await),
                    Err(too_large) => too_large,
                }
            }),
        )
    })
}

/// Buffers an axum request into the engine's `http::Request<Bytes>`, refusing bodies over
/// [`MAX_BODY_BYTES`] with 413. The peer's address that [`serve`] hands each request
/// (`ConnectInfo<SocketAddr>`) is also a plain [`SocketAddr`] extension, as
/// `portcullis-actix` gives it.
pub async fn read_request(req: Request) -> Result<http::Request<Bytes>, Response> {
    buffered(req)
        .await
        .ok_or_else(|| (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response())
}

/// [`read_request`] for the endpoints clients call directly: an oversized body gets the
/// engine's answer for `path` ([`Provider::body_too_large`]).
async fn read_client_request(
    provider: &Provider,
    path: &str,
    req: Request,
) -> Result<http::Request<Bytes>, Response> {
    buffered(req)
        .await
        .ok_or_else(|| into_response(provider.body_too_large(path)))
}

/// The request with its body buffered; `None` when the body exceeds [`MAX_BODY_BYTES`] (or
/// cannot be read).
async fn buffered(req: Request) -> Option<http::Request<Bytes>> {
    let (mut parts, body) = req.into_parts();
    if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>().copied() {
        parts.extensions.insert(peer);
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES).await.ok()?;
    Some(http::Request::from_parts(parts, bytes))
}

/// Converts an engine response into an axum response.
pub fn into_response(r: http::Response<Bytes>) -> Response {
    r.map(Body::from)
}
