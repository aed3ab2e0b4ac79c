//! OpenID Connect: discovery, JWKS, ID tokens, prompt/max_age, UserInfo, pairwise subjects,
//! key rotation and logout.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use portcullis::core::{
    verify_compact, Algorithm, JwkSet, Policy, ScopeSet, SubjectType, UnixTime,
};
use portcullis::{InteractionRequired, LogoutOutcome, Provider};
use portcullis_store_memory::MemoryStore;
use serde_json::Value;

const NONCE: &str = "n-0S6_WzA2Mj";

fn openid_query(scope: &str, extra: &str) -> String {
    format!(
        "response_type=code&client_id=web&redirect_uri={}&scope={}&state=st&nonce={NONCE}&code_challenge={}&code_challenge_method=S256{extra}",
        enc(WEB_REDIRECT),
        enc(scope),
        challenge(VERIFIER)
    )
}

async fn jwks(p: &Provider) -> JwkSet {
    let r = p.jwks().await;
    assert_eq!(r.status(), StatusCode::OK);
    JwkSet::parse(r.body()).unwrap()
}

async fn verify_id_token(p: &Provider, token: &str) -> (String, Value) {
    let keys = jwks(p).await.verifying_keys();
    let v =
        verify_compact(token, &keys, &Algorithm::ALL).expect("ID token verifies against the JWKS");
    assert_eq!(v.header.typ.as_deref(), Some("JWT"));
    (
        v.header.kid.unwrap(),
        serde_json::from_slice(&v.payload).unwrap(),
    )
}

/// Runs an OpenID flow for the web client and returns the token response.
async fn login(h: &Harness, scope: &str, extra: &str) -> Value {
    let pending = h.pending(&openid_query(scope, extra)).await;
    let r = h.provider.approve(pending, approval("alice", scope)).await;
    let code = query_param(location(&r).as_str(), "code").expect("a code");
    h.exchange_web(&code).await
}

#[tokio::test]
async fn discovery_is_built_from_the_issuer_only() {
    let h = Harness::with_policy(Policy::default()).await;
    let r = h.provider.discovery();
    assert_eq!(r.status(), StatusCode::OK);
    let d: Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(d["issuer"], ISSUER);
    for (field, path) in [
        ("authorization_endpoint", "/authorize"),
        ("token_endpoint", "/token"),
        ("jwks_uri", "/jwks"),
        ("userinfo_endpoint", "/userinfo"),
        ("end_session_endpoint", "/session/end"),
    ] {
        assert_eq!(d[field], format!("{ISSUER}{path}"), "{field}");
    }
    assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert!(d["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .contains(&"RS256".into()));
}

#[tokio::test]
async fn discovery_lists_what_the_core_supports_in_a_stable_order() {
    let h = Harness::with_policy(Policy::default()).await;
    let d: Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
    // No key-encryption key here: no client_secret_jwt.
    let secret_methods = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ];
    for (field, expected) in [
        (
            "response_modes_supported",
            &[
                "query",
                "fragment",
                "form_post",
                "jwt",
                "query.jwt",
                "fragment.jwt",
                "form_post.jwt",
            ][..],
        ),
        (
            "authorization_signing_alg_values_supported",
            &["RS256", "PS256", "ES256", "EdDSA"],
        ),
        (
            "grant_types_supported",
            &["authorization_code", "refresh_token", "client_credentials"],
        ),
        ("subject_types_supported", &["public", "pairwise"]),
        (
            "token_endpoint_auth_methods_supported",
            &[
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none",
            ],
        ),
        (
            "revocation_endpoint_auth_methods_supported",
            &[
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
                "none",
            ],
        ),
        (
            "introspection_endpoint_auth_methods_supported",
            &secret_methods,
        ),
        (
            "prompt_values_supported",
            &["none", "login", "consent", "select_account"],
        ),
        ("claim_types_supported", &["normal"]),
        (
            "claims_supported",
            &[
                "sub",
                "name",
                "given_name",
                "family_name",
                "middle_name",
                "nickname",
                "preferred_username",
                "profile",
                "picture",
                "website",
                "email",
                "email_verified",
                "gender",
                "birthdate",
                "zoneinfo",
                "locale",
                "phone_number",
                "phone_number_verified",
                "address",
                "updated_at",
            ],
        ),
    ] {
        assert_eq!(d[field], serde_json::json!(expected), "{field}");
    }
    // RFC 9449 §5.1: the DPoP algorithms of the policy; RFC 8705 §3.3, §5: no client
    // certificates here, so no certificate binding nor aliases.
    assert_eq!(
        d["dpop_signing_alg_values_supported"],
        serde_json::json!(["RS256", "PS256", "ES256", "EdDSA"])
    );
    assert!(d
        .get("tls_client_certificate_bound_access_tokens")
        .is_none());
    assert!(d.get("mtls_endpoint_aliases").is_none());
    let mut plain = Policy::default();
    plain.dangerous_allow_plain_pkce = true;
    plain.dpop.algorithms = vec![Algorithm::EdDSA];
    let h = Harness::with_policy(plain).await;
    let d: Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256", "plain"])
    );
    assert_eq!(
        d["dpop_signing_alg_values_supported"],
        serde_json::json!(["EdDSA"])
    );
}

