//! Mutual-TLS client authentication (RFC 8705 §2) and certificate-bound access tokens (§3)
//! over real TLS, on both adapters: the example provider serving HTTPS with a client CA, and
//! `reqwest` (rustls) clients presenting certificates made with `rcgen`. Every refusal of
//! client authentication is `invalid_client`, 401, with a challenge.

use std::num::NonZeroU32;
use std::sync::Arc;

use base64::Engine;
use portcullis::core::{
    Algorithm, Client, ClientKind, ClientSecretHash, GrantType, RedirectUri, ScopeSet, SigningKey,
};
use portcullis::tls::ServerTls;
use portcullis::{Approval, AuthorizeOutcome, Clock, SystemClock};
use portcullis_e2e::{
    demo_config, on_each_adapter, query_param, Adapter, PKCE_CHALLENGE, PKCE_VERIFIER,
};
use portcullis_example_provider::{spawn_on, Running};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use reqwest::StatusCode;
use serde_json::Value;

/// A CA: its certificate (PEM) and what signs with it.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name = named(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { cert, key }
    }

    /// A leaf for `key`, signed by this CA.
    fn issue(&self, params: CertificateParams, key: &KeyPair) -> String {
        params.signed_by(key, &self.cert, &self.key).unwrap().pem()
    }
}

fn named(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

/// A client certificate's parameters: subject `cn`, one DNS SAN.
fn client_params(cn: &str, dns: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = named(cn);
    params.subject_alt_names = vec![SanType::DnsName(dns.try_into().unwrap())];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params
}

/// A certificate (PEM) and its key.
struct Identity {
    cert: String,
    key: KeyPair,
}

struct Pki {
    server_ca: Ca,
    server: Identity,
    client_ca: Ca,
}

fn pki() -> Pki {
    let server_ca = Ca::new("server CA");
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = Identity {
        cert: server_ca.issue(params, &key),
        key,
    };
    Pki {
        server_ca,
        server,
        client_ca: Ca::new("client CA"),
    }
}

/// The example provider over HTTPS on `adapter`, trusting `client_ca`, with a
/// `tls_client_auth` client `pki` (SAN `pki.example`), a `tls_client_auth` client `dn` (its
/// subject DN) and a `self_signed_tls_client_auth` client `self` (the key `registered`).
async fn serve(adapter: Adapter, pki: &Pki, registered: &KeyPair) -> Running {
    let rng = ring::rand::SystemRandom::new();
    let jwk = SigningKey::from_pkcs8("k", Algorithm::ES256, &registered.serialize_der(), &rng)
        .unwrap()
        .public_jwk();
    let (x, y) = (jwk.x.unwrap(), jwk.y.unwrap());
    let clients = format!(
        r#"
[[clients]]
id = "pki"
type = "tls_client_auth"
subject = {{ tls_client_auth_san_dns = "pki.example" }}
allowed_scopes = "read"
grant_types = ["client_credentials"]

[[clients]]
id = "dn"
type = "tls_client_auth"
subject = {{ tls_client_auth_subject_dn = "CN=dn client" }}
allowed_scopes = "read"
grant_types = ["client_credentials"]

[[clients]]
id = "self"
type = "self_signed_tls_client_auth"
jwks = {{ keys = [{{ kty = "EC", crv = "P-256", x = "{x}", y = "{y}" }}] }}
allowed_scopes = "read"
grant_types = ["client_credentials"]
"#
    );
    let tls = ServerTls::from_pem(
        pki.server.cert.as_bytes(),
        pki.server.key.serialize_pem().as_bytes(),
        Some(pki.client_ca.cert.pem().as_bytes()),
    )
    .unwrap();
    let config = demo_config(&[], &clients).with_tls(tls);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    spawn_on(adapter, config, None, listener, Arc::new(SystemClock))
        .await
        .expect("start the provider")
}

/// A `reqwest` client trusting the server's CA, presenting `identity` if any.
fn client(pki: &Pki, identity: Option<&Identity>) -> reqwest::Client {
    let root = reqwest::Certificate::from_pem(pki.server_ca.cert.pem().as_bytes()).unwrap();
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(root);
    if let Some(id) = identity {
        let pem = format!("{}{}", id.cert, id.key.serialize_pem());
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

/// A token request with `form`, and HTTP Basic if given.
async fn token(
    server: &Running,
    client: &reqwest::Client,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value, Option<String>) {
    token_at(server, "/token", client, form, basic).await
}

/// A POST of `form` to `path` (token, introspection), with HTTP Basic if given.
async fn token_at(
    server: &Running,
    path: &str,
    client: &reqwest::Client,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value, Option<String>) {
    let mut req = client.post(server.url(path)).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    answer(req).await
}

/// Sends `req`: the status, the JSON body and the `WWW-Authenticate` challenge.
async fn answer(req: reqwest::RequestBuilder) -> (StatusCode, Value, Option<String>) {
    let resp = req.send().await.expect("the TLS request");
    let status = resp.status();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = resp.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&body).unwrap_or_default(),
        challenge,
    )
}

/// A refused request: the case, `client_id`, the certificate, more form fields, Basic.
type Refusal<'a> = (
    &'a str,
    &'a str,
    Option<&'a Identity>,
    &'a [(&'a str, &'a str)],
    Option<(&'a str, &'a str)>,
);

