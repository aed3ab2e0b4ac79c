//! Sender-constrained tokens at the token endpoint: DPoP (RFC 9449 §5, §8, §10, §11) and
//! certificate-bound tokens (RFC 8705 §3, §4), through `Provider::token`, introspection
//! (RFC 7662, with `cnf`: RFC 7800 §3.1) and revocation (RFC 7009). Proofs are made here with
//! an ES256 key, `iat` from the injected clock.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::{engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bytes::Bytes;
use common::*;
use http::{HeaderMap, Method, Request, StatusCode};
use portcullis::core::{
    Algorithm, Client, ClientKind, GrantType, Issuer, MacAlgorithm, Policy, RedirectUri,
    RefreshGrace, ScopeSet, SigningKey, TokenFormat, TokenHash,
};
use portcullis::store::{AccessTokenStore, RefreshState, RefreshTokenStore};
use portcullis::{CertificateChain, ClientCertificate, Clock};
use portcullis_store_memory::MemoryStore;
use ring::digest::{digest, SHA256};
use ring::rand::SystemRandom;
use serde_json::{json, Value};

const TOKEN_URI: &str = "https://as.example/token";
const NATIVE_REDIRECT: &str = "http://127.0.0.1:1/cb";
const CC: &str = "grant_type=client_credentials";
const SERVICE: Option<(&str, &str)> = Some(("service", SECRET));

/// A client's DPoP key (RFC 9449 §4.2).
struct Holder {
    key: SigningKey,
}

impl Holder {
    fn new() -> Self {
        let key = SigningKey::generate("dpop", Algorithm::ES256, &SystemRandom::new()).unwrap();
        Self { key }
    }

    /// The key's RFC 7638 thumbprint: the `jkt` a bound token carries.
    fn jkt(&self) -> String {
        self.key.public_jwk().thumbprint().unwrap()
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = unsigned(header, claims);
        let sig = self
            .key
            .sign(input.as_bytes(), &SystemRandom::new())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// A proof for `POST /token` now, its header and claims edited by `edit`.
    fn proof_with(&self, h: &Harness, edit: impl FnOnce(&mut Value, &mut Value)) -> String {
        let mut header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.public_jwk()});
        let mut claims = json!({
            "jti": fresh_jti(),
            "htm": "POST",
            "htu": TOKEN_URI,
            "iat": h.clock.now().secs(),
        });
        edit(&mut header, &mut claims);
        self.sign(&header, &claims)
    }

    /// A proof for `POST /token` now.
    fn proof(&self, h: &Harness) -> String {
        self.proof_with(h, |_, _| {})
    }

    /// A proof for `POST /token` now, with the server's `nonce`.
    fn proof_with_nonce(&self, h: &Harness, nonce: &str) -> String {
        self.proof_with(h, |_, c| c["nonce"] = json!(nonce))
    }
}

fn unsigned(header: &Value, claims: &Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap());
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{h}.{c}")
}

fn fresh_jti() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("jti-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A response: status, JSON body and headers.
struct Reply {
    status: StatusCode,
    json: Value,
    headers: HeaderMap,
}

impl Reply {
    fn ok(&self) -> &Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.json);
        &self.json
    }

    /// A token endpoint error: 400 with `code`, never cached (RFC 6749 §5.2).
    fn refused(&self, code: &str, case: &str) {
        assert_eq!(
            (self.status, error_of(&self.json)),
            (StatusCode::BAD_REQUEST, code),
            "{case}: {}",
            self.json
        );
        assert_eq!(self.headers["cache-control"], "no-store", "{case}");
    }

    fn nonce(&self) -> String {
        self.headers["dpop-nonce"].to_str().unwrap().to_owned()
    }

    fn token(&self, name: &str) -> String {
        self.ok()[name].as_str().unwrap().to_owned()
    }
}

/// What a request carries besides its form body.
#[derive(Default, Clone, Copy)]
struct With<'a> {
    basic: Option<(&'a str, &'a str)>,
    proofs: &'a [&'a str],
    cert: Option<&'a [u8]>,
}

fn basic<'a>(who: Option<(&'a str, &'a str)>) -> With<'a> {
    With {
        basic: who,
        ..With::default()
    }
}

