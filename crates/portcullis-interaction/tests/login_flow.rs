//! The login flow through its forms, as a browser drives it: the engine's endpoints and the
//! kit's handlers behind one dispatcher, cookies carried by hand.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE,
};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use portcullis::core::{
    Client, ClientKind, ClientSecretHash, GrantType, Issuer, Policy, RedirectUri, ScopeSet,
    UnixTime,
};
use portcullis::store::StoreError;
use portcullis::{
    async_trait, AuthorizeOutcome, Clock, HostRoutes, Interaction, LogoutOutcome, ManualClock,
    Provider, Stores,
};
use portcullis_interaction::{
    add_security_headers, LoginFlow, LoginThrottle, Pages, SessionManager, ThrottlePolicy,
    TotpCheck, TotpSecret, UserCodeCap, UserDirectory, CSP, MFA_ACR,
};
use portcullis_store_memory::MemoryStore;
use ring::rand::SystemRandom;

const ISSUER: &str = "http://127.0.0.1:8080";
const PKCE: &str =
    "code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
/// A plain OAuth request of `web`.
fn authorize() -> String {
    format!(
        "/authorize?response_type=code&client_id=web\
         &redirect_uri=http%3A%2F%2F127.0.0.1%3A9000%2Fcallback&scope=read%20email&state=st&{PKCE}"
    )
}
/// An OpenID Connect request of `rp`.
fn oidc_authorize() -> String {
    format!(
        "/authorize?response_type=code&client_id=rp\
         &redirect_uri=https%3A%2F%2Frp.example%2Fcb&scope=openid&state=st&nonce=n&{PKCE}"
    )
}

/// One user, alice (password `wonderland`), greeted as Alice.
struct Alice;

#[async_trait]
impl UserDirectory for Alice {
    async fn authenticate(&self, user: &str, password: &str) -> Result<Option<String>, StoreError> {
        Ok((user == "alice" && password == "wonderland").then(|| user.to_owned()))
    }

    async fn display_name(&self, subject: &str) -> Result<Option<String>, StoreError> {
        Ok((subject == "alice").then(|| "Alice".to_owned()))
    }

    /// Alice enrolled a second factor: RFC 6238 Appendix B's SHA-1 key.
    async fn totp_secret(&self, subject: &str) -> Result<Option<TotpSecret>, StoreError> {
        Ok((subject == "alice").then(|| TotpSecret::from_bytes(TOTP_KEY)))
    }
}

/// A user directory that cannot be read: its database is down.
struct Unreadable;

#[async_trait]
impl UserDirectory for Unreadable {
    async fn authenticate(&self, _: &str, _: &str) -> Result<Option<String>, StoreError> {
        Err(StoreError::new("directory down"))
    }

    async fn display_name(&self, _: &str) -> Result<Option<String>, StoreError> {
        Err(StoreError::new("directory down"))
    }

    async fn totp_secret(&self, _: &str) -> Result<Option<TotpSecret>, StoreError> {
        Err(StoreError::new("directory down"))
    }
}

/// Alice's TOTP key.
const TOTP_KEY: &[u8] = b"12345678901234567890";