#[tokio::test]
async fn discovery_lists_the_hosts_scopes_after_openid_connects() {
    let scopes = |h: &Harness| {
        let d: Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
        d["scopes_supported"].clone()
    };
    let oidc = [
        "openid",
        "profile",
        "email",
        "address",
        "phone",
        "offline_access",
    ];
    assert_eq!(scopes(&Harness::new().await), serde_json::json!(oidc));
    // `email` is listed once, where OpenID Connect lists it.
    let host = ScopeSet::parse("write email read").unwrap();
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.advertise_scopes(host)
    })
    .await;
    let mut expected = oidc.to_vec();
    expected.extend(["read", "write"]);
    assert_eq!(scopes(&h), serde_json::json!(expected));
}

#[tokio::test]
async fn jwks_publishes_a_key_per_algorithm_with_a_short_cache() {
    let h = Harness::new().await;
    let r = h.provider.jwks().await;
    assert_eq!(r.headers()["cache-control"], "public, max-age=300");
    let set = JwkSet::parse(r.body()).unwrap();
    let mut published: Vec<(String, Option<String>)> = set
        .keys
        .iter()
        .map(|k| (k.kty.clone(), k.alg.clone()))
        .collect();
    published.sort();
    let expected = [
        ("EC", "ES256"),
        ("OKP", "EdDSA"),
        ("RSA", "PS256"),
        ("RSA", "RS256"),
    ];
    assert_eq!(
        published,
        expected
            .map(|(t, a)| (t.to_owned(), Some(a.to_owned())))
            .to_vec()
    );
    for k in &set.keys {
        assert_eq!(k.use_.as_deref(), Some("sig"));
        assert_eq!(k.kid.as_deref(), Some(k.thumbprint().unwrap().as_str()));
    }
    let raw: Value = serde_json::from_slice(r.body()).unwrap();
    for k in raw["keys"].as_array().unwrap() {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(k.get(private).is_none());
        }
    }
}

#[tokio::test]
async fn the_code_flow_in_openid_mode_returns_a_verifiable_id_token() {
    let h = Harness::new().await;
    let tokens = login(&h, "openid email", "").await;
    let (_, claims) = verify_id_token(&h.provider, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], "web");
    assert_eq!(claims["azp"], "web");
    assert_eq!(claims["nonce"], NONCE);
    assert_eq!(claims["iat"], T0);
    assert_eq!(claims["exp"], T0 + 3600);
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert!(claims.get("auth_time").is_none(), "not asked for");
    assert_eq!(
        claims["at_hash"],
        portcullis::core::half_hash(tokens["access_token"].as_str().unwrap(), Algorithm::RS256)
    );
    assert!(claims["c_hash"].is_string());
    // The host hook adds its claim but cannot override protocol claims; scope claims go to
    // UserInfo, not the ID token, since an access token was issued (§5.4).
    assert_eq!(claims["tenant"], "t-web");
    assert!(claims.get("email").is_none());
    // Without offline_access there is no refresh token in OpenID mode (§11).
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
}

