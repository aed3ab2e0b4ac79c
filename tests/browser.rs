//! A person's journey through the example provider's pages in a real browser: headless
//! Chromium driven over WebDriver (`fantoccini`, to a `chromedriver` this test starts on a
//! free loopback port and kills however the test ends). A relying party of the test's own (a
//! small axum server signing in with the `openidconnect` crate: the code flow with PKCE, a
//! state and a nonce) → the login page (a wrong password first) → consent → back at the
//! relying party, which shows the user's claims → the account page's connected applications
//! → revoke → the relying party's tokens are dead (UserInfo `401 invalid_token`,
//! introspection inactive, refresh `invalid_grant`); then a form whose session is gone.
//! On the axum adapter only: the pages are the same on both (tests/adapters.rs).
//!
//! On the way it checks what a person relies on, through the DOM: a label (`for=`) for
//! every input, focus on the first field, no positive `tabindex`, errors that say what went
//! wrong and what to do, the client's name and each scope in words on the consent page.
//! Every step leaves a screenshot in `<target>/browser-artifacts/<step>.png` (paths
//! printed).
//!
//! Without Chromium and chromedriver the test is ignored (reported as skipped), unless
//! `PORTCULLIS_REQUIRE_BROWSER` or `CI` is set (`.ci/run`): then it fails (`build.rs`).

use std::collections::HashMap;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use fantoccini::{Client as WebDriver, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use portcullis_e2e::provider::{Running, DEMO_USER};
use portcullis_e2e::{demo_config, http_client, start_with, Adapter};
use reqwest::header::WWW_AUTHENTICATE;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The relying party's registration at the provider.
const RP_ID: &str = "browser-rp";
const RP_SECRET: &str = "browser-rp-secret";
/// The name users see on the provider's pages.
const RP_NAME: &str = "Browser Test App";
/// What the relying party asks for, and how the consent page must put each in words.
const SCOPES: [(&str, &str); 5] = [
    ("openid", "Confirm who you are when you sign in."),
    ("profile", "See your name and profile details."),
    ("email", "See your email address."),
    (
        "offline_access",
        "Keep access to your account while you are away.",
    ),
    ("read", "Read your data."),
];
/// How long a page may take to show what the test waits for.
const PAGE_WAIT: Duration = Duration::from_secs(15);

type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The relying party: an OpenID Connect client with its pending sign-ins (by `state`) and
/// the tokens of the last one.
struct RelyingParty {
    client: OidcClient,
    issuer: String,
    userinfo: String,
    pending: Mutex<HashMap<String, (Nonce, PkceCodeVerifier)>>,
    tokens: Mutex<Option<CoreTokenResponse>>,
}

fn escape(text: &str) -> String {
    html_escape::encode_text(text).into_owned()
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         </head><body><h1>{title}</h1>{body}</body></html>"
    ))
}

/// A failure the relying party shows to the user (and the test reads).
fn failed(what: &str, e: impl std::fmt::Debug) -> Response {
    let body = format!("<p id=\"error\">{}</p>", escape(&format!("{what}: {e:?}")));
    (StatusCode::BAD_GATEWAY, page("Sign-in failed", &body)).into_response()
}

async fn home() -> Html<String> {
    page(
        "Browser Test App",
        "<p><a id=\"sign-in\" href=\"/login\">Sign in with Portcullis</a></p>",
    )
}

/// `GET /login`: to the provider's authorization endpoint, with PKCE S256, a state and a
/// nonce.
async fn login(State(rp): State<Arc<RelyingParty>>) -> Redirect {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for (scope, _) in &SCOPES[1..] {
        request = request.add_scope(Scope::new((*scope).to_owned()));
    }
    let (url, state, nonce) = request.url();
    let pending = (nonce, verifier);
    rp.pending
        .lock()
        .unwrap()
        .insert(state.secret().clone(), pending);
    Redirect::to(url.as_str())
}

