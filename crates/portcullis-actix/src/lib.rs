//! actix-web adapter for Portcullis: translation only.
//!
//! [`router`] mounts the provider's endpoints at the paths of [`portcullis::paths`], with
//! the behaviour of `portcullis-axum`'s router: every method reaches the engine at the
//! endpoints that decide their methods themselves (authorization, token, introspection,
//! revocation, UserInfo, logout); the JWKS and the metadata answer `GET` and `HEAD`, and
//! `405 Method Not Allowed` with `Allow: GET,HEAD` otherwise; request bodies over
//! [`MAX_BODY_BYTES`] get `413`. When the authorization endpoint needs the user, it calls the
//! host's [`Interaction`] with the [`PendingAuthorization`]; the host renders its login and
//! consent pages, carries [`PendingAuthorization::ticket`] through its forms, and finishes
//! with [`Provider::resume`] then [`Provider::approve`] or [`Provider::deny`], whose
//! responses [`into_response`] converts. Logout goes the same way with [`PendingLogout`].
//!
//! ```no_run
//! # use bytes::Bytes;
//! # use portcullis::{PendingAuthorization, PendingLogout, Provider};
//! struct Pages {
//!     provider: Provider,
//! }
//!
//! #[portcullis::async_trait]
//! impl portcullis_actix::Interaction for Pages {
//!     async fn begin(&self, pending: PendingAuthorization, _req: http::request::Parts)
//!         -> http::Response<Bytes> {
//!         let page = format!("<form method=post action=/login>\
//!             <input type=hidden name=ticket value=\"{}\">…</form>", pending.ticket());
//!         http::Response::new(Bytes::from(page))
//!     }
//!     async fn end_session(&self, pending: PendingLogout, _req: http::request::Parts)
//!         -> http::Response<Bytes> {
//!         // End the host's session, after a confirmation page unless
//!         // `pending.ends_without_asking(&self.provider, local_subject)`.
//!         self.provider.finish_logout(pending).await
//!     }
//! }
//!
//! # async fn f(provider: Provider) -> std::io::Result<()> {
//! let app = portcullis_actix::router(provider.clone(), Pages { provider });
//! actix_web::HttpServer::new(move || actix_web::App::new().service(app.clone()))
//!     .bind("127.0.0.1:8080")?
//!     .run()
//!     .await
//! # }
//! ```
//!
//! [`host_routes`] mounts the host's own routes written on `http` types (the engine's
//! [`HostRoutes`], e.g. its forms' targets), [`read_request`] reads a request for a handler
//! of its own, and [`edit_headers`] lets a middleware edit a response's headers as `http`
//! ones.
//!
//! [`multi_issuer_router`] serves several issuers (one [`Provider`] each, over one store if
//! the host likes) by their paths.
//!
//! actix-web speaks `http` 0.2; the engine, `http` 1. The adapter copies each request's
//! method, target, version and headers across, and each response's status and headers back.
//! The request head handed to the engine and to the [`Interaction`] carries the peer's
//! address as a [`std::net::SocketAddr`] extension.
//!
//! # Server limits
//!
//! The router's own limits hold under any server: request bodies over [`MAX_BODY_BYTES`]
//! get `413`, and a request not answered within its
//! [`request_timeout`](Router::request_timeout) (default 30 s) of its complete head — a body
//! sent slowly, a host page stuck — gets `408 Request Timeout` and its connection is closed.
//! The connection limits are the server's: [`serve`] runs an `actix_web::HttpServer` within
//! the engine's [`ServerLimits`] (a request head's deadline, idle keep-alive connections,
//! the connection limit shared among the workers), as `portcullis_axum::serve` does on axum.
//! With the feature `tls`, `serve_tls` does so over TLS (rustls on ring, from a
//! `portcullis::tls::ServerTls`) and hands each request the certificate its client presented
//! as a [`portcullis::ClientCertificate`] extension: mutual-TLS client authentication
//! (RFC 8705 §2).
//!
//! # Graceful shutdown
//!
//! `ServerHandle::stop(true)` on the server [`serve`] (or `serve_tls`) returns closes the
//! listener — new connections are refused — and lets each request in progress finish; it
//! completes once every connection has closed, at the latest after [`drain_bound`]
//! ([`ServerLimits::header_read_timeout`] plus [`ServerLimits::request_timeout`], the bound
//! of `portcullis_axum::serve_with_shutdown`'s drain), when the connections still open are
//! cut off.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod convert;
mod limits;
#[cfg(feature = "tls")]
mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::header::{HeaderValue as ActixHeaderValue, ALLOW};
use actix_web::{guard, web, HttpRequest, HttpResponse, Resource};
use bytes::Bytes;
use portcullis::{
    paths, AuthorizeOutcome, HostRoutes, IssuerMount, LogoutOutcome, MountError, Provider,
};
#[cfg(doc)]
use portcullis::{PendingAuthorization, PendingLogout};

