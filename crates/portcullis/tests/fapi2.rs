//! The FAPI 2.0 Security Profile (OpenID Foundation, 2025), clause by clause for the
//! authorization server (§5.3.2, §5.4.1): per client (`Client::with_profile`, beside ordinary
//! clients on one provider) and provider-wide (`Policy::fapi2`). Where the standard rules
//! already hold a clause for every client, the test pins it; where the preset adds it, the
//! test shows the FAPI client refused and an ordinary client unaffected. docs/FAPI2.md maps
//! each clause to its test.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bytes::Bytes;
use common::*;
use http::{Method, Request, StatusCode};
use portcullis::core::{
    Algorithm, Client, ClientError, ClientKeys, ClientKind, Fapi2Violation, GrantType, Issuer,
    JwkSet, PkcePolicy, Policy, RedirectUri, RedirectUriError, ScopeSet, SecurityProfile,
    SigningKey, UnixTime, AUTHORIZE_PARAMETER_LIMITS, FAPI2_ALGORITHMS, JWT_BEARER_ASSERTION_TYPE,
};
use portcullis::{
    AuthorizeOutcome, CertificateChain, ClientCertificate, Clock, ManualClock, Provider,
    RegistrationPolicy, Stores,
};
use portcullis_store_memory::MemoryStore;
use ring::rand::SystemRandom;
use serde_json::{json, Value};

const FAPI: SecurityProfile = SecurityProfile::Fapi2;
const FAPI_REDIRECT: &str = "https://fapi.example/cb";
const TOKEN_URL: &str = "https://as.example/token";
const PAR_URL: &str = "https://as.example/par";

fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap()
}

fn fresh_jti() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("jti-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A key that signs JWTs (client assertions, DPoP proofs) with its own algorithm.
struct Key(SigningKey);

/// A 2048-bit RSA key for tests (ring cannot generate RSA keys).
const RSA_PEM: &str = include_str!("../../portcullis-core/testdata/rsa-2048-test-only.pem");

impl Key {
    fn new(alg: Algorithm) -> Self {
        let rng = SystemRandom::new();
        if matches!(alg, Algorithm::RS256 | Algorithm::PS256) {
            let body: String = RSA_PEM
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap();
            return Self(SigningKey::from_pkcs8("k", alg, &der, &rng).unwrap());
        }
        Self(SigningKey::generate("k", alg, &rng).unwrap())
    }

    fn jwt(&self, header: &Value, claims: &Value) -> String {
        let enc = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        let input = format!("{}.{}", enc(header), enc(claims));
        let sig = self.0.sign(input.as_bytes(), &SystemRandom::new()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn alg(&self) -> &'static str {
        self.0.alg().as_str()
    }

    /// A `private_key_jwt` assertion of `client_id` for audience `aud`.
    fn assertion(&self, h: &Harness, client_id: &str, aud: Value) -> String {
        let now = h.clock.now().secs();
        let claims = json!({"iss": client_id, "sub": client_id, "aud": aud,
            "exp": now + 60, "iat": now, "jti": fresh_jti()});
        self.jwt(&json!({"alg": self.alg(), "kid": "k"}), &claims)
    }

    /// A DPoP proof for `POST /token` now (RFC 9449 §4.2).
    fn dpop(&self, h: &Harness) -> String {
        self.dpop_for(h, TOKEN_URL)
    }

    /// A DPoP proof for `POST` to `htu` now (RFC 9449 §4.2).
    fn dpop_for(&self, h: &Harness, htu: &str) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": self.alg(), "jwk": self.0.public_jwk()});
        let claims = json!({"jti": fresh_jti(), "htm": "POST", "htu": htu,
            "iat": h.clock.now().secs()});
        self.jwt(&header, &claims)
    }

    fn keys(&self) -> ClientKind {
        ClientKind::PrivateKeyJwt {
            keys: ClientKeys::Jwks(JwkSet {
                keys: vec![self.0.public_jwk()],
            }),
        }
    }
}

/// A code-flow client `id` of `kind` redirecting to [`FAPI_REDIRECT`].
fn code_client(id: &str, kind: ClientKind) -> Client {
    Client::new(id, kind)
        .with_redirect_uris([RedirectUri::parse(FAPI_REDIRECT).unwrap()])
        .with_allowed_scopes(scopes("openid read"))
        .with_default_scopes(scopes("read"))
        .with_grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
}

/// A FAPI 2.0 client `id` authenticating with `key`.
fn fapi_client(id: &str, key: &Key) -> Client {
    code_client(id, key.keys()).with_profile(FAPI)
}

/// What a token request carries besides its form.
#[derive(Default)]
struct Extra<'a> {
    dpop: Option<String>,
    cert: Option<&'a [u8]>,
}

