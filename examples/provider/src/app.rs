//! Wiring: the provider, its clients, the pages and the server.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::middleware::map_response;
use axum::routing::{get, post};
use axum::Router;
use http::StatusCode;
use portcullis::core::{Client, Issuer, IssuerError, Policy};
use portcullis::store::StoreError;
use portcullis::{BuildError, Clock, KeyError, Provider, RegisterError, Stores, SystemClock};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::account;
use crate::config::{key_encryption_keys, Config};
use crate::csrf::Csrf;
use crate::flow::{self, Pages};
use crate::pages;
use crate::secrets;
use crate::session::Sessions;
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
    pub(crate) sessions: Sessions,
    pub(crate) csrf: Csrf,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: SystemRandom,
    /// The issuer's path without a trailing `/` (`""` at the root): where routes are mounted.
    pub(crate) base: String,
}

/// The issuer's path, where the endpoints live.
fn base_path(issuer: &Issuer) -> String {
    url::Url::parse(issuer.as_str())
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default()
}

/// Builds the provider for `issuer` from `config` and returns its routes: the engine's
/// endpoints (`portcullis::paths`: `/authorize`, `/token`, `/userinfo`, `/session/end`,
/// `/jwks`, discovery), and `POST /login`, `POST /consent` and `POST /logout` (the pages),
/// all below the issuer's path and all with the security headers.
pub async fn app(config: Config, issuer: Issuer) -> Result<Router, StartError> {
    Ok(build(config, issuer, Arc::new(SystemClock), None).await?.0)
}