/// Alice's code at `now` (RFC 6238 §4, RFC 4226 §5.3), computed here with ring.
fn totp(now: UnixTime) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, TOTP_KEY);
    let mac = ring::hmac::sign(&key, &(now.secs() / 30).to_be_bytes());
    let mac = mac.as_ref();
    let offset = usize::from(mac[19] & 0xf);
    let word = u32::from_be_bytes(mac[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", word % 1_000_000)
}

struct Host {
    flow: LoginFlow,
    /// The kit's own routes (`/login`, `/consent`, `/logout`, `/account…`).
    routes: HostRoutes,
    sessions: SessionManager,
    clock: Arc<ManualClock>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

fn client(id: &str, redirect: &str, scopes: &str) -> Client {
    let rng = SystemRandom::new();
    let secret = ClientSecretHash::pbkdf2("secret", NonZeroU32::new(1000).unwrap(), &rng).unwrap();
    let mut client = Client::new(id, ClientKind::confidential(secret))
        .with_redirect_uris(vec![RedirectUri::parse(redirect).unwrap()])
        .with_allowed_scopes(ScopeSet::parse(scopes).unwrap())
        .with_grant_types([GrantType::AuthorizationCode]);
    client.oidc.post_logout_redirect_uris =
        vec![RedirectUri::parse("https://rp.example/bye").unwrap()];
    client
}

impl Host {
    async fn new() -> Self {
        Self::throttled_by(ThrottlePolicy::default()).await
    }

    /// A host whose sign-ins and user code look-ups `throttle` throttles, with the device
    /// grant on (`/device`) for `tv`.
    async fn throttled_by(throttle: ThrottlePolicy) -> Self {
        Self::with(throttle, Arc::new(Alice)).await
    }

    /// [`Host::throttled_by`] with `users` as the user directory.
    async fn with(throttle: ThrottlePolicy, users: Arc<dyn UserDirectory>) -> Self {
        let issuer = Issuer::parse(ISSUER).unwrap();
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::new(UnixTime::from_secs(1_700_000_000)));
        let mut policy = Policy::default();
        policy.device_authorization.verification_uri = Some(format!("{ISSUER}/device"));
        let provider = Provider::builder(issuer.clone())
            .stores(Stores::shared(store.clone()))
            .clock(clock.clone())
            .policy(policy)
            .build()
            .unwrap();
        let web = client("web", "http://127.0.0.1:9000/callback", "read write email");
        let rp = client("rp", "https://rp.example/cb", "openid profile");
        let tv = Client::new("tv", ClientKind::Public)
            .with_allowed_scopes(ScopeSet::parse("read write").unwrap())
            .with_grant_types([GrantType::DeviceCode]);
        for c in [web, rp, tv] {
            provider.register_client(&c).await.unwrap();
        }
        let totp = TotpCheck::new(store.clone(), issuer.clone());
        let sessions = SessionManager::builder(issuer.clone(), store)
            .clock(clock.clone())
            .build()
            .unwrap();
        let throttle = LoginThrottle::new(throttle, clock.clone());
        let pages = Pages::new(&issuer);
        let flow =
            LoginFlow::new(provider, sessions.clone(), throttle, pages, users).with_totp(totp);
        Self {
            routes: flow.host_routes(),
            flow,
            sessions,
            clock,
        }
    }

    /// What a host's router does: the engine's endpoints, then the kit's routes.
    async fn send(&self, req: Request<Bytes>) -> Reply {
        let provider = self.flow.provider();
        let (parts, body) = req.into_parts();
        let engine_req = Request::from_parts(parts.clone(), body);
        let mut response: Response<Bytes> = match parts.uri.path() {
            "/authorize" => match provider.authorize(engine_req).await {
                AuthorizeOutcome::Respond(r) => r,
                AuthorizeOutcome::Pending(p) => self.flow.begin(p, parts).await,
            },
            "/session/end" => match provider.end_session(engine_req).await {
                LogoutOutcome::Respond(r) => r,
                LogoutOutcome::Pending(p) => self.flow.end_session(p, parts).await,
            },
            path if self.routes.paths().any(|p| p == path) => {
                self.routes.answer(path, engine_req).await
            }
            other => panic!("no route {other}"),
        };
        add_security_headers(response.headers_mut());
        let (parts, body) = response.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    async fn get(&self, uri: &str, cookie: &str) -> Reply {
        let req = Request::get(uri).header(COOKIE, cookie);
        self.send(req.body(Bytes::new()).unwrap()).await
    }

    async fn post(&self, uri: &str, cookie: &str, form: &[(&str, &str)]) -> Reply {
        self.post_from(None, uri, cookie, form).await
    }

    /// [`Host::post`] from `peer`, as an adapter hands its peer's address on.
    async fn post_from(
        &self,
        peer: Option<SocketAddr>,
        uri: &str,
        cookie: &str,
        form: &[(&str, &str)],
    ) -> Reply {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut req = Request::post(uri)
            .header(COOKIE, cookie)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(peer) = peer {
            req = req.extension(peer);
        }
        self.send(req.body(Bytes::from(body)).unwrap()).await
    }

    /// Signs alice in through the login form of an `rp` request: a browser's cookies (its
    /// pre-login binding and its session).
    async fn sign_in_alice(&self) -> String {
        let page = self.get(&oidc_authorize(), "").await;
        let jar = cookie(&page, "csrf");
        let (ticket, csrf) = form_of(&page);
        let r = self
            .post("/login", &jar, &credentials(&ticket, &csrf))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        format!("{jar}; {}", cookie(&r, "session"))
    }
}

/// A request's headers carrying `cookies`.
fn with_cookies(cookies: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(COOKIE, HeaderValue::from_str(cookies).unwrap());
    h
}

fn hidden(html: &str, name: &str) -> String {
    let start = format!("name=\"{name}\" value=\"");
    let rest = &html[html.find(&start).unwrap() + start.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// A page's form: its ticket and CSRF token.
fn form_of(page: &Reply) -> (String, String) {
    (hidden(&page.body, "ticket"), hidden(&page.body, "csrf"))
}

/// A form answering `decision` for `ticket`.
fn answer<'a>(ticket: &'a str, csrf: &'a str, decision: &'a str) -> [(&'a str, &'a str); 3] {
    [("ticket", ticket), ("csrf", csrf), ("decision", decision)]
}

/// The login form of `ticket`, filled in with alice's credentials.
fn credentials<'a>(ticket: &'a str, csrf: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("ticket", ticket),
        ("csrf", csrf),
        ("username", "alice"),
        ("password", "wonderland"),
    ]
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

fn location(r: &Reply) -> &str {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    r.headers[LOCATION].to_str().unwrap()
}

#[tokio::test]
async fn posts_need_a_valid_csrf_token() {
    let host = Host::new().await;
    let page = host.get(&authorize(), "").await;
    let (ticket, csrf) = form_of(&page);
    let jar = cookie(&page, "csrf");
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
        let r = host.post(uri, cookie, &form).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri} {form:?}");
    }
    // A token minted for another ticket does not carry over.
    let other = host.get(&authorize(), &jar).await;
    let other_csrf = hidden(&other.body, "csrf");
    let form = [
        ("ticket", ticket.as_str()),
        ("csrf", &other_csrf),
        creds[0],
        creds[1],
    ];
    let r = host.post("/login", &jar, &form).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn login_then_consent() {
    let host = Host::new().await;
    let page = host.get(&authorize(), "").await;
    let (ticket, csrf) = form_of(&page);
    let jar = cookie(&page, "csrf");
    let base = [("ticket", ticket.as_str()), ("csrf", csrf.as_str())];
    let form = |extra: &[(&'static str, &'static str)]| [&base[..], extra].concat();

    let wrong = form(&[("username", "alice"), ("password", "x")]);
    let wrong = host.post("/login", &jar, &wrong).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("incorrect") && wrong.headers.get(SET_COOKIE).is_none());

    // The login form's token is bound to no session: it does not pass at consent.
    let approve = form(&[("decision", "approve")]);
    let approve_without_session = host.post("/consent", &jar, &approve).await;
    assert_eq!(approve_without_session.status, StatusCode::FORBIDDEN);

    let ok = host
        .post("/login", &jar, &credentials(&ticket, &csrf))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.body.contains("value=\"email\" checked"), "{}", ok.body);
    assert!(ok.body.contains("Alice"), "greeted by name: {}", ok.body);
    assert_eq!(
        ok.headers[CONTENT_SECURITY_POLICY],
        format!("{CSP} http://127.0.0.1:9000")
    );
    let jar = format!("{jar}; {}", cookie(&ok, "session"));
    // The consent form's token is bound to the new session.
    let consent_csrf = hidden(&ok.body, "csrf");
    assert_ne!(consent_csrf, csrf);

    // Signed in: /authorize goes straight to consent.
    let again = host.get(&authorize(), &jar).await;
    assert!(again.body.contains("action=\"/consent\"") && again.headers.get(SET_COOKIE).is_none());

    let approve = [
        ("ticket", ticket.as_str()),
        ("csrf", consent_csrf.as_str()),
        ("decision", "approve"),
        ("scope", "email"),
    ];
    let approved = host.post("/consent", &jar, &approve).await;
    let location = location(&approved);
    assert!(
        location.starts_with("http://127.0.0.1:9000/callback?code="),
        "{location}"
    );
    assert!(location.contains("state=st"), "{location}");
}

