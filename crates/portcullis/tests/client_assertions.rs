//! JWT client authentication at the token, introspection and revocation endpoints
//! (RFC 7523 §2.2, §3; OpenID Connect Core §9), with assertions made by an independent
//! implementation (`jsonwebtoken`): `private_key_jwt` with inline keys and a `jwks_uri`,
//! `client_secret_jwt`, single use of `jti`, and each client held to its own method.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::client_key::ClientKey;
use common::{enc, error_of, Endpoint, Harness, ISSUER, T0};
use http::StatusCode;
use jsonwebtoken::{encode, Algorithm as JwtAlg, EncodingKey, Header};
use portcullis::core::{
    Algorithm, Client, ClientError, ClientKeys, ClientKind, ClientSecretSealError, GrantType,
    JwkSet, JwtClientSecret, KeyEncryptionKey, KeyEncryptionKeys, ScopeSet,
    JWT_BEARER_ASSERTION_TYPE,
};
use portcullis::{FetchError, Fetcher, Provider, RegisterError, MAX_JWKS_BYTES};
use portcullis_store_memory::MemoryStore;
use ring::rand::SystemRandom;
use serde_json::{json, Value};

const JWKS_URI: &str = "https://rp.example/jwks.json";

fn claims(client_id: &str, aud: &str, jti: &str) -> Value {
    json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "exp": T0 + 60, "iat": T0, "jti": jti,
    })
}

fn form(assertion: &str, rest: &str) -> String {
    format!(
        "{rest}&client_assertion_type={}&client_assertion={assertion}",
        enc(JWT_BEARER_ASSERTION_TYPE)
    )
}

const CC: &str = "grant_type=client_credentials";

/// Serves a JWK Set from memory and counts the fetches.
#[derive(Default)]
struct TestFetcher {
    body: Mutex<Vec<u8>>,
    fetches: AtomicUsize,
}

impl TestFetcher {
    fn serve(&self, keys: &[&ClientKey]) {
        let set = JwkSet {
            keys: keys.iter().map(|k| k.jwk.clone()).collect(),
        };
        *self.body.lock().unwrap() = serde_json::to_vec(&set).unwrap();
    }

    fn count(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[portcullis::async_trait]
impl Fetcher for TestFetcher {
    async fn fetch(&self, url: &str, _max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        assert_eq!(url, JWKS_URI);
        self.fetches.fetch_add(1, Ordering::SeqCst);
        // Returns whatever it holds, however large: the engine bounds it too.
        Ok(self.body.lock().unwrap().clone())
    }
}

fn kek() -> KeyEncryptionKeys {
    KeyEncryptionKeys::new(KeyEncryptionKey::new("k1", &[9; 32]).unwrap())
}

fn jwt_client(id: &str, kind: ClientKind) -> Client {
    Client::new(id, kind)
        .with_allowed_scopes(ScopeSet::parse("read").unwrap())
        .with_default_scopes(ScopeSet::parse("read").unwrap())
        .with_grant_types([GrantType::ClientCredentials])
}

struct Setup {
    h: Harness,
    key: ClientKey,
    secret: JwtClientSecret,
    fetcher: Arc<TestFetcher>,
}

/// A provider with a KEK and a fetcher, and three JWT clients: `pk` (inline `jwks`), `uri`
/// (`jwks_uri`) and `sj` (`client_secret_jwt`).
async fn setup() -> Setup {
    let fetcher = Arc::new(TestFetcher::default());
    let f = fetcher.clone();
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.key_encryption_keys(kek()).fetcher(f)
    })
    .await;
    let key = ClientKey::new("k1");
    fetcher.serve(&[&key]);
    let inline = ClientKind::PrivateKeyJwt {
        keys: ClientKeys::Jwks(JwkSet {
            keys: vec![key.jwk.clone()],
        }),
    };
    let by_uri = ClientKind::PrivateKeyJwt {
        keys: ClientKeys::JwksUri(JWKS_URI.into()),
    };
    let secret = JwtClientSecret::generate(&SystemRandom::new()).unwrap();
    let sealed = h.provider.seal_client_secret("sj", &secret).unwrap();
    for c in [
        jwt_client("pk", inline),
        jwt_client("uri", by_uri),
        jwt_client("sj", ClientKind::SecretJwt { secret: sealed }),
    ] {
        h.provider.register_client(&c).await.unwrap();
    }
    Setup {
        h,
        key,
        secret,
        fetcher,
    }
}

fn hs(alg: JwtAlg, secret: &[u8], claims: &Value) -> String {
    encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).unwrap()
}

