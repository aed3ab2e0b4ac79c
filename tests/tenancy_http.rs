//! Several issuers in one process (`/tenant-a`, `/tenant-b`), served by each adapter's
//! `multi_issuer_router` over ONE shared store: each discovery document advertises its own
//! path-prefixed endpoints (RFC 8414 §3, OpenID Connect Discovery 1.0 §4), and a code, an
//! access token, a refresh token, a session, an interaction ticket and a signing key of one
//! issuer are worthless at the other. Both issuers register the same client id with the
//! same secret and share the interaction key: what keeps them apart is the issuer alone.

use std::sync::Arc;

use portcullis::core::TicketError;
use portcullis::{paths, Provider};
use portcullis_e2e::served::{
    test_provider, Adapter, Mount, Port, Served, TestPages, SIGN_IN_HEADER, WEB_CLIENT,
    WEB_REDIRECT, WEB_SECRET,
};
use portcullis_e2e::{query_param, PKCE_CHALLENGE, PKCE_VERIFIER};
use portcullis_store_memory::MemoryStore;
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

struct Tenants {
    server: Served,
    a: Provider,
    b: Provider,
}

async fn start(adapter: Adapter) -> Tenants {
    let port = Port::bind();
    let store = Arc::new(MemoryStore::new());
    let a = test_provider(store.clone(), port.issuer("/tenant-a")).await;
    let b = test_provider(store.clone(), port.issuer("/tenant-b")).await;
    let issuers = vec![
        (a.clone(), TestPages::new(&a, store.clone())),
        (b.clone(), TestPages::new(&b, store)),
    ];
    let server = Served::start(adapter, port, Mount::Several(issuers)).await;
    Tenants { server, a, b }
}

fn endpoint(provider: &Provider, path: &str) -> String {
    provider.issuer().endpoint(path)
}

fn authorize_url(provider: &Provider, prompt: Option<&str>) -> Url {
    let mut url = Url::parse(&endpoint(provider, paths::AUTHORIZE)).expect("a URL");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", WEB_CLIENT)
        .append_pair("redirect_uri", WEB_REDIRECT)
        .append_pair("scope", "openid read offline_access")
        .append_pair("state", "st")
        .append_pair("nonce", "n1")
        .append_pair("code_challenge", PKCE_CHALLENGE)
        .append_pair("code_challenge_method", "S256");
    if let Some(prompt) = prompt {
        url.query_pairs_mut().append_pair("prompt", prompt);
    }
    url
}