/// POSTs `form`, with `client_id`'s assertion by `key` for `aud`, to `endpoint`.
async fn post_as(
    h: &Harness,
    endpoint: Endpoint,
    key: &Key,
    client_id: &str,
    aud: Value,
    form: &str,
    extra: Extra<'_>,
) -> (StatusCode, Value) {
    let assertion = key.assertion(h, client_id, aud);
    let body = format!(
        "{form}&client_id={client_id}&client_assertion_type={}&client_assertion={assertion}",
        enc(JWT_BEARER_ASSERTION_TYPE)
    );
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/token")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(proof) = extra.dpop {
        req = req.header("dpop", proof);
    }
    let mut req = req.body(Bytes::from(body)).unwrap();
    if let Some(der) = extra.cert {
        let cert = ClientCertificate::new(der, CertificateChain::ClientCa);
        req.extensions_mut().insert(cert);
    }
    let resp = h.send(endpoint, req).await;
    let json = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
    (resp.status(), json)
}

/// `client_id` (asserting with `key`, `aud` the issuer) exchanges `code`.
async fn exchange(
    h: &Harness,
    key: &Key,
    client_id: &str,
    code: &str,
    extra: Extra<'_>,
) -> (StatusCode, Value) {
    let form = code_form(code);
    post_as(
        h,
        Endpoint::Token,
        key,
        client_id,
        json!(ISSUER),
        &form,
        extra,
    )
    .await
}

fn code_form(code: &str) -> String {
    format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        enc(FAPI_REDIRECT)
    )
}

/// `client_id` (asserting with `key`) pushes the authorization request `form` (RFC 9126).
async fn push(h: &Harness, key: &Key, client_id: &str, form: &str) -> (StatusCode, Value) {
    let aud = json!(ISSUER);
    // The assertion names the client; the form need not.
    let form = form.replace(&format!("client_id={client_id}&"), "");
    let form = form.as_str();
    post_as(
        h,
        Endpoint::Par,
        key,
        client_id,
        aud,
        form,
        Extra::default(),
    )
    .await
}

/// The authorization endpoint's query for `client_id`'s request `form`, pushed first
/// (FAPI 2.0 §5.3.2.2).
async fn pushed(h: &Harness, key: &Key, client_id: &str, form: &str) -> String {
    let (status, json) = push(h, key, client_id, form).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let request_uri = json["request_uri"].as_str().unwrap();
    format!("client_id={client_id}&request_uri={}", enc(request_uri))
}