async fn post(h: &Harness, endpoint: Endpoint, body: &str, with: With<'_>) -> Reply {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some((id, secret)) = with.basic {
        let credentials = STANDARD.encode(format!("{id}:{secret}"));
        req = req.header("authorization", format!("Basic {credentials}"));
    }
    for proof in with.proofs {
        req = req.header("dpop", *proof);
    }
    let mut req = req.body(Bytes::from(body.to_owned())).unwrap();
    if let Some(der) = with.cert {
        let cert = ClientCertificate::new(der, CertificateChain::ClientCa);
        req.extensions_mut().insert(cert);
    }
    let resp = h.send(endpoint, req).await;
    Reply {
        status: resp.status(),
        json: serde_json::from_slice(resp.body()).unwrap_or(Value::Null),
        headers: resp.headers().clone(),
    }
}

async fn token(h: &Harness, body: &str, with: With<'_>) -> Reply {
    post(h, Endpoint::Token, body, with).await
}

/// `service`'s client credentials token, sent with `proof`.
async fn cc(h: &Harness, proof: &str) -> Reply {
    token(
        h,
        CC,
        With {
            proofs: &[proof],
            ..basic(SERVICE)
        },
    )
    .await
}

async fn introspect(h: &Harness, token: &str, who: (&str, &str)) -> Value {
    let r = post(
        h,
        Endpoint::Introspect,
        &format!("token={token}"),
        basic(Some(who)),
    )
    .await;
    r.ok().clone()
}

/// A copy of a harness client under another id, edited.
async fn register(h: &Harness, base: Client, id: &str, edit: impl FnOnce(&mut Client)) {
    let mut client = base;
    client.id = id.into();
    edit(&mut client);
    h.provider.register_client(&client).await.unwrap();
}

/// A harness with a copy of the service client as `id`, edited.
async fn with_service(id: &str, edit: impl FnOnce(&mut Client)) -> Harness {
    let h = Harness::new().await;
    register(&h, service_client(), id, edit).await;
    h
}

fn issuer() -> Issuer {
    Issuer::parse(ISSUER).unwrap()
}

/// The stored access token's confirmation, as JSON.
async fn stored_access_cnf(h: &Harness, access_token: &str) -> Value {
    let record = h
        .store
        .find_access_token(&issuer(), &TokenHash::of(access_token))
        .await
        .unwrap()
        .expect("a stored access token");
    serde_json::to_value(record.confirmation).unwrap()
}

/// The stored refresh token's confirmation, as JSON, and its state.
async fn stored_refresh(h: &Harness, refresh_token: &str) -> (Value, RefreshState) {
    let (record, state) = h
        .store
        .find_refresh_token(&issuer(), &TokenHash::of(refresh_token))
        .await
        .unwrap()
        .expect("a stored refresh token");
    (serde_json::to_value(record.confirmation).unwrap(), state)
}

// ---------------------------------------------------------------------------------------
// Binding and reporting (RFC 9449 §5, §6; RFC 7800 §3.1)
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_proof_binds_the_access_token_and_introspection_reports_cnf() {
    let h = Harness::new().await;
    let holder = Holder::new();
    let r = cc(&h, &holder.proof(&h)).await;
    assert_eq!(r.ok()["token_type"], "DPoP");
    let at = r.token("access_token");
    let body = introspect(&h, &at, ("service", SECRET)).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(body["cnf"], json!({"jkt": holder.jkt()}));

    // Without a proof: a bearer token, and no cnf.
    let r = token(&h, CC, basic(SERVICE)).await;
    assert_eq!(r.ok()["token_type"], "Bearer");
    assert!(r.headers.get("dpop-nonce").is_none());
    let body = introspect(&h, &r.token("access_token"), ("service", SECRET)).await;
    assert_eq!(body["token_type"], "Bearer");
    assert!(body.get("cnf").is_none(), "{body}");
}

