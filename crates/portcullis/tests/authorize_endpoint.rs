//! The authorization endpoint: what is shown as a page, what is redirected, and approval.

mod common;

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use portcullis::core::{ScopeSet, UnixTime};
use portcullis::AuthorizeOutcome;

fn good_query() -> String {
    format!(
        "response_type=code&client_id=web&redirect_uri={}&state=xyz&code_challenge={}&code_challenge_method=S256",
        enc(WEB_REDIRECT),
        challenge(VERIFIER)
    )
}

#[tokio::test]
async fn untrusted_client_or_redirect_uri_gets_a_400_page_never_a_redirect() {
    let h = Harness::new().await;
    let c = challenge(VERIFIER);
    for q in [
        format!("response_type=code&client_id=nobody&redirect_uri={}&code_challenge={c}&code_challenge_method=S256", enc(WEB_REDIRECT)),
        format!("response_type=code&client_id=web&redirect_uri={}&code_challenge={c}&code_challenge_method=S256", enc("https://evil.example/cb")),
        format!("response_type=code&redirect_uri={}", enc(WEB_REDIRECT)),
        format!("response_type=code&client_id=web&client_id=web&redirect_uri={}", enc(WEB_REDIRECT)),
        "response_type=code&client_id=web&redirect_uri=%zz".to_owned(),
    ] {
        let r = h.respond(&q).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{q}");
        assert!(r.headers().get("location").is_none(), "{q}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        assert!(std::str::from_utf8(r.body()).unwrap().contains("invalid_request"));
    }
}

#[tokio::test]
async fn other_errors_redirect_with_error_state_and_iss() {
    let h = Harness::new().await;
    let cases = [
        (
            format!("{}&scope=read&scope=write", good_query()),
            "invalid_request",
        ),
        (
            good_query().replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            good_query().replace("response_type=code&", ""),
            "invalid_request",
        ),
        (format!("{}&scope=admin", good_query()), "invalid_scope"),
        (good_query().replace("S256", "plain"), "invalid_request"),
        (
            good_query().replace(&challenge(VERIFIER), "x"),
            "invalid_request",
        ),
    ];
    for (q, code) in cases {
        let r = h.respond(&q).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{q}");
        let loc = location(&r);
        assert!(loc.as_str().starts_with(WEB_REDIRECT), "{q}");
        assert_eq!(
            query_param(loc.as_str(), "error").as_deref(),
            Some(code),
            "{q}"
        );
        assert_eq!(
            query_param(loc.as_str(), "state").as_deref(),
            Some("xyz"),
            "{q}"
        );
        assert_eq!(
            query_param(loc.as_str(), "iss").as_deref(),
            Some(ISSUER),
            "{q}"
        );
    }
}

#[tokio::test]
async fn service_client_cannot_use_the_code_flow() {
    let h = Harness::new().await;
    // The service client has no redirect URI, so nothing can be trusted: an error page.
    let r = h.respond("response_type=code&client_id=service").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn post_form_is_accepted_other_methods_and_bodies_are_not() {
    let h = Harness::new().await;
    let post = Request::post("/authorize")
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        )
        .body(Bytes::from(good_query()))
        .unwrap();
    assert!(matches!(
        h.provider.authorize(post).await,
        AuthorizeOutcome::Pending(_)
    ));
    let json = Request::post("/authorize")
        .header("content-type", "application/json")
        .body(Bytes::from("{}"))
        .unwrap();
    match h.provider.authorize(json).await {
        AuthorizeOutcome::Respond(r) => assert_eq!(r.status(), StatusCode::BAD_REQUEST),
        AuthorizeOutcome::Pending(_) => panic!("json body accepted"),
    }
    let put = Request::put("/authorize").body(Bytes::new()).unwrap();
    match h.provider.authorize(put).await {
        AuthorizeOutcome::Respond(r) => assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED),
        AuthorizeOutcome::Pending(_) => panic!("PUT accepted"),
    }
}