/// A code for `client_id` (asserting with `key`), its request pushed, approved for `scope`.
async fn code_of(h: &Harness, key: &Key, client_id: &str, scope: &str) -> String {
    let form = format!(
        "response_type=code&redirect_uri={}&scope={}&state=st&code_challenge={}&code_challenge_method=S256",
        enc(FAPI_REDIRECT),
        enc(scope),
        challenge(VERIFIER)
    );
    let pending = h.pending(&pushed(h, key, client_id, &form).await).await;
    let r = h.provider.approve(pending, approval("alice", scope)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    query_param(location(&r).as_str(), "code").expect("code in redirect")
}

/// A harness (standard policy: `policy`) with the FAPI client `fapi` and an ordinary
/// `private_key_jwt` client `plain`, both keyed by `key`.
async fn mixed(policy: Policy, key: &Key) -> Harness {
    let h = Harness::with_policy(policy).await;
    for c in [fapi_client("fapi", key), code_client("plain", key.keys())] {
        h.provider.register_client(&c).await.unwrap();
    }
    h
}

/// A provider under `Policy::fapi2()`, open to dynamic registration, with the FAPI client
/// `fapi` keyed by `key`, on `store`.
async fn fapi_provider(store: Arc<MemoryStore>, key: &Key) -> Harness {
    let clock = Arc::new(ManualClock::new(UnixTime::from_secs(T0)));
    let provider = Provider::builder(Issuer::parse(ISSUER).unwrap())
        .stores(Stores::shared(store.clone()))
        .clock(clock.clone())
        .claims(Arc::new(Directory))
        .policy(Policy::fapi2())
        .registration(RegistrationPolicy::open(scopes("openid read")))
        .build()
        .unwrap();
    // No profile of its own: the policy raises it.
    let client = code_client("fapi", key.keys());
    provider.register_client(&client).await.unwrap();
    Harness {
        provider,
        clock,
        store,
    }
}

/// §5.3.2.1 (3, 6): confidential clients only, authenticated with `private_key_jwt`,
/// `tls_client_auth` or `self_signed_tls_client_auth`; any other kind is refused at
/// registration, and an ordinary client of that kind is unaffected.
#[test]
fn fapi2_clients_authenticate_with_private_key_jwt_or_mtls() {
    let key = Key::new(Algorithm::ES256);
    let secret = portcullis::core::ClientSecretHash::Sha256([1; 32]);
    let refused = [ClientKind::Public, ClientKind::confidential(secret)];
    for kind in refused {
        let ordinary = code_client("c", kind.clone());
        assert_eq!(ordinary.validate(), Ok(()), "{kind:?}");
        assert_eq!(
            ordinary.with_profile(FAPI).validate(),
            Err(ClientError::Profile("c".into(), Fapi2Violation::AuthMethod)),
            "{kind:?}"
        );
    }
    let tls = ClientKind::TlsClientAuth {
        subject: portcullis::core::CertificateSubject::SanDns("client.example".into()),
    };
    for kind in [key.keys(), tls] {
        assert_eq!(
            code_client("c", kind.clone()).with_profile(FAPI).validate(),
            Ok(()),
            "{kind:?}"
        );
    }
}

/// §5.3.2.1 (3, 6) at the endpoints: a client stored before the provider-wide profile applied
/// that authenticates with a secret is `invalid_client` (401).
#[tokio::test]
async fn a_secret_client_is_invalid_client_under_the_fapi2_policy() {
    let store = Arc::new(MemoryStore::new());
    let ordinary = Harness::on_store(store.clone(), ISSUER, Policy::default()).await;
    let (status, _, _) = ordinary
        .token("grant_type=client_credentials", Some(("service", SECRET)))
        .await;
    assert_eq!(status, StatusCode::OK);
    let h = fapi_provider(store, &Key::new(Algorithm::ES256)).await;
    let (status, json, resp) = h
        .token("grant_type=client_credentials", Some(("service", SECRET)))
        .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    assert!(resp.headers().contains_key("www-authenticate"));
}

/// §5.3.2.1 (3, 6), §5.4.1 at dynamic registration under `Policy::fapi2()`: secret methods,
/// `none` and RS256 are `invalid_client_metadata`; `private_key_jwt` with ES256 registers.
#[tokio::test]
async fn fapi2_registration_refuses_other_methods_and_rs256() {
    let key = Key::new(Algorithm::ES256);
    let h = fapi_provider(Arc::new(MemoryStore::new()), &key).await;
    let jwks = json!({"keys": [key.0.public_jwk()]});
    let base = |extra: Value| {
        let mut body = json!({"redirect_uris": [FAPI_REDIRECT], "scope": "read",
            "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    for (case, extra) in [
        (
            "basic",
            json!({"token_endpoint_auth_method": "client_secret_basic"}),
        ),
        (
            "post",
            json!({"token_endpoint_auth_method": "client_secret_post"}),
        ),
        ("public", json!({"token_endpoint_auth_method": "none"})),
        (
            "secret jwt",
            json!({"token_endpoint_auth_method": "client_secret_jwt"}),
        ),
        (
            "RS256 ID tokens",
            json!({"id_token_signed_response_alg": "RS256"}),
        ),
        (
            "RS256 assertions",
            json!({"token_endpoint_auth_signing_alg": "RS256"}),
        ),
    ] {
        let (status, json, _) =
            registration_call(&h, Method::POST, "", None, Some(&base(extra))).await;
        assert_eq!(
            (status, error_of(&json)),
            (StatusCode::BAD_REQUEST, "invalid_client_metadata"),
            "{case}: {json}"
        );
    }
    let (status, json, _) =
        registration_call(&h, Method::POST, "", None, Some(&base(json!({})))).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let id = json["client_id"].as_str().unwrap();
    let client = h.provider.client(id).await.unwrap().unwrap();
    assert_eq!(client.profile, FAPI);
    assert!(!client.tokens.refresh.rotate, "§5.3.2.1: no rotation");
}

/// §5.3.2.1 (1) and RFC 8414: discovery under `Policy::fapi2()` advertises only what a FAPI
/// client may use; an ordinary provider keeps advertising everything.
#[tokio::test]
async fn fapi2_discovery_advertises_what_fapi2_clients_can_use() {
    let h = fapi_provider(Arc::new(MemoryStore::new()), &Key::new(Algorithm::ES256)).await;
    let meta: Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
    let fapi_algs: Vec<&str> = FAPI2_ALGORITHMS.iter().map(|a| a.as_str()).collect();
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["private_key_jwt"])
    );
    assert_eq!(
        meta["id_token_signing_alg_values_supported"],
        json!(fapi_algs)
    );
    assert_eq!(
        meta["token_endpoint_auth_signing_alg_values_supported"],
        json!(fapi_algs)
    );
    assert_eq!(meta["dpop_signing_alg_values_supported"], json!(fapi_algs));
    assert_eq!(
        meta["request_object_signing_alg_values_supported"],
        json!(fapi_algs)
    );
    assert_eq!(
        meta["authorization_signing_alg_values_supported"],
        json!(fapi_algs)
    );
    assert_eq!(meta["require_pushed_authorization_requests"], true);
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(meta["response_types_supported"], json!(["code"]));
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);

    let ordinary = Harness::new().await;
    let meta: Value = serde_json::from_slice(ordinary.provider.discovery().body()).unwrap();
    let methods = meta["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.contains(&json!("client_secret_basic")));
    assert!(meta["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("RS256")));
}

/// `Policy::fapi2()`: the profile for every client, ES256 by default, FAPI algorithms for
/// assertions and DPoP, codes of at most 60 s, plain PKCE impossible even when asked for.
#[test]
fn the_fapi2_policy_preset() {
    let mut p = Policy::fapi2();
    assert_eq!(p.profile, FAPI);
    assert_eq!(p.keys.default_alg, Algorithm::ES256);
    assert_eq!(p.client_assertions.private_key_jwt_algs, FAPI2_ALGORITHMS);
    assert!(p.client_assertions.client_secret_jwt_algs.is_empty());
    assert_eq!(p.dpop.algorithms, FAPI2_ALGORITHMS);
    assert_eq!(p.lifetimes.authorization_code, Duration::from_secs(60));
    p.dangerous_allow_plain_pkce = true;
    assert!(!p.allows_challenge_method(portcullis::core::CodeChallengeMethod::Plain));
    let mut standard = Policy::default();
    standard.dangerous_allow_plain_pkce = true;
    assert!(standard.allows_challenge_method(portcullis::core::CodeChallengeMethod::Plain));
}

/// §5.3.2.2 (5): PKCE with S256 only: `plain` is refused for a FAPI client even where the
/// provider allows it for others, a missing challenge always, and PKCE cannot be optional.
#[tokio::test]
async fn fapi2_requires_pkce_with_s256() {
    let key = Key::new(Algorithm::ES256);
    let mut policy = Policy::default();
    policy.dangerous_allow_plain_pkce = true;
    let h = mixed(policy, &key).await;
    let ask = |id: &str, pkce: &str| {
        format!(
            "response_type=code&client_id={id}&redirect_uri={}&scope=read&state=s{pkce}",
            enc(FAPI_REDIRECT)
        )
    };
    let plain =
        "&code_challenge=abcdefghijabcdefghijabcdefghijabcdefghij123&code_challenge_method=plain";
    // A FAPI client's requests are pushed: refused there, as JSON (RFC 9126 §2.3).
    let (status, json) = push(&h, &key, "fapi", &ask("fapi", plain)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["error"], "invalid_request");
    assert_eq!(
        json["error_description"],
        "code_challenge_method must be S256"
    );
    assert!(matches!(
        h.authorize(&ask("plain", plain)).await,
        AuthorizeOutcome::Pending(_)
    ));
    let (status, json) = push(&h, &key, "fapi", &ask("fapi", "")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        json["error_description"],
        "code_challenge is required (PKCE, S256)"
    );
    let r = h.respond(&ask("plain", "")).await;
    let error = query_param(location(&r).as_str(), "error");
    assert_eq!(error.as_deref(), Some("invalid_request"));
    let optional = fapi_client("o", &key).with_pkce(PkcePolicy::DangerousOptional);
    assert_eq!(
        optional.validate(),
        Err(ClientError::Profile(
            "o".into(),
            Fapi2Violation::OptionalPkce
        ))
    );
}

/// §5.3.2.1 (4, 5): only sender-constrained access tokens: a token request of a FAPI client
/// with neither a DPoP proof nor a client certificate is `invalid_request` (400); with a
/// proof the token is DPoP-bound, with a certificate certificate-bound. An ordinary client
/// still gets a bearer token.
#[tokio::test]
async fn fapi2_access_tokens_are_sender_constrained() {
    let key = Key::new(Algorithm::ES256);
    let h = mixed(Policy::default(), &key).await;
    let code = code_of(&h, &key, "fapi", "read").await;
    let (status, json) = exchange(&h, &key, "fapi", &code, Extra::default()).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    let code = code_of(&h, &key, "fapi", "read").await;
    let dpop = Extra {
        dpop: Some(key.dpop(&h)),
        ..Extra::default()
    };
    let (status, json) = exchange(&h, &key, "fapi", &code, dpop).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["token_type"], "DPoP");

    let cert = certificate();
    let code = code_of(&h, &key, "fapi", "read").await;
    let mtls = Extra {
        cert: Some(&cert),
        ..Extra::default()
    };
    let (status, json) = exchange(&h, &key, "fapi", &code, mtls).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let token = format!("token={}", json["access_token"].as_str().unwrap());
    let none = Extra::default();
    let introspect = post_as(
        &h,
        Endpoint::Introspect,
        &key,
        "fapi",
        json!(ISSUER),
        &token,
        none,
    );
    let (_, introspected) = introspect.await;
    assert_eq!(
        introspected["cnf"]["x5t#S256"],
        portcullis::core::certificate_thumbprint(&cert),
        "{introspected}"
    );

    let code = code_of(&h, &key, "plain", "read").await;
    let (status, json) = exchange(&h, &key, "plain", &code, Extra::default()).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["token_type"], "Bearer");
}

/// §5.3.2.1 (8): a client assertion's `aud` is the issuer identifier, as a string; the token
/// endpoint's URL or an array is `invalid_client` (401) for a FAPI client, and still
/// accepted from an ordinary one (RFC 7523 §3).
#[tokio::test]
async fn fapi2_client_assertions_name_the_issuer_as_a_string() {
    let key = Key::new(Algorithm::ES256);
    let h = mixed(Policy::default(), &key).await;
    let proof = || Extra {
        dpop: Some(key.dpop(&h)),
        ..Extra::default()
    };
    for aud in [json!(TOKEN_URL), json!([ISSUER])] {
        let code = code_of(&h, &key, "fapi", "read").await;
        let (status, json) = post_as(
            &h,
            Endpoint::Token,
            &key,
            "fapi",
            aud.clone(),
            &code_form(&code),
            proof(),
        )
        .await;
        assert_eq!(
            (status, error_of(&json)),
            (StatusCode::UNAUTHORIZED, "invalid_client"),
            "{aud}"
        );
        let code = code_of(&h, &key, "plain", "read").await;
        let (status, json) = post_as(
            &h,
            Endpoint::Token,
            &key,
            "plain",
            aud.clone(),
            &code_form(&code),
            proof(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{aud}: {json}");
    }
}

/// §5.4.1: PS256, ES256 or EdDSA only: RS256 ID tokens cannot be registered, a FAPI
/// client's RS256 client assertions are not verified (`ClientAssertionPolicy::
/// private_key_jwt_algs_for`), and a FAPI client's ID tokens are ES256 on a provider whose
/// default is RS256 (an ordinary client's stay RS256).
#[tokio::test]
async fn fapi2_signs_and_verifies_ps256_es256_eddsa_only() {
    let key = Key::new(Algorithm::ES256);
    let mut rs256 = fapi_client("r", &key);
    rs256.oidc.id_token_signed_response_alg = Some(Algorithm::RS256);
    assert_eq!(
        rs256.validate(),
        Err(ClientError::Profile(
            "r".into(),
            Fapi2Violation::SigningAlgorithm
        ))
    );
    let assertions = Policy::default().client_assertions;
    let ordinary = code_client("o", key.keys());
    assert!(assertions
        .private_key_jwt_algs_for(&ordinary)
        .contains(&Algorithm::RS256));
    assert_eq!(
        assertions.private_key_jwt_algs_for(&ordinary.with_profile(FAPI)),
        FAPI2_ALGORITHMS
    );

    let h = mixed(Policy::default(), &key).await;
    for (id, alg) in [("fapi", "ES256"), ("plain", "RS256")] {
        let code = code_of(&h, &key, id, "openid read").await;
        let extra = Extra {
            dpop: Some(key.dpop(&h)),
            ..Extra::default()
        };
        let (status, json) = exchange(&h, &key, id, &code, extra).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        let id_token = json["id_token"].as_str().unwrap();
        let header = id_token.split('.').next().unwrap();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(header["alg"], alg, "{id}");
    }
}

/// §5.3.2.1 (11): authorization codes live at most 60 s for a FAPI client, whatever the
/// policy says; an ordinary client's code lives the policy's lifetime.
#[tokio::test]
async fn fapi2_codes_live_at_most_60_seconds() {
    let key = Key::new(Algorithm::ES256);
    let mut policy = Policy::default();
    policy.lifetimes.authorization_code = Duration::from_secs(600);
    let h = mixed(policy, &key).await;
    let fapi = code_of(&h, &key, "fapi", "read").await;
    let plain = code_of(&h, &key, "plain", "read").await;
    h.clock.advance(61);
    let proof = || Extra {
        dpop: Some(key.dpop(&h)),
        ..Extra::default()
    };
    let (status, json) = exchange(&h, &key, "fapi", &fapi, proof()).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let (status, json) = exchange(&h, &key, "plain", &plain, proof()).await;
    assert_eq!(status, StatusCode::OK, "{json}");
}

/// §5.3.2.2 (9): a code is used once; a second exchange is `invalid_grant` (held for every
/// client).
#[tokio::test]
async fn fapi2_codes_are_single_use() {
    let key = Key::new(Algorithm::ES256);
    let h = mixed(Policy::default(), &key).await;
    let code = code_of(&h, &key, "fapi", "read").await;
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let extra = Extra {
            dpop: Some(key.dpop(&h)),
            ..Extra::default()
        };
        let (status, json) = exchange(&h, &key, "fapi", &code, extra).await;
        statuses.push((status, error_of(&json).to_owned()));
    }
    assert_eq!(statuses[0].0, StatusCode::OK);
    assert_eq!(
        statuses[1],
        (StatusCode::BAD_REQUEST, "invalid_grant".to_owned())
    );
}

/// §5.3.2.1 (9): no refresh-token rotation for a FAPI client (the preset turns it off; a
/// host may turn it on for extraordinary circumstances); an ordinary client rotates, and a
/// public client must.
#[tokio::test]
async fn fapi2_refresh_tokens_do_not_rotate() {
    let key = Key::new(Algorithm::ES256);
    let h = mixed(Policy::default(), &key).await;
    for (id, rotates) in [("fapi", false), ("plain", true)] {
        let code = code_of(&h, &key, id, "read").await;
        let dpop = || Extra {
            dpop: Some(key.dpop(&h)),
            ..Extra::default()
        };
        let (_, first) = exchange(&h, &key, id, &code, dpop()).await;
        let refresh = first["refresh_token"].as_str().unwrap().to_owned();
        let form = format!("grant_type=refresh_token&refresh_token={refresh}");
        let (status, second) =
            post_as(&h, Endpoint::Token, &key, id, json!(ISSUER), &form, dpop()).await;
        assert_eq!(status, StatusCode::OK, "{id}: {second}");
        let rotated = second["refresh_token"]
            .as_str()
            .is_some_and(|r| r != refresh);
        assert_eq!(rotated, rotates, "{id}: {second}");
        let (status, _) =
            post_as(&h, Endpoint::Token, &key, id, json!(ISSUER), &form, dpop()).await;
        assert_eq!(status == StatusCode::OK, !rotates, "{id}: reuse");
    }
    let public = native_client().with_tokens(portcullis::core::ClientTokens {
        refresh: portcullis::core::RefreshPolicy {
            rotate: false,
            ..Default::default()
        },
        ..Default::default()
    });
    assert_eq!(
        public.validate(),
        Err(ClientError::PublicWithoutRotation("native".into()))
    );
}

/// §5.3.2.2 (1, 7, 10): `response_type=code` only, `iss` in the authorization response
/// (RFC 9207) and 303 redirects, for every client.
#[tokio::test]
async fn fapi2_authorization_responses_are_303_with_iss_code_only() {
    let key = Key::new(Algorithm::ES256);
    let h = mixed(Policy::default(), &key).await;
    let q = format!(
        "response_type=code&client_id=fapi&redirect_uri={}&scope=read&state=st&code_challenge={}&code_challenge_method=S256",
        enc(FAPI_REDIRECT),
        challenge(VERIFIER)
    );
    let pending = h.pending(&pushed(&h, &key, "fapi", &q).await).await;
    let r = h.provider.approve(pending, approval("alice", "read")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        query_param(location(&r).as_str(), "iss").as_deref(),
        Some(ISSUER)
    );
    let token = q.replace("response_type=code", "response_type=token");
    let (status, json) = push(&h, &key, "fapi", &token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["error"], "unsupported_response_type");
    // Errors redirected from the front channel are 303 with `iss` too.
    let r = h
        .respond(&token.replace("client_id=fapi", "client_id=plain"))
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    assert_eq!(
        query_param(to.as_str(), "error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(query_param(to.as_str(), "iss").as_deref(), Some(ISSUER));
}

/// §5.3.2.2 (8): no `http` redirect URI except loopback (RFC 8252 §7.3), for every client;
/// an unregistered redirect URI gets an error page, never a redirect (§5.3.2.1 (7), no open
/// redirector).
#[tokio::test]
async fn fapi2_redirect_uris_are_https_or_loopback() {
    assert_eq!(
        RedirectUri::parse("http://rp.example/cb"),
        Err(RedirectUriError::InsecureHttp)
    );
    assert_eq!(
        RedirectUri::parse("http://localhost/cb"),
        Err(RedirectUriError::InsecureHttp)
    );
    assert!(RedirectUri::parse("http://127.0.0.1:8080/cb").is_ok());
    assert!(RedirectUri::parse("http://[::1]/cb").is_ok());

    let key = Key::new(Algorithm::ES256);
    let h = mixed(Policy::default(), &key).await;
    let q = format!(
        "response_type=code&client_id=fapi&redirect_uri={}&scope=read&code_challenge={}&code_challenge_method=S256",
        enc("https://evil.example/cb"),
        challenge(VERIFIER)
    );
    let (status, json) = push(&h, &key, "fapi", &q).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["error"], "invalid_request");
    let r = h
        .respond(&q.replace("client_id=fapi", "client_id=plain"))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("location").is_none());
}

/// `state` and `nonce` of 64 characters and more are accepted (the limits are 2048 and 512
/// bytes).
#[tokio::test]
async fn fapi2_accepts_long_state_and_nonce() {
    let limit = |name: &str| {
        AUTHORIZE_PARAMETER_LIMITS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, l)| *l)
            .unwrap()
    };
    assert!(limit("state") >= 64 && limit("nonce") >= 64);
    let key = Key::new(Algorithm::ES256);
    let h = mixed(Policy::default(), &key).await;
    let q = format!(
        "response_type=code&client_id=fapi&redirect_uri={}&scope=openid&state={}&nonce={}&code_challenge={}&code_challenge_method=S256",
        enc(FAPI_REDIRECT),
        "s".repeat(limit("state")),
        "n".repeat(limit("nonce")),
        challenge(VERIFIER)
    );
    assert!(matches!(
        h.authorize(&pushed(&h, &key, "fapi", &q).await).await,
        AuthorizeOutcome::Pending(_)
    ));
}

