//! The implicit and hybrid flows (OpenID Connect Core §3.2, §3.3; RFC 6749 §4.2), behind
//! `Policy::dangerous_allow_implicit` and per client: each response type, in the fragment
//! by default, by form post and JARM, never in the query; `nonce` required with an ID
//! token; `at_hash` and `c_hash` recomputed here from the tokens (SHA-256, left half); the
//! hybrid code redeemed as usual; off by default exactly as before. ID tokens are verified
//! by independent implementations: `jsonwebtoken`, and the `openidconnect` crate's implicit
//! flow.

mod common;

use std::collections::BTreeMap;
use std::str::FromStr;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bytes::Bytes;
use common::*;
use http::{Response, StatusCode};
use jsonwebtoken::{decode, decode_header, jwk::JwkSet, DecodingKey, Validation};
use portcullis::core::{
    Client, ClientKind, ClientRequests, GrantType, Policy, RedirectUri, ResponseType, ScopeSet,
};
use portcullis::AuthorizeOutcome;
use ring::digest::{digest, SHA256};
use serde_json::Value;

const SPA_REDIRECT: &str = "https://spa.example/cb";
const NONCE: &str = "n-0S6_WzA2Mj";

fn implicit_policy() -> Policy {
    let mut policy = Policy::default();
    policy.dangerous_allow_implicit = true;
    policy
}

/// A public browser client registered for every implicit and hybrid type.
fn spa_client() -> Client {
    Client::new("spa", ClientKind::Public)
        .with_redirect_uris([RedirectUri::parse(SPA_REDIRECT).unwrap()])
        .with_allowed_scopes(ScopeSet::parse("openid read profile email").unwrap())
        .with_default_scopes(ScopeSet::parse("read").unwrap())
        .with_grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
        .with_requests(ClientRequests {
            response_types: ResponseType::ALL
                .into_iter()
                .filter(|t| *t != ResponseType::Code)
                .collect(),
            ..ClientRequests::default()
        })
}

async fn harness(policy: Policy) -> Harness {
    let h = Harness::with_policy(policy).await;
    h.provider.register_client(&spa_client()).await.unwrap();
    h
}

fn request(response_type: &str, extra: &str) -> String {
    format!(
        "response_type={}&client_id=spa&redirect_uri={}&scope=openid%20read&state=st&nonce={NONCE}&code_challenge={}&code_challenge_method=S256{extra}",
        enc(response_type),
        enc(SPA_REDIRECT),
        challenge(VERIFIER)
    )
}

/// The parameters of a `303` to the redirect URI, which must be in the fragment.
fn fragment(r: &Response<Bytes>) -> BTreeMap<String, String> {
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.body());
    let to = location(r);
    assert!(to.as_str().starts_with(SPA_REDIRECT), "{to}");
    assert_eq!(to.query(), None, "tokens never in the query: {to}");
    url::form_urlencoded::parse(to.fragment().expect("a fragment").as_bytes())
        .into_owned()
        .collect()
}

/// The left half of the SHA-256 of `value`, base64url: computed here, not by the provider.
fn left_half_sha256(value: &str) -> String {
    let d = digest(&SHA256, value.as_bytes());
    URL_SAFE_NO_PAD.encode(&d.as_ref()[..16])
}

/// The ID token's claims, verified with `jsonwebtoken` against the published JWKS.
async fn id_token_claims(h: &Harness, jwt: &str) -> Value {
    let header = decode_header(jwt).unwrap();
    let jwks: JwkSet = serde_json::from_slice(h.provider.jwks().await.body()).unwrap();
    let key = DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap()).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&["spa"]);
    validation.set_issuer(&[ISSUER]);
    validation.validate_exp = false;
    decode::<Value>(jwt, &key, &validation).unwrap().claims
}

/// UserInfo with `token` as a bearer token: its status and claims.
async fn userinfo(h: &Harness, token: &str) -> (StatusCode, Value) {
    let req = http::Request::get("/userinfo")
        .header("authorization", format!("Bearer {token}"))
        .body(Bytes::new())
        .unwrap();
    let r = h.provider.userinfo(req).await;
    let body = serde_json::from_slice(r.body()).unwrap_or(Value::Null);
    (r.status(), body)
}

