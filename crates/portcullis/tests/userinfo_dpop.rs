//! Sender-constrained access tokens at UserInfo: DPoP-bound tokens (RFC 9449 §7), refused as
//! bearer tokens and without a fresh proof of their key for this request and token, with the
//! threats of RFC 9449 §11 each pinned; server nonces (§9); and certificate-bound tokens
//! (RFC 8705 §3). Proofs are signed by `jsonwebtoken`, an independent implementation.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use base64::{engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bytes::Bytes;
use common::client_key::ClientKey;
use common::{enc, error_of, web_client, Harness, ISSUER, SECRET, VERIFIER, WEB_REDIRECT};
use http::{HeaderMap, Method, Request, StatusCode};
use jsonwebtoken::{encode, Algorithm as JwtAlg, EncodingKey, Header};
use portcullis::core::Policy;
use portcullis::{CertificateChain, ClientCertificate, Clock};
use ring::digest::{digest, SHA256};
use serde_json::{json, Value};

const USERINFO: &str = "https://as.example/userinfo";
const TOKEN: &str = "https://as.example/token";
/// The `algs` of every `DPoP` challenge: the default policy's algorithms (RFC 9449 §7.1).
const ALGS: &str = "algs=\"RS256 PS256 ES256 EdDSA\"";

/// A proof's claims, all but `jti` (drawn fresh for each proof).
struct Claims<'a> {
    htm: &'a str,
    htu: &'a str,
    /// The access token `ath` hashes, if any.
    token: Option<&'a str>,
    nonce: Option<&'a str>,
    /// Seconds from the harness clock's now.
    iat_offset: i64,
}

impl<'a> Claims<'a> {
    /// A proof for `GET /userinfo` with `token`.
    fn userinfo(token: &'a str) -> Self {
        Self {
            htm: "GET",
            htu: USERINFO,
            token: Some(token),
            nonce: None,
            iat_offset: 0,
        }
    }

    /// A proof for `POST /token`.
    fn token_endpoint() -> Self {
        Self {
            htm: "POST",
            htu: TOKEN,
            token: None,
            nonce: None,
            iat_offset: 0,
        }
    }
}

/// `ath`: the base64url SHA-256 of the access token (RFC 9449 §4.2).
fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, token.as_bytes()))
}

/// A DPoP proof (RFC 9449 §4.2) by `key` at the harness's time.
fn proof(h: &Harness, key: &ClientKey, c: &Claims<'_>) -> String {
    static JTI: AtomicU64 = AtomicU64::new(0);
    let mut header = Header::new(JwtAlg::ES256);
    header.typ = Some("dpop+jwt".into());
    header.jwk = Some(serde_json::from_value(serde_json::to_value(&key.jwk).unwrap()).unwrap());
    let now = i64::try_from(h.clock.now().secs()).unwrap();
    let mut claims = json!({
        "jti": format!("proof-{}", JTI.fetch_add(1, Ordering::Relaxed)),
        "htm": c.htm,
        "htu": c.htu,
        "iat": now + c.iat_offset,
    });
    if let Some(token) = c.token {
        claims["ath"] = ath(token).into();
    }
    if let Some(nonce) = c.nonce {
        claims["nonce"] = nonce.into();
    }
    encode(&header, &claims, &EncodingKey::from_ec_der(&key.der)).unwrap()
}

struct Answer {
    status: StatusCode,
    json: Value,
    headers: HeaderMap,
}

impl Answer {
    fn of(r: http::Response<Bytes>) -> Self {
        Self {
            status: r.status(),
            json: serde_json::from_slice(r.body()).unwrap_or(Value::Null),
            headers: r.headers().clone(),
        }
    }

