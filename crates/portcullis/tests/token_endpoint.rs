//! The token endpoint: every grant, every error code with its status, and the headers.

mod common;

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use portcullis::core::{Issuer, Lifetimes, Policy, TokenHash};
use portcullis::store::AccessTokenStore;

#[tokio::test]
async fn code_exchange_issues_bearer_tokens_without_caching() {
    let h = Harness::new().await;
    let code = h.code_for("web", WEB_REDIRECT, "read write", "alice").await;
    let (status, json, resp) = h
        .token(
            &format!("grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}", enc(WEB_REDIRECT)),
            Some(("web", SECRET)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["pragma"], "no-cache");
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 3600);
    assert_eq!(json["scope"], "read write");
    assert_eq!(json["access_token"].as_str().unwrap().len(), 43);
    assert_eq!(json["refresh_token"].as_str().unwrap().len(), 43);
}

#[tokio::test]
async fn client_secret_post_works_and_two_methods_at_once_do_not() {
    let h = Harness::new().await;
    let code = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
    let body = format!("grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}&client_id=web&client_secret={SECRET}", enc(WEB_REDIRECT));
    let (status, json, _) = h.token(&body, Some(("web", SECRET))).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let (status, json, _) = h.token(&body, None).await;
    assert_eq!(status, StatusCode::OK, "{json}");
}

