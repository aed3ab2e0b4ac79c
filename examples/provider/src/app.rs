//! Wiring: the provider, its clients, the pages and the server.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App};
use axum::middleware::map_response;
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use portcullis::core::{
    DeviceAuthorizationPolicy, Issuer, IssuerError, KeyPolicy, Policy, ScopeSet, SecurityProfile,
};
use portcullis::store::{SessionStore, StoreError};
use portcullis::tls::{ServerTls, TlsError};
use portcullis::{
    BackchannelLogout, BlockingPool, BuildError, ClientCertificateAuth, Clock, HostRoutes,
    KeyError, Provider, RegisterError, ReqwestFetcher, ServerLimits, Stores, SystemClock,
};
use portcullis_axum::into_response;
use portcullis_interaction::{
    add_security_headers, purge_periodically, LoginFlow, LoginThrottle, PageError,
    SecretsFileError, SessionManager, SharedSecret, ThrottlePolicy, TotpCheck,
};
use portcullis_store_memory::MemoryStore;
use ring::rand::SystemRandom;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::store::chain;
use crate::users::Users;

/// The most clients kept in memory (`client_cache_seconds`).
const CLIENT_CACHE_CAPACITY: usize = 10_000;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration file was refused.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// Binding or serving failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// `http://<bound address>` is not a valid issuer (e.g. `0.0.0.0`).
    #[error("http://{addr} cannot be the issuer ({source}); pass --issuer")]
    Issuer {
        /// The bound address.
        addr: SocketAddr,
        /// Why the issuer was refused.
        source: IssuerError,
    },
    /// The provider could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A client could not be registered.
    #[error("cannot register client {id}: {source}")]
    Register {
        /// The client.
        id: String,
        /// Why.
        source: RegisterError,
    },
    /// The random number generator failed.
    #[error("the random number generator failed")]
    Random,
    /// The HTTP client for clients' `jwks_uri`s could not be built.
    #[error("cannot build the HTTP client for jwks_uri")]
    Fetcher,
    /// The database could not be opened (or migrated).
    #[error("cannot open the database {}: {}", path.display(), chain(source))]
    Store {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: StoreError,
    },
    /// The PostgreSQL database could not be reached (or migrated).
    #[error("cannot open the postgres database {url}: {}", chain(source))]
    Postgres {
        /// The connection URL, without its password.
        url: String,
        /// Why.
        source: StoreError,
    },
    /// A store shared by several nodes (postgres) needs secrets every node shares, so the
    /// configuration must set them.
    #[error(
        "with --store {store}, the configuration must set `{field}`: every node of the \
         issuer needs the same value (32 random bytes, base64url without padding)"
    )]
    SharedSecretMissing {
        /// The store, without a password.
        store: String,
        /// The missing field, e.g. `[secrets] interaction_key`.
        field: &'static str,
    },
    /// The key-encryption keys were refused, or the stored signing keys do not open with
    /// them (a wrong or missing `[secrets] key_encryption_key`).
    #[error("signing keys: {0}")]
    Keys(#[from] KeyError),
    /// The secrets file beside the database could not be read or created.
    #[error(transparent)]
    Secrets(#[from] SecretsFileError),
    /// A `clients` subcommand was refused.
    #[error("clients: {0}")]
    Clients(String),
    /// The TLS certificate, key or client CA was refused.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
}

/// Builds the provider for `issuer` from `config` and returns its routes: the engine's
/// endpoints (`portcullis::paths`: `/authorize`, `/token`, `/userinfo`, `/session/end`,
/// `/jwks`, discovery), and `POST /login`, `POST /consent` and `POST /logout` (the pages),
/// all below the issuer's path and all with the security headers.
///
/// Sign-ins are throttled per client address only when the router is served with
/// `into_make_service_with_connect_info::<SocketAddr>()` (as [`spawn`] does); otherwise per
/// account only.
pub async fn app(config: Config, issuer: Issuer) -> Result<Router, StartError> {
    Ok(build(config, issuer, Arc::new(SystemClock), None)
        .await?
        .router)
}

/// What [`build`] makes: the routes on axum, the site for actix, and what the server task
/// keeps purging.
pub(crate) struct Built {
    router: Router,
    site: Site,
    pub(crate) provider: Provider,
    sessions: SessionManager,
}

/// [`app`] with the provider it serves, reading the time from `clock`, on `stores` if
/// given (with sessions in memory), else on the configured store (sessions included).
pub(crate) async fn build(
    mut config: Config,
    issuer: Issuer,
    clock: Arc<dyn Clock>,
    stores: Option<Stores>,
) -> Result<Built, StartError> {
    let rng = SystemRandom::new();
    let (stores, session_store): (Stores, Arc<dyn SessionStore>) = match stores {
        Some(s) => (s, Arc::new(MemoryStore::new())),
        None => {
            require_shared_secrets(&config)?;
            let opened = config.store.open(&config.postgres).await?;
            // Beside a store that outlives the process, the secrets the configuration
            // leaves out are kept in a file. With the memory store the engine and the pages
            // draw random ones, and signing keys stay unsealed in memory.
            if let Some(path) = config.store.secrets_path() {
                config.secrets.fill_from_file(&path, &rng)?;
            }
            opened
        }
    };
    let mut policy = match config.profile {
        SecurityProfile::Fapi2 => Policy::fapi2(),
        _ => Policy::default(),
    };
    policy.lifetimes = config.lifetimes.clone();
    policy.keys = KeyPolicy {
        default_alg: policy.profile.signing_alg(None, config.keys.default_alg),
        ..config.keys.clone()
    };
    policy.dpop.require_nonce = config.dpop_require_nonce;
    policy.pushed_authorization_requests = config.pushed_requests.clone();
    if let Some((lifetime, interval)) = config.device {
        // The verification page is the login flow's `/device` (RFC 8628 §3.3).
        policy.device_authorization = DeviceAuthorizationPolicy {
            verification_uri: Some(issuer.endpoint("/device")),
            lifetime,
            interval,
        };
    }
    policy.resources = config.resources.clone();
    policy.scope_lifetimes = config.scope_lifetimes.clone();
    policy.authorization_details = crate::payment::registry(&config.authorization_details_types);
    config.trust.configure(&mut policy);
    policy.dangerous_allow_implicit = config.dangerous_allow_implicit;
    policy.dangerous_allow_password_grant = config.dangerous_allow_password_grant;
    // Client secrets, passwords and RSA keys share one bounded pool, off the async workers.
    let blocking = BlockingPool::default();
    let users = Users::new(
        config.users,
        config.pbkdf2_iterations,
        &rng,
        blocking.clone(),
    )
    .map_err(|_| StartError::Random)?;
    let users = Arc::new(users);
    // Discovery lists every scope a configured client may ask for (`read write` for the
    // demo clients), besides OpenID Connect's.
    let scopes = config
        .clients
        .iter()
        .fold(ScopeSet::new(), |all, c| all.union(&c.allowed_scopes));
    // One-time codes are spent in the provider's replay cache, shared by every node.
    let replays = stores.replays.clone();
    let fetcher = Arc::new(ReqwestFetcher::new().map_err(|_| StartError::Fetcher)?);
    let builder = Provider::builder(issuer.clone())
        .advertise_scopes(scopes)
        .policy(policy)
        .stores(stores)
        .clock(clock.clone())
        .claims(users.clone())
        .registration(config.registration.clone())
        .client_id_metadata_documents(config.client_documents.clone())
        .blocking_pool(blocking)
        .client_certificate_auth(config.tls.as_ref().map_or_else(
            ClientCertificateAuth::default,
            ServerTls::client_certificate_auth,
        ))
        .fetcher(fetcher.clone())
        // Logout tokens go out under the fetcher's rules (public https addresses only); the
        // login flow names every session, so ID tokens and logout tokens carry `sid`.
        .backchannel_logout(BackchannelLogout::new(fetcher).sessions_named());
    let builder = builder.subject_mapper(Arc::new(config.trust.clone()));
    let builder = if config.trust.token_exchange {
        builder.token_exchange(Arc::new(crate::trust::ActorDecides))
    } else {
        builder
    };
    let builder = builder.client_cache(config.client_cache, CLIENT_CACHE_CAPACITY);
    let builder = if config.fetch_request_uris {
        builder.fetch_request_uris_on_clients_behalf()
    } else {
        builder
    };
    // The password grant checks `[[users]]`, throttled with the login form's throttle.
    let throttle = LoginThrottle::new(ThrottlePolicy::default(), clock.clone());
    let builder = match config.dangerous_allow_password_grant {
        true => builder.password_authenticator(users.clone(), throttle.clone()),
        false => builder,
    };
    let builder = config.secrets.configure_provider(builder);
    let provider = builder.map_err(KeyError::from)?.build()?;
    // Stored keys that do not open stop the start here; plaintext ones are sealed now.
    provider.load_signing_keys().await?;
    for client in &config.clients {
        let registered = provider.register_client(client).await;
        registered.map_err(|source| StartError::Register {
            id: client.id.clone(),
            source,
        })?;
    }
    let sessions = SessionManager::builder(issuer.clone(), session_store)
        .lifetime(config.session_lifetime)
        .clock(clock.clone());
    let sessions = config.secrets.configure_sessions(sessions);
    let sessions = sessions.build().map_err(|_| StartError::Random)?;
    let pages = portcullis_interaction::Pages::new(&issuer)
        .describe_scope("read", "Read your data.")
        .describe_scope("write", "Change your data.")
        .describe_scope("payment", "Make the payments you approve.");
    let pages = config
        .client_names
        .iter()
        .fold(pages, |pages, (id, name)| pages.name_client(id, name));
    let base = pages.base().to_owned();
    let flow = LoginFlow::new(provider.clone(), sessions.clone(), throttle, pages, users)
        .with_totp(TotpCheck::new(replays, issuer.clone()));
    let site = Site {
        routes: flow.host_routes(),
        flow,
        base,
    };
    Ok(Built {
        router: site.axum(),
        site,
        provider,
        sessions,
    })
}

/// What either adapter serves: the engine's endpoints with the example's pages and the
/// pages' own routes, below the issuer's path (`base`), every answer with the security
/// headers, and an HTML `404` page for any other path.
#[derive(Clone)]
struct Site {
    flow: LoginFlow,
    routes: HostRoutes,
    base: String,
}

impl Site {
    fn not_found(&self) -> http::Response<Bytes> {
        self.flow.pages().error(PageError::NotFound)
    }

    fn axum(&self) -> Router {
        let engine = portcullis_axum::router(self.flow.provider().clone(), self.flow.clone());
        let routes = engine.merge(portcullis_axum::host_routes(self.routes.clone()));
        let routes = if self.base.is_empty() {
            routes
        } else {
            Router::new().nest(&self.base, routes)
        };
        let site = self.clone();
        routes
            .fallback(|| async move { into_response(site.not_found()) })
            .layer(map_response(|mut response: Response| async move {
                add_security_headers(response.headers_mut());
                response
            }))
    }

    /// Serves the site with actix-web within `limits`, on a runtime of its own (actix's),
    /// until the returned future is dropped, or until `stop` completes: then gracefully
    /// (actix stops accepting and lets requests in progress finish).
    fn serve_actix(
        self,
        listener: std::net::TcpListener,
        limits: ServerLimits,
        tls: Option<ServerTls>,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<impl Future<Output = std::io::Result<()>> + Send> {
        let timeout = limits.request_timeout;
        let engine = portcullis_actix::router(self.flow.provider().clone(), self.flow.clone())
            .request_timeout(timeout);
        let host = portcullis_actix::host_routes(self.routes.clone()).request_timeout(timeout);
        let app = move || {
            let (site, scope) = (self.clone(), web::scope(&self.base));
            App::new()
                .service(scope.service(engine.clone()).service(host.clone()))
                .default_service(web::to(move || {
                    std::future::ready(portcullis_actix::into_response(site.not_found()))
                }))
                .wrap(from_fn(security_headers))
        };
        let server = match tls {
            Some(tls) => portcullis_actix::serve_tls(app, listener, &limits, tls)?,
            None => portcullis_actix::serve(app, listener, &limits)?,
        };
        let handle = server.handle();
        let on_drop = StopOnDrop(handle.clone());
        let served = tokio::task::spawn_blocking(|| actix_web::rt::System::new().block_on(server));
        tokio::spawn(async move {
            stop.await;
            handle.stop(true).await;
        });
        Ok(async move {
            let _stop = on_drop;
            served.await.map_err(std::io::Error::other)?
        })
    }
}

/// [`add_security_headers`] on every actix-web answer, as `map_response` on axum's.
async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = next.call(req).await?;
    portcullis_actix::edit_headers(response.headers_mut(), add_security_headers);
    Ok(response)
}

/// Stops an actix-web server when dropped.
struct StopOnDrop(ServerHandle);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        // The command is sent at once; its completion is not awaited.
        drop(self.0.stop(false));
    }
}

