//! JWT access tokens (RFC 9068 §4) through `JwtValidator` and `IssuerKeys`: real tokens of
//! our provider, answered in process, and hand-made tokens for every refusal; the keys'
//! discovery, caching and refetch limits, counted.

#[path = "../../portcullis/tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bytes::Bytes;
use common::{Harness, ISSUER, SECRET, T0};
use http::{Request, Response, StatusCode};
use portcullis::core::{
    Algorithm, Issuer, JwkSet, MacAlgorithm, Policy, Resource, ScopeSet, SigningKey, TokenFormat,
    UnixTime,
};
use portcullis_resource::keys::{MAX_STALE, REFETCH_INTERVAL};
use portcullis_resource::{
    HttpClient, IssuerKeys, JwtValidator, TokenError, TokenValidator, UpstreamError,
};
use ring::rand::SystemRandom;
use serde_json::{json, Value};

const API: &str = "https://api.example/";
const NOW: UnixTime = UnixTime::from_secs(T0);

// ---------------------------------------------------------------------------------------
// Authorization servers, in process.

/// Answers GETs from canned documents (by URL), counting them; can be taken down.
#[derive(Default)]
struct Canned {
    documents: Mutex<HashMap<String, (Value, Option<&'static str>)>>,
    requests: AtomicUsize,
    down: AtomicBool,
    /// Answers wait while the test holds it.
    held: tokio::sync::Mutex<()>,
}

impl Canned {
    fn serve(&self, url: &str, body: Value, cache_control: Option<&'static str>) {
        self.documents
            .lock()
            .unwrap()
            .insert(url.to_owned(), (body, cache_control));
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

#[portcullis::async_trait]
impl HttpClient for Canned {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        // Lets concurrent validations run into the fetch in progress.
        tokio::task::yield_now().await;
        drop(self.held.lock().await);
        if self.down.load(Ordering::SeqCst) {
            return Err(UpstreamError::new("connection refused"));
        }
        let found = self
            .documents
            .lock()
            .unwrap()
            .get(&request.uri().to_string())
            .cloned();
        let mut response = Response::builder();
        let body = match found {
            Some((body, cache_control)) => {
                if let Some(cc) = cache_control {
                    response = response.header("cache-control", cc);
                }
                serde_json::to_vec(&body).unwrap()
            }
            None => {
                response = response.status(StatusCode::NOT_FOUND);
                Vec::new()
            }
        };
        Ok(response.body(Bytes::from(body)).unwrap())
    }
}

/// Answers discovery and JWKS requests from our provider's own endpoints.
struct OurProvider(portcullis::Provider);

#[portcullis::async_trait]
impl HttpClient for OurProvider {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        let url = request.uri().to_string();
        Ok(match url.strip_prefix(ISSUER) {
            Some("/.well-known/oauth-authorization-server") => self.0.discovery(),
            Some("/jwks") => self.0.jwks().await,
            _ => Response::builder()
                .status(StatusCode::NOT_FOUND)
                .body(Bytes::new())
                .unwrap(),
        })
    }
}

const AS: &str = "https://as.example";
const JWKS: &str = "https://as.example/keys";
const RFC8414: &str = "https://as.example/.well-known/oauth-authorization-server";
const OPENID: &str = "https://as.example/.well-known/openid-configuration";

/// A hand-made authorization server: an ES256 key (`k1`) published at [`JWKS`], metadata
/// at the RFC 8414 URL.
struct Fake {
    http: Arc<Canned>,
    key: SigningKey,
}

impl Fake {
    fn new() -> Self {
        let fake = Self {
            http: Arc::default(),
            key: es256("k1"),
        };
        fake.publish(&[&fake.key], Some("max-age=300"));
        fake.http
            .serve(RFC8414, json!({"issuer": AS, "jwks_uri": JWKS}), None);
        fake
    }