#[tokio::test]
async fn failed_client_authentication_is_401_with_a_basic_challenge() {
    let h = Harness::new().await;
    for (body, basic) in [
        ("grant_type=client_credentials", Some(("service", "wrong"))),
        ("grant_type=client_credentials", Some(("nobody", SECRET))),
        (
            "grant_type=client_credentials&client_id=service&client_secret=wrong",
            None,
        ),
        ("grant_type=client_credentials", None),
        ("grant_type=client_credentials&client_id=service", None),
        (
            "grant_type=refresh_token&refresh_token=x&client_id=native&client_secret=x",
            None,
        ),
    ] {
        let (status, json, resp) = h.token(body, basic).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(error_of(&json), "invalid_client", "{body}");
        let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Basic "), "{challenge}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
}

type Basic<'a> = (&'a str, &'a str);

#[tokio::test]
async fn request_errors_have_their_codes() {
    let h = Harness::new().await;
    let svc = Some(("service", SECRET));
    let web = Some(("web", SECRET));
    let cases: [(&str, Option<Basic>, &str); 8] = [
        (
            "grant_type=password&username=a&password=b",
            svc,
            "unsupported_grant_type",
        ),
        ("scope=read", svc, "invalid_request"),
        (
            "grant_type=client_credentials&grant_type=client_credentials",
            svc,
            "invalid_request",
        ),
        (
            "grant_type=client_credentials&scope=admin",
            svc,
            "invalid_scope",
        ),
        ("grant_type=client_credentials", web, "unauthorized_client"),
        ("grant_type=authorization_code", web, "invalid_request"),
        (
            "grant_type=authorization_code&code=nope",
            web,
            "invalid_grant",
        ),
        (
            "grant_type=refresh_token&refresh_token=nope",
            web,
            "invalid_grant",
        ),
    ];
    for (body, auth, code) in cases {
        let (status, json, resp) = h.token(body, auth).await;
        assert_eq!(
            (status, error_of(&json)),
            (StatusCode::BAD_REQUEST, code),
            "{body}"
        );
        assert!(json["error_description"].is_string());
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
}

#[tokio::test]
async fn only_post_with_a_form_body() {
    let h = Harness::new().await;
    let get = Request::get("/token?grant_type=client_credentials")
        .body(Bytes::new())
        .unwrap();
    let r = h.provider.token(get).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "POST");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let json = Request::post("/token")
        .header("content-type", "application/json")
        .body(Bytes::from(r#"{"grant_type":"client_credentials"}"#))
        .unwrap();
    let r = h.provider.token(json).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn client_credentials_uses_default_scope_and_reports_scope_when_it_differs() {
    let h = Harness::new().await;
    let (status, json, _) = h
        .token("grant_type=client_credentials", Some(("service", SECRET)))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["scope"], "read");
    assert!(json.get("refresh_token").is_none());
    let (_, json, _) = h
        .token(
            "grant_type=client_credentials&scope=write",
            Some(("service", SECRET)),
        )
        .await;
    assert!(json.get("scope").is_none(), "same as requested: {json}");
}

#[tokio::test]
async fn code_is_bound_to_client_redirect_uri_and_verifier() {
    let h = Harness::new().await;
    let other_verifier = "x".repeat(43);
    for body in [
        format!(
            "redirect_uri={}&code_verifier={other_verifier}",
            enc(WEB_REDIRECT)
        ),
        format!("code_verifier={VERIFIER}"),
        format!(
            "redirect_uri={}&code_verifier={VERIFIER}",
            enc("https://web.example/other")
        ),
        format!("redirect_uri={}", enc(WEB_REDIRECT)),
    ] {
        let code = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
        let (status, json, _) = h
            .token(
                &format!("grant_type=authorization_code&code={code}&{body}"),
                Some(("web", SECRET)),
            )
            .await;
        assert_eq!(
            (status, error_of(&json)),
            (StatusCode::BAD_REQUEST, "invalid_grant"),
            "{body}"
        );
    }
    // A code issued to the native client cannot be redeemed by the web client.
    let code = h
        .code_for("native", "http://127.0.0.1:1/cb", "read", "alice")
        .await;
    let (status, json, _) = h
        .token(
            &format!("grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}", enc("http://127.0.0.1:1/cb")),
            Some(("web", SECRET)),
        )
        .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
}

#[tokio::test]
async fn codes_expire() {
    let h = Harness::new().await;
    let code = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
    h.clock.advance(60);
    let (status, json, _) = h
        .token(
            &format!("grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}", enc(WEB_REDIRECT)),
            Some(("web", SECRET)),
        )
        .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
}

#[tokio::test]
async fn a_reused_code_is_refused_and_revokes_what_it_issued() {
    let h = Harness::new().await;
    let code = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
    let first = h.exchange_web(&code).await;
    let (status, json, _) = h
        .token(
            &format!("grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}", enc(WEB_REDIRECT)),
            Some(("web", SECRET)),
        )
        .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let (status, json) = h
        .refresh_web(first["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let access = TokenHash::of(first["access_token"].as_str().unwrap());
    let issuer = Issuer::parse(ISSUER).unwrap();
    assert!(h
        .store
        .find_access_token(&issuer, &access)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn refresh_rotates_narrows_and_never_widens() {
    let h = Harness::new().await;
    let code = h.code_for("web", WEB_REDIRECT, "read write", "alice").await;
    let first = h.exchange_web(&code).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let (status, json, _) = h
        .token(
            &format!("grant_type=refresh_token&refresh_token={rt1}&scope=read+admin"),
            Some(("web", SECRET)),
        )
        .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_scope")
    );
    let (status, json, _) = h
        .token(
            &format!("grant_type=refresh_token&refresh_token={rt1}&scope=read"),
            Some(("web", SECRET)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(json.get("scope").is_none(), "narrowed as asked: {json}");
    let rt2 = json["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    // The rotated token keeps the full original scope.
    let (status, json) = h.refresh_web(&rt2).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["scope"], serde_json::Value::Null, "{json}");
}

#[tokio::test]
async fn a_replayed_refresh_token_revokes_the_family() {
    let h = Harness::new().await;
    let code = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
    let first = h.exchange_web(&code).await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let (_, second) = h.refresh_web(rt1).await;
    let rt2 = second["refresh_token"].as_str().unwrap();
    let (status, json) = h.refresh_web(rt1).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let (status, json) = h.refresh_web(rt2).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let issuer = Issuer::parse(ISSUER).unwrap();
    for at in [&first, &second] {
        let hash = TokenHash::of(at["access_token"].as_str().unwrap());
        assert!(h
            .store
            .find_access_token(&issuer, &hash)
            .await
            .unwrap()
            .is_none());
    }
}

#[tokio::test]
async fn refresh_tokens_are_bound_to_their_client_and_expire() {
    let mut policy = Policy::default();
    policy.lifetimes = Lifetimes {
        refresh_token: std::time::Duration::from_secs(100),
        ..Lifetimes::default()
    };
    let h = Harness::with_policy(policy).await;
    let code = h
        .code_for("native", "http://127.0.0.1:1/cb", "read", "alice")
        .await;
    let (_, json, _) = h
        .token(
            &format!("grant_type=authorization_code&code={code}&client_id=native&redirect_uri={}&code_verifier={VERIFIER}", enc("http://127.0.0.1:1/cb")),
            None,
        )
        .await;
    let rt = json["refresh_token"].as_str().unwrap();
    let (status, json) = h.refresh_web(rt).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    h.clock.advance(100);
    let (status, json, _) = h
        .token(
            &format!("grant_type=refresh_token&refresh_token={rt}&client_id=native"),
            None,
        )
        .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
}