/// `https` when the configuration serves TLS, else `http`.
fn scheme(config: &Config) -> &'static str {
    if config.tls.is_some() {
        "https"
    } else {
        "http"
    }
}

/// Refuses a store shared by several nodes (postgres) unless the configuration sets every
/// secret the nodes must share: drawn at random or kept in a file of one node's own, they
/// would differ from node to node.
fn require_shared_secrets(config: &Config) -> Result<(), StartError> {
    let Some(missing) = config
        .secrets
        .missing()
        .filter(|_| config.store.is_shared())
    else {
        return Ok(());
    };
    let field = match missing {
        SharedSecret::InteractionKey => "[secrets] interaction_key",
        SharedSecret::SubjectSalt => "[secrets] subject_salt",
        SharedSecret::CsrfKey => "[session] key",
        _ => "[secrets] key_encryption_key",
    };
    let store = config.store.to_string();
    Err(StartError::SharedSecretMissing { store, field })
}

/// A server started by [`spawn`]. Dropping it stops the server.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    issuer: Issuer,
    provider: Provider,
    task: JoinHandle<std::io::Result<()>>,
    stop: watch::Sender<bool>,
}

impl Running {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address the Prometheus endpoint listens on (`[metrics] listen`), if it does.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// The provider being served, e.g. to rotate its signing keys.
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// The URL of `path` (starting with `/`) below the issuer, e.g. `url("/token")`.
    pub fn url(&self, path: &str) -> String {
        self.issuer.endpoint(path)
    }