fn cc(id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", id.into()),
    ]
}

async fn mtls_clients_authenticate_with_their_own_certificates(adapter: Adapter) {
    let pki = pki();
    let registered = KeyPair::generate().unwrap();
    let server = serve(adapter, &pki, &registered).await;
    let issued = |params, key: KeyPair| Identity {
        cert: pki.client_ca.issue(params, &key),
        key,
    };
    let self_signed = |params: CertificateParams, key: KeyPair| Identity {
        cert: params.self_signed(&key).unwrap().pem(),
        key,
    };
    let new_key = || KeyPair::generate().unwrap();
    let pki_cert = issued(client_params("pki client", "pki.example"), new_key());
    let dn_cert = issued(client_params("dn client", "dn.example"), new_key());
    let wrong_subject = issued(client_params("other", "other.example"), new_key());
    // Claims the pki client's name, but no CA vouches for it.
    let forged = self_signed(client_params("pki client", "pki.example"), new_key());
    let own = self_signed(client_params("self", "self.example"), registered);
    // Issued by the client CA, but of a key the self-signed client did not register.
    let unregistered = issued(client_params("self", "self.example"), new_key());

    let discovery = client(&pki, None)
        .get(server.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let discovery: Value = serde_json::from_slice(&discovery).unwrap();
    let methods = &discovery["token_endpoint_auth_methods_supported"];
    for m in ["tls_client_auth", "self_signed_tls_client_auth"] {
        assert!(methods.as_array().unwrap().contains(&m.into()), "{methods}");
    }
    // RFC 8705 §3.3: a provider asking for client certificates binds tokens to them.
    assert_eq!(
        discovery["tls_client_certificate_bound_access_tokens"],
        true
    );

    for (id, identity) in [("pki", &pki_cert), ("dn", &dn_cert), ("self", &own)] {
        let form = cc(id);
        let form: Vec<_> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, json, _) = token(&server, &client(&pki, Some(identity)), &form, None).await;
        assert_eq!(status, StatusCode::OK, "{id}: {json}");
        assert_eq!(json["token_type"], "Bearer", "{id}");
    }

    let secret = [("client_secret", "anything")];
    let refusals: [Refusal; 8] = [
        ("wrong subject", "pki", Some(&wrong_subject), &[], None),
        ("wrong DN", "dn", Some(&pki_cert), &[], None),
        (
            "self-signed for tls_client_auth",
            "pki",
            Some(&forged),
            &[],
            None,
        ),
        ("unregistered key", "self", Some(&unregistered), &[], None),
        ("no certificate", "pki", None, &[], None),
        ("no certificate", "self", None, &[], None),
        ("secret instead", "pki", None, &secret, None),
        (
            "Basic instead",
            "pki",
            Some(&pki_cert),
            &[],
            Some(("pki", "anything")),
        ),
    ];
    for (case, id, identity, extra, basic) in refusals {
        let form = cc(id);
        let mut form: Vec<_> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if basic.is_some() {
            form.retain(|(k, _)| *k != "client_id");
        }
        form.extend_from_slice(extra);
        let (status, json, challenge) = token(&server, &client(&pki, identity), &form, basic).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {json}");
        assert_eq!(json["error"], "invalid_client", "{case}");
        assert!(challenge.is_some_and(|c| c.starts_with("Basic ")), "{case}");
    }

    // A secret client's certificate is ignored: its secret authenticates it.
    let form = [("grant_type", "client_credentials")];
    let basic = Some(("demo-service", "demo-service-secret"));
    let (status, json, _) = token(&server, &client(&pki, Some(&own)), &form, basic).await;
    assert_eq!(status, StatusCode::OK, "{json}");
}

/// A confidential client (a secret) whose access tokens are bound to its TLS certificate,
/// registered on the running provider.
const BOUND: &str = "bound";
const BOUND_SECRET: &str = "bound-secret";
const BOUND_REDIRECT: &str = "https://bound.example/cb";