async fn approved(h: &Harness, query: &str) -> Response<Bytes> {
    let pending = h.pending(query).await;
    h.provider
        .approve(pending, approval("alice", "openid read"))
        .await
}

/// Each type returns exactly its parts in the fragment, with `state` and `iss`, never a
/// refresh token; the ID token carries the nonce, `at_hash` exactly when an access token
/// came, `c_hash` exactly when a code came (OpenID Connect Core §3.2.2.10, §3.3.2.11).
#[tokio::test]
async fn each_response_type_returns_its_parts_in_the_fragment() {
    let h = harness(implicit_policy()).await;
    for t in ResponseType::ALL
        .into_iter()
        .filter(|t| *t != ResponseType::Code)
    {
        let params = fragment(&approved(&h, &request(t.as_str(), "")).await);
        assert_eq!(params["state"], "st", "{t:?}");
        assert_eq!(params["iss"], ISSUER, "{t:?}");
        assert!(!params.contains_key("refresh_token"), "{t:?}");
        assert_eq!(params.contains_key("code"), t.has_code(), "{t:?}");
        assert_eq!(
            params.contains_key("access_token"),
            t.has_access_token(),
            "{t:?}"
        );
        assert_eq!(params.contains_key("id_token"), t.has_id_token(), "{t:?}");
        if let Some(token) = params.get("access_token") {
            assert_eq!(params["token_type"], "Bearer");
            assert_eq!(params["expires_in"], "3600");
            // The scope granted is the scope asked: not repeated (RFC 6749 §4.2.2).
            assert!(!params.contains_key("scope"));
            let (status, claims) = userinfo(&h, token).await;
            assert_eq!(status, StatusCode::OK, "{t:?}");
            assert_eq!(claims["sub"], "alice");
        }
        if let Some(jwt) = params.get("id_token") {
            let claims = id_token_claims(&h, jwt).await;
            assert_eq!(claims["nonce"], NONCE, "{t:?}");
            assert_eq!(claims["sub"], "alice");
            let expected_at = params.get("access_token").map(|a| left_half_sha256(a));
            assert_eq!(
                claims["at_hash"].as_str().map(str::to_owned),
                expected_at,
                "{t:?}"
            );
            let expected_c = params.get("code").map(|c| left_half_sha256(c));
            assert_eq!(
                claims["c_hash"].as_str().map(str::to_owned),
                expected_c,
                "{t:?}"
            );
        }
    }
}

