//! Introspection (RFC 7662, RFC 9701), revocation (RFC 7009) and per-user grants.

mod common;

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use portcullis::core::{verify_compact, Algorithm, JwkSet, Policy};
use serde_json::{json, Value};

const WEB: Option<(&str, &str)> = Some(("web", SECRET));
const SERVICE: Option<(&str, &str)> = Some(("service", SECRET));

async fn web_tokens(h: &Harness, subject: &str) -> Value {
    let code = h.code_for("web", WEB_REDIRECT, "read write", subject).await;
    h.exchange_web(&code).await
}

#[tokio::test]
async fn introspection_reports_active_tokens_and_nothing_about_others() {
    let h = Harness::new().await;
    let t = web_tokens(&h, "alice").await;
    let at = s(&t, "access_token");
    let body = introspect(&h, &at, WEB).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["scope"], "read write");
    assert_eq!(body["client_id"], "web");
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["iss"], ISSUER);
    assert_eq!(
        (
            body["iat"].clone(),
            body["nbf"].clone(),
            body["exp"].clone()
        ),
        (json!(T0), json!(T0), json!(T0 + 3600))
    );
    assert!(body["jti"].is_string());
    // A token without an audience is its own client's business only (RFC 7662 §4); refresh
    // tokens too.
    assert_eq!(introspect(&h, &at, SERVICE).await, json!({"active": false}));
    let rt = s(&t, "refresh_token");
    let refresh = introspect(&h, &format!("{rt}&token_type_hint=refresh_token"), WEB).await;
    assert_eq!(
        (refresh["active"].clone(), refresh.get("token_type")),
        (json!(true), None)
    );
    assert_eq!(introspect(&h, &rt, SERVICE).await, json!({"active": false}));
    // Unknown, malformed and expired tokens: only {"active": false}.
    assert_eq!(introspect(&h, "nope", WEB).await, json!({"active": false}));
    assert_eq!(
        introspect(&h, "%E2%9C%93", WEB).await,
        json!({"active": false})
    );
    h.clock.advance(3600);
    assert_eq!(introspect(&h, &at, WEB).await, json!({"active": false}));
}

#[tokio::test]
async fn introspection_needs_an_authenticated_caller() {
    let h = Harness::new().await;
    let t = web_tokens(&h, "alice").await;
    let body = format!("token={}", s(&t, "access_token"));
    let (status, json, resp) = h.post(Endpoint::Introspect, &body, None).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    assert!(resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    let (status, json, _) = h
        .post(Endpoint::Introspect, &body, Some(("web", "wrong")))
        .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    let (status, json, _) = h
        .post(Endpoint::Introspect, "token_type_hint=access_token", WEB)
        .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
}

/// RFC 7662 §2.1: a public client's `client_id` authorizes nothing, not even for its own
/// tokens — 401 `invalid_client` with a challenge, and no token data in the body.
#[tokio::test]
async fn public_clients_cannot_introspect() {
    let h = Harness::new().await;
    let t = web_tokens(&h, "alice").await;
    let at = s(&t, "access_token");
    let (status, json, resp) = h
        .post(
            Endpoint::Introspect,
            &format!("token={at}&client_id=native"),
            None,
        )
        .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    assert!(resp.headers().contains_key("www-authenticate"));
    assert!(
        json.get("active").is_none() && json.get("sub").is_none(),
        "{json}"
    );
    let meta: Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
    let methods = &meta["introspection_endpoint_auth_methods_supported"];
    assert_eq!(
        methods,
        &json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt"
        ])
    );
    assert_eq!(meta["token_endpoint_auth_methods_supported"][3], "none");
}

