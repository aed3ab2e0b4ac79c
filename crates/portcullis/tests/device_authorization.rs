//! The device authorization grant (RFC 8628) through `Provider::device_authorization`, the
//! token endpoint and the verification step: the codes, every polling answer with its exact
//! code and status on an injected clock, the device code redeemed once, the user code's
//! normalisation, the client rules, and discovery.

mod common;

use bytes::Bytes;
use common::*;
use http::{Method, Request, StatusCode};
use portcullis::core::{
    Client, ClientKind, DeviceAuthorizationPolicy, GrantType, Policy, ScopeSet, USER_CODE_ALPHABET,
};
use serde_json::Value;

const DEVICE_GRANT: &str = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code";
const VERIFY: &str = "https://as.example/device";

fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap()
}

/// A TV: public, the device grant and refresh.
fn tv() -> Client {
    Client::new("tv", ClientKind::Public)
        .with_allowed_scopes(scopes("read write openid offline_access"))
        .with_default_scopes(scopes("read"))
        .with_grant_types([GrantType::DeviceCode, GrantType::RefreshToken])
}

fn device_policy() -> Policy {
    let mut policy = Policy::default();
    policy.device_authorization = DeviceAuthorizationPolicy {
        verification_uri: Some(VERIFY.into()),
        ..DeviceAuthorizationPolicy::default()
    };
    policy
}

async fn harness() -> Harness {
    let h = Harness::with_policy(device_policy()).await;
    h.provider.register_client(&tv()).await.unwrap();
    h
}

/// POSTs `body` to the device authorization endpoint.
async fn start(h: &Harness, body: &str, basic: Option<(&str, &str)>) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/device_authorization")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        use base64::{engine::general_purpose::STANDARD, Engine};
        req = req.header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        );
    }
    let resp = h
        .provider
        .device_authorization(req.body(Bytes::from(body.to_owned())).unwrap())
        .await;
    if resp.status() != StatusCode::NOT_FOUND {
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
    let json = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
    (resp.status(), json)
}

/// The TV's codes for `scope`.
async fn codes(h: &Harness, scope: &str) -> (String, String) {
    let (status, json) = start(h, &format!("client_id=tv&scope={}", enc(scope)), None).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    (s(&json, "device_code"), s(&json, "user_code"))
}

async fn poll(h: &Harness, device_code: &str) -> (StatusCode, Value) {
    let (status, json, resp) = h
        .token(
            &format!("grant_type={DEVICE_GRANT}&client_id=tv&device_code={device_code}"),
            None,
        )
        .await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    (status, json)
}

#[track_caller]
fn refused((status, json): (StatusCode, Value), code: &str) {
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, code),
        "{json}"
    );
}

fn later(h: &Harness, secs: u64) {
    h.clock.advance(secs);
}

#[tokio::test]
async fn the_device_authorization_response() {
    let h = harness().await;
    let (status, json) = start(&h, "client_id=tv&scope=read", None).await;
    assert_eq!(status, StatusCode::OK);
    let user_code = s(&json, "user_code");
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert!(user_code
        .bytes()
        .filter(|b| *b != b'-')
        .all(|b| USER_CODE_ALPHABET.contains(&b)));
    assert_eq!(s(&json, "device_code").len(), 43);
    assert_eq!(s(&json, "verification_uri"), VERIFY);
    assert_eq!(
        s(&json, "verification_uri_complete"),
        format!("{VERIFY}?user_code={user_code}")
    );
    assert_eq!(json["expires_in"], 600);
    assert_eq!(json["interval"], 5);
}

