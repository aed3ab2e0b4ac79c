//! The adversarial suite: one test per threat of the OAuth 2.0 Security Best Current Practice
//! (RFC 9700), or of the threat model (RFC 6819) and the protocol RFCs where RFC 9700 is
//! silent, each named after its section and played over HTTP against the example provider.
//! Every refusal is asserted exactly (OAuth error code and HTTP status); an answer of 500, or
//! a connection dropped by a panic, fails the assertion like any other wrong answer.
//! `docs/SECURITY.md` maps every section of RFC 9700 to these tests.
#![forbid(unsafe_code)]

use std::sync::Arc;

use portcullis::core::{Issuer, UnixTime};
use portcullis::ManualClock;
use portcullis_e2e::provider::{
    DemoClient, DemoUser, Running, DEMO_NATIVE_CLIENT, DEMO_SERVICE_CLIENT, DEMO_USER,
    DEMO_WEB_CLIENT,
};
use portcullis_e2e::{
    authorize_url, demo_config, exchange_code, http_client, post_form, query_param, refresh, start,
    start_with, start_with_clock, Adapter, Browser, Decision, Page, PKCE_CHALLENGE, PKCE_VERIFIER,
};
use reqwest::header::{
    HeaderMap, ACCESS_CONTROL_ALLOW_ORIGIN, AUTHORIZATION, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    LOCATION, REFERRER_POLICY, RETRY_AFTER, SET_COOKIE, WWW_AUTHENTICATE, X_FRAME_OPTIONS,
};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

/// The `state` every authorization request of this suite carries.
const STATE: &str = "st-8mBa";

/// A well-formed PKCE verifier (RFC 7636 §4.1) that is not [`PKCE_VERIFIER`].
const OTHER_VERIFIER: &str = "Zz0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH";

/// One mebibyte: the size of the oversized inputs.
const MIB: usize = 1 << 20;

/// A confidential client registered without PKCE (`pkce = "dangerous_optional"`).
const LEGACY: DemoClient = DemoClient {
    id: "legacy",
    secret: Some("legacy-secret"),
    redirect_uri: Some("https://legacy.example/cb"),
    post_logout_redirect_uri: None,
    grant_types: "authorization_code",
    scopes: "read",
};

/// The registration of [`LEGACY`], appended to the demo configuration.
const LEGACY_TOML: &str = r#"
[[clients]]
id = "legacy"
type = "confidential"
secret = "legacy-secret"
redirect_uris = ["https://legacy.example/cb"]
allowed_scopes = "read"
grant_types = ["authorization_code"]
pkce = "dangerous_optional"
"#;

/// The parameters of a good authorization request of `client_id` to `redirect_uri`: scope
/// `read`, [`STATE`], PKCE S256 with [`PKCE_CHALLENGE`].
fn good_request<'a>(client_id: &'a str, redirect_uri: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", "read"),
        ("state", STATE),
        ("code_challenge", PKCE_CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

/// `params` with `name` set to `value`, or removed when `value` is `None`.
fn with<'a>(
    params: &[(&'a str, &'a str)],
    name: &'a str,
    value: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut out: Vec<_> = params.iter().copied().filter(|(k, _)| *k != name).collect();
    out.extend(value.map(|v| (name, v)));
    out
}

/// The authorization endpoint with `params` as its query.
fn authorize(server: &Running, params: &[(&str, &str)]) -> Url {
    Url::parse_with_params(&server.url("/authorize"), params).expect("an authorization URL")
}

/// `path` below the issuer with `query` appended as it is (e.g. malformed on purpose).
fn raw_url(server: &Running, path: &str, query: &str) -> Url {
    Url::parse(&format!("{}?{query}", server.url(path))).expect("a URL")
}

/// A code for `client` (its registered redirect URI, scope `read`, PKCE with
/// [`PKCE_CHALLENGE`]) approved by the demo user signed in (or signing in) in `browser`.
async fn code(server: &Running, browser: &Browser, client: &DemoClient) -> String {
    code_at(
        browser,
        &authorize_url(server.issuer(), client, "read", STATE),
    )
    .await
}

/// The code the demo user's approval of the authorization request `url` yields.
async fn code_at(browser: &Browser, url: &Url) -> String {
    let redirect = browser
        .authorize(url, &DEMO_USER, Decision::ApproveAll)
        .await;
    query_param(&redirect, "code").expect("a code")
}

/// Redeems `code` as `client` with the given `redirect_uri` and `code_verifier`.
async fn redeem(
    server: &Running,
    client: &DemoClient,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", "authorization_code"), ("code", code)];
    form.extend(redirect_uri.map(|r| ("redirect_uri", r)));
    form.extend(verifier.map(|v| ("code_verifier", v)));
    post_form(&server.url("/token"), client, &form).await
}

/// Whether `client`'s access `token` (issued without `openid`) is live: by introspection as
/// `client` itself, since a token without an audience is nobody else's business (RFC 7662
/// §4). A public client cannot introspect (RFC 7662 §2.1), so for its tokens UserInfo tells:
/// a live token lacks `openid` (403 `insufficient_scope`), a dead one is 401 `invalid_token`.
async fn is_active(server: &Running, client: &DemoClient, token: &str) -> bool {
    if client.secret.is_none() {
        let (status, _, _) = userinfo_with_bearer(server, token).await;
        assert!(
            [StatusCode::FORBIDDEN, StatusCode::UNAUTHORIZED].contains(&status),
            "{status}"
        );
        return status == StatusCode::FORBIDDEN;
    }
    let (status, body) = post_form(&server.url("/introspect"), client, &[("token", token)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["active"].as_bool().expect("active")
}

fn text<'a>(body: &'a Value, name: &str) -> &'a str {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name}: {body}"))
}

/// Asserts an OAuth JSON error answer: its status and its `error` code.
#[track_caller]
fn assert_error(answer: &(StatusCode, Value), status: StatusCode, error: &str) {
    assert_eq!(
        (answer.0, answer.1["error"].as_str()),
        (status, Some(error)),
        "{answer:?}"
    );
}

/// Asserts an error page that does not redirect: 400, the OAuth `error` shown, no
/// `Location`, and nothing of the attacker's (`evil.example`) reflected.
#[track_caller]
fn assert_error_page(page: &Page, error: &str) {
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.url);
    assert_eq!(page.location, None, "{}", page.url);
    assert!(
        page.body.contains(&format!("<code>{error}</code>")),
        "{}: {}",
        page.url,
        page.body
    );
    assert!(!page.body.contains("evil.example"), "{}", page.body);
}

/// Asserts a `303` error redirect to exactly `redirect_uri` with `error` and `iss` (RFC 6749
/// §4.1.2.1, RFC 9207); returns where it leads.
#[track_caller]
fn assert_error_redirect(page: &Page, redirect_uri: &str, error: &str, issuer: &Issuer) -> Url {
    let location = page.redirect();
    assert_eq!(
        location.as_str().split_once('?').map(|(u, _)| u),
        Some(redirect_uri)
    );
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some(error),
        "{location}"
    );
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(issuer.as_str())
    );
    assert_eq!(location.fragment(), None);
    location
}

/// GETs `url` with `headers`; returns the status, the headers and the body.
async fn get(url: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, String) {
    send(Method::GET, url, headers, Vec::new()).await
}

/// Sends a request with `headers` and `body`; returns the status, the headers and the body.
async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, HeaderMap, String) {
    let mut request = http_client().request(method, url).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("an answer");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.text().await.expect("the body");
    (status, headers, body)
}