/// The `acr` the host's approval reached is the ID token's (OpenID Connect Core §2); an
/// approval without one gives none.
#[tokio::test]
async fn the_approvals_acr_reaches_the_id_token() {
    let h = Harness::new().await;
    let pending = h.pending(&openid_query("openid", "")).await;
    let approval = approval("alice", "openid").with_acr(Some("urn:example:loa:2".into()));
    let r = h.provider.approve(pending, approval).await;
    let code = query_param(location(&r).as_str(), "code").expect("a code");
    let tokens = h.exchange_web(&code).await;
    let (_, claims) = verify_id_token(&h.provider, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["acr"], "urn:example:loa:2");
    let tokens = login(&h, "openid", "").await;
    let (_, claims) = verify_id_token(&h.provider, tokens["id_token"].as_str().unwrap()).await;
    assert!(claims.get("acr").is_none(), "{claims}");
}

#[tokio::test]
async fn max_age_puts_auth_time_in_and_refuses_stale_logins() {
    let h = Harness::new().await;
    h.clock.advance(100);
    let tokens = login(&h, "openid", "&max_age=300").await;
    let (_, claims) = verify_id_token(&h.provider, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["auth_time"], T0);
    // The login (at T0) is 100 s old: max_age=50 refuses it.
    let pending = h.pending(&openid_query("openid", "&max_age=50")).await;
    let r = h
        .provider
        .approve(pending, approval("alice", "openid"))
        .await;
    assert_eq!(
        query_param(location(&r).as_str(), "error").as_deref(),
        Some("login_required")
    );
    // prompt=login needs an authentication after the request.
    let pending = h.pending(&openid_query("openid", "&prompt=login")).await;
    let r = h
        .provider
        .approve(pending, approval("alice", "openid"))
        .await;
    assert_eq!(
        query_param(location(&r).as_str(), "error").as_deref(),
        Some("login_required")
    );
}

#[tokio::test]
async fn prompt_none_failures_and_request_objects_have_their_codes() {
    let h = Harness::new().await;
    for (reason, code) in [
        (InteractionRequired::Login, "login_required"),
        (InteractionRequired::Consent, "consent_required"),
        (
            InteractionRequired::AccountSelection,
            "account_selection_required",
        ),
        (InteractionRequired::Other, "interaction_required"),
    ] {
        let pending = h.pending(&openid_query("openid", "&prompt=none")).await;
        assert!(pending.oidc().unwrap().prompt.none);
        let r = h.provider.cannot_interact(pending, reason).await;
        let loc = location(&r);
        assert_eq!(query_param(loc.as_str(), "error").as_deref(), Some(code));
        assert_eq!(query_param(loc.as_str(), "state").as_deref(), Some("st"));
        assert_eq!(query_param(loc.as_str(), "iss").as_deref(), Some(ISSUER));
    }
    for (extra, code) in [
        ("&request_uri=urn%3Ax", "request_uri_not_supported"),
        ("&prompt=none+login", "invalid_request"),
        ("&max_age=soon", "invalid_request"),
        ("&claims=%7B", "invalid_request"),
        ("&response_mode=web_message", "invalid_request"),
        ("&id_token_hint=not.a.jwt", "invalid_request"),
    ] {
        let r = h.respond(&openid_query("openid", extra)).await;
        assert_eq!(
            query_param(location(&r).as_str(), "error").as_deref(),
            Some(code),
            "{extra}"
        );
    }
    // A request object that does not verify cannot name where to redirect (RFC 9101 §6.1).
    let r = h.respond(&openid_query("openid", "&request=eyJ")).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(r.body()).contains("invalid_request_object"));
    // OpenID requests must name their redirect_uri (§3.1.2.1).
    let q = openid_query("openid", "").replace(&format!("redirect_uri={}&", enc(WEB_REDIRECT)), "");
    assert_eq!(h.respond(&q).await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_valid_id_token_hint_is_accepted_and_exposed() {
    let h = Harness::new().await;
    let tokens = login(&h, "openid", "").await;
    let hint = tokens["id_token"].as_str().unwrap();
    h.clock.advance(7200); // expired hints are still hints
    let pending = h
        .pending(&openid_query(
            "openid",
            &format!("&prompt=none&id_token_hint={hint}"),
        ))
        .await;
    assert_eq!(pending.id_token_hint_subject().as_deref(), Some("alice"));
}

#[tokio::test]
async fn offline_access_gives_a_refresh_token_and_refresh_gives_a_new_id_token() {
    let h = Harness::new().await;
    h.clock.advance(10);
    let tokens = login(&h, "openid offline_access", "&max_age=3600").await;
    let rt = tokens["refresh_token"]
        .as_str()
        .expect("refresh token with offline_access");
    let (_, first) = verify_id_token(&h.provider, tokens["id_token"].as_str().unwrap()).await;
    h.clock.advance(500);
    let (status, refreshed) = h.refresh_web(rt).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let (_, second) = verify_id_token(&h.provider, refreshed["id_token"].as_str().unwrap()).await;
    assert_eq!(second["sub"], first["sub"]);
    assert_eq!(second["auth_time"], T0);
    assert_eq!(second["iat"], T0 + 510);
    assert!(second.get("nonce").is_none(), "no nonce on refresh (§12.2)");
}

async fn userinfo(h: &Harness, req: Request<Bytes>) -> (StatusCode, Value, http::HeaderMap) {
    let r = h.provider.userinfo(req).await;
    let body = serde_json::from_slice(r.body()).unwrap_or(Value::Null);
    (r.status(), body, r.headers().clone())
}

#[tokio::test]
async fn userinfo_releases_what_the_scopes_and_claims_request_allow() {
    let h = Harness::new().await;
    let claims = enc(r#"{"userinfo":{"nickname":null}}"#);
    let tokens = login(&h, "openid email", &format!("&claims={claims}")).await;
    let at = tokens["access_token"].as_str().unwrap();
    let get = Request::get("/userinfo")
        .header("authorization", format!("Bearer {at}"))
        .body(Bytes::new())
        .unwrap();
    let (status, body, _) = userinfo(&h, get).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        serde_json::json!({"sub": "alice", "email": "alice@example.com", "email_verified": true, "nickname": "al"})
    );
    let post = Request::post("/userinfo")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(format!("access_token={at}")))
        .unwrap();
    assert_eq!(userinfo(&h, post).await.0, StatusCode::OK);
}