#[tokio::test]
async fn a_bearer_token_with_the_introspection_scope_may_introspect() {
    let mut policy = Policy::default();
    policy.introspection_scope = Some("introspect".into());
    policy.scope_lifetimes =
        [("introspect".to_owned(), std::time::Duration::from_secs(600))].into();
    let h = Harness::with_policy(policy).await;
    let t = web_tokens(&h, "alice").await;
    let (_, gateway, _) = h
        .token("grant_type=client_credentials&scope=introspect", SERVICE)
        .await;
    let (_, plain, _) = h
        .token("grant_type=client_credentials&scope=read", SERVICE)
        .await;
    let ask = |bearer: String| {
        Request::post("/introspect")
            .header("authorization", format!("Bearer {bearer}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from(format!("token={}", s(&t, "access_token"))))
            .unwrap()
    };
    let r = h
        .provider
        .introspect(ask(s(&gateway, "access_token")))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<Value>(r.body()).unwrap()["active"],
        true
    );
    // A token without the scope, or a malformed one (not a b64token): 401 invalid_client.
    let gateway = s(&gateway, "access_token");
    for bearer in [
        s(&plain, "access_token"),
        format!("{gateway} x"),
        format!("={gateway}"),
    ] {
        let r = h.provider.introspect(ask(bearer)).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let body: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(error_of(&body), "invalid_client");
    }
    // The introspection scope lives 10 minutes: after that the token (alive for an hour) no
    // longer authorizes introspection.
    h.clock.advance(600);
    let r = h.provider.introspect(ask(gateway)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn jwt_introspection_responses_are_signed_for_the_caller() {
    let h = Harness::new().await;
    let t = web_tokens(&h, "alice").await;
    let r = h
        .provider
        .introspect(jwt_introspection(&s(&t, "access_token")))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "application/token-introspection+jwt"
    );
    let keys = JwkSet::parse(h.provider.jwks().await.body())
        .unwrap()
        .verifying_keys();
    let v = verify_compact(
        std::str::from_utf8(r.body()).unwrap(),
        &keys,
        &Algorithm::ALL,
    )
    .unwrap();
    assert_eq!(v.header.typ.as_deref(), Some("token-introspection+jwt"));
    let claims: Value = serde_json::from_slice(&v.payload).unwrap();
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], "web");
    assert_eq!(claims["token_introspection"]["active"], true);
    assert_eq!(claims["token_introspection"]["sub"], "alice");
}

#[tokio::test]
async fn revoking_an_access_token_kills_only_it() {
    let h = Harness::new().await;
    let t = web_tokens(&h, "alice").await;
    let (status, _, resp) = h
        .post(
            Endpoint::Revoke,
            &format!("token={}", s(&t, "access_token")),
            WEB,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(
        introspect(&h, &s(&t, "access_token"), WEB).await,
        json!({"active": false})
    );
    assert_eq!(
        h.refresh_web(&s(&t, "refresh_token")).await.0,
        StatusCode::OK
    );
    // Again, and an unknown token: still 200 (RFC 7009 §2.2).
    assert_eq!(
        h.post(
            Endpoint::Revoke,
            &format!("token={}", s(&t, "access_token")),
            WEB
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        h.post(Endpoint::Revoke, "token=unknown", WEB).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn revoking_a_refresh_token_kills_its_family_whatever_the_hint() {
    let h = Harness::new().await;
    let t = web_tokens(&h, "alice").await;
    let (_, second) = h.refresh_web(&s(&t, "refresh_token")).await;
    let body = format!(
        "token={}&token_type_hint=access_token",
        s(&second, "refresh_token")
    );
    assert_eq!(h.post(Endpoint::Revoke, &body, WEB).await.0, StatusCode::OK);
    for at in [&t, &second] {
        assert_eq!(
            introspect(&h, &s(at, "access_token"), WEB).await,
            json!({"active": false})
        );
    }
    let (status, json) = h.refresh_web(&s(&second, "refresh_token")).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
}

#[tokio::test]
async fn clients_revoke_only_their_own_tokens() {
    let h = Harness::new().await;
    let t = web_tokens(&h, "alice").await;
    let (status, json, _) = h
        .post(
            Endpoint::Revoke,
            &format!("token={}", s(&t, "access_token")),
            SERVICE,
        )
        .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "unauthorized_client")
    );
    assert_eq!(
        introspect(&h, &s(&t, "access_token"), WEB).await["active"],
        true
    );
    let (status, json, _) = h
        .post(Endpoint::Revoke, "token=x&token_type_hint=id_token", WEB)
        .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "unsupported_token_type")
    );
    let (status, json, _) = h.post(Endpoint::Revoke, "token=x", None).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
}

