//! The resource server's test harness: a stub validator (a map from token to verdict), a
//! manual clock, a replay cache that counts its calls, and helpers to read responses.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response, StatusCode};
use portcullis_core::{Algorithm, SigningKey, UnixTime};
use portcullis_resource::{
    Authenticated, ManualClock, Rejection, ResourceServer, ResourceServerBuilder, TokenClaims,
    TokenError, TokenValidator, UpstreamError,
};
use portcullis_store_memory::MemoryStore;
use portcullis_testkit::CountingReplayCache;
use ring::digest::{digest, SHA256};
use ring::rand::SystemRandom;
use serde_json::{json, Value};

pub const RESOURCE: &str = "https://api.example";
pub const METADATA_URL: &str = "https://api.example/.well-known/oauth-protected-resource";
pub const NOW: u64 = 1_700_000_000;

/// What the stub validator says of a token.
#[derive(Clone)]
pub enum Verdict {
    Valid(Box<TokenClaims>),
    Invalid,
    Unavailable,
}

/// A validator answering from a map; unknown tokens are invalid.
#[derive(Default)]
pub struct Tokens(pub HashMap<String, Verdict>);

impl Tokens {
    /// `token` is valid with `claims`.
    pub fn valid(self, token: &str, claims: TokenClaims) -> Self {
        self.with(token, Verdict::Valid(Box::new(claims)))
    }

    pub fn with(mut self, token: &str, verdict: Verdict) -> Self {
        self.0.insert(token.to_owned(), verdict);
        self
    }
}

#[async_trait]
impl TokenValidator for Tokens {
    async fn validate(&self, token: &str, _now: UnixTime) -> Result<TokenClaims, TokenError> {
        match self.0.get(token) {
            Some(Verdict::Valid(claims)) => Ok(TokenClaims::clone(claims)),
            Some(Verdict::Unavailable) => Err(UpstreamError::new("test: upstream down").into()),
            Some(Verdict::Invalid) | None => Err(TokenError::Invalid("the token is not valid")),
        }
    }
}

/// Claims of a token for this resource with `scope`, edited by `edit`.
pub fn claims_with(scope: &str, edit: impl FnOnce(&mut Value)) -> TokenClaims {
    let mut json = json!({
        "iss": "https://as.example", "sub": "alice", "client_id": "app",
        "aud": RESOURCE, "scope": scope, "exp": NOW + 300, "iat": NOW,
    });
    edit(&mut json);
    serde_json::from_value(json).unwrap()
}

pub fn claims(scope: &str) -> TokenClaims {
    claims_with(scope, |_| {})
}

/// A resource server at [`RESOURCE`] over `tokens`, at [`NOW`] on a manual clock.
pub struct Harness {
    pub clock: Arc<ManualClock>,
    pub replays: Arc<CountingReplayCache>,
    pub server: ResourceServer,
}

impl Harness {
    pub fn new(tokens: Tokens) -> Self {
        Self::with(tokens, |b, _| b)
    }

    /// As [`Harness::new`], the builder edited by `configure` (given the replay cache).
    pub fn with(
        tokens: Tokens,
        configure: impl FnOnce(ResourceServerBuilder, Arc<CountingReplayCache>) -> ResourceServerBuilder,
    ) -> Self {
        let clock = Arc::new(ManualClock::new(UnixTime::from_secs(NOW)));
        let replays = Arc::new(CountingReplayCache::new(Arc::new(MemoryStore::new())));
        let builder = ResourceServer::builder(RESOURCE, Arc::new(tokens)).clock(clock.clone());
        let server = configure(builder, replays.clone()).build().unwrap();
        Self {
            clock,
            replays,
            server,
        }
    }

    pub async fn authenticate(&self, req: Request<()>) -> Result<Authenticated, Rejection> {
        let (parts, ()) = req.into_parts();
        self.server.authenticate(&parts, None).await
    }

