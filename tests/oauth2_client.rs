//! The example provider driven by an independent client library (`oauth2` 5) and a
//! cookie-keeping HTTP client playing the browser; every test runs against the provider on
//! each adapter (`axum::…`, `actix::…`).

use std::collections::BTreeSet;
use std::time::Duration;

use oauth2::basic::{BasicErrorResponseType, BasicTokenType};
use oauth2::{
    AuthorizationCode, ClientSecret, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, Scope,
    TokenResponse,
};
use portcullis_e2e::provider::{
    DEMO_NATIVE_CLIENT, DEMO_SERVICE_CLIENT, DEMO_USER, DEMO_WEB_CLIENT,
};
use portcullis_e2e::{
    code_client, http_client, oauth_error, query_param, start, token_client, Adapter, Browser,
    CodeClient, Decision,
};
use url::Url;

const WEB_REDIRECT: &str = "http://127.0.0.1:9000/callback";

fn scopes(names: &[&str]) -> Vec<Scope> {
    names.iter().map(|s| Scope::new((*s).to_owned())).collect()
}

/// The granted scopes as a response states them: `scope` may be omitted only when it is
/// what the client requested (RFC 6749 §5.1).
fn granted(token_scopes: Option<&Vec<Scope>>, requested: &[&str]) -> BTreeSet<String> {
    match token_scopes {
        Some(s) => s.iter().map(|s| s.to_string()).collect(),
        None => set(requested),
    }
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

/// An authorization request with PKCE S256 and a random state.
fn authorize_url(client: &CodeClient, scope: &[&str]) -> (Url, CsrfToken, PkceCodeVerifier) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(scopes(scope))
        .set_pkce_challenge(challenge)
        .url();
    (url, state, verifier)
}

