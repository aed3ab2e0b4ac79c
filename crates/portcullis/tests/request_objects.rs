//! JWT-Secured Authorization Requests (RFC 9101) at the authorization endpoint, with request
//! objects signed by an independent implementation (`jsonwebtoken`): each key type, every
//! claim rule with its exact code and status, single use of `jti`, only the object's
//! parameters counting (§6.3), `require_signed_request_object` (§10.5), registration and
//! discovery.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bytes::Bytes;
use common::client_key::ClientKey;
use common::{
    approval, challenge, enc, location, query_param, registration_call, Harness, ISSUER, T0,
    VERIFIER,
};
use http::{Method, Response, StatusCode};
use jsonwebtoken::{encode, Algorithm as JwtAlg, EncodingKey, Header};
use portcullis::core::{
    Algorithm, Client, ClientKeys, ClientKind, ClientRequestObjects, GrantType, Jwk, JwkSet,
    Policy, RedirectUri, ScopeSet, SigningKey,
};
use portcullis::{FetchError, Fetcher, RegistrationPolicy};
use portcullis_store_memory::MemoryStore;
use ring::rand::SystemRandom;
use ring::signature::Ed25519KeyPair;
use serde_json::{json, Value};

const REDIRECT: &str = "https://jar.example/cb";
const JWKS_URI: &str = "https://jar.example/jwks.json";
const RSA_PEM: &str = include_str!("../../portcullis-core/testdata/rsa-2048-test-only.pem");

/// A client key of each algorithm, `jsonwebtoken` signing with the private half.
struct Keys {
    es: ClientKey,
    ed_der: Vec<u8>,
    rs_jwk: Jwk,
    ps_jwk: Jwk,
    ed_jwk: Jwk,
}

impl Keys {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let body: String = RSA_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let rsa_der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        let jwk = |kid: &str, alg: Algorithm, der: &[u8]| {
            SigningKey::from_pkcs8(kid, alg, der, &rng)
                .unwrap()
                .public_jwk()
        };
        let ed_der = Ed25519KeyPair::generate_pkcs8(&rng)
            .unwrap()
            .as_ref()
            .to_vec();
        Self {
            es: ClientKey::new("es"),
            rs_jwk: jwk("rs", Algorithm::RS256, &rsa_der),
            ps_jwk: jwk("ps", Algorithm::PS256, &rsa_der),
            ed_jwk: jwk("ed", Algorithm::EdDSA, &ed_der),
            ed_der,
        }
    }

    fn set(&self) -> JwkSet {
        JwkSet {
            keys: vec![
                self.es.jwk.clone(),
                self.rs_jwk.clone(),
                self.ps_jwk.clone(),
                self.ed_jwk.clone(),
            ],
        }
    }

    /// `claims` signed with the key of `alg`.
    fn sign(&self, alg: JwtAlg, claims: &Value) -> String {
        let (kid, key) = match alg {
            JwtAlg::ES256 => return self.es.sign(claims),
            JwtAlg::RS256 => ("rs", EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap()),
            JwtAlg::PS256 => ("ps", EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap()),
            JwtAlg::EdDSA => ("ed", EncodingKey::from_ed_der(&self.ed_der)),
            _ => unreachable!(),
        };
        let mut header = Header::new(alg);
        header.kid = Some(kid.into());
        header.typ = Some("oauth-authz-req+jwt".into());
        encode(&header, claims, &key).unwrap()
    }
}

/// Serves the ES256 key at [`JWKS_URI`] and counts the fetches.
struct KeyServer {
    body: Vec<u8>,
    fetches: AtomicUsize,
}

#[portcullis::async_trait]
impl Fetcher for KeyServer {
    async fn fetch(&self, url: &str, _max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        assert_eq!(url, JWKS_URI);
        self.fetches.fetch_add(1, Ordering::SeqCst);
        Ok(self.body.clone())
    }
}

fn jar_client(id: &str, kind: ClientKind) -> Client {
    Client::new(id, kind)
        .with_redirect_uris([RedirectUri::parse(REDIRECT).unwrap()])
        .with_allowed_scopes(ScopeSet::parse("openid read write").unwrap())
        .with_grant_types([GrantType::AuthorizationCode])
}

struct Setup {
    h: Harness,
    keys: Keys,
    server: Arc<KeyServer>,
}