async fn refused(h: &Harness, endpoint: Endpoint, body: &str, description: Option<&str>) {
    let (status, json, resp) = h.post(endpoint, body, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
    assert_eq!(error_of(&json), "invalid_client", "{json}");
    if let Some(d) = description {
        assert_eq!(json["error_description"], d, "{json}");
    }
    let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Basic "), "{challenge}");
}

#[tokio::test]
async fn private_key_jwt_works_at_all_three_endpoints() {
    let s = setup().await;
    let h = &s.h;
    let token = format!("{ISSUER}/token");
    let a = s.key.sign(&claims("pk", &token, "1"));
    let (status, json, _) = h.post(Endpoint::Token, &form(&a, CC), None).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let access = json["access_token"].as_str().unwrap().to_owned();

    // The issuer and the token endpoint's URL (RFC 7523 §3) are audiences everywhere, and
    // each endpoint's URL at that endpoint.
    for (aud, jti) in [(ISSUER, "2"), (token.as_str(), "4")] {
        let a = s.key.sign(&claims("pk", aud, jti));
        let (status, json, _) = h
            .post(
                Endpoint::Introspect,
                &form(&a, &format!("token={access}")),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{aud}: {json}");
        assert_eq!(json["active"], true);
        assert_eq!(json["client_id"], "pk");
    }

    let a = s.key.sign(&claims("pk", &format!("{ISSUER}/revoke"), "3"));
    let (status, _, _) = h
        .post(
            Endpoint::Revoke,
            &form(&a, &format!("token={access}")),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Another endpoint's URL is not this endpoint's audience.
    let a = s
        .key
        .sign(&claims("pk", &format!("{ISSUER}/introspect"), "5"));
    refused(
        h,
        Endpoint::Revoke,
        &form(&a, &format!("token={access}")),
        Some("the client assertion's aud must be the issuer or the endpoint"),
    )
    .await;
}

/// At the device authorization endpoint (RFC 8628 §3.1) a client authenticates as at the
/// token endpoint: an assertion whose `aud` is the token endpoint's URL (RFC 7523 §3), the
/// issuer or the endpoint's URL is accepted; a foreign audience is `invalid_client` (401,
/// with a challenge).
#[tokio::test]
async fn the_token_endpoint_is_an_audience_at_the_device_authorization_endpoint() {
    let key = ClientKey::new("k1");
    let mut policy = portcullis::core::Policy::default();
    policy.device_authorization.verification_uri = Some(format!("{ISSUER}/device"));
    let h = Harness::with_policy(policy).await;
    let tv = Client::new(
        "tv",
        ClientKind::PrivateKeyJwt {
            keys: ClientKeys::Jwks(JwkSet {
                keys: vec![key.jwk.clone()],
            }),
        },
    )
    .with_allowed_scopes(ScopeSet::parse("read").unwrap())
    .with_grant_types([GrantType::DeviceCode]);
    h.provider.register_client(&tv).await.unwrap();
    let start = |aud: String, jti: &str| {
        let body = form(&key.sign(&claims("tv", &aud, jti)), "scope=read");
        let req = http::Request::post("/device_authorization")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(bytes::Bytes::from(body))
            .unwrap();
        h.provider.device_authorization(req)
    };
    let auds = [
        format!("{ISSUER}/token"),
        ISSUER.to_owned(),
        format!("{ISSUER}/device_authorization"),
    ];
    for (i, aud) in auds.into_iter().enumerate() {
        let resp = start(aud.clone(), &format!("ok{i}")).await;
        let json: Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{aud}: {json}");
        assert!(json["user_code"].is_string(), "{json}");
    }
    for (i, aud) in [
        "https://other.example".to_owned(),
        format!("{ISSUER}/introspect"),
    ]
    .into_iter()
    .enumerate()
    {
        let resp = start(aud.clone(), &format!("no{i}")).await;
        let json: Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{aud}: {json}");
        assert_eq!(error_of(&json), "invalid_client", "{json}");
        assert_eq!(
            json["error_description"],
            "the client assertion's aud must be the issuer or the endpoint"
        );
        let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Basic "), "{challenge}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
}

#[tokio::test]
async fn an_assertion_is_used_once() {
    let s = setup().await;
    let a = s.key.sign(&claims("pk", ISSUER, "once"));
    let (status, _, _) = s.h.post(Endpoint::Token, &form(&a, CC), None).await;
    assert_eq!(status, StatusCode::OK);
    for endpoint in [Endpoint::Token, Endpoint::Introspect, Endpoint::Revoke] {
        refused(
            &s.h,
            endpoint,
            &form(&a, "token=x"),
            Some("the client assertion was used before"),
        )
        .await;
    }
    // The same jti from another client is another id.
    let b = s.key.sign(&claims("uri", ISSUER, "once"));
    let (status, _, _) = s.h.post(Endpoint::Token, &form(&b, CC), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_racing_requests_with_one_assertion_exactly_one_succeeds() {
    let s = setup().await;
    let a = s.key.sign(&claims("pk", ISSUER, "race"));
    let provider = s.h.provider.clone();
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (p, body) = (provider.clone(), form(&a, CC));
        racers.spawn(async move {
            let req = http::Request::post("/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(bytes::Bytes::from(body))
                .unwrap();
            p.token(req).await.status()
        });
    }
    let statuses: Vec<StatusCode> = racers.join_all().await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{statuses:?}");
    assert!(statuses
        .iter()
        .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED));
}

#[tokio::test]
async fn wrong_algorithms_and_keys_are_refused() {
    let s = setup().await;
    let h = &s.h;
    let c = claims("pk", ISSUER, "x");
    // HS256 keyed with the client's public key (the JWK's bytes, or the point).
    let public = serde_json::to_vec(&s.key.jwk).unwrap();
    for secret in [
        public.as_slice(),
        s.key.jwk.x.as_deref().unwrap().as_bytes(),
    ] {
        refused(
            h,
            Endpoint::Token,
            &form(&hs(JwtAlg::HS256, secret, &c), CC),
            None,
        )
        .await;
    }
    // Signed by another key with the same kid, or under an unknown kid.
    refused(
        h,
        Endpoint::Token,
        &form(&ClientKey::new("k1").sign(&c), CC),
        None,
    )
    .await;
    refused(
        h,
        Endpoint::Token,
        &form(&ClientKey::new("k9").sign(&c), CC),
        None,
    )
    .await;
    // alg none.
    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let none = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&c));
    refused(h, Endpoint::Token, &form(&none, CC), None).await;
    // An algorithm the policy does not allow.
    let mut policy = portcullis::core::Policy::default();
    policy.client_assertions.private_key_jwt_algs = vec![Algorithm::EdDSA];
    let h2 = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| b.policy(policy)).await;
    let inline = ClientKind::PrivateKeyJwt {
        keys: ClientKeys::Jwks(JwkSet {
            keys: vec![s.key.jwk.clone()],
        }),
    };
    h2.provider
        .register_client(&jwt_client("pk", inline))
        .await
        .unwrap();
    refused(&h2, Endpoint::Token, &form(&s.key.sign(&c), CC), None).await;
}

#[tokio::test]
async fn claims_are_checked_with_their_own_descriptions() {
    let s = setup().await;
    let mut expired = claims("pk", ISSUER, "e");
    expired["exp"] = json!(T0);
    let mut far = claims("pk", ISSUER, "f");
    far["exp"] = json!(T0 + 301);
    let mut ahead = claims("pk", ISSUER, "a");
    ahead["iat"] = json!(T0 + 11);
    let mut no_jti = claims("pk", ISSUER, "");
    no_jti.as_object_mut().unwrap().remove("jti");
    let mut other_iss = claims("pk", ISSUER, "i");
    other_iss["iss"] = json!("sj");
    for (c, d) in [
        (expired, "the client assertion has expired"),
        (far, "the client assertion's exp is too far in the future"),
        (ahead, "the client assertion's iat or nbf is in the future"),
        (no_jti, "the client assertion needs a jti"),
        (
            other_iss,
            "the client assertion's iss and sub must be the client_id",
        ),
    ] {
        refused(&s.h, Endpoint::Token, &form(&s.key.sign(&c), CC), Some(d)).await;
    }
    // A refused assertion did not spend its jti: the same jti in a good one still works.
    let (status, _, _) =
        s.h.post(
            Endpoint::Token,
            &form(&s.key.sign(&claims("pk", ISSUER, "e")), CC),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn client_secret_jwt_with_the_sealed_secret() {
    let s = setup().await;
    let secret = s.secret.expose().as_bytes();
    for (alg, jti) in [
        (JwtAlg::HS256, "1"),
        (JwtAlg::HS384, "2"),
        (JwtAlg::HS512, "3"),
    ] {
        let a = hs(alg, secret, &claims("sj", ISSUER, jti));
        let (status, json, _) = s.h.post(Endpoint::Token, &form(&a, CC), None).await;
        assert_eq!(status, StatusCode::OK, "{alg:?} {json}");
    }
    let wrong = hs(JwtAlg::HS256, &[7; 32], &claims("sj", ISSUER, "4"));
    refused(
        &s.h,
        Endpoint::Token,
        &form(&wrong, CC),
        Some("client authentication failed"),
    )
    .await;
    // An asymmetric assertion for a client_secret_jwt client is another method.
    let signed = s.key.sign(&claims("sj", ISSUER, "5"));
    refused(
        &s.h,
        Endpoint::Token,
        &form(&signed, CC),
        Some("client authentication failed"),
    )
    .await;
}

/// Issue 15, point 4: each client authenticates only with its registered method.
#[tokio::test]
async fn no_client_falls_back_to_another_method() {
    let s = setup().await;
    let h = &s.h;
    let secret = s.secret.expose();
    // private_key_jwt and client_secret_jwt clients with a secret, or with nothing.
    for id in ["pk", "sj"] {
        let (status, json, _) = h.post(Endpoint::Token, CC, Some((id, secret))).await;
        assert_eq!(
            (status, error_of(&json)),
            (StatusCode::UNAUTHORIZED, "invalid_client")
        );
        refused(
            h,
            Endpoint::Token,
            &format!("{CC}&client_id={id}&client_secret={secret}"),
            None,
        )
        .await;
        refused(h, Endpoint::Token, &format!("{CC}&client_id={id}"), None).await;
    }
    // A secret client with an assertion (signed with a key it never registered, or MACed
    // with its own secret).
    let a = hs(
        JwtAlg::HS256,
        common::SECRET.as_bytes(),
        &claims("service", ISSUER, "s"),
    );
    refused(h, Endpoint::Token, &form(&a, CC), None).await;
    let a = s.key.sign(&claims("service", ISSUER, "t"));
    refused(h, Endpoint::Token, &form(&a, CC), None).await;
    // The secret client still works with its secret.
    let (status, _, _) = h
        .post(Endpoint::Token, CC, Some(("service", common::SECRET)))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_confidential_client_may_be_held_to_one_secret_method() {
    let h = Harness::new().await;
    let mut basic_only = common::service_client();
    let ClientKind::Confidential { method, .. } = &mut basic_only.kind else {
        panic!("confidential")
    };
    *method = Some(portcullis::core::SecretMethod::Basic);
    h.provider.register_client(&basic_only).await.unwrap();
    let post = format!("{CC}&client_id=service&client_secret={}", common::SECRET);
    refused(
        &h,
        Endpoint::Token,
        &post,
        Some("client authentication failed"),
    )
    .await;
    let (status, _, _) = h
        .post(Endpoint::Token, CC, Some(("service", common::SECRET)))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn jwks_uri_is_fetched_once_and_again_for_an_unknown_kid_at_most_once_a_minute() {
    let s = setup().await;
    let (h, f) = (&s.h, &s.fetcher);
    let ok = |a: String| async move {
        let (status, json, _) = h.post(Endpoint::Token, &form(&a, CC), None).await;
        assert_eq!(status, StatusCode::OK, "{json}");
    };
    ok(s.key.sign(&claims("uri", ISSUER, "1"))).await;
    ok(s.key.sign(&claims("uri", ISSUER, "2"))).await;
    assert_eq!(f.count(), 1);

    // The client rotates to k2: the unknown kid makes one fetch.
    let k2 = ClientKey::new("k2");
    f.serve(&[&s.key, &k2]);
    h.clock.advance(61);
    let at = |jti: &str| {
        let mut c = claims("uri", ISSUER, jti);
        let now = T0 + 61;
        c["iat"] = json!(now);
        c["exp"] = json!(now + 60);
        c
    };
    ok(k2.sign(&at("3"))).await;
    assert_eq!(f.count(), 2);
    // Another unknown kid within the minute: no fetch.
    let k3 = ClientKey::new("k3");
    f.serve(&[&s.key, &k2, &k3]);
    refused(h, Endpoint::Token, &form(&k3.sign(&at("4")), CC), None).await;
    refused(h, Endpoint::Token, &form(&k3.sign(&at("5")), CC), None).await;
    assert_eq!(f.count(), 2);
    // A minute later, it is fetched again.
    h.clock.advance(60);
    let mut c = at("6");
    c["iat"] = json!(T0 + 121);
    c["exp"] = json!(T0 + 180);
    ok(k3.sign(&c)).await;
    assert_eq!(f.count(), 3);
}

#[tokio::test]
async fn an_oversized_jwks_is_refused() {
    let s = setup().await;
    let mut big = serde_json::to_vec(&JwkSet {
        keys: vec![s.key.jwk.clone()],
    })
    .unwrap();
    big.truncate(big.len() - 2);
    big.extend_from_slice(b", \"padding\": \"");
    big.resize(MAX_JWKS_BYTES + 1, b'x');
    big.extend_from_slice(b"\"}");
    *s.fetcher.body.lock().unwrap() = big;
    refused(
        &s.h,
        Endpoint::Token,
        &form(&s.key.sign(&claims("uri", ISSUER, "1")), CC),
        Some("client authentication failed"),
    )
    .await;
    assert_eq!(s.fetcher.count(), 1);
}

#[tokio::test]
async fn registration_needs_what_the_method_needs() {
    // Without a fetcher, a jwks_uri client cannot be registered; without a KEK, a
    // client_secret_jwt one neither (nor can its secret be sealed).
    let h = Harness::new().await;
    let by_uri = jwt_client(
        "uri",
        ClientKind::PrivateKeyJwt {
            keys: ClientKeys::JwksUri(JWKS_URI.into()),
        },
    );
    assert!(matches!(
        h.provider.register_client(&by_uri).await,
        Err(RegisterError::NoFetcher(id)) if id == "uri"
    ));
    let secret = JwtClientSecret::generate(&SystemRandom::new()).unwrap();
    assert_eq!(
        h.provider.seal_client_secret("sj", &secret).unwrap_err(),
        ClientSecretSealError::NoKek
    );
    let s = setup().await;
    let sealed = s.h.provider.seal_client_secret("sj", &secret).unwrap();
    let sj = jwt_client(
        "sj",
        ClientKind::SecretJwt {
            secret: sealed.clone(),
        },
    );
    assert!(matches!(
        h.provider.register_client(&sj).await,
        Err(RegisterError::Secret(_, ClientSecretSealError::NoKek))
    ));
    // A secret sealed for another client does not open for this one.
    let moved = jwt_client("other", ClientKind::SecretJwt { secret: sealed });
    assert!(matches!(
        s.h.provider.register_client(&moved).await,
        Err(RegisterError::Secret(
            _,
            ClientSecretSealError::WrongKekOrAltered(_)
        ))
    ));
    // jwks_uri: https, or http on loopback only; inline jwks: a usable key.
    for (uri, ok) in [
        ("http://rp.example/jwks", false),
        ("https://user:pw@rp.example/jwks", false),
        ("ftp://rp.example/jwks", false),
        ("http://127.0.0.1:8080/jwks", true),
        ("http://[::1]/jwks", true),
        ("http://localhost/jwks", true),
    ] {
        let c = jwt_client(
            "u",
            ClientKind::PrivateKeyJwt {
                keys: ClientKeys::JwksUri(uri.into()),
            },
        );
        let result = s.h.provider.register_client(&c).await;
        if ok {
            assert!(result.is_ok(), "{uri}");
        } else {
            assert!(
                matches!(
                    result,
                    Err(RegisterError::Invalid(ClientError::InvalidJwksUri(_)))
                ),
                "{uri}"
            );
        }
    }
    let empty = jwt_client(
        "e",
        ClientKind::PrivateKeyJwt {
            keys: ClientKeys::Jwks(JwkSet::default()),
        },
    );
    assert!(matches!(
        s.h.provider.register_client(&empty).await,
        Err(RegisterError::Invalid(ClientError::NoUsableKey(_)))
    ));
}

#[tokio::test]
async fn discovery_lists_the_methods_and_algorithms_that_work() {
    let metadata =
        |p: &Provider| -> Value { serde_json::from_slice(p.discovery().body()).unwrap() };
    let with_kek = setup().await;
    let m = metadata(&with_kek.h.provider);
    let methods = json!([
        "client_secret_basic",
        "client_secret_post",
        "client_secret_jwt",
        "private_key_jwt",
        "none"
    ]);
    assert_eq!(m["token_endpoint_auth_methods_supported"], methods);
    assert_eq!(m["revocation_endpoint_auth_methods_supported"], methods);
    let algs = json!(["RS256", "PS256", "ES256", "EdDSA", "HS256", "HS384", "HS512"]);
    for endpoint in ["token", "introspection", "revocation"] {
        assert_eq!(
            m[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")],
            algs
        );
    }
    assert_eq!(
        m["introspection_endpoint_auth_methods_supported"],
        json!([
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
            "private_key_jwt"
        ])
    );
    // Without a KEK, no client_secret_jwt.
    let plain = Harness::new().await;
    let m = metadata(&plain.provider);
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        json!([
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none"
        ])
    );
    assert_eq!(
        m["token_endpoint_auth_signing_alg_values_supported"],
        json!(["RS256", "PS256", "ES256", "EdDSA"])
    );
}
