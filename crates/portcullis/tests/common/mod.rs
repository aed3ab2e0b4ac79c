//! A provider on a manual clock and a memory store, with one client of each kind.
#![allow(dead_code, unreachable_pub)]

pub mod client_key;

use std::num::NonZeroU32;
use std::sync::Arc;

use base64::{engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use portcullis::core::{
    verify_compact, Algorithm, Client, ClientKind, ClientOidc, ClientSecretHash, GrantType, Issuer,
    JwkSet, Policy, RedirectUri, ScopeSet, UnixTime,
};
use portcullis::{
    Approval, AuthorizeOutcome, ClaimsError, ManualClock, PendingAuthorization, Provider,
    ProviderBuilder, Stores, UserClaims,
};
use portcullis_store_memory::MemoryStore;
use ring::digest::{digest, SHA256};
use ring::rand::SystemRandom;
use serde_json::{Map, Value};

pub const ISSUER: &str = "https://as.example";
pub const T0: u64 = 1_700_000_000;
pub const SECRET: &str = "s3cret-for-the-web-client";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const WEB_REDIRECT: &str = "https://web.example/cb";

pub struct Harness {
    pub provider: Provider,
    pub clock: Arc<ManualClock>,
    pub store: Arc<MemoryStore>,
}

pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()))
}

fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap()
}

pub fn web_client() -> Client {
    let secret =
        ClientSecretHash::pbkdf2(SECRET, NonZeroU32::new(1000).unwrap(), &SystemRandom::new())
            .unwrap();
    Client::new("web", ClientKind::confidential(secret))
        .with_redirect_uris([RedirectUri::parse(WEB_REDIRECT).unwrap()])
        .with_allowed_scopes(scopes(
            "read write openid profile email phone offline_access",
        ))
        .with_default_scopes(scopes("read"))
        .with_grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
        .with_oidc(ClientOidc {
            post_logout_redirect_uris: vec![RedirectUri::parse("https://web.example/bye").unwrap()],
            ..ClientOidc::default()
        })
}

/// Claims the host knows about its users.
pub struct Directory;

#[portcullis::async_trait]
impl UserClaims for Directory {
    async fn claims(&self, subject: &str) -> Result<Map<String, Value>, ClaimsError> {
        Ok(serde_json::from_value(serde_json::json!({
            "sub": "not-this",
            "name": format!("{subject} Liddell"),
            "email": format!("{subject}@example.com"),
            "email_verified": true,
            "phone_number": "+1 555",
            "nickname": "al",
        }))
        .unwrap())
    }

    async fn id_token_claims(
        &self,
        _subject: &str,
        client_id: &str,
        _scopes: &ScopeSet,
    ) -> Result<Map<String, Value>, ClaimsError> {
        Ok(serde_json::from_value(serde_json::json!({
            "tenant": format!("t-{client_id}"),
            "iss": "https://evil.example",
            "nonce": "forged",
        }))
        .unwrap())
    }
}

pub fn native_client() -> Client {
    Client::new("native", ClientKind::Public)
        .with_redirect_uris([RedirectUri::parse("http://127.0.0.1/cb").unwrap()])
        .with_allowed_scopes(scopes("read write"))
        .with_default_scopes(scopes("read"))
        .with_grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
}

pub fn service_client() -> Client {
    let mut service = web_client()
        .with_redirect_uris([])
        .with_allowed_scopes(scopes("read write introspect"))
        .with_grant_types([GrantType::ClientCredentials]);
    service.id = "service".into();
    service
}

impl Harness {
    pub async fn new() -> Self {
        Self::with_policy(Policy::default()).await
    }

    pub async fn with_policy(policy: Policy) -> Self {
        Self::on_store(Arc::new(MemoryStore::new()), ISSUER, policy).await
    }

    pub async fn on_store(store: Arc<MemoryStore>, issuer: &str, policy: Policy) -> Self {
        Self::configured(store, issuer, |b| b.policy(policy)).await
    }

    /// On `store`, with whatever else `configure` sets on the builder.
    pub async fn configured(
        store: Arc<MemoryStore>,
        issuer: &str,
        configure: impl FnOnce(ProviderBuilder) -> ProviderBuilder,
    ) -> Self {
        let clock = Arc::new(ManualClock::new(UnixTime::from_secs(T0)));
        let builder = Provider::builder(Issuer::parse(issuer).unwrap())
            .stores(Stores::shared(store.clone()))
            .clock(clock.clone())
            .claims(Arc::new(Directory));
        let provider = configure(builder).build().unwrap();
        for c in [web_client(), native_client(), service_client()] {
            provider.register_client(&c).await.unwrap();
        }
        Self {
            provider,
            clock,
            store,
        }
    }

    pub async fn authorize(&self, query: &str) -> AuthorizeOutcome {
        let req = Request::get(format!("/authorize?{query}"))
            .body(Bytes::new())
            .unwrap();
        self.provider.authorize(req).await
    }

    pub async fn pending(&self, query: &str) -> PendingAuthorization {
        match self.authorize(query).await {
            AuthorizeOutcome::Pending(p) => p,
            AuthorizeOutcome::Respond(r) => panic!("expected pending, got {r:?}"),
        }
    }

    pub async fn respond(&self, query: &str) -> Response<Bytes> {
        match self.authorize(query).await {
            AuthorizeOutcome::Respond(r) => r,
            AuthorizeOutcome::Pending(_) => panic!("expected a response for {query}"),
        }
    }