/// Issue 17, point 7: a scope's lifetime counts from the login, so a refresh after `email`
/// faded issues an access token without it, which UserInfo answers without the email.
#[tokio::test]
async fn a_scope_faded_before_a_refresh_releases_nothing_at_userinfo() {
    let mut policy = Policy::default();
    policy.scope_lifetimes = [("email".to_owned(), std::time::Duration::from_secs(300))].into();
    let h = Harness::with_policy(policy).await;
    let tokens = login(&h, "openid email offline_access", "").await;
    let get = |t: &Value| {
        Request::get("/userinfo")
            .header(
                "authorization",
                format!("Bearer {}", t["access_token"].as_str().unwrap()),
            )
            .body(Bytes::new())
            .unwrap()
    };
    let (status, body, _) = userinfo(&h, get(&tokens)).await;
    assert_eq!(
        (status, &body["email"]),
        (StatusCode::OK, &serde_json::json!("alice@example.com"))
    );
    h.clock.advance(360);
    let (status, refreshed) = h
        .refresh_web(tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(refreshed["scope"], "offline_access openid");
    let (status, body, _) = userinfo(&h, get(&refreshed)).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, serde_json::json!({"sub": "alice"}))
    );
}

#[tokio::test]
async fn userinfo_errors_follow_rfc6750() {
    let h = Harness::new().await;
    let tokens = login(&h, "openid", "").await;
    let at = tokens["access_token"].as_str().unwrap();
    // No token: 401 with a bare challenge.
    let (status, _, headers) =
        userinfo(&h, Request::get("/userinfo").body(Bytes::new()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers["www-authenticate"],
        format!("Bearer realm=\"{ISSUER}\"")
    );
    // A bad token, or one that is not a b64token (RFC 6750 §2.1): 401 invalid_token.
    for credentials in ["Bearer nope", "Bearer a=b", "Bearer a b", "Bearer "] {
        let bad = Request::get("/userinfo")
            .header("authorization", credentials)
            .body(Bytes::new())
            .unwrap();
        let (status, body, headers) = userinfo(&h, bad).await;
        assert_eq!(
            (status, error_of(&body)),
            (StatusCode::UNAUTHORIZED, "invalid_token"),
            "{credentials}"
        );
        assert!(headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\""));
    }
    // Expired: 401 invalid_token.
    h.clock.advance(3600);
    let expired = Request::get("/userinfo")
        .header("authorization", format!("Bearer {at}"))
        .body(Bytes::new())
        .unwrap();
    assert_eq!(userinfo(&h, expired).await.0, StatusCode::UNAUTHORIZED);
    // Two tokens, or one in the query: 400 invalid_request.
    let tokens = login(&h, "openid", "").await;
    let at = tokens["access_token"].as_str().unwrap();
    let both = Request::post("/userinfo")
        .header("authorization", format!("Bearer {at}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(format!("access_token={at}")))
        .unwrap();
    let (status, body, _) = userinfo(&h, both).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let query = Request::get(format!("/userinfo?access_token={at}"))
        .body(Bytes::new())
        .unwrap();
    assert_eq!(userinfo(&h, query).await.0, StatusCode::BAD_REQUEST);
    // A token without openid: 403 insufficient_scope.
    let code = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
    let plain = h.exchange_web(&code).await;
    let req = Request::get("/userinfo")
        .header(
            "authorization",
            format!("Bearer {}", plain["access_token"].as_str().unwrap()),
        )
        .body(Bytes::new())
        .unwrap();
    let (status, body, headers) = userinfo(&h, req).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::FORBIDDEN, "insufficient_scope")
    );
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("insufficient_scope"));
}