pub use convert::{edit_headers, into_response};
pub use limits::{drain_bound, serve};
pub use portcullis::Interaction;
pub use portcullis::ServerLimits;
#[cfg(feature = "tls")]
pub use tls::serve_tls;

/// Largest request body accepted (a token request is a few hundred bytes); the same as
/// `portcullis-axum`'s.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// One issuer's provider and the host's pages for it.
struct Shared {
    provider: Provider,
    interaction: Box<dyn Interaction>,
}

/// One issuer's endpoints below `prefix` (empty for the root).
#[derive(Clone)]
struct Mounted {
    prefix: String,
    /// RFC 8414 §3's metadata path, for an issuer with a path.
    oauth_metadata: Option<String>,
    shared: Arc<Shared>,
}

/// The endpoints of one or several issuers, as an actix-web service: register it with
/// `App::service` (a clone in each worker's `App`), or inside a `web::scope`.
#[derive(Clone)]
pub struct Router {
    issuers: Vec<Mounted>,
    request_timeout: Duration,
}

/// How long a request may take from its complete head to its answer by default: 30 s, as
/// [`ServerLimits::request_timeout`]'s default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl Router {
    /// Each request must be answered within `timeout` of its complete head, its body's
    /// reading and the host's pages included, or it gets `408 Request Timeout` (RFC 9110
    /// §15.5.9) and its connection is closed (default [`DEFAULT_REQUEST_TIMEOUT`]).
    /// actix-web's server times a request's head (`client_request_timeout`) and idle
    /// connections (`keep_alive`), but not a body sent slowly.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }
}

fn shared<I: Interaction>(provider: Provider, interaction: I) -> Arc<Shared> {
    Arc::new(Shared {
        provider,
        interaction: Box::new(interaction),
    })
}

/// A router with every endpoint at its path below the issuer ([`portcullis::paths`]).
/// Register it at the root for an issuer without a path, or inside a `web::scope` at the
/// issuer's path.
pub fn router<I: Interaction>(provider: Provider, interaction: I) -> Router {
    Router {
        request_timeout: DEFAULT_REQUEST_TIMEOUT,
        issuers: vec![Mounted {
            prefix: String::new(),
            oauth_metadata: None,
            shared: shared(provider, interaction),
        }],
    }
}

/// A router serving several issuers by the paths of their identifiers
/// (`https://auth.example/tenant-a` below `/tenant-a`), each with its own provider and
/// pages. Each issuer's endpoints and its OpenID Provider metadata
/// (`/tenant-a/.well-known/openid-configuration`, OpenID Connect Discovery 1.0 §4) lie below
/// its path, and its authorization server metadata also at
/// `/.well-known/oauth-authorization-server/tenant-a` (RFC 8414 §3): where its discovery
/// document says they are. Fails for an issuer without a path, or whose path overlaps
/// another's ([`MountError`]).
pub fn multi_issuer_router<I: Interaction>(
    issuers: impl IntoIterator<Item = (Provider, I)>,
) -> Result<Router, MountError> {
    let issuers: Vec<(Provider, I)> = issuers.into_iter().collect();
    let mounts = IssuerMount::all(issuers.iter().map(|(p, _)| p.issuer()))?;
    let issuers = mounts
        .into_iter()
        .zip(issuers)
        .map(|(mount, (provider, interaction))| Mounted {
            prefix: mount.prefix().to_owned(),
            oauth_metadata: Some(mount.oauth_authorization_server()),
            shared: shared(provider, interaction),
        })
        .collect();
    Ok(Router {
        issuers,
        request_timeout: DEFAULT_REQUEST_TIMEOUT,
    })
}

impl HttpServiceFactory for Router {
    fn register(self, config: &mut AppService) {
        for issuer in self.issuers {
            for resource in issuer.resources(self.request_timeout) {
                resource.register(config);
            }
        }
    }
}

/// The endpoints whose engine method decides the methods it accepts.
#[derive(Clone, Copy)]
enum Endpoint {
    Authorize,
    EndSession,
    Token,
    PushedAuthorizationRequest,
    DeviceAuthorization,
    Introspect,
    Revoke,
    UserInfo,
    Registration,
}

impl Endpoint {
    const ALL: [Self; 9] = [
        Self::Authorize,
        Self::EndSession,
        Self::Token,
        Self::PushedAuthorizationRequest,
        Self::DeviceAuthorization,
        Self::Introspect,
        Self::Revoke,
        Self::UserInfo,
        Self::Registration,
    ];

