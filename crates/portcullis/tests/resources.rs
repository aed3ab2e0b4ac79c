//! Resource indicators (RFC 8707), JWT access tokens (RFC 9068), short-lived scopes, and the
//! host's access-token claims.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use http::StatusCode;
use portcullis::core::{Policy, Resource, ScopeSet, TokenFormat};
use portcullis::{Approval, Clock};
use portcullis_store_memory::MemoryStore;
use serde_json::{json, Value};

const API: &str = "https://api.example/";
const REPORTS: &str = "https://reports.example/";
const ADMIN: &str = "https://admin.example/";
const WEB: Option<(&str, &str)> = Some(("web", SECRET));
const SERVICE: Option<(&str, &str)> = Some(("service", SECRET));

fn policy() -> Policy {
    let resource = |uri: &str, scopes: &str, format, clients: Option<&[&str]>| Resource {
        uri: uri.into(),
        scopes: ScopeSet::parse(scopes).unwrap(),
        token_format: format,
        clients: clients.map(|c| c.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>()),
    };
    let mut policy = Policy::default();
    policy.resources = vec![
        resource(API, "read write", TokenFormat::Jwt, None),
        resource(REPORTS, "read", TokenFormat::Opaque, None),
        resource(ADMIN, "write", TokenFormat::Opaque, Some(&["service"])),
    ];
    policy.scope_lifetimes = BTreeMap::from([("write".to_owned(), Duration::from_secs(300))]);
    policy
}

async fn harness() -> Harness {
    Harness::on_store(Arc::new(MemoryStore::new()), ISSUER, policy()).await
}

fn resource_params(uris: &[&str]) -> String {
    uris.iter()
        .map(|u| format!("&resource={}", enc(u)))
        .collect()
}

/// Alice, signing in now, lets `client_id` have `scope` for the resources `uris`; the code.
async fn code_with_resources(h: &Harness, client_id: &str, scope: &str, uris: &[&str]) -> String {
    let q = format!(
        "response_type=code&client_id={client_id}&redirect_uri={}&scope={}&state=st&code_challenge={}&code_challenge_method=S256{}",
        enc(WEB_REDIRECT),
        enc(scope),
        challenge(VERIFIER),
        resource_params(uris)
    );
    let pending = h.pending(&q).await;
    assert_eq!(pending.scopes().to_string(), scope);
    let signed_in = Approval::new("alice", h.clock.now(), pending.scopes().clone());
    let r = h.provider.approve(pending, signed_in).await;
    query_param(location(&r).as_str(), "code").unwrap()
}

/// `client` redeems `code` for the resources `uris`.
async fn exchange(
    h: &Harness,
    client: Option<(&str, &str)>,
    code: &str,
    uris: &[&str],
) -> (StatusCode, Value) {
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}{}",
        enc(WEB_REDIRECT),
        resource_params(uris)
    );
    let (s, j, _) = h.token(&body, client).await;
    (s, j)
}

#[tokio::test]
async fn unknown_or_disallowed_resources_are_invalid_target() {
    let h = harness().await;
    for uris in [
        &["https://unknown.example/"][..],
        &[ADMIN],
        &["not a uri"],
        &["https://api.example/#x"],
    ] {
        let q = format!(
            "response_type=code&client_id=web&redirect_uri={}&state=st&code_challenge={}&code_challenge_method=S256{}",
            enc(WEB_REDIRECT),
            challenge(VERIFIER),
            resource_params(uris)
        );
        let r = h.respond(&q).await;
        assert_eq!(
            query_param(location(&r).as_str(), "error").as_deref(),
            Some("invalid_target"),
            "{uris:?}"
        );
    }
    let (status, body, _) = h
        .token(
            &format!(
                "grant_type=client_credentials{}",
                resource_params(&["https://unknown.example/"])
            ),
            SERVICE,
        )
        .await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_target")
    );
}

