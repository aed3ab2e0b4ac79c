//! Response modes at the authorization endpoint: `query`, `fragment`, `form_post` (OAuth 2.0
//! Form Post Response Mode) and JARM (`jwt`, `query.jwt`, `fragment.jwt`, `form_post.jwt`),
//! for codes and errors. JWT responses are verified by an independent implementation
//! (`jsonwebtoken`) against the provider's published JWKS.

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use common::*;
use http::{Method, Response, StatusCode};
use jsonwebtoken::{decode, decode_header, jwk::JwkSet, Algorithm as Jwa, DecodingKey, Validation};
use portcullis::core::{Algorithm, Client};
use serde_json::{json, Value};

const NATIVE_REDIRECT: &str = "http://127.0.0.1:4567/cb";
/// A `state` that must be escaped in HTML and percent-encoded in a URI.
const STATE: &str = "s\"<b>&'x y";

fn query_for(client: &str, extra: &str) -> String {
    format!(
        "response_type=code&client_id={client}&redirect_uri={}&state={}&code_challenge={}&code_challenge_method=S256{extra}",
        enc(NATIVE_REDIRECT),
        enc(STATE),
        challenge(VERIFIER)
    )
}

/// How a response arrived.
#[derive(Debug, PartialEq, Eq)]
enum Arrived {
    Query,
    Fragment,
    FormPost,
}

/// The parameters of an authorization response and how they travelled.
fn received(r: &Response<Bytes>) -> (Arrived, BTreeMap<String, String>) {
    let pairs = |s: &str| {
        url::form_urlencoded::parse(s.as_bytes())
            .into_owned()
            .collect::<BTreeMap<_, _>>()
    };
    match r.status() {
        StatusCode::SEE_OTHER => {
            let to = location(r);
            assert!(to.as_str().starts_with(NATIVE_REDIRECT), "{to}");
            match to.fragment() {
                Some(f) => {
                    assert_eq!(to.query(), None, "{to}");
                    (Arrived::Fragment, pairs(f))
                }
                None => (Arrived::Query, pairs(to.query().unwrap_or(""))),
            }
        }
        StatusCode::OK => (Arrived::FormPost, form_fields(r)),
        other => panic!("unexpected {other}: {:?}", r.body()),
    }
}

/// The hidden fields of a form post page, unescaped.
fn form_fields(r: &Response<Bytes>) -> BTreeMap<String, String> {
    let body = std::str::from_utf8(r.body()).unwrap();
    body.split("<input type=\"hidden\" ")
        .skip(1)
        .map(|field| {
            let name = between(field, "name=\"", "\"");
            let value = between(field, "value=\"", "\"");
            (
                html_escape::decode_html_entities(name).into_owned(),
                html_escape::decode_html_entities(value).into_owned(),
            )
        })
        .collect()
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let from = s.find(start).unwrap() + start.len();
    let len = s[from..].find(end).unwrap();
    &s[from..from + len]
}

/// The claims of a response JWT, verified with `jsonwebtoken` against the provider's JWKS:
/// signature, `iss`, `aud` (the client) and `exp` (10 minutes from now, JARM §2.1).
async fn verified(h: &Harness, params: &BTreeMap<String, String>, client: &str, alg: Jwa) -> Value {
    assert_eq!(params.keys().collect::<Vec<_>>(), ["response"]);
    let jwt = &params["response"];
    let header = decode_header(jwt).unwrap();
    assert_eq!(header.alg, alg);
    let jwks: JwkSet = serde_json::from_slice(h.provider.jwks().await.body()).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("published key");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(alg);
    validation.set_audience(&[client]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["iss", "aud", "exp"]);
    // The provider's clock is T0, long past: check `exp` by hand.
    validation.validate_exp = false;
    let claims = decode::<Value>(jwt, &key, &validation).unwrap().claims;
    assert_eq!(claims["exp"], json!(T0 + 600));
    claims
}