/// POSTs `body` as a form to `path` (with the demo web client's Basic credentials, except
/// to UserInfo, which takes a bearer token); returns the status and the JSON body.
async fn post_raw(server: &Running, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let request = http_client().post(server.url(path));
    let request = match path {
        "/userinfo" => request,
        _ => request.basic_auth(DEMO_WEB_CLIENT.id, DEMO_WEB_CLIENT.secret),
    };
    let response = request
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("an answer");
    let status = response.status();
    let body = response.bytes().await.expect("the body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// The discovery document.
async fn discovery(server: &Running, headers: &[(&str, &str)]) -> Value {
    let url = server.url("/.well-known/openid-configuration");
    let (status, _, body) = get(&url, headers).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).expect("JSON metadata")
}

/// An access token with the `openid` scope for the demo user, through the demo web client.
async fn openid_access_token(server: &Running) -> String {
    let url = authorize_url(server.issuer(), &DEMO_WEB_CLIENT, "openid", STATE);
    let redirect = Browser::new()
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    let code = query_param(&redirect, "code").expect("a code");
    let (status, tokens) = exchange_code(server.issuer(), &DEMO_WEB_CLIENT, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    text(&tokens, "access_token").to_owned()
}

/// UserInfo at `url` with `headers`; returns the status, the `WWW-Authenticate` challenge
/// and the JSON body.
async fn userinfo(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, Option<String>, Value) {
    let (status, h, body) = send(method, url, headers, body.as_bytes().to_vec()).await;
    let challenge = h
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().expect("ASCII").to_owned());
    (
        status,
        challenge,
        serde_json::from_str(&body).unwrap_or(Value::Null),
    )
}

/// `GET /userinfo` with `token` as its Bearer credentials (RFC 6750 §2.1).
async fn userinfo_with_bearer(
    server: &Running,
    token: &str,
) -> (StatusCode, Option<String>, Value) {
    let bearer = format!("Bearer {token}");
    userinfo(
        Method::GET,
        &server.url("/userinfo"),
        &[(AUTHORIZATION.as_str(), &bearer)],
        "",
    )
    .await
}

/// RFC 9700 §4.5 (Authorization Code Injection, countermeasure §4.5.3.1 PKCE) and RFC 6819
/// §5.2.4.4–§5.2.4.5: a stolen code is bound to its client, its redirect URI and its PKCE
/// challenge, so whoever redeems it otherwise gets `invalid_grant` (400) — and only once: the
/// failed try spends it. A code redeemed twice revokes what it issued (RFC 6749 §4.1.2).
#[tokio::test]
async fn rfc9700_4_5_authorization_code_injection() {
    let server = start(Adapter::Axum).await;
    let browser = Browser::new();
    let web = DEMO_WEB_CLIENT.redirect_uri.expect("a redirect URI");
    // The same loopback URI on another port: registered for the client (RFC 8252 §7.3), but
    // not the one the code was issued for.
    let other_port = "http://127.0.0.1:9001/callback";
    let injections: [(&DemoClient, Option<&str>, Option<&str>); 4] = [
        // The attacker's own session at the client: the client sends the attacker's verifier.
        (&DEMO_WEB_CLIENT, Some(web), Some(OTHER_VERIFIER)),
        // Another client, with everything else right.
        (
            &DEMO_NATIVE_CLIENT,
            DEMO_NATIVE_CLIENT.redirect_uri,
            Some(PKCE_VERIFIER),
        ),
        // Another redirect URI, or none although one was sent (RFC 6749 §4.1.3).
        (&DEMO_WEB_CLIENT, Some(other_port), Some(PKCE_VERIFIER)),
        (&DEMO_WEB_CLIENT, None, Some(PKCE_VERIFIER)),
    ];
    for (client, redirect_uri, verifier) in injections {
        let stolen = code(&server, &browser, &DEMO_WEB_CLIENT).await;
        let answer = redeem(&server, client, &stolen, redirect_uri, verifier).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
        // The failed try spent the code: not even its own client can redeem it now.
        let answer = exchange_code(server.issuer(), &DEMO_WEB_CLIENT, &stolen).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    }

    // The legitimate redemption works, once; a replay revokes what it issued.
    let good = code(&server, &browser, &DEMO_WEB_CLIENT).await;
    let (status, tokens) = exchange_code(server.issuer(), &DEMO_WEB_CLIENT, &good).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = text(&tokens, "access_token");
    assert!(is_active(&server, &DEMO_WEB_CLIENT, access).await);
    let replay = exchange_code(server.issuer(), &DEMO_WEB_CLIENT, &good).await;
    assert_error(&replay, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(!is_active(&server, &DEMO_WEB_CLIENT, access).await);
}

/// RFC 9700 §4.8 (PKCE Downgrade Attack, countermeasures §4.8.2) and §2.1.1: a code issued
/// with a challenge needs its verifier; a client that must use PKCE cannot leave it out; only
/// `S256` is accepted (RFC 7636 §4.4.1: `invalid_request`); and a `code_verifier` for a code
/// issued without a challenge is refused. (`plain` is accepted only with
/// `Policy::dangerous_allow_plain_pkce`, which the example does not set: core test
/// `authorize::tests::pkce_policy`.)
#[tokio::test]
async fn rfc9700_4_8_pkce_downgrade() {
    let server = start_with(Adapter::Axum, demo_config(&[], LEGACY_TOML)).await;
    let issuer = server.issuer();
    let browser = Browser::new();

    // Issued with a challenge, redeemed without the verifier.
    let code_with_challenge = code(&server, &browser, &DEMO_WEB_CLIENT).await;
    let web = DEMO_WEB_CLIENT.redirect_uri;
    let answer = redeem(&server, &DEMO_WEB_CLIENT, &code_with_challenge, web, None).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");

    // Requests that leave PKCE out, or weaken it, are refused at the authorization endpoint.
    let plain_challenge = "a".repeat(43);
    for client in [&DEMO_WEB_CLIENT, &DEMO_NATIVE_CLIENT] {
        let redirect_uri = client.redirect_uri.expect("a redirect URI");
        let good = good_request(client.id, redirect_uri);
        let without = with(&good, "code_challenge", None);
        let without = with(&without, "code_challenge_method", None);
        let plain = with(&good, "code_challenge", Some(&plain_challenge));
        let plain = with(&plain, "code_challenge_method", Some("plain"));
        let unknown = with(&good, "code_challenge_method", Some("S512"));
        for params in [without, plain, unknown] {
            let page = browser.get(&authorize(&server, &params)).await;
            let to = assert_error_redirect(&page, redirect_uri, "invalid_request", issuer);
            assert_eq!(query_param(&to, "state").as_deref(), Some(STATE));
        }
    }
    let metadata = discovery(&server, &[]).await;
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );

    // A client allowed to skip PKCE: its code cannot be redeemed with a verifier.
    let legacy_uri = LEGACY.redirect_uri.expect("a redirect URI");
    let no_pkce = with(&good_request(LEGACY.id, legacy_uri), "code_challenge", None);
    let no_pkce = with(&no_pkce, "code_challenge_method", None);
    let url = authorize(&server, &no_pkce);
    let code = code_at(&browser, &url).await;
    let answer = redeem(
        &server,
        &LEGACY,
        &code,
        Some(legacy_uri),
        Some(PKCE_VERIFIER),
    )
    .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_grant");
    let code = code_at(&browser, &url).await;
    let (status, tokens) = redeem(&server, &LEGACY, &code, Some(legacy_uri), None).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
}

/// RFC 9700 §4.4 (Mix-Up Attacks, countermeasure §4.4.2.1) and RFC 9207: every authorization
/// response — a code, a denial, a refused request, a `prompt=none` failure — carries `iss`,
/// exactly once and equal to the issuer, which the metadata announces.
#[tokio::test]
async fn rfc9700_4_4_mix_up() {
    let server = start(Adapter::Axum).await;
    let issuer = server.issuer();
    let metadata = discovery(&server, &[]).await;
    assert_eq!(metadata["issuer"], issuer.as_str());
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );

    let web = DEMO_WEB_CLIENT.redirect_uri.expect("a redirect URI");
    let browser = Browser::new();
    let granted = browser
        .authorize(
            &authorize_url(issuer, &DEMO_WEB_CLIENT, "read", STATE),
            &DEMO_USER,
            Decision::ApproveAll,
        )
        .await;
    assert!(query_param(&granted, "code").is_some(), "{granted}");
    assert_eq!(
        query_param(&granted, "iss").as_deref(),
        Some(issuer.as_str())
    );

    let consent = browser
        .get(&authorize_url(
            issuer,
            &DEMO_WEB_CLIENT,
            "read write",
            STATE,
        ))
        .await;
    let denied = browser.answer(&consent, Decision::Deny).await;
    assert_error_redirect(&denied, web, "access_denied", issuer);

    let good = good_request(DEMO_WEB_CLIENT.id, web);
    let bad_scope = with(&good, "scope", Some("admin"));
    let refused = browser.get(&authorize(&server, &bad_scope)).await;
    assert_error_redirect(&refused, web, "invalid_scope", issuer);

    let silent = with(&good, "scope", Some("openid"));
    let silent = with(&silent, "prompt", Some("none"));
    let page = Browser::new().get(&authorize(&server, &silent)).await;
    assert_error_redirect(&page, web, "login_required", issuer);
}

/// RFC 9700 §4.1 (Insufficient Redirection URI Validation, countermeasures §4.1.3) and §2.1:
/// the redirect URI must equal a registered one, character for character; only a loopback IP
/// literal may differ in its port (RFC 8252 §7.3). Anything else is an error page (400),
/// never a redirect.
#[tokio::test]
async fn rfc9700_4_1_exact_redirect_uri_matching() {
    let server = start(Adapter::Axum).await;
    let browser = Browser::new();
    let web = DEMO_WEB_CLIENT.redirect_uri.expect("a redirect URI");
    let near_misses = [
        "http://127.0.0.1:9000/callback/",
        "http://127.0.0.1:9000/callbackx",
        "http://127.0.0.1:9000/Callback",
        "http://127.0.0.1:9000/callback?next=https://evil.example/",
        "http://127.0.0.1:9000/callback#evil.example",
        "http://127.0.0.1:9000/callback/../callback",
        "http://127.0.0.1:9000/%63allback",
        "HTTP://127.0.0.1:9000/callback",
        "https://127.0.0.1:9000/callback",
        "http://localhost:9000/callback",
        "http://[::1]:9000/callback",
        "http://127.0.0.1:9000@evil.example/callback",
        "http://127.0.0.1.evil.example/callback",
        "http://127.0.0.1:9000/callback ",
        "//127.0.0.1:9000/callback",
    ];
    for redirect_uri in near_misses {
        let params = good_request(DEMO_WEB_CLIENT.id, redirect_uri);
        let page = browser.get(&authorize(&server, &params)).await;
        assert_error_page(&page, "invalid_request");
    }
    // The registered URI itself, and a public native client's loopback URI on any port.
    let native = "http://127.0.0.1:51234/callback";
    for (client, redirect_uri) in [(&DEMO_WEB_CLIENT, web), (&DEMO_NATIVE_CLIENT, native)] {
        let page = browser
            .get(&authorize(&server, &good_request(client.id, redirect_uri)))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{redirect_uri}");
        assert!(page.is_login(), "{}", page.body);
    }
}