/// A designated introspector's token (`Policy::introspection_scope`) that is bound to a key
/// or a certificate is no bearer token (RFC 9449 §7.2, RFC 8705 §3): 401 `invalid_client`
/// as a `Bearer` credential, unless a certificate-bound one comes with its certificate.
#[tokio::test]
async fn a_bound_token_authorizes_introspection_only_with_its_certificate() {
    let mut policy = Policy::default();
    policy.introspection_scope = Some("introspect".into());
    let h = Harness::with_policy(policy).await;
    let cert = certificate();
    register(&h, service_client(), "gateway", |c| {
        c.tokens.tls_client_certificate_bound_access_tokens = true;
    })
    .await;
    let ask = |bearer: &str, cert: Option<&[u8]>| {
        let mut req = Request::post("/introspect")
            .header("authorization", format!("Bearer {bearer}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from(format!("token={bearer}")))
            .unwrap();
        if let Some(der) = cert {
            req.extensions_mut()
                .insert(ClientCertificate::new(der, CertificateChain::ClientCa));
        }
        h.provider.introspect(req)
    };
    let scope = format!("{CC}&scope=introspect");
    let holder = Holder::new();
    let dpop_bound = token(
        &h,
        &scope,
        With {
            proofs: &[&holder.proof(&h)],
            ..basic(SERVICE)
        },
    )
    .await
    .token("access_token");
    let cert_bound = token(
        &h,
        &scope,
        With {
            cert: Some(&cert),
            ..basic(Some(("gateway", SECRET)))
        },
    )
    .await
    .token("access_token");
    let other = certificate();
    for (case, bearer, cert) in [
        ("DPoP-bound", &dpop_bound, None),
        ("certificate-bound, no certificate", &cert_bound, None),
        (
            "certificate-bound, another certificate",
            &cert_bound,
            Some(&other[..]),
        ),
    ] {
        let r = ask(bearer, cert).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{case}");
        let body: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(error_of(&body), "invalid_client", "{case}");
    }
    let r = ask(&cert_bound, Some(&cert)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(body["active"], true);
}

#[tokio::test]
async fn a_jwt_access_token_carries_cnf_jkt() {
    let h = with_service("jwt-service", |c| {
        c.tokens.access_token_format = TokenFormat::Jwt;
    })
    .await;
    let holder = Holder::new();
    let r = token(
        &h,
        CC,
        With {
            basic: Some(("jwt-service", SECRET)),
            proofs: &[&holder.proof(&h)],
            cert: None,
        },
    )
    .await;
    assert_eq!(r.ok()["token_type"], "DPoP");
    let claims = jwt_claims(&h, &r.token("access_token")).await;
    assert_eq!(claims["cnf"], json!({"jkt": holder.jkt()}));

    let r = token(&h, CC, basic(Some(("jwt-service", SECRET)))).await;
    assert_eq!(r.ok()["token_type"], "Bearer");
    let claims = jwt_claims(&h, &r.token("access_token")).await;
    assert!(claims.get("cnf").is_none(), "{claims}");
}

#[tokio::test]
async fn responses_to_dpop_requests_carry_a_nonce_and_are_not_cached() {
    let h = Harness::new().await;
    let holder = Holder::new();
    let r = cc(&h, &holder.proof(&h)).await;
    r.ok();
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(r.headers["pragma"], "no-cache");
    assert!(!r.nonce().is_empty());
    // Errors too: a refused proof and a refused grant.
    let r = cc(&h, "not-a-proof").await;
    r.refused("invalid_dpop_proof", "malformed");
    assert!(!r.nonce().is_empty());
    let r = token(
        &h,
        "grant_type=client_credentials&scope=admin",
        With {
            proofs: &[&holder.proof(&h)],
            ..basic(SERVICE)
        },
    )
    .await;
    r.refused("invalid_scope", "scope");
    assert!(!r.nonce().is_empty());
}

#[tokio::test]
async fn a_dpop_bound_client_must_send_a_proof() {
    let h = with_service("bound", |c| {
        c.tokens.dpop_bound_access_tokens = true;
    })
    .await;
    let who = Some(("bound", SECRET));
    token(&h, CC, basic(who))
        .await
        .refused("invalid_dpop_proof", "no proof");
    let holder = Holder::new();
    let r = token(
        &h,
        CC,
        With {
            proofs: &[&holder.proof(&h)],
            ..basic(who)
        },
    )
    .await;
    assert_eq!(r.ok()["token_type"], "DPoP");
}

// ---------------------------------------------------------------------------------------
// RFC 9449 §11: threats
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    // §11.1: the jti is spent once.
    let h = Harness::new().await;
    let proof = Holder::new().proof(&h);
    cc(&h, &proof).await.ok();
    // Refused at once, and still at the last second the proof is young enough to be
    // accepted otherwise.
    for (wait, case) in [(0, "replayed"), (60, "replayed a minute later")] {
        h.clock.advance(wait);
        cc(&h, &proof).await.refused("invalid_dpop_proof", case);
    }
}

#[tokio::test]
async fn pre_generated_proofs_are_refused() {
    // §11.2: iat must be recent (60 s) and not ahead (10 s).
    let h = Harness::new().await;
    let holder = Holder::new();
    let now = h.clock.now().secs();
    let at = |iat: u64| holder.proof_with(&h, |_, c| c["iat"] = json!(iat));
    for (iat, case) in [(now - 61, "too old"), (now + 11, "ahead")] {
        cc(&h, &at(iat)).await.refused("invalid_dpop_proof", case);
    }
    // The bounds themselves are accepted (and spent: the replay cache keeps the jti past
    // the last second it would be accepted).
    cc(&h, &at(now - 60)).await.ok();
    cc(&h, &at(now + 10)).await.ok();
    // A proof made now and held back a minute.
    let held = holder.proof(&h);
    h.clock.advance(61);
    cc(&h, &held)
        .await
        .refused("invalid_dpop_proof", "held back");
}

#[tokio::test]
async fn a_proof_for_another_uri_or_method_is_refused() {
    let h = Harness::new().await;
    let holder = Holder::new();
    for (case, proof) in [
        (
            "htu /userinfo",
            holder.proof_with(&h, |_, c| c["htu"] = json!(format!("{ISSUER}/userinfo"))),
        ),
        (
            "htu of another issuer",
            holder.proof_with(&h, |_, c| c["htu"] = json!("https://other.example/token")),
        ),
        (
            "htm GET",
            holder.proof_with(&h, |_, c| c["htm"] = json!("GET")),
        ),
    ] {
        cc(&h, &proof).await.refused("invalid_dpop_proof", case);
    }
}

#[tokio::test]
async fn two_dpop_headers_are_refused() {
    let h = Harness::new().await;
    let holder = Holder::new();
    let (a, b) = (holder.proof(&h), holder.proof(&h));
    let r = token(
        &h,
        CC,
        With {
            proofs: &[&a, &b],
            ..basic(SERVICE)
        },
    )
    .await;
    r.refused("invalid_dpop_proof", "two headers");
    // Neither was spent: each alone still works.
    cc(&h, &a).await.ok();
}

#[tokio::test]
async fn malformed_unsigned_symmetric_and_private_key_proofs_are_refused() {
    let h = Harness::new().await;
    let holder = Holder::new();
    let good = holder.proof(&h);
    let (input, _) = good.rsplit_once('.').unwrap();
    let mac = MacAlgorithm::HS256.sign(b"a shared secret", b"x");
    let hs256 = {
        let header = json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": holder.key.public_jwk()});
        let claims = json!({"jti": fresh_jti(), "htm": "POST", "htu": TOKEN_URI, "iat": h.clock.now().secs()});
        let input = unsigned(&header, &claims);
        let secret = serde_json::to_vec(&holder.key.public_jwk()).unwrap();
        let mac = MacAlgorithm::HS256.sign(&secret, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac))
    };
    let none = {
        let header = json!({"typ": "dpop+jwt", "alg": "none", "jwk": holder.key.public_jwk()});
        let claims = json!({"jti": fresh_jti(), "htm": "POST", "htu": TOKEN_URI, "iat": h.clock.now().secs()});
        format!("{}.", unsigned(&header, &claims))
    };
    for (case, proof) in [
        ("not a JWT", "not-a-jwt".to_owned()),
        ("two parts", input.to_owned()),
        (
            "bad signature",
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac)),
        ),
        ("alg none", none),
        ("HS256", hs256),
        (
            "private key in jwk",
            holder.proof_with(&h, |hd, _| hd["jwk"]["d"] = json!("AQAB")),
        ),
        (
            "typ JWT",
            holder.proof_with(&h, |hd, _| hd["typ"] = json!("JWT")),
        ),
        (
            "no jti",
            holder.proof_with(&h, |_, c| drop(c.as_object_mut().unwrap().remove("jti"))),
        ),
    ] {
        cc(&h, &proof).await.refused("invalid_dpop_proof", case);
    }
    // A header that is not visible ASCII.
    let r = token(
        &h,
        CC,
        With {
            proofs: &["\u{e9}t\u{e9}"],
            ..basic(SERVICE)
        },
    )
    .await;
    r.refused("invalid_dpop_proof", "not ASCII");
}

