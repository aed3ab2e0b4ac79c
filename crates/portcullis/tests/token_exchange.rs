//! Token exchange (RFC 8693) through the token endpoint: a resource server trades the user's
//! access token it received (opaque or JWT, found by its hash, so a revoked one is refused)
//! for one to another audience; an ID token of ours; a trusted issuer's JWT (signed by
//! `jsonwebtoken`) with its subject mapped by the host; delegation with `act`, nested;
//! the host's hook deciding, refusing by default; every refusal's exact code and status on
//! an injected clock, and discovery listing the grant only when the host enabled it.

mod common;

use std::sync::Arc;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use common::client_key::ClientKey;
use common::{
    challenge, enc, error_of, introspect, jwt_claims, location, query_param, web_client, Harness,
    ISSUER, SECRET, T0, VERIFIER, WEB_REDIRECT,
};
use http::StatusCode;
use jsonwebtoken::{encode, Algorithm as JwtAlg, EncodingKey, Header};
use portcullis::core::{
    Algorithm, Client, ClientKind, ClientSecretHash, Confirmation, ExchangeMode, GrantType, Issuer,
    JwkSet, PartySubject, Policy, Resource, ScopeSet, TokenFormat, TokenHash, TrustedIssuer,
};
use portcullis::store::{AccessTokenStore, GrantStore, KeyStore};
use portcullis::{Approval, ClaimsError, Clock, ExchangeFacts, SubjectMapper, TokenExchangeHook};
use portcullis_store_memory::MemoryStore;
use serde_json::{json, Value};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
/// The resource server that exchanges what it receives; its client id is its URI.
const API: &str = "https://api.example";
/// A resource that takes JWT access tokens.
const LEDGER: &str = "https://ledger.example";
const PARTNER: &str = "https://idp.partner.example";
const API_SECRET: &str = "api-secret-0123456789abcdefghijklmnopqrstuvw";
/// HTTP Basic with the client id form-urlencoded (RFC 6749 §2.3.1): it has a `:`.
const BY_API: Option<(&str, &str)> = Some(("https%3A%2F%2Fapi.example", API_SECRET));

/// Impersonation without an actor, delegation with one; refuses `blocked`'s tokens.
struct Allow;

#[portcullis::async_trait]
impl TokenExchangeHook for Allow {
    async fn decide(&self, facts: &ExchangeFacts<'_>) -> Result<Option<ExchangeMode>, ClaimsError> {
        if facts.subject.subject == PartySubject::User("blocked".into()) {
            return Ok(None);
        }
        Ok(Some(if facts.actor.is_some() {
            ExchangeMode::Delegation
        } else {
            ExchangeMode::Impersonation
        }))
    }
}

/// The trait's default: every exchange refused.
struct RefuseAll;

impl TokenExchangeHook for RefuseAll {}

/// Always delegation, even without an actor.
struct AlwaysDelegate;

#[portcullis::async_trait]
impl TokenExchangeHook for AlwaysDelegate {
    async fn decide(&self, _: &ExchangeFacts<'_>) -> Result<Option<ExchangeMode>, ClaimsError> {
        Ok(Some(ExchangeMode::Delegation))
    }
}

/// The partner's `bob` is local `bob-local`.
struct Directory;

#[portcullis::async_trait]
impl SubjectMapper for Directory {
    async fn local_subject(
        &self,
        issuer: &str,
        subject: &str,
        _client_id: &str,
    ) -> Result<Option<String>, ClaimsError> {
        Ok((issuer == PARTNER && subject == "bob").then(|| "bob-local".to_owned()))
    }
}

fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap()
}

fn policy(partner: &ClientKey) -> Policy {
    let resource = |uri: &str, s: &str, token_format| Resource {
        uri: uri.into(),
        scopes: scopes(s),
        token_format,
        clients: None,
    };
    let mut policy = Policy::default();
    policy.resources = vec![
        resource(API, "read write", TokenFormat::Opaque),
        resource(LEDGER, "read", TokenFormat::Jwt),
    ];
    policy.token_exchange.issuers = vec![TrustedIssuer::new(
        PARTNER,
        JwkSet {
            keys: vec![partner.jwk.clone()],
        },
    )];
    policy
}

