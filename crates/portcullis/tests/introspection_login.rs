//! What introspection tells of the user's authentication (RFC 9470 §6.2): a resource server
//! stepping up on opaque tokens learns `auth_time` and `acr` there, as one reading JWT access
//! tokens does from their claims (RFC 9068 §2.2.1).

mod common;

use common::*;
use http::StatusCode;
use portcullis::core::{verify_compact, Algorithm, JwkSet, TokenFormat};
use serde_json::{json, Value};

const WEB: Option<(&str, &str)> = Some(("web", SECRET));
const ACR: &str = "urn:example:loa:2";

/// Alice signs in at `T0` reaching [`ACR`] with a password; the web client gets its tokens
/// 100 s later (so `auth_time` is not the tokens' `iat`), in OpenID mode with a refresh token.
async fn alice_tokens(h: &Harness) -> Value {
    let scope = "openid offline_access read";
    let query = format!(
        "response_type=code&client_id=web&redirect_uri={}&scope={}&state=st&nonce=n&code_challenge={}&code_challenge_method=S256",
        enc(WEB_REDIRECT),
        enc(scope),
        challenge(VERIFIER)
    );
    h.clock.advance(100);
    let pending = h.pending(&query).await;
    let approval = approval("alice", scope).with_acr(Some(ACR.into()));
    let r = h.provider.approve(pending, approval).await;
    let code = query_param(location(&r).as_str(), "code").expect("a code");
    h.exchange_web(&code).await
}

/// Introspects `token` as `who`; it must be active.
async fn active(h: &Harness, token: &str, who: Option<(&str, &str)>) -> Value {
    let body = introspect(h, token, who).await;
    assert_eq!(body["active"], true, "{body}");
    body
}

/// The members of a response that tell of the login.
fn login(v: &Value) -> [Value; 3] {
    ["auth_time", "acr", "amr"].map(|m| v.get(m).cloned().unwrap_or(Value::Null))
}

fn alices_login() -> [Value; 3] {
    [json!(T0), json!(ACR), json!(["pwd"])]
}

#[tokio::test]
async fn a_users_token_tells_of_the_login_and_a_refresh_keeps_it() {
    let h = Harness::new().await;
    let t = alice_tokens(&h).await;
    let first = active(&h, &s(&t, "access_token"), WEB).await;
    assert_eq!(login(&first), alices_login(), "{first}");
    assert_eq!(first["iat"], T0 + 100);
    // The refresh token is of the same login.
    let rt = s(&t, "refresh_token");
    let refresh = active(&h, &format!("{rt}&token_type_hint=refresh_token"), WEB).await;
    assert_eq!(login(&refresh), alices_login(), "{refresh}");
    // A refresh issues a new token of the same login: its authentication does not change
    // (RFC 9470 §6.1).
    h.clock.advance(600);
    let (status, refreshed) = h.refresh_web(&rt).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let second = active(&h, &s(&refreshed, "access_token"), WEB).await;
    assert_eq!(login(&second), alices_login(), "{second}");
    assert_eq!(second["iat"], T0 + 700);
}

#[tokio::test]
async fn a_login_without_acr_gives_none_and_a_clients_own_token_no_login() {
    let h = Harness::new().await;
    let code = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
    let t = h.exchange_web(&code).await;
    let plain = active(&h, &s(&t, "access_token"), WEB).await;
    assert_eq!(login(&plain), [json!(T0), Value::Null, json!(["pwd"])]);
    let service = Some(("service", SECRET));
    let (status, cc, _) = h
        .token("grant_type=client_credentials&scope=read", service)
        .await;
    assert_eq!(status, StatusCode::OK, "{cc}");
    let body = active(&h, &s(&cc, "access_token"), service).await;
    for member in ["auth_time", "acr", "amr"] {
        assert!(body.get(member).is_none(), "{member}: {body}");
    }
}

/// Without OpenID Connect too (RFC 9470 §6: a step-up works with plain OAuth clients): a
/// plain request asking for a class with `acr_values` (§4) shows it to the host, and the
/// tokens, opaque or JWT, refreshed or not, tell of the login that reached it.
#[tokio::test]
async fn a_plain_oauth_login_is_told_of_too() {
    let h = Harness::new().await;
    let mut client = web_client();
    client.tokens.access_token_format = TokenFormat::Jwt;
    h.provider.register_client(&client).await.unwrap();
    let scope = "offline_access read";
    let query = format!(
        "response_type=code&client_id=web&redirect_uri={}&scope={}&state=st&acr_values={}&code_challenge={}&code_challenge_method=S256",
        enc(WEB_REDIRECT),
        enc(scope),
        enc(&format!("{ACR} urn:example:loa:3")),
        challenge(VERIFIER)
    );
    h.clock.advance(100);
    let pending = h.pending(&query).await;
    assert_eq!(pending.oidc(), None);
    assert_eq!(pending.acr_values(), [ACR, "urn:example:loa:3"]);
    assert_eq!(pending.max_age(), None);
    let approval = approval("alice", scope).with_acr(Some(ACR.into()));
    let r = h.provider.approve(pending, approval).await;
    let code = query_param(location(&r).as_str(), "code").expect("a code");
    let t = h.exchange_web(&code).await;
    assert!(t.get("id_token").is_none(), "{t}");
    let at = s(&t, "access_token");
    assert_eq!(login(&verified(&h, &at).await), alices_login());
    assert_eq!(login(&active(&h, &at, WEB).await), alices_login());
    let (status, refreshed) = h.refresh_web(&s(&t, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let at = s(&refreshed, "access_token");
    assert_eq!(login(&verified(&h, &at).await), alices_login());
}

#[tokio::test]
async fn the_jwt_introspection_response_carries_the_login() {
    let h = Harness::new().await;
    let t = alice_tokens(&h).await;
    let r = h
        .provider
        .introspect(jwt_introspection(&s(&t, "access_token")))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let claims = verified(&h, std::str::from_utf8(r.body()).unwrap()).await;
    assert_eq!(
        login(&claims["token_introspection"]),
        alices_login(),
        "{claims}"
    );
}

#[tokio::test]
async fn a_jwt_access_token_and_its_introspection_agree_on_the_login() {
    let h = Harness::new().await;
    let mut client = web_client();
    client.tokens.access_token_format = TokenFormat::Jwt;
    h.provider.register_client(&client).await.unwrap();
    let at = s(&alice_tokens(&h).await, "access_token");
    let claims = verified(&h, &at).await;
    assert_eq!(login(&claims), alices_login(), "{claims}");
    assert_eq!(login(&active(&h, &at, WEB).await), alices_login());
}

/// The payload of `jwt`, verified against the provider's keys.
async fn verified(h: &Harness, jwt: &str) -> Value {
    let keys = JwkSet::parse(h.provider.jwks().await.body())
        .unwrap()
        .verifying_keys();
    let v = verify_compact(jwt, &keys, &Algorithm::ALL).unwrap();
    serde_json::from_slice(&v.payload).unwrap()
}
