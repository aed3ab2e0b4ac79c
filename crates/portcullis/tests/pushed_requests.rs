//! Pushed authorization requests (RFC 9126) through `Provider::pushed_authorization_request`
//! and `Provider::authorize`: the PAR endpoint's answers, client authentication by every
//! method, the reference's single use, expiry, binding to its client, the requirement to
//! push (globally and per client), DPoP binding (RFC 9449 §10.1) and discovery (§5).

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bytes::Bytes;
use common::client_key::ClientKey;
use common::*;
use http::{HeaderMap, Method, Request, StatusCode};
use portcullis::core::{
    Algorithm, Client, ClientKeys, ClientKind, ClientRequests, GrantType, Issuer, JwkSet, Policy,
    RedirectUri, ScopeSet, SigningKey, JWT_BEARER_ASSERTION_TYPE, MAX_PUSHED_REQUEST_LIFETIME,
};
use portcullis::{
    AuthorizeOutcome, BuildError, CertificateChain, ClientCertificate, ClientCertificateAuth,
    Clock, Provider, Stores,
};
use portcullis_store_memory::MemoryStore;
use rcgen::{CertificateParams, KeyPair};
use ring::rand::SystemRandom;
use serde_json::{json, Value};

const PAR_URI: &str = "https://as.example/par";
const TOKEN_URI: &str = "https://as.example/token";
const NATIVE_REDIRECT: &str = "http://127.0.0.1:1/cb";
const PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// An answer of the PAR endpoint.
struct Reply {
    status: StatusCode,
    json: Value,
    headers: HeaderMap,
}

impl Reply {
    /// `201 Created` with `request_uri` and `expires_in`, uncached (RFC 9126 §2.2).
    fn created(&self) -> String {
        assert_eq!(self.status, StatusCode::CREATED, "{}", self.json);
        assert_eq!(self.headers["cache-control"], "no-store");
        let uri = self.json["request_uri"].as_str().unwrap();
        assert!(uri.starts_with(PREFIX), "{uri}");
        uri.to_owned()
    }

    /// `status` with the JSON error `code`, uncached (RFC 9126 §2.3).
    fn refused(&self, status: StatusCode, code: &str, case: &str) {
        assert_eq!(
            (self.status, error_of(&self.json)),
            (status, code),
            "{case}: {}",
            self.json
        );
        assert_eq!(self.headers["cache-control"], "no-store", "{case}");
    }
}

/// How a push authenticates and what it carries besides the form.
#[derive(Default)]
struct With<'a> {
    basic: Option<(&'a str, &'a str)>,
    dpop: Option<String>,
    certificate: Option<ClientCertificate>,
    method: Option<Method>,
}

async fn par(h: &Harness, body: &str, with: With<'_>) -> Reply {
    let mut req = Request::builder()
        .method(with.method.unwrap_or(Method::POST))
        .uri("/par")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some((id, secret)) = with.basic {
        let credentials = STANDARD.encode(format!("{id}:{secret}"));
        req = req.header("authorization", format!("Basic {credentials}"));
    }
    if let Some(proof) = with.dpop {
        req = req.header("dpop", proof);
    }
    let mut req = req.body(Bytes::from(body.to_owned())).unwrap();
    if let Some(cert) = with.certificate {
        req.extensions_mut().insert(cert);
    }
    let resp = h.provider.pushed_authorization_request(req).await;
    Reply {
        status: resp.status(),
        json: serde_json::from_slice(resp.body()).unwrap_or_default(),
        headers: resp.headers().clone(),
    }
}

fn web() -> With<'static> {
    With {
        basic: Some(("web", SECRET)),
        ..With::default()
    }
}

/// The web client's authorization request, with `extra` parameters.
fn web_request(extra: &str) -> String {
    format!(
        "response_type=code&redirect_uri={}&scope=read&state=st&code_challenge={}&code_challenge_method=S256{extra}",
        enc(WEB_REDIRECT),
        challenge(VERIFIER)
    )
}

/// The authorization endpoint's request naming a pushed request.
fn by_reference(client_id: &str, request_uri: &str) -> String {
    format!("client_id={client_id}&request_uri={}", enc(request_uri))
}

