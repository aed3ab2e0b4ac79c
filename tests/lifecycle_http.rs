//! Introspection (RFC 7662) and revocation (RFC 7009) over HTTP on loopback against the
//! example provider. Introspection is performed by an independent client library (`oauth2`
//! 5); its revocation client refuses plain-http endpoints (RFC 7009 §2 asks for TLS), so
//! revocation is sent as a plain form here and performed by node's openid-client in
//! `openid_client_node.rs`.

use oauth2::basic::BasicTokenType;
use oauth2::{
    AccessToken, AuthorizationCode, CsrfToken, IntrospectionUrl, PkceCodeChallenge, RefreshToken,
    Scope, TokenIntrospectionResponse, TokenResponse,
};
use std::sync::Arc;

use portcullis::core::UnixTime;
use portcullis::ManualClock;
use portcullis_e2e::provider::{
    Config, DEMO_SERVICE_CLIENT, DEMO_TOML, DEMO_USER, DEMO_WEB_CLIENT,
};
use portcullis_e2e::{
    code_client, http_client, oauth_error, query_param, start, start_with_clock, token_client,
    Adapter, Browser, Decision,
};
use url::Url;

const WEB_REDIRECT: &str = "http://127.0.0.1:9000/callback";

/// A code-flow token pair for the demo web client, through the real login and consent pages.
async fn web_tokens(server: &portcullis_example_provider::Running) -> (AccessToken, RefreshToken) {
    let client = code_client(server, &DEMO_WEB_CLIENT, WEB_REDIRECT);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("read".into()))
        .set_pkce_challenge(challenge)
        .url();
    let redirect: Url = Browser::new()
        .authorize(&url, &DEMO_USER, Decision::Approve(&["read"]))
        .await;
    let code = query_param(&redirect, "code").expect("a code");
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http_client())
        .await
        .expect("the code is exchanged");
    let refresh = token.refresh_token().expect("a refresh token").clone();
    (token.access_token().clone(), refresh)
}