#[tokio::test]
async fn every_polling_answer() {
    let h = harness().await;
    let (device_code, user_code) = codes(&h, "read").await;
    refused(poll(&h, &device_code).await, "authorization_pending");
    later(&h, 2);
    refused(poll(&h, &device_code).await, "slow_down");
    // The interval is now 10 s (RFC 8628 §3.5): 9 s is still too soon.
    later(&h, 9);
    refused(poll(&h, &device_code).await, "slow_down");
    later(&h, 15);
    refused(poll(&h, &device_code).await, "authorization_pending");
    refused(poll(&h, "not-a-device-code").await, "invalid_grant");
    // The user enters the code in another case, with spaces instead of the dash.
    let typed = user_code.to_lowercase().replace('-', " ");
    let pending = h
        .provider
        .find_device_authorization(&typed)
        .await
        .unwrap()
        .expect("found");
    assert_eq!(pending.client_id(), "tv");
    assert_eq!(pending.scopes(), &scopes("read"));
    assert!(!format!("{pending:?}").contains(pending.ticket()));
    let resumed = h
        .provider
        .resume_device_authorization(pending.ticket())
        .await
        .unwrap()
        .expect("resumed");
    assert_eq!(resumed.client_id(), "tv");
    let approved = h
        .provider
        .approve_device_authorization(&resumed, approval("alice", "read write"))
        .await
        .unwrap();
    assert!(approved);
    assert!(
        !h.provider
            .deny_device_authorization(&pending)
            .await
            .unwrap(),
        "answered once"
    );
    assert!(h
        .provider
        .find_device_authorization(&user_code)
        .await
        .unwrap()
        .is_none());
    // Approved: tokens at once, however soon.
    let (status, json) = poll(&h, &device_code).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(
        json["scope"], "read",
        "the user's consent within the request"
    );
    assert!(json.get("refresh_token").is_some());
    // The consent is alice's grant to the TV, as after a code flow.
    let grants = h.provider.grants("alice").await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(
        (grants[0].client_id.as_str(), &grants[0].scopes),
        ("tv", &scopes("read"))
    );
    // The refresh token works like any other.
    let (status, refreshed, _) = h
        .token(
            &format!(
                "grant_type=refresh_token&client_id=tv&refresh_token={}",
                s(&json, "refresh_token")
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    // The device code is redeemed once.
    refused(poll(&h, &device_code).await, "invalid_grant");
}

#[tokio::test]
async fn denied_and_expired() {
    let h = harness().await;
    let (denied, user_code) = codes(&h, "read").await;
    let pending = h
        .provider
        .find_device_authorization(&user_code)
        .await
        .unwrap()
        .unwrap();
    assert!(h
        .provider
        .deny_device_authorization(&pending)
        .await
        .unwrap());
    refused(poll(&h, &denied).await, "access_denied");
    let (expiring, user_code) = codes(&h, "read").await;
    later(&h, 600);
    refused(poll(&h, &expiring).await, "expired_token");
    refused(poll(&h, &denied).await, "expired_token");
    assert!(h
        .provider
        .find_device_authorization(&user_code)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn openid_brings_an_id_token() {
    let h = harness().await;
    let (device_code, user_code) = codes(&h, "openid offline_access").await;
    let pending = h
        .provider
        .find_device_authorization(&user_code)
        .await
        .unwrap()
        .unwrap();
    h.provider
        .approve_device_authorization(&pending, approval("alice", "openid offline_access"))
        .await
        .unwrap();
    let (status, json) = poll(&h, &device_code).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(json["id_token"].is_string(), "{json}");
    assert!(json["refresh_token"].is_string(), "offline_access granted");
}

#[tokio::test]
async fn another_client_cannot_redeem_the_device_code() {
    let h = harness().await;
    let (device_code, user_code) = codes(&h, "read").await;
    let pending = h
        .provider
        .find_device_authorization(&user_code)
        .await
        .unwrap()
        .unwrap();
    h.provider
        .approve_device_authorization(&pending, approval("alice", "read"))
        .await
        .unwrap();
    let mut other = tv();
    other.id = "radio".into();
    h.provider.register_client(&other).await.unwrap();
    let (status, json, _) = h
        .token(
            &format!("grant_type={DEVICE_GRANT}&client_id=radio&device_code={device_code}"),
            None,
        )
        .await;
    refused((status, json), "invalid_grant");
    let (status, _) = poll(&h, &device_code).await;
    assert_eq!(status, StatusCode::OK, "still the TV's");
}

#[tokio::test]
async fn the_client_rules() {
    let h = harness().await;
    // The web client is not registered for the device grant.
    let (status, json) = start(&h, "scope=read", Some(("web", SECRET))).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "unauthorized_client")
    );
    let (status, json) = start(&h, "scope=read", Some(("web", "wrong"))).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    let (status, json) = start(&h, "client_id=nobody", None).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    let (status, json) = start(&h, "client_id=tv&scope=admin", None).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_scope")
    );
    let (status, json) = start(&h, "client_id=tv&scope=read&scope=read", None).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let (status, json) = start(&h, "client_id=tv&resource=https%3A%2F%2Fnope.example", None).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_target")
    );
    // The token endpoint: a client without the grant, and a missing device code.
    let (status, json, _) = h
        .token(
            &format!("grant_type={DEVICE_GRANT}&device_code=x"),
            Some(("web", SECRET)),
        )
        .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "unauthorized_client")
    );
    let (status, json, _) = h
        .token(&format!("grant_type={DEVICE_GRANT}&client_id=tv"), None)
        .await;
    refused((status, json), "invalid_request");
}

#[tokio::test]
async fn off_by_default_and_discovery_says_so() {
    let off = Harness::new().await;
    let (status, _) = start(&off, "client_id=native", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let doc: Value = serde_json::from_slice(off.provider.discovery().body()).unwrap();
    assert!(doc.get("device_authorization_endpoint").is_none());
    let grants = doc["grant_types_supported"].to_string();
    assert!(!grants.contains("device_code"), "{grants}");
    let on = harness().await;
    let doc: Value = serde_json::from_slice(on.provider.discovery().body()).unwrap();
    assert_eq!(
        doc["device_authorization_endpoint"],
        "https://as.example/device_authorization"
    );
    let grants = doc["grant_types_supported"].as_array().unwrap();
    assert!(grants
        .iter()
        .any(|g| g == "urn:ietf:params:oauth:grant-type:device_code"));
}

#[tokio::test]
async fn malformed_user_codes_find_nothing() {
    let h = harness().await;
    let (_, user_code) = codes(&h, "read").await;
    for typed in [
        "",
        "BCDF",
        "AAAA-AAAA",
        &format!("{user_code}X"),
        "ВCDF-GHJK",
    ] {
        assert!(
            h.provider
                .find_device_authorization(typed)
                .await
                .unwrap()
                .is_none(),
            "{typed}"
        );
    }
    assert!(h
        .provider
        .resume_device_authorization("forged")
        .await
        .unwrap()
        .is_none());
}