    fn publish(&self, keys: &[&SigningKey], cache_control: Option<&'static str>) {
        let set = JwkSet {
            keys: keys.iter().map(|k| k.public_jwk()).collect(),
        };
        self.http
            .serve(JWKS, serde_json::to_value(set).unwrap(), cache_control);
    }

    fn keys(&self) -> Arc<IssuerKeys> {
        Arc::new(IssuerKeys::discover(issuer(AS), self.http.clone()))
    }

    fn validator(&self) -> JwtValidator {
        JwtValidator::new(self.keys(), API)
    }

    /// A token signed by `k1` with the usual header and `claims()` changed by `edit`.
    fn token(&self, edit: impl FnOnce(&mut Value)) -> String {
        let mut c = claims();
        edit(&mut c);
        signed(&self.key, &header("ES256", Some("k1"), "at+jwt"), &c)
    }
}

fn issuer(i: &str) -> Issuer {
    Issuer::parse(i).unwrap()
}

fn es256(kid: &str) -> SigningKey {
    SigningKey::generate(kid, Algorithm::ES256, &SystemRandom::new()).unwrap()
}

fn claims() -> Value {
    json!({
        "iss": AS, "sub": "alice", "client_id": "app", "aud": API, "scope": "read",
        "exp": T0 + 300, "iat": T0, "jti": "t1"
    })
}

fn header(alg: &str, kid: Option<&str>, typ: &str) -> Value {
    let mut h = json!({"alg": alg, "typ": typ});
    if let Some(kid) = kid {
        h["kid"] = kid.into();
    }
    h
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn signed(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let sig = key.sign(input.as_bytes(), &SystemRandom::new()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn invalid(result: Result<portcullis_resource::TokenClaims, TokenError>) -> &'static str {
    match result {
        Err(TokenError::Invalid(why)) => why,
        other => panic!("expected TokenError::Invalid, got {other:?}"),
    }
}

fn unavailable(result: Result<portcullis_resource::TokenClaims, TokenError>) {
    assert!(
        matches!(result, Err(TokenError::Unavailable(_))),
        "expected TokenError::Unavailable, got {result:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Our provider's tokens.

fn api_policy() -> Policy {
    let mut policy = Policy::default();
    policy.resources = vec![Resource {
        uri: API.into(),
        scopes: ScopeSet::parse("read write").unwrap(),
        token_format: TokenFormat::Jwt,
        clients: None,
    }];
    policy
}

async fn service_token(h: &Harness, resource: &str) -> String {
    let (status, json, _) = h
        .token(
            &format!(
                "grant_type=client_credentials&scope=read&resource={}",
                common::enc(resource)
            ),
            Some(("service", SECRET)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn our_providers_jwt_access_tokens_validate() {
    let h = Harness::with_policy(api_policy()).await;
    let keys = Arc::new(IssuerKeys::discover(
        issuer(ISSUER),
        Arc::new(OurProvider(h.provider.clone())),
    ));
    let validator = JwtValidator::new(keys, API);
    for alg in Algorithm::ALL {
        let token = service_token(&h, API).await;
        let claims = validator
            .clone()
            .with_algorithms([alg])
            .validate(&token, NOW)
            .await;
        // The provider signs access tokens with one algorithm: only it is accepted.
        if let Ok(c) = &claims {
            assert_eq!(c.issuer, ISSUER);
            assert_eq!(c.client_id.as_deref(), Some("service"));
            assert_eq!(c.audience, [API]);
            assert_eq!(c.scope.to_string(), "read");
            assert!(c.expires_at > NOW);
        } else {
            assert_eq!(invalid(claims), "the token's algorithm is not accepted");
        }
    }
    let token = service_token(&h, API).await;
    let claims = validator.validate(&token, NOW).await.unwrap();
    assert_eq!(claims.client_id.as_deref(), Some("service"));
    // An hour later it has expired (the provider's default lifetime), skew or not.
    let later = NOW.plus(Duration::from_secs(3600 + 60));
    assert_eq!(
        invalid(validator.validate(&token, later).await),
        "the token has expired"
    );
}

#[tokio::test]
async fn our_providers_other_tokens_are_refused() {
    let h = Harness::with_policy(api_policy()).await;
    let http = Arc::new(OurProvider(h.provider.clone()));
    let validator = JwtValidator::new(Arc::new(IssuerKeys::discover(issuer(ISSUER), http)), API);
    // An ID token: the same keys, but not an access token (RFC 9068 §2.1).
    let code = h
        .code_for("web", common::WEB_REDIRECT, "openid read", "alice")
        .await;
    let id_token = h.exchange_web(&code).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        invalid(validator.validate(&id_token, NOW).await),
        "the token is not a JWT access token"
    );
    // An opaque token.
    let opaque = h
        .exchange_web(
            &h.code_for("web", common::WEB_REDIRECT, "read", "alice")
                .await,
        )
        .await;
    assert_eq!(
        invalid(
            validator
                .validate(opaque["access_token"].as_str().unwrap(), NOW)
                .await
        ),
        "the token is malformed"
    );
    // A JWT access token of the provider, for another resource than this one.
    let other = JwtValidator::new(validator.keys().clone(), "https://other.example/");
    assert_eq!(
        invalid(other.validate(&service_token(&h, API).await, NOW).await),
        "the token is not meant for this resource"
    );
}

// ---------------------------------------------------------------------------------------
// Refusals, one by one.

#[tokio::test]
async fn a_valid_hand_made_token_passes_and_every_refusal_says_why() {
    let fake = Fake::new();
    let v = fake.validator();
    let ok = v.validate(&fake.token(|_| {}), NOW).await.unwrap();
    assert_eq!(ok.subject.as_deref(), Some("alice"));
    assert_eq!(ok.token_id.as_deref(), Some("t1"));

    let k = &fake.key;
    let c = claims();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "typ JWT",
            signed(k, &header("ES256", Some("k1"), "JWT"), &c),
            "the token is not a JWT access token",
        ),
        (
            "no typ",
            signed(k, &json!({"alg": "ES256", "kid": "k1"}), &c),
            "the token is not a JWT access token",
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&header("none", Some("k1"), "at+jwt")),
                b64(&c)
            ),
            "the token's algorithm is not accepted",
        ),
        (
            "HS256, keyed with the public key",
            hs256(k, &c),
            "the token's algorithm is not accepted",
        ),
        (
            "crit",
            signed(
                k,
                &json!({"alg": "ES256", "kid": "k1", "typ": "at+jwt", "crit": ["x"], "x": 1}),
                &c,
            ),
            "the token has an unsupported critical header",
        ),
        (
            "signed by another key under k1's kid",
            signed(&es256("k1"), &header("ES256", Some("k1"), "at+jwt"), &c),
            "the token's signature is invalid",
        ),
        (
            "EdDSA under an ES256 key's kid",
            signed(
                &SigningKey::ed25519_from_seed("k1", &[1; 32]).unwrap(),
                &header("EdDSA", Some("k1"), "at+jwt"),
                &c,
            ),
            "the token's key does not fit its algorithm",
        ),
        (
            "unknown kid",
            signed(&es256("k9"), &header("ES256", Some("k9"), "at+jwt"), &c),
            "the token's signing key is unknown",
        ),
        (
            "wrong iss",
            fake.token(|c| c["iss"] = "https://evil.example".into()),
            "the token was issued by another authorization server",
        ),
        (
            "iss with a trailing slash",
            fake.token(|c| c["iss"] = format!("{AS}/").into()),
            "the token was issued by another authorization server",
        ),
        (
            "wrong aud",
            fake.token(|c| c["aud"] = json!(["https://other.example/"])),
            "the token is not meant for this resource",
        ),
        (
            "no aud",
            fake.token(|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
            "the token is not meant for this resource",
        ),
        (
            "expired beyond the skew",
            fake.token(|c| c["exp"] = (T0 - 60).into()),
            "the token has expired",
        ),
        (
            "nbf beyond the skew",
            fake.token(|c| c["nbf"] = (T0 + 61).into()),
            "the token is not valid yet",
        ),
        (
            "iat beyond the skew",
            fake.token(|c| c["iat"] = (T0 + 61).into()),
            "the token was issued in the future",
        ),
        (
            "no exp",
            fake.token(|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
            "the token's claims are malformed",
        ),
        (
            "bound by a key by value (RFC 7800 §3.2), which the resource cannot check",
            fake.token(|c| c["cnf"] = serde_json::json!({"jwk": {"kty": "OKP"}})),
            "the token's claims are malformed",
        ),
        (
            "exp a string",
            fake.token(|c| c["exp"] = "tomorrow".into()),
            "the token's claims are malformed",
        ),
        (
            "oversized",
            fake.token(|c| c["pad"] = "x".repeat(8 * 1024).into()),
            "the token is too long",
        ),
        ("garbage", "not a token".into(), "the token is malformed"),
        (
            "four parts",
            format!("{}.x", fake.token(|_| {})),
            "the token is malformed",
        ),
        ("empty", String::new(), "the token is malformed"),
    ];
    for (case, token, why) in cases {
        assert_eq!(invalid(v.validate(&token, NOW).await), why, "{case}");
    }
}

/// An HS256 MAC keyed with the public key's JWK, the classic algorithm confusion.
fn hs256(key: &SigningKey, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(&header("HS256", Some("k1"), "at+jwt")),
        b64(claims)
    );
    let secret = serde_json::to_vec(&key.public_jwk()).unwrap();
    let mac = MacAlgorithm::HS256.sign(&secret, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac))
}

#[tokio::test]
async fn the_skew_is_tolerated_and_configurable() {
    let fake = Fake::new();
    let v = fake.validator();
    let edge = fake.token(|c| {
        c["exp"] = (T0 - 59).into();
        c["nbf"] = (T0 + 60).into();
        c["iat"] = (T0 + 60).into();
    });
    v.validate(&edge, NOW).await.unwrap();
    let strict = v.clone().with_clock_skew(Duration::ZERO);
    assert_eq!(
        invalid(strict.validate(&edge, NOW).await),
        "the token has expired"
    );
    let at_exp = fake.token(|c| c["exp"] = T0.into());
    assert_eq!(
        invalid(strict.validate(&at_exp, NOW).await),
        "the token has expired"
    );
    let at_nbf = fake.token(|c| c["nbf"] = T0.into());
    strict.validate(&at_nbf, NOW).await.unwrap();
}

#[tokio::test]
async fn typ_may_carry_the_media_type_prefix_in_any_case() {
    let fake = Fake::new();
    let v = fake.validator();
    for typ in ["application/at+jwt", "AT+JWT", "Application/At+Jwt"] {
        let token = signed(&fake.key, &header("ES256", Some("k1"), typ), &claims());
        v.validate(&token, NOW).await.unwrap();
    }
}

#[tokio::test]
async fn algorithms_outside_the_allow_list_are_refused() {
    let fake = Fake::new();
    let v = fake.validator().with_algorithms([Algorithm::EdDSA]);
    assert_eq!(
        invalid(v.validate(&fake.token(|_| {}), NOW).await),
        "the token's algorithm is not accepted"
    );
}

#[tokio::test]
async fn without_kid_the_only_key_for_the_algorithm_verifies() {
    let fake = Fake::new();
    let v = fake.validator();
    let no_kid = signed(&fake.key, &header("ES256", None, "at+jwt"), &claims());
    v.validate(&no_kid, NOW).await.unwrap();
    // Two ES256 keys: a token without `kid` cannot say which.
    let second = es256("k2");
    fake.publish(&[&fake.key, &second], None);
    let later = NOW.plus(Duration::from_secs(300));
    assert_eq!(
        invalid(v.validate(&no_kid, later).await),
        "the token's signing key is unknown"
    );
}

// ---------------------------------------------------------------------------------------
// Keys: discovery, caching, refetching.

#[tokio::test]
async fn discovery_falls_back_to_openid_and_checks_the_issuer() {
    let fake = Fake::new();
    let metadata = json!({"issuer": AS, "jwks_uri": JWKS});
    fake.http.documents.lock().unwrap().remove(RFC8414);
    fake.http.serve(OPENID, metadata.clone(), None);
    let token = fake.token(|_| {});
    fake.validator().validate(&token, NOW).await.unwrap();
    // RFC 8414 (404), OpenID, JWKS.
    assert_eq!(fake.http.requests(), 3);
    let openid = IssuerKeys::discover_openid(issuer(AS), fake.http.clone());
    JwtValidator::new(Arc::new(openid), API)
        .validate(&token, NOW)
        .await
        .unwrap();
    assert_eq!(fake.http.requests(), 5);

    // RFC 8414 §3.3: a document for another issuer is not used, whatever its keys.
    for other in [format!("{AS}/"), "https://evil.example".to_owned()] {
        fake.http
            .serve(OPENID, json!({"issuer": other, "jwks_uri": JWKS}), None);
        unavailable(fake.validator().validate(&token, NOW).await);
    }
    // A jwks_uri that is neither https nor loopback http is not fetched.
    fake.http.serve(
        OPENID,
        json!({"issuer": AS, "jwks_uri": "http://as.example/keys"}),
        None,
    );
    unavailable(fake.validator().validate(&token, NOW).await);
}

#[tokio::test]
async fn a_configured_jwks_uri_needs_no_discovery() {
    let fake = Fake::new();
    let keys = IssuerKeys::from_jwks_uri(issuer(AS), JWKS, fake.http.clone());
    JwtValidator::new(Arc::new(keys), API)
        .validate(&fake.token(|_| {}), NOW)
        .await
        .unwrap();
    assert_eq!(fake.http.requests(), 1);
}

#[tokio::test]
async fn keys_are_cached_for_their_max_age_within_bounds() {
    let fake = Fake::new();
    let v = fake.validator();
    let token = fake.token(|c| c["exp"] = (T0 + 100_000).into());
    let at = |secs: u64| NOW.plus(Duration::from_secs(secs));
    v.validate(&token, NOW).await.unwrap();
    assert_eq!(fake.http.requests(), 2, "metadata and keys");
    v.validate(&token, at(299)).await.unwrap();
    assert_eq!(fake.http.requests(), 2, "fresh for max-age=300");
    v.validate(&token, at(300)).await.unwrap();
    assert_eq!(
        fake.http.requests(),
        3,
        "the keys again, the jwks_uri remembered"
    );

    // no-store: fresh for the 60 s minimum still.
    fake.publish(&[&fake.key], Some("no-store"));
    v.validate(&token, at(600)).await.unwrap();
    assert_eq!(fake.http.requests(), 4);
    v.validate(&token, at(659)).await.unwrap();
    assert_eq!(fake.http.requests(), 4);
    v.validate(&token, at(660)).await.unwrap();
    assert_eq!(fake.http.requests(), 5);

    // A year's max-age: a day at most.
    fake.publish(&[&fake.key], Some("public, max-age=31536000"));
    v.validate(&token, at(1000)).await.unwrap();
    assert_eq!(fake.http.requests(), 6);
    v.validate(&token, at(1000 + 86_399)).await.unwrap();
    assert_eq!(fake.http.requests(), 6);
    v.validate(&token, at(1000 + 86_400)).await.unwrap();
    assert_eq!(fake.http.requests(), 7);
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_a_minute() {
    let fake = Fake::new();
    let v = fake.validator();
    v.validate(&fake.token(|_| {}), NOW).await.unwrap();
    assert_eq!(fake.http.requests(), 2);
    let interval = REFETCH_INTERVAL.as_secs();

    // A flood of tokens with made-up kids, a minute after the first fetch: one fetch.
    let t = NOW.plus(Duration::from_secs(interval));
    for i in 0..200 {
        let kid = format!("random-{i}");
        let token = signed(
            &es256(&kid),
            &header("ES256", Some(&kid), "at+jwt"),
            &claims(),
        );
        assert_eq!(
            invalid(v.validate(&token, t).await),
            "the token's signing key is unknown"
        );
    }
    assert_eq!(fake.http.requests(), 3);

    // The server rotates to k2 within that minute: its tokens wait for the next minute,
    // unavailable (503: the keys are being refreshed), not invalid (the client keeps them).
    let k2 = es256("k2");
    fake.publish(&[&fake.key, &k2], None);
    let rotated = signed(&k2, &header("ES256", Some("k2"), "at+jwt"), &claims());
    let just_before = t.plus(Duration::from_secs(interval - 1));
    unavailable(v.validate(&rotated, just_before).await);
    assert_eq!(fake.http.requests(), 3);
    let next_minute = t.plus(REFETCH_INTERVAL);
    let rotated_claims = v.validate(&rotated, next_minute).await.unwrap();
    assert_eq!(rotated_claims.subject.as_deref(), Some("alice"));
    assert_eq!(fake.http.requests(), 4);
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_misses_share_one_fetch() {
    let fake = Fake::new();
    let v = Arc::new(fake.validator());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let v = v.clone();
        let token = if i % 2 == 0 {
            fake.token(|_| {})
        } else {
            let kid = format!("random-{i}");
            signed(
                &es256(&kid),
                &header("ES256", Some(&kid), "at+jwt"),
                &claims(),
            )
        };
        tasks.spawn(async move { (i, v.validate(&token, NOW).await) });
    }
    while let Some(done) = tasks.join_next().await {
        let (i, result) = done.unwrap();
        if i % 2 == 0 {
            result.unwrap();
        } else {
            assert_eq!(invalid(result), "the token's signing key is unknown");
        }
    }
    assert_eq!(fake.http.requests(), 2, "one discovery, one JWKS");
}

#[tokio::test(flavor = "current_thread")]
async fn stale_keys_serve_while_they_are_fetched_again() {
    let fake = Fake::new();
    let v = Arc::new(fake.validator());
    let token = fake.token(|c| c["exp"] = (T0 + 1000).into());
    v.validate(&token, NOW).await.unwrap();
    let stale = NOW.plus(Duration::from_secs(300));
    let held = fake.http.held.lock().await;
    let fetching = tokio::spawn({
        let (v, token) = (v.clone(), token.clone());
        async move { v.validate(&token, stale).await }
    });
    while fake.http.requests() < 3 {
        tokio::task::yield_now().await;
    }
    // The fetch hangs; another request does not wait for it (a bound, not a sleep: the
    // validation returns at once, or never).
    tokio::time::timeout(Duration::from_secs(10), v.validate(&token, stale))
        .await
        .expect("stale keys serve at once")
        .unwrap();
    assert!(!fetching.is_finished());
    drop(held);
    fetching.await.unwrap().unwrap();
    assert_eq!(fake.http.requests(), 3);
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_until_keys_are_cached_then_stale_keys_serve() {
    let fake = Fake::new();
    let keys = IssuerKeys::from_jwks_uri(issuer(AS), JWKS, fake.http.clone());
    let v = JwtValidator::new(Arc::new(keys), API);
    let token = fake.token(|c| c["exp"] = (T0 + 100_000).into());
    let at = |secs: u64| NOW.plus(Duration::from_secs(secs));

    fake.http.down.store(true, Ordering::SeqCst);
    unavailable(v.validate(&token, NOW).await);
    assert_eq!(fake.http.requests(), 1);
    // What is no acceptable JWS needs no keys to be refused.
    let none = format!(
        "{}.{}.",
        b64(&header("none", None, "at+jwt")),
        b64(&claims())
    );
    for (garbage, why) in [
        ("not a token", "the token is malformed"),
        (none.as_str(), "the token's algorithm is not accepted"),
    ] {
        assert_eq!(invalid(v.validate(garbage, NOW).await), why);
    }
    // Asked again only a minute later, however many tokens come.
    unavailable(v.validate(&token, at(59)).await);
    assert_eq!(fake.http.requests(), 1);
    unavailable(v.validate(&token, at(60)).await);
    assert_eq!(fake.http.requests(), 2);

    fake.http.down.store(false, Ordering::SeqCst);
    v.validate(&token, at(120)).await.unwrap();
    let fetched = fake.http.requests();

    // Stale-if-error: the keys went stale while the server was down; they still verify.
    fake.http.down.store(true, Ordering::SeqCst);
    v.validate(&token, at(120 + 300)).await.unwrap();
    assert_eq!(fake.http.requests(), fetched + 1);
    v.validate(&token, at(120 + 301)).await.unwrap();
    assert_eq!(
        fake.http.requests(),
        fetched + 1,
        "retried a minute later only"
    );
    v.validate(&token, at(120 + 360)).await.unwrap();
    assert_eq!(fake.http.requests(), fetched + 2);
}

#[tokio::test]
async fn a_broken_jwks_answer_is_unavailable() {
    for (body, status_ok) in [(json!({"nokeys": []}), true), (json!({}), false)] {
        let fake = Fake::new();
        if status_ok {
            fake.http.serve(JWKS, body, None);
        } else {
            fake.http.documents.lock().unwrap().remove(JWKS);
        }
        unavailable(fake.validator().validate(&fake.token(|_| {}), NOW).await);
    }
}

/// Stale-if-error is bounded: keys stale for more than MAX_STALE (the server down all along)
/// no longer verify; the validation is unavailable (503) until a fetch succeeds.
#[tokio::test]
async fn stale_keys_serve_for_at_most_max_stale() {
    let fake = Fake::new();
    let keys = IssuerKeys::from_jwks_uri(issuer(AS), JWKS, fake.http.clone());
    let v = JwtValidator::new(Arc::new(keys), API);
    let token = fake.token(|c| c["exp"] = (T0 + 10 * 86_400).into());
    v.validate(&token, NOW).await.unwrap();
    fake.http.down.store(true, Ordering::SeqCst);
    // Fresh for max-age=300, then stale for MAX_STALE.
    let end = NOW.plus(Duration::from_secs(300)).plus(MAX_STALE);
    v.validate(&token, UnixTime::from_secs(end.secs() - 1))
        .await
        .unwrap();
    unavailable(v.validate(&token, end).await);
    // Within the refetch interval too: no stale keys to fall back on.
    unavailable(v.validate(&token, end.plus(Duration::from_secs(1))).await);
    fake.http.down.store(false, Ordering::SeqCst);
    v.validate(&token, end.plus(REFETCH_INTERVAL))
        .await
        .unwrap();
}

/// A configured jwks_uri must be https (http only to a loopback host): another is never
/// fetched, and validations are unavailable (503).
#[tokio::test]
async fn a_jwks_uri_without_https_is_never_fetched() {
    let fake = Fake::new();
    for uri in ["http://as.example/keys", "https://user:pw@as.example/keys"] {
        let keys = IssuerKeys::from_jwks_uri(issuer(AS), uri, fake.http.clone());
        let v = JwtValidator::new(Arc::new(keys), API);
        unavailable(v.validate(&fake.token(|_| {}), NOW).await);
    }
    assert_eq!(fake.http.requests(), 0);
    let keys = IssuerKeys::from_jwks_uri(issuer(AS), "http://127.0.0.1/keys", fake.http.clone());
    let v = JwtValidator::new(Arc::new(keys), API);
    unavailable(v.validate(&fake.token(|_| {}), NOW).await);
    assert_eq!(fake.http.requests(), 1, "loopback http is fetched");
}