// ---------------------------------------------------------------------------------------
// Server nonces (RFC 9449 §8)
// ---------------------------------------------------------------------------------------

fn nonce_policy() -> Policy {
    let mut policy = Policy::default();
    policy.dpop.require_nonce = true;
    policy
}

/// Asks for a nonce: `use_dpop_nonce` (400) with a `DPoP-Nonce` header.
async fn nonce_from(h: &Harness, holder: &Holder, who: (&str, &str)) -> String {
    let r = token(
        h,
        CC,
        With {
            proofs: &[&holder.proof(h)],
            ..basic(Some(who))
        },
    )
    .await;
    r.refused("use_dpop_nonce", "no nonce");
    r.nonce()
}

async fn cc_with_nonce(h: &Harness, holder: &Holder, who: (&str, &str), nonce: &str) -> Reply {
    token(
        h,
        CC,
        With {
            proofs: &[&holder.proof_with_nonce(h, nonce)],
            ..basic(Some(who))
        },
    )
    .await
}

/// A provider requiring nonces, a key, and the nonce the service client was handed.
async fn nonce_required() -> (Harness, Holder, String) {
    let h = Harness::with_policy(nonce_policy()).await;
    let holder = Holder::new();
    let nonce = nonce_from(&h, &holder, ("service", SECRET)).await;
    (h, holder, nonce)
}