    /// The `WWW-Authenticate` challenges.
    fn challenges(&self) -> Vec<&str> {
        self.headers
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    /// Asserts a 401 with `code` and one `DPoP` challenge naming it with the algorithms.
    fn assert_dpop_refusal(&self, code: &str, case: &str) {
        self.assert_dpop_challenge(StatusCode::UNAUTHORIZED, code, case);
    }

    /// Asserts `status` with `code` and one `DPoP` challenge naming it with the algorithms.
    fn assert_dpop_challenge(&self, status: StatusCode, code: &str, case: &str) {
        assert_eq!(
            (self.status, error_of(&self.json)),
            (status, code),
            "{case}: {}",
            self.json
        );
        assert_eq!(
            self.challenges(),
            [format!("DPoP realm=\"{ISSUER}\", error=\"{code}\", {ALGS}")],
            "{case}"
        );
    }

    fn dpop_nonce(&self) -> Option<&str> {
        self.headers.get("dpop-nonce").map(|v| v.to_str().unwrap())
    }
}

/// A UserInfo request with `authorization`, `dpop` and a certificate, as `method`.
async fn userinfo_as(
    h: &Harness,
    method: Method,
    authorization: Option<&str>,
    dpop: Option<&str>,
    cert: Option<&[u8]>,
) -> Answer {
    let mut req = Request::builder().method(method).uri("/userinfo");
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    if let Some(p) = dpop {
        req = req.header("dpop", p);
    }
    let mut req = req.body(Bytes::new()).unwrap();
    if let Some(der) = cert {
        req.extensions_mut()
            .insert(ClientCertificate::new(der, CertificateChain::Unverified));
    }
    Answer::of(h.provider.userinfo(req).await)
}

/// `GET /userinfo` with `DPoP <token>` and `proof`.
async fn userinfo_dpop(h: &Harness, token: &str, proof: &str) -> Answer {
    let credentials = format!("DPoP {token}");
    userinfo_as(h, Method::GET, Some(&credentials), Some(proof), None).await
}

/// `GET /userinfo` with `Bearer <token>` and, if given, a DPoP proof.
async fn userinfo_bearer(h: &Harness, token: &str, proof: Option<&str>) -> Answer {
    let credentials = format!("Bearer {token}");
    userinfo_as(h, Method::GET, Some(&credentials), proof, None).await
}

/// The web client's code exchange for `openid`, with a DPoP proof and a certificate if given.
async fn exchange(h: &Harness, dpop: Option<&str>, cert: Option<&[u8]>) -> Answer {
    exchange_for(h, "openid", dpop, cert).await
}

/// [`exchange`] for `scope`.
async fn exchange_for(h: &Harness, scope: &str, dpop: Option<&str>, cert: Option<&[u8]>) -> Answer {
    let code = h.code_for("web", WEB_REDIRECT, scope, "alice").await;
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        enc(WEB_REDIRECT)
    );
    let basic = STANDARD.encode(format!("web:{SECRET}"));
    let mut req = Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {basic}"));
    if let Some(p) = dpop {
        req = req.header("dpop", p);
    }
    let mut req = req.body(Bytes::from(body)).unwrap();
    if let Some(der) = cert {
        req.extensions_mut()
            .insert(ClientCertificate::new(der, CertificateChain::Unverified));
    }
    let r = h.provider.token(req).await;
    Answer {
        status: r.status(),
        json: serde_json::from_slice(r.body()).unwrap_or(Value::Null),
        headers: r.headers().clone(),
    }
}

