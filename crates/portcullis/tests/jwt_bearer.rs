//! The JWT bearer grant (RFC 7523 §2.1, §3) through the token endpoint, with assertions
//! signed by an independent implementation (`jsonwebtoken`): issuers the host trusts, the
//! host's subject mapping, `jti` spent once (racers included), the time rules on an injected
//! clock, every refusal `invalid_grant` (§3.1), and discovery listing the grant only when
//! it works.

mod common;

use std::sync::Arc;

use common::client_key::ClientKey;
use common::{enc, error_of, introspect, jwt_claims, Endpoint, Harness, ISSUER, SECRET, T0};
use http::StatusCode;
use portcullis::core::{
    Client, ClientKind, ClientSecretHash, GrantType, JwkSet, Policy, ScopeSet, TokenFormat,
    TrustedIssuer,
};
use portcullis::{ClaimsError, SubjectMapper};
use portcullis_store_memory::MemoryStore;
use serde_json::{json, Value};

const PARTNER: &str = "https://idp.partner.example";
const GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// A generated secret's length (43 characters: 256 bits in base64url).
const SERVICE_SECRET: &str = "partner-gateway-secret-0123456789abcdefghijk";

/// Knows the partner's `alice` as local `alice-local`, nobody else.
struct Directory;

#[portcullis::async_trait]
impl SubjectMapper for Directory {
    async fn local_subject(
        &self,
        issuer: &str,
        subject: &str,
        client_id: &str,
    ) -> Result<Option<String>, ClaimsError> {
        assert_eq!(client_id, "gateway");
        Ok((issuer == PARTNER && subject == "alice").then(|| "alice-local".to_owned()))
    }
}

fn gateway() -> Client {
    let secret = ClientSecretHash::sha256_of_generated(SERVICE_SECRET).unwrap();
    Client::new("gateway", ClientKind::confidential(secret))
        .with_allowed_scopes(ScopeSet::parse("read write").unwrap())
        .with_default_scopes(ScopeSet::parse("read").unwrap())
        .with_grant_types([GrantType::JwtBearer])
}

fn policy(key: &ClientKey) -> Policy {
    let mut policy = Policy::default();
    policy.jwt_bearer.issuers = vec![TrustedIssuer::new(
        PARTNER,
        JwkSet {
            keys: vec![key.jwk.clone()],
        },
    )];
    policy
}

async fn harness(key: &ClientKey) -> Harness {
    harness_for(key, gateway()).await
}

async fn harness_for(key: &ClientKey, client: Client) -> Harness {
    let policy = policy(key);
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.policy(policy).subject_mapper(Arc::new(Directory))
    })
    .await;
    h.provider.register_client(&client).await.unwrap();
    h
}

fn claims(jti: &str) -> Value {
    json!({
        "iss": PARTNER, "sub": "alice", "aud": format!("{ISSUER}/token"),
        "exp": T0 + 600, "iat": T0, "jti": jti,
    })
}

fn with(mut claims: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

async fn grant(h: &Harness, assertion: &str, rest: &str) -> (StatusCode, Value) {
    let body = format!("grant_type={}&assertion={assertion}{rest}", enc(GRANT));
    let (status, json, resp) = h.token(&body, Some(("gateway", SERVICE_SECRET))).await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    (status, json)
}

async fn refused(h: &Harness, assertion: &str, code: &str, description: &str) {
    let (status, json) = grant(h, assertion, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
    assert_eq!(error_of(&json), code, "{json}");
    assert_eq!(json["error_description"], description, "{json}");
}

#[tokio::test]
async fn an_assertion_of_a_trusted_issuer_gets_the_mapped_users_token() {
    let key = ClientKey::new("p1");
    let h = harness(&key).await;
    let (status, json) = grant(&h, &key.sign(&claims("a1")), "&scope=write").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 3600);
    assert!(json.get("refresh_token").is_none(), "{json}");
    assert!(json.get("issued_token_type").is_none(), "{json}");
    assert!(json.get("scope").is_none(), "as asked: {json}");
    let token = json["access_token"].as_str().unwrap();
    let seen = introspect(&h, token, Some(("web", SECRET))).await;
    assert_eq!(seen["active"], false, "not the web client's token: {seen}");
    let seen = introspect(&h, token, Some(("gateway", SERVICE_SECRET))).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["sub"], "alice-local");
    assert_eq!(seen["client_id"], "gateway");
    assert_eq!(seen["scope"], "write");
    // The token lives under a grant of the user's: revoking it revokes the token.
    let grants = h.provider.grants("alice-local").await.unwrap();
    assert_eq!(grants.len(), 1);
    assert!(h
        .provider
        .revoke_grant("alice-local", &grants[0].id)
        .await
        .unwrap());
    let seen = introspect(&h, token, Some(("gateway", SERVICE_SECRET))).await;
    assert_eq!(seen["active"], false, "{seen}");
}