#[tokio::test]
async fn a_required_nonce_is_handed_out_then_accepted() {
    let (h, holder, nonce) = nonce_required().await;
    let who = ("service", SECRET);
    let r = cc_with_nonce(&h, &holder, who, &nonce).await;
    assert_eq!(r.ok()["token_type"], "DPoP");
    assert_eq!(r.nonce(), nonce, "the same period, the same nonce");
    cc_with_nonce(&h, &holder, who, "made-up")
        .await
        .refused("use_dpop_nonce", "made up");
}

#[tokio::test]
async fn a_nonce_of_another_key_is_refused() {
    let h = Harness::with_policy(nonce_policy()).await;
    let other = Harness::with_policy(nonce_policy()).await;
    let holder = Holder::new();
    let who = ("service", SECRET);
    let foreign = nonce_from(&other, &holder, who).await;
    let r = cc_with_nonce(&h, &holder, who, &foreign).await;
    r.refused("use_dpop_nonce", "another provider's nonce");
    assert_ne!(r.nonce(), foreign);

    // Providers sharing a nonce key accept each other's nonces.
    let key = [9; 32];
    let shared = |store| {
        Harness::configured(store, ISSUER, move |b| {
            b.policy(nonce_policy()).dpop_nonce_key(key)
        })
    };
    let a = shared(Arc::new(MemoryStore::new())).await;
    let b = shared(Arc::new(MemoryStore::new())).await;
    let nonce = nonce_from(&a, &holder, who).await;
    cc_with_nonce(&b, &holder, who, &nonce).await.ok();
}

#[tokio::test]
async fn a_nonce_lives_two_periods() {
    let (h, holder, nonce) = nonce_required().await;
    let who = ("service", SECRET);
    // The default period is 5 minutes: one period later the nonce still works (and a new
    // one is handed out), two periods later it does not.
    h.clock.advance(300);
    let r = cc_with_nonce(&h, &holder, who, &nonce).await;
    r.ok();
    assert_ne!(r.nonce(), nonce);
    h.clock.advance(300);
    let r = cc_with_nonce(&h, &holder, who, &nonce).await;
    r.refused("use_dpop_nonce", "two periods old");
    let fresh = r.nonce();
    cc_with_nonce(&h, &holder, who, &fresh).await.ok();
}