/// POSTs a revocation request with client_secret_basic; returns the status and JSON body.
async fn revoke(
    server: &portcullis_example_provider::Running,
    id: &str,
    secret: &str,
    token: &str,
) -> (u16, serde_json::Value) {
    let response = http_client()
        .post(server.url("/revoke"))
        .basic_auth(id, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn an_independent_client_introspects_and_revokes_over_http() {
    let server = start(Adapter::Axum).await;
    let http = http_client();
    let (access, refresh) = web_tokens(&server).await;
    let web = code_client(&server, &DEMO_WEB_CLIENT, WEB_REDIRECT);
    // The token has no audience (no resource indicator): only its own client may learn about
    // it; another confidential client (the service) hears only `active: false` (RFC 7662 §4).
    let service = token_client(&server, &DEMO_SERVICE_CLIENT)
        .set_introspection_url(IntrospectionUrl::new(server.url("/introspect")).unwrap());
    let hidden = service
        .introspect(&access)
        .request_async(&http)
        .await
        .expect("introspection answers");
    assert!(!hidden.active() && hidden.client_id().is_none() && hidden.sub().is_none());
    let web_introspects = token_client(&server, &DEMO_WEB_CLIENT)
        .set_introspection_url(IntrospectionUrl::new(server.url("/introspect")).unwrap());

    let active = web_introspects
        .introspect(&access)
        .set_token_type_hint("access_token")
        .request_async(&http)
        .await
        .expect("introspection answers");
    assert!(active.active());
    assert_eq!(active.client_id().map(|c| c.as_str()), Some("demo-web"));
    assert_eq!(active.sub(), Some("alice"));
    assert_eq!(active.token_type(), Some(&BasicTokenType::Bearer));
    assert_eq!(
        active
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        Some(vec!["read".to_owned()])
    );
    assert_eq!(active.iss(), Some(server.issuer().as_str()));
    assert!(active.exp().is_some() && active.iat().is_some() && active.jti().is_some());

    // Another client may not revoke it: unauthorized_client (RFC 7009 §2.1).
    let (status, body) = revoke(
        &server,
        "demo-service",
        "demo-service-secret",
        access.secret(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client"))
    );

    // Its own client revokes the refresh token: the whole family dies, access token included.
    let (status, _) = revoke(&server, "demo-web", "demo-web-secret", refresh.secret()).await;
    assert_eq!(status, 200);
    let dead = web_introspects
        .introspect(&access)
        .request_async(&http)
        .await
        .expect("introspection answers");
    assert!(!dead.active());
    assert_eq!(
        dead.client_id(),
        None,
        "an inactive token says nothing else"
    );
    let error = oauth_error(
        web.exchange_refresh_token(&refresh)
            .request_async(&http)
            .await,
    );
    assert_eq!(error, oauth2::basic::BasicErrorResponseType::InvalidGrant);

    // Revoking an unknown or already revoked token is still a success (RFC 7009 §2.2).
    assert_eq!(
        revoke(&server, "demo-web", "demo-web-secret", refresh.secret())
            .await
            .0,
        200
    );
    let unknown = service
        .introspect(&AccessToken::new("not-a-token".into()))
        .request_async(&http)
        .await
        .expect("introspection answers");
    assert!(!unknown.active());
}

#[tokio::test]
async fn introspection_without_client_authentication_is_refused() {
    let server = start(Adapter::Axum).await;
    let response = http_client()
        .post(server.url("/introspect"))
        .form(&[("token", "anything")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"], "invalid_client");
}

/// The demo provider on a manual clock, with `table` as demo-web's `[clients.refresh]`.
async fn start_with_web_refresh(
    table: &str,
) -> (portcullis_example_provider::Running, Arc<ManualClock>) {
    let anchor = "post_logout_redirect_uris = [\"http://127.0.0.1:9000/signed-out\"]";
    let at = DEMO_TOML.find(anchor).expect("demo-web's logout URI");
    let end = at + DEMO_TOML[at..].find('\n').expect("a line end");
    let text = format!(
        "{}\n[clients.refresh]\n{table}{}",
        &DEMO_TOML[..end],
        &DEMO_TOML[end..]
    );
    let config = Config::parse(&text).expect("the test configuration");
    let clock = Arc::new(ManualClock::new(UnixTime::from_secs(1_800_000_000)));
    (
        start_with_clock(Adapter::Axum, config, clock.clone()).await,
        clock,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_within_the_grace_period_get_the_same_pair_over_http() {
    let (server, clock) = start_with_web_refresh("grace_seconds = 10\ngrace_reuses = 3").await;
    let web = code_client(&server, &DEMO_WEB_CLIENT, WEB_REDIRECT);
    let http = http_client();
    let (_, refresh) = web_tokens(&server).await;
    // Four racers: one rotates, three are within the count; all get the same pair.
    let racers = (0..4).map(|_| {
        let (web, http, refresh) = (web.clone(), http.clone(), refresh.clone());
        tokio::spawn(async move {
            let token = web
                .exchange_refresh_token(&refresh)
                .request_async(&http)
                .await
                .expect("every racer is answered");
            let next = token.refresh_token().expect("a new refresh token");
            (token.access_token().secret().clone(), next.secret().clone())
        })
    });
    let mut pairs = Vec::new();
    for racer in racers {
        pairs.push(racer.await.unwrap());
    }
    assert!(pairs.iter().all(|p| *p == pairs[0]), "{pairs:?}");
    // A fifth presentation is past the count: reuse, and the family dies.
    let error = oauth_error(
        web.exchange_refresh_token(&refresh)
            .request_async(&http)
            .await,
    );
    assert_eq!(error, oauth2::basic::BasicErrorResponseType::InvalidGrant);
    let new = RefreshToken::new(pairs[0].1.clone());
    let error = oauth_error(web.exchange_refresh_token(&new).request_async(&http).await);
    assert_eq!(error, oauth2::basic::BasicErrorResponseType::InvalidGrant);

    // Past the window, the rotated token is reuse again.
    let (_, refresh) = web_tokens(&server).await;
    let token = web
        .exchange_refresh_token(&refresh)
        .request_async(&http)
        .await
        .expect("a rotation");
    clock.advance(10);
    let error = oauth_error(
        web.exchange_refresh_token(&refresh)
            .request_async(&http)
            .await,
    );
    assert_eq!(error, oauth2::basic::BasicErrorResponseType::InvalidGrant);
    let new = token.refresh_token().expect("a new refresh token");
    let error = oauth_error(web.exchange_refresh_token(new).request_async(&http).await);
    assert_eq!(error, oauth2::basic::BasicErrorResponseType::InvalidGrant);
}

#[tokio::test]
async fn a_kept_refresh_token_lives_within_its_idle_timeout_and_family_lifetime_over_http() {
    let (server, clock) = start_with_web_refresh(
        "rotate = false\nabsolute_lifetime_seconds = 1000\nidle_timeout_seconds = 400",
    )
    .await;
    let web = code_client(&server, &DEMO_WEB_CLIENT, WEB_REDIRECT);
    let http = http_client();
    let (_, refresh) = web_tokens(&server).await;
    // Used every 300 s, the same token keeps working until the family is 1000 s old.
    for _ in 0..3 {
        clock.advance(300);
        let token = web
            .exchange_refresh_token(&refresh)
            .request_async(&http)
            .await
            .expect("a refresh within the idle timeout");
        assert!(
            token.refresh_token().is_none(),
            "the client keeps its token"
        );
    }
    clock.advance(100);
    let error = oauth_error(
        web.exchange_refresh_token(&refresh)
            .request_async(&http)
            .await,
    );
    assert_eq!(error, oauth2::basic::BasicErrorResponseType::InvalidGrant);
    // Unused for 400 s, a fresh token expires.
    let (_, refresh) = web_tokens(&server).await;
    clock.advance(400);
    let error = oauth_error(
        web.exchange_refresh_token(&refresh)
            .request_async(&http)
            .await,
    );
    assert_eq!(error, oauth2::basic::BasicErrorResponseType::InvalidGrant);
}