/// The `auth_time` of the access token in `json`: introspection's, and its JWT's when it
/// is one.
async fn told_login(h: &Harness, json: &Value) -> (Option<Value>, Option<Option<Value>>) {
    let token = json["access_token"].as_str().unwrap();
    let seen = introspect(h, token, Some(("gateway", SERVICE_SECRET))).await;
    assert_eq!(seen["active"], true, "{seen}");
    let jwt = match token.contains('.') {
        true => Some(jwt_claims(h, token).await.get("auth_time").cloned()),
        false => None,
    };
    (seen.get("auth_time").cloned(), jwt)
}

/// The token's `auth_time` is the assertion's, and it has none when the assertion has none:
/// never the grant's time, which a resource server's `max_age` check would take for a fresh
/// login (RFC 9470 §6.2); in introspection and in a JWT access token alike (RFC 9068
/// §2.2.1). A non-numeric one is `invalid_grant` (RFC 7523 §3.1), and so is one after the
/// assertion's `iat` or, without `iat`, beyond the clock skew; within it, it counts as now.
#[tokio::test]
async fn the_token_tells_the_assertions_login_and_never_the_grants_time() {
    let key = ClientKey::new("p1");
    let login = T0 - 300;
    let mut jwt_gateway = gateway();
    jwt_gateway.tokens.access_token_format = TokenFormat::Jwt;
    let harnesses = [harness(&key).await, harness_for(&key, jwt_gateway).await];
    for (h, is_jwt) in harnesses.iter().zip([false, true]) {
        h.clock.advance(100);
        let now = T0 + 100;
        let at = |jti: &str, auth_time: Value| {
            key.sign(&with(
                claims(jti),
                json!({ "iat": now, "auth_time": auth_time }),
            ))
        };
        let told = |v: Option<Value>| (v.clone(), is_jwt.then_some(v));
        let (status, json) = grant(h, &at("l1", json!(login)), "").await;
        assert_eq!(status, StatusCode::OK, "{json}");
        assert_eq!(told_login(h, &json).await, told(Some(json!(login))));
        let (status, json) = grant(h, &at("l2", Value::Null), "").await;
        assert_eq!(status, StatusCode::OK, "{json}");
        assert_eq!(told_login(h, &json).await, told(None));
        // Within the skew ahead (no iat): counted as now, never later.
        let ahead = with(claims("l3"), json!({ "iat": null, "auth_time": now + 10 }));
        let (status, json) = grant(h, &key.sign(&ahead), "").await;
        assert_eq!(status, StatusCode::OK, "{json}");
        assert_eq!(told_login(h, &json).await, told(Some(json!(now))));
        let not_a_date = "the JWT's auth_time is not a NumericDate";
        for bad in [json!("yesterday"), json!(-1), json!(true), json!([login])] {
            refused(h, &at("l4", bad), "invalid_grant", not_a_date).await;
        }
        let after_iat = "the JWT's auth_time is after its iat";
        refused(h, &at("l5", json!(now + 1)), "invalid_grant", after_iat).await;
        let beyond = with(claims("l6"), json!({ "iat": null, "auth_time": now + 11 }));
        let future = "the JWT's auth_time is in the future";
        refused(h, &key.sign(&beyond), "invalid_grant", future).await;
    }
}

#[tokio::test]
async fn an_assertion_is_spent_once_even_by_racers() {
    let key = ClientKey::new("p1");
    let h = harness(&key).await;
    let once = key.sign(&claims("once"));
    assert_eq!(grant(&h, &once, "").await.0, StatusCode::OK);
    refused(&h, &once, "invalid_grant", "the assertion was used before").await;
    // Racers: one assertion sent eight times at once succeeds once.
    let raced = key.sign(&claims("raced"));
    let results = futures_join_all((0..8).map(|_| grant(&h, &raced, "")).collect::<Vec<_>>()).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{results:?}");
    for (status, json) in results.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(*status, StatusCode::BAD_REQUEST);
        assert_eq!(error_of(json), "invalid_grant");
    }
}