/// An access token for `openid` bound to `key` (RFC 9449 §5).
async fn dpop_token(h: &Harness, key: &ClientKey) -> String {
    let a = exchange(h, Some(&proof(h, key, &Claims::token_endpoint())), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    assert_eq!(a.json["token_type"], "DPoP");
    a.json["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_dpop_bound_token_works_with_a_proof_of_its_key_for_this_request() {
    let h = Harness::new().await;
    let key = ClientKey::new("k");
    let token = dpop_token(&h, &key).await;
    let a = userinfo_dpop(&h, &token, &proof(&h, &key, &Claims::userinfo(&token))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    assert_eq!(a.json["sub"], "alice");
    assert!(a.dpop_nonce().is_some(), "a fresh nonce (§8.2)");
    // The scheme is case-insensitive; POST with the proof's htm works too.
    let p = proof(
        &h,
        &key,
        &Claims {
            htm: "POST",
            ..Claims::userinfo(&token)
        },
    );
    let credentials = format!("dpop {token}");
    let a = userinfo_as(&h, Method::POST, Some(&credentials), Some(&p), None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
}

/// RFC 9449 §11.4 (untrusted code in the client context) and §7.2: a DPoP-bound token
/// exported and replayed as a bearer token — in the header, in a form body, even next to a
/// valid proof — is refused with a `DPoP` challenge.
#[tokio::test]
async fn rfc9449_11_4_a_bound_token_exported_as_a_bearer_token_is_refused() {
    let h = Harness::new().await;
    let key = ClientKey::new("k");
    let token = dpop_token(&h, &key).await;
    let a = userinfo_bearer(&h, &token, None).await;
    a.assert_dpop_refusal("invalid_token", "Bearer header");
    assert!(a.dpop_nonce().is_none(), "no proof, no nonce");
    let p = proof(&h, &key, &Claims::userinfo(&token));
    userinfo_bearer(&h, &token, Some(&p))
        .await
        .assert_dpop_refusal("invalid_token", "Bearer header with a proof");
    let req = Request::post("/userinfo")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(format!("access_token={token}")))
        .unwrap();
    Answer::of(h.provider.userinfo(req).await).assert_dpop_refusal("invalid_token", "form body");
}

/// RFC 9449 §7.1, §11.4: a proof by another key than the token's does not prove possession.
#[tokio::test]
async fn a_proof_of_another_key_is_refused() {
    let h = Harness::new().await;
    let token = dpop_token(&h, &ClientKey::new("k")).await;
    let thief = ClientKey::new("thief");
    userinfo_dpop(&h, &token, &proof(&h, &thief, &Claims::userinfo(&token)))
        .await
        .assert_dpop_refusal("invalid_token", "another key");
}

/// RFC 9449 §11.1: a proof is spent by its first use.
#[tokio::test]
async fn rfc9449_11_1_a_replayed_proof_is_refused() {
    let h = Harness::new().await;
    let key = ClientKey::new("k");
    let token = dpop_token(&h, &key).await;
    let p = proof(&h, &key, &Claims::userinfo(&token));
    assert_eq!(userinfo_dpop(&h, &token, &p).await.status, StatusCode::OK);
    h.clock.advance(5);
    userinfo_dpop(&h, &token, &p)
        .await
        .assert_dpop_refusal("invalid_dpop_proof", "replayed");
}

/// RFC 9449 §11.2: a proof made ahead of time (`iat` in the future) or kept too long is
/// refused; within the policy's skew and age it is accepted.
#[tokio::test]
async fn rfc9449_11_2_pre_generated_and_stale_proofs_are_refused() {
    let h = Harness::new().await;
    let key = ClientKey::new("k");
    let token = dpop_token(&h, &key).await;
    for (offset, ok) in [
        (3600, false),
        (11, false),
        (-61, false),
        (10, true),
        (-60, true),
    ] {
        let claims = Claims {
            iat_offset: offset,
            ..Claims::userinfo(&token)
        };
        let a = userinfo_dpop(&h, &token, &proof(&h, &key, &claims)).await;
        if ok {
            assert_eq!(a.status, StatusCode::OK, "iat {offset}: {}", a.json);
        } else {
            a.assert_dpop_refusal("invalid_dpop_proof", &format!("iat {offset}"));
        }
    }
}

/// RFC 9449 §4.3 items 8, 9, 12, §11.1: a proof made for another method, another URI or
/// another token (its `ath`), or for none, does not authorize this request.
#[tokio::test]
async fn a_proof_for_another_uri_method_or_token_is_refused() {
    let h = Harness::new().await;
    let key = ClientKey::new("k");
    let token = dpop_token(&h, &key).await;
    let other_token = dpop_token(&h, &key).await;
    let cases = [
        ("POST", USERINFO, Some(token.as_str()), "another method"),
        ("GET", TOKEN, Some(token.as_str()), "another URI"),
        (
            "GET",
            "https://rs.example/userinfo",
            Some(token.as_str()),
            "another host",
        ),
        (
            "GET",
            USERINFO,
            Some(other_token.as_str()),
            "another token's ath",
        ),
        ("GET", USERINFO, None, "no ath"),
    ];
    for (htm, htu, ath_of, case) in cases {
        let claims = Claims {
            htm,
            htu,
            token: ath_of,
            ..Claims::userinfo(&token)
        };
        userinfo_dpop(&h, &token, &proof(&h, &key, &claims))
            .await
            .assert_dpop_refusal("invalid_dpop_proof", case);
    }
    // Each refusal above spent nothing that the right proof needs.
    let a = userinfo_dpop(&h, &token, &proof(&h, &key, &Claims::userinfo(&token))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
}

/// RFC 9449 §7.1: the `DPoP` scheme needs a proof and a DPoP-bound token; malformed `DPoP`
/// credentials are an invalid token. Each is challenged with the `DPoP` scheme.
#[tokio::test]
async fn the_dpop_scheme_needs_a_proof_and_a_bound_token() {
    let h = Harness::new().await;
    let key = ClientKey::new("k");
    let token = dpop_token(&h, &key).await;
    let credentials = format!("DPoP {token}");
    userinfo_as(&h, Method::GET, Some(&credentials), None, None)
        .await
        .assert_dpop_refusal("invalid_dpop_proof", "no proof");
    let a = userinfo_dpop(&h, &token, "not-a-jwt").await;
    a.assert_dpop_refusal("invalid_dpop_proof", "not a JWT");
    assert!(a.dpop_nonce().is_some(), "a nonce for the next try");
    for malformed in ["DPoP a b", "DPoP ", "DPoP a=b"] {
        userinfo_as(&h, Method::GET, Some(malformed), None, None)
            .await
            .assert_dpop_refusal("invalid_token", malformed);
    }
    // Two tokens (the DPoP scheme is for the header only, RFC 9449 §7.1): 400, DPoP challenge.
    let req = Request::post("/userinfo")
        .header("authorization", &credentials)
        .header("dpop", proof(&h, &key, &Claims::userinfo(&token)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(format!("access_token={token}")))
        .unwrap();
    Answer::of(h.provider.userinfo(req).await).assert_dpop_challenge(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "two tokens",
    );
    let unknown = "unknown-token";
    userinfo_dpop(&h, unknown, &proof(&h, &key, &Claims::userinfo(unknown)))
        .await
        .assert_dpop_refusal("invalid_token", "unknown token");
    // A bearer token is not DPoP-bound: with the DPoP scheme and a good proof, refused.
    let a = exchange(&h, None, None).await;
    assert_eq!(a.json["token_type"], "Bearer");
    let bearer = a.json["access_token"].as_str().unwrap();
    userinfo_dpop(&h, bearer, &proof(&h, &key, &Claims::userinfo(bearer)))
        .await
        .assert_dpop_refusal("invalid_token", "unbound token");
    assert_eq!(
        userinfo_bearer(&h, bearer, None).await.status,
        StatusCode::OK
    );
}

/// RFC 6750 §3.1, RFC 9449 §7.1: a request without a token is challenged with both schemes,
/// naming no error; a token lacking `openid` with the scheme of its binding and the scope.
#[tokio::test]
async fn challenges_name_both_schemes_without_a_token_and_the_bindings_otherwise() {
    let h = Harness::new().await;
    let a = userinfo_as(&h, Method::GET, None, None, None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        a.challenges(),
        [
            format!("Bearer realm=\"{ISSUER}\""),
            format!("DPoP realm=\"{ISSUER}\", {ALGS}"),
        ]
    );
    let a = userinfo_as(&h, Method::GET, Some("Basic d2ViOnM="), None, None).await;
    assert_eq!(
        (a.status, a.challenges().len()),
        (StatusCode::UNAUTHORIZED, 2)
    );
    // A token in a body that is not a form is no token (RFC 6750 §2.2).
    let key = ClientKey::new("k");
    let token = dpop_token(&h, &key).await;
    let json_body = Request::post("/userinfo")
        .header("content-type", "application/json")
        .body(Bytes::from(format!("access_token={token}")))
        .unwrap();
    let r = h.provider.userinfo(json_body).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers().get_all("www-authenticate").iter().count(), 2);
    // A DPoP-bound token without openid: 403 insufficient_scope, challenged with DPoP.
    let p = proof(&h, &key, &Claims::token_endpoint());
    let a = exchange_for(&h, "read", Some(&p), None).await;
    let token = a.json["access_token"].as_str().unwrap();
    let a = userinfo_dpop(&h, token, &proof(&h, &key, &Claims::userinfo(token))).await;
    assert_eq!(
        (a.status, error_of(&a.json)),
        (StatusCode::FORBIDDEN, "insufficient_scope")
    );
    assert_eq!(
        a.challenges(),
        [format!(
            "DPoP realm=\"{ISSUER}\", error=\"insufficient_scope\", scope=\"openid\", {ALGS}"
        )]
    );
}

/// Nonce misuse (RFC 9449 §9, §11.2): where the resource requires its nonce, a proof without
/// it, or with one too old, gets `use_dpop_nonce` and a `DPoP-Nonce` to retry with; the retry
/// with that nonce works. Required by the policy, or by the client alone.
#[tokio::test]
async fn a_required_nonce_is_missing_or_stale_then_retried() {
    let mut policy = Policy::default();
    policy.dpop.require_nonce = true;
    let by_policy = Harness::with_policy(policy).await;
    let by_client = Harness::new().await;
    let mut client = web_client();
    client.tokens.require_dpop_nonce = true;
    by_client.provider.register_client(&client).await.unwrap();
    for (h, case) in [(&by_policy, "policy"), (&by_client, "client")] {
        let key = ClientKey::new("k");
        // The token endpoint asks for the nonce first (§8).
        let a = exchange(h, Some(&proof(h, &key, &Claims::token_endpoint())), None).await;
        assert_eq!(
            (a.status, error_of(&a.json)),
            (StatusCode::BAD_REQUEST, "use_dpop_nonce"),
            "{case}"
        );
        let nonce = a.dpop_nonce().unwrap().to_owned();
        let claims = Claims {
            nonce: Some(&nonce),
            ..Claims::token_endpoint()
        };
        let a = exchange(h, Some(&proof(h, &key, &claims)), None).await;
        assert_eq!(a.status, StatusCode::OK, "{case}: {}", a.json);
        let token = a.json["access_token"].as_str().unwrap().to_owned();

        let a = userinfo_dpop(h, &token, &proof(h, &key, &Claims::userinfo(&token))).await;
        a.assert_dpop_refusal("use_dpop_nonce", &format!("{case}: no nonce"));
        let nonce = a.dpop_nonce().expect("a nonce to retry with").to_owned();
        let with_nonce = |nonce| Claims {
            nonce: Some(nonce),
            ..Claims::userinfo(&token)
        };
        let a = userinfo_dpop(h, &token, &proof(h, &key, &with_nonce(&nonce))).await;
        assert_eq!(a.status, StatusCode::OK, "{case}: {}", a.json);

        let forged = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        userinfo_dpop(h, &token, &proof(h, &key, &with_nonce(forged)))
            .await
            .assert_dpop_refusal("use_dpop_nonce", &format!("{case}: forged nonce"));
        // Two nonce periods later the nonce is stale; the one handed out then works.
        h.clock.advance(600);
        let a = userinfo_dpop(h, &token, &proof(h, &key, &with_nonce(&nonce))).await;
        a.assert_dpop_refusal("use_dpop_nonce", &format!("{case}: stale nonce"));
        let fresh = a.dpop_nonce().unwrap().to_owned();
        assert_ne!(fresh, nonce);
        let a = userinfo_dpop(h, &token, &proof(h, &key, &with_nonce(&fresh))).await;
        assert_eq!(a.status, StatusCode::OK, "{case}: {}", a.json);
    }
}

/// RFC 8705 §3: a token bound to a TLS client certificate works over a connection with that
/// certificate only; refusals are `invalid_token` with a `Bearer` challenge.
#[tokio::test]
async fn a_certificate_bound_token_needs_its_certificate() {
    let h = Harness::new().await;
    let mut client = web_client();
    client.tokens.tls_client_certificate_bound_access_tokens = true;
    h.provider.register_client(&client).await.unwrap();
    let cert = b"the client's certificate".as_slice();
    let a = exchange(&h, None, Some(cert)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    assert_eq!(a.json["token_type"], "Bearer");
    let token = a.json["access_token"].as_str().unwrap();
    let credentials = format!("Bearer {token}");
    let a = userinfo_as(&h, Method::GET, Some(&credentials), None, Some(cert)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    assert_eq!(a.json["sub"], "alice");
    for (presented, case) in [
        (Some(b"another".as_slice()), "another certificate"),
        (None, "none"),
    ] {
        let a = userinfo_as(&h, Method::GET, Some(&credentials), None, presented).await;
        assert_eq!(
            (a.status, error_of(&a.json)),
            (StatusCode::UNAUTHORIZED, "invalid_token"),
            "{case}"
        );
        assert_eq!(
            a.challenges(),
            [format!(
                "Bearer realm=\"{ISSUER}\", error=\"invalid_token\""
            )],
            "{case}"
        );
    }
}
