//! Wiring: the provider, its clients, the pages and the server.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, App, HttpServer};
use axum::middleware::map_response;
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use http::Method;
use portcullis::core::{Client, Issuer, IssuerError, Policy, ScopeSet};
use portcullis::store::{SessionStore, StoreError};
use portcullis::{
    BlockingPool, BuildError, Clock, HostRoutes, KeyError, Provider, RegisterError, Stores,
    SystemClock,
};
use portcullis_axum::{into_response, ServerLimits};
use portcullis_interaction::{
    add_security_headers, with_client_address, LoginThrottle, PageError, SessionManager,
    ThrottlePolicy,
};
use portcullis_store_memory::MemoryStore;
use ring::rand::SystemRandom;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{key_encryption_keys, Config};
use crate::flow::{self, Page, Pages};
use crate::secrets;
use crate::store::chain;
use crate::users::Users;

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
    #[error("secrets file {}: {reason}", path.display())]
    Secrets {
        /// The secrets file.
        path: PathBuf,
        /// What is wrong (never a secret's value).
        reason: String,
    },
}

/// Shared state of the pages.
pub(crate) struct AppState {
    pub(crate) provider: Provider,
    /// The registered clients, by id.
    pub(crate) clients: HashMap<String, Client>,
    pub(crate) users: Arc<Users>,
    /// Server-side sessions, and the CSRF tokens of every form.
    pub(crate) sessions: SessionManager,
    /// Failed sign-ins, per account and per client address.
    pub(crate) throttle: LoginThrottle,
    pub(crate) clock: Arc<dyn Clock>,
    /// The pages' templates, below the issuer's path.
    pub(crate) pages: portcullis_interaction::Pages,
}

/// The pages' own routes (`flow`'s handlers, on `http` types), for either adapter: each
/// request with its peer's address as its
/// [`ClientAddress`](portcullis_interaction::ClientAddress).
fn host_routes(state: &Arc<AppState>) -> HostRoutes {
    fn page<F: Future<Output = Page> + Send + 'static>(
        state: &Arc<AppState>,
        handler: fn(Arc<AppState>, http::Request<Bytes>) -> F,
    ) -> impl Fn(http::Request<Bytes>) -> F + Send + Sync + 'static {
        let state = state.clone();
        move |req| handler(state.clone(), with_client_address(req))
    }
    HostRoutes::new()
        .route(Method::POST, "/login", page(state, flow::login))
        .route(Method::POST, "/consent", page(state, flow::consent))
        .route(Method::POST, "/logout", page(state, flow::logout))
        .route(Method::GET, "/account", page(state, flow::account))
        .route(
            Method::POST,
            "/account/revoke",
            page(state, flow::revoke_grant),
        )
        .route(
            Method::POST,
            "/account/sign-out-everywhere",
            page(state, flow::sign_out_everywhere),
        )
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
struct Built {
    router: Router,
    site: Site,
    provider: Provider,
    sessions: SessionManager,
}