/// §5.3.2.2 (2, 3): a FAPI client's authorization requests are pushed (RFC 9126), with their
/// `redirect_uri`; through the browser alone they are refused, while an ordinary client on
/// the same provider is unaffected. Under `Policy::fapi2()` discovery says so.
#[tokio::test]
async fn fapi2_requires_pushed_authorization_requests() {
    let key = Key::new(Algorithm::ES256);
    let h = mixed(Policy::default(), &key).await;
    let form = format!(
        "response_type=code&redirect_uri={}&scope=read&state=st&code_challenge={}&code_challenge_method=S256",
        enc(FAPI_REDIRECT),
        challenge(VERIFIER)
    );
    let front = |id: &str| format!("client_id={id}&{form}");
    let r = h.respond(&front("fapi")).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    assert_eq!(
        query_param(to.as_str(), "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(
        query_param(to.as_str(), "error_description").as_deref(),
        Some("this authorization request must be pushed first (RFC 9126)")
    );
    assert!(matches!(
        h.authorize(&front("plain")).await,
        AuthorizeOutcome::Pending(_)
    ));
    let without = form.replace(&format!("redirect_uri={}&", enc(FAPI_REDIRECT)), "");
    let (status, json) = push(&h, &key, "fapi", &without).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["error"], "invalid_request");
    assert_eq!(
        json["error_description"],
        "redirect_uri is required (FAPI 2.0)"
    );
    let (status, json) = push(&h, &key, "fapi", &form).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert!(json["expires_in"].as_u64().unwrap() <= 600);

    let strict = fapi_provider(Arc::new(MemoryStore::new()), &key).await;
    let meta: Value = serde_json::from_slice(strict.provider.discovery().body()).unwrap();
    assert_eq!(meta["require_pushed_authorization_requests"], true);
}