#[tokio::test]
async fn pairwise_clients_see_a_sector_specific_subject() {
    let h = Harness::new().await;
    let mut client = web_client();
    client.oidc.subject_type = SubjectType::Pairwise {
        sector_identifier: "web.example".into(),
    };
    client.oidc.id_token_signed_response_alg = Some(Algorithm::ES256);
    h.provider.register_client(&client).await.unwrap();
    let tokens = login(&h, "openid", "").await;
    let (kid, claims) = verify_id_token(&h.provider, tokens["id_token"].as_str().unwrap()).await;
    let sub = claims["sub"].as_str().unwrap();
    assert_ne!(sub, "alice");
    assert_eq!(sub, h.provider.subject_for(&client, "alice"));
    let es = jwks(&h.provider)
        .await
        .keys
        .into_iter()
        .find(|k| k.kid.as_deref() == Some(kid.as_str()))
        .unwrap();
    assert_eq!(es.alg.as_deref(), Some("ES256"));
    let at = tokens["access_token"].as_str().unwrap();
    let req = Request::get("/userinfo")
        .header("authorization", format!("Bearer {at}"))
        .body(Bytes::new())
        .unwrap();
    assert_eq!(userinfo(&h, req).await.1["sub"], sub);
    // A logout hinting the pairwise `sub` names alice.
    let hint = tokens["id_token"].as_str().unwrap();
    let end = Request::get(format!("/session/end?id_token_hint={hint}"))
        .body(Bytes::new())
        .unwrap();
    let LogoutOutcome::Pending(pending) = h.provider.end_session(end).await else {
        panic!("the hint is valid")
    };
    assert!(pending
        .ends_without_asking(&h.provider, "alice")
        .await
        .unwrap());
}

