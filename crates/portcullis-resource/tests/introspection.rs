//! `IntrospectionValidator` against the real engine: a Portcullis provider on a manual clock
//! answers the introspection requests in process (RFC 7662, RFC 9701), through an
//! `HttpClient` that counts them.

use std::collections::BTreeSet;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine as _};
use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use portcullis::core::{
    Algorithm, Client, ClientKeys, ClientKind, ClientSecretHash, GrantType, Issuer, JwkSet, Policy,
    Resource, ScopeSet, SigningKey, TokenFormat, UnixTime,
};
use portcullis::{ManualClock, Provider, Stores};
use portcullis_resource::{
    ClientCredentials, Clock, HttpClient, IntrospectionConfig, IntrospectionValidator, IssuerKeys,
    JwtResponses, ResourceServer, TokenClaims, TokenError, TokenValidator, UpstreamError,
};
use portcullis_store_memory::MemoryStore;
use ring::rand::SystemRandom;
use serde_json::{json, Value};

const ISSUER: &str = "https://as.example";
const T0: u64 = 1_700_000_000;
/// The API, registered at the provider as a resource and as the client that introspects.
const API: &str = "https://api.example/";
/// A second API, authenticating with `private_key_jwt`.
const PK_API: &str = "https://pk-api.example/";
/// The API's secret: RFC 6749 §2.3.1 form-encodes it before Basic.
const API_SECRET: &str = "s:e%c r+t/é";
const APP_SECRET: &str = "app-secret";
const NOT_ACTIVE: &str = "the token is not active";
const REFUSED_CREDENTIALS: &str =
    "the authorization server refused this resource server's credentials";

fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap()
}

fn secret_hash(secret: &str) -> ClientSecretHash {
    ClientSecretHash::pbkdf2(secret, NonZeroU32::new(1000).unwrap(), &SystemRandom::new()).unwrap()
}

/// A provider with two opaque-token resources, a client `app` that gets tokens for them,
/// and the two APIs as confidential clients (by secret and by key).
struct AuthServer {
    provider: Provider,
    clock: Arc<ManualClock>,
    /// The key `PK_API` registered the public half of.
    api_key: Arc<SigningKey>,
}

impl AuthServer {
    async fn new() -> Self {
        let resource = |uri: &str| Resource {
            uri: uri.into(),
            scopes: scopes("read"),
            token_format: TokenFormat::Opaque,
            clients: None::<BTreeSet<String>>,
        };
        let mut policy = Policy::default();
        policy.resources = vec![resource(API), resource(PK_API)];
        let clock = Arc::new(ManualClock::new(UnixTime::from_secs(T0)));
        let provider = Provider::builder(Issuer::parse(ISSUER).unwrap())
            .stores(Stores::shared(Arc::new(MemoryStore::new())))
            .clock(clock.clone())
            .policy(policy)
            .build()
            .unwrap();
        let api_key =
            SigningKey::generate("api-key", Algorithm::ES256, &SystemRandom::new()).unwrap();
        let app = Client::new("app", ClientKind::confidential(secret_hash(APP_SECRET)))
            .with_allowed_scopes(scopes("read"))
            .with_default_scopes(scopes("read"))
            .with_grant_types([GrantType::ClientCredentials]);
        let api = Client::new(API, ClientKind::confidential(secret_hash(API_SECRET)));
        let pk_api = Client::new(
            PK_API,
            ClientKind::PrivateKeyJwt {
                keys: ClientKeys::Jwks(JwkSet {
                    keys: vec![api_key.public_jwk()],
                }),
            },
        );
        for c in [app, api, pk_api] {
            provider.register_client(&c).await.unwrap();
        }
        Self {
            provider,
            clock,
            api_key: Arc::new(api_key),
        }
    }

    fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// A fresh opaque access token of `app` for `resource`.
    async fn token(&self, resource: &str) -> String {
        let body = format!(
            "grant_type=client_credentials&scope=read&resource={}",
            form(resource)
        );
        let r = self.provider.token(app_request(body)).await;
        assert_eq!(r.status(), StatusCode::OK);
        let json: Value = serde_json::from_slice(r.body()).unwrap();
        json["access_token"].as_str().unwrap().to_owned()
    }