fn api_client() -> Client {
    let secret = ClientSecretHash::sha256_of_generated(API_SECRET).unwrap();
    Client::new(API, ClientKind::confidential(secret))
        .with_allowed_scopes(scopes("read write"))
        .with_default_scopes(scopes("read"))
        .with_grant_types([GrantType::TokenExchange, GrantType::ClientCredentials])
}

/// The web client, also registered for token exchange (its own ID tokens, which carry
/// `auth_time`: `require_auth_time`).
fn rp_client() -> Client {
    let mut rp =
        web_client().with_grant_types([GrantType::AuthorizationCode, GrantType::TokenExchange]);
    rp.id = "rp".into();
    rp.oidc.require_auth_time = true;
    rp
}

async fn harness_with(hook: Arc<dyn TokenExchangeHook>) -> (Harness, ClientKey) {
    harness_with_policy(hook, |_| {}).await
}

async fn harness_with_policy(
    hook: Arc<dyn TokenExchangeHook>,
    edit: impl FnOnce(&mut Policy),
) -> (Harness, ClientKey) {
    let partner = ClientKey::new("p1");
    let mut policy = policy(&partner);
    edit(&mut policy);
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.policy(policy)
            .token_exchange(hook)
            .subject_mapper(Arc::new(Directory))
    })
    .await;
    h.provider.register_client(&api_client()).await.unwrap();
    h.provider.register_client(&rp_client()).await.unwrap();
    (h, partner)
}

async fn harness() -> (Harness, ClientKey) {
    harness_with(Arc::new(Allow)).await
}

/// `user` signs in and lets `client` have `scope` for the API; the access token (and the
/// ID token, for `openid`).
async fn user_token(h: &Harness, client: &str, user: &str, scope: &str) -> Value {
    let q = format!(
        "response_type=code&client_id={client}&redirect_uri={}&scope={}&state=st&code_challenge={}&code_challenge_method=S256&resource={}",
        enc(WEB_REDIRECT),
        enc(scope),
        challenge(VERIFIER),
        enc(API)
    );
    let pending = h.pending(&q).await;
    let approval = Approval::new(user, h.clock.now(), pending.scopes().clone());
    let r = h.provider.approve(pending, approval).await;
    let code = query_param(location(&r).as_str(), "code").unwrap();
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}&resource={}",
        enc(WEB_REDIRECT),
        enc(API)
    );
    let (status, json, _) = h.token(&body, Some((client, SECRET))).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json
}

async fn alice_token(h: &Harness) -> String {
    s(
        &user_token(h, "web", "alice", "read write").await,
        "access_token",
    )
}

fn s(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap().to_owned()
}

/// A token exchange by `client` with `params`.
async fn exchange(
    h: &Harness,
    client: Option<(&str, &str)>,
    params: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut body = format!("grant_type={}", enc(GRANT));
    for (k, v) in params {
        body.push_str(&format!("&{k}={}", enc(v)));
    }
    let (status, json, resp) = h.token(&body, client).await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    (status, json)
}

/// The API exchanges `token` as an access token.
async fn exchange_subject(h: &Harness, token: &str) -> (StatusCode, Value) {
    exchange(
        h,
        BY_API,
        &[("subject_token", token), ("subject_token_type", ACCESS)],
    )
    .await
}

async fn refused(
    h: &Harness,
    client: Option<(&str, &str)>,
    params: &[(&str, &str)],
    code: &str,
    description: &str,
) {
    let (status, json) = exchange(h, client, params).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert_eq!(error_of(&json), code, "{json}");
    assert_eq!(json["error_description"], description, "{json}");
}