/// A store that cannot be read gets a page a person reads and a machine tells apart: `503`,
/// naming `temporarily_unavailable` as the engine's 503 pages do (RFC 6749 §4.1.2.1),
/// never cached, and nothing of the failure's text.
#[tokio::test]
async fn a_store_that_cannot_be_read_is_a_503_naming_temporarily_unavailable() {
    let host = Host::with(ThrottlePolicy::default(), Arc::new(Unreadable)).await;
    let page = host.get(&authorize(), "").await;
    let (ticket, csrf) = form_of(&page);
    let jar = cookie(&page, "csrf");
    let r = host
        .post("/login", &jar, &credentials(&ticket, &csrf))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.headers[CACHE_CONTROL], "no-store");
    assert!(
        r.body
            .contains("<p><code>temporarily_unavailable</code></p>"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("directory down"), "{}", r.body);
}

#[tokio::test]
async fn an_invalid_ticket_is_a_bad_request() {
    let host = Host::new().await;
    let sessions = &host.sessions;
    let page = host.get(&authorize(), "").await;
    let jar = cookie(&page, "csrf");
    let binding = sessions.login_binding(&with_cookies(&jar)).unwrap();
    let csrf = sessions.login_csrf_token(&binding, "forged");
    let r = host
        .post("/login", &jar, &answer("forged", &csrf, "yes"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("expired"));
    // Signed in, with tokens valid for the forged ticket.
    let (ticket, login_csrf) = form_of(&page);
    let signed_in = host
        .post("/login", &jar, &credentials(&ticket, &login_csrf))
        .await;
    let jar = format!("{jar}; {}", cookie(&signed_in, "session"));
    let session = sessions
        .current(&with_cookies(&jar))
        .await
        .unwrap()
        .unwrap();
    for (uri, action) in [("/consent", "consent"), ("/logout", "logout")] {
        let csrf = sessions.form_token(&session, action, "forged");
        let r = host.post(uri, &jar, &answer("forged", &csrf, "yes")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(r.body.contains("expired"), "{uri}");
    }
    // A ticket of the other kind does not open either.
    let csrf = sessions.form_token(&session, "logout", &ticket);
    let r = host
        .post("/logout", &jar, &answer(&ticket, &csrf, "yes"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn consent_is_remembered_and_can_be_switched_away_from() {
    let host = Host::new().await;
    let alice = host.sign_in_alice().await;
    let page = host.get(&oidc_authorize(), &alice).await;
    let (ticket, csrf) = form_of(&page);
    let form = |decision| answer(&ticket, &csrf, decision);

    // "Not you?" signs out and shows the sign-in form of the same request.
    let switched = host.post("/consent", &alice, &form("switch")).await;
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
    let stale = host.post("/consent", &alice, &approve).await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    assert!(stale.body.contains("action=\"/login\""), "{}", stale.body);

    let alice = host.sign_in_alice().await;
    let page = host.get(&oidc_authorize(), &alice).await;
    let (ticket, csrf) = form_of(&page);
    let mut approve = answer(&ticket, &csrf, "approve").to_vec();
    approve.push(("scope", "openid"));
    let approved = host.post("/consent", &alice, &approve).await;
    assert!(location(&approved).contains("code="));

    // The same request again goes straight back, even with prompt=none...
    for uri in [
        oidc_authorize(),
        format!("{}&prompt=none", oidc_authorize()),
    ] {
        let again = host.get(&uri, &alice).await;
        let location = location(&again);
        assert!(location.starts_with("https://rp.example/cb?code="), "{uri}");
    }
    // ...unless it asks for more, or for consent again (OpenID Connect Core §3.1.2.1).
    let more = oidc_authorize().replace("scope=openid", "scope=openid%20profile");
    for uri in [more, format!("{}&prompt=consent", oidc_authorize())] {
        let page = host.get(&uri, &alice).await;
        assert!(page.body.contains("action=\"/consent\""), "{uri}");
    }
}

#[tokio::test]
async fn logout_without_a_hint_asks_first() {
    let host = Host::new().await;
    let alice = host.sign_in_alice().await;
    let end = "/session/end?client_id=rp&post_logout_redirect_uri=\
        https%3A%2F%2Frp.example%2Fbye&state=s1";
    let back = "https://rp.example/bye?state=s1";

    // Nobody is signed in: nothing to ask, back to the client.
    assert_eq!(location(&host.get(end, "").await), back);

    let page = host.get(end, &alice).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("action=\"/logout\""), "{}", page.body);
    assert!(page.body.contains("<code>rp</code> asks to sign you out"));
    assert!(
        page.body.contains("Alice"),
        "greeted by name: {}",
        page.body
    );
    // The form's answer redirects to the client: its origin only is allowed.
    let csp = format!("{CSP} https://rp.example");
    assert_eq!(page.headers[CONTENT_SECURITY_POLICY], csp.as_str());

    let (ticket, csrf) = form_of(&page);
    let jar = alice.as_str();
    let form = |csrf, decision| answer(&ticket, csrf, decision);
    let forged = host.post("/logout", jar, &form("AAAA", "yes")).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // Alice's other browser: its own session, for which the token is not.
    let other_browser = host.sign_in_alice().await;
    let other = host
        .post("/logout", &other_browser, &form(&csrf, "yes"))
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let unknown = host.post("/logout", jar, &form(&csrf, "maybe")).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);

    let stay = host.post("/logout", jar, &form(&csrf, "no")).await;
    assert_eq!(stay.status, StatusCode::OK);
    assert!(stay.body.contains("still signed in"), "{}", stay.body);
    assert!(stay.headers.get(SET_COOKIE).is_none());

    let out = host.post("/logout", jar, &form(&csrf, "yes")).await;
    assert_eq!(location(&out), back);
    assert_eq!(cookie(&out, "session"), "session=");
    // Signed out: a copy of the cookie finds nobody to ask about.
    assert_eq!(location(&host.get(end, jar).await), back);

    // Without a post_logout_redirect_uri, the engine's signed-out page.
    let page = host.get("/session/end", &other_browser).await;
    assert_eq!(page.headers[CONTENT_SECURITY_POLICY], CSP);
    let (ticket, csrf) = form_of(&page);
    let out = host
        .post("/logout", &other_browser, &answer(&ticket, &csrf, "yes"))
        .await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.body.contains("logged out"), "{}", out.body);
    assert_eq!(cookie(&out, "session"), "session=");
}

#[tokio::test]
async fn openid_prompt_max_age_and_login_hint() {
    let host = Host::new().await;
    let alice = host.sign_in_alice().await;
    let error_of = |r: &Reply| {
        let location = r.headers[LOCATION].to_str().unwrap().to_owned();
        assert!(location.starts_with("https://rp.example/cb?"), "{location}");
        url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "error")
            .map(|(_, v)| v.into_owned())
    };
    let oidc = oidc_authorize();

    // prompt=none never shows a page (OpenID Connect Core §3.1.2.1).
    let none = format!("{oidc}&prompt=none");
    let r = host.get(&none, "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(error_of(&r).as_deref(), Some("login_required"));
    let r = host.get(&none, &alice).await;
    assert_eq!(error_of(&r).as_deref(), Some("consent_required"));

    // A session goes to consent, unless prompt=login or it is older than max_age.
    let consent = host.get(&oidc, &alice).await;
    assert!(
        consent.body.contains("action=\"/consent\""),
        "{}",
        consent.body
    );
    let login = host.get(&format!("{oidc}&prompt=login"), &alice).await;
    assert!(login.body.contains("action=\"/login\""), "{}", login.body);
    host.clock.advance(100);
    let young_enough = host.get(&format!("{oidc}&max_age=1000"), &alice).await;
    assert!(young_enough.body.contains("action=\"/consent\""));
    let too_old = host.get(&format!("{oidc}&max_age=10"), &alice).await;
    assert!(too_old.body.contains("action=\"/login\""));

    let hinted = host.get(&format!("{oidc}&login_hint=al%22ice"), "").await;
    assert!(hinted
        .body
        .contains("name=\"username\" value=\"al&quot;ice\""));
}

/// The second factor: a request asking for [`MFA_ACR`] (RFC 9470 §4) shows the code field as
/// required; an enrolled user's password alone, a wrong code, or the right code once more
/// fail (`401`, the login page again); the right code signs in, and the session has reached
/// the class: a later request asking for it goes on without a login, while a password-only
/// session must log in again. Without the request asking, the code is optional.
#[tokio::test]
async fn a_one_time_code_when_the_request_asks_for_it() {
    let host = Host::new().await;
    let mfa = format!("{}&acr_values={MFA_ACR}", authorize());
    let page = host.get(&mfa, "").await;
    assert!(page.body.contains("name=\"otp\""), "{}", page.body);
    assert!(
        page.body.contains("one-time-code\" required"),
        "{}",
        page.body
    );
    let (ticket, csrf) = form_of(&page);
    let jar = cookie(&page, "csrf");
    let with_code = |code: &str| {
        let mut form = credentials(&ticket, &csrf).to_vec();
        form.push(("otp", code));
        form.into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<Vec<_>>()
    };
    let post = |form: Vec<(String, String)>| {
        let (host, jar) = (&host, &jar);
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (&**k, &**v)).collect();
            host.post("/login", jar, &form).await
        }
    };
    let now = host.clock.now();
    let code = totp(now);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    for (form, message) in [
        (with_code(""), "Enter the code"),
        (with_code(&wrong), "The code is incorrect"),
    ] {
        let r = post(form).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
        assert!(r.body.contains(message), "{}", r.body);
        assert!(r
            .headers
            .get_all(SET_COOKIE)
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("session")));
    }
    let ok = post(with_code(&code)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(ok.body.contains("action=\"/consent\""), "{}", ok.body);
    let strong = format!("{jar}; {}", cookie(&ok, "session"));
    let replayed = post(with_code(&code)).await;
    assert_eq!(
        replayed.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        replayed.body
    );

    // The session reached the class: no new login for it.
    let again = host.get(&mfa, &strong).await;
    assert!(again.body.contains("action=\"/consent\""), "{}", again.body);
    // A password-only session does not: the login page again, the code required.
    let weak = host.sign_in_alice().await;
    let stepped_up = host.get(&mfa, &weak).await;
    assert!(
        stepped_up.body.contains("action=\"/login\""),
        "{}",
        stepped_up.body
    );
    let plain = host.get(&authorize(), &weak).await;
    assert!(plain.body.contains("action=\"/consent\""), "{}", plain.body);

    // Without the request asking, the field is optional, and a code given is checked.
    let page = host.get(&authorize(), "").await;
    assert!(
        !page.body.contains("one-time-code\" required"),
        "{}",
        page.body
    );
    let (ticket, csrf) = form_of(&page);
    let jar = cookie(&page, "csrf");
    let mut form = credentials(&ticket, &csrf).to_vec();
    form.push(("otp", &wrong));
    let r = host.post("/login", &jar, &form).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    host.clock.advance(30);
    let next = totp(host.clock.now());
    let mut form = credentials(&ticket, &csrf).to_vec();
    form.push(("otp", &next));
    let r = host.post("/login", &jar, &form).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let strong = format!("{jar}; {}", cookie(&r, "session"));
    let again = host.get(&mfa, &strong).await;
    assert!(again.body.contains("action=\"/consent\""), "{}", again.body);
}