#[tokio::test]
async fn a_client_may_be_held_to_nonces_alone() {
    let h = with_service("strict", |c| {
        c.tokens.require_dpop_nonce = true;
    })
    .await;
    let holder = Holder::new();
    let nonce = nonce_from(&h, &holder, ("strict", SECRET)).await;
    cc_with_nonce(&h, &holder, ("strict", SECRET), &nonce)
        .await
        .ok();
    cc_with_nonce(&h, &holder, ("strict", SECRET), "made-up")
        .await
        .refused("use_dpop_nonce", "made up");
    // Other clients are not.
    cc(&h, &holder.proof(&h)).await.ok();
}

// ---------------------------------------------------------------------------------------
// Authorization codes bound ahead (RFC 9449 §10)
// ---------------------------------------------------------------------------------------

fn native_query(extra: &str) -> String {
    format!(
        "response_type=code&client_id=native&redirect_uri={}&scope=read&state=st&code_challenge={}&code_challenge_method=S256{extra}",
        enc(NATIVE_REDIRECT),
        challenge(VERIFIER)
    )
}

/// A code of the native client, with `extra` authorization request parameters.
async fn native_code(h: &Harness, extra: &str) -> String {
    let pending = h.pending(&native_query(extra)).await;
    let r = h.provider.approve(pending, approval("alice", "read")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    query_param(location(&r).as_str(), "code").expect("code in redirect")
}

fn native_exchange(code: &str) -> String {
    format!(
        "grant_type=authorization_code&code={code}&client_id=native&redirect_uri={}&code_verifier={VERIFIER}",
        enc(NATIVE_REDIRECT)
    )
}

/// A request without client authentication (a public client's), with a fresh proof of
/// `holder`'s key if any.
async fn unauthenticated(h: &Harness, body: &str, holder: Option<&Holder>) -> Reply {
    let proof = holder.map(|k| k.proof(h));
    let proofs: Vec<&str> = proof.iter().map(String::as_str).collect();
    let with = With {
        proofs: &proofs,
        ..With::default()
    };
    token(h, body, with).await
}

#[tokio::test]
async fn a_code_bound_with_dpop_jkt_needs_that_key() {
    let h = Harness::new().await;
    let holder = Holder::new();
    let bind = format!("&dpop_jkt={}", holder.jkt());

    let other = Holder::new();
    for (case, key, error) in [
        ("no proof", None, "invalid_dpop_proof"),
        ("another key", Some(&other), "invalid_grant"),
    ] {
        let code = native_code(&h, &bind).await;
        unauthenticated(&h, &native_exchange(&code), key)
            .await
            .refused(error, case);
    }
    let code = native_code(&h, &bind).await;
    let r = unauthenticated(&h, &native_exchange(&code), Some(&holder)).await;
    assert_eq!(r.ok()["token_type"], "DPoP");
    let cnf = stored_access_cnf(&h, &r.token("access_token")).await;
    assert_eq!(cnf, json!({"jkt": holder.jkt()}));
}

#[tokio::test]
async fn a_malformed_dpop_jkt_is_an_invalid_request() {
    let h = Harness::new().await;
    let jkt = Holder::new().jkt();
    for bad in [
        jkt[..42].to_owned(),
        format!("{jkt}A"),
        format!("{}=", &jkt[..42]),
        format!("{}+", &jkt[..42]),
    ] {
        let r = h
            .respond(&native_query(&format!("&dpop_jkt={}", enc(&bad))))
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{bad}");
        let to = location(&r);
        assert_eq!(
            query_param(to.as_str(), "error").as_deref(),
            Some("invalid_request"),
            "{bad}"
        );
        assert_eq!(query_param(to.as_str(), "state").as_deref(), Some("st"));
    }
}

// ---------------------------------------------------------------------------------------
// Refresh tokens (RFC 9449 §5)
// ---------------------------------------------------------------------------------------

fn native_refresh(refresh_token: &str) -> String {
    format!("grant_type=refresh_token&refresh_token={refresh_token}&client_id=native")
}

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_to_its_key() {
    let h = Harness::new().await;
    let (holder, other) = (Holder::new(), Holder::new());
    let code = native_code(&h, "").await;
    let r = unauthenticated(&h, &native_exchange(&code), Some(&holder)).await;
    assert_eq!(r.ok()["token_type"], "DPoP");
    let bound = json!({"jkt": holder.jkt()});
    let mut rt = r.token("refresh_token");
    for round in ["first", "successor"] {
        assert_eq!(stored_refresh(&h, &rt).await.0, bound, "{round}");
        unauthenticated(&h, &native_refresh(&rt), Some(&other))
            .await
            .refused("invalid_grant", &format!("{round}: another key"));
        unauthenticated(&h, &native_refresh(&rt), None)
            .await
            .refused("invalid_dpop_proof", &format!("{round}: no proof"));
        // Neither attempt counted as reuse: the token is still active.
        assert_eq!(stored_refresh(&h, &rt).await.1, RefreshState::Active);
        let r = unauthenticated(&h, &native_refresh(&rt), Some(&holder)).await;
        assert_eq!(r.ok()["token_type"], "DPoP");
        rt = r.token("refresh_token");
    }
}

/// A racer presenting a rotated token within its grace period gets the one new pair only
/// with the key the token is bound to; another key or none is refused without counting as
/// reuse.
#[tokio::test]
async fn a_racers_grace_answer_needs_the_key_too() {
    let h = Harness::new().await;
    register(&h, native_client(), "native", |c| {
        c.tokens.refresh.grace = Some(RefreshGrace {
            window_secs: 30,
            max_reuses: 2,
        });
    })
    .await;
    let (holder, other) = (Holder::new(), Holder::new());
    let code = native_code(&h, "").await;
    let r = unauthenticated(&h, &native_exchange(&code), Some(&holder)).await;
    let rt = r.token("refresh_token");
    let first = unauthenticated(&h, &native_refresh(&rt), Some(&holder)).await;
    let successor = first.token("refresh_token");
    unauthenticated(&h, &native_refresh(&rt), Some(&other))
        .await
        .refused("invalid_grant", "racer with another key");
    unauthenticated(&h, &native_refresh(&rt), None)
        .await
        .refused("invalid_dpop_proof", "racer without a proof");
    let racer = unauthenticated(&h, &native_refresh(&rt), Some(&holder)).await;
    assert_eq!(racer.token("refresh_token"), successor);
    assert_eq!(racer.ok()["token_type"], "DPoP");
    assert_eq!(stored_refresh(&h, &successor).await.1, RefreshState::Active);
}

#[tokio::test]
async fn a_confidential_clients_refresh_token_is_not_bound() {
    let h = Harness::new().await;
    let holder = Holder::new();
    let code = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        enc(WEB_REDIRECT)
    );
    let proof = holder.proof(&h);
    let web = Some(("web", SECRET));
    let r = token(
        &h,
        &body,
        With {
            proofs: &[&proof],
            ..basic(web)
        },
    )
    .await;
    assert_eq!(r.ok()["token_type"], "DPoP");
    let rt = r.token("refresh_token");
    assert_eq!(stored_refresh(&h, &rt).await.0, Value::Null);
    let introspected = introspect(
        &h,
        &format!("{rt}&token_type_hint=refresh_token"),
        ("web", SECRET),
    )
    .await;
    assert!(introspected.get("cnf").is_none(), "{introspected}");

    let r = token(
        &h,
        &format!("grant_type=refresh_token&refresh_token={rt}"),
        basic(web),
    )
    .await;
    assert_eq!(r.ok()["token_type"], "Bearer");
}

