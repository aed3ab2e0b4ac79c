//! Mutual-TLS client authentication (RFC 8705 §2) at the token, introspection and revocation
//! endpoints, with the certificate an adapter would put on the request; what discovery says of
//! it (§3.3) and the endpoint aliases of §5.

mod common;

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use bytes::Bytes;
use common::{error_of, Endpoint, Harness, SECRET};
use http::{Method, Request, StatusCode};
use portcullis::core::{
    Algorithm, CertificateSubject, Client, ClientKind, GrantType, Issuer, JwkSet, ScopeSet,
    SigningKey,
};
use portcullis::{
    BuildError, CertificateChain, ClientCertificate, ClientCertificateAuth, Provider,
    RegistrationPolicy, Stores,
};
use portcullis_store_memory::MemoryStore;
use rcgen::{CertificateParams, KeyPair, SanType};
use ring::rand::SystemRandom;
use serde_json::json;

struct Setup {
    h: Harness,
    /// A certificate with the SAN `pki.example`, for the self-signed client's key.
    cert: Vec<u8>,
    /// A certificate of another key.
    other: Vec<u8>,
}

fn certificate(key: &KeyPair) -> Vec<u8> {
    let mut params = CertificateParams::default();
    params.subject_alt_names = vec![SanType::DnsName("pki.example".try_into().unwrap())];
    params.self_signed(key).unwrap().der().to_vec()
}

fn client(id: &str, kind: ClientKind) -> Client {
    Client::new(id, kind)
        .with_grant_types([GrantType::ClientCredentials])
        .with_allowed_scopes(ScopeSet::parse("read").unwrap())
}

async fn setup(offered: ClientCertificateAuth) -> Setup {
    let key = KeyPair::generate().unwrap();
    let rng = ring::rand::SystemRandom::new();
    let jwk = SigningKey::from_pkcs8("k", Algorithm::ES256, &key.serialize_der(), &rng)
        .unwrap()
        .public_jwk();
    let store = Arc::new(MemoryStore::new());
    let h = Harness::configured(store, common::ISSUER, |b| {
        b.client_certificate_auth(offered)
    })
    .await;
    let pki = CertificateSubject::SanDns("pki.example".into());
    let keys = JwkSet { keys: vec![jwk] };
    for c in [
        client("pki", ClientKind::TlsClientAuth { subject: pki }),
        client("self", ClientKind::SelfSignedTlsClientAuth { keys }),
    ] {
        h.provider.register_client(&c).await.unwrap();
    }
    let other = certificate(&KeyPair::generate().unwrap());
    Setup {
        h,
        cert: certificate(&key),
        other,
    }
}

async fn post(
    h: &Harness,
    endpoint: Endpoint,
    body: &str,
    basic: Option<&str>,
    cert: Option<ClientCertificate>,
) -> (StatusCode, serde_json::Value, http::HeaderMap) {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(id) = basic {
        let credentials = STANDARD.encode(format!("{id}:{SECRET}"));
        req = req.header("authorization", format!("Basic {credentials}"));
    }
    let mut req = req.body(Bytes::from(body.to_owned())).unwrap();
    if let Some(cert) = cert {
        req.extensions_mut().insert(cert);
    }
    let resp = h.send(endpoint, req).await;
    let json = serde_json::from_slice(resp.body()).unwrap_or_default();
    (resp.status(), json, resp.headers().clone())
}

const CC: &str = "grant_type=client_credentials";

fn refused((status, json, headers): (StatusCode, serde_json::Value, http::HeaderMap), case: &str) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {json}");
    assert_eq!(error_of(&json), "invalid_client", "{case}");
    let challenge = headers["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Basic "), "{case}: {challenge}");
}