/// The engine's decision at the forms: a password reaches no essential `acr` (denied after
/// the sign-in, OpenID Connect Core §5.5.1.1), the sign-in that `prompt=login` asks for is
/// enough, and a consent answered after `max_age` has passed asks to sign in again.
#[tokio::test]
async fn the_engines_login_decision_at_the_forms() {
    let host = Host::new().await;
    let oidc = oidc_authorize();
    let claims = r#"{"id_token":{"acr":{"essential":true,"values":["urn:loa:2"]}}}"#;
    let acr = format!(
        "{oidc}&claims={}",
        url::form_urlencoded::byte_serialize(claims.as_bytes()).collect::<String>()
    );
    let page = host.get(&acr, "").await;
    let jar = cookie(&page, "csrf");
    let (ticket, csrf) = form_of(&page);
    let denied = host
        .post("/login", &jar, &credentials(&ticket, &csrf))
        .await;
    let location = location(&denied);
    assert!(
        location.starts_with("https://rp.example/cb?error=access_denied"),
        "{location}"
    );

    // prompt=login: the password asked on the request counts (no second login page).
    let alice = host.sign_in_alice().await;
    let page = host.get(&format!("{oidc}&prompt=login"), &alice).await;
    let (ticket, csrf) = form_of(&page);
    let again = host
        .post("/login", &alice, &credentials(&ticket, &csrf))
        .await;
    assert!(again.body.contains("action=\"/consent\""), "{}", again.body);
    // A new session (a new id at every sign-in).
    let binding = alice.split("; ").next().unwrap();
    let alice = format!("{binding}; {}", cookie(&again, "session"));

    let page = host.get(&format!("{oidc}&max_age=60"), &alice).await;
    let (ticket, csrf) = form_of(&page);
    let mut approve = answer(&ticket, &csrf, "approve").to_vec();
    approve.push(("scope", "openid"));
    host.clock.advance(61);
    let late = host.post("/consent", &alice, &approve).await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED);
    assert!(late.body.contains("action=\"/login\""), "{}", late.body);
}