/// [`app`] with the provider it serves, reading the time from `clock`, on `stores` if
/// given (with sessions in memory), else on the configured store (sessions included).
async fn build(
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
            let opened = config.store.open().await?;
            keep_secrets(&mut config, &rng)?;
            opened
        }
    };
    let mut policy = Policy::default();
    policy.lifetimes = config.lifetimes.clone();
    policy.keys = config.keys.clone();
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
    let mut builder = Provider::builder(issuer.clone())
        .advertise_scopes(scopes)
        .policy(policy)
        .stores(stores)
        .clock(clock.clone())
        .claims(users.clone())
        .blocking_pool(blocking);
    if let Some(key) = &config.interaction_key {
        builder = builder.interaction_key(key.0);
    }
    if let Some(salt) = &config.subject_salt {
        builder = builder.subject_salt(salt.0);
    }
    if let Some(kek) = &config.key_encryption_key {
        let keks = key_encryption_keys(kek, &config.previous_key_encryption_keys)
            .map_err(KeyError::from)?;
        builder = builder.key_encryption_keys(keks);
    }
    if config.dangerous_plaintext_signing_keys {
        builder = builder.dangerous_plaintext_signing_keys();
    }
    let provider = builder.build()?;
    // Stored keys that do not open stop the start here; plaintext ones are sealed now.
    provider.load_signing_keys().await?;
    let mut clients = HashMap::new();
    for client in config.clients {
        provider
            .register_client(&client)
            .await
            .map_err(|source| StartError::Register {
                id: client.id.clone(),
                source,
            })?;
        clients.insert(client.id.clone(), client);
    }
    let mut sessions = SessionManager::builder(issuer.clone(), session_store)
        .lifetime(config.session_lifetime)
        .clock(clock.clone());
    if let Some(key) = &config.session_key {
        sessions = sessions.csrf_key(key.0);
    }
    let sessions = sessions.build().map_err(|_| StartError::Random)?;
    let pages = portcullis_interaction::Pages::new(&issuer)
        .describe_scope("read", "read your data")
        .describe_scope("write", "change your data");
    let base = pages.base().to_owned();
    let state = Arc::new(AppState {
        provider: provider.clone(),
        clients,
        users,
        sessions: sessions.clone(),
        throttle: LoginThrottle::new(ThrottlePolicy::default(), clock.clone()),
        clock,
        pages,
    });
    let site = Site {
        routes: host_routes(&state),
        state,
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
    state: Arc<AppState>,
    routes: HostRoutes,
    base: String,
}

impl Site {
    fn not_found(&self) -> Page {
        self.state.pages.error(PageError::NotFound)
    }