// ---------------------------------------------------------------------------------------
// Revocation (RFC 7009)
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn dpop_bound_tokens_are_revocable() {
    let h = Harness::new().await;
    let holder = Holder::new();
    let at = cc(&h, &holder.proof(&h)).await.token("access_token");
    let r = post(&h, Endpoint::Revoke, &format!("token={at}"), basic(SERVICE)).await;
    r.ok();
    assert_eq!(
        introspect(&h, &at, ("service", SECRET)).await,
        json!({"active": false})
    );

    // A public client's bound refresh token.
    let code = native_code(&h, "").await;
    let r = unauthenticated(&h, &native_exchange(&code), Some(&holder)).await;
    let rt = r.token("refresh_token");
    let r = post(
        &h,
        Endpoint::Revoke,
        &format!("token={rt}&token_type_hint=refresh_token&client_id=native"),
        With::default(),
    )
    .await;
    r.ok();
    assert_eq!(stored_refresh(&h, &rt).await.1, RefreshState::Revoked);
    unauthenticated(&h, &native_refresh(&rt), Some(&holder))
        .await
        .refused("invalid_grant", "revoked");
}

// ---------------------------------------------------------------------------------------
// Certificate-bound tokens (RFC 8705 §3, §4)
// ---------------------------------------------------------------------------------------