/// RFC 9700 §4.11 (Open Redirection, §4.11.2 Authorization Server as Open Redirector) and
/// RFC 6749 §4.1.2.1: an unknown client, a missing or repeated `client_id` or
/// `redirect_uri`, a redirect URI that is no URI, or a client without redirect URIs get an
/// error page (400) that neither redirects nor reflects the attacker's URI. The logout
/// endpoint redirects only to a registered `post_logout_redirect_uri` (RP-Initiated Logout
/// 1.0 §3).
#[tokio::test]
async fn rfc9700_4_11_open_redirection() {
    let server = start(Adapter::Axum).await;
    let browser = Browser::new();
    let evil = "https://evil.example/cb";
    let web = DEMO_WEB_CLIENT.redirect_uri.expect("a redirect URI");
    let good = good_request(DEMO_WEB_CLIENT.id, web);
    let mut twice_client = good.clone();
    twice_client.push(("client_id", DEMO_NATIVE_CLIENT.id));
    let mut twice_redirect = good.clone();
    twice_redirect.push(("redirect_uri", evil));
    let requests = [
        with(&good, "client_id", Some("no-such-client")),
        with(
            &with(&good, "client_id", Some("no-such-client")),
            "redirect_uri",
            Some(evil),
        ),
        with(&with(&good, "client_id", None), "redirect_uri", Some(evil)),
        with(&good, "redirect_uri", Some(evil)),
        with(
            &good,
            "redirect_uri",
            Some("javascript:alert(document.cookie)//evil.example"),
        ),
        with(&good, "redirect_uri", Some("not a URI evil.example")),
        twice_client,
        twice_redirect,
        // OpenID Connect requires redirect_uri (OpenID Connect Core §3.1.2.1).
        with(&with(&good, "redirect_uri", None), "scope", Some("openid")),
        // A client that has no redirect URI at all.
        with(&good, "client_id", Some(DEMO_SERVICE_CLIENT.id)),
        with(
            &with(&good, "client_id", Some(DEMO_SERVICE_CLIENT.id)),
            "redirect_uri",
            Some(evil),
        ),
    ];
    for params in &requests {
        assert_error_page(
            &browser.get(&authorize(&server, params)).await,
            "invalid_request",
        );
        let action = Url::parse(&server.url("/authorize")).expect("a URL");
        assert_error_page(&browser.post(&action, params).await, "invalid_request");
    }

    let logout = [
        vec![
            ("client_id", DEMO_WEB_CLIENT.id),
            ("post_logout_redirect_uri", evil),
        ],
        vec![
            ("client_id", "no-such-client"),
            ("post_logout_redirect_uri", evil),
        ],
        vec![("post_logout_redirect_uri", evil)],
    ];
    for params in logout {
        let url = Url::parse_with_params(&server.url("/session/end"), &params).expect("a URL");
        assert_error_page(&browser.get(&url).await, "invalid_request");
    }
}

/// RFC 9700 §4.7 (Cross-Site Request Forgery) and RFC 6749 §10.12 at the provider's own
/// forms: a login, consent, logout or revocation form posted without the CSRF token bound to
/// this browser and this ticket is refused (403) and changes nothing: no session, no grant,
/// no code, nothing signed out or revoked.
#[tokio::test]
async fn rfc9700_4_7_csrf() {
    let server = start(Adapter::Axum).await;
    let url = authorize_url(server.issuer(), &DEMO_WEB_CLIENT, "read", STATE);
    let victim = Browser::new();
    let login = victim.get(&url).await;
    let ticket = login.hidden("ticket").expect("a ticket");
    // The attacker's own login form: a valid ticket and token, for another browser.
    let attacker = Browser::new().get(&url).await;
    let attacker_ticket = attacker.hidden("ticket").expect("a ticket");
    let attacker_csrf = attacker.hidden("csrf").expect("a CSRF token");
    let action = login.form_action().expect("a form");
    let alice = [
        ("username", DEMO_USER.username),
        ("password", DEMO_USER.password),
    ];
    let forged_logins = [
        vec![("ticket", ticket.as_str())],
        vec![("ticket", ticket.as_str()), ("csrf", "AAAA")],
        vec![
            ("ticket", ticket.as_str()),
            ("csrf", attacker_csrf.as_str()),
        ],
        vec![
            ("ticket", attacker_ticket.as_str()),
            ("csrf", attacker_csrf.as_str()),
        ],
    ];
    for mut form in forged_logins {
        form.extend(alice);
        let page = victim.post(&action, &form).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{form:?}");
        assert!(page.headers.get(SET_COOKIE).is_none(), "{form:?}");
    }

    let consent = victim.log_in(&login, &DEMO_USER).await;
    assert!(consent.is_consent(), "{}", consent.body);
    let consent_action = consent.form_action().expect("a form");
    for csrf in [None, Some(attacker_csrf.as_str())] {
        let mut form = vec![
            ("ticket", ticket.as_str()),
            ("decision", "approve"),
            ("scope", "read"),
        ];
        form.extend(csrf.map(|c| ("csrf", c)));
        let page = victim.post(&consent_action, &form).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{form:?}");
        assert_eq!(page.location, None);
    }
    let grants = server
        .provider()
        .grants(DEMO_USER.username)
        .await
        .expect("grants");
    assert!(grants.is_empty(), "{grants:?}");
    let redirect = victim.decide(&consent, Decision::ApproveAll).await;
    assert!(query_param(&redirect, "code").is_some(), "{redirect}");
    let grants = server
        .provider()
        .grants(DEMO_USER.username)
        .await
        .expect("grants");
    assert_eq!(grants.len(), 1);

    // Revoking a grant from the account page, and signing out.
    let account = Url::parse(&server.url("/account")).expect("a URL");
    let revoke = Url::parse(&server.url("/account/revoke")).expect("a URL");
    let grant = grants[0].id.as_str();
    for form in [
        vec![("ticket", grant)],
        vec![("ticket", grant), ("csrf", "AAAA")],
    ] {
        assert_eq!(
            victim.post(&revoke, &form).await.status,
            StatusCode::FORBIDDEN
        );
    }
    let end = Url::parse(&server.url("/session/end")).expect("a URL");
    let confirmation = victim.get(&end).await;
    assert!(
        confirmation.is_logout_confirmation(),
        "{}",
        confirmation.body
    );
    let logout_ticket = confirmation.hidden("ticket").expect("a ticket");
    let logout_action = confirmation.form_action().expect("a form");
    let forged = [("ticket", logout_ticket.as_str()), ("decision", "yes")];
    let page = victim.post(&logout_action, &forged).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.headers.get(SET_COOKIE).is_none());
    // Still signed in, still granted.
    let page = victim.get(&account).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("demo-web"), "{}", page.body);
}

/// Interaction tickets are single use (issue 13; RFC 9700 is silent, the rule is ours): a
/// consent form approved once and then posted again exactly as it was (same ticket, CSRF
/// token and cookies) gets a 400 `invalid_request` page: no redirect, and no code anywhere
/// in the answer.
#[tokio::test]
async fn replayed_consent_gets_no_code() {
    let server = start(Adapter::Axum).await;
    let browser = Browser::new();
    let url = authorize_url(server.issuer(), &DEMO_WEB_CLIENT, "read", STATE);
    let consent = browser.sign_in(&url, &DEMO_USER).await;
    let approved = browser.answer(&consent, Decision::ApproveAll).await;
    assert!(query_param(&approved.redirect(), "code").is_some());
    for round in 0..3 {
        let replay = browser.answer(&consent, Decision::ApproveAll).await;
        assert_already_answered(&replay, &format!("approval replayed, round {round}"));
    }
}

/// A denied consent form, posted again as an approval (or a denial), gets the same 400
/// page: no code, and nothing granted.
#[tokio::test]
async fn consent_approved_after_denial_gets_no_code() {
    let server = start(Adapter::Axum).await;
    let issuer = server.issuer();
    let web = DEMO_WEB_CLIENT.redirect_uri.expect("a redirect URI");
    let browser = Browser::new();
    let url = authorize_url(issuer, &DEMO_WEB_CLIENT, "read", STATE);
    let consent = browser.sign_in(&url, &DEMO_USER).await;
    let denied = browser.answer(&consent, Decision::Deny).await;
    assert_error_redirect(&denied, web, "access_denied", issuer);
    for decision in [Decision::ApproveAll, Decision::Deny] {
        let replay = browser.answer(&consent, decision).await;
        assert_already_answered(&replay, &format!("{decision:?} after denial"));
    }
    let grants = server
        .provider()
        .grants(DEMO_USER.username)
        .await
        .expect("grants");
    assert!(grants.is_empty(), "{grants:?}");
}

/// The answer to a ticket answered before: a 400 `invalid_request` page saying so, without
/// a redirect and without `code=` in its body or headers.
#[track_caller]
fn assert_already_answered(page: &Page, what: &str) {
    assert_error_page(page, "invalid_request");
    assert!(
        page.body.contains("already answered"),
        "{what}: {}",
        page.body
    );
    assert!(!page.body.contains("code="), "{what}: {}", page.body);
    for (name, value) in &page.headers {
        let code = value.as_bytes().windows(5).any(|w| w == b"code=");
        assert!(!code, "{what}: {name}: {value:?}");
    }
}