#[tokio::test]
async fn keys_rotate_without_restart_across_providers_sharing_the_store() {
    let h = Harness::new().await;
    // A second process of the same issuer, over the same store.
    let other = Harness::on_store(h.store.clone(), ISSUER, Policy::default()).await;
    other.clock.set(UnixTime::from_secs(T0));
    let first = login(&h, "openid", "").await;
    let (old_kid, _) = verify_id_token(&h.provider, first["id_token"].as_str().unwrap()).await;
    let new_kid = h
        .provider
        .rotate_signing_key(Algorithm::RS256)
        .await
        .unwrap();
    assert_ne!(new_kid, old_kid);
    // Published at once, but the old key keeps signing until the new one activates.
    let published: Vec<String> = jwks(&h.provider)
        .await
        .keys
        .iter()
        .filter_map(|k| k.kid.clone())
        .collect();
    assert!(published.contains(&new_kid) && published.contains(&old_kid));
    let tokens = login(&h, "openid", "").await;
    assert_eq!(
        verify_id_token(&h.provider, tokens["id_token"].as_str().unwrap())
            .await
            .0,
        old_kid
    );
    // After publish_ahead (15 min) both processes sign with the new key.
    for p in [&h, &other] {
        p.clock.advance(15 * 60);
    }
    let tokens = login(&h, "openid", "").await;
    assert_eq!(
        verify_id_token(&h.provider, tokens["id_token"].as_str().unwrap())
            .await
            .0,
        new_kid
    );
    let pending = other.pending(&openid_query("openid", "")).await;
    let r = other
        .provider
        .approve(pending, approval("alice", "openid"))
        .await;
    let code = query_param(location(&r).as_str(), "code").unwrap();
    let tokens = other.exchange_web(&code).await;
    assert_eq!(
        verify_id_token(&other.provider, tokens["id_token"].as_str().unwrap())
            .await
            .0,
        new_kid
    );
    // The old key stays published until what it signed has expired, then leaves.
    assert!(jwks(&h.provider)
        .await
        .keys
        .iter()
        .any(|k| k.kid.as_deref() == Some(old_kid.as_str())));
    h.clock.advance(31 * 24 * 3600);
    assert!(!jwks(&h.provider)
        .await
        .keys
        .iter()
        .any(|k| k.kid.as_deref() == Some(old_kid.as_str())));
}

#[tokio::test]
async fn logout_with_a_hint_redirects_only_to_registered_uris() {
    let h = Harness::new().await;
    let tokens = login(&h, "openid", "").await;
    let hint = tokens["id_token"].as_str().unwrap();
    let end = |q: String| {
        Request::get(format!("/session/end?{q}"))
            .body(Bytes::new())
            .unwrap()
    };
    let ok = format!(
        "id_token_hint={hint}&post_logout_redirect_uri={}&state=bye",
        enc("https://web.example/bye")
    );
    let pending = match h.provider.end_session(end(ok)).await {
        LogoutOutcome::Pending(p) => p,
        LogoutOutcome::Respond(r) => panic!("{r:?}"),
    };
    assert_eq!(pending.hint_subject(), Some("alice"));
    // Only the hint's own user is signed out without being asked.
    assert!(pending
        .ends_without_asking(&h.provider, "alice")
        .await
        .unwrap());
    assert!(!pending
        .ends_without_asking(&h.provider, "bob")
        .await
        .unwrap());
    let resumed = h.provider.resume_logout(pending.ticket()).unwrap();
    let r = h.provider.finish_logout(resumed).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r).as_str(), "https://web.example/bye?state=bye");

    for bad in [
        format!(
            "id_token_hint={hint}&post_logout_redirect_uri={}",
            enc("https://evil.example/")
        ),
        format!(
            "post_logout_redirect_uri={}",
            enc("https://web.example/bye")
        ),
        "id_token_hint=forged.token.here".to_owned(),
        format!("id_token_hint={hint}&client_id=native"),
    ] {
        match h.provider.end_session(end(bad.clone())).await {
            LogoutOutcome::Respond(r) => {
                assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
                assert!(r.headers().get("location").is_none());
            }
            LogoutOutcome::Pending(_) => panic!("accepted {bad}"),
        }
    }
    // Without a hint the user must confirm.
    match h.provider.end_session(end("client_id=web".into())).await {
        LogoutOutcome::Pending(p) => {
            assert_eq!(p.hint_subject(), None);
            assert!(!p.ends_without_asking(&h.provider, "alice").await.unwrap());
        }
        LogoutOutcome::Respond(r) => panic!("{r:?}"),
    }
}

#[tokio::test]
async fn scopes_without_openid_stay_plain_oauth() {
    let h = Harness::new().await;
    let code = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
    let tokens = h.exchange_web(&code).await;
    assert!(tokens.get("id_token").is_none());
    assert!(tokens["refresh_token"].is_string());
}