/// Clients: `jar` (inline keys of every type), `strict` (the same, signed objects required,
/// PS256 only), `uri` (ES256 key at a `jwks_uri`), `mtls` (`self_signed_tls_client_auth`
/// keys), `loose` (may send unsigned objects); `web` has no keys.
async fn setup_with(policy: Policy) -> Setup {
    let keys = Keys::new();
    let server = Arc::new(KeyServer {
        body: serde_json::to_vec(&JwkSet {
            keys: vec![keys.es.jwk.clone()],
        })
        .unwrap(),
        fetches: AtomicUsize::new(0),
    });
    let fetcher = server.clone();
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.policy(policy).fetcher(fetcher)
    })
    .await;
    let inline = || ClientKind::PrivateKeyJwt {
        keys: ClientKeys::Jwks(keys.set()),
    };
    let clients = [
        jar_client("jar", inline()),
        jar_client("strict", inline()).with_request_objects(ClientRequestObjects {
            require_signed: true,
            signing_alg: Some(Algorithm::PS256),
            ..ClientRequestObjects::default()
        }),
        jar_client(
            "uri",
            ClientKind::PrivateKeyJwt {
                keys: ClientKeys::JwksUri(JWKS_URI.into()),
            },
        ),
        jar_client(
            "mtls",
            ClientKind::SelfSignedTlsClientAuth { keys: keys.set() },
        ),
        jar_client("loose", ClientKind::Public).with_request_objects(ClientRequestObjects {
            dangerous_allow_unsigned: true,
            ..ClientRequestObjects::default()
        }),
    ];
    for c in clients {
        h.provider.register_client(&c).await.unwrap();
    }
    Setup { h, keys, server }
}

async fn setup() -> Setup {
    setup_with(Policy::default()).await
}

fn object(client_id: &str, jti: &str) -> Value {
    json!({
        "iss": client_id, "aud": ISSUER, "client_id": client_id,
        "exp": T0 + 60, "nbf": T0, "iat": T0, "jti": jti,
        "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid read",
        "state": "st", "nonce": "n-1", "max_age": 600,
        "code_challenge": challenge(VERIFIER), "code_challenge_method": "S256",
    })
}

fn with(mut claims: Value, field: &str, value: Value) -> Value {
    if value.is_null() {
        claims.as_object_mut().unwrap().remove(field);
    } else {
        claims[field] = value;
    }
    claims
}

fn query(client_id: &str, request: &str) -> String {
    format!("client_id={client_id}&request={request}")
}

/// A plain authorization request (no request object) of `client_id`.
fn plain(client_id: &str) -> String {
    format!(
        "response_type=code&client_id={client_id}&redirect_uri={}&scope=openid&state=st&code_challenge={}&code_challenge_method=S256",
        enc(REDIRECT),
        challenge(VERIFIER)
    )
}

#[track_caller]
fn assert_page(r: &Response<Bytes>, code: &str, description: &str) {
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = String::from_utf8_lossy(r.body());
    assert!(body.contains(&format!("<code>{code}</code>")), "{body}");
    // The page escapes `'`.
    let description = format!("<p>{}</p>", description.replace('\'', "&#x27;"));
    assert!(body.contains(&description), "{body}");
}

#[track_caller]
fn assert_redirect(r: &Response<Bytes>, code: &str, description: &str) {
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let loc = location(r);
    assert!(loc.as_str().starts_with(REDIRECT), "{loc}");
    assert_eq!(query_param(loc.as_str(), "error").as_deref(), Some(code));
    assert_eq!(
        query_param(loc.as_str(), "error_description").as_deref(),
        Some(description)
    );
    assert_eq!(query_param(loc.as_str(), "state").as_deref(), Some("st"));
    assert_eq!(query_param(loc.as_str(), "iss").as_deref(), Some(ISSUER));
}

#[tokio::test]
async fn objects_signed_with_each_key_type_are_accepted() {
    let s = setup().await;
    for (i, alg) in [JwtAlg::ES256, JwtAlg::RS256, JwtAlg::PS256, JwtAlg::EdDSA]
        .into_iter()
        .enumerate()
    {
        let token = s.keys.sign(alg, &object("jar", &format!("j{i}")));
        let pending = s.h.pending(&query("jar", &token)).await;
        assert_eq!(pending.client_id(), "jar", "{alg:?}");
        assert_eq!(pending.redirect_uri(), REDIRECT);
        let oidc = pending.oidc().unwrap();
        assert_eq!(oidc.nonce.as_deref(), Some("n-1"));
        assert_eq!(oidc.max_age, Some(600));
    }
    // Keys from a jwks_uri (fetched once), and self_signed_tls_client_auth keys.
    for (i, client) in ["uri", "uri", "mtls"].into_iter().enumerate() {
        let token = s
            .keys
            .sign(JwtAlg::ES256, &object(client, &format!("k{i}")));
        assert_eq!(
            s.h.pending(&query(client, &token)).await.client_id(),
            client
        );
    }
    assert_eq!(s.server.fetches.load(Ordering::SeqCst), 1);
}

/// RFC 9101 §6.3: only the object's parameters count; the outer ones are ignored, even an
/// unregistered `redirect_uri`.
#[tokio::test]
async fn outer_parameters_are_ignored() {
    let s = setup().await;
    let token = s.keys.sign(JwtAlg::ES256, &object("jar", "j1"));
    let q = format!(
        "response_type=code&scope=write&state=outer&redirect_uri={}&nonce=outer&{}",
        enc("https://evil.example/cb"),
        query("jar", &token)
    );
    let pending = s.h.pending(&q).await;
    assert_eq!(pending.scopes().to_string(), "openid read");
    assert_eq!(pending.redirect_uri(), REDIRECT);
    assert_eq!(pending.oidc().unwrap().nonce.as_deref(), Some("n-1"));
    let r =
        s.h.provider
            .approve(pending, approval("alice", "openid read"))
            .await;
    let loc = location(&r);
    assert!(loc.as_str().starts_with(REDIRECT));
    assert_eq!(query_param(loc.as_str(), "state").as_deref(), Some("st"));
    assert!(query_param(loc.as_str(), "code").is_some());
}