#[tokio::test]
async fn each_client_authenticates_with_its_own_kind_of_certificate_only() {
    let s = setup(ClientCertificateAuth::SelfSignedAndClientCa).await;
    let ca = |der: &[u8]| Some(ClientCertificate::new(der, CertificateChain::ClientCa));
    let unverified = |der: &[u8]| Some(ClientCertificate::new(der, CertificateChain::Unverified));
    let h = &s.h;
    let token = |id: &str, cert| {
        let body = format!("{CC}&client_id={id}");
        async move { post(h, Endpoint::Token, &body, None, cert).await }
    };

    let (status, json, _) = token("pki", ca(&s.cert)).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let access_token = json["access_token"].as_str().unwrap().to_owned();
    let (status, json, _) = token("self", unverified(&s.cert)).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    // A registered key counts however its certificate was verified.
    let (status, json, _) = token("self", ca(&s.cert)).await;
    assert_eq!(status, StatusCode::OK, "{json}");

    refused(
        token("pki", unverified(&s.cert)).await,
        "self-signed for PKI",
    );
    refused(token("pki", None).await, "PKI without a certificate");
    refused(
        token("self", None).await,
        "self-signed without a certificate",
    );
    refused(
        token("self", unverified(&s.other)).await,
        "unregistered key",
    );
    refused(
        token("self", ca(&s.other)).await,
        "CA-issued, unregistered key",
    );
    refused(token("pki", ca(b"not a certificate")).await, "garbage");
    // A secret instead: never a fallback.
    for (body, basic) in [
        (format!("{CC}&client_id=pki&client_secret={SECRET}"), None),
        (CC.to_owned(), Some("pki")),
        (CC.to_owned(), Some("self")),
    ] {
        let r = post(&s.h, Endpoint::Token, &body, basic, ca(&s.cert)).await;
        refused(r, &body);
    }

    // Introspection and revocation authenticate alike.
    let body = format!("token={access_token}&client_id=pki");
    let (status, json, _) = post(&s.h, Endpoint::Introspect, &body, None, ca(&s.cert)).await;
    assert_eq!((status, &json["active"]), (StatusCode::OK, &true.into()));
    refused(
        post(&s.h, Endpoint::Introspect, &body, None, unverified(&s.cert)).await,
        "introspection",
    );
    refused(
        post(&s.h, Endpoint::Revoke, &body, None, None).await,
        "revocation",
    );
    let (status, _, _) = post(&s.h, Endpoint::Revoke, &body, None, ca(&s.cert)).await;
    assert_eq!(status, StatusCode::OK);

    // A secret client's certificate is ignored.
    let (status, json, _) = post(&s.h, Endpoint::Token, CC, Some("service"), ca(&s.cert)).await;
    assert_eq!(status, StatusCode::OK, "{json}");
}