/// OpenID Connect Core §5.4: `response_type=id_token` issues no access token, so the ID
/// token carries the claims the granted scopes ask for; when an access token results (`id_token
/// token`, or a code: `code id_token`) they come from UserInfo, and the ID token has none.
#[tokio::test]
async fn scope_claims_are_in_the_id_token_only_without_an_access_token() {
    let h = harness(implicit_policy()).await;
    for (t, in_id_token) in [
        ("id_token", true),
        ("id_token token", false),
        ("code id_token", false),
    ] {
        let q = request(t, "").replace("scope=openid%20read", "scope=openid%20profile%20email");
        let pending = h.pending(&q).await;
        let r = h
            .provider
            .approve(pending, approval("alice", "openid profile email"))
            .await;
        let params = fragment(&r);
        let claims = id_token_claims(&h, &params["id_token"]).await;
        assert_eq!(claims["sub"], "alice", "{t}");
        if in_id_token {
            assert_eq!(claims["name"], "alice Liddell", "{t}");
            assert_eq!(claims["email"], "alice@example.com", "{t}");
            assert_eq!(claims["email_verified"], true, "{t}");
            assert_eq!(claims["nickname"], "al", "{t}: profile's");
            // Not asked: no `phone` scope.
            assert!(claims.get("phone_number").is_none(), "{t}");
        } else {
            for name in ["name", "nickname", "email", "email_verified"] {
                assert!(claims.get(name).is_none(), "{t}: {name}");
            }
        }
        if let Some(token) = params.get("access_token") {
            let (status, info) = userinfo(&h, token).await;
            assert_eq!(status, StatusCode::OK, "{t}");
            assert_eq!(info["email"], "alice@example.com", "{t}");
        }
    }
    // The `claims` parameter's ID token members still come with an access token.
    let asked = enc(r#"{"id_token":{"nickname":null}}"#);
    let q = request("id_token token", &format!("&claims={asked}"));
    let params = fragment(&approved(&h, &q).await);
    let claims = id_token_claims(&h, &params["id_token"]).await;
    assert_eq!(claims["nickname"], "al");
    assert!(claims.get("name").is_none());
}

/// The hybrid code is redeemed as usual (PKCE included); the token endpoint's ID token
/// keeps the nonce, and a second redemption fails and revokes the front channel's access
/// token with the rest of the family (RFC 6749 §4.1.2).
#[tokio::test]
async fn the_hybrid_code_is_redeemed_as_usual() {
    let h = harness(implicit_policy()).await;
    let params = fragment(&approved(&h, &request("code id_token token", "")).await);
    let body = format!(
        "grant_type=authorization_code&client_id=spa&code={}&redirect_uri={}&code_verifier={VERIFIER}",
        params["code"],
        enc(SPA_REDIRECT)
    );
    let (status, json, _) = h.token(&body, None).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let claims = id_token_claims(&h, json["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["nonce"], NONCE);
    let (status, json, _) = h.token(&body, None).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let (status, _) = userinfo(&h, &params["access_token"]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// `form_post` posts the parts; `jwt` is `fragment.jwt` for these types (JARM §2.3.4) and
/// signs them.
#[tokio::test]
async fn form_post_and_jarm_carry_the_tokens() {
    let h = harness(implicit_policy()).await;
    let r = approved(&h, &request("id_token token", "&response_mode=form_post")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = std::str::from_utf8(r.body()).unwrap();
    for field in ["access_token", "token_type", "id_token", "state", "iss"] {
        assert!(
            body.contains(&format!("name=\"{field}\"")),
            "{field}: {body}"
        );
    }
    let r = approved(&h, &request("code token", "&response_mode=jwt")).await;
    let params = fragment(&r);
    assert_eq!(params.keys().collect::<Vec<_>>(), ["response"]);
    let header = decode_header(&params["response"]).unwrap();
    let jwks: JwkSet = serde_json::from_slice(h.provider.jwks().await.body()).unwrap();
    let key = DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap()).unwrap();
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&["spa"]);
    validation.validate_exp = false;
    let claims = decode::<Value>(&params["response"], &key, &validation)
        .unwrap()
        .claims;
    assert!(claims["access_token"].is_string() && claims["code"].is_string());
    assert_eq!(claims["token_type"], "Bearer");
}

/// The exact refusals: a token in the query (`query`, `query.jwt`) and an ID token without
/// a nonce or outside OpenID mode are `invalid_request`, in the fragment.
#[tokio::test]
async fn refusals_travel_in_the_fragment() {
    let h = harness(implicit_policy()).await;
    let cases = [
        request("token", "&response_mode=query"),
        request("code id_token", "&response_mode=query.jwt"),
        request("id_token", "").replace(&format!("&nonce={NONCE}"), ""),
        request("code id_token", "").replace(&format!("&nonce={NONCE}"), ""),
        request("id_token token", "").replace("openid%20read", "read"),
    ];
    for q in cases {
        let params = fragment(&h.respond(&q).await);
        assert_eq!(params["error"], "invalid_request", "{q}");
        assert_eq!(params["state"], "st");
    }
    // A token alone needs no nonce (RFC 6749 §4.2).
    let q = request("token", "").replace(&format!("&nonce={NONCE}"), "");
    assert!(fragment(&approved(&h, &q).await).contains_key("access_token"));
}

/// A request object (RFC 9101) with `claims`, unsigned: `alg: none` and an empty signature.
fn unsigned_object(claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    format!(
        "{}.{}.",
        part(&serde_json::json!({"alg": "none"})),
        part(claims)
    )
}

/// Errors found in or about a request object travel as the request's response type sends
/// its responses: in the fragment for an implicit or hybrid type (OpenID Connect Core
/// §3.2.2.6, §3.3.2.6; Multiple Response Type Encoding Practices §5), in a requested
/// `form_post`, and in the query for a code as before.
#[tokio::test]
async fn request_object_errors_travel_in_the_response_types_mode() {
    let h = harness(implicit_policy()).await;
    let mut ro = spa_client();
    ro.id = "ro".into();
    ro.request_objects.dangerous_allow_unsigned = true;
    h.provider.register_client(&ro).await.unwrap();
    let mut signed_only = spa_client();
    signed_only.id = "signed-only".into();
    signed_only.request_objects.require_signed = true;
    h.provider.register_client(&signed_only).await.unwrap();
    let object = |response_type: &str, jti: &str, exp: Option<u64>| {
        let mut claims = serde_json::json!({
            "iss": "ro", "aud": ISSUER, "client_id": "ro", "jti": jti,
            "response_type": response_type, "redirect_uri": SPA_REDIRECT,
            "scope": "openid read", "state": "st", "nonce": NONCE,
            "code_challenge": challenge(VERIFIER), "code_challenge_method": "S256",
        });
        if let Some(exp) = exp {
            claims["exp"] = exp.into();
        }
        format!("client_id=ro&request={}", unsigned_object(&claims))
    };
    // The object breaks a claim rule (no `exp`).
    let params = fragment(&h.respond(&object("id_token token", "j1", None)).await);
    assert_eq!(params["error"], "invalid_request_object");
    assert_eq!(
        (params["state"].as_str(), params["iss"].as_str()),
        ("st", ISSUER)
    );
    // A valid object used twice: the second is refused in the fragment.
    let once = object("code id_token", "j2", Some(T0 + 300));
    assert!(matches!(
        h.authorize(&once).await,
        AuthorizeOutcome::Pending(_)
    ));
    let params = fragment(&h.respond(&once).await);
    assert_eq!(params["error"], "invalid_request_object");
    // A client that must sign its objects sent a plain request.
    let plain = request("id_token", "").replace("client_id=spa", "client_id=signed-only");
    let params = fragment(&h.respond(&plain).await);
    assert_eq!(params["error"], "invalid_request");
    // A form post asked for is honoured; a query is not, for tokens.
    let posted = h
        .respond(
            &request("token", "&response_mode=form_post")
                .replace("client_id=spa", "client_id=signed-only"),
        )
        .await;
    assert_eq!(posted.status(), StatusCode::OK);
    let body = std::str::from_utf8(posted.body()).unwrap();
    assert!(
        body.contains("invalid_request") && body.contains("<form"),
        "{body}"
    );
    let query =
        request("token", "&response_mode=query").replace("client_id=spa", "client_id=signed-only");
    assert_eq!(
        fragment(&h.respond(&query).await)["error"],
        "invalid_request"
    );
    // A code's error stays in the query.
    let r = h.respond(&object("code", "j3", None)).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = location(&r);
    assert_eq!(to.fragment(), None, "{to}");
    assert_eq!(
        query_param(to.as_str(), "error").as_deref(),
        Some("invalid_request_object")
    );
}

/// Off by default: every implicit or hybrid type is `unsupported_response_type`, in the
/// query, exactly as before; on, a client that did not register the type is
/// `unauthorized_client` (RFC 6749 §4.1.2.1); discovery lists the types only when on.
#[tokio::test]
async fn disabled_or_unregistered_types_are_refused_exactly() {
    let off = harness(Policy::default()).await;
    for t in ResponseType::ALL
        .into_iter()
        .filter(|t| *t != ResponseType::Code)
    {
        let r = off.respond(&request(t.as_str(), "")).await;
        let to = location(&r);
        assert_eq!(to.fragment(), None);
        assert_eq!(
            query_param(to.as_str(), "error").as_deref(),
            Some("unsupported_response_type"),
            "{t:?}"
        );
        assert_eq!(
            query_param(to.as_str(), "error_description").as_deref(),
            Some("only response_type=code is supported")
        );
    }
    let metadata: Value = serde_json::from_slice(off.provider.discovery().body()).unwrap();
    assert_eq!(
        metadata["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert!(!metadata["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&"implicit".into()));

    let on = harness(implicit_policy()).await;
    let q = format!(
        "response_type=id_token&client_id=native&redirect_uri={}&scope=read&state=st&nonce=n",
        enc("http://127.0.0.1/cb")
    );
    let r = on.respond(&q).await;
    assert_eq!(
        query_param(location(&r).as_str(), "error").as_deref(),
        Some("unauthorized_client")
    );
    let metadata: Value = serde_json::from_slice(on.provider.discovery().body()).unwrap();
    let types: Vec<&str> = metadata["response_types_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(types, ResponseType::ALL.map(ResponseType::as_str).to_vec());
    assert!(metadata["grant_types_supported"]
        .as_array()
        .unwrap()
        .contains(&"implicit".into()));
}

/// With `dpop_jkt` the front channel's access token is DPoP-bound (RFC 9449 §10's key);
/// without it, bearer. A client whose tokens must be DPoP-bound gets none without it.
#[tokio::test]
async fn dpop_jkt_binds_the_front_channel_token() {
    let h = harness(implicit_policy()).await;
    let jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    let params = fragment(&approved(&h, &request("token", &format!("&dpop_jkt={jkt}"))).await);
    assert_eq!(params["token_type"], "DPoP");
    // Bound: presented as a bearer token it is refused (RFC 9449 §7.1).
    let (status, _) = userinfo(&h, &params["access_token"]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let mut bound = spa_client();
    bound.id = "bound".into();
    bound.tokens.dpop_bound_access_tokens = true;
    h.provider.register_client(&bound).await.unwrap();
    let q = request("token", "").replace("client_id=spa", "client_id=bound");
    let params = fragment(&h.respond(&q).await);
    assert_eq!(params["error"], "invalid_request");
}

/// The `openidconnect` crate's implicit flow (`id_token token`): the crate builds the
/// request, and verifies the ID token (signature against the JWKS, issuer, audience,
/// nonce) and the access token's `at_hash`.
#[tokio::test]
async fn the_openidconnect_crates_implicit_flow() {
    use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJsonWebKeySet};
    use openidconnect::{
        AccessToken, AccessTokenHash, AuthUrl, ClientId, CsrfToken, IssuerUrl, Nonce, RedirectUrl,
        Scope,
    };
    let h = harness(implicit_policy()).await;
    // The crate checks expiry against the real time: the provider's clock goes there.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    h.clock.set(portcullis::core::UnixTime::from_secs(now));
    let rp = |jwks: CoreJsonWebKeySet| {
        CoreClient::new(
            ClientId::new("spa".into()),
            IssuerUrl::new(ISSUER.into()).unwrap(),
            jwks,
        )
        .set_auth_uri(AuthUrl::new(format!("{ISSUER}/authorize")).unwrap())
        .set_redirect_uri(RedirectUrl::new(SPA_REDIRECT.into()).unwrap())
    };
    let client = rp(CoreJsonWebKeySet::default());
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::Implicit(true),
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("read".into()))
        .url();
    let pending = h.pending(url.query().unwrap()).await;
    let r = h
        .provider
        .approve(pending, approval("alice", "openid read"))
        .await;
    let params = fragment(&r);
    assert_eq!(&params["state"], state.secret());
    let id_token = CoreIdToken::from_str(&params["id_token"]).unwrap();
    // The keys as published now that the provider signed with one.
    let jwks = serde_json::from_slice(h.provider.jwks().await.body()).unwrap();
    let client = rp(jwks);
    let verifier = client.id_token_verifier();
    let claims = id_token.claims(&verifier, &nonce).unwrap();
    assert_eq!(claims.subject().as_str(), "alice");
    let access_token = AccessToken::new(params["access_token"].clone());
    let expected = AccessTokenHash::from_token(
        &access_token,
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
}