/// `GET /callback`: checks `state` and `iss` (RFC 9207), exchanges the code, verifies the
/// ID token (signature, audience, nonce), asks UserInfo for the claims and shows them.
async fn callback(
    State(rp): State<Arc<RelyingParty>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let state = query.get("state").cloned().unwrap_or_default();
    let Some((nonce, verifier)) = rp.pending.lock().unwrap().remove(&state) else {
        return failed("unknown state", &query);
    };
    if query.get("iss") != Some(&rp.issuer) {
        return failed("wrong issuer", &query);
    }
    let Some(code) = query.get("code") else {
        return failed("no code", &query);
    };
    let exchanged = rp
        .client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .expect("a token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&http_client())
        .await;
    let tokens = match exchanged {
        Ok(t) => t,
        Err(e) => return failed("token request", e),
    };
    let Some(id_token) = tokens.id_token() else {
        return failed("no ID token", ());
    };
    let sub = match id_token.claims(&rp.client.id_token_verifier(), &nonce) {
        Ok(claims) => claims.subject().to_string(),
        Err(e) => return failed("ID token", e),
    };
    let request = rp
        .client
        .user_info(tokens.access_token().clone(), None)
        .expect("a UserInfo endpoint");
    let claims: CoreUserInfoClaims = match request.request_async(&http_client()).await {
        Ok(c) => c,
        Err(e) => return failed("UserInfo", e),
    };
    let name = claims.name().and_then(|n| n.get(None)).map(|n| n.as_str());
    let email = claims.email().map(|e| e.as_str());
    *rp.tokens.lock().unwrap() = Some(tokens);
    let body = format!(
        "<dl id=\"claims\"><dt>Subject</dt><dd id=\"sub\">{}</dd>\
         <dt>Name</dt><dd id=\"name\">{}</dd><dt>Email</dt><dd id=\"email\">{}</dd></dl>\
         <p><a id=\"profile\" href=\"/profile\">Your profile, fetched again</a></p>",
        escape(&sub),
        escape(name.unwrap_or_default()),
        escape(email.unwrap_or_default()),
    );
    page("Signed in", &body).into_response()
}

/// UserInfo's answer to the relying party's access token: the status and the `error` of
/// `WWW-Authenticate` (RFC 6750 §3).
async fn userinfo_status(rp: &RelyingParty) -> (StatusCode, Option<String>) {
    let token = rp.tokens.lock().unwrap().clone().expect("signed in");
    let response = http_client()
        .get(&rp.userinfo)
        .bearer_auth(token.access_token().secret())
        .send()
        .await
        .expect("UserInfo answers");
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("error=\"").nth(1))
        .and_then(|v| v.split('"').next())
        .map(str::to_owned);
    (response.status(), challenge)
}

/// `GET /profile`: UserInfo asked again with the relying party's access token.
async fn profile(State(rp): State<Arc<RelyingParty>>) -> Html<String> {
    let (status, error) = userinfo_status(&rp).await;
    let error = error.as_deref().unwrap_or("none");
    let body = format!(
        "<p>UserInfo answered <span id=\"status\">{}</span>, error \
         <span id=\"error\">{}</span>.</p>",
        status.as_u16(),
        escape(error),
    );
    page("Your profile", &body)
}