/// The kit's routes hand the throttle each request's peer address: once an address has
/// used up its free failures (20) over many accounts, its next sign-in is refused unchecked
/// (`429`), even with the right password; another address still signs in.
#[tokio::test]
async fn the_routes_throttle_sign_ins_per_peer_address() {
    let host = Host::new().await;
    let attacker: SocketAddr = "192.0.2.1:5000".parse().unwrap();
    let elsewhere: SocketAddr = "198.51.100.7:5000".parse().unwrap();
    let sign_in = |peer, username: String, password| {
        let host = &host;
        async move {
            let page = host.get(&authorize(), "").await;
            let (ticket, csrf) = form_of(&page);
            let jar = cookie(&page, "csrf");
            let form = [
                ("ticket", ticket.as_str()),
                ("csrf", csrf.as_str()),
                ("username", username.as_str()),
                ("password", password),
            ];
            host.post_from(Some(peer), "/login", &jar, &form).await
        }
    };
    for i in 0..20 {
        let r = sign_in(attacker, format!("user{i}"), "guess").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = sign_in(attacker, "alice".into(), "wonderland").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.headers.contains_key(RETRY_AFTER));
    let r = sign_in(elsewhere, "alice".into(), "wonderland").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// The device's side (RFC 8628 §3.1, §3.4): its codes for `scope`, and each poll's answer.
impl Host {
    async fn device_codes(&self, scope: &str) -> (String, String) {
        let body = format!("client_id=tv&scope={}", scope.replace(' ', "%20"));
        let req = Request::post("/device_authorization")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Bytes::from(body))
            .unwrap();
        let r = self.flow.provider().device_authorization(req).await;
        assert_eq!(r.status(), StatusCode::OK);
        let json: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        let code = |k: &str| json[k].as_str().unwrap().to_owned();
        (code("device_code"), code("user_code"))
    }

    async fn poll(&self, device_code: &str) -> (StatusCode, serde_json::Value) {
        let body = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code\
             &client_id=tv&device_code={device_code}"
        );
        let req = Request::post("/token")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Bytes::from(body))
            .unwrap();
        let r = self.flow.provider().token(req).await;
        (r.status(), serde_json::from_slice(r.body()).unwrap())
    }

    /// A new browser's code form (filled in from `verification_uri_complete`) and its
    /// cookies.
    async fn device_form(&self, user_code: &str) -> (Reply, String) {
        let page = self
            .get(&format!("/device?user_code={user_code}"), "")
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let jar = cookie(&page, "csrf");
        (page, jar)
    }

    /// `user_code` typed into a new browser's code form, from `peer`.
    async fn enter_code(&self, user_code: &str, peer: SocketAddr) -> (Reply, String) {
        let (page, jar) = self.device_form("").await;
        (self.submit_code(&page, &jar, user_code, peer).await, jar)
    }

    /// `user_code` typed into the code form `page`, from `peer`.
    async fn submit_code(
        &self,
        page: &Reply,
        jar: &str,
        user_code: &str,
        peer: SocketAddr,
    ) -> Reply {
        let (ticket, csrf) = form_of(page);
        let form = [
            ("ticket", ticket.as_str()),
            ("csrf", &csrf),
            ("user_code", user_code),
        ];
        self.post_from(Some(peer), "/device", jar, &form).await
    }
}

