//! Dynamic registration (RFC 7591, OpenID Connect Dynamic Client Registration 1.0) of every
//! method discovery advertises: `private_key_jwt` (inline `jwks` or `jwks_uri`),
//! `client_secret_jwt` (a generated secret, sealed), `tls_client_auth` and
//! `self_signed_tls_client_auth` (RFC 8705), each client then authenticating at the token
//! endpoint with assertions made by an independent implementation (`jsonwebtoken`) or a
//! certificate made by `rcgen`; a registered `token_endpoint_auth_signing_alg` enforced.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::client_key::ClientKey;
use common::{enc, error_of, Harness, ISSUER, T0};
use http::{Method, Request, StatusCode};
use jsonwebtoken::{encode, Algorithm as JwtAlg, EncodingKey, Header};
use portcullis::core::{
    Algorithm, CertificateSubject, ClientKeys, ClientKind, KeyEncryptionKey, KeyEncryptionKeys,
    ScopeSet, SigningKey, JWT_BEARER_ASSERTION_TYPE,
};
use portcullis::{
    CertificateChain, ClientCertificate, ClientCertificateAuth, FetchError, Fetcher,
    RegistrationPolicy,
};
use portcullis_store_memory::MemoryStore;
use rcgen::{CertificateParams, KeyPair, SanType};
use ring::rand::SystemRandom;
use serde_json::{json, Value};

const JWKS_URI: &str = "https://rp.example/jwks.json";
const CC: &str = "grant_type=client_credentials";

/// The client's keys as registered, and an assertion of `client_id` signed with `key`.
fn jwks(key: &ClientKey) -> Value {
    json!({ "keys": [key.jwk] })
}

fn signed(key: &ClientKey, client_id: &str, jti: &str) -> String {
    key.sign(&claims(client_id, jti))
}

fn claims(client_id: &str, jti: &str) -> Value {
    json!({
        "iss": client_id, "sub": client_id, "aud": format!("{ISSUER}/token"),
        "exp": T0 + 60, "iat": T0, "jti": jti,
    })
}

fn hs(alg: JwtAlg, secret: &str, client_id: &str, jti: &str) -> String {
    encode(
        &Header::new(alg),
        &claims(client_id, jti),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// Serves one JWK Set from memory.
struct TestFetcher(Value);

#[portcullis::async_trait]
impl Fetcher for TestFetcher {
    async fn fetch(&self, url: &str, _max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        assert_eq!(url, JWKS_URI);
        Ok(serde_json::to_vec(&self.0).unwrap())
    }
}

/// What the provider is configured with beside open registration.
#[derive(Default)]
struct Config {
    kek: bool,
    fetcher: Option<Arc<TestFetcher>>,
    mtls: bool,
}

async fn provider(config: Config) -> Harness {
    let scopes = ScopeSet::parse("openid read").unwrap();
    Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |mut b| {
        b = b.registration(RegistrationPolicy::open(scopes));
        if config.kek {
            let kek = KeyEncryptionKey::new("k1", &[9; 32]).unwrap();
            b = b.key_encryption_keys(KeyEncryptionKeys::new(kek));
        }
        if let Some(f) = config.fetcher {
            b = b.fetcher(f);
        }
        if config.mtls {
            b = b.client_certificate_auth(ClientCertificateAuth::SelfSignedAndClientCa);
        }
        b
    })
    .await
}

async fn call(
    h: &Harness,
    method: Method,
    query: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let (status, json, _) = common::registration_call(h, method, query, bearer, body).await;
    (status, json)
}

/// Registers a `client_credentials` client of `method` with the `extra` members.
async fn register(h: &Harness, method: &str, extra: Value) -> (StatusCode, Value) {
    let mut body = json!({"grant_types": ["client_credentials"], "scope": "read",
        "token_endpoint_auth_method": method});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    call(h, Method::POST, "", None, Some(&body)).await
}

async fn registered(h: &Harness, method: &str, extra: Value) -> Value {
    let (status, json) = register(h, method, extra).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    json
}

async fn refused_registration(h: &Harness, method: &str, extra: Value, description: &str) {
    let (status, json) = register(h, method, extra.clone()).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_client_metadata"),
        "{method} {extra}: {json}"
    );
    assert_eq!(json["error_description"], description, "{method} {extra}");
}