#[tokio::test]
async fn a_resource_gets_an_audience_restricted_jwt_access_token() {
    let h = harness().await;
    let code = code_with_resources(&h, "web", "read write", &[API, REPORTS]).await;
    // Ask for the API only: a JWT for it, carrying only the scopes it understands.
    let (status, tokens) = exchange(&h, WEB, &code, &[API]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let at = tokens["access_token"].as_str().unwrap();
    let (typ, claims) = jwt_typ_and_claims(&h, at).await;
    assert_eq!(typ.as_deref(), Some("at+jwt"));
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], json!([API]));
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["client_id"], "web");
    assert_eq!(claims["scope"], "read write");
    assert_eq!(claims["iat"], T0);
    assert_eq!(claims["auth_time"], T0);
    // `write` lives 5 minutes: the JWT cannot drop it, so it lives 5 minutes.
    assert_eq!(claims["exp"], T0 + 300);
    assert_eq!(tokens["expires_in"], 300);
    // Its jti is recorded: introspection and revocation work for it.
    let (_, intro, _) = h
        .post(Endpoint::Introspect, &format!("token={at}"), WEB)
        .await;
    assert_eq!(intro["jti"], claims["jti"]);
    assert_eq!(intro["aud"], json!([API]));
    // A refresh may narrow to the other granted resource: opaque, `read` only.
    let (status, refreshed, _) = h
        .token(
            &format!(
                "grant_type=refresh_token&refresh_token={}{}",
                tokens["refresh_token"].as_str().unwrap(),
                resource_params(&[REPORTS])
            ),
            WEB,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(refreshed["scope"], "read");
    let opaque = refreshed["access_token"].as_str().unwrap();
    assert_eq!(opaque.split('.').count(), 1);
    // ...but never to one that was not granted.
    let (status, body, _) = h
        .token(
            &format!(
                "grant_type=refresh_token&refresh_token={}{}",
                refreshed["refresh_token"].as_str().unwrap(),
                resource_params(&[ADMIN])
            ),
            WEB,
        )
        .await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_target")
    );
    let (status, body) = exchange(
        &h,
        WEB,
        &code_with_resources(&h, "web", "read", &[REPORTS]).await,
        &[API],
    )
    .await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_target")
    );
}

#[tokio::test]
async fn other_resources_cannot_introspect_a_token_for_someone_else() {
    let h = harness().await;
    let code = code_with_resources(&h, "web", "read", &[REPORTS]).await;
    let (_, tokens) = exchange(&h, WEB, &code, &[]).await;
    let at = tokens["access_token"].as_str().unwrap();
    // The service client is not in the audience (nor the token's client).
    let (_, body, _) = h
        .post(Endpoint::Introspect, &format!("token={at}"), SERVICE)
        .await;
    assert_eq!(body, json!({"active": false}));
    let (_, body, _) = h
        .post(Endpoint::Introspect, &format!("token={at}"), WEB)
        .await;
    assert_eq!(body["active"], true);
}

async fn introspect(h: &Harness, token: &str) -> Value {
    h.post(Endpoint::Introspect, &format!("token={token}"), WEB)
        .await
        .1
}

#[tokio::test]
async fn a_short_lived_scope_drops_out_of_an_opaque_token_on_its_own() {
    let h = harness().await;
    let code = h.code_for("web", WEB_REDIRECT, "read write", "alice").await;
    let tokens = h.exchange_web(&code).await;
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(introspect(&h, at).await["scope"], "read write");
    h.clock.advance(300);
    let body = introspect(&h, at).await;
    assert_eq!(
        (body["active"].clone(), body["scope"].clone()),
        (json!(true), json!("read"))
    );
    h.clock.advance(3300);
    assert_eq!(introspect(&h, at).await, json!({"active": false}));
}

