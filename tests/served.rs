//! Providers served on loopback by either adapter, so that one test runs against each: a
//! suite loops over [`Adapter::ALL`] and starts its providers with [`Served::start`].
//!
//! The host's pages are written once, against the engine's `portcullis::Interaction` (`http`
//! types in and out), which both adapters take.

use std::net::{SocketAddr, TcpListener};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, SET_COOKIE};
use portcullis::core::{
    Client, ClientKind, ClientOidc, ClientSecretHash, GrantType, Issuer, PkcePolicy, Policy,
    RedirectUri, ScopeSet,
};
use portcullis::{Approval, HostRoutes, PendingAuthorization, PendingLogout, Provider, Stores};
use portcullis_axum::ServerLimits;
use portcullis_interaction::SessionManager;
use portcullis_store_memory::MemoryStore;
use ring::rand::SystemRandom;

pub use crate::Adapter;
pub use portcullis::Interaction;

/// A loopback port, bound before the providers are built: their issuers name it.
#[derive(Debug)]
pub struct Port {
    listener: TcpListener,
    addr: SocketAddr,
}

impl Port {
    /// Binds `127.0.0.1:0`.
    pub fn bind() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let addr = listener.local_addr().expect("the bound address");
        Self { listener, addr }
    }

    /// The issuer `http://127.0.0.1:PORT{path}` (`path` empty, or starting with `/`).
    pub fn issuer(&self, path: &str) -> Issuer {
        Issuer::parse(&format!("http://{}{path}", self.addr)).expect("a loopback issuer")
    }

    /// The URL of `path` on this port.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// What a server serves: one issuer at the root, or several by path.
pub enum Mount<P> {
    /// `router(provider, pages)` at the root.
    One(Provider, P),
    /// `router(provider, pages)` nested at the issuer's path (`axum::Router::nest`, actix's
    /// `web::scope`).
    Nested(Provider, P),
    /// `multi_issuer_router(issuers)`.
    Several(Vec<(Provider, P)>),
}

/// The path of `provider`'s issuer (`/tenant`).
fn issuer_path(provider: &Provider) -> String {
    let mount = portcullis::IssuerMount::of(provider.issuer()).expect("an issuer with a path");
    mount.prefix().to_owned()
}

/// A running server; stops when dropped.
pub struct Served {
    addr: SocketAddr,
    stop: Stop,
}

enum Stop {
    Axum(tokio::task::JoinHandle<()>),
    Actix(actix_web::dev::ServerHandle),
}

impl Served {
    /// Serves `mount` on `port` with `adapter`. Call it inside a tokio runtime.
    pub async fn start<P: Interaction>(adapter: Adapter, port: Port, mount: Mount<P>) -> Self {
        let timeout = ServerLimits::default().request_timeout;
        Self::start_timed(adapter, port, mount, timeout).await
    }

    /// [`Served::start`], answering `408` to a request not answered within `request_timeout`
    /// of its head.
    pub async fn start_timed<P: Interaction>(
        adapter: Adapter,
        port: Port,
        mount: Mount<P>,
        request_timeout: Duration,
    ) -> Self {
        Self::serve(adapter, port, mount, HostRoutes::new(), request_timeout)
    }

    /// [`Served::start`] with the host's own `routes` too, at the root (`host_routes`).
    pub async fn start_with_routes<P: Interaction>(
        adapter: Adapter,
        port: Port,
        mount: Mount<P>,
        routes: HostRoutes,
    ) -> Self {
        let timeout = ServerLimits::default().request_timeout;
        Self::serve(adapter, port, mount, routes, timeout)
    }

    fn serve<P: Interaction>(
        adapter: Adapter,
        port: Port,
        mount: Mount<P>,
        routes: HostRoutes,
        timeout: Duration,
    ) -> Self {
        let Port { listener, addr } = port;
        let stop = match adapter {
            Adapter::Axum => Stop::Axum(serve_axum(listener, mount, routes, timeout)),
            Adapter::Actix => Stop::Actix(serve_actix(listener, mount, routes, timeout)),
        };
        Self { addr, stop }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        match &self.stop {
            Stop::Axum(task) => task.abort(),
            // The command is sent at once; its completion is not awaited.
            Stop::Actix(handle) => drop(handle.stop(false)),
        }
    }
}