#[tokio::test]
async fn methods_the_tls_layer_does_not_support_are_neither_listed_nor_accepted() {
    let ca = |der: &[u8]| Some(ClientCertificate::new(der, CertificateChain::ClientCa));
    // The provider has no key-encryption key, so no client_secret_jwt.
    let listed = |mtls: &[&'static str]| -> Vec<&'static str> {
        let mut names = vec![
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ];
        names.extend_from_slice(mtls);
        names.push("none");
        names
    };
    for (offered, listed, pki_ok, self_ok) in [
        (ClientCertificateAuth::Disabled, listed(&[]), false, false),
        (
            ClientCertificateAuth::SelfSigned,
            listed(&["self_signed_tls_client_auth"]),
            false,
            true,
        ),
        (
            ClientCertificateAuth::SelfSignedAndClientCa,
            listed(&["tls_client_auth", "self_signed_tls_client_auth"]),
            true,
            true,
        ),
    ] {
        let s = setup(offered).await;
        let d: serde_json::Value = serde_json::from_slice(s.h.provider.discovery().body()).unwrap();
        assert_eq!(
            d["token_endpoint_auth_methods_supported"],
            serde_json::json!(listed)
        );
        assert_eq!(
            d["revocation_endpoint_auth_methods_supported"],
            serde_json::json!(listed)
        );
        let authenticated: Vec<_> = listed.iter().filter(|m| **m != "none").collect();
        assert_eq!(
            d["introspection_endpoint_auth_methods_supported"],
            serde_json::json!(authenticated)
        );
        // RFC 8705 §3.3: certificates can bind tokens wherever they arrive.
        assert_eq!(
            d.get("tls_client_certificate_bound_access_tokens")
                .is_some(),
            offered != ClientCertificateAuth::Disabled,
            "{offered:?}"
        );
        if offered != ClientCertificateAuth::Disabled {
            assert_eq!(d["tls_client_certificate_bound_access_tokens"], true);
        }
        for (id, ok) in [("pki", pki_ok), ("self", self_ok)] {
            let body = format!("{CC}&client_id={id}");
            let r = post(&s.h, Endpoint::Token, &body, None, ca(&s.cert)).await;
            if ok {
                assert_eq!(r.0, StatusCode::OK, "{offered:?} {id}");
            } else {
                refused(r, &format!("{offered:?} {id}"));
            }
        }
    }
}

const ALIAS: &str = "https://mtls.as.example";

/// A DPoP proof (RFC 9449 §4.2) by `key` for `POST htu` at the harness's clock.
fn dpop_proof(key: &SigningKey, htu: &str, jti: &str) -> String {
    let part = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap());
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk()});
    let claims = json!({"jti": jti, "htm": "POST", "htu": htu, "iat": common::T0});
    let input = format!("{}.{}", part(header), part(claims));
    let sig = key.sign(input.as_bytes(), &SystemRandom::new()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// RFC 8705 §5: the aliases of the token, UserInfo, introspection, revocation (and open
/// registration) endpoints on the host that asks for client certificates, only with client
/// certificates offered.
#[tokio::test]
async fn mtls_endpoint_aliases_are_published_as_configured() {
    let alias = || Issuer::parse(ALIAS).unwrap();
    let refused = Provider::builder(Issuer::parse(common::ISSUER).unwrap())
        .stores(Stores::shared(Arc::new(MemoryStore::new())))
        .mtls_endpoint_aliases(alias())
        .build()
        .unwrap_err();
    assert!(matches!(
        refused,
        BuildError::MtlsAliasesWithoutClientCertificates
    ));
    for registration in [false, true] {
        let h = Harness::configured(Arc::new(MemoryStore::new()), common::ISSUER, |b| {
            let b = b
                .client_certificate_auth(ClientCertificateAuth::SelfSigned)
                .mtls_endpoint_aliases(alias());
            if registration {
                b.registration(RegistrationPolicy::open(ScopeSet::parse("read").unwrap()))
            } else {
                b
            }
        })
        .await;
        let d: serde_json::Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
        let mut aliases = json!({
            "token_endpoint": "https://mtls.as.example/token",
            "pushed_authorization_request_endpoint": "https://mtls.as.example/par",
            "userinfo_endpoint": "https://mtls.as.example/userinfo",
            "introspection_endpoint": "https://mtls.as.example/introspect",
            "revocation_endpoint": "https://mtls.as.example/revoke",
        });
        if registration {
            aliases["registration_endpoint"] = json!("https://mtls.as.example/register");
        }
        assert_eq!(d["mtls_endpoint_aliases"], aliases, "{registration}");
        assert_eq!(d["token_endpoint"], "https://as.example/token");
    }
}

/// RFC 9449 §4.3 item 9: a proof names the URL the request was sent to: the alias's on the
/// alias host (by `Host`, or the authority of an absolute or HTTP/2 URI), the issuer's on
/// the issuer's host.
#[tokio::test]
async fn a_dpop_proof_names_the_alias_url_on_the_alias_host() {
    let h = Harness::configured(Arc::new(MemoryStore::new()), common::ISSUER, |b| {
        b.client_certificate_auth(ClientCertificateAuth::SelfSigned)
            .mtls_endpoint_aliases(Issuer::parse(ALIAS).unwrap())
    })
    .await;
    let key = SigningKey::generate("k", Algorithm::ES256, &SystemRandom::new()).unwrap();
    let on_alias = "https://mtls.as.example/token";
    let on_issuer = "https://as.example/token";
    for (i, (uri, host, htu, accepted)) in [
        ("/token", Some("mtls.as.example"), on_alias, true),
        ("/token", Some("MTLS.as.example:443"), on_alias, true),
        (on_alias, None, on_alias, true),
        ("/token", Some("as.example"), on_issuer, true),
        ("/token", None, on_issuer, true),
        ("/token", Some("as.example"), on_alias, false),
        ("/token", Some("mtls.as.example:8443"), on_alias, false),
        ("/token", Some("mtls.as.example"), on_issuer, false),
        (on_alias, None, on_issuer, false),
    ]
    .into_iter()
    .enumerate()
    {
        let credentials = STANDARD.encode(format!("service:{SECRET}"));
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", format!("Basic {credentials}"))
            .header("dpop", dpop_proof(&key, htu, &format!("jti-{i}")));
        if let Some(host) = host {
            req = req.header("host", host);
        }
        let resp = h
            .provider
            .token(req.body(Bytes::from_static(CC.as_bytes())).unwrap())
            .await;
        let json: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        let case = format!("{uri} {host:?} {htu}: {json}");
        if accepted {
            assert_eq!(resp.status(), StatusCode::OK, "{case}");
            assert_eq!(json["token_type"], "DPoP", "{case}");
        } else {
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{case}");
            assert_eq!(error_of(&json), "invalid_dpop_proof", "{case}");
        }
    }
}