/// RFC 9700 §4.16 (Clickjacking), RFC 6819 §4.4.1.9 and §5.2.2.6: every page — sign-in,
/// consent, logout confirmation, account, the engine's error and signed-out pages, the
/// example's refusals and its 404 — forbids framing with `X-Frame-Options: DENY` and CSP
/// `frame-ancestors 'none'`.
#[tokio::test]
async fn rfc9700_4_16_clickjacking() {
    let server = start(Adapter::Axum).await;
    let browser = Browser::new();
    let url = authorize_url(server.issuer(), &DEMO_WEB_CLIENT, "read", STATE);
    let account = Url::parse(&server.url("/account")).expect("a URL");
    let end = Url::parse(&server.url("/session/end")).expect("a URL");
    let login_url = Url::parse(&server.url("/login")).expect("a URL");
    let evil = good_request("no-such-client", "https://evil.example/cb");

    let mut pages = vec![("account, signed out", browser.get(&account).await)];
    let login = browser.get(&url).await;
    pages.push((
        "forged login",
        browser.post(&login_url, &[("ticket", "x")]).await,
    ));
    let consent = browser.log_in(&login, &DEMO_USER).await;
    pages.push(("login", login));
    pages.push(("account, signed in", browser.get(&account).await));
    pages.push(("logout confirmation", browser.get(&end).await));
    pages.push(("error page", browser.get(&authorize(&server, &evil)).await));
    pages.push((
        "not found",
        browser.get(&account.join("/nowhere").expect("a URL")).await,
    ));
    pages.push(("GET on a POST form", browser.get(&login_url).await));
    let confirmation = browser.get(&end).await;
    pages.push(("consent", consent));
    pages.push((
        "signed out",
        browser.confirm_logout(&confirmation, true).await,
    ));
    for (what, page) in &pages {
        assert_eq!(page.headers[X_FRAME_OPTIONS], "DENY", "{what}");
        let csp = page.headers[CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ASCII");
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    }
}

/// RFC 9700 §4.2 (Credential Leakage via Referer Headers, countermeasures §4.2.4): the pages
/// of the authorization endpoint load nothing and link nowhere (CSP `default-src 'none'`),
/// and they and the redirect carrying the code send `Referrer-Policy: no-referrer`.
#[tokio::test]
async fn rfc9700_4_2_referrer_leakage() {
    let server = start(Adapter::Axum).await;
    let browser = Browser::new();
    let url = authorize_url(server.issuer(), &DEMO_WEB_CLIENT, "read", STATE);
    let evil = good_request("no-such-client", "https://evil.example/cb");
    let login = browser.get(&url).await;
    let consent = browser.log_in(&login, &DEMO_USER).await;
    let error = browser.get(&authorize(&server, &evil)).await;
    let redirect = browser.answer(&consent, Decision::ApproveAll).await;
    assert!(query_param(&redirect.redirect(), "code").is_some());
    for (what, page) in [("login", &login), ("consent", &consent), ("error", &error)] {
        let csp = page.headers[CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ASCII");
        assert!(csp.starts_with("default-src 'none'"), "{what}: {csp}");
        for tag in [
            "<a ", "<img", "<script", "<iframe", "<link", "src=", "href=",
        ] {
            assert!(!page.body.contains(tag), "{what} has {tag}: {}", page.body);
        }
    }
    for (what, page) in [
        ("login", &login),
        ("consent", &consent),
        ("error", &error),
        ("code", &redirect),
    ] {
        assert_eq!(page.headers[REFERRER_POLICY], "no-referrer", "{what}");
    }
}

/// RFC 9700 §4.3 (Credential Leakage via Browser History, §4.3.2) and RFC 6750 §2.3: an
/// access token in the query string is refused with `invalid_request` (400), whatever else
/// the request carries; the same token in the `Authorization` header works. Client
/// credentials in the token endpoint's query count for nothing (RFC 6749 §2.3.1: `MUST NOT`
/// be in the request URI): without others the client is not authenticated (401).
#[tokio::test]
async fn rfc9700_4_3_access_token_in_a_query_string() {
    let server = start(Adapter::Axum).await;
    let token = openid_access_token(&server).await;
    let in_query = format!("{}?access_token={token}", server.url("/userinfo"));
    let bearer = format!("Bearer {token}");
    let form = [(CONTENT_TYPE.as_str(), "application/x-www-form-urlencoded")];
    let refused = [
        userinfo(Method::GET, &in_query, &[], "").await,
        userinfo(
            Method::GET,
            &in_query,
            &[(AUTHORIZATION.as_str(), &bearer)],
            "",
        )
        .await,
        userinfo(Method::POST, &in_query, &form, "").await,
    ];
    for (status, challenge, body) in refused {
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request"))
        );
        let challenge = challenge.expect("a challenge");
        assert!(
            challenge.contains("error=\"invalid_request\""),
            "{challenge}"
        );
    }
    let (status, _, claims) = userinfo_with_bearer(&server, &token).await;
    assert_eq!(
        (status, claims["sub"].as_str()),
        (StatusCode::OK, Some("alice"))
    );

    let credentials = raw_url(
        &server,
        "/token",
        "grant_type=client_credentials&client_id=demo-service&client_secret=demo-service-secret",
    );
    let answer = send_form(
        credentials.as_str(),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_error(&answer, StatusCode::UNAUTHORIZED, "invalid_client");
}

/// RFC 9700 §4.14 (Refresh Token Protection, §4.14.2) and §2.2.2: refresh tokens rotate, and
/// presenting a rotated one is `invalid_grant` (400) and revokes the whole family — the newer
/// refresh token and every access token — for a public and for a confidential client.
#[tokio::test]
async fn rfc9700_4_14_refresh_token_replay() {
    let server = start(Adapter::Axum).await;
    let issuer = server.issuer();
    let browser = Browser::new();
    for client in [&DEMO_NATIVE_CLIENT, &DEMO_WEB_CLIENT] {
        let code = code(&server, &browser, client).await;
        let (status, first) = exchange_code(issuer, client, &code).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        let (status, second) = refresh(issuer, client, text(&first, "refresh_token")).await;
        assert_eq!(status, StatusCode::OK, "{second}");
        assert_ne!(
            text(&first, "refresh_token"),
            text(&second, "refresh_token")
        );

        let stolen = refresh(issuer, client, text(&first, "refresh_token")).await;
        assert_error(&stolen, StatusCode::BAD_REQUEST, "invalid_grant");
        let newer = refresh(issuer, client, text(&second, "refresh_token")).await;
        assert_error(&newer, StatusCode::BAD_REQUEST, "invalid_grant");
        for tokens in [&first, &second] {
            assert!(
                !is_active(&server, client, text(tokens, "access_token")).await,
                "{}",
                client.id
            );
        }
    }
}

/// RFC 9700 §2.5 (Client Authentication), RFC 6749 §10.2 (Client Impersonation) and §3.2.1:
/// a confidential client's wrong secret, by either method, is `invalid_client` (401) with a
/// `WWW-Authenticate` challenge at every endpoint; its `client_id` without the secret cannot
/// pass as a public client; a public client cannot present a secret. A failed
/// authentication spends nothing: the code still works for its own client.
#[tokio::test]
async fn rfc9700_2_5_client_impersonation() {
    let server = start(Adapter::Axum).await;
    let browser = Browser::new();
    let code = code(&server, &browser, &DEMO_WEB_CLIENT).await;
    let web = DEMO_WEB_CLIENT.redirect_uri.expect("a redirect URI");
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", web),
        ("code_verifier", PKCE_VERIFIER),
    ];
    let wrong = DemoClient {
        secret: Some("demo-web-secret-guess"),
        ..DEMO_WEB_CLIENT
    };
    let as_public = DemoClient {
        secret: None,
        ..DEMO_WEB_CLIENT
    };
    let mut wrong_post = exchange.to_vec();
    wrong_post.extend([("client_id", "demo-web"), ("client_secret", "guess")]);
    let mut native_with_secret = vec![("grant_type", "refresh_token"), ("refresh_token", "x")];
    native_with_secret.extend([("client_id", DEMO_NATIVE_CLIENT.id), ("client_secret", "s")]);
    let token = server.url("/token");
    let attempts = [
        post_form(&token, &wrong, &exchange).await,
        post_form(&token, &as_public, &exchange).await,
        send_form(&token, &wrong_post).await,
        send_form(&token, &native_with_secret).await,
        post_form(&server.url("/introspect"), &wrong, &[("token", "x")]).await,
        post_form(&server.url("/revoke"), &wrong, &[("token", "x")]).await,
    ];
    for answer in &attempts {
        assert_error(answer, StatusCode::UNAUTHORIZED, "invalid_client");
    }
    for path in ["/token", "/introspect", "/revoke"] {
        let url = server.url(path);
        let response = http_client()
            .post(&url)
            .basic_auth("demo-web", Some("guess"))
            .form(&[("token", "x")])
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenge = response.headers()[WWW_AUTHENTICATE]
            .to_str()
            .expect("ASCII");
        assert_eq!(
            challenge,
            format!("Basic realm=\"{}\"", server.issuer()),
            "{path}"
        );
    }
    let (status, tokens) = exchange_code(server.issuer(), &DEMO_WEB_CLIENT, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
}

/// POSTs `form` to `url` without client authentication; returns the status and JSON body.
async fn send_form(url: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = http_client()
        .post(url)
        .form(form)
        .send()
        .await
        .expect("an answer");
    let status = response.status();
    let body = response.bytes().await.expect("the body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// RFC 6819 §4.3.5 (Obtaining Client Secret by Online Guessing) and §5.1.4.2.2: a wrong
/// secret tells nothing about the right one. Secrets are kept as PBKDF2 hashes and checked
/// with `ring::pbkdf2::verify` (SHA-256 ones with `subtle`), in constant time; this checks,
/// through the public API, that every wrong secret — empty, one byte, the right one's
/// prefix, the right one with a byte more or changed, of the right length, very long — and
/// an unknown client get the very same 401, header for header and byte for byte.
#[tokio::test]
async fn rfc6819_4_3_5_client_secret_guessing() {
    let server = start(Adapter::Axum).await;
    let right = DEMO_SERVICE_CLIENT.secret.expect("a secret");
    let long = "s".repeat(4096);
    let same_length = "x".repeat(right.len());
    let guesses = [
        (DEMO_SERVICE_CLIENT.id, ""),
        (DEMO_SERVICE_CLIENT.id, "d"),
        (DEMO_SERVICE_CLIENT.id, &right[..right.len() - 1]),
        (DEMO_SERVICE_CLIENT.id, &right[..right.len() / 2]),
        (DEMO_SERVICE_CLIENT.id, &format!("{right}x")),
        (
            DEMO_SERVICE_CLIENT.id,
            &format!("{}X", &right[..right.len() - 1]),
        ),
        (DEMO_SERVICE_CLIENT.id, &right.to_uppercase()),
        (DEMO_SERVICE_CLIENT.id, &same_length),
        (DEMO_SERVICE_CLIENT.id, &long),
        ("no-such-client", right),
    ];
    let mut answers = Vec::new();
    for (id, secret) in guesses {
        let response = http_client()
            .post(server.url("/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("an answer");
        let status = response.status();
        let mut headers = response.headers().clone();
        headers.remove("date");
        let body = response.bytes().await.expect("the body");
        answers.push((status, headers, body));
    }
    let (status, headers, body) = &answers[0];
    let body: Value = serde_json::from_slice(body).expect("JSON");
    assert_eq!(
        (*status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    assert!(headers.contains_key(WWW_AUTHENTICATE));
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer, &answers[0], "guess {i}");
    }
    // The right secret passes (so the guesses were refused for being wrong).
    let ok = post_form(
        &server.url("/token"),
        &DEMO_SERVICE_CLIENT,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(ok.0, StatusCode::OK, "{ok:?}");
}

/// RFC 9110 §15.5.14 and §15.5.15, RFC 6585 §5; RFC 6819 §4.4.1.11 (resource exhaustion):
/// oversized input is refused before it is buffered, whatever its framing. A request body
/// over the adapter's limit (64 KiB) is 413 everywhere — at the endpoints clients call
/// directly with the OAuth error `invalid_request` they can parse (RFC 6749 §5.2; at UserInfo
/// in the challenge too, RFC 6750 §3.1). A request target over 64 KiB is 414, and a request
/// head over hyper's buffer (about 400 KiB: a 1 MiB query or cookie) 431, from hyper before
/// any handler runs. A long query within the limits reaches the engine and gets its ordinary
/// answer.
#[tokio::test]
async fn rfc9110_oversized_requests() {
    let server = start(Adapter::Axum).await;
    let huge = "a".repeat(MIB);
    let body = format!("code={huge}");
    let form = "Content-Type: application/x-www-form-urlencoded\r\n";
    let sized = format!("{form}Content-Length: {}\r\n", body.len());
    let chunked = format!("{form}Transfer-Encoding: chunked\r\n");
    let chunks = format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
    for path in ["/token", "/introspect", "/revoke", "/userinfo"] {
        for (headers, content) in [(&sized, &body), (&chunked, &chunks)] {
            let answer = raw(&server, "POST", path.as_bytes(), headers, content).await;
            assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
            let json: Value = serde_json::from_str(&answer.body).expect("JSON");
            assert_eq!(json["error"], "invalid_request", "{path}");
            let challenge = answer.header("www-authenticate");
            let expected = (path == "/userinfo").then(|| {
                format!(
                    r#"Bearer realm="{}", error="invalid_request""#,
                    server.issuer()
                )
            });
            assert_eq!(challenge, expected.as_deref(), "{path}");
        }
    }
    for path in [
        "/authorize",
        "/session/end",
        "/login",
        "/consent",
        "/logout",
        "/account/revoke",
    ] {
        for (headers, content) in [(&sized, &body), (&chunked, &chunks)] {
            let answer = raw(&server, "POST", path.as_bytes(), headers, content).await;
            assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        }
    }

    let web = DEMO_WEB_CLIENT.redirect_uri.expect("a redirect URI");
    let long_client = "c".repeat(60 * 1024);
    let params = with(
        &good_request(DEMO_WEB_CLIENT.id, web),
        "client_id",
        Some(&long_client),
    );
    let page = Browser::new().get(&authorize(&server, &params)).await;
    assert_error_page(&page, "invalid_request");

    for (size, expected) in [
        (100 * 1024, StatusCode::URI_TOO_LONG),
        (MIB, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
    ] {
        let target = format!("/authorize?client_id=demo-web&state={}", "s".repeat(size));
        let answer = raw(&server, "GET", target.as_bytes(), "", "").await;
        assert_eq!(answer.status, expected, "{size}");
    }
    let cookie = format!("Cookie: csrf={huge}\r\n");
    let answer = raw(
        &server,
        "GET",
        b"/authorize?client_id=demo-web",
        &cookie,
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
}

/// An answer read off a raw connection.
struct RawAnswer {
    status: StatusCode,
    /// The header lines.
    head: String,
    body: String,
}

impl RawAnswer {
    /// The value of header `name` (lowercase), if sent.
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }
}

/// Sends `method target` with `headers` (whole lines) and `body` over a raw connection:
/// for requests no client library sends as they are. The server may answer and close before
/// it has read everything, so this writes and reads at once, ignores a write cut short, and
/// keeps what arrived before a reset.
async fn raw(
    server: &Running,
    method: &str,
    target: &[u8],
    headers: &str,
    body: &str,
) -> RawAnswer {
    let addr = server.local_addr();
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut request = format!("{method} ").into_bytes();
    request.extend_from_slice(target);
    request.extend(
        format!(" HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n{body}").bytes(),
    );
    let (mut reader, mut writer) = stream.split();
    let write = async {
        let _ = writer.write_all(&request).await;
    };
    let read = async {
        let mut answer = Vec::new();
        loop {
            match reader.read_buf(&mut answer).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if answer.is_empty() => panic!("no answer: {e}"),
                Err(_) => break,
            }
        }
        answer
    };
    let ((), answer) = tokio::join!(write, read);
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let (status_line, head) = head.split_once("\r\n").unwrap_or((head, ""));
    let code = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer}"));
    RawAnswer {
        status: StatusCode::from_bytes(code.as_bytes()).expect("a status"),
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// RFC 6749 Appendix B and §3.1, §3.2; RFC 3986 §2.1: parameters must be
/// `application/x-www-form-urlencoded` UTF-8. Malformed percent-encoding or bytes that are
/// not UTF-8 — in a query or a form body — are `invalid_request` (400) and are never
/// repaired; at the authorization and logout endpoints they are an error page, never a
/// redirect, since nothing of the request can be trusted.
#[tokio::test]
async fn rfc6749_appendix_b_malformed_encoding() {
    let server = start(Adapter::Axum).await;
    let browser = Browser::new();
    let web = DEMO_WEB_CLIENT.redirect_uri.expect("a redirect URI");
    let good = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(good_request(DEMO_WEB_CLIENT.id, web))
        .finish();
    for bad in ["%ZZ", "%4", "%", "%FF", "%C3%28", "%ED%A0%80", "%C0%AF"] {
        let page = browser
            .get(&raw_url(
                &server,
                "/authorize",
                &format!("{good}&nonce={bad}"),
            ))
            .await;
        assert_error_page(&page, "invalid_request");
        let page = browser
            .get(&raw_url(&server, "/session/end", &format!("state={bad}")))
            .await;
        assert_error_page(&page, "invalid_request");

        let bearer = format!("Bearer {}", "t".repeat(43));
        let query = raw_url(&server, "/userinfo", &format!("x={bad}"));
        let (status, _, body) = userinfo(
            Method::GET,
            query.as_str(),
            &[(AUTHORIZATION.as_str(), &bearer)],
            "",
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{bad}"
        );
        for (path, name) in [
            ("/token", "code"),
            ("/introspect", "token"),
            ("/revoke", "token"),
            ("/userinfo", "access_token"),
        ] {
            let body = format!("grant_type=authorization_code&{name}={bad}").into_bytes();
            let answer = post_raw(&server, path, body).await;
            assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
        }
    }
    // A raw byte that is not UTF-8, in a form body and in a request target.
    for path in ["/token", "/introspect", "/revoke"] {
        let answer = post_raw(
            &server,
            path,
            b"grant_type=client_credentials&token=\xff".to_vec(),
        )
        .await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid_request");
    }
    // Raw, not percent-encoded: hyper refuses the request target before any handler runs.
    let target = [format!("/authorize?{good}&nonce=").as_bytes(), b"\xff\xfe"].concat();
    let answer = raw(&server, "GET", &target, "", "").await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::BAD_REQUEST, "")
    );
}

/// RFC 6749 §3.1 and §3.2 ("Request and response parameters MUST NOT be included more than
/// once"), RFC 7009 §2.1, RFC 7662 §2.1, RFC 6750 §2.2: a repeated parameter is
/// `invalid_request` (400) at every endpoint — an error page when it is `client_id` or
/// `redirect_uri` (nothing to trust yet), else a redirect to the client that does not echo a
/// repeated `state`. (`resource` may repeat: RFC 8707 §2.)
#[tokio::test]
async fn rfc6749_3_1_repeated_parameters() {
    let server = start(Adapter::Axum).await;
    let issuer = server.issuer();
    let browser = Browser::new();
    let web = DEMO_WEB_CLIENT.redirect_uri.expect("a redirect URI");
    let good = good_request(DEMO_WEB_CLIENT.id, web);
    let twice = |name: &'static str, value: &'static str| {
        let mut params = good.clone();
        params.push((name, value));
        params
    };
    for params in [twice("client_id", "demo-web"), twice("redirect_uri", web)] {
        assert_error_page(
            &browser.get(&authorize(&server, &params)).await,
            "invalid_request",
        );
    }
    for (name, value) in [
        ("state", "other"),
        ("scope", "write"),
        ("response_type", "code"),
        ("code_challenge", PKCE_CHALLENGE),
        ("code_challenge_method", "S256"),
    ] {
        let page = browser.get(&authorize(&server, &twice(name, value))).await;
        let to = assert_error_redirect(&page, web, "invalid_request", issuer);
        let state = query_param(&to, "state");
        assert_eq!(
            state.as_deref(),
            (name != "state").then_some(STATE),
            "{name}"
        );
    }

    let code = code(&server, &browser, &DEMO_WEB_CLIENT).await;
    let token = server.url("/token");
    let exchange = |extra: (&'static str, &'static str)| {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", web),
            ("code_verifier", PKCE_VERIFIER),
        ];
        form.push(extra);
        form
    };
    let public_twice = [
        ("grant_type", "refresh_token"),
        ("refresh_token", "x"),
        ("client_id", DEMO_NATIVE_CLIENT.id),
        ("client_id", DEMO_NATIVE_CLIENT.id),
    ];
    let post_twice = [
        ("grant_type", "client_credentials"),
        ("client_id", DEMO_SERVICE_CLIENT.id),
        ("client_secret", "demo-service-secret"),
        ("client_secret", "demo-service-secret"),
    ];
    let answers = [
        post_form(
            &token,
            &DEMO_WEB_CLIENT,
            &exchange(("grant_type", "authorization_code")),
        )
        .await,
        post_form(&token, &DEMO_WEB_CLIENT, &exchange(("code", "another"))).await,
        post_form(
            &token,
            &DEMO_WEB_CLIENT,
            &exchange(("code_verifier", OTHER_VERIFIER)),
        )
        .await,
        send_form(&token, &public_twice).await,
        send_form(&token, &post_twice).await,
        post_form(
            &server.url("/introspect"),
            &DEMO_SERVICE_CLIENT,
            &[("token", "a"), ("token", "b")],
        )
        .await,
        post_form(
            &server.url("/revoke"),
            &DEMO_WEB_CLIENT,
            &[("token", "a"), ("token", "b")],
        )
        .await,
        post_form(
            &server.url("/revoke"),
            &DEMO_WEB_CLIENT,
            &[
                ("token", "a"),
                ("token_type_hint", "access_token"),
                ("token_type_hint", "refresh_token"),
            ],
        )
        .await,
    ];
    for answer in &answers {
        assert_error(answer, StatusCode::BAD_REQUEST, "invalid_request");
    }
    // The refused exchanges did not spend the code.
    let (status, tokens) = exchange_code(issuer, &DEMO_WEB_CLIENT, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");

    let form = [(CONTENT_TYPE.as_str(), "application/x-www-form-urlencoded")];
    let (status, _, body) = userinfo(
        Method::POST,
        &server.url("/userinfo"),
        &form,
        "access_token=a&access_token=b",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let end = raw_url(&server, "/session/end", "state=a&state=b");
    assert_error_page(&browser.get(&end).await, "invalid_request");
}

/// RFC 9700 §2.1.2 (Implicit Grant), §4.1.2 and §4.17 (Attacks on In-Browser Communication
/// Flows): only `response_type=code` is issued, and only in the query; the implicit and
/// hybrid response types get `unsupported_response_type`, and the fragment, form-post and
/// web-message response modes `invalid_request`, in the query of a 303 with no fragment and
/// no token.
#[tokio::test]
async fn rfc9700_2_1_2_implicit_grant() {
    let server = start(Adapter::Axum).await;
    let issuer = server.issuer();
    let browser = Browser::new();
    let web = DEMO_WEB_CLIENT.redirect_uri.expect("a redirect URI");
    let good = with(
        &good_request(DEMO_WEB_CLIENT.id, web),
        "scope",
        Some("openid"),
    );
    let good = with(&good, "nonce", Some("n-0S6"));
    let cases = [
        ("response_type", "token", "unsupported_response_type"),
        ("response_type", "id_token", "unsupported_response_type"),
        (
            "response_type",
            "id_token token",
            "unsupported_response_type",
        ),
        ("response_type", "code token", "unsupported_response_type"),
        (
            "response_type",
            "code id_token",
            "unsupported_response_type",
        ),
        (
            "response_type",
            "code id_token token",
            "unsupported_response_type",
        ),
        ("response_type", "none", "unsupported_response_type"),
        ("response_mode", "web_message", "invalid_request"),
        ("response_mode", "query.JWT", "invalid_request"),
        ("response_mode", "form_post.jwt.jwt", "invalid_request"),
    ];
    for (name, value, error) in cases {
        let page = browser
            .get(&authorize(&server, &with(&good, name, Some(value))))
            .await;
        let to = assert_error_redirect(&page, web, error, issuer);
        assert_eq!(query_param(&to, "access_token"), None);
        assert_eq!(query_param(&to, "id_token"), None);
        assert_eq!(query_param(&to, "state").as_deref(), Some(STATE));
    }
    let metadata = discovery(&server, &[]).await;
    assert_eq!(
        metadata["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert_eq!(
        metadata["response_modes_supported"],
        serde_json::json!([
            "query",
            "fragment",
            "form_post",
            "jwt",
            "query.jwt",
            "fragment.jwt",
            "form_post.jwt"
        ])
    );
}

/// RFC 9700 §4.12 (307 Redirect) and §2.1: every redirect that answers a POSTed form — the
/// login form (when consent is remembered), the consent form (approve or deny), the logout
/// confirmation, a POSTed authorization request — is `303 See Other`, so the browser never
/// re-posts the user's credentials to the client.
#[tokio::test]
async fn rfc9700_4_12_303_after_post() {
    let server = start(Adapter::Axum).await;
    let issuer = server.issuer();
    let web = DEMO_WEB_CLIENT.redirect_uri.expect("a redirect URI");
    let url = authorize_url(issuer, &DEMO_WEB_CLIENT, "read", STATE);

    let first = Browser::new();
    let consent = first.sign_in(&url, &DEMO_USER).await;
    let approved = first.answer(&consent, Decision::ApproveAll).await;
    let mut redirects = vec![("consent approved", approved)];

    // Another browser: consent is remembered, so the login form's answer is the redirect.
    let second = Browser::new();
    let login = second.get(&url).await;
    redirects.push(("login", second.log_in(&login, &DEMO_USER).await));
    let more = authorize_url(issuer, &DEMO_WEB_CLIENT, "read write", STATE);
    let consent = second.get(&more).await;
    redirects.push((
        "consent denied",
        second.answer(&consent, Decision::Deny).await,
    ));
    let bad_scope = with(
        &good_request(DEMO_WEB_CLIENT.id, web),
        "scope",
        Some("admin"),
    );
    let action = Url::parse(&server.url("/authorize")).expect("a URL");
    redirects.push((
        "POSTed authorization request",
        second.post(&action, &bad_scope).await,
    ));
    let back = DEMO_WEB_CLIENT.post_logout_redirect_uri.expect("a URI");
    let end = Url::parse_with_params(
        &server.url("/session/end"),
        [
            ("client_id", DEMO_WEB_CLIENT.id),
            ("post_logout_redirect_uri", back),
        ],
    )
    .expect("a URL");
    let confirmation = second.get(&end).await;
    redirects.push(("logout", second.confirm_logout(&confirmation, true).await));

    for (what, page) in &redirects {
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{what}: {}", page.body);
        assert!(page.headers.contains_key(LOCATION), "{what}");
    }
}

/// RFC 9700 §4.13 (TLS Terminating Reverse Proxies): the provider trusts no forwarding
/// header. `Host`, `X-Forwarded-Host`, `X-Forwarded-Proto` and `Forwarded` from outside
/// change neither the metadata nor the `iss` of an authorization response: both come from
/// the configured issuer.
#[tokio::test]
async fn rfc9700_4_13_forwarded_headers() {
    let server = start(Adapter::Axum).await;
    let forged = [
        ("host", "evil.example"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-for", "127.0.0.1"),
        ("forwarded", "for=127.0.0.1;host=evil.example;proto=https"),
    ];
    assert_eq!(
        discovery(&server, &forged).await,
        discovery(&server, &[]).await
    );
    let web = DEMO_WEB_CLIENT.redirect_uri.expect("a redirect URI");
    let bad_scope = with(
        &good_request(DEMO_WEB_CLIENT.id, web),
        "scope",
        Some("admin"),
    );
    let (status, headers, _) = get(authorize(&server, &bad_scope).as_str(), &forged).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let location = Url::parse(headers[LOCATION].to_str().expect("ASCII")).expect("a URL");
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(server.issuer().as_str())
    );
}

/// RFC 9700 §4.15 (Client Impersonating Resource Owner): clients cannot choose their
/// `client_id` (the host registers them; there is no registration endpoint), and a client's
/// own token cannot pass for a user's: introspection gives it no `sub`, and UserInfo refuses
/// it (`insufficient_scope`, 403).
#[tokio::test]
async fn rfc9700_4_15_client_impersonating_resource_owner() {
    let server = start(Adapter::Axum).await;
    let (status, tokens) = post_form(
        &server.url("/token"),
        &DEMO_SERVICE_CLIENT,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let client_token = text(&tokens, "access_token");
    let (status, about) = post_form(
        &server.url("/introspect"),
        &DEMO_SERVICE_CLIENT,
        &[("token", client_token)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (about["active"].as_bool(), about["client_id"].as_str()),
        (Some(true), Some("demo-service"))
    );
    assert_eq!(about.get("sub"), None, "{about}");

    let user_token = openid_access_token(&server).await;
    let (_, about) = post_form(
        &server.url("/introspect"),
        &DEMO_WEB_CLIENT,
        &[("token", &user_token)],
    )
    .await;
    assert_eq!(about["sub"], "alice");

    let (status, _, body) = userinfo_with_bearer(&server, client_token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("insufficient_scope"))
    );

    let (status, _, _) = send(Method::POST, &server.url("/register"), &[], b"{}".to_vec()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// RFC 9700 §2.4 (Resource Owner Password Credentials Grant): the password grant is not
/// implemented; asking for it is `unsupported_grant_type` (400, RFC 6749 §5.2) and the
/// metadata does not offer it.
#[tokio::test]
async fn rfc9700_2_4_password_grant() {
    let server = start(Adapter::Axum).await;
    let answer = post_form(
        &server.url("/token"),
        &DEMO_WEB_CLIENT,
        &[
            ("grant_type", "password"),
            ("username", DEMO_USER.username),
            ("password", DEMO_USER.password),
        ],
    )
    .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "unsupported_grant_type");
    let metadata = discovery(&server, &[]).await;
    let grants = metadata["grant_types_supported"]
        .as_array()
        .expect("grants");
    assert!(!grants.contains(&Value::from("password")), "{grants:?}");
}

/// RFC 9700 §2.6 (Other Recommendations): the metadata is published (RFC 8414 §3), and the
/// authorization endpoint does not support CORS — neither a simple cross-origin request nor
/// a preflight gets `Access-Control-Allow-Origin`.
#[tokio::test]
async fn rfc9700_2_6_metadata_and_no_cors_at_the_authorization_endpoint() {
    let server = start(Adapter::Axum).await;
    let url = server.url("/.well-known/oauth-authorization-server");
    let (status, _, body) = get(&url, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let metadata: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(metadata["issuer"], server.issuer().as_str());

    let web = DEMO_WEB_CLIENT.redirect_uri.expect("a redirect URI");
    let request = authorize(&server, &good_request(DEMO_WEB_CLIENT.id, web));
    let origin = ("origin", "https://evil.example");
    let (status, headers, _) = get(request.as_str(), &[origin]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
    let preflight = [origin, ("access-control-request-method", "GET")];
    let (status, headers, _) =
        send(Method::OPTIONS, request.as_str(), &preflight, Vec::new()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(!headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
}

/// RFC 9110 §15.6 and RFC 6819 §4.4.1.11: no request makes the server fail. A sweep of every
/// route with odd methods, queries, bodies, media types, credentials and cookies (forged
/// sessions, repeated cookies, `alg: none` hints, out-of-range numbers) gets an answer, and
/// never a 5xx: a panic would drop the connection, an unhandled error would be a 500.
#[tokio::test]
async fn rfc9110_no_request_is_a_server_error() {
    let server = start(Adapter::Axum).await;
    let paths = [
        "/authorize",
        "/token",
        "/introspect",
        "/revoke",
        "/userinfo",
        "/session/end",
        "/jwks",
        "/.well-known/openid-configuration",
        "/login",
        "/consent",
        "/logout",
        "/account",
        "/account/revoke",
        "/account/sign-out-everywhere",
    ];
    let methods = [Method::GET, Method::POST, Method::PUT, Method::OPTIONS];
    let queries = [
        "",
        "?&&=&a",
        "?client_id=demo-web&redirect_uri=http%3A%2F%2F127.0.0.1%3A9000%2Fcallback\
         &response_type=code&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
         &code_challenge_method=S256&scope=openid&nonce=n&prompt=none%20login\
         &max_age=99999999999999999999&claims=%7B%22userinfo%22%3A1%7D&id_token_hint=a.b.c",
        "?id_token_hint=eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.&client_id=%00",
    ];
    let bodies: [&[u8]; 4] = [
        b"",
        b"grant_type=authorization_code&code=x&token=x&ticket=&csrf=&decision=approve",
        b"{\"grant_type\":\"client_credentials\"}",
        b"\x00\x01\xff=\xfe",
    ];
    let media_types = [
        None,
        Some("application/x-www-form-urlencoded"),
        Some("application/json"),
    ];
    let credentials = [
        None,
        Some("Basic !!!"),
        Some("Basic OmE="),
        Some("Bearer"),
        Some("bearer x y z"),
        Some("DPoP x"),
    ];
    let cookies = [
        None,
        Some("session=YWxpY2U.1.99999999999999999999.AAAA; csrf=x"),
        Some("session=a; session=b; csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        Some("session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    ];
    let mut n = 0;
    for path in paths {
        for method in &methods {
            for query in queries {
                for body in bodies {
                    for media_type in media_types {
                        let mut request = http_client()
                            .request(method.clone(), format!("{}{query}", server.url(path)))
                            .body(body.to_vec());
                        let headers = [
                            (CONTENT_TYPE.as_str(), media_type),
                            (AUTHORIZATION.as_str(), credentials[n % credentials.len()]),
                            ("cookie", cookies[n % cookies.len()]),
                        ];
                        for (name, value) in headers {
                            if let Some(value) = value {
                                request = request.header(name, value);
                            }
                        }
                        n += 1;
                        let status = request.send().await.expect("an answer").status();
                        assert!(
                            !status.is_server_error(),
                            "{method} {path}{query} {headers:?}: {status}"
                        );
                    }
                }
            }
        }
    }
}

/// The outside probe's first finding (issue 13), RFC 8252 §8.6 and RFC 6749 §10.2: after the
/// user approved the public native client once, a local attacker opening the browser at its
/// own loopback port with its own PKCE challenge must not get a code silently — the consent
/// page comes back every time, and `prompt=none` is `consent_required` with no code.
#[tokio::test]
async fn rfc8252_8_6_no_silent_issuance_to_native_apps() {
    let server = start(Adapter::Axum).await;
    let browser = Browser::new();
    let native = "http://127.0.0.1:51234/callback";
    let first = authorize(&server, &good_request(DEMO_NATIVE_CLIENT.id, native));
    let approved = browser
        .authorize(&first, &DEMO_USER, Decision::ApproveAll)
        .await;
    assert!(query_param(&approved, "code").is_some(), "{approved}");

    let attacker = "http://127.0.0.1:4444/callback";
    let params = with(
        &good_request(DEMO_NATIVE_CLIENT.id, attacker),
        "code_challenge",
        Some("Attacker0123456789abcdefghijklmnopqrstuvwxy"),
    );
    let page = browser.get(&authorize(&server, &params)).await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.location);
    assert!(page.is_consent(), "{}", page.body);
    assert!(!page.body.contains("code="), "{}", page.body);

    let silent = with(
        &with(&params, "scope", Some("openid read")),
        "prompt",
        Some("none"),
    );
    let page = browser.get(&authorize(&server, &silent)).await;
    let location = assert_error_redirect(&page, attacker, "consent_required", server.issuer());
    assert_eq!(query_param(&location, "code"), None);
}

/// The probe's fifth finding: RFC 8252 §7.3 lets native apps vary a loopback port; a
/// confidential client's loopback redirect URI matches exactly (RFC 9700 §4.1.3), so
/// `demo-web` at another port gets an error page, never a redirect.
#[tokio::test]
async fn rfc8252_7_3_loopback_port_variation_only_for_native_apps() {
    let server = start(Adapter::Axum).await;
    let browser = Browser::new();
    for port in ["4444", "9001", "80"] {
        let uri = format!("http://127.0.0.1:{port}/callback");
        let page = browser
            .get(&authorize(&server, &good_request(DEMO_WEB_CLIENT.id, &uri)))
            .await;
        assert_error_page(&page, "invalid_request");
    }
}

/// The probe's sixth finding, RFC 7662 §2.1 and §4: a public client naming only its
/// `client_id` is refused (401 `invalid_client`, with a challenge, no token data, JSON or
/// JWT), discovery does not offer `none` there, and another confidential client learns
/// nothing about a token without an audience.
#[tokio::test]
async fn rfc7662_2_1_introspection_needs_an_authorized_caller() {
    let server = start(Adapter::Axum).await;
    let browser = Browser::new();
    let code = code(&server, &browser, &DEMO_WEB_CLIENT).await;
    let (_, tokens) = exchange_code(server.issuer(), &DEMO_WEB_CLIENT, &code).await;
    let access = text(&tokens, "access_token");
    let introspect = server.url("/introspect");
    for accept in ["application/json", "application/token-introspection+jwt"] {
        let form = format!("token={access}&client_id={}", DEMO_NATIVE_CLIENT.id);
        let (status, headers, body) = send(
            Method::POST,
            &introspect,
            &[
                (CONTENT_TYPE.as_str(), "application/x-www-form-urlencoded"),
                ("accept", accept),
            ],
            form.into_bytes(),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(headers.contains_key(WWW_AUTHENTICATE));
        let body: Value = serde_json::from_str(&body).expect("a JSON error");
        assert_eq!(body["error"], "invalid_client");
        assert!(body.get("active").is_none() && body.get("sub").is_none());
    }
    let meta = discovery(&server, &[]).await;
    assert_eq!(
        meta["introspection_endpoint_auth_methods_supported"],
        serde_json::json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );
    let other = post_form(&introspect, &DEMO_SERVICE_CLIENT, &[("token", access)]).await;
    assert_eq!(
        other,
        (StatusCode::OK, serde_json::json!({"active": false}))
    );
    assert!(is_active(&server, &DEMO_WEB_CLIENT, access).await);
}

/// The probe's tenth finding: a `state` the interaction could not carry is `invalid_request`
/// at once (a redirect with the error, before any page), not "Request expired" after the
/// password is typed.
#[tokio::test]
async fn oversized_state_is_refused_before_the_login_page() {
    let server = start(Adapter::Axum).await;
    let browser = Browser::new();
    let web = DEMO_WEB_CLIENT.redirect_uri.expect("a redirect URI");
    let long = "s".repeat(13_000);
    let params = with(&good_request(DEMO_WEB_CLIENT.id, web), "state", Some(&long));
    let page = browser.get(&authorize(&server, &params)).await;
    let location = assert_error_redirect(&page, web, "invalid_request", server.issuer());
    assert_eq!(
        query_param(&location, "state").as_deref(),
        Some(long.as_str())
    );
    assert_eq!(query_param(&location, "code"), None);
}

/// A page that issued nothing: no redirect, and no `code=` anywhere.
#[track_caller]
fn assert_no_code(page: &Page) {
    assert_eq!(page.location, None, "{}", page.body);
    assert!(!page.body.contains("code="), "{}", page.body);
}

/// The URL of `path` below the issuer.
fn url_of(server: &Running, path: &str) -> Url {
    Url::parse(&server.url(path)).expect("a URL")
}

/// RP-Initiated Logout 1.0 §2 (the OP logs the End-User out) and RFC 6819 §5.1.4.1.3:
/// logging out ends the session on the server. A copy of the session cookie taken before
/// the logout worked until then (`/account` answered, `/authorize` issued a code at once);
/// after it, `/authorize` shows the login page and issues no code, and `/account` is 401.
#[tokio::test]
async fn rp_initiated_logout_2_a_copied_session_cookie_dies_at_logout() {
    let server = start(Adapter::Axum).await;
    let issuer = url_of(&server, "/");
    let (account, end) = (url_of(&server, "/account"), url_of(&server, "/session/end"));
    let url = authorize_url(server.issuer(), &DEMO_WEB_CLIENT, "read", STATE);
    let browser = Browser::new();
    let first = browser
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    assert!(query_param(&first, "code").is_some(), "{first}");

    // The thief copies the cookies; with them, the copy is signed in.
    let copy = Browser::with_cookies(&browser.cookies(&issuer).expect("cookies"), &issuer);
    assert_eq!(copy.get(&account).await.status, StatusCode::OK);
    let silent = copy.get(&url).await.redirect();
    assert!(query_param(&silent, "code").is_some(), "{silent}");

    // The user signs out.
    let confirmation = browser.get(&end).await;
    let out = browser.confirm_logout(&confirmation, true).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);

    let page = copy.get(&url).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.is_login(), "{}", page.body);
    assert_no_code(&page);
    let page = copy.get(&account).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
    assert!(!page.body.contains("demo-web"), "{}", page.body);
    // The browser that signed out is signed out too.
    assert!(browser.get(&url).await.is_login());
}

/// "Sign out everywhere" on the account page ends every session of the user: a second
/// browser's session dies with the first's. The form needs its session-bound CSRF token:
/// without it, 403 and nobody is signed out.
#[tokio::test]
async fn account_sign_out_everywhere_ends_other_browsers() {
    let server = start(Adapter::Axum).await;
    let (account, everywhere) = (
        url_of(&server, "/account"),
        url_of(&server, "/account/sign-out-everywhere"),
    );
    let url = authorize_url(server.issuer(), &DEMO_WEB_CLIENT, "read", STATE);
    let (laptop, phone) = (Browser::new(), Browser::new());
    laptop.sign_in(&url, &DEMO_USER).await;
    phone.sign_in(&url, &DEMO_USER).await;

    let page = laptop.get(&account).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(
        page.form_action(),
        Some(everywhere.clone()),
        "{}",
        page.body
    );
    let csrf = page.hidden("csrf").expect("a CSRF token");
    for forged in [vec![], vec![("csrf", "AAAA")]] {
        let refused = laptop.post(&everywhere, &forged).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{forged:?}");
        assert!(refused.headers.get(SET_COOKIE).is_none());
    }
    assert_eq!(phone.get(&account).await.status, StatusCode::OK);

    let done = laptop.post(&everywhere, &[("csrf", csrf.as_str())]).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    for browser in [&phone, &laptop] {
        assert_eq!(browser.get(&account).await.status, StatusCode::UNAUTHORIZED);
        let page = browser.get(&url).await;
        assert!(page.is_login(), "{}", page.body);
        assert_no_code(&page);
    }
}

/// A second user, for the attacker's own account.
const MALLORY_TOML: &str = r#"
[[users]]
username = "mallory"
password = "mallory-password"
"#;

/// RFC 9700 §4.7 (Cross-Site Request Forgery), RFC 6749 §10.12 and RFC 6265 §8.6 (a sibling
/// domain can plant cookies): the CSRF binding is not plantable. The attacker signs in as
/// herself, takes her own consent ticket, CSRF token and binding cookie, plants that cookie
/// in the signed-in victim's browser and makes it post her forms: consent (approve), the
/// account page's revoke and sign-out-everywhere. Each is 403 and changes nothing: no code,
/// no grant, still signed in. (The tokens are bound to the session, not to a cookie.)
#[tokio::test]
async fn rfc9700_4_7_a_planted_csrf_cookie_does_not_pass() {
    let server = start_with(Adapter::Axum, demo_config(&[], MALLORY_TOML)).await;
    let issuer = url_of(&server, "/");
    let account = url_of(&server, "/account");
    let url = authorize_url(server.issuer(), &DEMO_WEB_CLIENT, "read", STATE);
    let mallory = demo_user("mallory", "mallory-password");
    let attacker = Browser::new();
    let her_consent = attacker.sign_in(&url, &mallory).await;
    let her_ticket = her_consent.hidden("ticket").expect("a ticket");
    let her_csrf = her_consent.hidden("csrf").expect("a CSRF token");
    let her_cookies = attacker.cookies(&issuer).expect("cookies");
    let binding = her_cookies
        .split("; ")
        .find(|c| c.starts_with("csrf="))
        .expect("her binding cookie");

    let victim = Browser::new();
    victim.sign_in(&url, &DEMO_USER).await;
    victim.add_cookie(&format!("{binding}; Path=/"), &issuer);
    assert!(
        victim.cookies(&issuer).expect("cookies").contains(binding),
        "planted"
    );
    let consent = url_of(&server, "/consent");
    let forged = [
        ("ticket", her_ticket.as_str()),
        ("csrf", her_csrf.as_str()),
        ("decision", "approve"),
        ("scope", "read"),
    ];
    let page = victim.post(&consent, &forged).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert_no_code(&page);
    let her_account = attacker.get(&account).await;
    let her_everywhere = her_account.hidden("csrf").expect("a CSRF token");
    let everywhere = url_of(&server, "/account/sign-out-everywhere");
    let page = victim
        .post(&everywhere, &[("csrf", her_everywhere.as_str())])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(page.headers.get(SET_COOKIE).is_none());

    let grants = server.provider().grants(DEMO_USER.username).await;
    assert!(grants.expect("grants").is_empty());
    let page = victim.get(&account).await;
    assert_eq!(
        page.status,
        StatusCode::OK,
        "still signed in: {}",
        page.body
    );
}

/// A user of a test configuration.
fn demo_user(username: &'static str, password: &'static str) -> DemoUser {
    DemoUser { username, password }
}

/// Posts the login form of `login` with `username` and `password`.
async fn try_password(browser: &Browser, login: &Page, username: &str, password: &str) -> Page {
    let action = login.form_action().expect("a form");
    let (ticket, csrf) = (login.hidden("ticket"), login.hidden("csrf"));
    let form = [
        ("ticket", ticket.expect("a ticket")),
        ("csrf", csrf.expect("a CSRF token")),
        ("username", username.to_owned()),
        ("password", password.to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser.post(&action, &form).await
}

/// The `Retry-After` of a throttled sign-in, which must be `429` with the login page again,
/// no session and no code.
#[track_caller]
fn throttled(page: &Page) -> u64 {
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    assert!(page.is_login(), "{}", page.body);
    assert!(
        page.body.contains("Too many failed sign-ins"),
        "{}",
        page.body
    );
    assert!(page
        .headers
        .get(SET_COOKIE)
        .is_none_or(|c| !c.to_str().is_ok_and(|c| c.starts_with("session="))));
    assert_no_code(page);
    let retry = page.headers.get(RETRY_AFTER).expect("Retry-After");
    retry.to_str().expect("ASCII").parse().expect("seconds")
}

/// RFC 6819 §5.1.4.2.3 (lock accounts) and §5.1.4.2.4 (tar pit): failed sign-ins are
/// throttled per account. After five wrong passwords the next attempt — the right password
/// too, which is not even checked — gets `429` with `Retry-After`; an unknown user gets the
/// very same answers; once the wait is over (the injected clock moves), the right password
/// works; each further failure doubles the wait.
#[tokio::test]
async fn rfc6819_5_1_4_2_3_failed_sign_ins_are_throttled_per_account() {
    let clock = Arc::new(ManualClock::new(UnixTime::from_secs(1_750_000_000)));
    let server = start_with_clock(Adapter::Axum, demo_config(&[], ""), clock.clone()).await;
    let url = authorize_url(server.issuer(), &DEMO_WEB_CLIENT, "read", STATE);
    let browser = Browser::new();
    let login = browser.get(&url).await;
    assert!(login.is_login(), "{}", login.body);
    let (alice, right) = (DEMO_USER.username, DEMO_USER.password);
    let mut answers = Vec::new();
    for user in [alice, "nobody"] {
        for _ in 0..5 {
            let page = try_password(&browser, &login, user, "wrong").await;
            assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
            assert!(page.body.contains("incorrect"), "{}", page.body);
        }
        // The sixth attempt, even with the right password: throttled, and again at once.
        let page = try_password(&browser, &login, user, right).await;
        let retry = throttled(&page);
        assert_eq!(retry, 1, "{user}");
        let again = try_password(&browser, &login, user, right).await;
        assert_eq!(throttled(&again), 1, "the right password did not count");
        answers.push((page.status, retry, page.body.replace(user, "USER")));
    }
    assert_eq!(
        answers[0], answers[1],
        "an unknown user gets the same answer"
    );

    // After the wait, one wrong password more: the wait doubles.
    clock.advance(1);
    let page = try_password(&browser, &login, alice, "wrong").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
    assert_eq!(
        throttled(&try_password(&browser, &login, alice, right).await),
        2
    );
    // After that wait, the right password works.
    clock.advance(2);
    let consent = try_password(&browser, &login, alice, right).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    assert!(consent.is_consent(), "{}", consent.body);
}

/// RFC 6819 §5.1.4.2.3–§5.1.4.2.4, per client address: one address failing with twenty
/// different usernames (known or not) is throttled for any further username, until its
/// wait is over.
#[tokio::test]
async fn rfc6819_5_1_4_2_3_failed_sign_ins_are_throttled_per_address() {
    throttled_per_address(Adapter::Axum).await;
}

/// The same on actix-web: its peer address reaches the pages as the client's address.
#[tokio::test]
async fn rfc6819_5_1_4_2_3_failed_sign_ins_are_throttled_per_address_on_actix() {
    throttled_per_address(Adapter::Actix).await;
}

async fn throttled_per_address(adapter: Adapter) {
    let clock = Arc::new(ManualClock::new(UnixTime::from_secs(1_750_000_000)));
    let server = start_with_clock(adapter, demo_config(&[], ""), clock.clone()).await;
    let url = authorize_url(server.issuer(), &DEMO_WEB_CLIENT, "read", STATE);
    let browser = Browser::new();
    let login = browser.get(&url).await;
    for i in 0..20 {
        let page = try_password(&browser, &login, &format!("user{i}"), "wrong").await;
        assert_eq!(
            page.status,
            StatusCode::UNAUTHORIZED,
            "attempt {i}: {}",
            page.body
        );
    }
    let page = try_password(&browser, &login, DEMO_USER.username, DEMO_USER.password).await;
    assert_eq!(throttled(&page), 1);
    clock.advance(1);
    let page = try_password(&browser, &login, DEMO_USER.username, DEMO_USER.password).await;
    assert!(page.is_consent(), "{}", page.body);
}