/// An error page at the authorization endpoint: 400 with `code`, never a redirect.
async fn error_page(h: &Harness, query: &str, code: &str, case: &str) {
    let r = h.respond(query).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{case}");
    assert!(r.headers().get("location").is_none(), "{case}");
    let body = std::str::from_utf8(r.body()).unwrap();
    assert!(body.contains(code), "{case}: {body}");
}

/// Pushes the web client's request and returns the reference.
async fn push_web(h: &Harness, extra: &str) -> String {
    par(h, &web_request(extra), web()).await.created()
}

async fn approve(h: &Harness, query: &str, scope: &str) -> url::Url {
    let pending = h.pending(query).await;
    let r = h.provider.approve(pending, approval("alice", scope)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    location(&r)
}

#[tokio::test]
async fn a_pushed_request_runs_the_code_flow() {
    let h = Harness::new().await;
    let reply = par(
        &h,
        &web_request("").replace("scope=read", "scope=write"),
        web(),
    )
    .await;
    let uri = reply.created();
    assert_eq!(reply.json["expires_in"], 60);
    assert_eq!(uri.len(), PREFIX.len() + 43, "256 random bits");
    // Only the pushed parameters count (RFC 9126 §4): the front channel's scope and state
    // are ignored.
    let front = format!("{}&scope=read&state=forged", by_reference("web", &uri));
    let pending = h.pending(&front).await;
    assert_eq!(pending.scopes().to_string(), "write");
    let r = h
        .provider
        .approve(pending, approval("alice", "write"))
        .await;
    let to = location(&r);
    assert!(to.as_str().starts_with(WEB_REDIRECT), "{to}");
    assert_eq!(query_param(to.as_str(), "state").as_deref(), Some("st"));
    let code = query_param(to.as_str(), "code").unwrap();
    let tokens = h.exchange_web(&code).await;
    assert_eq!(tokens["scope"], "write");
}

/// RFC 9126 §4, RFC 9101 §6.2: a reference is used once, expires, and belongs to its client;
/// each refusal is `invalid_request_uri` on an error page.
#[tokio::test]
async fn a_reference_is_single_use_expires_and_binds_its_client() {
    let h = Harness::new().await;
    let uri = push_web(&h, "").await;
    approve(&h, &by_reference("web", &uri), "read").await;
    error_page(
        &h,
        &by_reference("web", &uri),
        "invalid_request_uri",
        "used",
    )
    .await;

    let uri = push_web(&h, "").await;
    h.clock.advance(59);
    h.pending(&by_reference("web", &uri)).await;
    let uri = push_web(&h, "").await;
    h.clock.advance(60);
    error_page(
        &h,
        &by_reference("web", &uri),
        "invalid_request_uri",
        "expired",
    )
    .await;

    let uri = push_web(&h, "").await;
    let other = by_reference("native", &uri);
    error_page(&h, &other, "invalid_request_uri", "another client's").await;
    let unknown = format!("{PREFIX}{}", "A".repeat(43));
    error_page(
        &h,
        &by_reference("web", &unknown),
        "invalid_request_uri",
        "unknown",
    )
    .await;
    let uri = push_web(&h, "").await;
    let q = format!("request_uri={}", enc(&uri));
    error_page(&h, &q, "invalid_request", "no client_id").await;
    // A reference by URL stays unsupported (no fetching).
    let url = by_reference("web", "https://rp.example/request.jwt");
    let r = h.respond(&format!("{url}&{}", web_request(""))).await;
    assert_eq!(
        query_param(location(&r).as_str(), "error").as_deref(),
        Some("request_uri_not_supported")
    );
}

/// Two browsers presenting one reference at once: exactly one gets the request.
#[tokio::test]
async fn racing_uses_of_one_reference_have_one_winner() {
    let h = Arc::new(Harness::new().await);
    let uri = push_web(&h, "").await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (h, q) = (h.clone(), by_reference("web", &uri));
            tokio::spawn(
                async move { matches!(h.authorize(&q).await, AuthorizeOutcome::Pending(_)) },
            )
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1);
}