#[tokio::test]
async fn approval_redirects_with_code_state_and_iss_and_narrows_scopes() {
    let h = Harness::new().await;
    let pending = h
        .pending(&format!("{}&scope=read+write", good_query()))
        .await;
    assert_eq!(pending.client_id(), "web");
    assert_eq!(pending.scopes().to_string(), "read write");
    // The host grants "write" and a scope never asked for: only "write" survives.
    let r = h
        .provider
        .approve(pending, approval("alice", "write admin"))
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let loc = location(&r);
    assert_eq!(query_param(loc.as_str(), "state").as_deref(), Some("xyz"));
    assert_eq!(query_param(loc.as_str(), "iss").as_deref(), Some(ISSUER));
    let code = query_param(loc.as_str(), "code").unwrap();
    assert_eq!(code.len(), 43);
    let json = h.exchange_web(&code).await;
    assert_eq!(json["scope"], "write");
}

#[tokio::test]
async fn denial_redirects_with_access_denied() {
    let h = Harness::new().await;
    let pending = h.pending(&good_query()).await;
    let r = h.provider.deny(pending).await;
    let loc = location(&r);
    assert_eq!(
        query_param(loc.as_str(), "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(loc.as_str(), "state").as_deref(), Some("xyz"));
    assert_eq!(query_param(loc.as_str(), "iss").as_deref(), Some(ISSUER));
}

#[tokio::test]
async fn tickets_resume_until_they_expire_and_cannot_be_forged() {
    let h = Harness::new().await;
    let pending = h.pending(&good_query()).await;
    let ticket = pending.ticket().to_owned();
    let resumed = h.provider.resume(&ticket).unwrap();
    assert_eq!(resumed.scopes(), &ScopeSet::parse("read").unwrap());
    let mut forged = ticket.clone().into_bytes();
    forged[20] = if forged[20] == b'A' { b'B' } else { b'A' };
    assert!(h
        .provider
        .resume(std::str::from_utf8(&forged).unwrap())
        .is_err());
    // Another provider (another issuer and key) over the same store cannot open it.
    let other =
        Harness::on_store(h.store.clone(), "https://other.example", Default::default()).await;
    assert!(other.provider.resume(&ticket).is_err());
    h.clock.set(UnixTime::from_secs(T0 + 601));
    assert!(h.provider.resume(&ticket).is_err());
}

#[tokio::test]
async fn loopback_redirect_accepts_any_port() {
    let h = Harness::new().await;
    let code = h
        .code_for("native", "http://127.0.0.1:55123/cb", "read", "alice")
        .await;
    let (status, json, _) = h
        .token(
            &format!("grant_type=authorization_code&code={code}&client_id=native&redirect_uri={}&code_verifier={VERIFIER}", enc("http://127.0.0.1:55123/cb")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
}

/// RFC 8252 §7.3 lets native apps vary a loopback port; a confidential client's loopback
/// URI matches exactly (RFC 9700 §4.1.3): another port is an untrusted redirect, a 400 page.
#[tokio::test]
async fn loopback_port_variation_is_for_native_apps_only() {
    let h = Harness::new().await;
    let mut web = web_client();
    web.redirect_uris =
        vec![portcullis::core::RedirectUri::parse("http://127.0.0.1:9000/cb").unwrap()];
    h.provider.register_client(&web).await.unwrap();
    let q = |uri: &str| {
        format!(
            "response_type=code&client_id=web&redirect_uri={}&code_challenge={}&code_challenge_method=S256",
            enc(uri),
            challenge(VERIFIER)
        )
    };
    h.pending(&q("http://127.0.0.1:9000/cb")).await;
    let r = h.respond(&q("http://127.0.0.1:4444/cb")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("location").is_none());
    assert!(std::str::from_utf8(r.body())
        .unwrap()
        .contains("invalid_request"));
}

/// What cannot travel through the login pages is refused at once (never "expired" after
/// the password): a `state` over its limit, and a request whose ticket would be too long
/// (here a `state` within its limit that JSON escapes to six times its size).
#[tokio::test]
async fn oversized_requests_are_refused_before_any_page() {
    let h = Harness::new().await;
    for (state, description) in [
        ("a".repeat(13_000), "state is longer than 2048 bytes"),
        ("%01".repeat(2048), "the authorization request is too large"),
    ] {
        let r = h
            .respond(&good_query().replace("state=xyz", &format!("state={state}")))
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
        assert_eq!(q["error"], "invalid_request");
        assert_eq!(q["error_description"], description);
        assert!(!q.contains_key("code"));
    }
}