    /// Serves until the server fails.
    pub async fn wait(mut self) -> Result<(), StartError> {
        joined((&mut self.task).await)
    }

    /// Serves until the server fails or `signal` completes, then shuts down gracefully:
    /// the listener and the Prometheus endpoint's are closed (new connections are refused),
    /// idle connections are closed, and requests in progress are answered, for at most
    /// `drain`; requests still unanswered then are cut off (and logged).
    pub async fn serve_until(
        mut self,
        signal: impl Future<Output = ()>,
        drain: Duration,
    ) -> Result<(), StartError> {
        tokio::select! {
            result = &mut self.task => return joined(result),
            () = signal => {}
        }
        tracing::info!(?drain, "shutting down: draining requests in progress");
        self.stop.send_replace(true);
        match tokio::time::timeout(drain, &mut self.task).await {
            Ok(result) => joined(result),
            Err(_) => {
                tracing::warn!(
                    ?drain,
                    "requests still in progress after the drain: cut off"
                );
                Ok(())
            }
        }
    }
}

/// What the server task ended with.
fn joined(result: Result<std::io::Result<()>, tokio::task::JoinError>) -> Result<(), StartError> {
    match result {
        Ok(result) => Ok(result?),
        Err(e) => Err(std::io::Error::other(e).into()),
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The web framework a server is started on: the same provider, pages, limits, headers and
/// purging on either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// `portcullis-axum`, on its `serve` (as the binary is).
    Axum,
    /// `portcullis-actix`, on actix-web's `HttpServer` (and actix's own runtime).
    Actix,
}

impl Adapter {
    /// Every adapter, e.g. for a test run against each.
    pub const ALL: [Self; 2] = [Self::Axum, Self::Actix];
}

/// Starts serving on `listener` in a background task. The issuer defaults to
/// `http://<bound address>` (`https` with [`Config::with_tls`]; accepted for loopback
/// addresses only).
pub async fn spawn(
    config: Config,
    issuer: Option<Issuer>,
    listener: TcpListener,
) -> Result<Running, StartError> {
    spawn_with(config, issuer, listener, Arc::new(SystemClock)).await
}

/// [`spawn`] with the time read from `clock` (the provider's and the pages'), e.g. a
/// [`portcullis::ManualClock`] in tests.
pub async fn spawn_with(
    config: Config,
    issuer: Option<Issuer>,
    listener: TcpListener,
    clock: Arc<dyn Clock>,
) -> Result<Running, StartError> {
    spawn_on(Adapter::Axum, config, issuer, listener, clock).await
}

/// [`spawn_with`] on `adapter`.
pub async fn spawn_on(
    adapter: Adapter,
    config: Config,
    issuer: Option<Issuer>,
    listener: TcpListener,
    clock: Arc<dyn Clock>,
) -> Result<Running, StartError> {
    start(adapter, config, issuer, listener, clock, None).await
}

/// [`spawn_with`] on `stores` of the caller's own instead of the configured store (e.g. a
/// store that fails on demand, in tests). No secrets file is kept: secrets the configuration
/// does not set are random.
pub async fn spawn_with_stores(
    config: Config,
    issuer: Option<Issuer>,
    listener: TcpListener,
    clock: Arc<dyn Clock>,
    stores: Stores,
) -> Result<Running, StartError> {
    start(Adapter::Axum, config, issuer, listener, clock, Some(stores)).await
}

async fn start(
    adapter: Adapter,
    config: Config,
    issuer: Option<Issuer>,
    listener: TcpListener,
    clock: Arc<dyn Clock>,
    stores: Option<Stores>,
) -> Result<Running, StartError> {
    let addr = listener.local_addr()?;
    let issuer = match issuer {
        Some(i) => i,
        None => Issuer::parse(&format!("{}://{addr}", scheme(&config)))
            .map_err(|source| StartError::Issuer { addr, source })?,
    };
    let (limits, tls) = (config.server_limits, config.tls.clone());
    let metrics = match config.metrics_listen {
        Some(at) => Some(TcpListener::bind(at).await?),
        None => None,
    };
    let metrics_addr = metrics.as_ref().map(TcpListener::local_addr).transpose()?;
    let Built {
        router,
        site,
        provider,
        sessions,
    } = build(config, issuer.clone(), clock, stores).await?;
    let (stop, stopping) = watch::channel(false);
    let signal = move || {
        let mut stopping = stopping.clone();
        async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        }
    };
    let (stop_serving, stop_metrics) = (signal(), signal());
    // Each hands each request its peer's address: sign-ins are throttled per address.
    let served: Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> = match (adapter, tls) {
        (Adapter::Axum, None) => Box::pin(async move {
            portcullis_axum::serve_with_shutdown(listener, router, limits, stop_serving).await;
            Ok(())
        }),
        (Adapter::Axum, Some(tls)) => Box::pin(async move {
            portcullis_axum::serve_tls_with_shutdown(listener, router, limits, tls, stop_serving)
                .await;
            Ok(())
        }),
        (Adapter::Actix, tls) => {
            Box::pin(site.serve_actix(listener.into_std()?, limits, tls, stop_serving)?)
        }
    };
    // Expired codes, tokens, keys and sessions are removed every ten minutes (the SQL
    // stores do not purge on their own).
    let purge = purge_periodically(provider.clone(), sessions, Duration::from_secs(600));
    let metrics = async move {
        match metrics {
            Some(listener) => crate::prometheus::serve(listener, stop_metrics).await,
            None => {
                stop_metrics.await;
                Ok(())
            }
        }
    };
    // Ends when either fails, or when both have shut down.
    let task = tokio::spawn(async move {
        tokio::select! {
            served = async { tokio::try_join!(served, metrics).map(|_| ()) } => served,
            never = purge => match never {},
        }
    });
    Ok(Running {
        addr,
        metrics_addr,
        issuer,
        provider,
        task,
        stop,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http::header::{
        CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, SET_COOKIE, X_FRAME_OPTIONS,
    };
    use http::{HeaderMap, Request, StatusCode};
    use tower::ServiceExt;

    const AUTHORIZE: &str = "/authorize?response_type=code&client_id=demo-web\
        &redirect_uri=http%3A%2F%2F127.0.0.1%3A9000%2Fcallback&scope=read%20email&state=st\
        &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";

    async fn demo_app() -> Router {
        let issuer = Issuer::parse("http://127.0.0.1:8080").unwrap();
        app(Config::demo(), issuer).await.unwrap()
    }

    struct Reply {
        status: StatusCode,
        headers: HeaderMap,
        body: String,
    }

    async fn send(app: &Router, req: Request<Body>) -> Reply {
        let r = app.clone().oneshot(req).await.unwrap();
        let (parts, body) = r.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    async fn get(app: &Router, uri: &str, cookie: &str) -> Reply {
        let req = Request::get(uri).header(COOKIE, cookie);
        send(app, req.body(Body::empty()).unwrap()).await
    }

    async fn post(app: &Router, uri: &str, cookie: &str, form: &[(&str, &str)]) -> Reply {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let req = Request::post(uri)
            .header(COOKIE, cookie)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        send(app, req.body(Body::from(body)).unwrap()).await
    }

    /// `name=value` of the `Set-Cookie` for `name`.
    fn cookie(r: &Reply, name: &str) -> String {
        let prefix = format!("{name}=");
        r.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .find(|v| v.starts_with(&prefix))
            .map(|v| v.split(';').next().unwrap().to_owned())
            .unwrap()
    }

    fn assert_page_headers(r: &Reply) {
        assert_eq!(r.headers[X_FRAME_OPTIONS], "DENY");
        assert_eq!(r.headers[CACHE_CONTROL], "no-store");
        let csp = r.headers[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("default-src 'none'"), "{csp}");
    }

    #[tokio::test]
    async fn every_page_has_the_security_headers() {
        let app = demo_app().await;
        let login = get(&app, AUTHORIZE, "").await;
        assert_eq!(login.status, StatusCode::OK);
        assert!(login.body.contains("action=\"/login\""));
        assert!(cookie(&login, "csrf").starts_with("csrf="));
        let engine_error = get(&app, "/authorize?client_id=nobody", "").await;
        assert_eq!(engine_error.status, StatusCode::BAD_REQUEST);
        let not_found = get(&app, "/nothing", "").await;
        assert_eq!(not_found.status, StatusCode::NOT_FOUND);
        let forbidden = post(&app, "/login", "", &[]).await;
        assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
        for r in [&login, &engine_error, &not_found, &forbidden] {
            assert_page_headers(r);
        }
    }

    #[tokio::test]
    async fn discovery_lists_the_scopes_of_the_configured_clients() {
        let app = demo_app().await;
        let r = get(&app, "/.well-known/openid-configuration", "").await;
        assert_eq!(r.status, StatusCode::OK);
        let d: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(
            d["scopes_supported"],
            serde_json::json!([
                "openid",
                "profile",
                "email",
                "address",
                "phone",
                "offline_access",
                "read",
                "write"
            ])
        );
    }

    #[tokio::test]
    async fn routes_live_below_the_issuer_path() {
        let issuer = Issuer::parse("http://127.0.0.1:8080/tenant").unwrap();
        let app = app(Config::demo(), issuer).await.unwrap();
        let page = get(&app, &format!("/tenant{AUTHORIZE}"), "").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("action=\"/tenant/login\""),
            "{}",
            page.body
        );
        assert_eq!(get(&app, AUTHORIZE, "").await.status, StatusCode::NOT_FOUND);
    }

    /// Either adapter serves the same site below the issuer's path: the engine's endpoints,
    /// the pages' routes (with their `405`s), the HTML `404` page, the security headers.
    #[tokio::test]
    async fn both_adapters_serve_the_same_site() {
        let mut answers = Vec::new();
        for adapter in Adapter::ALL {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let root = format!("http://{}", listener.local_addr().unwrap());
            let issuer = Issuer::parse(&format!("{root}/tenant")).unwrap();
            let clock = Arc::new(SystemClock);
            let server = spawn_on(adapter, Config::demo(), Some(issuer), listener, clock)
                .await
                .unwrap();
            let client = reqwest::Client::new();
            let mut seen = Vec::new();
            for (method, path) in [
                ("GET", format!("/tenant{AUTHORIZE}")),
                ("GET", AUTHORIZE.to_owned()),
                ("GET", "/tenant/login".to_owned()),
                ("HEAD", "/tenant/account".to_owned()),
                ("POST", "/tenant/consent".to_owned()),
                ("GET", "/tenant/jwks".to_owned()),
                ("DELETE", "/tenant/jwks".to_owned()),
            ] {
                let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                let r = client.request(method.clone(), format!("{root}{path}"));
                let r = r.send().await.unwrap();
                assert_eq!(r.headers()[X_FRAME_OPTIONS], "DENY", "{adapter:?} {path}");
                let header = |name| {
                    r.headers()
                        .get(name)
                        .map(|v| v.to_str().unwrap().to_owned())
                };
                let (allow, csp) = (header("allow"), header("content-security-policy"));
                let status = r.status().as_u16();
                let body = r.text().await.unwrap();
                let page = body.contains("action=\"/tenant/login\"");
                seen.push((method, path, status, allow, csp, page, body.is_empty()));
            }
            assert_eq!(server.url("/jwks"), format!("{root}/tenant/jwks"));
            answers.push(seen);
        }
        let statuses: Vec<_> = answers[0]
            .iter()
            .map(|a| (a.2, a.3.as_deref(), a.5))
            .collect();
        assert_eq!(
            statuses,
            [
                (200, None, true),
                (404, None, false),
                (405, Some("POST"), false),
                (401, None, false),
                (415, None, false),
                (200, None, false),
                (405, Some("GET,HEAD"), false),
            ]
        );
        assert_eq!(answers[0], answers[1]);
    }
}