#[tokio::test]
async fn a_resource_server_exchanges_the_users_token_for_another_audience() {
    let (h, _) = harness().await;
    let token = alice_token(&h).await;
    let (status, json) = exchange(
        &h,
        BY_API,
        &[
            ("subject_token", &token),
            ("subject_token_type", ACCESS),
            ("audience", LEDGER),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["issued_token_type"], ACCESS);
    assert_eq!(json["token_type"], "Bearer");
    assert!(json.get("refresh_token").is_none(), "{json}");
    // What the ledger understands of what alice's token carries.
    assert_eq!(json["scope"], "read");
    let claims = jwt_claims(&h, &s(&json, "access_token")).await;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["client_id"], API);
    assert_eq!(claims["aud"], json!([LEDGER]));
    assert!(claims.get("act").is_none(), "impersonation: {claims}");
    // A JWT, asked for, where the audience takes JWTs.
    let (status, json) = exchange(
        &h,
        BY_API,
        &[
            ("subject_token", &token),
            ("subject_token_type", ACCESS),
            ("resource", LEDGER),
            ("requested_token_type", JWT),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["issued_token_type"], JWT);
    // The exchanged token lives under alice's grant: revoking it ends both.
    let grants = h.provider.grants("alice").await.unwrap();
    assert_eq!(grants.len(), 1);
    let (_, plain) = exchange(
        &h,
        BY_API,
        &[("subject_token", &token), ("subject_token_type", ACCESS)],
    )
    .await;
    let exchanged = s(&plain, "access_token");
    assert_eq!(introspect(&h, &exchanged, BY_API).await["active"], true);
    h.provider
        .revoke_grant("alice", &grants[0].id)
        .await
        .unwrap();
    assert_eq!(introspect(&h, &exchanged, BY_API).await["active"], false);
}

#[tokio::test]
async fn delegation_names_the_actor_and_nests_the_chain() {
    let (h, partner) = harness().await;
    let token = alice_token(&h).await;
    // The API's own token is the actor's.
    let (status, own, _) = h.token("grant_type=client_credentials", BY_API).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    let actor = s(&own, "access_token");
    let (status, json) = exchange(
        &h,
        BY_API,
        &[
            ("subject_token", &token),
            ("subject_token_type", ACCESS),
            ("actor_token", &actor),
            ("actor_token_type", ACCESS),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let delegated = s(&json, "access_token");
    let seen = introspect(&h, &delegated, BY_API).await;
    assert_eq!(seen["sub"], "alice");
    assert_eq!(seen["act"], json!({ "sub": API }));
    // Exchanged again with a partner's agent as the actor: the chain nests (§4.1).
    let agent = partner.sign(&json!({
        "iss": PARTNER, "sub": "agent-7", "aud": ISSUER, "exp": T0 + 300,
    }));
    let (status, json) = exchange(
        &h,
        BY_API,
        &[
            ("subject_token", &delegated),
            ("subject_token_type", ACCESS),
            ("actor_token", &agent),
            ("actor_token_type", JWT),
            ("audience", LEDGER),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let claims = jwt_claims(&h, &s(&json, "access_token")).await;
    assert_eq!(
        claims["act"],
        json!({ "sub": "agent-7", "iss": PARTNER, "act": { "sub": API } })
    );
    // No longer than the actor token lives.
    assert_eq!(claims["exp"], T0 + 300);
    assert_eq!(json["expires_in"], 300);
    // Impersonating a delegated token keeps its chain.
    let (_, json) = exchange(
        &h,
        BY_API,
        &[
            ("subject_token", &delegated),
            ("subject_token_type", ACCESS),
        ],
    )
    .await;
    let seen = introspect(&h, &s(&json, "access_token"), BY_API).await;
    assert_eq!(seen["act"], json!({ "sub": API }));
}

#[tokio::test]
async fn an_id_token_and_a_trusted_issuers_jwt_are_subject_tokens() {
    let (h, partner) = harness().await;
    let signed_in = user_token(&h, "rp", "carol", "openid read").await;
    let id_token = s(&signed_in, "id_token");
    let (status, json) = exchange(
        &h,
        Some(("rp", SECRET)),
        &[
            ("subject_token", &id_token),
            ("subject_token_type", ID_TOKEN),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let seen = introspect(&h, &s(&json, "access_token"), Some(("rp", SECRET))).await;
    assert_eq!(seen["sub"], "carol");
    assert_eq!(
        seen["scope"], "openid read",
        "the user's grant to the client"
    );
    // Another client's ID token is not the API's to exchange.
    refused(
        &h,
        BY_API,
        &[
            ("subject_token", &id_token),
            ("subject_token_type", ID_TOKEN),
        ],
        "invalid_request",
        "subject_token: the ID token was not issued to this client",
    )
    .await;
    // A partner's JWT for the API, its subject mapped.
    let jwt = |sub: &str| {
        partner.sign(&json!({
            "iss": PARTNER, "sub": sub, "aud": ISSUER, "exp": T0 + 600, "scope": "read",
        }))
    };
    let (status, json) = exchange(
        &h,
        BY_API,
        &[("subject_token", &jwt("bob")), ("subject_token_type", JWT)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let seen = introspect(&h, &s(&json, "access_token"), BY_API).await;
    assert_eq!(seen["sub"], "bob-local");
    assert_eq!(seen["scope"], "read");
    assert_eq!(seen["exp"], T0 + 600);
    refused(
        &h,
        BY_API,
        &[
            ("subject_token", &jwt("mallory")),
            ("subject_token_type", JWT),
        ],
        "invalid_request",
        "subject_token: the token's subject is not known here",
    )
    .await;
    refused(
        &h,
        BY_API,
        &[
            ("subject_token", &jwt("bob")),
            ("subject_token_type", JWT),
            ("scope", "write"),
        ],
        "invalid_scope",
        "scope write is beyond the subject token or the client",
    )
    .await;
    let forged = ClientKey::new("p1").sign(&json!({
        "iss": PARTNER, "sub": "bob", "aud": ISSUER, "exp": T0 + 600,
    }));
    refused(
        &h,
        BY_API,
        &[("subject_token", &forged), ("subject_token_type", JWT)],
        "invalid_request",
        "subject_token: the JWT's signature does not verify",
    )
    .await;
}

#[tokio::test]
async fn invalid_revoked_and_expired_subject_tokens_are_invalid_request() {
    let (h, _) = harness().await;
    let token = alice_token(&h).await;
    let (status, json) = exchange_subject(&h, "not-a-token").await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert_eq!(
        json["error_description"],
        "subject_token: the token is invalid or expired"
    );
    // Not for this client: the web client's own token, exchanged by another client.
    let mut other = api_client();
    other.id = "other".into();
    h.provider.register_client(&other).await.unwrap();
    refused(
        &h,
        Some(("other", API_SECRET)),
        &[("subject_token", &token), ("subject_token_type", ACCESS)],
        "invalid_request",
        "subject_token: the token was not issued to or for this client",
    )
    .await;
    // Revoked.
    let (status, _, _) = h
        .post(
            common::Endpoint::Revoke,
            &format!("token={token}"),
            Some(("web", SECRET)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, json) = exchange_subject(&h, &token).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    // Expired, on the clock.
    let fresh = alice_token(&h).await;
    h.clock.advance(3600);
    let (status, json) = exchange_subject(&h, &fresh).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert_eq!(
        json["error_description"],
        "subject_token: the token is invalid or expired"
    );
}

/// A request's parameters, its error code and description.
type Refusal<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

#[tokio::test]
async fn every_refusal_has_its_code() {
    let (h, _) = harness().await;
    let token = alice_token(&h).await;
    let subject = [
        ("subject_token", token.as_str()),
        ("subject_token_type", ACCESS),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v: Vec<(&str, &str)> = subject.to_vec();
        v.extend_from_slice(extra);
        v
    };
    let cases: Vec<Refusal> = vec![
        (
            with(&[("audience", "https://unknown.example")]),
            "invalid_target",
            "audience is unknown or not allowed for this client",
        ),
        (
            with(&[("resource", "https://unknown.example")]),
            "invalid_target",
            "resource is unknown or not allowed for this client",
        ),
        (
            with(&[("scope", "read admin")]),
            "invalid_scope",
            "scope admin is beyond the subject token or the client",
        ),
        (
            with(&[("requested_token_type", ID_TOKEN)]),
            "invalid_request",
            "requested_token_type is not supported",
        ),
        (
            with(&[("requested_token_type", JWT)]),
            "invalid_request",
            "a JWT is not issued for this audience or client",
        ),
        (
            with(&[("actor_token", "a")]),
            "invalid_request",
            "actor_token and actor_token_type go together",
        ),
        (
            with(&[("actor_token", "a"), ("actor_token_type", ACCESS)]),
            "invalid_request",
            "actor_token: the token is invalid or expired",
        ),
        (
            vec![("subject_token", token.as_str())],
            "invalid_request",
            "subject_token_type is missing",
        ),
        (
            vec![("subject_token_type", ACCESS)],
            "invalid_request",
            "subject_token is missing",
        ),
        (
            vec![
                ("subject_token", token.as_str()),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:refresh_token",
                ),
            ],
            "invalid_request",
            "subject_token_type is not supported",
        ),
    ];
    for (params, code, description) in cases {
        refused(&h, BY_API, &params, code, description).await;
    }
    // A client not registered for the grant.
    let (status, json) = exchange(&h, Some(("web", SECRET)), &subject).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "unauthorized_client")
    );
    // The host's policy refusing one user.
    let blocked = s(
        &user_token(&h, "web", "blocked", "read").await,
        "access_token",
    );
    refused(
        &h,
        BY_API,
        &[("subject_token", &blocked), ("subject_token_type", ACCESS)],
        "invalid_request",
        "the token exchange is not allowed",
    )
    .await;
}

#[tokio::test]
async fn the_default_hook_refuses_and_delegation_needs_an_actor() {
    let (h, _) = harness_with(Arc::new(RefuseAll)).await;
    let token = alice_token(&h).await;
    refused(
        &h,
        BY_API,
        &[("subject_token", &token), ("subject_token_type", ACCESS)],
        "invalid_request",
        "the token exchange is not allowed",
    )
    .await;
    let (h, _) = harness_with(Arc::new(AlwaysDelegate)).await;
    let token = alice_token(&h).await;
    refused(
        &h,
        BY_API,
        &[("subject_token", &token), ("subject_token_type", ACCESS)],
        "invalid_request",
        "delegation needs an actor_token",
    )
    .await;
}

fn grant_types(h: &Harness) -> Vec<String> {
    let doc: Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
    serde_json::from_value(doc["grant_types_supported"].clone()).unwrap()
}

#[tokio::test]
async fn the_grant_is_off_unless_the_host_enables_it() {
    let (on, _) = harness().await;
    assert!(grant_types(&on).contains(&GRANT.to_owned()));
    // The same policy (trusted issuers included), no hook.
    let off = Harness::with_policy(policy(&ClientKey::new("p1"))).await;
    assert!(!grant_types(&off).contains(&GRANT.to_owned()));
    off.provider.register_client(&api_client()).await.unwrap();
    let token = alice_token(&off).await;
    let (status, json) = exchange(
        &off,
        BY_API,
        &[("subject_token", &token), ("subject_token_type", ACCESS)],
    )
    .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "unsupported_grant_type")
    );
}

/// A JWT of `claims` (header `typ`) signed by `jsonwebtoken` with the provider's own key
/// that signed `id_token`, its private half read from the memory store (plaintext there).
async fn signed_by_us(h: &Harness, id_token: &str, typ: Option<&str>, claims: &Value) -> String {
    let head = id_token.split('.').next().unwrap();
    let head: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).unwrap()).unwrap();
    let kid = head["kid"].as_str().unwrap();
    let keys = h.store.keys(&Issuer::parse(ISSUER).unwrap()).await.unwrap();
    let key = keys.iter().find(|k| k.kid == kid).unwrap();
    assert_eq!(key.alg, Algorithm::ES256);
    let der = key.private_key.open(key.binding(), None).unwrap();
    let mut header = Header::new(JwtAlg::ES256);
    header.kid = Some(kid.into());
    header.typ = typ.map(str::to_owned);
    encode(&header, claims, &EncodingKey::from_ec_der(der.expose())).unwrap()
}

/// A provider signing with ES256, the key `signed_by_us` signs with too.
async fn es256_harness() -> Harness {
    let (h, _) = harness_with_policy(Arc::new(Allow), |p| {
        p.keys.default_alg = Algorithm::ES256;
    })
    .await;
    h
}

/// The relying party exchanges `token` as an ID token.
async fn as_id_token(h: &Harness, token: String) -> (StatusCode, Value) {
    exchange(
        h,
        Some(("rp", SECRET)),
        &[("subject_token", &token), ("subject_token_type", ID_TOKEN)],
    )
    .await
}

/// RFC 8725 §2.8, §3.11: our access tokens (`at+jwt`) and logout tokens (`logout+jwt`,
/// with `events`, Back-Channel Logout 1.0 §2.4), signed by the same keys and naming the
/// client in `aud`, are not ID tokens; an ID token gives the scopes of the user's live grant
/// to the client, the exchanged token lives under that grant, and once the user revokes it
/// (or never gave one) an old ID token gets nothing.
#[tokio::test]
async fn only_id_tokens_under_a_live_grant_are_exchanged_as_id_tokens() {
    let h = es256_harness().await;
    let id_token = s(
        &user_token(&h, "rp", "carol", "openid read").await,
        "id_token",
    );
    let by_rp = Some(("rp", SECRET));
    let claims = |sub: &str| {
        json!({
            "iss": ISSUER, "sub": sub, "aud": "rp", "exp": T0 + 600, "auth_time": T0,
        })
    };
    // Our key signs what the helper signs: a plain JWT passes.
    let (status, json) = as_id_token(
        &h,
        signed_by_us(&h, &id_token, Some("JWT"), &claims("carol")).await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let not_an_id_token = "subject_token: the token is not an ID token";
    let mut logout = claims("carol");
    logout["events"] = json!({ "http://schemas.openid.net/event/backchannel-logout": {} });
    logout["jti"] = json!("l1");
    for (typ, claims) in [
        (Some("logout+jwt"), &logout),
        (None, &logout),
        (Some("JWT"), &logout),
        (Some("at+jwt"), &claims("carol")),
    ] {
        let (status, json) = as_id_token(&h, signed_by_us(&h, &id_token, typ, claims).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{typ:?} {json}");
        assert_eq!(error_of(&json), "invalid_request", "{json}");
        assert_eq!(json["error_description"], not_an_id_token, "{json}");
    }
    let no_grant = "subject_token: the user has no live grant to this client";
    let (status, json) =
        as_id_token(&h, signed_by_us(&h, &id_token, None, &claims("dave")).await).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert_eq!(json["error_description"], no_grant);
    // The user's grant, not the client's whole allowed scopes; under that grant.
    let (status, json) = as_id_token(&h, id_token.clone()).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let exchanged = s(&json, "access_token");
    let seen = introspect(&h, &exchanged, by_rp).await;
    assert_eq!(seen["scope"], "openid read", "{seen}");
    refused(
        &h,
        by_rp,
        &[
            ("subject_token", &id_token),
            ("subject_token_type", ID_TOKEN),
            ("scope", "write"),
        ],
        "invalid_scope",
        "scope write is beyond the subject token or the client",
    )
    .await;
    let issuer = Issuer::parse(ISSUER).unwrap();
    let grants = h.store.grants_for(&issuer, "carol", "rp").await.unwrap();
    assert_eq!(grants.len(), 1, "no new grant saved");
    assert!(h.store.revoke_grant(&issuer, &grants[0].id).await.unwrap());
    assert_eq!(introspect(&h, &exchanged, by_rp).await["active"], false);
    let (status, json) = as_id_token(&h, id_token.clone()).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert_eq!(json["error_description"], no_grant);
}

/// An exchanged ID token keeps its login: the new token's `auth_time` is the ID token's,
/// never the exchange's time (RFC 9470 §6.2: an exchange cannot pass an old login for a
/// fresh one); an ID token without `auth_time` says nothing of the login and is refused.
#[tokio::test]
async fn an_exchanged_id_token_keeps_its_login() {
    let h = es256_harness().await;
    let id_token = s(
        &user_token(&h, "rp", "carol", "openid read").await,
        "id_token",
    );
    h.clock.advance(1800);
    let by_rp = Some(("rp", SECRET));
    let (status, json) = as_id_token(&h, id_token.clone()).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let seen = introspect(&h, &s(&json, "access_token"), by_rp).await;
    assert_eq!(seen["auth_time"], T0, "{seen}");
    // A JWT access token (the ledger's) says so too.
    let (status, json) = exchange(
        &h,
        by_rp,
        &[
            ("subject_token", &id_token),
            ("subject_token_type", ID_TOKEN),
            ("audience", LEDGER),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        jwt_claims(&h, &s(&json, "access_token")).await["auth_time"],
        T0
    );
    let no_login = json!({ "iss": ISSUER, "sub": "carol", "aud": "rp", "exp": T0 + 3600 });
    let (status, json) = as_id_token(
        &h,
        signed_by_us(&h, &id_token, Some("JWT"), &no_login).await,
    )
    .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert_eq!(
        json["error_description"],
        "subject_token: the ID token has no auth_time"
    );
}

/// A trusted issuer's JWT gives the new token its `auth_time` claim, and none without one
/// — never the exchange's time (RFC 9470 §6.2) — in introspection and in a JWT access token
/// (RFC 9068 §2.2.1); exchanged again, that token passes on none too. A non-numeric
/// `auth_time` refuses the subject token (`invalid_request`, RFC 8693 §2.2.2).
#[tokio::test]
async fn a_trusted_jwts_login_is_its_auth_time_or_none() {
    let (h, partner) = &harness().await;
    h.clock.advance(100);
    let login = T0 - 300;
    let jwt = |auth_time: Value| {
        partner.sign(&json!({
            "iss": PARTNER, "sub": "bob", "aud": ISSUER, "exp": T0 + 600, "iat": T0 + 100,
            "scope": "read", "auth_time": auth_time,
        }))
    };
    let as_jwt = |token: String, audience: &'static str| async move {
        let (status, json) = exchange(
            h,
            BY_API,
            &[
                ("subject_token", &token),
                ("subject_token_type", JWT),
                ("audience", audience),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{json}");
        s(&json, "access_token")
    };
    let introspected = |token: String| async move {
        let seen = introspect(h, &token, BY_API).await;
        assert_eq!(seen["active"], true, "{seen}");
        seen.get("auth_time").cloned()
    };
    let opaque = as_jwt(jwt(json!(login)), API).await;
    assert_eq!(introspected(opaque).await, Some(json!(login)));
    let signed = as_jwt(jwt(json!(login)), LEDGER).await;
    assert_eq!(jwt_claims(h, &signed).await["auth_time"], login);
    assert_eq!(introspected(signed).await, Some(json!(login)));
    let opaque = as_jwt(jwt(Value::Null), API).await;
    assert_eq!(introspected(opaque.clone()).await, None);
    let signed = as_jwt(jwt(Value::Null), LEDGER).await;
    assert_eq!(jwt_claims(h, &signed).await.get("auth_time"), None);
    assert_eq!(introspected(signed).await, None);
    let (status, json) = exchange_subject(h, &opaque).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(introspected(s(&json, "access_token")).await, None);
    refused(
        h,
        BY_API,
        &[
            ("subject_token", &jwt(json!("an hour ago"))),
            ("subject_token_type", JWT),
        ],
        "invalid_request",
        "subject_token: the JWT's auth_time is not a NumericDate",
    )
    .await;
}

/// An ID token as the actor counts only under its user's live grant to the client, as a
/// subject's does: a user who never gave one, or revoked it, acts for no one.
#[tokio::test]
async fn an_actors_id_token_needs_a_live_grant() {
    let h = es256_harness().await;
    let subject = s(
        &user_token(&h, "rp", "carol", "openid read").await,
        "access_token",
    );
    let actor = s(
        &user_token(&h, "rp", "frank", "openid read").await,
        "id_token",
    );
    let by_rp = Some(("rp", SECRET));
    let with_actor = |actor: String| {
        let subject = subject.clone();
        let h = &h;
        async move {
            exchange(
                h,
                by_rp,
                &[
                    ("subject_token", &subject),
                    ("subject_token_type", ACCESS),
                    ("actor_token", &actor),
                    ("actor_token_type", ID_TOKEN),
                ],
            )
            .await
        }
    };
    let (status, json) = with_actor(actor.clone()).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let seen = introspect(&h, &s(&json, "access_token"), by_rp).await;
    assert_eq!(seen["act"], json!({ "sub": "frank" }), "{seen}");
    let no_grant = "actor_token: the user has no live grant to this client";
    let stranger = json!({ "iss": ISSUER, "sub": "dave", "aud": "rp", "exp": T0 + 600 });
    let (status, json) = with_actor(signed_by_us(&h, &actor, None, &stranger).await).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert_eq!(json["error_description"], no_grant);
    let issuer = Issuer::parse(ISSUER).unwrap();
    let grants = h.store.grants_for(&issuer, "frank", "rp").await.unwrap();
    assert!(h.store.revoke_grant(&issuer, &grants[0].id).await.unwrap());
    let (status, json) = with_actor(actor).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert_eq!(json["error_description"], no_grant);
}

/// RFC 7519 §4.1.3, RFC 8725 §3.9: a partner's JWT for its own client that happens to share
/// our client's id is not for us.
#[tokio::test]
async fn a_trusted_jwt_for_a_client_id_is_not_for_us() {
    let (h, partner) = harness().await;
    let jwt = partner.sign(&json!({
        "iss": PARTNER, "sub": "bob", "aud": API, "exp": T0 + 600, "scope": "read",
    }));
    refused(
        &h,
        BY_API,
        &[("subject_token", &jwt), ("subject_token_type", JWT)],
        "invalid_request",
        "subject_token: the JWT is not for this server",
    )
    .await;
    let for_us = |aud: Value| {
        partner.sign(&json!({ "iss": PARTNER, "sub": "bob", "aud": aud, "exp": T0 + 600 }))
    };
    for aud in [json!(ISSUER), json!(["x", format!("{ISSUER}/token")])] {
        let token = for_us(aud.clone());
        let (status, json) = exchange(
            &h,
            BY_API,
            &[("subject_token", &token), ("subject_token_type", JWT)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{aud} {json}");
    }
}

/// RFC 9449 §7.1, RFC 8705 §3: a sender-constrained subject or actor token is exchanged
/// only with its proof; RFC 8693 §2.1: only a confidential client trades tokens.
#[tokio::test]
async fn bound_tokens_need_their_proof_and_public_clients_are_refused() {
    let (h, _) = harness().await;
    let token = alice_token(&h).await;
    let issuer = Issuer::parse(ISSUER).unwrap();
    let record = h
        .store
        .find_access_token(&issuer, &TokenHash::of(&token))
        .await
        .unwrap()
        .unwrap();
    let bound = |name: &str, cnf: Confirmation| {
        let mut r = record.clone();
        r.hash = TokenHash::of(name);
        r.confirmation = Some(cnf);
        r
    };
    let dpop = Confirmation {
        jkt: Some("some-jkt".into()),
        x5t_s256: None,
    };
    let mtls = Confirmation {
        jkt: None,
        x5t_s256: Some("some-x5t".into()),
    };
    for (name, cnf) in [("dpop-bound", dpop), ("mtls-bound", mtls)] {
        h.store
            .insert_access_token(&bound(name, cnf))
            .await
            .unwrap();
    }
    let cases = [
        (
            "dpop-bound",
            "invalid_dpop_proof",
            "a DPoP proof is required",
        ),
        (
            "mtls-bound",
            "invalid_grant",
            "the grant is bound to another key or certificate",
        ),
    ];
    for (name, code, description) in cases {
        refused(
            &h,
            BY_API,
            &[("subject_token", name), ("subject_token_type", ACCESS)],
            code,
            description,
        )
        .await;
        refused(
            &h,
            BY_API,
            &[
                ("subject_token", &token),
                ("subject_token_type", ACCESS),
                ("actor_token", name),
                ("actor_token_type", ACCESS),
            ],
            code,
            description,
        )
        .await;
    }
    // The unbound token itself still exchanges.
    let (status, json) = exchange_subject(&h, &token).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    // A public client, registered for the grant, is refused.
    let public = Client::new("spa", ClientKind::Public)
        .with_allowed_scopes(scopes("read"))
        .with_grant_types([GrantType::TokenExchange]);
    h.provider.register_client(&public).await.unwrap();
    refused(
        &h,
        None,
        &[
            ("client_id", "spa"),
            ("subject_token", &token),
            ("subject_token_type", ACCESS),
        ],
        "unauthorized_client",
        "the client may not use this grant type",
    )
    .await;
}