/// [`app`] with the provider it serves, reading the time from `clock`, on `stores` if
/// given (else on the configured store).
async fn build(
    mut config: Config,
    issuer: Issuer,
    clock: Arc<dyn Clock>,
    stores: Option<Stores>,
) -> Result<(Router, Provider), StartError> {
    let rng = SystemRandom::new();
    let stores = match stores {
        Some(s) => s,
        None => {
            require_shared_secrets(&config)?;
            let opened = config.store.open().await?;
            keep_secrets(&mut config, &rng)?;
            opened
        }
    };
    let policy = Policy {
        lifetimes: config.lifetimes.clone(),
        keys: config.keys.clone(),
        ..Policy::default()
    };
    let users =
        Users::new(config.users, config.pbkdf2_iterations, &rng).map_err(|_| StartError::Random)?;
    let users = Arc::new(users);
    let mut builder = Provider::builder(issuer.clone())
        .policy(policy)
        .stores(stores)
        .clock(clock.clone())
        .claims(users.clone());
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
    let key = match &config.session_key {
        Some(k) => k.0,
        None => {
            let mut k = [0u8; 32];
            rng.fill(&mut k).map_err(|_| StartError::Random)?;
            k
        }
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, &key);
    let secure = issuer.as_str().starts_with("https:");
    let base = base_path(&issuer);
    let state = Arc::new(AppState {
        provider: provider.clone(),
        clients,
        users,
        sessions: Sessions::new(key.clone(), config.session_lifetime, secure),
        csrf: Csrf::new(key, secure),
        clock,
        rng,
        base: base.clone(),
    });
    let pages_routes = Router::new()
        .route("/login", post(flow::login))
        .route("/consent", post(flow::consent))
        .route("/logout", post(flow::logout))
        .route("/account", get(account::show))
        .route("/account/revoke", post(account::revoke))
        .with_state(state.clone());
    let routes = portcullis_axum::router(provider.clone(), Pages(state)).merge(pages_routes);
    let routes = if base.is_empty() {
        routes
    } else {
        Router::new().nest(&base, routes)
    };
    let router = routes
        .fallback(not_found)
        .layer(map_response(pages::security_headers));
    Ok((router, provider))
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

async fn not_found() -> axum::response::Response {
    pages::message(StatusCode::NOT_FOUND, "Not found", "There is nothing here.")
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
    start(config, issuer, listener, clock, None).await
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
    start(config, issuer, listener, clock, Some(stores)).await
}

async fn start(
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
    let (router, provider) = build(config, issuer.clone(), clock, stores).await?;
    let purger = provider.clone();
    let task = tokio::spawn(async move {
        // Expired codes, tokens and keys are removed every ten minutes (the SQLite store
        // does not purge on its own).
        let purge = async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
            loop {
                every.tick().await;
                if let Err(e) = purger.purge_expired().await {
                    tracing::warn!(error = %e, "purge failed");
                }
            }
        };
        tokio::select! {
            served = axum::serve(listener, router) => served,
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
    use crate::config::Secret32;
    use axum::body::Body;
    use http::header::{
        CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE,
        X_FRAME_OPTIONS,
    };
    use http::{HeaderMap, Request};
    use tower::ServiceExt;

    const AUTHORIZE: &str = "/authorize?response_type=code&client_id=demo-web\
        &redirect_uri=http%3A%2F%2F127.0.0.1%3A9000%2Fcallback&scope=read%20email&state=st\
        &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    const KEY: [u8; 32] = [7; 32];

    async fn demo_app() -> Router {
        let mut config = Config::demo();
        config.session_key = Some(Secret32(KEY));
        app(config, Issuer::parse("http://127.0.0.1:8080").unwrap())
            .await
            .unwrap()
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

        let approve_without_session =
            post(&app, "/consent", &jar, &form(&[("decision", "approve")])).await;
        assert_eq!(approve_without_session.status, StatusCode::UNAUTHORIZED);
        assert!(approve_without_session.body.contains("action=\"/login\""));

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
            format!("{} http://127.0.0.1:9000", pages::CSP)
        );
        let session = cookie(&ok, "session");
        let jar = format!("{jar}; {session}");

        // Signed in: /authorize goes straight to consent.
        let again = get(&app, AUTHORIZE, &jar).await;
        assert!(
            again.body.contains("action=\"/consent\"") && again.headers.get(SET_COOKIE).is_none()
        );

        let approved = post(
            &app,
            "/consent",
            &jar,
            &form(&[("decision", "approve"), ("scope", "email")]),
        )
        .await;
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
        let app = demo_app().await;
        let page = get(&app, AUTHORIZE, "").await;
        let jar = cookie(&page, "csrf");
        let binding = jar.trim_start_matches("csrf=");
        let key = hmac::Key::new(hmac::HMAC_SHA256, &KEY);
        let csrf = Csrf::new(key, false).token(binding, "forged");
        for uri in ["/login", "/consent", "/logout"] {
            let r = post(&app, uri, &jar, &answer("forged", &csrf, "yes")).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
            assert!(r.body.contains("expired"), "{uri}");
        }
        // A ticket of the other kind does not open either.
        let (ticket, csrf) = (hidden(&page.body, "ticket"), hidden(&page.body, "csrf"));
        let r = post(&app, "/logout", &jar, &answer(&ticket, &csrf, "yes")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }

    /// An OpenID Connect client, and the demo key so tests can seal sessions.
    const OIDC_CONFIG: &str = r#"
        pbkdf2_iterations = 1000
        [session]
        key = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"
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

    /// A session cookie for alice, signed in `age` seconds ago.
    fn session_cookie(age: u64) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &KEY);
        let sessions = Sessions::new(key, std::time::Duration::from_secs(3600), false);
        let now = SystemClock.now().secs();
        let session = crate::session::Session {
            username: "alice".into(),
            auth_time: portcullis::core::UnixTime::from_secs(now - age),
        };
        format!("session={}", sessions.seal(&session))
    }

    async fn oidc_app() -> Router {
        let config = Config::parse(OIDC_CONFIG).unwrap();
        app(config, Issuer::parse("http://127.0.0.1:8080").unwrap())
            .await
            .unwrap()
    }

    /// A page's form: its ticket and CSRF token, and the cookies that go with them.
    fn form_of(page: &Reply, session: &str) -> (String, String, String) {
        let jar = format!("{}; {session}", cookie(page, "csrf"));
        (
            hidden(&page.body, "ticket"),
            hidden(&page.body, "csrf"),
            jar,
        )
    }

    fn location(r: &Reply) -> &str {
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        r.headers[LOCATION].to_str().unwrap()
    }

    #[tokio::test]
    async fn consent_is_remembered_and_can_be_switched_away_from() {
        let app = oidc_app().await;
        let alice = session_cookie(5);
        let page = get(&app, OIDC_AUTHORIZE, &alice).await;
        let (ticket, csrf, jar) = form_of(&page, &alice);
        let form = |decision| answer(&ticket, &csrf, decision);

        // "Not you?" signs out and shows the sign-in form of the same request.
        let switched = post(&app, "/consent", &jar, &form("switch")).await;
        assert_eq!(switched.status, StatusCode::OK);
        assert!(
            switched.body.contains("action=\"/login\""),
            "{}",
            switched.body
        );
        assert_eq!(hidden(&switched.body, "ticket"), ticket);
        assert_eq!(cookie(&switched, "session"), "session=");

        let mut approve = form("approve").to_vec();
        approve.push(("scope", "openid"));
        let approved = post(&app, "/consent", &jar, &approve).await;
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
        let app = oidc_app().await;
        let alice = session_cookie(5);
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
        let csp = format!("{} https://rp.example", pages::CSP);
        assert_eq!(page.headers[CONTENT_SECURITY_POLICY], csp.as_str());

        let (ticket, csrf, jar) = form_of(&page, &alice);
        let form = |csrf, decision| answer(&ticket, csrf, decision);
        let forged = post(&app, "/logout", &jar, &form("AAAA", "yes")).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let other_browser = post(&app, "/logout", &alice, &form(&csrf, "yes")).await;
        assert_eq!(other_browser.status, StatusCode::FORBIDDEN);
        let unknown = post(&app, "/logout", &jar, &form(&csrf, "maybe")).await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);

        let stay = post(&app, "/logout", &jar, &form(&csrf, "no")).await;
        assert_eq!(stay.status, StatusCode::OK);
        assert!(stay.body.contains("still signed in"), "{}", stay.body);
        assert!(stay.headers.get(SET_COOKIE).is_none());

        let out = post(&app, "/logout", &jar, &form(&csrf, "yes")).await;
        assert_eq!(location(&out), back);
        assert_eq!(cookie(&out, "session"), "session=");

        // Without a post_logout_redirect_uri, the engine's signed-out page.
        let page = get(&app, "/session/end", &alice).await;
        assert_eq!(page.headers[CONTENT_SECURITY_POLICY], pages::CSP);
        let (ticket, csrf, jar) = form_of(&page, &alice);
        let out = post(&app, "/logout", &jar, &answer(&ticket, &csrf, "yes")).await;
        assert_eq!(out.status, StatusCode::OK);
        assert!(out.body.contains("logged out"), "{}", out.body);
        assert_eq!(cookie(&out, "session"), "session=");
    }

    #[tokio::test]
    async fn openid_prompt_max_age_and_login_hint() {
        let app = oidc_app().await;
        let fresh = session_cookie(5);
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
        let r = get(&app, &none, &fresh).await;
        assert_eq!(error_of(&r).as_deref(), Some("consent_required"));

        // A session goes to consent, unless prompt=login or it is older than max_age.
        let consent = get(&app, OIDC_AUTHORIZE, &fresh).await;
        assert!(
            consent.body.contains("action=\"/consent\""),
            "{}",
            consent.body
        );
        let login = get(&app, &format!("{OIDC_AUTHORIZE}&prompt=login"), &fresh).await;
        assert!(login.body.contains("action=\"/login\""), "{}", login.body);
        let old = session_cookie(100);
        let young_enough = get(&app, &format!("{OIDC_AUTHORIZE}&max_age=1000"), &old).await;
        assert!(young_enough.body.contains("action=\"/consent\""));
        let too_old = get(&app, &format!("{OIDC_AUTHORIZE}&max_age=10"), &old).await;
        assert!(too_old.body.contains("action=\"/login\""));

        let hinted = get(&app, &format!("{OIDC_AUTHORIZE}&login_hint=al%22ice"), "").await;
        assert!(hinted
            .body
            .contains("name=\"username\" value=\"al&quot;ice\""));
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

    #[test]
    fn base_path_follows_the_issuer() {
        assert_eq!(base_path(&Issuer::parse("https://as.example").unwrap()), "");
        assert_eq!(
            base_path(&Issuer::parse("https://as.example/").unwrap()),
            ""
        );
        assert_eq!(
            base_path(&Issuer::parse("https://as.example/t/").unwrap()),
            "/t"
        );
    }
}