/// `x5t#S256` computed here: base64url(SHA-256(DER)).
fn x5t(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, der))
}

#[tokio::test]
async fn a_certificate_binds_the_access_token_of_a_client_that_asked() {
    let h = Harness::new().await;
    for (id, format) in [
        ("mtls", TokenFormat::Opaque),
        ("mtls-jwt", TokenFormat::Jwt),
    ] {
        register(&h, service_client(), id, |c| {
            c.tokens.tls_client_certificate_bound_access_tokens = true;
            c.tokens.access_token_format = format;
        })
        .await;
    }
    let cert = certificate();
    let with = |id| With {
        basic: Some((id, SECRET)),
        cert: Some(&cert),
        ..With::default()
    };
    let r = token(&h, CC, with("mtls")).await;
    assert_eq!(r.ok()["token_type"], "Bearer");
    let body = introspect(&h, &r.token("access_token"), ("mtls", SECRET)).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["cnf"], json!({"x5t#S256": x5t(&cert)}));

    let r = token(&h, CC, with("mtls-jwt")).await;
    assert_eq!(r.ok()["token_type"], "Bearer");
    let claims = jwt_claims(&h, &r.token("access_token")).await;
    assert_eq!(claims["cnf"], json!({"x5t#S256": x5t(&cert)}));

    for id in ["mtls", "mtls-jwt"] {
        token(&h, CC, basic(Some((id, SECRET))))
            .await
            .refused("invalid_request", "no certificate");
    }
    // A client that did not ask gets a bearer token, certificate or not.
    let r = token(
        &h,
        CC,
        With {
            cert: Some(&cert),
            ..basic(SERVICE)
        },
    )
    .await;
    let body = introspect(&h, &r.token("access_token"), ("service", SECRET)).await;
    assert!(body.get("cnf").is_none(), "{body}");
}

#[tokio::test]
async fn a_public_clients_refresh_token_is_bound_to_its_certificate() {
    let h = Harness::new().await;
    let app = Client::new("app", ClientKind::Public)
        .with_redirect_uris([RedirectUri::parse("http://127.0.0.1/cb").unwrap()])
        .with_allowed_scopes(ScopeSet::parse("read").unwrap())
        .with_grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken]);
    register(&h, app, "app", |c| {
        c.tokens.tls_client_certificate_bound_access_tokens = true;
    })
    .await;
    let (cert, other) = (certificate(), certificate());
    let pending = h
        .pending(&native_query("").replace("client_id=native", "client_id=app"))
        .await;
    let r = h.provider.approve(pending, approval("alice", "read")).await;
    let code = query_param(location(&r).as_str(), "code").unwrap();
    let exchange = native_exchange(&code).replace("client_id=native", "client_id=app");
    let with = |der| With {
        cert: Some(der),
        ..With::default()
    };
    let r = token(&h, &exchange, with(&cert)).await;
    assert_eq!(r.ok()["token_type"], "Bearer");
    let rt = r.token("refresh_token");
    let bound = json!({"x5t#S256": x5t(&cert)});
    assert_eq!(stored_refresh(&h, &rt).await.0, bound);

    let refresh = format!("grant_type=refresh_token&refresh_token={rt}&client_id=app");
    token(&h, &refresh, with(&other))
        .await
        .refused("invalid_grant", "another certificate");
    token(&h, &refresh, With::default())
        .await
        .refused("invalid_request", "no certificate");
    let r = token(&h, &refresh, with(&cert)).await;
    let successor = r.token("refresh_token");
    assert_eq!(stored_refresh(&h, &successor).await.0, bound);
    let cnf = stored_access_cnf(&h, &r.token("access_token")).await;
    assert_eq!(cnf, bound);
}