/// The code from a successful redirect, after checking `state` and `iss` (RFC 9207).
fn code_from(redirect: &Url, expected_prefix: &str, state: &CsrfToken, issuer: &str) -> String {
    assert!(redirect.as_str().starts_with(expected_prefix), "{redirect}");
    assert_eq!(
        query_param(redirect, "state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(query_param(redirect, "iss").as_deref(), Some(issuer));
    assert_eq!(query_param(redirect, "error"), None, "{redirect}");
    query_param(redirect, "code").expect("a code")
}

async fn code_flow_with_pkce_refresh_rotation_and_reuse_detection(adapter: Adapter) {
    let server = start(adapter).await;
    let http = http_client();
    let client = code_client(&server, &DEMO_WEB_CLIENT, WEB_REDIRECT);
    let browser = Browser::new();

    // 1. Code flow; the user unchecks `write` on the consent page.
    let (url, state, verifier) = authorize_url(&client, &["read", "write", "profile"]);
    let consent = browser.sign_in(&url, &DEMO_USER).await;
    assert_eq!(consent.scope_boxes(), ["profile", "read", "write"]);
    let redirect = browser
        .decide(&consent, Decision::Approve(&["read", "profile"]))
        .await;
    let issuer = server.issuer().as_str();
    let code = code_from(&redirect, WEB_REDIRECT, &state, issuer);

    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the code is exchanged");
    assert_eq!(*token.token_type(), BasicTokenType::Bearer);
    assert_eq!(token.expires_in(), Some(Duration::from_secs(3600)));
    let requested = ["read", "write", "profile"];
    assert_eq!(
        granted(token.scopes(), &requested),
        set(&["profile", "read"])
    );
    let first_refresh = token.refresh_token().expect("a refresh token").clone();

    // 2. Refresh rotates the refresh token...
    let refreshed = client
        .exchange_refresh_token(&first_refresh)
        .request_async(&http)
        .await
        .expect("the refresh token is accepted once");
    assert_eq!(*refreshed.token_type(), BasicTokenType::Bearer);
    assert_ne!(
        refreshed.access_token().secret(),
        token.access_token().secret()
    );
    let second_refresh = refreshed
        .refresh_token()
        .expect("a new refresh token")
        .clone();
    assert_ne!(second_refresh.secret(), first_refresh.secret());
    // No `scope` in the refresh request means the original grant (RFC 6749 §6).
    let original = ["profile", "read"];
    assert_eq!(granted(refreshed.scopes(), &original), set(&original));

    // ... the old one is refused when presented again ...
    let reused = client
        .exchange_refresh_token(&first_refresh)
        .request_async(&http)
        .await;
    assert_eq!(oauth_error(reused), BasicErrorResponseType::InvalidGrant);

    // ... and that reuse revoked the whole family, the new one included (RFC 9700 §4.14.2).
    let after_reuse = client
        .exchange_refresh_token(&second_refresh)
        .request_async(&http)
        .await;
    assert_eq!(
        oauth_error(after_reuse),
        BasicErrorResponseType::InvalidGrant
    );

    // Signed in already: a request within the consent given goes straight back with a code
    // (the provider remembers it); one asking for more goes to the consent page.
    let (url, state, _) = authorize_url(&client, &["read"]);
    let redirect = browser.get(&url).await.redirect();
    code_from(&redirect, WEB_REDIRECT, &state, issuer);
    let (url, _, _) = authorize_url(&client, &["read", "write"]);
    assert!(browser.get(&url).await.is_consent());
}

async fn client_credentials_for_the_service_client(adapter: Adapter) {
    let server = start(adapter).await;
    let http = http_client();
    let client = token_client(&server, &DEMO_SERVICE_CLIENT);

    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("write".into()))
        .request_async(&http)
        .await
        .expect("client credentials are accepted");
    assert_eq!(*token.token_type(), BasicTokenType::Bearer);
    assert_eq!(token.expires_in(), Some(Duration::from_secs(3600)));
    assert!(
        token.refresh_token().is_none(),
        "RFC 6749 §4.4.3: no refresh token"
    );
    assert_eq!(granted(token.scopes(), &["write"]), set(&["write"]));

    let default_scope = client
        .exchange_client_credentials()
        .request_async(&http)
        .await
        .expect("the default scope is used");
    // Nothing requested: the client's default applies.
    assert_eq!(granted(default_scope.scopes(), &[]), set(&["read"]));

    let not_allowed = client
        .exchange_client_credentials()
        .add_scope(Scope::new("profile".into()))
        .request_async(&http)
        .await;
    assert_eq!(
        oauth_error(not_allowed),
        BasicErrorResponseType::InvalidScope
    );

    let wrong_secret = client
        .clone()
        .set_client_secret(ClientSecret::new("not-the-secret".into()))
        .exchange_client_credentials()
        .request_async(&http)
        .await;
    assert_eq!(
        oauth_error(wrong_secret),
        BasicErrorResponseType::InvalidClient
    );

    // The web client may not use this grant.
    let web = token_client(&server, &DEMO_WEB_CLIENT)
        .exchange_client_credentials()
        .request_async(&http)
        .await;
    assert_eq!(oauth_error(web), BasicErrorResponseType::UnauthorizedClient);
}

async fn public_native_client_with_a_loopback_redirect_on_any_port(adapter: Adapter) {
    let server = start(adapter).await;
    let http = http_client();
    // Registered as http://127.0.0.1/callback: any port matches (RFC 8252 §7.3).
    let redirect_uri = "http://127.0.0.1:43123/callback";
    let client = code_client(&server, &DEMO_NATIVE_CLIENT, redirect_uri);
    let browser = Browser::new();

    let (url, state, verifier) = authorize_url(&client, &["read", "email"]);
    let redirect = browser
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    let code = code_from(&redirect, redirect_uri, &state, server.issuer().as_str());

    // No client secret: client_id in the body, PKCE proves possession.
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the public client exchanges its code");
    assert_eq!(*token.token_type(), BasicTokenType::Bearer);
    assert_eq!(
        granted(token.scopes(), &["read", "email"]),
        set(&["email", "read"])
    );
    let refresh = token.refresh_token().expect("a refresh token");
    let refreshed = client
        .exchange_refresh_token(refresh)
        .request_async(&http)
        .await
        .expect("the public client refreshes");
    assert!(refreshed.refresh_token().is_some());

    // Another path on the loopback host is not the registered redirect: an error page, no
    // redirect (RFC 6749 §4.1.2.1).
    let other = code_client(
        &server,
        &DEMO_NATIVE_CLIENT,
        "http://127.0.0.1:43123/elsewhere",
    );
    let (url, _, _) = authorize_url(&other, &["read"]);
    let page = browser.get(&url).await;
    assert_eq!(page.status, reqwest::StatusCode::BAD_REQUEST);
    assert!(!page.is_login() && !page.is_consent());
}

async fn denial_redirects_with_access_denied(adapter: Adapter) {
    let server = start(adapter).await;
    let client = code_client(&server, &DEMO_WEB_CLIENT, WEB_REDIRECT);
    let browser = Browser::new();

    let (url, state, _) = authorize_url(&client, &["read"]);
    let redirect = browser.authorize(&url, &DEMO_USER, Decision::Deny).await;
    assert!(redirect.as_str().starts_with(WEB_REDIRECT), "{redirect}");
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(&redirect, "state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(
        query_param(&redirect, "iss").as_deref(),
        Some(server.issuer().as_str())
    );
    assert_eq!(query_param(&redirect, "code"), None);
}

async fn wrong_verifier_and_reused_code_are_invalid_grant(adapter: Adapter) {
    let server = start(adapter).await;
    let http = http_client();
    let client = code_client(&server, &DEMO_WEB_CLIENT, WEB_REDIRECT);
    let browser = Browser::new();
    let issuer = server.issuer().as_str();

    // A verifier that does not match the challenge (RFC 7636 §4.6).
    let (url, state, _) = authorize_url(&client, &["read"]);
    let redirect = browser
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    let code = code_from(&redirect, WEB_REDIRECT, &state, issuer);
    let wrong = PkceCodeVerifier::new("a".repeat(64));
    let result = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(wrong)
        .request_async(&http)
        .await;
    assert_eq!(oauth_error(result), BasicErrorResponseType::InvalidGrant);

    // Without any verifier.
    let (url, state, _) = authorize_url(&client, &["read"]);
    let redirect = browser
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    let code = code_from(&redirect, WEB_REDIRECT, &state, issuer);
    let result = client
        .exchange_code(AuthorizationCode::new(code))
        .request_async(&http)
        .await;
    assert_eq!(oauth_error(result), BasicErrorResponseType::InvalidGrant);

    // A code works once; the second use fails and revokes what the first one issued
    // (RFC 6749 §4.1.2).
    let (url, state, verifier) = authorize_url(&client, &["read"]);
    let redirect = browser
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    let code = code_from(&redirect, WEB_REDIRECT, &state, issuer);
    let verifier_again = PkceCodeVerifier::new(verifier.secret().clone());
    let token = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the first use succeeds");
    let reused = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier_again)
        .request_async(&http)
        .await;
    assert_eq!(oauth_error(reused), BasicErrorResponseType::InvalidGrant);
    let refresh = token.refresh_token().expect("a refresh token");
    let revoked = client
        .exchange_refresh_token(refresh)
        .request_async(&http)
        .await;
    assert_eq!(oauth_error(revoked), BasicErrorResponseType::InvalidGrant);

    // A code is bound to its client: another client cannot redeem it.
    let (url, state, verifier) = authorize_url(&client, &["read"]);
    let redirect = browser
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    let code = code_from(&redirect, WEB_REDIRECT, &state, issuer);
    let thief = code_client(&server, &DEMO_NATIVE_CLIENT, WEB_REDIRECT);
    let stolen = thief
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await;
    assert_eq!(oauth_error(stolen), BasicErrorResponseType::InvalidGrant);
}