fn peer(n: u8) -> SocketAddr {
    SocketAddr::from(([198, 51, 100, n], 4000))
}

#[tokio::test]
async fn device_code_then_sign_in_then_consent_then_the_device_gets_its_tokens() {
    let host = Host::new().await;
    let (device_code, user_code) = host.device_codes("read write").await;
    let (status, json) = host.poll(&device_code).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("authorization_pending"))
    );

    // The verification_uri_complete fills the form in.
    let (page, jar) = host.device_form(&user_code).await;
    assert!(
        page.body.contains(&format!("value=\"{user_code}\"")),
        "{}",
        page.body
    );
    let login = host.submit_code(&page, &jar, &user_code, peer(1)).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert!(
        login.body.contains("name=\"password\""),
        "the sign-in form: {}",
        login.body
    );
    let (ticket, csrf) = form_of(&login);
    let consent = host
        .post("/device/login", &jar, &credentials(&ticket, &csrf))
        .await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    // The consent page names the device's client and its scopes.
    assert!(consent.body.contains("tv"), "{}", consent.body);
    for scope in ["read", "write"] {
        assert!(
            consent.body.contains(&format!("value=\"{scope}\" checked")),
            "{}",
            consent.body
        );
    }
    assert!(consent.body.contains("Alice"), "{}", consent.body);
    let jar = format!("{jar}; {}", cookie(&consent, "session"));
    let (ticket, csrf) = form_of(&consent);
    let mut approve = answer(&ticket, &csrf, "approve").to_vec();
    approve.push(("scope", "read"));
    let done = host.post("/device/consent", &jar, &approve).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(
        done.body.contains("Go back to your device"),
        "{}",
        done.body
    );

    let (status, json) = host.poll(&device_code).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        json["scope"], "read",
        "only the scope the user left checked"
    );
    assert!(json["access_token"].is_string());
    // Answered once: the form cannot be sent again.
    let again = host.post("/device/consent", &jar, &approve).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);

    // Signed in already: a second device's code goes straight to consent.
    let (_, second) = host.device_codes("read").await;
    let page = host.get(&format!("/device?user_code={second}"), &jar).await;
    let consent = host.submit_code(&page, &jar, &second, peer(1)).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    assert!(
        consent.body.contains("value=\"read\" checked")
            && !consent.body.contains("name=\"password\"")
    );
}