    /// Runs the code flow up to the redirect and returns the code.
    pub async fn code_for(
        &self,
        client_id: &str,
        redirect: &str,
        scope: &str,
        subject: &str,
    ) -> String {
        let q = format!(
            "response_type=code&client_id={client_id}&redirect_uri={}&scope={}&state=st&code_challenge={}&code_challenge_method=S256",
            enc(redirect),
            enc(scope),
            challenge(VERIFIER)
        );
        let pending = self.pending(&q).await;
        let r = self
            .provider
            .approve(pending, approval(subject, scope))
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        query_param(location(&r).as_str(), "code").expect("code in redirect")
    }

    /// POSTs a form to an endpoint of the provider (token, introspect, revoke).
    pub async fn post(
        &self,
        endpoint: Endpoint,
        body: &str,
        basic: Option<(&str, &str)>,
    ) -> (StatusCode, serde_json::Value, Response<Bytes>) {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri("/")
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some((id, secret)) = basic {
            req = req.header(
                "authorization",
                format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
            );
        }
        let req = req.body(Bytes::from(body.to_owned())).unwrap();
        let resp = self.send(endpoint, req).await;
        let json = serde_json::from_slice(resp.body()).unwrap_or(serde_json::Value::Null);
        (resp.status(), json, resp)
    }

    /// Sends `req` to `endpoint`.
    pub async fn send(&self, endpoint: Endpoint, req: Request<Bytes>) -> Response<Bytes> {
        match endpoint {
            Endpoint::Token => self.provider.token(req).await,
            Endpoint::Introspect => self.provider.introspect(req).await,
            Endpoint::Revoke => self.provider.revoke(req).await,
            Endpoint::Par => self.provider.pushed_authorization_request(req).await,
        }
    }

    pub async fn token(
        &self,
        body: &str,
        basic: Option<(&str, &str)>,
    ) -> (StatusCode, serde_json::Value, Response<Bytes>) {
        self.post(Endpoint::Token, body, basic).await
    }

    /// Exchanges a code of the web client; returns the response JSON.
    pub async fn exchange_web(&self, code: &str) -> serde_json::Value {
        let (status, json, _) = self
            .token(
                &format!("grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}", enc(WEB_REDIRECT)),
                Some(("web", SECRET)),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{json}");
        json
    }

    pub async fn refresh_web(&self, refresh_token: &str) -> (StatusCode, serde_json::Value) {
        let (s, j, _) = self
            .token(
                &format!("grant_type=refresh_token&refresh_token={refresh_token}"),
                Some(("web", SECRET)),
            )
            .await;
        (s, j)
    }
}

/// The endpoints a client POSTs to.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint {
    Token,
    Introspect,
    Revoke,
    Par,
}

pub fn approval(subject: &str, scope: &str) -> Approval {
    Approval::new(subject, UnixTime::from_secs(T0), scopes(scope))
        .with_amr(Some(vec!["pwd".into()]))
}

/// A fresh self-signed client certificate (DER) for `client.example`.
pub fn certificate() -> Vec<u8> {
    let key = rcgen::KeyPair::generate().unwrap();
    rcgen::CertificateParams::new(vec!["client.example".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap()
        .der()
        .to_vec()
}

pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn location(r: &Response<Bytes>) -> url::Url {
    url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap()
}

pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub fn error_of(json: &serde_json::Value) -> &str {
    json["error"].as_str().unwrap_or("<none>")
}

/// The string member `key` of `v`.
pub fn s(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap().to_owned()
}

/// Introspects `token` (with any further form parameters) as `who`: 200, `no-store`; the
/// response's JSON (RFC 7662 §2.2).
pub async fn introspect(h: &Harness, token: &str, who: Option<(&str, &str)>) -> Value {
    let (status, body, resp) = h
        .post(Endpoint::Introspect, &format!("token={token}"), who)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(resp.headers()["cache-control"], "no-store");
    body
}

/// The claims of `token`, a JWT of ours: its signature verified with our published keys.
pub async fn jwt_claims(h: &Harness, token: &str) -> Value {
    jwt_typ_and_claims(h, token).await.1
}

/// The `typ` header and the claims of `token`, a JWT of ours, verified as [`jwt_claims`].
pub async fn jwt_typ_and_claims(h: &Harness, token: &str) -> (Option<String>, Value) {
    let keys = JwkSet::parse(h.provider.jwks().await.body())
        .unwrap()
        .verifying_keys();
    let v = verify_compact(token, &keys, &Algorithm::ALL).expect("a JWT of ours");
    (v.header.typ, serde_json::from_slice(&v.payload).unwrap())
}

/// The web client's introspection of `token`, asking for a JWT response (RFC 9701 §4).
pub fn jwt_introspection(token: &str) -> Request<Bytes> {
    Request::post("/introspect")
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("web:{SECRET}"))),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/token-introspection+jwt")
        .body(Bytes::from(format!("token={token}")))
        .unwrap()
}

/// A request to the registration endpoint.
pub async fn registration_call(
    h: &Harness,
    method: Method,
    query: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, Value, Response<Bytes>) {
    let mut req = Request::builder()
        .method(method)
        .uri(format!("/register{query}"));
    if let Some(t) = bearer {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let body = body.map_or(Bytes::new(), |b| {
        Bytes::from(serde_json::to_vec(b).unwrap())
    });
    let resp = h.provider.registration(req.body(body).unwrap()).await;
    let json = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
    (resp.status(), json, resp)
}