/// Each mode delivers the code (and an error) the way it names, `303` or the `200` form
/// post page; JWT modes as one `response` parameter signed with RS256 (JARM §3's default)
/// carrying `code`/`error`, `state` and `iss`. The code works at the token endpoint.
#[tokio::test]
async fn each_mode_delivers_codes_and_errors_its_way() {
    let h = Harness::new().await;
    let cases = [
        ("query", Arrived::Query, false),
        ("fragment", Arrived::Fragment, false),
        ("form_post", Arrived::FormPost, false),
        ("jwt", Arrived::Query, true),
        ("query.jwt", Arrived::Query, true),
        ("fragment.jwt", Arrived::Fragment, true),
        ("form_post.jwt", Arrived::FormPost, true),
    ];
    for (mode, arrives, jwt) in cases {
        let q = query_for("native", &format!("&response_mode={mode}"));
        let pending = h.pending(&q).await;
        let r = h.provider.approve(pending, approval("alice", "read")).await;
        let (how, params) = received(&r);
        assert_eq!(how, arrives, "{mode}");
        let params = if jwt {
            let claims = verified(&h, &params, "native", Jwa::RS256).await;
            assert_eq!(claims.as_object().unwrap().len(), 5, "{claims}");
            let s = |k: &str| claims[k].as_str().unwrap().to_owned();
            BTreeMap::from([
                ("code".to_owned(), s("code")),
                ("state".to_owned(), s("state")),
                ("iss".to_owned(), s("iss")),
            ])
        } else {
            params
        };
        assert_eq!(params["state"], STATE, "{mode}");
        assert_eq!(params["iss"], ISSUER, "{mode}");
        assert_eq!(params.len(), 3, "{mode}: {params:?}");
        let (status, json, _) = h
            .token(
                &format!(
                    "grant_type=authorization_code&client_id=native&code={}&redirect_uri={}&code_verifier={VERIFIER}",
                    enc(&params["code"]),
                    enc(NATIVE_REDIRECT)
                ),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{mode}: {json}");

        let r = h.provider.deny(h.pending(&q).await).await;
        let (how, params) = received(&r);
        assert_eq!(how, arrives, "{mode}");
        let (error, state) = if jwt {
            let claims = verified(&h, &params, "native", Jwa::RS256).await;
            assert_eq!(claims["iss"], ISSUER);
            assert!(claims["error_description"].is_string());
            (s(&claims, "error"), s(&claims, "state"))
        } else {
            assert_eq!(params["iss"], ISSUER);
            (params["error"].clone(), params["state"].clone())
        };
        assert_eq!((error.as_str(), state.as_str()), ("access_denied", STATE));
    }
}

/// Errors found at the authorization endpoint travel in the requested mode; an unsupported
/// mode is `invalid_request` in the default one (the query).
#[tokio::test]
async fn errors_follow_the_requested_mode_and_unsupported_modes_the_default() {
    let h = Harness::new().await;
    let r = h
        .respond(&query_for(
            "native",
            "&response_mode=fragment.jwt&scope=admin",
        ))
        .await;
    let (how, params) = received(&r);
    assert_eq!(how, Arrived::Fragment);
    let claims = verified(&h, &params, "native", Jwa::RS256).await;
    assert_eq!(claims["error"], "invalid_scope");
    assert_eq!(claims["state"], STATE);

    for mode in ["web_message", "JWT", "query.jwt.jwt", "form_post "] {
        let r = h
            .respond(&query_for(
                "native",
                &format!("&response_mode={}", enc(mode)),
            ))
            .await;
        let (how, params) = received(&r);
        assert_eq!(how, Arrived::Query, "{mode}");
        assert_eq!(params["error"], "invalid_request", "{mode}");
        assert_eq!(
            params["error_description"],
            "response_mode is not supported"
        );
        assert_eq!(params["state"], STATE);
        assert_eq!(params["iss"], ISSUER);
    }
}

/// OAuth 2.0 Form Post Response Mode §2, §5: a `200` page whose form POSTs the escaped
/// parameters to the redirect URI and submits itself; a `<noscript>` button; never cached,
/// framed or referred; the CSP allows only the one script by hash and forms to the redirect
/// URI's origin.
#[tokio::test]
async fn the_form_post_page_is_strict() {
    let h = Harness::new().await;
    let pending = h
        .pending(&query_for("native", "&response_mode=form_post"))
        .await;
    let r = h.provider.approve(pending, approval("alice", "read")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let headers = r.headers();
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["content-type"], "text/html;charset=UTF-8");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; script-src 'sha256-ePniVEkSivX/c7XWBGafqh8tSpiRrKiqYeqbG7N1TOE='; \
         form-action http://127.0.0.1:4567; frame-ancestors 'none'; base-uri 'none'"
    );
    assert!(headers.get("location").is_none());
    let body = std::str::from_utf8(r.body()).unwrap();
    assert!(body.contains("<form method=\"post\" action=\"http://127.0.0.1:4567/cb\">"));
    assert!(body.contains("<script>document.forms[0].submit()</script>"));
    assert!(body.contains("<noscript><button type=\"submit\">Continue</button></noscript>"));
    assert!(!body.contains("\"<b>"), "state is escaped: {body}");
    let fields = form_fields(&r);
    assert_eq!(fields["state"], STATE);
    assert_eq!(fields["iss"], ISSUER);
    assert_eq!(fields["code"].len(), 43);
}