#[tokio::test]
async fn a_denied_device_is_told_access_denied() {
    let host = Host::new().await;
    let (device_code, user_code) = host.device_codes("read").await;
    let jar = host.sign_in_alice().await;
    let page = host
        .get(&format!("/device?user_code={user_code}"), &jar)
        .await;
    let consent = host.submit_code(&page, &jar, &user_code, peer(1)).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    let (ticket, csrf) = form_of(&consent);
    let done = host
        .post("/device/consent", &jar, &answer(&ticket, &csrf, "deny"))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let (status, json) = host.poll(&device_code).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("access_denied")),
        "{json}"
    );
}

#[tokio::test]
async fn a_wrong_device_code_is_refused_and_the_form_shown_again() {
    let host = Host::new().await;
    let (_, user_code) = host.device_codes("read").await;
    let (r, _) = host.enter_code("BCDF-GHJK", peer(1)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body.contains("That code is wrong or has expired."),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("name=\"user_code\""),
        "the code form again: {}",
        r.body
    );
    // Expired: wrong too.
    host.clock.advance(600);
    let (r, _) = host.enter_code(&user_code, peer(2)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
}

#[tokio::test]
async fn device_forms_need_their_csrf_token() {
    let host = Host::new().await;
    let (_, user_code) = host.device_codes("read").await;
    let (page, jar) = host.device_form(&user_code).await;
    let (ticket, csrf) = form_of(&page);
    for (cookie, form) in [
        (
            jar.as_str(),
            vec![("ticket", ticket.as_str()), ("user_code", &user_code)],
        ),
        (
            jar.as_str(),
            vec![
                ("ticket", ticket.as_str()),
                ("csrf", "AAAA"),
                ("user_code", &user_code),
            ],
        ),
        (
            "",
            vec![
                ("ticket", ticket.as_str()),
                ("csrf", &csrf),
                ("user_code", &user_code),
            ],
        ),
    ] {
        let r = host
            .post_from(Some(peer(1)), "/device", cookie, &form)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{form:?}: {}", r.body);
    }
    // The sign-in and consent forms too.
    let form = [
        ("ticket", ticket.as_str()),
        ("csrf", &csrf),
        ("user_code", &user_code),
    ];
    let login = host.post_from(Some(peer(1)), "/device", &jar, &form).await;
    let (ticket, _) = form_of(&login);
    let creds = [
        ("ticket", ticket.as_str()),
        ("username", "alice"),
        ("password", "wonderland"),
    ];
    let r = host.post("/device/login", &jar, &creds).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let signed_in = host.sign_in_alice().await;
    let r = host
        .post(
            "/device/consent",
            &signed_in,
            &[("ticket", ticket.as_str()), ("decision", "approve")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

#[tokio::test]
async fn wrong_device_codes_are_throttled_per_browser() {
    let host = Host::new().await;
    let (page, jar) = host.device_form("").await;
    let (ticket, csrf) = form_of(&page);
    let form = [
        ("ticket", ticket.as_str()),
        ("csrf", &csrf),
        ("user_code", "BCDF-GHJK"),
    ];
    for i in 0..5 {
        // From a new address each time: the browser is throttled all the same.
        let r = host.post_from(Some(peer(i)), "/device", &jar, &form).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    }
    let r = host.post_from(Some(peer(9)), "/device", &jar, &form).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.headers[RETRY_AFTER], "1");
    assert!(
        r.body
            .contains("Too many wrong codes. Try again in 1 seconds."),
        "{}",
        r.body
    );
}

/// RFC 8628 §5.1: many browsers at many addresses share one cap on wrong codes; when it is
/// reached, even the right code waits for the next window.
#[tokio::test]
async fn wrong_device_codes_are_capped_for_the_whole_provider() {
    let policy = ThrottlePolicy {
        user_codes: UserCodeCap {
            failures: 3,
            window: std::time::Duration::from_secs(60),
        },
        ..ThrottlePolicy::default()
    };
    let host = Host::throttled_by(policy).await;
    let (_, user_code) = host.device_codes("read").await;
    for i in 0..3 {
        let (r, _) = host.enter_code("BCDF-GHJK", peer(i)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    }
    // 1,700,000,000 s is 20 s into a 60 s window.
    let (r, _) = host.enter_code(&user_code, peer(50)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.headers[RETRY_AFTER], "40");
    host.clock.advance(40);
    let (r, _) = host.enter_code(&user_code, peer(51)).await;
    assert_eq!(r.status, StatusCode::OK, "the next window: {}", r.body);
    assert!(r.body.contains("name=\"password\""), "{}", r.body);
}