/// Starts the relying party on `listener`, registered at `server`.
async fn relying_party(server: &Running, listener: tokio::net::TcpListener) -> Arc<RelyingParty> {
    let issuer = IssuerUrl::new(server.issuer().to_string()).expect("issuer URL");
    let metadata = CoreProviderMetadata::discover_async(issuer, &http_client())
        .await
        .expect("discovery");
    let userinfo = metadata
        .userinfo_endpoint()
        .expect("a UserInfo endpoint")
        .to_string();
    let redirect = format!("http://{}/callback", listener.local_addr().unwrap());
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(RP_ID.to_owned()),
        Some(ClientSecret::new(RP_SECRET.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(redirect).expect("redirect URL"));
    let rp = Arc::new(RelyingParty {
        client,
        issuer: server.issuer().to_string(),
        userinfo,
        pending: Mutex::default(),
        tokens: Mutex::default(),
    });
    let router = Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/profile", get(profile))
        .with_state(rp.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    rp
}

/// The provider's configuration: the demo one, and the relying party at `rp_origin`.
fn provider_config(rp_origin: &str) -> portcullis_e2e::provider::Config {
    let scopes = SCOPES.map(|(s, _)| s).join(" ");
    demo_config(
        &[],
        &format!(
            "[[clients]]\nid = \"{RP_ID}\"\nname = \"{RP_NAME}\"\ntype = \"confidential\"\n\
             secret = \"{RP_SECRET}\"\nredirect_uris = [\"{rp_origin}/callback\"]\n\
             allowed_scopes = \"{scopes}\"\n\
             grant_types = [\"authorization_code\", \"refresh_token\"]\n"
        ),
    )
}

/// chromedriver, in a process group of its own with the Chromium it starts: the whole group
/// is killed when this is dropped, however the test ends.
struct Driver {
    child: Child,
    url: String,
    /// Chromium's fresh profile, removed after the browser.
    _profile: tempfile::TempDir,
    profile_dir: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // `kill -KILL -<pgid>`: chromedriver and every Chromium process it started.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &group])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The paths `build.rs` found.
fn browser_paths() -> (&'static str, &'static str) {
    const HOW: &str = "install Debian's chromium and chromium-driver, or set \
                       PORTCULLIS_CHROMIUM and PORTCULLIS_CHROMEDRIVER, and rebuild";
    let driver = option_env!("BROWSER_TEST_CHROMEDRIVER");
    let browser = option_env!("BROWSER_TEST_CHROMIUM");
    match (driver, browser) {
        (Some(d), Some(b)) => (d, b),
        _ => panic!("a browser is required here, but chromedriver or chromium is missing: {HOW}"),
    }
}

/// Starts chromedriver on a free loopback port, and waits until it answers.
async fn start_driver(artifacts: &Path) -> Driver {
    let (driver, _) = browser_paths();
    let port = StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let log = std::fs::File::create(artifacts.join("chromedriver.log")).expect("driver log");
    let child = {
        use std::os::unix::process::CommandExt;
        Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("driver log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {driver}: {e}"))
    };
    let profile = tempfile::tempdir().expect("a profile directory");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        profile_dir: profile.path().to_owned(),
        _profile: profile,
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on port {port} within 10 s");
}

/// A headless Chromium session, with the flags that keep it off the network besides the
/// pages it is sent to.
async fn start_browser(driver: &Driver) -> WebDriver {
    let (_, chromium) = browser_paths();
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1024,768",
        &format!("--user-data-dir={}", driver.profile_dir.display()),
    ];
    let capabilities = json!({"goog:chromeOptions": {"binary": chromium, "args": args}});
    let Value::Object(capabilities) = capabilities else {
        unreachable!()
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Where the screenshots go: `<target>/browser-artifacts`.
fn artifacts_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.parent().unwrap_or(tmp).join("browser-artifacts");
    std::fs::create_dir_all(&dir).expect("the artifacts directory");
    dir
}

/// The browser, with what a step needs: waiting for an element, reading it, screenshots.
struct Session {
    web: WebDriver,
    artifacts: PathBuf,
}

impl Session {
    /// The element `css`, once the page shows it.
    async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        let found = self.web.wait().at_most(PAGE_WAIT);
        match found.for_element(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no {css} on {:?}: {e}", self.web.current_url().await),
        }
    }

    /// The text of the element `css` (found again if the page changed under it).
    async fn text(&self, css: &str) -> String {
        let deadline = std::time::Instant::now() + PAGE_WAIT;
        loop {
            match self.wait_for(css).await.text().await {
                Ok(text) => return text,
                Err(e) if std::time::Instant::now() < deadline => {
                    assert!(
                        matches!(&e, fantoccini::error::CmdError::Standard(w)
                            if w.error == fantoccini::error::ErrorStatus::StaleElementReference),
                        "its text: {e}"
                    );
                }
                Err(e) => panic!("its text: {e}"),
            }
        }
    }

    /// The text of the element `css` once it is `expected` (a page loading after a click
    /// shows the old page's element first), or the last text read after [`PAGE_WAIT`].
    async fn text_once(&self, css: &str, expected: &str) -> String {
        let deadline = std::time::Instant::now() + PAGE_WAIT;
        loop {
            let text = self.text(css).await;
            if text == expected || std::time::Instant::now() >= deadline {
                return text;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The visible text of the page.
    async fn body(&self) -> String {
        self.text("body").await
    }

    async fn goto(&self, url: &str) {
        self.web.goto(url).await.expect("the page loads");
    }

    async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.expect("a click");
    }

    async fn type_into(&self, css: &str, text: &str) {
        let field = self.wait_for(css).await;
        field.clear().await.expect("cleared");
        field.send_keys(text).await.expect("typed");
    }

    /// Saves a screenshot of the page as `<step>.png`, and prints where.
    async fn screenshot(&self, step: &str) {
        let png = self.web.screenshot().await.expect("a screenshot");
        let path = self.artifacts.join(format!("{step}.png"));
        std::fs::write(&path, png).expect("the screenshot is saved");
        println!("screenshot {step}: {}", path.display());
    }

    /// What a person relies on in a form: every visible input has a `<label for=…>`
    /// naming it, nothing has a positive `tabindex` (the focus follows the page's order),
    /// and the focus starts on `focused` (the first field), if given.
    async fn check_form_access(&self, focused: Option<&str>) {
        let inputs = self
            .web
            .find_all(Locator::Css("input:not([type=hidden])"))
            .await
            .expect("the inputs");
        assert!(!inputs.is_empty(), "a form with fields");
        for input in inputs {
            let id = input
                .attr("id")
                .await
                .unwrap()
                .expect("every input has an id");
            let css = format!("label[for=\"{id}\"]");
            let label = self.web.find(Locator::Css(&css)).await;
            let label = label.unwrap_or_else(|_| panic!("no label for #{id}"));
            assert!(
                !label.text().await.unwrap().trim().is_empty(),
                "#{id}'s label"
            );
        }
        for element in self.web.find_all(Locator::Css("[tabindex]")).await.unwrap() {
            let index = element.attr("tabindex").await.unwrap().unwrap_or_default();
            let index: i32 = index.parse().unwrap_or(0);
            assert!(index <= 0, "a positive tabindex: {index}");
        }
        if let Some(id) = focused {
            let active = self.web.active_element().await.expect("a focused element");
            assert_eq!(active.attr("id").await.unwrap().as_deref(), Some(id));
        }
    }
}

/// The journey, relying party to revoked token, in one browser.
async fn journey(server: &Running, rp: &RelyingParty, rp_origin: &str, session: &Session) {
    // The relying party's home page: "Sign in" leads to the provider's login page.
    session.goto(&format!("{rp_origin}/")).await;
    session.screenshot("01-relying-party").await;
    session.click("#sign-in").await;
    session.wait_for("#username").await;
    assert_eq!(session.web.title().await.unwrap(), "Sign in");
    assert!(
        session
            .body()
            .await
            .contains(&format!("Sign in to continue to {RP_NAME} ({RP_ID}).")),
        "the client's name on the login page"
    );
    session.check_form_access(Some("username")).await;
    session.screenshot("02-login").await;

    // A wrong password: the page says so, without saying which part was wrong, and keeps
    // the username.
    session.type_into("#username", DEMO_USER.username).await;
    session.type_into("#password", "not-the-password").await;
    session.click("button[type=submit]").await;
    let error = session.text("[role=alert]").await;
    assert_eq!(error, "The username or password is incorrect.");
    let username = session.wait_for("#username").await;
    assert_eq!(
        username.prop("value").await.unwrap().as_deref(),
        Some("alice")
    );
    session.check_form_access(Some("username")).await;
    session.screenshot("03-login-wrong-password").await;

    // The right one: the consent page names the client and puts every scope in words.
    session.type_into("#password", DEMO_USER.password).await;
    session.click("button[type=submit]").await;
    session.wait_for("button[value=approve]").await;
    let body = session.body().await;
    assert!(
        body.contains(&format!(
            "{RP_NAME} ({RP_ID}) asks for access to your account"
        )),
        "{body}"
    );
    let boxes = session
        .web
        .find_all(Locator::Css("input[name=scope]"))
        .await;
    assert_eq!(boxes.unwrap().len(), SCOPES.len(), "a box per scope");
    for (scope, words) in SCOPES {
        let input = session
            .wait_for(&format!("input[name=scope][value=\"{scope}\"]"))
            .await;
        assert!(input.is_selected().await.unwrap(), "{scope} is checked");
        let id = input.attr("id").await.unwrap().expect("an id");
        let label = session.wait_for(&format!("label[for=\"{id}\"]")).await;
        assert!(
            label.is_displayed().await.unwrap(),
            "{scope}'s label is visible"
        );
        assert_eq!(label.text().await.unwrap(), format!("{words} {scope}"));
    }
    session.check_form_access(None).await;
    session.screenshot("04-consent").await;
    session.click("button[value=approve]").await;

    // Back at the relying party, which shows the user's claims from UserInfo.
    assert_eq!(session.text("#name").await, "Alice Liddell");
    assert_eq!(session.text("#email").await, "alice@example.com");
    assert_eq!(session.text("#sub").await, "alice");
    session.screenshot("05-signed-in").await;
    assert_eq!(userinfo_status(rp).await, (StatusCode::OK, None));

    // The account page lists the application by name; revoking it ends its access.
    session.goto(&server.url("/account")).await;
    let listed = session.text("form[action$=\"/account/revoke\"]").await;
    assert!(
        listed.starts_with(&format!("{RP_NAME} ({RP_ID}): ")),
        "{listed}"
    );
    for (scope, _) in SCOPES {
        assert!(listed.contains(scope), "{scope} in {listed}");
    }
    session.screenshot("06-account").await;
    session
        .click("form[action$=\"/account/revoke\"] button")
        .await;
    assert_eq!(
        session.text_once("h1", "Access revoked").await,
        "Access revoked"
    );
    session.screenshot("07-revoked").await;
    session.goto(&server.url("/account")).await;
    assert!(session
        .body()
        .await
        .contains("No application has access to your account."));

    // The relying party's tokens are dead: UserInfo says `invalid_token` (RFC 6750 §3.1),
    // introspection says inactive (RFC 7662 §2.2), the refresh token is `invalid_grant`.
    session.goto(&format!("{rp_origin}/profile")).await;
    assert_eq!(session.text("#status").await, "401");
    assert_eq!(session.text("#error").await, "invalid_token");
    session.screenshot("08-token-dead").await;
    assert_tokens_dead(server, rp).await;
}

/// The relying party's access and refresh tokens no longer work, each refused with its
/// exact answer.
async fn assert_tokens_dead(server: &Running, rp: &RelyingParty) {
    let tokens = rp.tokens.lock().unwrap().clone().expect("signed in");
    assert_eq!(
        userinfo_status(rp).await,
        (StatusCode::UNAUTHORIZED, Some("invalid_token".to_owned()))
    );
    let introspection = http_client()
        .post(server.url("/introspect"))
        .basic_auth(RP_ID, Some(RP_SECRET))
        .form(&[("token", tokens.access_token().secret().as_str())])
        .send()
        .await
        .expect("introspection answers");
    assert_eq!(introspection.status(), StatusCode::OK);
    let answer: Value = serde_json::from_slice(&introspection.bytes().await.unwrap()).unwrap();
    assert_eq!(answer, json!({"active": false}));
    let refresh = tokens
        .refresh_token()
        .expect("offline_access gave a refresh token");
    let refreshed = http_client()
        .post(server.url("/token"))
        .basic_auth(RP_ID, Some(RP_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.secret().as_str()),
        ])
        .send()
        .await
        .expect("the token endpoint answers");
    assert_eq!(refreshed.status(), StatusCode::BAD_REQUEST);
    let answer: Value = serde_json::from_slice(&refreshed.bytes().await.unwrap()).unwrap();
    assert_eq!(answer["error"], "invalid_grant");
}

/// A form whose session ended while it was open (its CSRF token no longer verifies): the
/// page says what happened and what to do.
async fn expired_form(rp_origin: &str, session: &Session) {
    // Still signed in, and the grant revoked: the consent page again.
    session.goto(&format!("{rp_origin}/login")).await;
    session.wait_for("button[value=approve]").await;
    session
        .web
        .delete_all_cookies()
        .await
        .expect("cookies deleted");
    session.click("button[value=approve]").await;
    assert_eq!(session.text_once("h1", "Forbidden").await, "Forbidden");
    let text = session.text("p").await;
    assert!(
        text.starts_with("This form has expired or could not be verified"),
        "{text}"
    );
    assert!(
        text.ends_with("Go back to the application and start again."),
        "{text}"
    );
    session.screenshot("09-expired-form").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    skip_browser_tests,
    ignore = "needs Chromium and chromedriver (Debian: chromium, chromium-driver)"
)]
async fn a_person_signs_in_consents_and_revokes_in_a_real_browser() {
    let artifacts = artifacts_dir();
    println!("browser artifacts: {}", artifacts.display());
    let rp_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let rp_origin = format!("http://{}", rp_listener.local_addr().unwrap());
    let server = start_with(Adapter::Axum, provider_config(&rp_origin)).await;
    let rp = relying_party(&server, rp_listener).await;

    let driver = start_driver(&artifacts).await;
    let session = Session {
        web: start_browser(&driver).await,
        artifacts,
    };
    let steps = async {
        journey(&server, &rp, &rp_origin, &session).await;
        expired_form(&rp_origin, &session).await;
    };
    let finished = tokio::time::timeout(Duration::from_secs(120), steps).await;
    // Closing the session ends Chromium; the driver's drop kills whatever is left.
    let closed = session.web.close().await;
    drop(driver);
    finished.expect("the journey within 2 minutes");
    closed.expect("the browser closes");
}