fn serve_axum<P: Interaction>(
    listener: TcpListener,
    mount: Mount<P>,
    routes: HostRoutes,
    request_timeout: Duration,
) -> tokio::task::JoinHandle<()> {
    let router = match mount {
        Mount::One(provider, pages) => portcullis_axum::router(provider, pages),
        Mount::Nested(provider, pages) => axum::Router::new().nest(
            &issuer_path(&provider),
            portcullis_axum::router(provider, pages),
        ),
        Mount::Several(issuers) => {
            portcullis_axum::multi_issuer_router(issuers).expect("issuers that can share a router")
        }
    };
    let router = router.merge(portcullis_axum::host_routes(routes));
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
    tokio::spawn(async move {
        let limits = ServerLimits {
            request_timeout,
            ..ServerLimits::default()
        };
        let never = portcullis_axum::serve(listener, router, limits).await;
        match never {}
    })
}

/// actix-web runs its own single-threaded runtime: the server gets a thread of its own.
fn serve_actix<P: Interaction>(
    listener: TcpListener,
    mount: Mount<P>,
    routes: HostRoutes,
    request_timeout: Duration,
) -> actix_web::dev::ServerHandle {
    let (scope, router) = match mount {
        Mount::One(provider, pages) => (String::new(), portcullis_actix::router(provider, pages)),
        Mount::Nested(provider, pages) => (
            issuer_path(&provider),
            portcullis_actix::router(provider, pages),
        ),
        Mount::Several(issuers) => (
            String::new(),
            portcullis_actix::multi_issuer_router(issuers)
                .expect("issuers that can share a router"),
        ),
    };
    let router = router.request_timeout(request_timeout);
    let host = portcullis_actix::host_routes(routes).request_timeout(request_timeout);
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(move || {
                let app = actix_web::App::new().service(host.clone());
                if scope.is_empty() {
                    app.service(router.clone())
                } else {
                    app.service(actix_web::web::scope(&scope).service(router.clone()))
                }
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .expect("serve the listener")
            .run();
            handle_tx
                .send(server.handle())
                .expect("hand the server over");
            server.await.expect("the actix server");
        });
    });
    handle_rx.recv().expect("the actix server started")
}

/// The confidential client every [`test_provider`] registers.
pub const WEB_CLIENT: &str = "web";
/// Its secret.
pub const WEB_SECRET: &str = "s3cret-for-the-web-client";
/// Its redirect URI.
pub const WEB_REDIRECT: &str = "https://web.example/cb";
/// Where it may be sent after logout.
pub const WEB_LOGOUT_REDIRECT: &str = "https://web.example/bye";

/// The request header [`TestPages`] signs its value in with.
pub const SIGN_IN_HEADER: &str = "x-test-sign-in";
/// The request header whose value [`TestPages`] echoes (proof the request head reached it).
pub const ECHO_HEADER: &str = "x-test-echo";
/// The response header in which [`TestPages`] says whether the head carried the peer address.
pub const PEER_HEADER: &str = "x-test-peer";