/// A TV on the device grant (RFC 8628): `oauth2`'s own device authorization request and its
/// own polling, whose sleep moves the provider's clock by the interval it asked for (no real
/// waiting, no `slow_down`), while the user enters the code, signs in and consents in the
/// browser; then the device code is spent.
async fn device_flow_polled_by_oauth2(adapter: Adapter) {
    use oauth2::{DeviceAuthorizationUrl, StandardDeviceAuthorizationResponse};
    use portcullis::core::UnixTime;
    use portcullis::ManualClock;
    use std::sync::Arc;

    let extra = "[device_authorization]\nenabled = true\n\n[[clients]]\nid = \"tv\"\n\
                 type = \"public\"\nallowed_scopes = \"read\"\ndefault_scopes = \"read\"\n\
                 grant_types = [\"urn:ietf:params:oauth:grant-type:device_code\"]\n";
    let clock = Arc::new(ManualClock::new(UnixTime::from_secs(1_750_000_000)));
    let config = portcullis_e2e::demo_config(&[], extra);
    let server = portcullis_e2e::start_with_clock(adapter, config, clock.clone()).await;
    let http = http_client();
    let tv = oauth2::basic::BasicClient::new(oauth2::ClientId::new("tv".into()))
        .set_auth_type(oauth2::AuthType::RequestBody)
        .set_token_uri(oauth2::TokenUrl::new(server.url("/token")).unwrap())
        .set_device_authorization_url(
            DeviceAuthorizationUrl::new(server.url("/device_authorization")).unwrap(),
        );
    let details: StandardDeviceAuthorizationResponse = tv
        .exchange_device_code()
        .add_scope(Scope::new("read".into()))
        .request_async(&http)
        .await
        .expect("the device authorization request");
    assert_eq!(details.interval(), Duration::from_secs(5));
    let complete = details
        .verification_uri_complete()
        .expect("verification_uri_complete")
        .secret()
        .clone();
    assert!(
        complete.starts_with(&server.url("/device?user_code=")),
        "{complete}"
    );

    let polls = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let poller = {
        let (tv, http, clock, polls, details) = (
            tv.clone(),
            http.clone(),
            clock.clone(),
            polls.clone(),
            details.clone(),
        );
        tokio::spawn(async move {
            tv.exchange_device_access_token(&details)
                .request_async(
                    &http,
                    |interval| {
                        polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        clock.advance(interval.as_secs());
                        tokio::time::sleep(Duration::from_millis(20))
                    },
                    None,
                )
                .await
        })
    };

    let browser = Browser::new();
    let entry = browser.get(&Url::parse(&complete).unwrap()).await;
    assert_eq!(entry.status, reqwest::StatusCode::OK, "{}", entry.body);
    let code = details.user_code().secret().to_lowercase();
    let login = browser.enter_device_code(&entry, &code).await;
    assert!(login.is_login(), "{}", login.body);
    let consent = browser.log_in(&login, &DEMO_USER).await;
    assert!(consent.is_consent(), "{}", consent.body);
    assert!(
        consent.body.contains("tv"),
        "the consent names the device's client"
    );
    assert_eq!(consent.scope_boxes(), ["read"]);
    let done = browser.answer(&consent, Decision::ApproveAll).await;
    assert_eq!(done.status, reqwest::StatusCode::OK, "{}", done.body);

    let token = tokio::time::timeout(Duration::from_secs(30), poller)
        .await
        .expect("the device gets its tokens in time")
        .unwrap()
        .expect("the device gets its tokens");
    assert_eq!(*token.token_type(), BasicTokenType::Bearer);
    assert!(
        polls.load(std::sync::atomic::Ordering::Relaxed) >= 1,
        "it polled first"
    );
    // The device code is spent.
    let again = tv
        .exchange_device_access_token(&details)
        .request_async(&http, |_| async {}, None)
        .await;
    assert!(
        matches!(&again, Err(oauth2::RequestTokenError::ServerResponse(e))
            if e.error().as_ref() == "invalid_grant"),
        "{again:?}"
    );
}

portcullis_e2e::on_each_adapter!(
    device_flow_polled_by_oauth2,
    code_flow_with_pkce_refresh_rotation_and_reuse_detection,
    client_credentials_for_the_service_client,
    public_native_client_with_a_loopback_redirect_on_any_port,
    denial_redirects_with_access_denied,
    wrong_verifier_and_reused_code_are_invalid_grant,
);