#[tokio::test]
async fn revoking_one_grant_leaves_the_users_other_grants_working() {
    let h = Harness::new().await;
    let web = web_tokens(&h, "alice").await;
    let pending_code = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
    let native_code = h
        .code_for("native", "http://127.0.0.1:9/cb", "read", "alice")
        .await;
    let (_, native, _) = h
        .token(
            &format!("grant_type=authorization_code&code={native_code}&client_id=native&redirect_uri={}&code_verifier={VERIFIER}", enc("http://127.0.0.1:9/cb")),
            None,
        )
        .await;
    let bob = web_tokens(&h, "bob").await;

    let grants = h.provider.grants("alice").await.unwrap();
    let clients: Vec<&str> = grants.iter().map(|g| g.client_id.as_str()).collect();
    assert_eq!(clients, vec!["native", "web"]);
    let web_grant = grants.iter().find(|g| g.client_id == "web").unwrap();
    assert_eq!(web_grant.scopes.to_string(), "read write");
    assert_eq!(web_grant.created_at.secs(), T0);
    // Bob cannot revoke Alice's grant.
    assert!(!h.provider.revoke_grant("bob", &web_grant.id).await.unwrap());
    assert!(h
        .provider
        .revoke_grant("alice", &web_grant.id)
        .await
        .unwrap());

    // Every web token of Alice's is dead at once: access, refresh, and an unredeemed code.
    assert_eq!(
        introspect(&h, &s(&web, "access_token"), WEB).await,
        json!({"active": false})
    );
    let (status, json) = h.refresh_web(&s(&web, "refresh_token")).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let (status, json, _) = h
        .token(&format!("grant_type=authorization_code&code={pending_code}&redirect_uri={}&code_verifier={VERIFIER}", enc(WEB_REDIRECT)), WEB)
        .await;
    assert_eq!(
        (status, error_of(&json), &json["error_description"]),
        (
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            &json!("the grant was revoked")
        )
    );
    // Her native app and Bob's web session keep working.
    let (status, json, _) = h
        .token(
            &format!(
                "grant_type=refresh_token&client_id=native&refresh_token={}",
                s(&native, "refresh_token")
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        introspect(&h, &s(&bob, "access_token"), WEB).await["active"],
        true
    );
    let clients: Vec<String> = h
        .provider
        .grants("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.client_id)
        .collect();
    assert_eq!(clients, vec!["native".to_owned()]);
}

#[tokio::test]
async fn consent_is_remembered_per_user_and_client() {
    let h = Harness::new().await;
    let query = |scope: &str, extra: &str| {
        format!(
            "response_type=code&client_id=web&redirect_uri={}&scope={}&code_challenge={}&code_challenge_method=S256{extra}",
            enc(WEB_REDIRECT),
            enc(scope),
            challenge(VERIFIER)
        )
    };
    let pending = h.pending(&query("read write", "")).await;
    assert!(h.provider.needs_consent(&pending, "alice").await.unwrap());
    h.provider
        .approve(pending, approval("alice", "read write"))
        .await;
    for (scope, extra, needed) in [
        ("read", "", false),
        ("read write", "", false),
        ("openid read", "", true),
        ("openid", "&prompt=consent", true),
    ] {
        let pending = h.pending(&query(scope, extra)).await;
        assert_eq!(
            h.provider.needs_consent(&pending, "alice").await.unwrap(),
            needed,
            "{scope}{extra}"
        );
        assert!(h.provider.needs_consent(&pending, "bob").await.unwrap());
    }
}

async fn with_web_client(h: &Harness, edit: impl FnOnce(&mut portcullis::core::Client)) {
    let mut client = web_client();
    edit(&mut client);
    h.provider.register_client(&client).await.unwrap();
}

#[tokio::test]
async fn first_party_clients_skip_consent_unless_prompt_consent() {
    let h = Harness::new().await;
    with_web_client(&h, |c| c.first_party = true).await;
    let q = |extra: &str| {
        format!(
            "response_type=code&client_id=web&redirect_uri={}&scope=openid&code_challenge={}&code_challenge_method=S256{extra}",
            enc(WEB_REDIRECT),
            challenge(VERIFIER)
        )
    };
    assert!(!h
        .provider
        .needs_consent(&h.pending(&q("")).await, "alice")
        .await
        .unwrap());
    assert!(h
        .provider
        .needs_consent(&h.pending(&q("&prompt=consent")).await, "alice")
        .await
        .unwrap());
}

/// RFC 8252 §8.6, RFC 6749 §10.2: a native app's loopback (or private-use) redirect URI
/// cannot prove which local app gets the code, so neither a remembered consent nor
/// first-party status approves its requests silently — unless the client opts out.
#[tokio::test]
async fn native_apps_at_unverifiable_redirects_always_need_the_user() {
    let h = Harness::new().await;
    let q = |port: u16| {
        format!(
            "response_type=code&client_id=native&redirect_uri={}&scope=read&code_challenge={}&code_challenge_method=S256",
            enc(&format!("http://127.0.0.1:{port}/cb")),
            challenge(VERIFIER)
        )
    };
    let pending = h.pending(&q(5000)).await;
    h.provider.approve(pending, approval("alice", "read")).await;
    assert_eq!(h.provider.grants("alice").await.unwrap().len(), 1);
    for port in [5000, 6666] {
        let pending = h.pending(&q(port)).await;
        assert!(h.provider.needs_consent(&pending, "alice").await.unwrap());
    }
    let mut client = native_client();
    client.first_party = true;
    h.provider.register_client(&client).await.unwrap();
    let pending = h.pending(&q(6666)).await;
    assert!(h.provider.needs_consent(&pending, "alice").await.unwrap());
    client.first_party = false;
    client.dangerous_skip_consent_for_unverifiable_redirects = true;
    h.provider.register_client(&client).await.unwrap();
    let pending = h.pending(&q(6666)).await;
    assert!(!h.provider.needs_consent(&pending, "alice").await.unwrap());
    assert!(h.provider.needs_consent(&pending, "bob").await.unwrap());
}

#[tokio::test]
async fn a_confidential_client_may_keep_its_refresh_token_a_public_one_may_not() {
    let h = Harness::new().await;
    with_web_client(&h, |c| c.tokens.refresh.rotate = false).await;
    let t = web_tokens(&h, "alice").await;
    let rt = s(&t, "refresh_token");
    for _ in 0..2 {
        let (status, body) = h.refresh_web(&rt).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(
            body.get("refresh_token").is_none(),
            "no new refresh token: {body}"
        );
    }
    let mut native = native_client();
    native.tokens.refresh.rotate = false;
    assert!(h.provider.register_client(&native).await.is_err());
}

#[tokio::test]
async fn a_refresh_family_has_an_absolute_lifetime_and_an_idle_timeout() {
    let h = Harness::new().await;
    with_web_client(&h, |c| {
        c.tokens.refresh.absolute_lifetime_secs = Some(1000);
        c.tokens.refresh.idle_timeout_secs = Some(400);
    })
    .await;
    let t = web_tokens(&h, "alice").await;
    let mut rt = s(&t, "refresh_token");
    // Used every 300 s, it stays alive until the family is 1000 s old.
    for _ in 0..3 {
        h.clock.advance(300);
        let (status, body) = h.refresh_web(&rt).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        rt = s(&body, "refresh_token");
    }
    h.clock.advance(100);
    let (status, body) = h.refresh_web(&rt).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    // Left unused for 400 s, a fresh family's token expires.
    let t = web_tokens(&h, "alice").await;
    h.clock.advance(400);
    let (status, body) = h.refresh_web(&s(&t, "refresh_token")).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
}

fn grace(window_secs: u64, max_reuses: u32) -> Option<portcullis::core::RefreshGrace> {
    Some(portcullis::core::RefreshGrace {
        window_secs,
        max_reuses,
    })
}

/// Asserts the refresh is refused as `invalid_grant` (400).
async fn refused(h: &Harness, refresh_token: &str, what: &str) {
    let (status, body) = h.refresh_web(refresh_token).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_grant"),
        "{what}: {body}"
    );
}

#[tokio::test]
async fn a_grace_period_answers_a_rotated_token_again_within_its_window_and_count() {
    let h = Harness::new().await;
    with_web_client(&h, |c| c.tokens.refresh.grace = grace(30, 2)).await;
    let t = web_tokens(&h, "alice").await;
    let rt = s(&t, "refresh_token");
    let (status, first) = h.refresh_web(&rt).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    // Two more presentations within the window get the very same pair, its lifetime counted
    // from now.
    for elapsed in [10, 20] {
        h.clock.advance(10);
        let (status, again) = h.refresh_web(&rt).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        for key in ["access_token", "refresh_token", "scope", "token_type"] {
            assert_eq!(again[key], first[key], "{key}");
        }
        let expires_in = first["expires_in"].as_u64().unwrap() - elapsed;
        assert_eq!(again["expires_in"], expires_in);
    }
    // The third is past the count: reuse, and the family dies.
    refused(&h, &rt, "past the count").await;
    refused(&h, &s(&first, "refresh_token"), "the family").await;
    assert_eq!(
        introspect(&h, &s(&first, "access_token"), WEB).await["active"],
        false
    );
}

#[tokio::test]
async fn a_grace_period_ends_with_its_window_and_when_the_new_token_is_used() {
    let h = Harness::new().await;
    with_web_client(&h, |c| c.tokens.refresh.grace = grace(30, 5)).await;
    // Past the window: reuse.
    let rt = s(&web_tokens(&h, "alice").await, "refresh_token");
    let (_, first) = h.refresh_web(&rt).await;
    h.clock.advance(30);
    refused(&h, &rt, "past the window").await;
    refused(&h, &s(&first, "refresh_token"), "the family").await;
    // The new token used: the old one is reuse, even within the window.
    let rt = s(&web_tokens(&h, "alice").await, "refresh_token");
    let (_, first) = h.refresh_web(&rt).await;
    let (status, second) = h.refresh_web(&s(&first, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    refused(&h, &rt, "after the new token was used").await;
    refused(&h, &s(&second, "refresh_token"), "the family").await;
    // Another client presenting it is reuse too.
    let mut other = web_client();
    other.id = "other".into();
    h.provider.register_client(&other).await.unwrap();
    let rt = s(&web_tokens(&h, "alice").await, "refresh_token");
    let (_, first) = h.refresh_web(&rt).await;
    let (status, body, _) = h
        .token(
            &format!("grant_type=refresh_token&refresh_token={rt}"),
            Some(("other", SECRET)),
        )
        .await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_grant"),
        "{body}"
    );
    refused(&h, &s(&first, "refresh_token"), "the family").await;
}

#[tokio::test]
async fn a_grace_period_must_be_bounded_and_rotating() {
    let h = Harness::new().await;
    for (window, reuses) in [(0, 1), (61, 1), (30, 0), (30, 11)] {
        let mut client = web_client();
        client.tokens.refresh.grace = grace(window, reuses);
        assert!(
            h.provider.register_client(&client).await.is_err(),
            "{window} s, {reuses} reuses"
        );
    }
    let mut client = web_client();
    client.tokens.refresh.grace = grace(30, 2);
    client.tokens.refresh.rotate = false;
    assert!(h.provider.register_client(&client).await.is_err());
}

#[tokio::test]
async fn a_client_may_take_jwt_access_tokens_with_the_issuer_as_audience() {
    let h = Harness::new().await;
    with_web_client(&h, |c| {
        c.tokens.access_token_format = portcullis::core::TokenFormat::Jwt
    })
    .await;
    let t = web_tokens(&h, "alice").await;
    let at = s(&t, "access_token");
    let keys = JwkSet::parse(h.provider.jwks().await.body())
        .unwrap()
        .verifying_keys();
    let v = verify_compact(&at, &keys, &Algorithm::ALL).unwrap();
    assert_eq!(v.header.typ.as_deref(), Some("at+jwt"));
    let claims: Value = serde_json::from_slice(&v.payload).unwrap();
    assert_eq!(claims["aud"], json!([ISSUER]));
    assert_eq!(introspect(&h, &at, WEB).await["active"], true);
    // Revocable like any other: the record sits under the JWT's hash.
    assert_eq!(
        h.post(Endpoint::Revoke, &format!("token={at}"), WEB)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(introspect(&h, &at, WEB).await, json!({"active": false}));
}

#[tokio::test]
async fn purge_removes_what_expired_and_nothing_live() {
    let h = Harness::new().await;
    let t = web_tokens(&h, "alice").await;
    assert_eq!(h.provider.purge_expired().await.unwrap(), 0);
    // The code (60 s), the answered ticket (600 s) and the access token (1 h) expire; the
    // refresh token (30 days) lives.
    h.clock.advance(3600);
    assert_eq!(h.provider.purge_expired().await.unwrap(), 3);
    assert_eq!(
        h.refresh_web(&s(&t, "refresh_token")).await.0,
        StatusCode::OK
    );
}