/// Refused before the object is trusted: on an error page, never redirected to the
/// `redirect_uri` it names.
#[tokio::test]
async fn unverified_objects_get_an_error_page() {
    let s = setup().await;
    let good = object("jar", "j1");
    let stranger = ClientKey::new("es");
    let bad_signature = stranger.sign(&good);
    let signature = "the request object's signature did not verify";
    assert_page(
        &s.h.respond(&query("jar", &bad_signature)).await,
        "invalid_request_object",
        signature,
    );
    // alg none (this client did not opt in), HMAC keyed with anything, a disallowed alg.
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
    let none = format!("{header}.{}.", URL_SAFE_NO_PAD.encode(good.to_string()));
    assert_page(
        &s.h.respond(&query("jar", &none)).await,
        "invalid_request_object",
        "unsigned request objects are not accepted",
    );
    let public = serde_json::to_vec(&s.keys.es.jwk).unwrap();
    let mut hs_header = Header::new(JwtAlg::HS256);
    hs_header.kid = Some("es".into());
    let hs = encode(&hs_header, &good, &EncodingKey::from_secret(&public)).unwrap();
    let alg = "the request object's alg is not allowed for this client";
    assert_page(
        &s.h.respond(&query("jar", &hs)).await,
        "invalid_request_object",
        alg,
    );
    let es_for_strict = s.keys.sign(JwtAlg::ES256, &object("strict", "j2"));
    assert_page(
        &s.h.respond(&query("strict", &es_for_strict)).await,
        "invalid_request_object",
        alg,
    );
    // A client without keys; garbage; both request and request_uri; a repeated request.
    let r =
        s.h.respond(&format!(
            "client_id=web&request={}",
            s.keys.sign(JwtAlg::ES256, &object("web", "j3"))
        ))
        .await;
    assert_page(
        &r,
        "invalid_request_object",
        "the client has no registered keys to sign request objects with",
    );
    assert_page(
        &s.h.respond(&query("jar", "not.a.jws")).await,
        "invalid_request_object",
        signature,
    );
    let token = s.keys.sign(JwtAlg::ES256, &good);
    assert_page(
        &s.h.respond(&format!("{}&request_uri=urn%3Ax", query("jar", &token)))
            .await,
        "invalid_request",
        "request and request_uri may not both be sent",
    );
    assert_page(
        &s.h.respond(&format!("{}&request={token}", query("jar", &token)))
            .await,
        "invalid_request",
        "request was sent more than once",
    );
    assert_page(
        &s.h.respond(&query("nobody", &token)).await,
        "invalid_request",
        "unknown client",
    );
    // The outer client_id must be the object's (§5): a page, since neither is trusted.
    let other = s.keys.sign(
        JwtAlg::ES256,
        &with(object("jar", "j4"), "client_id", json!("mtls")),
    );
    assert_page(
        &s.h.respond(&query("jar", &other)).await,
        "invalid_request_object",
        "the request object's client_id differs from the request's",
    );
}

/// Refused after the object verified: redirected to its (registered) `redirect_uri`.
#[tokio::test]
async fn claim_rules_are_redirected_with_their_descriptions() {
    let s = setup().await;
    let cases = [
        (
            "iss",
            json!("mtls"),
            "the request object's iss must be the client_id",
        ),
        (
            "aud",
            json!("https://as.example/authorize"),
            "the request object's aud must be the issuer",
        ),
        (
            "aud",
            Value::Null,
            "the request object's aud must be the issuer",
        ),
        ("exp", Value::Null, "the request object has no exp"),
        ("exp", json!(T0), "the request object has expired"),
        ("nbf", json!(T0 + 11), "the request object is not valid yet"),
        ("exp", json!(T0 + 3601), "the request object lives too long"),
        ("jti", Value::Null, "the request object needs a jti"),
    ];
    for (i, (field, value, description)) in cases.into_iter().enumerate() {
        let claims = with(object("jar", &format!("j{i}")), field, value);
        let token = s.keys.sign(JwtAlg::ES256, &claims);
        assert_redirect(
            &s.h.respond(&query("jar", &token)).await,
            "invalid_request_object",
            description,
        );
    }
    // Parameters that cannot be read leave no redirect URI to trust: a page.
    let unreadable = [
        (
            "request_uri",
            json!("https://jar.example/r"),
            "a request object may not carry request or request_uri",
        ),
        (
            "scope",
            json!(["openid"]),
            "a request object parameter has a value of the wrong type",
        ),
    ];
    for (field, value, description) in unreadable {
        let token = s
            .keys
            .sign(JwtAlg::ES256, &with(object("jar", field), field, value));
        assert_page(
            &s.h.respond(&query("jar", &token)).await,
            "invalid_request_object",
            description,
        );
    }
    // The object's own parameters are then validated as any request's.
    let token = s.keys.sign(
        JwtAlg::ES256,
        &with(object("jar", "p"), "scope", json!("admin")),
    );
    assert_redirect(
        &s.h.respond(&query("jar", &token)).await,
        "invalid_scope",
        "scope not allowed: admin",
    );
}