/// Polls every future to completion concurrently (what `futures::future::join_all` does).
async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in set.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn every_broken_rule_is_invalid_grant() {
    let key = ClientKey::new("p1");
    let h = harness(&key).await;
    let cases = [
        (
            with(claims("r1"), json!({ "aud": "https://other.example" })),
            "the assertion's aud must be the issuer or the token endpoint",
        ),
        (
            with(claims("r2"), json!({ "exp": T0 + 3601 })),
            "the assertion's exp is too far in the future",
        ),
        (
            with(claims("r3"), json!({ "exp": null })),
            "the JWT has no exp",
        ),
        (
            with(claims("r4"), json!({ "exp": T0 })),
            "the JWT has expired",
        ),
        (
            with(claims("r5"), json!({ "nbf": T0 + 11 })),
            "the JWT is not valid yet",
        ),
        (
            with(claims("r6"), json!({ "jti": null })),
            "the assertion needs a jti",
        ),
        (
            with(claims("r7"), json!({ "sub": null })),
            "the assertion has no sub",
        ),
        (
            with(claims("r8"), json!({ "iss": "https://evil.example" })),
            "the JWT's issuer is not trusted",
        ),
        (
            with(claims("r9"), json!({ "sub": "mallory" })),
            "the assertion's subject is not known here",
        ),
    ];
    for (claims, description) in cases {
        refused(&h, &key.sign(&claims), "invalid_grant", description).await;
    }
    // Signed by a key the partner never published.
    let forged = ClientKey::new("p1").sign(&claims("r10"));
    refused(
        &h,
        &forged,
        "invalid_grant",
        "the JWT's signature does not verify",
    )
    .await;
    refused(&h, "not-a-jwt", "invalid_grant", "the JWT is malformed").await;
    // The issuer itself as the audience is fine; an assertion expires on the clock.
    let issuer_aud = key.sign(&with(claims("r11"), json!({ "aud": ISSUER })));
    assert_eq!(grant(&h, &issuer_aud, "").await.0, StatusCode::OK);
    let later = key.sign(&claims("r12"));
    h.clock.advance(600);
    refused(&h, &later, "invalid_grant", "the JWT has expired").await;
}

#[tokio::test]
async fn the_request_and_the_client_are_checked_first() {
    let key = ClientKey::new("p1");
    let h = harness(&key).await;
    let body = format!("grant_type={}", enc(GRANT));
    let (status, json, _) = h.token(&body, Some(("gateway", SERVICE_SECRET))).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    assert_eq!(json["error_description"], "assertion is missing");
    let (status, json) = grant(&h, &key.sign(&claims("s1")), "&scope=admin").await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_scope")
    );
    // A client not registered for the grant.
    let body = format!(
        "grant_type={}&assertion={}",
        enc(GRANT),
        key.sign(&claims("s2"))
    );
    let (status, json, _) = h.token(&body, Some(("web", SECRET))).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "unauthorized_client")
    );
    let (status, json, _) = h.token(&body, Some(("gateway", "wrong"))).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
}

async fn discovery_grants(h: &Harness) -> Vec<String> {
    let doc: Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
    doc["grant_types_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn discovery_lists_the_grant_only_when_it_works() {
    let key = ClientKey::new("p1");
    let on = harness(&key).await;
    assert!(discovery_grants(&on).await.contains(&GRANT.to_owned()));
    // Issuers without a mapper, or a mapper without issuers: off, and refused as such.
    let policy = policy(&key);
    let no_mapper =
        Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| b.policy(policy)).await;
    let no_issuer = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.subject_mapper(Arc::new(Directory))
    })
    .await;
    for off in [no_mapper, no_issuer] {
        assert!(!discovery_grants(&off).await.contains(&GRANT.to_owned()));
        off.provider.register_client(&gateway()).await.unwrap();
        let (status, json) = grant(&off, &key.sign(&claims("d1")), "").await;
        assert_eq!(
            (status, error_of(&json)),
            (StatusCode::BAD_REQUEST, "unsupported_grant_type")
        );
    }
}

#[tokio::test]
async fn a_replayed_assertion_is_refused_at_every_endpoint_call_not_only_the_first() {
    // A second client registered for the grant cannot reuse another's assertion either.
    let key = ClientKey::new("p1");
    let h = harness(&key).await;
    let mut other = gateway();
    other.id = "gateway2".into();
    h.provider.register_client(&other).await.unwrap();
    let assertion = key.sign(&claims("shared"));
    assert_eq!(grant(&h, &assertion, "").await.0, StatusCode::OK);
    let body = format!("grant_type={}&assertion={assertion}", enc(GRANT));
    let (status, json, _) = h
        .post(Endpoint::Token, &body, Some(("gateway2", SERVICE_SECRET)))
        .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
}