/// A provider for `issuer` over `store`, with [`WEB_CLIENT`] registered (the same id and
/// secret at every issuer) and the interaction key `[7; 32]` (the same at every issuer too:
/// what keeps issuers apart must be the issuer, not a key).
pub async fn test_provider(store: Arc<MemoryStore>, issuer: Issuer) -> Provider {
    // The device grant on (RFC 8628), so that its endpoint answers through the adapters.
    let mut policy = Policy::default();
    policy.device_authorization.verification_uri = Some(issuer.endpoint("/device"));
    let provider = Provider::builder(issuer)
        .policy(policy)
        .stores(Stores::shared(store))
        .interaction_key([7; 32])
        .build()
        .expect("a provider");
    let client = Client::new(
        WEB_CLIENT,
        ClientKind::confidential(
            ClientSecretHash::pbkdf2(
                WEB_SECRET,
                NonZeroU32::new(1000).expect("non-zero"),
                &SystemRandom::new(),
            )
            .expect("a secret hash"),
        ),
    )
    .with_redirect_uris([RedirectUri::parse(WEB_REDIRECT).expect("a redirect URI")])
    .with_allowed_scopes(ScopeSet::parse("openid profile read offline_access").expect("scopes"))
    .with_default_scopes(ScopeSet::parse("read").expect("scopes"))
    .with_grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
    .with_pkce(PkcePolicy::Required)
    .with_oidc(ClientOidc {
        post_logout_redirect_uris: vec![
            RedirectUri::parse(WEB_LOGOUT_REDIRECT).expect("a redirect URI")
        ],
        ..ClientOidc::default()
    });
    provider
        .register_client(&client)
        .await
        .expect("register the client");
    provider
}

/// Minimal host pages: a browser whose session cookie the issuer's [`SessionManager`] knows,
/// or that sends [`SIGN_IN_HEADER`], is approved at once (everything it asked for);
/// another gets `200` with the body `login:TICKET` and two cookies (`a=1`, `b=2`). Logout
/// ends the session and answers [`Provider::finish_logout`].
pub struct TestPages {
    provider: Provider,
    sessions: SessionManager,
}

impl TestPages {
    /// Pages for `provider`, with sessions in `store`.
    pub fn new(provider: &Provider, store: Arc<MemoryStore>) -> Self {
        let sessions = SessionManager::builder(provider.issuer().clone(), store)
            .csrf_key([9; 32])
            .build()
            .expect("a session manager");
        Self {
            provider: provider.clone(),
            sessions,
        }
    }
}

#[portcullis::async_trait]
impl Interaction for TestPages {
    async fn begin(
        &self,
        pending: PendingAuthorization,
        request: http::request::Parts,
    ) -> http::Response<Bytes> {
        let headers = &request.headers;
        let session = self
            .sessions
            .current(headers)
            .await
            .expect("the session store");
        let (subject, set_cookie) = match (session, headers.get(SIGN_IN_HEADER)) {
            (Some(session), _) => (session.subject().to_owned(), None),
            (None, Some(user)) => {
                let user = user.to_str().expect("an ASCII user");
                let now = self.sessions.now();
                let (_, cookie) = self
                    .sessions
                    .sign_in(headers, user, now)
                    .await
                    .expect("sign in");
                (user.to_owned(), Some(cookie))
            }
            (None, None) => {
                let mut page =
                    http::Response::new(Bytes::from(format!("login:{}", pending.ticket())));
                let h = page.headers_mut();
                h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                h.append(SET_COOKIE, HeaderValue::from_static("a=1; Path=/"));
                h.append(SET_COOKIE, HeaderValue::from_static("b=2; Path=/"));
                if let Some(echo) = headers.get(ECHO_HEADER) {
                    h.insert(ECHO_HEADER, echo.clone());
                }
                let peer = request.extensions.get::<SocketAddr>().is_some()
                    || request
                        .extensions
                        .get::<axum::extract::ConnectInfo<SocketAddr>>()
                        .is_some();
                h.insert(
                    PEER_HEADER,
                    HeaderValue::from_static(if peer { "yes" } else { "no" }),
                );
                return page;
            }
        };
        let approval = Approval::new(subject, self.sessions.now(), pending.scopes().clone())
            .with_amr(Some(vec!["pwd".into()]));
        let mut response = self.provider.approve(pending, approval).await;
        if let Some(cookie) = set_cookie {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
        response
    }

    async fn end_session(
        &self,
        pending: PendingLogout,
        request: http::request::Parts,
    ) -> http::Response<Bytes> {
        let clear = self
            .sessions
            .sign_out(&request.headers)
            .await
            .expect("sign out");
        let mut response = self.provider.finish_logout(pending).await;
        response.headers_mut().append(SET_COOKIE, clear);
        response
    }
}