/// A client-credentials request authenticated with `assertion`.
async fn with_assertion(h: &Harness, assertion: &str) -> (StatusCode, Value, String) {
    let body = format!(
        "{CC}&client_assertion_type={}&client_assertion={assertion}",
        enc(JWT_BEARER_ASSERTION_TYPE)
    );
    let (status, json, resp) = h.token(&body, None).await;
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map_or(String::new(), |v| v.to_str().unwrap().to_owned());
    (status, json, challenge)
}

async fn issued(h: &Harness, assertion: &str) {
    let (status, json, _) = with_assertion(h, assertion).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(json["access_token"].is_string(), "{json}");
}

async fn refused_assertion(h: &Harness, assertion: &str) {
    let (status, json, challenge) = with_assertion(h, assertion).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::UNAUTHORIZED, "invalid_client"),
        "{json}"
    );
    assert!(challenge.starts_with("Basic "), "{challenge}");
}

fn id_of(json: &Value) -> String {
    json["client_id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn private_key_jwt_with_inline_jwks_then_new_keys_on_update() {
    let h = provider(Config::default()).await;
    let key = ClientKey::new("k1");
    let json = registered(&h, "private_key_jwt", json!({"jwks": jwks(&key)})).await;
    let id = id_of(&json);
    assert_eq!(json["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(json["jwks"], jwks(&key));
    assert!(json.get("client_secret").is_none(), "{json}");
    assert!(json.get("client_secret_expires_at").is_none(), "{json}");
    issued(&h, &signed(&key, &id, "a1")).await;
    let stored = h.provider.client(&id).await.unwrap().unwrap();
    assert!(matches!(
        &stored.kind,
        ClientKind::PrivateKeyJwt { keys: ClientKeys::Jwks(set) } if set.keys.len() == 1
    ));

    // RFC 7592: read echoes the keys; an update replaces them.
    let token = json["registration_access_token"].as_str().unwrap();
    let query = format!("?client_id={id}");
    let (status, read) = call(&h, Method::GET, &query, Some(token), None).await;
    assert_eq!((status, &read["jwks"]), (StatusCode::OK, &jwks(&key)));
    let new_key = ClientKey::new("k2");
    let update = json!({"client_id": id, "grant_types": ["client_credentials"],
        "scope": "read", "token_endpoint_auth_method": "private_key_jwt",
        "jwks": jwks(&new_key)});
    let (status, updated) = call(&h, Method::PUT, &query, Some(token), Some(&update)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["jwks"], jwks(&new_key));
    refused_assertion(&h, &signed(&key, &id, "a2")).await;
    issued(&h, &signed(&new_key, &id, "a3")).await;
}

#[tokio::test]
async fn private_key_jwt_with_a_jwks_uri() {
    let key = ClientKey::new("k1");
    let fetcher = Arc::new(TestFetcher(jwks(&key)));
    let h = provider(Config {
        fetcher: Some(fetcher),
        ..Config::default()
    })
    .await;
    let json = registered(&h, "private_key_jwt", json!({"jwks_uri": JWKS_URI})).await;
    assert_eq!(json["jwks_uri"], JWKS_URI);
    assert!(json.get("jwks").is_none(), "{json}");
    let id = id_of(&json);
    issued(&h, &signed(&key, &id, "a1")).await;
    refused_assertion(&h, &signed(&ClientKey::new("k1"), &id, "a2")).await;

    // Without a fetcher, a jwks_uri cannot be registered.
    let plain = provider(Config::default()).await;
    refused_registration(
        &plain,
        "private_key_jwt",
        json!({"jwks_uri": JWKS_URI}),
        "jwks_uri is not supported: register jwks",
    )
    .await;
}

#[tokio::test]
async fn client_secret_jwt_gets_a_sealed_generated_secret() {
    let h = provider(Config {
        kek: true,
        ..Config::default()
    })
    .await;
    let json = registered(&h, "client_secret_jwt", json!({})).await;
    let id = id_of(&json);
    let secret = json["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 43);
    assert_eq!(json["client_secret_expires_at"], 0);
    let stored = h.provider.client(&id).await.unwrap().unwrap();
    assert!(matches!(stored.kind, ClientKind::SecretJwt { .. }));
    assert!(!serde_json::to_string(&*stored).unwrap().contains(&secret));
    issued(&h, &hs(JwtAlg::HS256, &secret, &id, "a1")).await;
    refused_assertion(
        &h,
        &hs(
            JwtAlg::HS256,
            "another-secret-of-enough-length-0123456789",
            &id,
            "a2",
        ),
    )
    .await;

    // RFC 7592: an update keeps the secret (and may present it); a wrong one is refused.
    let token = json["registration_access_token"].as_str().unwrap();
    let query = format!("?client_id={id}");
    let mut update = json!({"client_id": id, "grant_types": ["client_credentials"],
        "scope": "read", "token_endpoint_auth_method": "client_secret_jwt",
        "client_secret": "wrong"});
    let (status, answer) = call(&h, Method::PUT, &query, Some(token), Some(&update)).await;
    assert_eq!(
        (status, error_of(&answer)),
        (StatusCode::BAD_REQUEST, "invalid_client_metadata")
    );
    update["client_secret"] = json!(secret);
    let (status, answer) = call(&h, Method::PUT, &query, Some(token), Some(&update)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.get("client_secret").is_none(), "{answer}");
    issued(&h, &hs(JwtAlg::HS256, &secret, &id, "a3")).await;

    // Without a key-encryption key the method is neither advertised nor registrable.
    let plain = provider(Config::default()).await;
    let discovery: Value = serde_json::from_slice(plain.provider.discovery().body()).unwrap();
    let methods = discovery["token_endpoint_auth_methods_supported"].to_string();
    assert!(!methods.contains("client_secret_jwt"), "{methods}");
    refused_registration(
        &plain,
        "client_secret_jwt",
        json!({}),
        "token_endpoint_auth_method is not supported",
    )
    .await;
}

/// OpenID Connect Dynamic Client Registration 1.0 §2: an assertion signed with another
/// algorithm than the registered one is refused, even with the right key or secret.
#[tokio::test]
async fn the_registered_signing_alg_is_enforced() {
    let h = provider(Config {
        kek: true,
        ..Config::default()
    })
    .await;
    let key = ClientKey::new("k1");
    let extra = json!({"jwks": jwks(&key), "token_endpoint_auth_signing_alg": "EdDSA"});
    let json = registered(&h, "private_key_jwt", extra).await;
    assert_eq!(json["token_endpoint_auth_signing_alg"], "EdDSA");
    refused_assertion(&h, &signed(&key, &id_of(&json), "a1")).await;
    let extra = json!({"jwks": jwks(&key), "token_endpoint_auth_signing_alg": "ES256"});
    let id = id_of(&registered(&h, "private_key_jwt", extra).await);
    issued(&h, &signed(&key, &id, "a2")).await;

    let extra = json!({"token_endpoint_auth_signing_alg": "HS384"});
    let json = registered(&h, "client_secret_jwt", extra).await;
    let (id, secret) = (id_of(&json), json["client_secret"].as_str().unwrap());
    refused_assertion(&h, &hs(JwtAlg::HS256, secret, &id, "a3")).await;
    issued(&h, &hs(JwtAlg::HS384, secret, &id, "a4")).await;
}

fn certificate(key: &KeyPair, dns: &str) -> Vec<u8> {
    let mut params = CertificateParams::default();
    params.subject_alt_names = vec![SanType::DnsName(dns.try_into().unwrap())];
    params.self_signed(key).unwrap().der().to_vec()
}

async fn with_certificate(h: &Harness, id: &str, cert: ClientCertificate) -> StatusCode {
    let req = Request::post("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(format!("{CC}&client_id={id}")));
    let mut req = req.unwrap();
    req.extensions_mut().insert(cert);
    h.provider.token(req).await.status()
}

#[tokio::test]
async fn mutual_tls_clients_register_when_offered() {
    let h = provider(Config {
        mtls: true,
        ..Config::default()
    })
    .await;
    let json = registered(
        &h,
        "tls_client_auth",
        json!({"tls_client_auth_san_dns": "app.example"}),
    )
    .await;
    assert_eq!(json["tls_client_auth_san_dns"], "app.example");
    let id = id_of(&json);
    let stored = h.provider.client(&id).await.unwrap().unwrap();
    assert_eq!(
        stored.kind,
        ClientKind::TlsClientAuth {
            subject: CertificateSubject::SanDns("app.example".into())
        }
    );
    let key = KeyPair::generate().unwrap();
    let chained = |dns| ClientCertificate::new(certificate(&key, dns), CertificateChain::ClientCa);
    assert_eq!(
        with_certificate(&h, &id, chained("app.example")).await,
        StatusCode::OK
    );
    assert_eq!(
        with_certificate(&h, &id, chained("other.example")).await,
        StatusCode::UNAUTHORIZED
    );

    // Self-signed: the certificate's key registered as jwks.
    let rng = SystemRandom::new();
    let jwk = SigningKey::from_pkcs8("k", Algorithm::ES256, &key.serialize_der(), &rng)
        .unwrap()
        .public_jwk();
    let jwks = json!({ "keys": [jwk] });
    let json = registered(&h, "self_signed_tls_client_auth", json!({ "jwks": jwks })).await;
    let id = id_of(&json);
    let unverified =
        ClientCertificate::new(certificate(&key, "x.example"), CertificateChain::Unverified);
    assert_eq!(with_certificate(&h, &id, unverified).await, StatusCode::OK);

    // Without mutual TLS, neither method registers.
    let plain = provider(Config::default()).await;
    for (method, extra) in [
        (
            "tls_client_auth",
            json!({"tls_client_auth_san_dns": "app.example"}),
        ),
        ("self_signed_tls_client_auth", json!({ "jwks": jwks })),
    ] {
        refused_registration(
            &plain,
            method,
            extra,
            "token_endpoint_auth_method is not supported",
        )
        .await;
    }
}

#[tokio::test]
async fn every_refusal_is_invalid_client_metadata() {
    let h = provider(Config {
        kek: true,
        fetcher: Some(Arc::new(TestFetcher(json!({"keys": []})))),
        mtls: true,
    })
    .await;
    let key = ClientKey::new("k1");
    let mut private = serde_json::to_value(&key.jwk).unwrap();
    private["d"] = json!("AAAA");
    for (method, extra, description) in [
        (
            "private_key_jwt",
            json!({"jwks": jwks(&key), "jwks_uri": JWKS_URI}),
            "jwks and jwks_uri are mutually exclusive",
        ),
        (
            "private_key_jwt",
            json!({}),
            "private_key_jwt needs exactly one of jwks and jwks_uri",
        ),
        (
            "self_signed_tls_client_auth",
            json!({}),
            "self_signed_tls_client_auth needs exactly one of jwks and jwks_uri",
        ),
        (
            "private_key_jwt",
            json!({"jwks": {"keys": [private]}}),
            "jwks must hold public keys only",
        ),
        (
            "private_key_jwt",
            json!({"jwks_uri": "http://rp.example/jwks"}),
            "jwks_uri must be an https URL (or http on a loopback address)",
        ),
        (
            "tls_client_auth",
            json!({}),
            "tls_client_auth needs exactly one tls_client_auth_* subject member",
        ),
        (
            "tls_client_auth",
            json!({"tls_client_auth_san_dns": "a.example",
                "tls_client_auth_subject_dn": "CN=a"}),
            "tls_client_auth needs exactly one tls_client_auth_* subject member",
        ),
        (
            "private_key_jwt",
            json!({"jwks": jwks(&key), "token_endpoint_auth_signing_alg": "HS256"}),
            "token_endpoint_auth_signing_alg is not allowed for token_endpoint_auth_method",
        ),
        (
            "client_secret_basic",
            json!({"token_endpoint_auth_signing_alg": "HS256"}),
            "token_endpoint_auth_signing_alg is not allowed for token_endpoint_auth_method",
        ),
        (
            "private_key_jwt",
            json!({"jwks": jwks(&key), "token_endpoint_auth_signing_alg": "none"}),
            "token_endpoint_auth_signing_alg is not supported",
        ),
        (
            "unknown_method",
            json!({}),
            "token_endpoint_auth_method is not supported",
        ),
    ] {
        refused_registration(&h, method, extra, description).await;
    }
    // A subject DN that is no RFC 4514 string (its description names the random id).
    let dn = json!({"tls_client_auth_subject_dn": "not a DN"});
    let (status, json) = register(&h, "tls_client_auth", dn).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_client_metadata"),
        "{json}"
    );
}