    fn path(self) -> &'static str {
        match self {
            Self::Authorize => paths::AUTHORIZE,
            Self::EndSession => paths::END_SESSION,
            Self::Token => paths::TOKEN,
            Self::PushedAuthorizationRequest => paths::PAR,
            Self::DeviceAuthorization => paths::DEVICE_AUTHORIZATION,
            Self::Introspect => paths::INTROSPECT,
            Self::Revoke => paths::REVOKE,
            Self::UserInfo => paths::USERINFO,
            Self::Registration => paths::REGISTER,
        }
    }
}

impl Mounted {
    fn resources(&self, request_timeout: Duration) -> Vec<Resource> {
        let mut resources: Vec<Resource> = Endpoint::ALL
            .into_iter()
            .map(|endpoint| {
                let shared = self.shared.clone();
                resource(self.path(endpoint.path())).to(
                    move |req: HttpRequest, body: web::Payload| {
                        within(request_timeout, call(shared.clone(), endpoint, req, body))
                    },
                )
            })
            .collect();
        let shared = self.shared.clone();
        resources.push(get_only(self.path(paths::JWKS), move || {
            let shared = shared.clone();
            async move { shared.provider.jwks().await }
        }));
        let mut metadata = vec![
            self.path(paths::OPENID_CONFIGURATION),
            self.path(paths::OAUTH_AUTHORIZATION_SERVER),
        ];
        metadata.extend(self.oauth_metadata.clone());
        for path in metadata {
            let shared = self.shared.clone();
            resources.push(get_only(path, move || {
                std::future::ready(shared.provider.discovery())
            }));
        }
        resources
    }

    fn path(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }
}

/// A resource at `path`, spelled exactly so: actix's router also matches paths that only
/// decode to it (`/t%6Fken`), axum's does not, and neither does this adapter's.
fn resource(path: String) -> Resource {
    let literal = path.clone();
    web::resource(path).guard(guard::fn_guard(move |ctx| {
        ctx.head().uri.path().ends_with(&literal)
    }))
}

/// A resource answering `GET` and `HEAD` with `answer`, and any other method with `405
/// Method Not Allowed` and `Allow: GET,HEAD` (RFC 9110 §15.5.6), as axum's `get` does.
fn get_only<F, Fut>(path: String, answer: F) -> Resource
where
    F: Fn() -> Fut + Clone + 'static,
    Fut: Future<Output = http::Response<Bytes>> + 'static,
{
    let handler = move || {
        let answer = answer.clone();
        async move { into_response(answer().await) }
    };
    resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .default_service(web::to(|| async {
            HttpResponse::MethodNotAllowed()
                .insert_header((ALLOW, ActixHeaderValue::from_static("GET,HEAD")))
                .finish()
        }))
}

/// `answer`, or `408 Request Timeout` closing the connection if it takes longer than
/// `timeout` (the same answer as `portcullis-axum`'s `serve`).
async fn within(timeout: Duration, answer: impl Future<Output = HttpResponse>) -> HttpResponse {
    match actix_web::rt::time::timeout(timeout, answer).await {
        Ok(response) => response,
        Err(_) => HttpResponse::RequestTimeout()
            .force_close()
            .content_type("text/plain; charset=utf-8")
            .body("request timeout"),
    }
}

async fn call(
    shared: Arc<Shared>,
    endpoint: Endpoint,
    req: HttpRequest,
    body: web::Payload,
) -> HttpResponse {
    let engine_req = match buffered(&req, body).await {
        Ok(r) => r,
        // Clients get an OAuth error they can read.
        Err(Unreadable::TooLarge)
            if !matches!(endpoint, Endpoint::Authorize | Endpoint::EndSession) =>
        {
            return into_response(shared.provider.body_too_large(endpoint.path()))
        }
        Err(e) => return e.response(),
    };
    // The engine takes the request; the host's pages get its head.
    let (head, body) = engine_req.into_parts();
    let engine_req = http::Request::from_parts(head.clone(), body);
    let provider = &shared.provider;
    into_response(match endpoint {
        Endpoint::Authorize => match provider.authorize(engine_req).await {
            AuthorizeOutcome::Respond(r) => r,
            AuthorizeOutcome::Pending(p) => shared.interaction.begin(p, head).await,
        },
        Endpoint::EndSession => match provider.end_session(engine_req).await {
            LogoutOutcome::Respond(r) => r,
            LogoutOutcome::Pending(p) => shared.interaction.end_session(p, head).await,
        },
        Endpoint::Token => provider.token(engine_req).await,
        Endpoint::PushedAuthorizationRequest => {
            provider.pushed_authorization_request(engine_req).await
        }
        Endpoint::DeviceAuthorization => provider.device_authorization(engine_req).await,
        Endpoint::Introspect => provider.introspect(engine_req).await,
        Endpoint::Revoke => provider.revoke(engine_req).await,
        Endpoint::UserInfo => provider.userinfo(engine_req).await,
        Endpoint::Registration => provider.registration(engine_req).await,
    })
}