#[tokio::test]
async fn a_request_object_is_used_once() {
    let s = setup().await;
    let token = s.keys.sign(JwtAlg::ES256, &object("jar", "once"));
    s.h.pending(&query("jar", &token)).await;
    assert_redirect(
        &s.h.respond(&query("jar", &token)).await,
        "invalid_request_object",
        "the request object was used before",
    );
    // The same jti from another client is another id.
    let mtls = s.keys.sign(JwtAlg::ES256, &object("mtls", "once"));
    s.h.pending(&query("mtls", &mtls)).await;
}

/// RFC 9101 §10.5: a client that requires signed objects gets `invalid_request` for a plain
/// request, and its registered `request_object_signing_alg` is the only one accepted.
#[tokio::test]
async fn required_signed_objects() {
    let s = setup().await;
    assert_redirect(
        &s.h.respond(&plain("strict")).await,
        "invalid_request",
        "this client must send a signed request object",
    );
    let token = s.keys.sign(JwtAlg::PS256, &object("strict", "j1"));
    assert_eq!(
        s.h.pending(&query("strict", &token)).await.client_id(),
        "strict"
    );
    // The server-wide requirement covers every client.
    let mut policy = Policy::default();
    policy.request_objects.require_signed = true;
    let s = setup_with(policy).await;
    assert_redirect(
        &s.h.respond(&plain("jar")).await,
        "invalid_request",
        "this client must send a signed request object",
    );
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
    let none = format!(
        "{header}.{}.",
        URL_SAFE_NO_PAD.encode(object("loose", "u").to_string())
    );
    assert_page(
        &s.h.respond(&query("loose", &none)).await,
        "invalid_request_object",
        "unsigned request objects are not accepted",
    );
}

#[tokio::test]
async fn unsigned_objects_with_the_dangerous_opt_in() {
    let s = setup().await;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
    let none = format!(
        "{header}.{}.",
        URL_SAFE_NO_PAD.encode(object("loose", "u").to_string())
    );
    assert_eq!(
        s.h.pending(&query("loose", &none)).await.client_id(),
        "loose"
    );
}

#[tokio::test]
async fn discovery_advertises_request_objects() {
    let s = setup().await;
    let meta: Value = serde_json::from_slice(s.h.provider.discovery().body()).unwrap();
    assert_eq!(meta["request_parameter_supported"], true);
    assert_eq!(
        meta["request_object_signing_alg_values_supported"],
        json!(["RS256", "PS256", "ES256", "EdDSA"])
    );
    assert_eq!(meta["require_signed_request_object"], false);
    assert_eq!(meta["request_uri_parameter_supported"], false);
    let mut policy = Policy::default();
    policy.request_objects.algs = vec![Algorithm::PS256];
    policy.request_objects.require_signed = true;
    let s = setup_with(policy).await;
    let meta: Value = serde_json::from_slice(s.h.provider.discovery().body()).unwrap();
    assert_eq!(
        meta["request_object_signing_alg_values_supported"],
        json!(["PS256"])
    );
    assert_eq!(meta["require_signed_request_object"], true);
}