    fn axum(&self) -> Router {
        let engine =
            portcullis_axum::router(self.state.provider.clone(), Pages(self.state.clone()));
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
    /// until the returned future is dropped.
    fn serve_actix(
        self,
        listener: std::net::TcpListener,
        limits: ServerLimits,
    ) -> std::io::Result<impl Future<Output = std::io::Result<()>> + Send> {
        // actix limits connections per worker.
        let workers = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
        let timeout = limits.request_timeout;
        let engine =
            portcullis_actix::router(self.state.provider.clone(), Pages(self.state.clone()))
                .request_timeout(timeout);
        let host = portcullis_actix::host_routes(self.routes.clone()).request_timeout(timeout);
        let server = HttpServer::new(move || {
            let (site, scope) = (self.clone(), web::scope(&self.base));
            App::new()
                .service(scope.service(engine.clone()).service(host.clone()))
                .default_service(web::to(move || {
                    std::future::ready(portcullis_actix::into_response(site.not_found()))
                }))
                .wrap(from_fn(security_headers))
        })
        .workers(workers)
        .max_connections((limits.max_connections.get() / workers).max(1))
        .client_request_timeout(limits.header_read_timeout)
        .keep_alive(limits.idle_timeout)
        .disable_signals()
        .listen(listener)?
        .run();
        let stop = StopOnDrop(server.handle());
        let served = tokio::task::spawn_blocking(|| actix_web::rt::System::new().block_on(server));
        Ok(async move {
            let _stop = stop;
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

/// Fills in the secrets the configuration leaves out from the secrets file beside a store
/// that outlives the process (creating it on first start). With the memory store they stay
/// out: the engine and the pages draw random ones, and signing keys stay unsealed in memory.
fn keep_secrets(config: &mut Config, rng: &SystemRandom) -> Result<(), StartError> {
    let Some(path) = config.store.secrets_path() else {
        return Ok(());
    };
    let configured = [
        config.interaction_key.is_some(),
        config.subject_salt.is_some(),
        config.session_key.is_some(),
        config.key_encryption_key.is_some() || config.dangerous_plaintext_signing_keys,
    ];
    if configured.iter().all(|set| *set) {
        return Ok(());
    }
    let kept = secrets::load_or_create(&path, rng)?;
    if !config.dangerous_plaintext_signing_keys && config.key_encryption_key.is_none() {
        config.key_encryption_key = Some(kept.key_encryption_key());
    }
    config.interaction_key.get_or_insert(kept.interaction_key);
    config.subject_salt.get_or_insert(kept.subject_salt);
    config.session_key.get_or_insert(kept.session_key);
    Ok(())
}

/// Refuses a store shared by several nodes (postgres) unless the configuration sets every
/// secret the nodes must share: drawn at random or kept in a file of one node's own, they
/// would differ from node to node.
fn require_shared_secrets(config: &Config) -> Result<(), StartError> {
    if !config.store.is_shared() {
        return Ok(());
    }
    let secrets = [
        (
            "[secrets] interaction_key",
            config.interaction_key.is_some(),
        ),
        ("[secrets] subject_salt", config.subject_salt.is_some()),
        ("[session] key", config.session_key.is_some()),
        (
            "[secrets] key_encryption_key",
            config.key_encryption_key.is_some() || config.dangerous_plaintext_signing_keys,
        ),
    ];
    match secrets.into_iter().find(|(_, set)| !set) {
        Some((field, _)) => Err(StartError::SharedSecretMissing {
            store: config.store.to_string(),
            field,
        }),
        None => Ok(()),
    }
}

/// A server started by [`spawn`]. Dropping it stops the server.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    issuer: Issuer,
    provider: Provider,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
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
        match (&mut self.task).await {
            Ok(result) => Ok(result?),
            Err(e) => Err(std::io::Error::other(e).into()),
        }
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
/// `http://<bound address>` (accepted for loopback addresses only).
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
        None => Issuer::parse(&format!("http://{addr}"))
            .map_err(|source| StartError::Issuer { addr, source })?,
    };
    let limits = config.server_limits;
    let Built {
        router,
        site,
        provider,
        sessions,
    } = build(config, issuer.clone(), clock, stores).await?;
    // Each hands each request its peer's address: sign-ins are throttled per address.
    let served: Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> = match adapter {
        Adapter::Axum => {
            Box::pin(async move { match portcullis_axum::serve(listener, router, limits).await {} })
        }
        Adapter::Actix => Box::pin(site.serve_actix(listener.into_std()?, limits)?),
    };
    let purger = provider.clone();
    let task = tokio::spawn(async move {
        // Expired codes, tokens, keys and sessions are removed every ten minutes (the SQL
        // stores do not purge on their own).
        let purge = async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
            loop {
                every.tick().await;
                if let Err(e) = purger.purge_expired().await {
                    tracing::warn!(error = %e, "purge failed");
                }
                if let Err(e) = sessions.purge_expired().await {
                    tracing::warn!(error = %e, "session purge failed");
                }
            }
        };
        tokio::select! {
            served = served => served,
            () = purge => Ok(()),
        }
    });
    Ok(Running {
        addr,
        issuer,
        provider,
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Secret32;
    use axum::body::Body;
    use http::header::{
        CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE,
        X_FRAME_OPTIONS,
    };
    use http::{HeaderMap, HeaderValue, Request};
    use portcullis::ManualClock;
    use tower::ServiceExt;

    use crate::flow::{CONSENT, LOGOUT};
    use http::StatusCode;
    use portcullis_interaction::CSP;

    const AUTHORIZE: &str = "/authorize?response_type=code&client_id=demo-web\
        &redirect_uri=http%3A%2F%2F127.0.0.1%3A9000%2Fcallback&scope=read%20email&state=st\
        &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    const KEY: [u8; 32] = [7; 32];

    async fn demo_built() -> Built {
        let mut config = Config::demo();
        config.session_key = Some(Secret32(KEY));
        let issuer = Issuer::parse("http://127.0.0.1:8080").unwrap();
        build(config, issuer, Arc::new(SystemClock), None)
            .await
            .unwrap()
    }

    async fn demo_app() -> Router {
        demo_built().await.router
    }

    /// A request's headers carrying `cookies`.
    fn with_cookies(cookies: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(cookies).unwrap());
        h
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

    fn hidden(html: &str, name: &str) -> String {
        let start = format!("name=\"{name}\" value=\"");
        let rest = &html[html.find(&start).unwrap() + start.len()..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    /// A form answering `decision` for `ticket`.
    fn answer<'a>(ticket: &'a str, csrf: &'a str, decision: &'a str) -> [(&'a str, &'a str); 3] {
        [("ticket", ticket), ("csrf", csrf), ("decision", decision)]
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
    async fn posts_need_a_valid_csrf_token() {
        let app = demo_app().await;
        let page = get(&app, AUTHORIZE, "").await;
        let (ticket, csrf, jar) = (
            hidden(&page.body, "ticket"),
            hidden(&page.body, "csrf"),
            cookie(&page, "csrf"),
        );
        let creds = [("username", "alice"), ("password", "wonderland")];
        let with = |token: &'static str| [("ticket", ticket.as_str()), ("csrf", token)];
        for (uri, cookie, form) in [
            ("/login", jar.as_str(), vec![("ticket", ticket.as_str())]),
            ("/login", jar.as_str(), with("AAAA").to_vec()),
            (
                "/login",
                "",
                vec![("ticket", ticket.as_str()), ("csrf", &csrf)],
            ),
            (
                "/consent",
                jar.as_str(),
                vec![("ticket", ticket.as_str()), ("decision", "deny")],
            ),
        ] {
            let form: Vec<_> = form.into_iter().chain(creds).collect();
            let r = post(&app, uri, cookie, &form).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri} {form:?}");
            assert_page_headers(&r);
        }
        // A token minted for another ticket does not carry over.
        let other = get(&app, AUTHORIZE, &jar).await;
        let other_csrf = hidden(&other.body, "csrf");
        let form = [
            ("ticket", ticket.as_str()),
            ("csrf", &other_csrf),
            creds[0],
            creds[1],
        ];
        assert_eq!(
            post(&app, "/login", &jar, &form).await.status,
            StatusCode::FORBIDDEN
        );
    }

    #[tokio::test]
    async fn login_then_consent() {
        let app = demo_app().await;
        let page = get(&app, AUTHORIZE, "").await;
        let (ticket, csrf, jar) = (
            hidden(&page.body, "ticket"),
            hidden(&page.body, "csrf"),
            cookie(&page, "csrf"),
        );
        let base = [("ticket", ticket.as_str()), ("csrf", csrf.as_str())];
        let form = |extra: &[(&'static str, &'static str)]| [&base[..], extra].concat();

        let wrong = post(
            &app,
            "/login",
            &jar,
            &form(&[("username", "alice"), ("password", "x")]),
        )
        .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.body.contains("incorrect") && wrong.headers.get(SET_COOKIE).is_none());

        // The login form's token is bound to no session: it does not pass at consent.
        let approve_without_session =
            post(&app, "/consent", &jar, &form(&[("decision", "approve")])).await;
        assert_eq!(approve_without_session.status, StatusCode::FORBIDDEN);

        let ok = post(
            &app,
            "/login",
            &jar,
            &form(&[("username", "alice"), ("password", "wonderland")]),
        )
        .await;
        assert_eq!(ok.status, StatusCode::OK);
        assert!(ok.body.contains("value=\"email\" checked"), "{}", ok.body);
        assert_eq!(
            ok.headers[CONTENT_SECURITY_POLICY],
            format!("{} http://127.0.0.1:9000", CSP)
        );
        let session = cookie(&ok, "session");
        let jar = format!("{jar}; {session}");
        // The consent form's token is bound to the new session.
        let consent_csrf = hidden(&ok.body, "csrf");
        assert_ne!(consent_csrf, csrf);

        // Signed in: /authorize goes straight to consent.
        let again = get(&app, AUTHORIZE, &jar).await;
        assert!(
            again.body.contains("action=\"/consent\"") && again.headers.get(SET_COOKIE).is_none()
        );

        let approve = [
            ("ticket", ticket.as_str()),
            ("csrf", consent_csrf.as_str()),
            ("decision", "approve"),
            ("scope", "email"),
        ];
        let approved = post(&app, "/consent", &jar, &approve).await;
        assert_eq!(approved.status, StatusCode::SEE_OTHER);
        let location = approved.headers[LOCATION].to_str().unwrap();
        assert!(
            location.starts_with("http://127.0.0.1:9000/callback?code="),
            "{location}"
        );
        assert!(location.contains("state=st"), "{location}");
    }

    #[tokio::test]
    async fn an_invalid_ticket_is_a_bad_request() {
        let Built {
            router: app,
            sessions,
            ..
        } = demo_built().await;
        let page = get(&app, AUTHORIZE, "").await;
        let jar = cookie(&page, "csrf");
        let binding = sessions.login_binding(&with_cookies(&jar)).unwrap();
        let csrf = sessions.login_csrf_token(&binding, "forged");
        let r = post(&app, "/login", &jar, &answer("forged", &csrf, "yes")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.body.contains("expired"));
        // Signed in, with tokens valid for the forged ticket.
        let (ticket, login_csrf) = (hidden(&page.body, "ticket"), hidden(&page.body, "csrf"));
        let creds = [
            ("ticket", ticket.as_str()),
            ("csrf", login_csrf.as_str()),
            ("username", "alice"),
            ("password", "wonderland"),
        ];
        let signed_in = post(&app, "/login", &jar, &creds).await;
        let jar = format!("{jar}; {}", cookie(&signed_in, "session"));
        let session = sessions
            .current(&with_cookies(&jar))
            .await
            .unwrap()
            .unwrap();
        for (uri, action) in [("/consent", CONSENT), ("/logout", LOGOUT)] {
            let csrf = sessions.form_token(&session, action, "forged");
            let r = post(&app, uri, &jar, &answer("forged", &csrf, "yes")).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
            assert!(r.body.contains("expired"), "{uri}");
        }
        // A ticket of the other kind does not open either.
        let csrf = sessions.form_token(&session, LOGOUT, &ticket);
        let r = post(&app, "/logout", &jar, &answer(&ticket, &csrf, "yes")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }

    /// An OpenID Connect client.
    const OIDC_CONFIG: &str = r#"
        pbkdf2_iterations = 1000
        [[clients]]
        id = "rp"
        type = "confidential"
        secret = "rp-secret"
        redirect_uris = ["https://rp.example/cb"]
        allowed_scopes = "openid profile"
        grant_types = ["authorization_code"]
        post_logout_redirect_uris = ["https://rp.example/bye"]
        [[users]]
        username = "alice"
        password = "wonderland"
    "#;
    const OIDC_AUTHORIZE: &str = "/authorize?response_type=code&client_id=rp\
        &redirect_uri=https%3A%2F%2Frp.example%2Fcb&scope=openid&state=st&nonce=n\
        &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";

    /// The `rp` client's provider, on a clock the test moves.
    async fn oidc_app() -> (Router, Arc<ManualClock>) {
        let config = Config::parse(OIDC_CONFIG).unwrap();
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let issuer = Issuer::parse("http://127.0.0.1:8080").unwrap();
        let built = build(config, issuer, clock.clone(), None).await.unwrap();
        (built.router, clock)
    }

    /// Signs alice in through the login form of an `rp` request: a browser's cookies (its
    /// pre-login binding and its session).
    async fn sign_in_alice(app: &Router) -> String {
        let page = get(app, OIDC_AUTHORIZE, "").await;
        let jar = cookie(&page, "csrf");
        let (ticket, csrf) = (hidden(&page.body, "ticket"), hidden(&page.body, "csrf"));
        let form = [
            ("ticket", ticket.as_str()),
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", "wonderland"),
        ];
        let r = post(app, "/login", &jar, &form).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        format!("{jar}; {}", cookie(&r, "session"))
    }

    /// A page's form: its ticket and CSRF token.
    fn form_of(page: &Reply) -> (String, String) {
        (hidden(&page.body, "ticket"), hidden(&page.body, "csrf"))
    }

    fn location(r: &Reply) -> &str {
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        r.headers[LOCATION].to_str().unwrap()
    }

    #[tokio::test]
    async fn consent_is_remembered_and_can_be_switched_away_from() {
        let (app, _) = oidc_app().await;
        let alice = sign_in_alice(&app).await;
        let page = get(&app, OIDC_AUTHORIZE, &alice).await;
        let (ticket, csrf) = form_of(&page);
        let form = |decision| answer(&ticket, &csrf, decision);

        // "Not you?" signs out and shows the sign-in form of the same request.
        let switched = post(&app, "/consent", &alice, &form("switch")).await;
        assert_eq!(switched.status, StatusCode::OK);
        assert!(
            switched.body.contains("action=\"/login\""),
            "{}",
            switched.body
        );
        assert_eq!(hidden(&switched.body, "ticket"), ticket);
        assert_eq!(cookie(&switched, "session"), "session=");
        // The session is gone, not only the cookie: a copy of it asks to sign in again.
        let mut approve = form("approve").to_vec();
        approve.push(("scope", "openid"));
        let stale = post(&app, "/consent", &alice, &approve).await;
        assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
        assert!(stale.body.contains("action=\"/login\""), "{}", stale.body);

        let alice = sign_in_alice(&app).await;
        let page = get(&app, OIDC_AUTHORIZE, &alice).await;
        let (ticket, csrf) = form_of(&page);
        let mut approve = answer(&ticket, &csrf, "approve").to_vec();
        approve.push(("scope", "openid"));
        let approved = post(&app, "/consent", &alice, &approve).await;
        assert!(location(&approved).contains("code="));

        // The same request again goes straight back, even with prompt=none...
        for uri in [
            OIDC_AUTHORIZE.to_owned(),
            format!("{OIDC_AUTHORIZE}&prompt=none"),
        ] {
            let again = get(&app, &uri, &alice).await;
            assert!(
                location(&again).starts_with("https://rp.example/cb?code="),
                "{uri}"
            );
        }
        // ...unless it asks for more, or for consent again (OpenID Connect Core §3.1.2.1).
        let more = OIDC_AUTHORIZE.replace("scope=openid", "scope=openid%20profile");
        for uri in [more, format!("{OIDC_AUTHORIZE}&prompt=consent")] {
            let page = get(&app, &uri, &alice).await;
            assert!(page.body.contains("action=\"/consent\""), "{uri}");
        }
    }

    #[tokio::test]
    async fn logout_without_a_hint_asks_first() {
        let (app, _) = oidc_app().await;
        let alice = sign_in_alice(&app).await;
        let end = "/session/end?client_id=rp&post_logout_redirect_uri=\
            https%3A%2F%2Frp.example%2Fbye&state=s1";
        let back = "https://rp.example/bye?state=s1";

        // Nobody is signed in: nothing to ask, back to the client.
        assert_eq!(location(&get(&app, end, "").await), back);

        let page = get(&app, end, &alice).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("action=\"/logout\""), "{}", page.body);
        assert!(page.body.contains("<code>rp</code> asks to sign you out"));
        assert_page_headers(&page);
        // The form's answer redirects to the client: its origin only is allowed.
        let csp = format!("{} https://rp.example", CSP);
        assert_eq!(page.headers[CONTENT_SECURITY_POLICY], csp.as_str());

        let (ticket, csrf) = form_of(&page);
        let jar = alice.as_str();
        let form = |csrf, decision| answer(&ticket, csrf, decision);
        let forged = post(&app, "/logout", jar, &form("AAAA", "yes")).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        // Alice's other browser: its own session, for which the token is not.
        let other_browser = sign_in_alice(&app).await;
        let other = post(&app, "/logout", &other_browser, &form(&csrf, "yes")).await;
        assert_eq!(other.status, StatusCode::FORBIDDEN);
        let unknown = post(&app, "/logout", jar, &form(&csrf, "maybe")).await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);

        let stay = post(&app, "/logout", jar, &form(&csrf, "no")).await;
        assert_eq!(stay.status, StatusCode::OK);
        assert!(stay.body.contains("still signed in"), "{}", stay.body);
        assert!(stay.headers.get(SET_COOKIE).is_none());

        let out = post(&app, "/logout", jar, &form(&csrf, "yes")).await;
        assert_eq!(location(&out), back);
        assert_eq!(cookie(&out, "session"), "session=");
        // Signed out: a copy of the cookie finds nobody to ask about.
        assert_eq!(location(&get(&app, end, jar).await), back);

        // Without a post_logout_redirect_uri, the engine's signed-out page.
        let page = get(&app, "/session/end", &other_browser).await;
        assert_eq!(page.headers[CONTENT_SECURITY_POLICY], CSP);
        let (ticket, csrf) = form_of(&page);
        let out = post(
            &app,
            "/logout",
            &other_browser,
            &answer(&ticket, &csrf, "yes"),
        )
        .await;
        assert_eq!(out.status, StatusCode::OK);
        assert!(out.body.contains("logged out"), "{}", out.body);
        assert_eq!(cookie(&out, "session"), "session=");
    }

    #[tokio::test]
    async fn openid_prompt_max_age_and_login_hint() {
        let (app, clock) = oidc_app().await;
        let alice = sign_in_alice(&app).await;
        let error_of = |r: &Reply| {
            let location = r.headers[LOCATION].to_str().unwrap().to_owned();
            assert!(location.starts_with("https://rp.example/cb?"), "{location}");
            url::Url::parse(&location)
                .unwrap()
                .query_pairs()
                .find(|(k, _)| k == "error")
                .map(|(_, v)| v.into_owned())
        };

        // prompt=none never shows a page (OpenID Connect Core §3.1.2.1).
        let none = format!("{OIDC_AUTHORIZE}&prompt=none");
        let r = get(&app, &none, "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(error_of(&r).as_deref(), Some("login_required"));
        let r = get(&app, &none, &alice).await;
        assert_eq!(error_of(&r).as_deref(), Some("consent_required"));

        // A session goes to consent, unless prompt=login or it is older than max_age.
        let consent = get(&app, OIDC_AUTHORIZE, &alice).await;
        assert!(
            consent.body.contains("action=\"/consent\""),
            "{}",
            consent.body
        );
        let login = get(&app, &format!("{OIDC_AUTHORIZE}&prompt=login"), &alice).await;
        assert!(login.body.contains("action=\"/login\""), "{}", login.body);
        clock.advance(100);
        let young_enough = get(&app, &format!("{OIDC_AUTHORIZE}&max_age=1000"), &alice).await;
        assert!(young_enough.body.contains("action=\"/consent\""));
        let too_old = get(&app, &format!("{OIDC_AUTHORIZE}&max_age=10"), &alice).await;
        assert!(too_old.body.contains("action=\"/login\""));

        let hinted = get(&app, &format!("{OIDC_AUTHORIZE}&login_hint=al%22ice"), "").await;
        assert!(hinted
            .body
            .contains("name=\"username\" value=\"al&quot;ice\""));
    }

    /// The engine's decision at the example's forms: a password reaches no essential `acr`
    /// (denied after the sign-in, OpenID Connect Core §5.5.1.1), the sign-in that
    /// `prompt=login` asks for is enough, and a consent answered after `max_age` has passed
    /// asks to sign in again.
    #[tokio::test]
    async fn the_engines_login_decision_at_the_forms() {
        let (app, clock) = oidc_app().await;
        let claims = r#"{"id_token":{"acr":{"essential":true,"values":["urn:loa:2"]}}}"#;
        let acr = format!(
            "{OIDC_AUTHORIZE}&claims={}",
            url::form_urlencoded::byte_serialize(claims.as_bytes()).collect::<String>()
        );
        let page = get(&app, &acr, "").await;
        let jar = cookie(&page, "csrf");
        let (ticket, csrf) = form_of(&page);
        let form = [
            ("ticket", ticket.as_str()),
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", "wonderland"),
        ];
        let denied = post(&app, "/login", &jar, &form).await;
        assert!(
            location(&denied).starts_with("https://rp.example/cb?error=access_denied"),
            "{}",
            location(&denied)
        );

        // prompt=login: the password asked on the request counts (no second login page).
        let alice = sign_in_alice(&app).await;
        let page = get(&app, &format!("{OIDC_AUTHORIZE}&prompt=login"), &alice).await;
        let (ticket, csrf) = form_of(&page);
        let form = [
            ("ticket", ticket.as_str()),
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", "wonderland"),
        ];
        let again = post(&app, "/login", &alice, &form).await;
        assert!(again.body.contains("action=\"/consent\""), "{}", again.body);
        // A new session (a new id at every sign-in).
        let binding = alice.split("; ").next().unwrap();
        let alice = format!("{binding}; {}", cookie(&again, "session"));

        let page = get(&app, &format!("{OIDC_AUTHORIZE}&max_age=60"), &alice).await;
        let (ticket, csrf) = form_of(&page);
        let mut approve = answer(&ticket, &csrf, "approve").to_vec();
        approve.push(("scope", "openid"));
        clock.advance(61);
        let late = post(&app, "/consent", &alice, &approve).await;
        assert_eq!(late.status, StatusCode::UNAUTHORIZED);
        assert!(late.body.contains("action=\"/login\""), "{}", late.body);
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

    #[test]
    fn configured_secrets_win_over_the_secrets_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("p.db");
        let rng = SystemRandom::new();
        let text = format!(
            "store = \"sqlite:{}\"\n[secrets]\nsubject_salt = \"{}\"\n",
            db.display(),
            "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI"
        );
        let mut config = Config::parse(&text).unwrap();
        keep_secrets(&mut config, &rng).unwrap();
        let path = config.store.secrets_path().unwrap();
        let kept = secrets::load_or_create(&path, &rng).unwrap();
        let secret = |s: &Option<Secret32>| s.as_ref().map(|k| k.0);
        assert_eq!(secret(&config.subject_salt), Some([2; 32]));
        assert_ne!(kept.subject_salt.0, [2; 32]);
        assert_eq!(
            secret(&config.interaction_key),
            Some(kept.interaction_key.0)
        );
        assert_eq!(secret(&config.session_key), Some(kept.session_key.0));
        let kek = config.key_encryption_key.as_ref().unwrap();
        assert_eq!(kek.id, "secrets-file");
        assert_eq!(kek.key.0, kept.key_encryption_key().key.0);

        // Every secret configured: no file. With memory: no file either, nothing filled in.
        let other = dir.path().join("q.db");
        let key = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc";
        let all = format!(
            "store = \"sqlite:{}\"\n[session]\nkey = \"{key}\"\n\
             [secrets]\ninteraction_key = \"{key}\"\nsubject_salt = \"{key}\"\n\
             key_encryption_key = \"{key}\"\nkey_encryption_key_id = \"k1\"\n",
            other.display()
        );
        let mut config = Config::parse(&all).unwrap();
        keep_secrets(&mut config, &rng).unwrap();
        assert!(!dir.path().join("q.db.secrets").exists());
        let mut memory = Config::demo();
        keep_secrets(&mut memory, &rng).unwrap();
        assert!(memory.interaction_key.is_none() && memory.session_key.is_none());
    }
}