/// The host's own routes ([`HostRoutes`]) as an actix-web service: register it beside the
/// [`Router`] (in the same `web::scope` for an issuer with a path). Each request is read as
/// by [`read_request`] and answered within the [`request_timeout`](HostRouter::request_timeout).
pub fn host_routes(routes: HostRoutes) -> HostRouter {
    HostRouter {
        routes: Arc::new(routes),
        request_timeout: DEFAULT_REQUEST_TIMEOUT,
    }
}

/// What [`host_routes`] makes.
#[derive(Clone, Debug)]
pub struct HostRouter {
    routes: Arc<HostRoutes>,
    request_timeout: Duration,
}

impl HostRouter {
    /// As [`Router::request_timeout`].
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }
}

impl HttpServiceFactory for HostRouter {
    fn register(self, config: &mut AppService) {
        for path in self.routes.paths() {
            let (routes, at) = (self.routes.clone(), path.to_owned());
            let timeout = self.request_timeout;
            resource(path.to_owned())
                .to(move |req: HttpRequest, body: web::Payload| {
                    let (routes, at) = (routes.clone(), at.clone());
                    within(timeout, async move {
                        match read_request(&req, body).await {
                            Ok(req) => into_response(routes.answer(&at, req).await),
                            Err(refused) => refused,
                        }
                    })
                })
                .register(config);
        }
    }
}

/// Buffers an actix-web request into the engine's `http::Request<Bytes>` (for the host's own
/// routes, e.g. its login form's POST), refusing bodies over [`MAX_BODY_BYTES`] with `413`
/// (as `portcullis-axum`'s `read_request`).
pub async fn read_request(
    req: &HttpRequest,
    body: web::Payload,
) -> Result<http::Request<Bytes>, HttpResponse> {
    buffered(req, body).await.map_err(Unreadable::response)
}

/// Why a request was not buffered.
enum Unreadable {
    /// Its head has what `http` 1 refuses (actix accepted it).
    Head,
    /// Its body exceeds [`MAX_BODY_BYTES`], announced or sent, or could not be read.
    TooLarge,
}

impl Unreadable {
    fn response(self) -> HttpResponse {
        match self {
            Self::Head => HttpResponse::BadRequest().finish(),
            Self::TooLarge => HttpResponse::PayloadTooLarge()
                .content_type("text/plain; charset=utf-8")
                .body("request body too large"),
        }
    }
}

async fn buffered(
    req: &HttpRequest,
    body: web::Payload,
) -> Result<http::Request<Bytes>, Unreadable> {
    let head = convert::request_head(req).ok_or(Unreadable::Head)?;
    let body = read_body(&head, body).await.ok_or(Unreadable::TooLarge)?;
    Ok(http::Request::from_parts(head, body))
}

/// The request body, buffered; `None` when it exceeds [`MAX_BODY_BYTES`] (announced or
/// sent) or cannot be read.
async fn read_body(head: &http::request::Parts, body: web::Payload) -> Option<Bytes> {
    let announced = head
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return None;
    }
    body.to_bytes_limited(MAX_BODY_BYTES).await.ok()?.ok()
}

#[cfg(test)]
mod tests {
    use actix_web::test::{call_service, init_service, read_body, TestRequest};
    use actix_web::{http::StatusCode, App};

    use super::*;

    /// A host route (a login form's POST, say) reads its request with [`read_request`]: the
    /// same translation and body limit as the router's.
    #[test]
    fn host_routes_read_requests_within_the_limit() {
        actix_web::rt::System::new().block_on(async {
            let app = init_service(App::new().route(
                "/login",
                web::post().to(|req: HttpRequest, body: web::Payload| async move {
                    match read_request(&req, body).await {
                        Ok(r) => HttpResponse::Ok().body(format!(
                            "{} {} {}",
                            r.method(),
                            r.uri(),
                            r.body().len()
                        )),
                        Err(refused) => refused,
                    }
                }),
            ))
            .await;
            for (size, status, answer) in [
                (
                    MAX_BODY_BYTES,
                    StatusCode::OK,
                    format!("POST /login?x=1 {MAX_BODY_BYTES}"),
                ),
                (
                    MAX_BODY_BYTES + 1,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body too large".to_owned(),
                ),
            ] {
                let req = TestRequest::post()
                    .uri("/login?x=1")
                    .set_payload(vec![b'a'; size])
                    .to_request();
                let response = call_service(&app, req).await;
                assert_eq!(response.status(), status);
                assert_eq!(read_body(response).await, answer.as_bytes());
            }
        });
    }
}