/// RFC 7591 and OpenID Connect Dynamic Client Registration §2: the two members are read,
/// kept, echoed and enforced.
#[tokio::test]
async fn registration_accepts_and_echoes_the_request_object_metadata() {
    let keys = Keys::new();
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.registration(RegistrationPolicy::open(ScopeSet::parse("openid").unwrap()))
    })
    .await;
    let body = json!({
        "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
        "jwks": keys.set(), "scope": "openid",
        "require_signed_request_object": true, "request_object_signing_alg": "ES256",
    });
    let (status, json, _) = registration_call(&h, Method::POST, "", None, Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert_eq!(json["require_signed_request_object"], true);
    assert_eq!(json["request_object_signing_alg"], "ES256");
    let id = json["client_id"].as_str().unwrap().to_owned();
    assert_redirect(
        &h.respond(&plain(&id)).await,
        "invalid_request",
        "this client must send a signed request object",
    );
    let openid = |jti: &str| with(object(&id, jti), "scope", json!("openid"));
    let token = keys.sign(JwtAlg::ES256, &openid("r1"));
    assert_eq!(h.pending(&query(&id, &token)).await.client_id(), id);
    // Its registered request_object_signing_alg is the only one accepted.
    let rs = keys.sign(JwtAlg::RS256, &openid("r2"));
    assert_page(
        &h.respond(&query(&id, &rs)).await,
        "invalid_request_object",
        "the request object's alg is not allowed for this client",
    );
    for alg in ["none", "HS256", "XS1"] {
        let body = with(body.clone(), "request_object_signing_alg", json!(alg));
        let (status, json, _) = registration_call(&h, Method::POST, "", None, Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{alg}");
        assert_eq!(json["error"], "invalid_client_metadata");
        assert_eq!(
            json["error_description"],
            "request_object_signing_alg is not supported"
        );
    }
}

/// `client`'s push to the PAR endpoint of `form`, authenticated by a `private_key_jwt`
/// assertion signed with the ES256 key: the status and the JSON body.
async fn push(s: &Setup, client: &str, form: &str, jti: &str) -> (StatusCode, Value) {
    let (status, body, _) = push_with(s, client, form, jti, None).await;
    (status, body)
}

/// [`push`] with a `DPoP` header; also the response's headers.
async fn push_with(
    s: &Setup,
    client: &str,
    form: &str,
    jti: &str,
    dpop: Option<String>,
) -> (StatusCode, Value, http::HeaderMap) {
    let assertion = s.keys.es.sign(&json!({
        "iss": client, "sub": client, "aud": ISSUER, "jti": jti, "iat": T0, "exp": T0 + 60,
    }));
    let form = form.replace(&format!("client_id={client}&"), "");
    let body = format!(
        "client_id={client}&client_assertion_type={}&client_assertion={assertion}&{form}",
        enc("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    let mut req = http::Request::builder()
        .method(Method::POST)
        .uri("/par")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(proof) = dpop {
        req = req.header("dpop", proof);
    }
    let r =
        s.h.provider
            .pushed_authorization_request(req.body(Bytes::from(body)).unwrap())
            .await;
    (
        r.status(),
        serde_json::from_slice(r.body()).unwrap_or_default(),
        r.headers().clone(),
    )
}

/// A DPoP proof (RFC 9449 §4.2) of `key` for `POST /par`, with the server's `nonce` if any.
fn par_proof(key: &SigningKey, jti: &str, nonce: Option<&str>) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk()});
    let mut claims = json!({"jti": jti, "htm": "POST", "htu": format!("{ISSUER}/par"), "iat": T0});
    if let Some(n) = nonce {
        claims["nonce"] = json!(n);
    }
    let input = format!("{}.{}", part(&header), part(&claims));
    let signature = key.sign(input.as_bytes(), &SystemRandom::new()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// RFC 9449 §8 with RFC 9126 §3: a push refused for a missing DPoP nonce does not spend its
/// request object, so the retry with the nonce and the same object succeeds.
#[tokio::test]
async fn a_nonce_retry_at_the_par_endpoint_keeps_its_request_object() {
    let mut policy = Policy::default();
    policy.dpop.require_nonce = true;
    let s = setup_with(policy).await;
    let key = SigningKey::generate("dpop", Algorithm::ES256, &SystemRandom::new()).unwrap();
    let token = s.keys.sign(JwtAlg::ES256, &object("jar", "retried"));
    let form = format!("request={token}");
    let first = Some(par_proof(&key, "p1", None));
    let (status, body, headers) = push_with(&s, "jar", &form, "n1", first).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "use_dpop_nonce");
    let nonce = headers["dpop-nonce"].to_str().unwrap().to_owned();
    let retry = Some(par_proof(&key, "p2", Some(&nonce)));
    let (status, body, _) = push_with(&s, "jar", &form, "n2", retry).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// RFC 9126 §3: a request object may be pushed; it is verified at push time (errors as
/// JSON, 400), its `jti` spent, and only its parameters count at the authorization endpoint.
#[tokio::test]
async fn a_request_object_may_be_pushed() {
    let s = setup().await;
    let token = s.keys.sign(JwtAlg::ES256, &object("jar", "pushed"));
    let (status, body) = push(&s, "jar", &format!("request={token}"), "a1").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let request_uri = body["request_uri"].as_str().unwrap();
    let pending =
        s.h.pending(&format!("client_id=jar&request_uri={}", enc(request_uri)))
            .await;
    assert_eq!(pending.scopes().to_string(), "openid read");
    assert_eq!(pending.oidc().unwrap().nonce.as_deref(), Some("n-1"));

    let (status, body) = push(&s, "jar", &format!("request={token}"), "a2").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request_object");
    assert_eq!(
        body["error_description"],
        "the request object was used before"
    );

    let stranger = ClientKey::new("es").sign(&object("jar", "other"));
    let (status, body) = push(&s, "jar", &format!("request={stranger}"), "a3").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request_object");

    // A client that requires signed objects cannot push a plain request.
    let (status, body) = push(&s, "strict", &plain("strict"), "a4").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(
        body["error_description"],
        "this client must send a signed request object"
    );
}

const REQUEST_URI: &str = "https://jar.example/requests/1";
const UNSERVED_URI: &str = "https://jar.example/requests/gone";
const LARGE_URI: &str = "https://jar.example/requests/large";

/// Serves request objects by URL, whatever size it is asked for (the engine must bound it
/// itself), and counts the fetches.
#[derive(Default)]
struct ObjectServer {
    objects: std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>,
    fetches: AtomicUsize,
    max_bytes: AtomicUsize,
}

impl ObjectServer {
    fn serve(&self, url: &str, body: impl Into<Vec<u8>>) {
        self.objects
            .lock()
            .unwrap()
            .insert(url.to_owned(), body.into());
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[portcullis::async_trait]
impl Fetcher for ObjectServer {
    async fn fetch(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.max_bytes.store(max_bytes, Ordering::SeqCst);
        let body = self.objects.lock().unwrap().get(url).cloned();
        body.ok_or_else(|| FetchError::Failed("status 404".into()))
    }
}

struct Remote {
    h: Harness,
    keys: Keys,
    server: Arc<ObjectServer>,
}

/// A provider that fetches `request_uri`s: `jar` (inline keys) registered
/// [`REQUEST_URI`], [`UNSERVED_URI`] and [`LARGE_URI`]; `mtls` registered none.
async fn remote() -> Remote {
    let keys = Keys::new();
    let server = Arc::new(ObjectServer::default());
    let fetcher = server.clone();
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.fetcher(fetcher).fetch_request_uris_on_clients_behalf()
    })
    .await;
    let jar = jar_client(
        "jar",
        ClientKind::PrivateKeyJwt {
            keys: ClientKeys::Jwks(keys.set()),
        },
    )
    .with_request_objects(ClientRequestObjects {
        request_uris: vec![REQUEST_URI.into(), UNSERVED_URI.into(), LARGE_URI.into()],
        ..ClientRequestObjects::default()
    });
    let mtls = jar_client(
        "mtls",
        ClientKind::SelfSignedTlsClientAuth { keys: keys.set() },
    );
    for c in [jar, mtls] {
        h.provider.register_client(&c).await.unwrap();
    }
    Remote { h, keys, server }
}

fn by_reference(client_id: &str, uri: &str) -> String {
    format!("client_id={client_id}&request_uri={}", enc(uri))
}

/// RFC 9101 §5.2, §6.2: a registered `request_uri` is fetched (once, bounded to 64 KiB)
/// and its object verified as a `request`; only its parameters count (§6.3), and the code
/// is issued to its redirect URI.
#[tokio::test]
async fn a_registered_request_uri_is_fetched_and_its_object_counts() {
    let s = remote().await;
    s.server.serve(
        REQUEST_URI,
        s.keys.sign(JwtAlg::PS256, &object("jar", "r1")),
    );
    let q = format!(
        "{}&scope=write&state=outer&response_type=code&redirect_uri={}",
        by_reference("jar", REQUEST_URI),
        enc("https://evil.example/cb")
    );
    let pending = s.h.pending(&q).await;
    assert_eq!(s.server.fetches(), 1);
    assert_eq!(
        s.server.max_bytes.load(Ordering::SeqCst),
        portcullis::MAX_REQUEST_OBJECT_BYTES
    );
    assert_eq!(portcullis::MAX_REQUEST_OBJECT_BYTES, 64 * 1024);
    assert_eq!(pending.scopes().to_string(), "openid read");
    assert_eq!(pending.redirect_uri(), REDIRECT);
    let r =
        s.h.provider
            .approve(pending, approval("alice", "openid read"))
            .await;
    let loc = location(&r);
    assert!(loc.as_str().starts_with(REDIRECT), "{loc}");
    assert_eq!(query_param(loc.as_str(), "state").as_deref(), Some("st"));
    assert!(query_param(loc.as_str(), "code").is_some());
    // The object's jti is spent as a request's is: the same object again is refused.
    assert_redirect(
        &s.h.respond(&by_reference("jar", REQUEST_URI)).await,
        "invalid_request_object",
        "the request object was used before",
    );
    // Trailing whitespace around the object is fine.
    let token = s.keys.sign(JwtAlg::ES256, &object("jar", "r2"));
    s.server.serve(REQUEST_URI, format!("{token}\r\n"));
    assert_eq!(
        s.h.pending(&by_reference("jar", REQUEST_URI))
            .await
            .client_id(),
        "jar"
    );
}

/// RFC 9101 §10.4.1: only a `request_uri` the client registered is fetched; one that is
/// not, or cannot be fetched (missing, too large), is `invalid_request_uri` on an error
/// page; a bad object is `invalid_request_object`, as by value.
#[tokio::test]
async fn unregistered_or_unfetchable_request_uris_are_refused() {
    let s = remote().await;
    let not_registered = "request_uri is not registered for this client";
    for (client, uri) in [
        ("jar", "https://jar.example/requests/2"),
        ("jar", "https://jar.example/requests/1/"),
        ("jar", "https://JAR.example/requests/1"),
        ("mtls", REQUEST_URI),
        ("jar", "http://127.0.0.1/requests/1"),
    ] {
        assert_page(
            &s.h.respond(&by_reference(client, uri)).await,
            "invalid_request_uri",
            not_registered,
        );
    }
    assert_page(
        &s.h.respond(&by_reference("nobody", REQUEST_URI)).await,
        "invalid_request",
        "unknown client",
    );
    assert_page(
        &s.h.respond(&format!(
            "{}&request_uri={}",
            by_reference("jar", REQUEST_URI),
            enc(REQUEST_URI)
        ))
        .await,
        "invalid_request",
        "request_uri was sent more than once",
    );
    assert_eq!(s.server.fetches(), 0, "nothing unregistered is fetched");

    let unfetchable = "the request_uri could not be fetched";
    assert_page(
        &s.h.respond(&by_reference("jar", UNSERVED_URI)).await,
        "invalid_request_uri",
        unfetchable,
    );
    let big = s.keys.sign(JwtAlg::ES256, &object("jar", "big"));
    let padding = " ".repeat(portcullis::MAX_REQUEST_OBJECT_BYTES + 1 - big.len());
    s.server.serve(LARGE_URI, format!("{big}{padding}"));
    assert_page(
        &s.h.respond(&by_reference("jar", LARGE_URI)).await,
        "invalid_request_uri",
        unfetchable,
    );
    assert_eq!(s.server.fetches(), 2);

    s.server.serve(REQUEST_URI, "not.a.jws");
    assert_page(
        &s.h.respond(&by_reference("jar", REQUEST_URI)).await,
        "invalid_request_object",
        "the request object's signature did not verify",
    );
    s.server.serve(REQUEST_URI, vec![0xff, 0xfe]);
    assert_page(
        &s.h.respond(&by_reference("jar", REQUEST_URI)).await,
        "invalid_request_object",
        "the request object is not text",
    );
    // Verified, then judged: its claims' refusals go to its redirect URI.
    let expired = with(object("jar", "old"), "exp", json!(T0));
    s.server
        .serve(REQUEST_URI, s.keys.sign(JwtAlg::ES256, &expired));
    assert_redirect(
        &s.h.respond(&by_reference("jar", REQUEST_URI)).await,
        "invalid_request_object",
        "the request object has expired",
    );
    // request and request_uri together are still refused, before any fetch.
    let fetches = s.server.fetches();
    let token = s.keys.sign(JwtAlg::ES256, &object("jar", "both"));
    assert_page(
        &s.h.respond(&format!(
            "{}&request={token}",
            by_reference("jar", REQUEST_URI)
        ))
        .await,
        "invalid_request",
        "request and request_uri may not both be sent",
    );
    assert_eq!(s.server.fetches(), fetches);
}

/// RFC 9126 §2.1: `request_uri` is never pushed (so never fetched for a push), while a
/// pushed request's own reference keeps working with fetching enabled.
#[tokio::test]
async fn the_par_endpoint_never_fetches() {
    let r = remote().await;
    r.server.serve(
        REQUEST_URI,
        r.keys.sign(JwtAlg::ES256, &object("jar", "p1")),
    );
    let s = Setup {
        h: r.h,
        keys: r.keys,
        server: Arc::new(KeyServer {
            body: Vec::new(),
            fetches: AtomicUsize::new(0),
        }),
    };
    let (status, body) = push(
        &s,
        "jar",
        &format!("request_uri={}", enc(REQUEST_URI)),
        "a1",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(
        body["error_description"],
        "request_uri may not be pushed (RFC 9126 §2.1)"
    );
    assert_eq!(r.server.fetches(), 0);
    let token = s.keys.sign(JwtAlg::ES256, &object("jar", "p2"));
    let (status, body) = push(&s, "jar", &format!("request={token}"), "a2").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let urn = body["request_uri"].as_str().unwrap();
    let pending = s.h.pending(&by_reference("jar", urn)).await;
    assert_eq!(pending.scopes().to_string(), "openid read");
    assert_eq!(r.server.fetches(), 0);
}

/// Off by default; on, it needs a fetcher, and discovery says so (OpenID Connect
/// Discovery 1.0 §3).
#[tokio::test]
async fn fetching_request_uris_is_opt_in_and_advertised() {
    let s = remote().await;
    let meta: Value = serde_json::from_slice(s.h.provider.discovery().body()).unwrap();
    assert_eq!(meta["request_uri_parameter_supported"], true);
    assert_eq!(meta["require_request_uri_registration"], true);
    let off = setup().await;
    let meta: Value = serde_json::from_slice(off.h.provider.discovery().body()).unwrap();
    assert_eq!(meta["request_uri_parameter_supported"], false);
    assert_eq!(meta["require_request_uri_registration"], false);
    // Off: a request_uri is not supported (the key server would panic on any other URL).
    let r = off.h.respond(&by_reference("jar", REQUEST_URI)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let loc = location(&r);
    assert_eq!(
        query_param(loc.as_str(), "error").as_deref(),
        Some("request_uri_not_supported")
    );
    let built = portcullis::Provider::builder(portcullis::core::Issuer::parse(ISSUER).unwrap())
        .stores(portcullis::Stores::shared(Arc::new(MemoryStore::new())))
        .fetch_request_uris_on_clients_behalf()
        .build();
    assert!(matches!(
        built,
        Err(portcullis::BuildError::RequestUrisWithoutFetcher)
    ));
}

/// `client`'s push of `form` authenticated by `assertion`: the status and JSON body.
async fn push_asserted(
    s: &Setup,
    client: &str,
    assertion: &str,
    form: &str,
) -> (StatusCode, Value) {
    let body = format!(
        "client_id={client}&client_assertion_type={}&client_assertion={assertion}&{form}",
        enc("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    let req = http::Request::builder()
        .method(Method::POST)
        .uri("/par")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(body))
        .unwrap();
    let r = s.h.provider.pushed_authorization_request(req).await;
    (
        r.status(),
        serde_json::from_slice(r.body()).unwrap_or_default(),
    )
}

/// RFC 9101 §10.8: a request object whose claims would pass for a `private_key_jwt`
/// assertion (`iss` = `sub` = the client, `aud` the issuer) is refused as one by its
/// `typ`; it still works as the request object it is.
#[tokio::test]
async fn a_request_object_is_never_a_client_assertion() {
    let s = setup().await;
    let confusable = with(object("jar", "x1"), "sub", json!("jar"));
    let token = s.keys.sign(JwtAlg::PS256, &confusable);
    let form = plain("jar").replace("client_id=jar&", "");
    let (status, body) = push_asserted(&s, "jar", &token, &form).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(
        body["error_description"],
        "a request object is not a client assertion"
    );
    assert_eq!(s.h.pending(&query("jar", &token)).await.client_id(), "jar");
}

/// RFC 9101 §4, §10.8: a JWT of another type is not a request object; a client that
/// requires the explicit type sends `oauth-authz-req+jwt` only, so even its untyped or
/// `JWT` client assertions cannot pass for request objects.
#[tokio::test]
async fn a_client_assertion_is_never_a_request_object() {
    let s = setup().await;
    let typed = jar_client(
        "typed",
        ClientKind::PrivateKeyJwt {
            keys: ClientKeys::Jwks(s.keys.set()),
        },
    )
    .with_request_objects(ClientRequestObjects {
        require_explicit_type: true,
        ..ClientRequestObjects::default()
    });
    s.h.provider.register_client(&typed).await.unwrap();
    let typ = "the request object's typ must be oauth-authz-req+jwt";
    // An assertion typed as one (RFC 7523bis), carrying an authorization request besides.
    let assertion = |client: &str, jti: &str| with(object(client, jti), "sub", json!(client));
    let mut header = Header::new(JwtAlg::EdDSA);
    header.kid = Some("ed".into());
    header.typ = Some("client-authentication+jwt".into());
    let key = EncodingKey::from_ed_der(&s.keys.ed_der);
    let typed_assertion = encode(&header, &assertion("jar", "c1"), &key).unwrap();
    assert_page(
        &s.h.respond(&query("jar", &typed_assertion)).await,
        "invalid_request_object",
        typ,
    );
    // Untyped and `JWT` objects pass for older clients, not for the strict one.
    for (i, header_typ) in [None, Some("JWT")].into_iter().enumerate() {
        header.typ = header_typ.map(str::to_owned);
        let jar = encode(&header, &object("jar", &format!("o{i}")), &key).unwrap();
        assert_eq!(s.h.pending(&query("jar", &jar)).await.client_id(), "jar");
        let strict = encode(&header, &assertion("typed", &format!("o{i}")), &key).unwrap();
        assert_page(
            &s.h.respond(&query("typed", &strict)).await,
            "invalid_request_object",
            typ,
        );
    }
    let explicit = s.keys.sign(JwtAlg::EdDSA, &object("typed", "e1"));
    assert_eq!(
        s.h.pending(&query("typed", &explicit)).await.client_id(),
        "typed"
    );
}

/// RFC 9101 §10.5: `require_signed_request_object` needs keys to sign with; `request_uris`
/// are registered, echoed and fetched from when the host enabled it.
#[tokio::test]
async fn registration_checks_signed_objects_and_request_uris() {
    let keys = Keys::new();
    let server = Arc::new(ObjectServer::default());
    let fetcher = server.clone();
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.registration(RegistrationPolicy::open(ScopeSet::parse("openid").unwrap()))
            .fetcher(fetcher)
            .fetch_request_uris_on_clients_behalf()
    })
    .await;
    let keyless = json!({
        "redirect_uris": [REDIRECT], "scope": "openid", "require_signed_request_object": true,
    });
    let (status, json, _) = registration_call(&h, Method::POST, "", None, Some(&keyless)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert_eq!(json["error"], "invalid_client_metadata");
    assert_eq!(
        json["error_description"],
        "require_signed_request_object needs the client's keys (jwks or jwks_uri, with \
         private_key_jwt or self_signed_tls_client_auth)"
    );
    let body = json!({
        "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
        "jwks": keys.set(), "scope": "openid", "require_signed_request_object": true,
        "request_uris": [REQUEST_URI],
    });
    let (status, json, _) = registration_call(&h, Method::POST, "", None, Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert_eq!(json["request_uris"], json!([REQUEST_URI]));
    let id = json["client_id"].as_str().unwrap().to_owned();
    let openid = with(object(&id, "r1"), "scope", json!("openid"));
    server.serve(REQUEST_URI, keys.sign(JwtAlg::ES256, &openid));
    assert_eq!(
        h.pending(&by_reference(&id, REQUEST_URI)).await.client_id(),
        id
    );
    let http = with(body, "request_uris", json!(["http://jar.example/r"]));
    let (status, json, _) = registration_call(&h, Method::POST, "", None, Some(&http)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert_eq!(json["error"], "invalid_client_metadata");
    assert_eq!(
        json["error_description"],
        "request_uris must be an https URL"
    );
}