/// RFC 9126 §5, §6: where pushing is required, a request sent through the browser is
/// `invalid_request`, redirected once the redirect URI is trusted.
#[tokio::test]
async fn pushing_may_be_required_globally_and_per_client() {
    let mut policy = Policy::default();
    policy.pushed_authorization_requests.required = true;
    let h = Harness::with_policy(policy).await;
    let direct = format!("client_id=web&{}", web_request(""));
    let r = h.respond(&direct).await;
    let to = location(&r);
    assert_eq!(
        query_param(to.as_str(), "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(to.as_str(), "state").as_deref(), Some("st"));
    let evil = direct.replace("web.example", "evil.example");
    error_page(&h, &evil, "invalid_request", "untrusted redirect").await;
    let uri = push_web(&h, "").await;
    h.pending(&by_reference("web", &uri)).await;

    let h = Harness::new().await;
    h.pending(&direct).await;
    let strict = web_client().with_requests(ClientRequests {
        require_pushed_authorization_requests: true,
        ..ClientRequests::default()
    });
    h.provider.register_client(&strict).await.unwrap();
    let r = h.respond(&direct).await;
    let to = location(&r);
    assert_eq!(
        query_param(to.as_str(), "error").as_deref(),
        Some("invalid_request")
    );
    let uri = push_web(&h, "").await;
    h.pending(&by_reference("web", &uri)).await;
}

/// RFC 9126 §2.1, §2.3: the request is validated when pushed, and refused there as JSON.
#[tokio::test]
async fn every_authorization_error_is_answered_at_push_time() {
    let h = Harness::new().await;
    let bad = StatusCode::BAD_REQUEST;
    for (body, code) in [
        (
            web_request("").replace("scope=read", "scope=admin"),
            "invalid_scope",
        ),
        (
            web_request("").replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            web_request("").replace("web.example", "evil.example"),
            "invalid_request",
        ),
        (web_request("").replace("S256", "plain"), "invalid_request"),
        (
            web_request("&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax"),
            "invalid_request",
        ),
        (
            // An unsigned request object (RFC 9101 §6.1), verified at push time (RFC 9126 §3).
            web_request("&client_id=web&request=eyJhbGciOiJub25lIn0.e30."),
            "invalid_request_object",
        ),
        (web_request("&client_id=native"), "invalid_request"),
        (web_request("&dpop_jkt=short"), "invalid_request"),
        (
            web_request("&resource=https%3A%2F%2Funknown.example"),
            "invalid_target",
        ),
    ] {
        par(&h, &body, web()).await.refused(bad, code, &body);
    }
    // No client authentication, or a wrong secret: 401 with a Basic challenge.
    for with in [
        With::default(),
        With {
            basic: Some(("web", "wrong")),
            ..With::default()
        },
    ] {
        let r = par(&h, &web_request(""), with).await;
        r.refused(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unauthenticated",
        );
        assert!(r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic "));
    }
    let r = par(
        &h,
        &web_request(""),
        With {
            method: Some(Method::GET),
            ..web()
        },
    )
    .await;
    r.refused(StatusCode::METHOD_NOT_ALLOWED, "invalid_request", "GET");
    assert_eq!(r.headers["allow"], "POST");
}

fn native_request(extra: &str) -> String {
    format!(
        "client_id=native&response_type=code&redirect_uri={}&scope=read&state=st&code_challenge={}&code_challenge_method=S256{extra}",
        enc(NATIVE_REDIRECT),
        challenge(VERIFIER)
    )
}

/// RFC 9126 §2.1: the client authenticates as at the token endpoint — by every method.
#[tokio::test]
async fn every_client_authentication_method_works_at_the_par_endpoint() {
    let key = KeyPair::generate().unwrap();
    let rng = SystemRandom::new();
    let jwk = SigningKey::from_pkcs8("k", Algorithm::ES256, &key.serialize_der(), &rng)
        .unwrap()
        .public_jwk();
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.client_certificate_auth(ClientCertificateAuth::SelfSigned)
    })
    .await;
    let assertion_key = ClientKey::new("k1");
    let code_client = |id: &str, kind| {
        Client::new(id, kind)
            .with_redirect_uris([RedirectUri::parse(WEB_REDIRECT).unwrap()])
            .with_allowed_scopes(ScopeSet::parse("read").unwrap())
            .with_grant_types([GrantType::AuthorizationCode])
    };
    let pk = ClientKind::PrivateKeyJwt {
        keys: ClientKeys::Jwks(JwkSet {
            keys: vec![assertion_key.jwk.clone()],
        }),
    };
    let tls = ClientKind::SelfSignedTlsClientAuth {
        keys: JwkSet { keys: vec![jwk] },
    };
    for c in [code_client("pk", pk), code_client("tls", tls)] {
        h.provider.register_client(&c).await.unwrap();
    }
    // client_secret_basic, client_secret_post, none (a public client).
    push_web(&h, "").await;
    let post = format!("{}&client_id=web&client_secret={SECRET}", web_request(""));
    par(&h, &post, With::default()).await.created();
    let uri = par(&h, &native_request(""), With::default())
        .await
        .created();
    h.pending(&by_reference("native", &uri)).await;
    // private_key_jwt, its audience the PAR endpoint or the issuer; a replayed assertion
    // is refused (RFC 7523 §3).
    for aud in [PAR_URI, ISSUER] {
        let assertion = assertion_key.sign(&json!({
            "iss": "pk", "sub": "pk", "aud": aud, "exp": T0 + 60, "iat": T0, "jti": aud,
        }));
        let body = format!(
            "{}&client_id=pk&client_assertion_type={}&client_assertion={assertion}",
            web_request(""),
            enc(JWT_BEARER_ASSERTION_TYPE)
        );
        let uri = par(&h, &body, With::default()).await.created();
        h.pending(&by_reference("pk", &uri)).await;
        par(&h, &body, With::default()).await.refused(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "replayed assertion",
        );
    }
    // self_signed_tls_client_auth (RFC 8705 §2.2), and another certificate refused.
    let mut params = CertificateParams::default();
    params.subject_alt_names = vec![];
    let cert = params.self_signed(&key).unwrap().der().to_vec();
    let body = format!("{}&client_id=tls", web_request(""));
    let with = |der: &[u8]| With {
        certificate: Some(ClientCertificate::new(der, CertificateChain::Unverified)),
        ..With::default()
    };
    let uri = par(&h, &body, with(&cert)).await.created();
    h.pending(&by_reference("tls", &uri)).await;
    let other = CertificateParams::default()
        .self_signed(&KeyPair::generate().unwrap())
        .unwrap()
        .der()
        .to_vec();
    par(&h, &body, with(&other)).await.refused(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "another certificate",
    );
}

/// A client's DPoP key (RFC 9449 §4.2).
struct Holder(SigningKey);

impl Holder {
    fn new() -> Self {
        Self(SigningKey::generate("dpop", Algorithm::ES256, &SystemRandom::new()).unwrap())
    }

    fn jkt(&self) -> String {
        self.0.public_jwk().thumbprint().unwrap()
    }

    fn proof(&self, h: &Harness, htu: &str, jti: &str) -> String {
        let part = |v: Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap());
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.0.public_jwk()});
        let claims = json!({"jti": jti, "htm": "POST", "htu": htu, "iat": h.clock.now().secs()});
        let input = format!("{}.{}", part(header), part(claims));
        let sig = self.0.sign(input.as_bytes(), &SystemRandom::new()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

/// Exchanges a native client's code with a proof of `holder`'s key, if any.
async fn exchange_native(h: &Harness, code: &str, holder: Option<&Holder>, jti: &str) -> Reply {
    let body = format!(
        "grant_type=authorization_code&code={code}&client_id=native&redirect_uri={}&code_verifier={VERIFIER}",
        enc(NATIVE_REDIRECT)
    );
    let mut req =
        Request::post("/token").header("content-type", "application/x-www-form-urlencoded");
    if let Some(k) = holder {
        req = req.header("dpop", k.proof(h, TOKEN_URI, jti));
    }
    let resp = h.provider.token(req.body(Bytes::from(body)).unwrap()).await;
    Reply {
        status: resp.status(),
        json: serde_json::from_slice(resp.body()).unwrap_or_default(),
        headers: resp.headers().clone(),
    }
}

async fn native_code(h: &Harness, uri: &str) -> String {
    let to = approve(h, &by_reference("native", uri), "read").await;
    query_param(to.as_str(), "code").unwrap()
}

/// RFC 9449 §10.1: a DPoP proof at the PAR endpoint binds the code to its key like
/// `dpop_jkt`; a proof naming another key than `dpop_jkt`, a replayed proof or one for
/// another URL is `invalid_dpop_proof`.
#[tokio::test]
async fn a_dpop_proof_at_the_par_endpoint_binds_the_code() {
    let h = Harness::new().await;
    let holder = Holder::new();
    let with_proof = |jti: &str| With {
        dpop: Some(holder.proof(&h, PAR_URI, jti)),
        ..With::default()
    };
    let reply = par(&h, &native_request(""), with_proof("p1")).await;
    let uri = reply.created();
    assert!(reply.headers.contains_key("dpop-nonce"));
    let code = native_code(&h, &uri).await;
    exchange_native(&h, &code, None, "t0").await.refused(
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
        "no proof at the token endpoint",
    );
    let uri = par(&h, &native_request(""), with_proof("p2"))
        .await
        .created();
    let code = native_code(&h, &uri).await;
    let other = Holder::new();
    exchange_native(&h, &code, Some(&other), "t1")
        .await
        .refused(StatusCode::BAD_REQUEST, "invalid_grant", "another key");
    let uri = par(&h, &native_request(""), with_proof("p3"))
        .await
        .created();
    let code = native_code(&h, &uri).await;
    let tokens = exchange_native(&h, &code, Some(&holder), "t2").await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.json);
    assert_eq!(tokens.json["token_type"], "DPoP");

    // Both the proof and dpop_jkt: the same key, or refused.
    let same = native_request(&format!("&dpop_jkt={}", holder.jkt()));
    par(&h, &same, with_proof("p4")).await.created();
    let other_jkt = native_request(&format!("&dpop_jkt={}", other.jkt()));
    par(&h, &other_jkt, with_proof("p5")).await.refused(
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
        "two keys",
    );
    // The proof's jti is spent; its htu must be the PAR endpoint.
    par(&h, &native_request(""), with_proof("p1"))
        .await
        .refused(
            StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            "replayed proof",
        );
    let for_token = With {
        dpop: Some(holder.proof(&h, TOKEN_URI, "p6")),
        ..With::default()
    };
    par(&h, &native_request(""), for_token).await.refused(
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
        "htu of /token",
    );
}