/// §5.3.2.1 (2): the resource owner password credentials grant is refused
/// (`unsupported_grant_type`, 400) for every client.
#[tokio::test]
async fn fapi2_refuses_the_password_grant() {
    let key = Key::new(Algorithm::ES256);
    let h = mixed(Policy::default(), &key).await;
    let form = "grant_type=password&username=alice&password=pw";
    let (status, json) = post_as(
        &h,
        Endpoint::Token,
        &key,
        "fapi",
        json!(ISSUER),
        form,
        Extra::default(),
    )
    .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "unsupported_grant_type")
    );
}

/// §5.4.1 for DPoP proofs: on a provider whose DPoP algorithms include RS256, a FAPI
/// client's RS256 proof is `invalid_dpop_proof` (400) at the token and PAR endpoints
/// (`DpopPolicy::for_profile`), and its ES256 proof accepted; an ordinary client's RS256
/// proof is accepted.
#[tokio::test]
async fn fapi2_dpop_proofs_are_ps256_es256_eddsa_only() {
    let key = Key::new(Algorithm::ES256);
    let h = mixed(Policy::default(), &key).await;
    let meta: Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
    assert!(meta["dpop_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .contains(&json!("RS256")));
    let (rs256, es256) = (Key::new(Algorithm::RS256), Key::new(Algorithm::ES256));
    let with = |proof: String| Extra {
        dpop: Some(proof),
        ..Extra::default()
    };
    let not_allowed = (
        StatusCode::BAD_REQUEST,
        "invalid_dpop_proof",
        "the DPoP proof's algorithm is not allowed",
    );
    fn refusal((status, json): &(StatusCode, Value)) -> (StatusCode, &str, &str) {
        (
            *status,
            error_of(json),
            json["error_description"].as_str().unwrap_or_default(),
        )
    }

    let code = code_of(&h, &key, "fapi", "read").await;
    let refused = exchange(&h, &key, "fapi", &code, with(rs256.dpop(&h))).await;
    assert_eq!(refusal(&refused), not_allowed);
    // Refused before the code was spent.
    let (status, json) = exchange(&h, &key, "fapi", &code, with(es256.dpop(&h))).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["token_type"], "DPoP");

    let code = code_of(&h, &key, "plain", "read").await;
    let (status, json) = exchange(&h, &key, "plain", &code, with(rs256.dpop(&h))).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["token_type"], "DPoP");

    let form = format!(
        "response_type=code&redirect_uri={}&scope=read&state=st&code_challenge={}&code_challenge_method=S256",
        enc(FAPI_REDIRECT),
        challenge(VERIFIER)
    );
    let (h, key, form) = (&h, &key, form.as_str());
    let par = move |id: &'static str, proof: &Key| {
        let extra = with(proof.dpop_for(h, PAR_URL));
        post_as(h, Endpoint::Par, key, id, json!(ISSUER), form, extra)
    };
    assert_eq!(refusal(&par("fapi", &rs256).await), not_allowed);
    for (id, proof) in [("fapi", &es256), ("plain", &rs256)] {
        let (status, json) = par(id, proof).await;
        assert_eq!(status, StatusCode::CREATED, "{id}: {json}");
    }
}