/// JARM §3: a client with `authorization_signed_response_alg` gets signed responses by
/// default, with that algorithm (ES256 here), for codes and for errors; asking for a plain
/// mode changes how it travels, not that it is signed.
#[tokio::test]
async fn a_client_with_a_signing_algorithm_gets_jwts_by_default() {
    let h = Harness::new().await;
    let mut client: Client = native_client();
    client.id = "jarm".into();
    client.oidc.authorization_signed_response_alg = Some(Algorithm::ES256);
    h.provider.register_client(&client).await.unwrap();

    let pending = h.pending(&query_for("jarm", "")).await;
    let r = h.provider.approve(pending, approval("alice", "read")).await;
    let (how, params) = received(&r);
    assert_eq!(how, Arrived::Query);
    let claims = verified(&h, &params, "jarm", Jwa::ES256).await;
    assert_eq!(claims["state"], STATE);
    assert!(claims["code"].is_string());

    let r = h
        .respond(&query_for("jarm", "&response_mode=web_message"))
        .await;
    let (how, params) = received(&r);
    assert_eq!(how, Arrived::Query);
    let claims = verified(&h, &params, "jarm", Jwa::ES256).await;
    assert_eq!(claims["error"], "invalid_request");

    let r = h
        .respond(&query_for("jarm", "&response_mode=fragment&scope=admin"))
        .await;
    let (how, params) = received(&r);
    assert_eq!(how, Arrived::Fragment);
    // A plain mode does not strip the signature (JARM §3).
    let claims = verified(&h, &params, "jarm", Jwa::ES256).await;
    assert_eq!(claims["error"], "invalid_scope");
}

/// Dynamic registration (RFC 7591, JARM §3): `authorization_signed_response_alg` is accepted
/// when the provider signs with it and echoed; anything else, and any encryption of
/// responses, is `invalid_client_metadata` (400).
#[tokio::test]
async fn registration_accepts_signing_and_refuses_encryption() {
    let h = Harness::configured(
        std::sync::Arc::new(portcullis_store_memory::MemoryStore::new()),
        ISSUER,
        |b| {
            b.registration(portcullis::RegistrationPolicy::open(
                portcullis::core::ScopeSet::parse("read").unwrap(),
            ))
        },
    )
    .await;
    let base =
        json!({"redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "none"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let (status, body, _) = registration_call(
        &h,
        Method::POST,
        "",
        None,
        Some(&with("authorization_signed_response_alg", json!("PS256"))),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["authorization_signed_response_alg"], "PS256");
    for (k, v) in [
        ("authorization_signed_response_alg", json!("HS256")),
        ("authorization_signed_response_alg", json!("none")),
        (
            "authorization_encrypted_response_alg",
            json!("RSA-OAEP-256"),
        ),
        (
            "authorization_encrypted_response_enc",
            json!("A128CBC-HS256"),
        ),
    ] {
        let (status, body, _) =
            registration_call(&h, Method::POST, "", None, Some(&with(k, v.clone()))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{k}={v}");
        assert_eq!(body["error"], "invalid_client_metadata", "{k}={v}");
    }
}