/// RFC 9126 §2.2, §5: the lifetime is the policy's, at most 600 s; discovery lists the
/// endpoint (also among the mTLS aliases) and the requirement.
#[tokio::test]
async fn the_lifetime_is_bounded_and_discovery_advertises_par() {
    let mut policy = Policy::default();
    policy.pushed_authorization_requests.lifetime =
        MAX_PUSHED_REQUEST_LIFETIME + Duration::from_secs(1);
    let refused = Provider::builder(Issuer::parse(ISSUER).unwrap())
        .stores(Stores::shared(Arc::new(MemoryStore::new())))
        .policy(policy.clone())
        .build()
        .unwrap_err();
    assert!(matches!(refused, BuildError::PushedRequestLifetime));
    policy.pushed_authorization_requests.lifetime = MAX_PUSHED_REQUEST_LIFETIME;
    policy.pushed_authorization_requests.required = true;
    let h = Harness::with_policy(policy).await;
    let reply = par(&h, &web_request(""), web()).await;
    reply.created();
    assert_eq!(reply.json["expires_in"], 600);
    let d: Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
    assert_eq!(d["pushed_authorization_request_endpoint"], PAR_URI);
    assert_eq!(d["require_pushed_authorization_requests"], true);

    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.client_certificate_auth(ClientCertificateAuth::SelfSigned)
            .mtls_endpoint_aliases(Issuer::parse("https://mtls.as.example").unwrap())
    })
    .await;
    let d: Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
    assert_eq!(d["require_pushed_authorization_requests"], false);
    assert_eq!(
        d["mtls_endpoint_aliases"]["pushed_authorization_request_endpoint"],
        "https://mtls.as.example/par"
    );
}

/// Pushed requests are purged with every other expired record.
#[tokio::test]
async fn expired_pushed_requests_are_purged() {
    let h = Harness::new().await;
    push_web(&h, "").await;
    assert_eq!(h.provider.purge_expired().await.unwrap(), 0);
    h.clock.advance(60);
    assert_eq!(h.provider.purge_expired().await.unwrap(), 1);
}