/// Status and JSON (`Null` if not JSON) of a form POSTed as the web client.
async fn post(url: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = portcullis_e2e::http_client()
        .post(url)
        .basic_auth(WEB_CLIENT, Some(WEB_SECRET))
        .form(form)
        .send()
        .await
        .expect("an answer");
    let status = response.status();
    let body = response.bytes().await.expect("the body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Signs alice in at `provider` (a session cookie for the loopback host) and returns the code.
async fn code_at(http: &reqwest::Client, provider: &Provider) -> String {
    let response = http
        .get(authorize_url(provider, None))
        .header(SIGN_IN_HEADER, "alice")
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().expect("ASCII");
    let location = Url::parse(location).expect("a URL");
    assert_eq!(
        query_param(&location, "iss").as_deref(),
        Some(provider.issuer().as_str())
    );
    query_param(&location, "code").expect("a code")
}

async fn exchange(provider: &Provider, code: &str) -> (StatusCode, Value) {
    post(
        &endpoint(provider, paths::TOKEN),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", WEB_REDIRECT),
            ("code_verifier", PKCE_VERIFIER),
        ],
    )
    .await
}

async fn get_json(url: &str) -> (StatusCode, Value) {
    let response = portcullis_e2e::http_client()
        .get(url)
        .send()
        .await
        .expect("an answer");
    let status = response.status();
    let body = response.bytes().await.expect("the body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn each_issuer_advertises_its_own_endpoints() {
    for adapter in Adapter::ALL {
        let tenants = start(adapter).await;
        for (provider, tenant) in [(&tenants.a, "tenant-a"), (&tenants.b, "tenant-b")] {
            let issuer = provider.issuer().as_str();
            let openid = tenants
                .server
                .url(&format!("/{tenant}/.well-known/openid-configuration"));
            let rfc8414 = tenants
                .server
                .url(&format!("/.well-known/oauth-authorization-server/{tenant}"));
            assert_eq!(openid, endpoint(provider, paths::OPENID_CONFIGURATION));
            for url in [openid, rfc8414] {
                let (status, metadata) = get_json(&url).await;
                assert_eq!(status, StatusCode::OK, "{adapter:?} {url}");
                assert_eq!(metadata["issuer"], issuer, "{adapter:?} {url}");
                for (member, path) in [
                    ("authorization_endpoint", paths::AUTHORIZE),
                    ("token_endpoint", paths::TOKEN),
                    ("jwks_uri", paths::JWKS),
                    ("userinfo_endpoint", paths::USERINFO),
                    ("end_session_endpoint", paths::END_SESSION),
                    ("introspection_endpoint", paths::INTROSPECT),
                    ("revocation_endpoint", paths::REVOKE),
                ] {
                    let expected = tenants.server.url(&format!("/{tenant}{path}"));
                    assert_eq!(metadata[member], expected, "{adapter:?} {member}");
                }
            }
        }
        // No issuer lives at the root.
        for path in [
            paths::OPENID_CONFIGURATION,
            paths::OAUTH_AUTHORIZATION_SERVER,
            paths::TOKEN,
            "/.well-known/oauth-authorization-server/tenant-c",
        ] {
            let (status, _) = get_json(&tenants.server.url(path)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{adapter:?} {path}");
        }
    }
}

#[tokio::test]
async fn codes_and_tokens_of_one_issuer_are_worthless_at_the_other() {
    for adapter in Adapter::ALL {
        let Tenants {
            server: _server,
            a,
            b,
        } = start(adapter).await;
        let code = code_at(&browser(), &a).await;

        // A's code at B: invalid_grant, and untouched (A still takes it).
        let (status, error) = exchange(&b, &code).await;
        assert_eq!(
            (status, error["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{adapter:?}"
        );
        let (status, tokens) = exchange(&a, &code).await;
        assert_eq!(status, StatusCode::OK, "{adapter:?} {tokens}");
        let access = tokens["access_token"].as_str().expect("an access token");
        let refresh = tokens["refresh_token"].as_str().expect("a refresh token");

        // A's access token at B's UserInfo: 401 invalid_token (RFC 6750 §3.1).
        let bearer = format!("Bearer {access}");
        for (provider, expected) in [(&b, StatusCode::UNAUTHORIZED), (&a, StatusCode::OK)] {
            let response = portcullis_e2e::http_client()
                .get(endpoint(provider, paths::USERINFO))
                .header("authorization", &bearer)
                .send()
                .await
                .expect("an answer");
            assert_eq!(response.status(), expected, "{adapter:?}");
            if expected == StatusCode::UNAUTHORIZED {
                let challenge = response.headers()["www-authenticate"]
                    .to_str()
                    .expect("ASCII");
                assert!(
                    challenge.contains(r#"error="invalid_token""#),
                    "{adapter:?} {challenge}"
                );
                assert!(challenge.contains(b.issuer().as_str()), "{adapter:?}");
            }
        }
        // Inactive at B's introspection; revoking it at B does nothing to it at A.
        let (status, at_b) = post(&endpoint(&b, paths::INTROSPECT), &[("token", access)]).await;
        assert_eq!(
            (status, &at_b),
            (StatusCode::OK, &serde_json::json!({"active": false})),
            "{adapter:?}"
        );
        let (status, _) = post(&endpoint(&b, paths::REVOKE), &[("token", access)]).await;
        assert_eq!(status, StatusCode::OK, "{adapter:?}");
        let (_, at_a) = post(&endpoint(&a, paths::INTROSPECT), &[("token", access)]).await;
        assert_eq!(at_a["active"], true, "{adapter:?}");
        assert_eq!(at_a["iss"], a.issuer().as_str(), "{adapter:?}");

        // A's refresh token at B: invalid_grant; still good at A.
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
        let (status, error) = post(&endpoint(&b, paths::TOKEN), &form).await;
        assert_eq!(
            (status, error["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant")),
            "{adapter:?}"
        );
        let (status, _) = post(&endpoint(&a, paths::TOKEN), &form).await;
        assert_eq!(status, StatusCode::OK, "{adapter:?}");
    }
}

/// A browser: keeps cookies, follows no redirect.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a browser")
}

/// A page's status and text.
async fn page(browser: &reqwest::Client, url: Url) -> (StatusCode, String) {
    let response = browser.get(url).send().await.expect("an answer");
    let status = response.status();
    (status, response.text().await.expect("the text"))
}

#[tokio::test]
async fn sessions_tickets_and_keys_of_one_issuer_are_worthless_at_the_other() {
    for adapter in Adapter::ALL {
        let Tenants {
            server: _server,
            a,
            b,
        } = start(adapter).await;
        let browser = browser();
        let code = code_at(&browser, &a).await;
        let (_, tokens) = exchange(&a, &code).await;
        let id_token = tokens["id_token"].as_str().expect("an ID token");

        // The browser's session cookie (one host, path `/`: B receives it too) signs it in
        // at A only: A approves at once, B asks it to log in.
        let (status, _) = page(&browser, authorize_url(&a, None)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{adapter:?}");
        let (status, at_b) = page(&browser, authorize_url(&b, None)).await;
        assert_eq!(status, StatusCode::OK, "{adapter:?}");
        let ticket = at_b.strip_prefix("login:").expect("B's login page");

        // B's interaction ticket (sealed under the same key) does not open at A.
        assert!(b.resume(ticket).is_ok(), "{adapter:?}");
        assert_eq!(a.resume(ticket).err(), Some(TicketError), "{adapter:?}");

        // A's ID token is no id_token_hint at B (RP-Initiated Logout 1.0 §2): another
        // issuer's, signed with a key B does not publish.
        let logout = |provider: &Provider| {
            let mut url = Url::parse(&endpoint(provider, paths::END_SESSION)).expect("URL");
            url.query_pairs_mut().append_pair("id_token_hint", id_token);
            url
        };
        let (status, refused) = page(&browser, logout(&b)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{adapter:?}");
        assert!(refused.contains("invalid_request"), "{adapter:?}");
        assert!(
            refused.contains("id_token_hint is not a valid ID token of this provider"),
            "{adapter:?} {refused}"
        );
        let (_, jwks_a) = get_json(&endpoint(&a, paths::JWKS)).await;
        let (_, jwks_b) = get_json(&endpoint(&b, paths::JWKS)).await;
        let kids = |jwks: &Value| -> Vec<String> {
            jwks["keys"]
                .as_array()
                .expect("keys")
                .iter()
                .map(|k| k["kid"].as_str().expect("a kid").to_owned())
                .collect()
        };
        let (kids_a, kids_b) = (kids(&jwks_a), kids(&jwks_b));
        assert!(!kids_a.is_empty() && !kids_b.is_empty(), "{adapter:?}");
        assert!(
            kids_a.iter().all(|k| !kids_b.contains(k)),
            "{adapter:?}: shared keys {kids_a:?} {kids_b:?}"
        );
        // At A the same hint is good: the host's logout runs (ending the session).
        let (status, accepted) = page(&browser, logout(&a)).await;
        assert_eq!(status, StatusCode::OK, "{adapter:?} {accepted}");
        let (status, _) = page(&browser, authorize_url(&a, None)).await;
        assert_eq!(status, StatusCode::OK, "{adapter:?}: still signed in");
    }
}