    async fn revoke(&self, token: &str) {
        let r = self
            .provider
            .revoke(app_request(format!("token={token}")))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    /// JWT responses verified with the keys found through the provider's metadata.
    fn jwt_responses(http: &Arc<ToEngine>) -> JwtResponses {
        let issuer = Issuer::parse(ISSUER).unwrap();
        JwtResponses::new(Arc::new(IssuerKeys::discover(issuer, http.clone())))
    }
}

fn form(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn app_request(body: String) -> Request<Bytes> {
    Request::post("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("app:{APP_SECRET}"))),
        )
        .body(Bytes::from(body))
        .unwrap()
}

/// The provider as an `HttpClient`: its metadata and keys for GETs, its introspection
/// endpoint for POSTs, which it counts and whose answers it can alter; it can be taken down.
struct ToEngine {
    provider: Provider,
    calls: AtomicUsize,
    down: AtomicBool,
    last_request: Mutex<Option<Request<Bytes>>>,
    alter: fn(Response<Bytes>) -> Response<Bytes>,
}

impl ToEngine {
    fn new(engine: &AuthServer) -> Arc<Self> {
        Self::altering(engine, |r| r)
    }

    fn altering(engine: &AuthServer, alter: fn(Response<Bytes>) -> Response<Bytes>) -> Arc<Self> {
        Arc::new(Self {
            provider: engine.provider.clone(),
            calls: AtomicUsize::new(0),
            down: AtomicBool::new(false),
            last_request: Mutex::new(None),
            alter,
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl HttpClient for ToEngine {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        if request.method() == http::Method::POST {
            self.calls.fetch_add(1, Ordering::SeqCst);
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(UpstreamError::new("connection refused"));
        }
        if request.method() == http::Method::GET {
            return Ok(match request.uri().path() {
                "/.well-known/oauth-authorization-server" => self.provider.discovery(),
                _ => self.provider.jwks().await,
            });
        }
        let (parts, body) = request.into_parts();
        *self.last_request.lock().unwrap() = Some(Request::from_parts(parts.clone(), body.clone()));
        let response = self
            .provider
            .introspect(Request::from_parts(parts, body))
            .await;
        Ok((self.alter)(response))
    }
}

fn basic(secret: &str) -> ClientCredentials {
    ClientCredentials::SecretBasic {
        client_id: API.into(),
        secret: secret.into(),
    }
}

fn config(resource: &str, credentials: ClientCredentials) -> IntrospectionConfig {
    IntrospectionConfig::new(
        Issuer::parse(ISSUER).unwrap(),
        Uri::from_static("https://as.example/introspect"),
        resource,
        credentials,
    )
}

/// The provider, the `HttpClient` to it, and a validator for `API` with its secret, as
/// `configure` adjusts it.
struct Rig {
    e: AuthServer,
    http: Arc<ToEngine>,
    v: IntrospectionValidator,
}

async fn rig(configure: impl FnOnce(&mut IntrospectionConfig, &Arc<ToEngine>)) -> Rig {
    let e = AuthServer::new().await;
    let http = ToEngine::new(&e);
    let mut c = config(API, basic(API_SECRET));
    configure(&mut c, &http);
    let v = IntrospectionValidator::new(c, http.clone());
    Rig { e, http, v }
}

impl Rig {
    async fn validate(&self, token: &str) -> Result<TokenClaims, TokenError> {
        self.v.validate(token, self.e.now()).await
    }

    /// Validates `token` now and `held - 1` s later with one request between them (the same
    /// answer twice), then returns the answer `held` s after the first, which took one more.
    async fn answer_after(&self, token: &str, held: u64) -> Result<TokenClaims, TokenError> {
        let calls = self.http.calls();
        let first = format!("{:?}", self.validate(token).await);
        self.e.clock.advance(held - 1);
        assert_eq!(format!("{:?}", self.validate(token).await), first);
        assert_eq!(self.http.calls(), calls + 1);
        self.e.clock.advance(1);
        let after = self.validate(token).await;
        assert_eq!(self.http.calls(), calls + 2);
        after
    }
}

#[track_caller]
fn assert_invalid(result: Result<impl std::fmt::Debug, TokenError>, description: &str) {
    match result {
        Err(TokenError::Invalid(d)) => assert_eq!(d, description),
        other => panic!("expected Invalid({description}), got {other:?}"),
    }
}

#[track_caller]
fn assert_unavailable(result: Result<impl std::fmt::Debug, TokenError>, context: &str) {
    match result {
        Err(TokenError::Unavailable(e)) => assert_eq!(e.to_string(), context),
        other => panic!("expected Unavailable({context}), got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_opaque_token_is_introspected_once_then_served_from_the_cache() {
    let Rig { e, http, v } = rig(|_, _| {}).await;
    let token = e.token(API).await;
    let claims = v.validate(&token, e.now()).await.unwrap();
    assert_eq!(claims.issuer, ISSUER);
    assert_eq!(claims.client_id.as_deref(), Some("app"));
    assert_eq!(claims.audience, [API]);
    assert!(claims.scope.contains("read"));
    assert_eq!(claims.expires_at, UnixTime::from_secs(T0 + 3600));
    assert!(!claims.extra.contains_key("active"));
    for _ in 0..5 {
        assert_eq!(v.validate(&token, e.now()).await.unwrap(), claims);
    }
    assert_eq!(http.calls(), 1);
    // RFC 7662 §2.1: a form POST with the token and its hint; RFC 6749 §2.3.1: the id and
    // secret form-encoded, then Basic.
    let request = http.last_request.lock().unwrap().take().unwrap();
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(request.headers()["accept"], "application/json");
    assert_eq!(
        request.headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        request.body(),
        &Bytes::from(format!("token={token}&token_type_hint=access_token"))
    );
    assert_eq!(
        request.headers()["authorization"],
        format!(
            "Basic {}",
            STANDARD.encode("https%3A%2F%2Fapi.example%2F:s%3Ae%25c+r%2Bt%2F%C3%A9")
        )
    );
    assert!(request.headers()["authorization"].is_sensitive());
}

/// An `HttpClient` whose introspection answers wait until released: requests made in the
/// meantime are all in flight at once.
struct Held {
    inner: Arc<ToEngine>,
    release: tokio::sync::Semaphore,
}

#[async_trait::async_trait]
impl HttpClient for Held {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        let answer = self.inner.send(request).await;
        let _ = self.release.acquire().await;
        answer
    }
}

/// Concurrent validations of one token the cache does not have make one introspection
/// request; the others are answered from it. Another token makes its own.
#[tokio::test]
async fn concurrent_misses_of_one_token_make_one_request() {
    let e = AuthServer::new().await;
    let counted = ToEngine::new(&e);
    let held = Arc::new(Held {
        inner: counted.clone(),
        release: tokio::sync::Semaphore::new(0),
    });
    let v = Arc::new(IntrospectionValidator::new(
        config(API, basic(API_SECRET)),
        held.clone(),
    ));
    let (token, other) = (e.token(API).await, e.token(API).await);
    let now = e.now();
    let tasks: Vec<_> = [&token, &token, &token, &token, &other]
        .into_iter()
        .map(|t| {
            let (v, t) = (v.clone(), t.clone());
            tokio::spawn(async move { v.validate(&t, now).await })
        })
        .collect();
    // Let every task start and reach its request, or wait for the one in flight.
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        counted.calls(),
        2,
        "one request per token while they are held"
    );
    held.release.add_permits(10);
    for task in tasks {
        let claims = task.await.unwrap().unwrap();
        assert_eq!(claims.audience, [API]);
    }
    assert_eq!(counted.calls(), 2);
    assert_eq!(v.validate(&token, now).await.unwrap().audience, [API]);
    assert_eq!(counted.calls(), 2);
}

#[tokio::test]
async fn a_revoked_token_is_accepted_until_the_cache_bound_then_refused() {
    let r = rig(|_, _| {}).await;
    let token = r.e.token(API).await;
    r.validate(&token).await.unwrap();
    r.e.revoke(&token).await;
    // The revocation delay: 60 s by default.
    r.e.clock.advance(59);
    r.validate(&token).await.unwrap();
    assert_eq!(r.http.calls(), 1);
    r.e.clock.advance(1);
    assert_invalid(r.validate(&token).await, NOT_ACTIVE);
    assert_eq!(r.http.calls(), 2);
}

#[tokio::test]
async fn the_cache_bound_is_configurable() {
    let r = rig(|c, _| c.cache_max_age = Duration::from_secs(10)).await;
    let token = r.e.token(API).await;
    r.answer_after(&token, 10).await.unwrap();
}

#[tokio::test]
async fn a_cached_token_is_never_served_past_its_exp() {
    let r = rig(|c, _| c.cache_max_age = Duration::from_secs(7200)).await;
    let token = r.e.token(API).await;
    r.e.clock.advance(3600 - 31);
    // Cached until exp (T0 + 3600), when the provider says inactive.
    assert_invalid(r.answer_after(&token, 31).await, NOT_ACTIVE);
}

#[tokio::test]
async fn refusals_are_cached_briefly() {
    let r = rig(|_, _| {}).await;
    assert_invalid(r.answer_after("nope", 5).await, NOT_ACTIVE);
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let r = rig(|_, _| {}).await;
    let token = r.e.token(API).await;
    r.e.clock.advance(3600);
    assert_invalid(r.validate(&token).await, NOT_ACTIVE);
}

#[tokio::test]
async fn a_token_for_another_resource_is_refused() {
    // The API introspects a token the provider issued for it, but is configured as another
    // resource: the audience does not name it.
    let r = rig(|c, _| c.resource = "https://elsewhere.example/".into()).await;
    let token = r.e.token(API).await;
    assert_invalid(
        r.validate(&token).await,
        "the token is not for this resource",
    );
}

#[tokio::test]
async fn the_cache_is_bounded_and_drops_the_soonest_to_expire_first() {
    let Rig { e, http, v } = rig(|c, _| c.cache_capacity = 2).await;
    let [a, b, c] = [e.token(API).await, e.token(API).await, e.token(API).await];
    for t in [&a, &b, &c] {
        v.validate(t, e.now()).await.unwrap();
        e.clock.advance(1);
    }
    assert_eq!(http.calls(), 3);
    // `a` (cached until T0 + 60) made room for `c`; `b` and `c` are still kept.
    v.validate(&c, e.now()).await.unwrap();
    v.validate(&b, e.now()).await.unwrap();
    assert_eq!(http.calls(), 3);
    v.validate(&a, e.now()).await.unwrap();
    assert_eq!(http.calls(), 4);
}

#[tokio::test]
async fn a_flood_of_unknown_tokens_does_not_push_out_a_valid_one() {
    let r = rig(|c, _| c.cache_capacity = 2).await;
    let token = r.e.token(API).await;
    r.validate(&token).await.unwrap();
    for i in 0..50 {
        assert_invalid(r.validate(&format!("junk-{i}")).await, NOT_ACTIVE);
    }
    assert_eq!(r.http.calls(), 51);
    r.validate(&token).await.unwrap();
    assert_eq!(r.http.calls(), 51);
    // The last junk token is still cached; the earlier ones were displaced.
    assert_invalid(r.validate("junk-49").await, NOT_ACTIVE);
    assert_invalid(r.validate("junk-0").await, NOT_ACTIVE);
    assert_eq!(r.http.calls(), 52);
}

#[tokio::test]
async fn private_key_jwt_with_a_fresh_assertion_per_request() {
    let e = AuthServer::new().await;
    let http = ToEngine::new(&e);
    let credentials = ClientCredentials::PrivateKeyJwt {
        client_id: PK_API.into(),
        key: e.api_key.clone(),
    };
    let v = IntrospectionValidator::new(config(PK_API, credentials), http.clone());
    // Two requests in the same second: the engine spends each assertion's jti once, so
    // the second passes only with a fresh one.
    for _ in 0..2 {
        let token = e.token(PK_API).await;
        let claims = v.validate(&token, e.now()).await.unwrap();
        assert_eq!(claims.audience, [PK_API]);
    }
    assert_eq!(http.calls(), 2);
    let request = http.last_request.lock().unwrap().take().unwrap();
    assert!(request.headers().get("authorization").is_none());
    let body = std::str::from_utf8(request.body()).unwrap();
    assert!(body.contains(
        "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion="
    ));
    let debug = format!("{v:?}");
    assert!(
        debug.contains("private_key_jwt") && !debug.contains("pkcs8"),
        "{debug}"
    );
}

#[tokio::test]
async fn wrong_credentials_make_the_validator_unavailable_and_are_not_cached() {
    let r = rig(|c, _| c.credentials = basic("wrong")).await;
    let token = r.e.token(API).await;
    assert_unavailable(r.validate(&token).await, REFUSED_CREDENTIALS);
    assert_unavailable(r.validate(&token).await, REFUSED_CREDENTIALS);
    assert_eq!(r.http.calls(), 2);
    let debug = format!("{:?}", r.v);
    assert!(
        debug.contains("client_secret_basic") && !debug.contains("wrong"),
        "{debug}"
    );
}

#[tokio::test]
async fn an_unreachable_authorization_server_is_unavailable_and_not_cached() {
    let r = rig(|_, _| {}).await;
    let token = r.e.token(API).await;
    r.http.down.store(true, Ordering::SeqCst);
    assert_unavailable(r.validate(&token).await, "connection refused");
    r.http.down.store(false, Ordering::SeqCst);
    r.validate(&token).await.unwrap();
    assert_eq!(r.http.calls(), 2);
}

#[tokio::test]
async fn jwt_responses_are_verified() {
    let Rig { e, http, v } =
        rig(|c, http| c.jwt_responses = Some(AuthServer::jwt_responses(http))).await;
    let token = e.token(API).await;
    let claims = v.validate(&token, e.now()).await.unwrap();
    assert_eq!(
        (claims.issuer.as_str(), claims.audience.as_slice()),
        (ISSUER, [API.to_owned()].as_slice())
    );
    let request = http.last_request.lock().unwrap().take().unwrap();
    assert_eq!(
        request.headers()["accept"],
        "application/token-introspection+jwt"
    );
    e.revoke(&token).await;
    e.clock.advance(60);
    assert_invalid(v.validate(&token, e.now()).await, NOT_ACTIVE);
}

fn tampered(response: Response<Bytes>) -> Response<Bytes> {
    let (parts, body) = response.into_parts();
    let text = std::str::from_utf8(&body).unwrap();
    let (signed, _) = text.rsplit_once('.').unwrap();
    let (header, payload) = signed.split_once('.').unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value = serde_json::from_slice(&b64.decode(payload).unwrap()).unwrap();
    claims["token_introspection"]["aud"] = json!(API);
    let forged = b64.encode(claims.to_string());
    let (_, signature) = text.rsplit_once('.').unwrap();
    Response::from_parts(parts, Bytes::from(format!("{header}.{forged}.{signature}")))
}

#[tokio::test]
async fn a_tampered_jwt_response_is_refused() {
    let e = AuthServer::new().await;
    let http = ToEngine::altering(&e, tampered);
    let mut c = config(API, basic(API_SECRET));
    c.jwt_responses = Some(AuthServer::jwt_responses(&http));
    let v = IntrospectionValidator::new(c, http);
    let token = e.token(API).await;
    assert_unavailable(
        v.validate(&token, e.now()).await,
        "the JWT introspection response did not verify",
    );
}

#[tokio::test]
async fn a_jwt_response_from_another_key_or_too_old_or_unsigned_is_refused() {
    let e = AuthServer::new().await;
    let http = ToEngine::new(&e);
    let token = e.token(API).await;
    let other = SigningKey::generate("as-key", Algorithm::ES256, &SystemRandom::new()).unwrap();
    let mut c = config(API, basic(API_SECRET));
    c.jwt_responses = Some(static_keys(&other));
    let v = IntrospectionValidator::new(c, http.clone());
    assert_unavailable(
        v.validate(&token, e.now()).await,
        "the JWT introspection response did not verify",
    );
    // This server's clock 61 s ahead of the provider's: the response's iat is too old.
    let mut c = config(API, basic(API_SECRET));
    c.jwt_responses = Some(AuthServer::jwt_responses(&http));
    let v = IntrospectionValidator::new(c, http.clone());
    assert_unavailable(
        v.validate(&token, e.now().plus(Duration::from_secs(61)))
            .await,
        "the JWT introspection response is not fresh",
    );
    // JSON where a JWT was asked for (an authorization server without RFC 9701): no
    // fallback.
    let mut c = config(API, basic(API_SECRET));
    c.jwt_responses = Some(AuthServer::jwt_responses(&http));
    let v = IntrospectionValidator::new(c, Arc::new(JsonOnly(http)));
    assert_unavailable(
        v.validate(&token, e.now()).await,
        "the JWT introspection response did not verify",
    );
}

/// Asks the provider for JSON whatever the validator accepts.
struct JsonOnly(Arc<ToEngine>);

#[async_trait::async_trait]
impl HttpClient for JsonOnly {
    async fn send(&self, mut request: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        request.headers_mut().remove("accept");
        self.0.send(request).await
    }
}

/// Answers every request with one canned response.
struct Canned(StatusCode, Bytes);

#[async_trait::async_trait]
impl HttpClient for Canned {
    async fn send(&self, _: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        Ok(Response::builder()
            .status(self.0)
            .body(self.1.clone())
            .unwrap())
    }
}

fn canned(status: StatusCode, body: &str) -> IntrospectionValidator {
    let mut c = config(API, basic(API_SECRET));
    c.require_audience = true;
    IntrospectionValidator::new(c, Arc::new(Canned(status, Bytes::from(body.to_owned()))))
}

#[tokio::test]
async fn answers_are_held_to_rfc_7662() {
    let now = UnixTime::from_secs(T0);
    let refused = [
        (
            r#"{"active":true,"exp":1700000100,"iss":"https://other.example","aud":"https://api.example/"}"#,
            "the token is from another issuer",
        ),
        (
            r#"{"active":true,"aud":"https://api.example/"}"#,
            "the token has no expiry",
        ),
        (
            r#"{"active":true,"exp":1700000100}"#,
            "the token names no audience",
        ),
        (
            r#"{"active":true,"exp":1700000100,"aud":["x","y"]}"#,
            "the token is not for this resource",
        ),
        (
            r#"{"active":true,"exp":1700000000,"aud":"https://api.example/"}"#,
            "the token has expired",
        ),
        (
            r#"{"active":true,"exp":1700000100,"nbf":1700000061,"aud":"https://api.example/"}"#,
            "the token is not valid yet",
        ),
        (
            r#"{"active":false,"exp":1700000100,"aud":"https://api.example/"}"#,
            NOT_ACTIVE,
        ),
        (
            r#"{"active":true,"exp":1700000100,"aud":"https://api.example/","token_type":"refresh_token"}"#,
            "the token is not an access token",
        ),
        (
            r#"{"active":true,"exp":1700000100,"aud":"https://api.example/","token_type":"N_A"}"#,
            "the token is not an access token",
        ),
        (
            r#"{"active":true,"exp":1700000100,"aud":"https://api.example/","token_type":null}"#,
            "the token is not an access token",
        ),
        // RFC 7800 §3.2: bound to a key by value, which this resource cannot check.
        (
            r#"{"active":true,"exp":1700000100,"aud":"https://api.example/","cnf":{"jwk":{"kty":"OKP"}}}"#,
            "the token is bound by a method this resource cannot check",
        ),
    ];
    for (body, description) in refused {
        assert_invalid(
            canned(StatusCode::OK, body).validate("t", now).await,
            description,
        );
    }
    // A missing iss is the configured issuer; aud may be one of several; nbf within skew.
    let claims = canned(
        StatusCode::OK,
        r#"{"active":true,"exp":1700000100,"nbf":1700000060,"aud":["x","https://api.example/"],"sub":"alice"}"#,
    )
    .validate("t", now)
    .await
    .unwrap();
    assert_eq!(
        (claims.issuer.as_str(), claims.subject.as_deref()),
        (ISSUER, Some("alice"))
    );
    // token_type, when given, is Bearer or DPoP in any case (RFC 6749 §7.1, RFC 9449 §6.2).
    for token_type in ["Bearer", "bearer", "DPoP", "dpop"] {
        let body = format!(
            r#"{{"active":true,"exp":1700000100,"aud":"https://api.example/","token_type":"{token_type}"}}"#
        );
        canned(StatusCode::OK, &body)
            .validate("t", now)
            .await
            .unwrap();
    }
    let broken = [
        (
            StatusCode::OK,
            "not json",
            "the introspection response is not a JSON object",
        ),
        (
            StatusCode::OK,
            "[]",
            "the introspection response is not a JSON object",
        ),
        (
            StatusCode::OK,
            r#"{"active":"true"}"#,
            "the introspection response has no boolean active",
        ),
        (
            StatusCode::OK,
            r#"{"exp":1700000100}"#,
            "the introspection response has no boolean active",
        ),
        (
            StatusCode::OK,
            r#"{"active":true,"exp":"soon"}"#,
            "the introspection response's members are malformed",
        ),
        (
            StatusCode::OK,
            r#"{"active":true,"exp":1700000100,"aud":"https://api.example/","scope":7}"#,
            "the introspection response's members are malformed",
        ),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "{}",
            "the introspection endpoint answered with an error status",
        ),
        (
            StatusCode::BAD_REQUEST,
            r#"{"error":"invalid_request"}"#,
            "the introspection endpoint answered with an error status",
        ),
        (
            StatusCode::UNAUTHORIZED,
            r#"{"error":"invalid_client"}"#,
            REFUSED_CREDENTIALS,
        ),
        (StatusCode::FORBIDDEN, "{}", REFUSED_CREDENTIALS),
    ];
    for (status, body, context) in broken {
        assert_unavailable(canned(status, body).validate("t", now).await, context);
    }
}

/// One JWK Set at any URL.
struct StaticJwks(String);

#[async_trait::async_trait]
impl HttpClient for StaticJwks {
    async fn send(&self, _: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        Ok(Response::new(Bytes::from(self.0.clone())))
    }
}

/// JWT responses verified with `key`'s public half, served at the issuer's `jwks_uri`.
fn static_keys(key: &SigningKey) -> JwtResponses {
    let jwks = json!({ "keys": [key.public_jwk()] }).to_string();
    JwtResponses::new(Arc::new(IssuerKeys::from_jwks_uri(
        Issuer::parse(ISSUER).unwrap(),
        "https://as.example/jwks",
        Arc::new(StaticJwks(jwks)),
    )))
}

/// A JWT introspection response, answering every request.
struct SignedAnswer(String);

#[async_trait::async_trait]
impl HttpClient for SignedAnswer {
    async fn send(&self, _: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        Ok(Response::builder()
            .header("content-type", "application/token-introspection+jwt")
            .body(Bytes::from(self.0.clone()))
            .unwrap())
    }
}

#[tokio::test]
async fn jwt_responses_are_held_to_rfc_9701() {
    let key = SigningKey::generate("as-1", Algorithm::EdDSA, &SystemRandom::new()).unwrap();
    let now = UnixTime::from_secs(T0);
    let answer = |typ: &str, claims: &Value| {
        let jwt = portcullis::core::sign_compact(
            claims.to_string().as_bytes(),
            Some(typ),
            &key,
            &SystemRandom::new(),
        )
        .unwrap();
        let mut c = config(API, basic(API_SECRET));
        c.jwt_responses = Some(static_keys(&key));
        IntrospectionValidator::new(c, Arc::new(SignedAnswer(jwt)))
    };
    let good = || {
        json!({
            "iss": ISSUER, "aud": API, "iat": T0,
            "token_introspection": {"active": true, "exp": T0 + 100, "aud": API, "sub": "alice"},
        })
    };
    // typ with or without `application/`, any case (RFC 7515 §4.1.9); aud one of several.
    for typ in [
        "token-introspection+jwt",
        "Application/Token-Introspection+JWT",
    ] {
        let claims = answer(typ, &good()).validate("t", now).await.unwrap();
        assert_eq!(claims.subject.as_deref(), Some("alice"));
    }
    let mut several = good();
    several["aud"] = json!(["other", API]);
    answer("token-introspection+jwt", &several)
        .validate("t", now)
        .await
        .unwrap();
    // Within the skew and the maximum age.
    for iat in [T0 + 60, T0 - 60] {
        let mut c = good();
        c["iat"] = json!(iat);
        answer("token-introspection+jwt", &c)
            .validate("t", now)
            .await
            .unwrap();
    }
    let mut inactive = good();
    inactive["token_introspection"] = json!({"active": false});
    assert_invalid(
        answer("token-introspection+jwt", &inactive)
            .validate("t", now)
            .await,
        NOT_ACTIVE,
    );
    let wrong = |member: &str, value: Value| {
        let mut c = good();
        c[member] = value;
        c
    };
    let without = |member: &str| {
        let mut c = good();
        c.as_object_mut().unwrap().remove(member);
        c
    };
    let refused = [
        (
            "JWT",
            good(),
            "the JWT introspection response has the wrong typ",
        ),
        (
            "at+jwt",
            good(),
            "the JWT introspection response has the wrong typ",
        ),
        (
            "token-introspection+jwt",
            wrong("iss", json!("https://other.example")),
            "the JWT introspection response is from another issuer",
        ),
        (
            "token-introspection+jwt",
            wrong("aud", json!("web")),
            "the JWT introspection response is for another client",
        ),
        (
            "token-introspection+jwt",
            wrong("iat", json!(T0 + 61)),
            "the JWT introspection response is not fresh",
        ),
        (
            "token-introspection+jwt",
            wrong("iat", json!(T0 - 61)),
            "the JWT introspection response is not fresh",
        ),
        (
            "token-introspection+jwt",
            without("iat"),
            "the JWT introspection response's claims are malformed",
        ),
        (
            "token-introspection+jwt",
            without("aud"),
            "the JWT introspection response's claims are malformed",
        ),
        (
            "token-introspection+jwt",
            without("token_introspection"),
            "the JWT introspection response's claims are malformed",
        ),
        (
            "token-introspection+jwt",
            wrong("token_introspection", json!("active")),
            "the JWT introspection response's claims are malformed",
        ),
    ];
    for (typ, claims, context) in refused {
        assert_unavailable(answer(typ, &claims).validate("t", now).await, context);
    }
}

/// The guard over introspection: an opaque token is accepted, refused with a `Bearer`
/// `invalid_token` challenge (RFC 6750 §3.1) once revoked and the cache bound has passed,
/// and an unreachable authorization server is a 503 without a challenge.
#[tokio::test]
async fn a_resource_server_over_introspection_answers_401_once_revoked_and_503_when_down() {
    let r = rig(|_, _| {}).await;
    let clock: Arc<dyn Clock> = r.e.clock.clone();
    let server = ResourceServer::builder(API, Arc::new(r.v))
        .clock(clock)
        .build()
        .unwrap();
    let token = r.e.token(API).await;
    let bearer = |token: &str| {
        let request = Request::get("https://api.example/items")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap();
        request.into_parts().0
    };
    let authenticated = server.authenticate(&bearer(&token), None).await.unwrap();
    assert_eq!(authenticated.claims().audience, [API]);
    r.e.revoke(&token).await;
    r.e.clock.advance(60);
    let refused = server
        .authenticate(&bearer(&token), None)
        .await
        .unwrap_err();
    let response = refused.to_response();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer ")
            && challenge.contains(r#"error="invalid_token""#)
            && challenge.contains(NOT_ACTIVE),
        "{challenge}"
    );
    let other = r.e.token(API).await;
    r.http.down.store(true, Ordering::SeqCst);
    let unavailable = server
        .authenticate(&bearer(&other), None)
        .await
        .unwrap_err();
    let response = unavailable.to_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().get("www-authenticate").is_none());
    let body: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
}

/// A token longer than MAX_JWT_BYTES is refused without asking the authorization server.
#[tokio::test]
async fn an_overlong_token_is_refused_without_a_request() {
    let r = rig(|_, _| {}).await;
    let long = "a".repeat(portcullis_resource::MAX_JWT_BYTES + 1);
    assert_invalid(r.validate(&long).await, "the token is too long");
    assert_eq!(r.http.calls(), 0);
    // At the bound, the authorization server is asked.
    let at_bound = "a".repeat(portcullis_resource::MAX_JWT_BYTES);
    assert_invalid(r.validate(&at_bound).await, NOT_ACTIVE);
    assert_eq!(r.http.calls(), 1);
}

/// The introspection endpoint must be https (http only to a loopback host): the token is
/// never sent in clear, and validations are unavailable (503).
#[tokio::test]
async fn an_endpoint_without_https_is_never_asked() {
    let r = rig(|c, _| c.endpoint = Uri::from_static("http://as.example/introspect")).await;
    assert_unavailable(
        r.validate("anything").await,
        "the introspection endpoint is refused",
    );
    assert_eq!(r.http.calls(), 0);
}