    pub async fn authenticate_form(
        &self,
        req: Request<()>,
        body: &[u8],
    ) -> Result<Authenticated, Rejection> {
        let (parts, ()) = req.into_parts();
        self.server.authenticate(&parts, Some(body)).await
    }

    /// The response to a request that must be refused.
    pub async fn refused(&self, req: Request<()>) -> Response<Bytes> {
        match self.authenticate(req).await {
            Ok(a) => panic!("accepted: {:?}", a.claims()),
            Err(rejection) => {
                let response = rejection.to_response();
                assert_eq!(response.status(), rejection.status());
                response
            }
        }
    }

    /// Asserts that each request of `cases` is refused with `status`, `error` and the
    /// challenges `expected` gives for the case's description.
    pub async fn assert_each_refused<C: AsRef<str>>(
        &self,
        cases: impl IntoIterator<Item = (Request<()>, &str)>,
        status: StatusCode,
        error: &str,
        expected: impl Fn(&str) -> Vec<C>,
    ) {
        for (req, description) in cases {
            let r = self.refused(req).await;
            assert_refusal(&r, status, Some(error), &expected(description));
        }
    }
}

/// `GET https://api.example{path}` with `headers`.
pub fn get(path: &str, headers: &[(&str, &str)]) -> Request<()> {
    request("GET", path, headers)
}

pub fn request(method: &str, path: &str, headers: &[(&str, &str)]) -> Request<()> {
    let mut b = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        b = b.header(*name, *value);
    }
    b.body(()).unwrap()
}

pub fn parts(req: Request<()>) -> Parts {
    req.into_parts().0
}

/// The `WWW-Authenticate` values of `response`, in order.
pub fn challenges(response: &Response<Bytes>) -> Vec<&str> {
    response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

/// The `error` of the JSON body (`None` for an empty body).
pub fn error_code(response: &Response<Bytes>) -> Option<String> {
    if response.body().is_empty() {
        return None;
    }
    let json: Value = serde_json::from_slice(response.body()).unwrap();
    json["error"].as_str().map(str::to_owned)
}

/// Asserts `response`'s status, `error` and exact challenges, and that it is not cached.
pub fn assert_refusal<S: AsRef<str>>(
    response: &Response<Bytes>,
    status: StatusCode,
    error: Option<&str>,
    expected: &[S],
) {
    assert_eq!(response.status(), status);
    assert_eq!(error_code(response).as_deref(), error);
    let expected: Vec<&str> = expected.iter().map(AsRef::as_ref).collect();
    assert_eq!(challenges(response), expected);
    assert_eq!(response.headers()["cache-control"], "no-store");
}

/// A client's DPoP key (RFC 9449 §4.2).
pub struct Holder {
    key: SigningKey,
}

pub fn fresh_jti() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("jti-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

impl Holder {
    pub fn new() -> Self {
        let key = SigningKey::generate("dpop", Algorithm::ES256, &SystemRandom::new()).unwrap();
        Self { key }
    }

    pub fn jkt(&self) -> String {
        self.key.public_jwk().thumbprint().unwrap()
    }

    /// A proof for `GET https://api.example/items` with `token` now, edited by `edit`.
    pub fn proof_with(&self, now: UnixTime, token: &str, edit: impl FnOnce(&mut Value)) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.public_jwk()});
        let mut claims = json!({
            "jti": fresh_jti(),
            "htm": "GET",
            "htu": "https://api.example/items",
            "iat": now.secs(),
            "ath": URL_SAFE_NO_PAD.encode(digest(&SHA256, token.as_bytes())),
        });
        edit(&mut claims);
        let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        let input = format!("{}.{}", b64(&header), b64(&claims));
        let sig = self
            .key
            .sign(input.as_bytes(), &SystemRandom::new())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    pub fn proof(&self, now: UnixTime, token: &str) -> String {
        self.proof_with(now, token, |_| {})
    }
}