fn bound_client() -> Client {
    let secret = ClientSecretHash::pbkdf2(
        BOUND_SECRET,
        NonZeroU32::new(1000).unwrap(),
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    let mut client = Client::new(BOUND, ClientKind::confidential(secret))
        .with_redirect_uris([RedirectUri::parse(BOUND_REDIRECT).unwrap()])
        .with_allowed_scopes(ScopeSet::parse("openid read").unwrap())
        .with_grant_types([GrantType::AuthorizationCode]);
    client.tokens.tls_client_certificate_bound_access_tokens = true;
    client
}

/// A code for `bound`'s `openid` sign-in of alice, from the provider in-process: what is
/// tested is the TLS binding at the token endpoint and UserInfo, not the login pages.
async fn bound_code(server: &Running) -> String {
    let query = format!(
        "response_type=code&client_id={BOUND}&redirect_uri={BOUND_REDIRECT}&scope=openid\
         &state=s&code_challenge={PKCE_CHALLENGE}&code_challenge_method=S256"
    );
    let req = http::Request::get(format!("/authorize?{query}"))
        .body(bytes::Bytes::new())
        .unwrap();
    let AuthorizeOutcome::Pending(pending) = server.provider().authorize(req).await else {
        panic!("a pending authorization");
    };
    let approval = Approval::new(
        "alice",
        SystemClock.now(),
        ScopeSet::parse("openid").unwrap(),
    );
    let r = server.provider().approve(pending, approval).await;
    let location = r.headers()["location"].to_str().unwrap();
    query_param(&url::Url::parse(location).unwrap(), "code").expect("a code")
}

/// `GET /userinfo` with `token` as a Bearer token, over `client`'s connection.
async fn userinfo(
    server: &Running,
    client: &reqwest::Client,
    token: &str,
) -> (StatusCode, Value, Option<String>) {
    answer(client.get(server.url("/userinfo")).bearer_auth(token)).await
}

/// RFC 8705 §3: a client registered for certificate-bound tokens gets a token whose `cnf`
/// names its certificate's thumbprint (`x5t#S256`, shown by introspection); UserInfo answers
/// it over a connection with that certificate only, else 401 `invalid_token` with a Bearer
/// challenge. Without a certificate the token endpoint refuses to issue (§3).
async fn certificate_bound_tokens_work_with_their_certificate_only(adapter: Adapter) {
    let pki = pki();
    let server = serve(adapter, &pki, &KeyPair::generate().unwrap()).await;
    server
        .provider()
        .register_client(&bound_client())
        .await
        .unwrap();
    let identity = |cn: &str| {
        let key = KeyPair::generate().unwrap();
        Identity {
            cert: pki
                .client_ca
                .issue(client_params(cn, "bound.example"), &key),
            key,
        }
    };
    let (own, other) = (identity("bound"), identity("other"));
    let with_own = client(&pki, Some(&own));
    let exchange = |code: String| {
        [
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", BOUND_REDIRECT.to_owned()),
            ("code_verifier", PKCE_VERIFIER.to_owned()),
        ]
    };
    let basic = Some((BOUND, BOUND_SECRET));

    let form = exchange(bound_code(&server).await);
    let form: Vec<_> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, json, _) = token(&server, &client(&pki, None), &form, basic).await;
    assert_eq!(
        (status, json["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "no certificate: {json}"
    );

    let form = exchange(bound_code(&server).await);
    let form: Vec<_> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, json, _) = token(&server, &with_own, &form, basic).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["token_type"], "Bearer");
    let access_token = json["access_token"].as_str().unwrap();

    let form = [("token", access_token)];
    let (status, introspection, _) =
        token_at(&server, "/introspect", &with_own, &form, basic).await;
    assert_eq!(status, StatusCode::OK, "{introspection}");
    assert_eq!(introspection["active"], true, "{introspection}");
    let own_der = der_of(&own.cert);
    assert_eq!(
        introspection["cnf"]["x5t#S256"],
        portcullis::core::certificate_thumbprint(&own_der),
        "{introspection}"
    );

    let (status, json, _) = userinfo(&server, &with_own, access_token).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["sub"], "alice");
    for (case, presented) in [("another certificate", Some(&other)), ("none", None)] {
        let (status, json, challenge) =
            userinfo(&server, &client(&pki, presented), access_token).await;
        assert_eq!(
            (status, json["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_token")),
            "{case}: {json}"
        );
        let challenge = challenge.unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""),
            "{case}: {challenge}"
        );
    }
}

/// The DER of the first certificate of `pem`.
fn der_of(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

on_each_adapter!(
    mtls_clients_authenticate_with_their_own_certificates,
    certificate_bound_tokens_work_with_their_certificate_only
);