#[tokio::test]
async fn client_credentials_for_a_resource_and_admin_only_for_its_clients() {
    let h = harness().await;
    let (status, body, _) = h
        .token(
            &format!(
                "grant_type=client_credentials&scope=read+write{}",
                resource_params(&[ADMIN])
            ),
            SERVICE,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["scope"], "write");
    let (status, body, _) = h
        .token(
            &format!(
                "grant_type=client_credentials&scope=read{}",
                resource_params(&[API])
            ),
            SERVICE,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let claims = jwt_claims(&h, body["access_token"].as_str().unwrap()).await;
    assert_eq!(
        (claims["sub"].clone(), claims["client_id"].clone()),
        (json!("service"), json!("service"))
    );
    assert!(claims.get("auth_time").is_none());
}

// Power that fades (issue 17, point 7): `payment` lives 5 minutes from the user's login,
// `read` as long as the grant; no refresh brings `payment` back, a new login does.

const PAYMENTS: &str = "https://payments.example/";
const SHOP: Option<(&str, &str)> = Some(("shop", SECRET));

/// A provider with the `shop` client, allowed `payment read`, and the payments API, which
/// takes JWT access tokens.
async fn shop() -> Harness {
    let mut policy = Policy::default();
    policy.resources = vec![Resource {
        uri: PAYMENTS.into(),
        scopes: ScopeSet::parse("payment read").unwrap(),
        token_format: TokenFormat::Jwt,
        clients: None,
    }];
    policy.scope_lifetimes = BTreeMap::from([("payment".to_owned(), Duration::from_secs(300))]);
    let h = Harness::on_store(Arc::new(MemoryStore::new()), ISSUER, policy).await;
    let mut shop = web_client().with_allowed_scopes(ScopeSet::parse("payment read").unwrap());
    shop.id = "shop".into();
    h.provider.register_client(&shop).await.unwrap();
    h
}

/// Alice signs in now and lets the shop have `payment read` for the resources `uris`; the
/// shop's tokens.
async fn shop_login(h: &Harness, uris: &[&str]) -> Value {
    let code = code_with_resources(h, "shop", "payment read", uris).await;
    let (status, tokens) = exchange(h, SHOP, &code, uris).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

/// Refreshes the shop's `tokens` with `extra` parameters; the new tokens, the refresh token
/// carried over when it did not rotate.
async fn shop_refresh(h: &Harness, tokens: &Value, extra: &str) -> Value {
    let body = format!(
        "grant_type=refresh_token&refresh_token={}{extra}",
        tokens["refresh_token"].as_str().unwrap()
    );
    let (status, mut refreshed, _) = h.token(&body, SHOP).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    if refreshed.get("refresh_token").is_none() {
        refreshed["refresh_token"] = tokens["refresh_token"].clone();
    }
    refreshed
}

/// Whether the shop's access token is active, and its scope, as introspection sees it.
async fn shop_introspect(h: &Harness, tokens: &Value) -> (Value, Value) {
    let at = tokens["access_token"].as_str().unwrap();
    let (_, body, _) = h
        .post(Endpoint::Introspect, &format!("token={at}"), SHOP)
        .await;
    (body["active"].clone(), body["scope"].clone())
}

#[tokio::test]
async fn a_faded_scope_stays_faded_across_refreshes_until_a_new_login() {
    let h = shop().await;
    let first = shop_login(&h, &[]).await;
    assert_eq!(first["scope"], "payment read");
    assert_eq!(
        shop_introspect(&h, &first).await,
        (json!(true), json!("payment read"))
    );
    // Six minutes after the login `payment` has faded: a refresh does not bring it back,
    // even asked for by name; `read` keeps being issued, and the token response says what
    // the token carries (RFC 6749 §5.1).
    h.clock.advance(360);
    let mut tokens = first.clone();
    for extra in ["", "&scope=payment+read", "", ""] {
        tokens = shop_refresh(&h, &tokens, extra).await;
        assert_eq!(tokens["scope"], "read", "{extra}");
        assert_eq!(tokens["expires_in"], 3600);
        assert_eq!(
            shop_introspect(&h, &tokens).await,
            (json!(true), json!("read"))
        );
        h.clock.advance(1200);
    }
    // A new login restores it, in a family of its own: the old one stays faded.
    let again = shop_login(&h, &[]).await;
    assert_eq!(again["scope"], "payment read");
    assert_eq!(
        shop_introspect(&h, &again).await,
        (json!(true), json!("payment read"))
    );
    let refreshed = shop_refresh(&h, &again, "").await;
    assert_eq!(
        shop_introspect(&h, &refreshed).await,
        (json!(true), json!("payment read"))
    );
    let old_family = shop_refresh(&h, &tokens, "").await;
    assert_eq!(old_family["scope"], "read");
}

#[tokio::test]
async fn a_jwt_access_token_lives_no_longer_than_its_scopes_counted_from_the_login() {
    let h = shop().await;
    let tokens = shop_login(&h, &[PAYMENTS]).await;
    let jwt = |t: &Value| t["access_token"].as_str().unwrap().to_owned();
    let claims = jwt_claims(&h, &jwt(&tokens)).await;
    assert_eq!(
        (&claims["scope"], &claims["auth_time"], &claims["exp"]),
        (&json!("payment read"), &json!(T0), &json!(T0 + 300))
    );
    // Four minutes in, a refresh gets `payment` for what is left of its five minutes.
    h.clock.advance(240);
    let tokens = shop_refresh(&h, &tokens, "").await;
    let claims = jwt_claims(&h, &jwt(&tokens)).await;
    assert_eq!(
        (&claims["scope"], &claims["auth_time"], &claims["exp"]),
        (&json!("payment read"), &json!(T0), &json!(T0 + 300))
    );
    assert_eq!(tokens["expires_in"], 60);
    // Past them, a JWT without `payment`, for the token's whole hour (RFC 9068 §2.2.1:
    // `auth_time` still the login's, for a resource server's step-up check, RFC 9470).
    h.clock.advance(120);
    let tokens = shop_refresh(&h, &tokens, "").await;
    assert_eq!(
        (&tokens["scope"], &tokens["expires_in"]),
        (&json!("read"), &json!(3600))
    );
    let claims = jwt_claims(&h, &jwt(&tokens)).await;
    assert_eq!(
        (&claims["scope"], &claims["auth_time"], &claims["exp"]),
        (&json!("read"), &json!(T0), &json!(T0 + 360 + 3600))
    );
    let (_, intro, _) = h
        .post(
            Endpoint::Introspect,
            &format!("token={}", jwt(&tokens)),
            SHOP,
        )
        .await;
    assert_eq!(intro["scope"], "read");
}
