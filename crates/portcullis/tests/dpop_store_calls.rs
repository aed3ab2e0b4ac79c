//! The store round trips DPoP adds to a token request (RFC 9449 §4.3, §11.1; issue 16,
//! point 7: no more than one): the proof's `jti` is spent by one replay-cache call, and a
//! request without a proof makes none. Proofs are made by an independent implementation
//! (`jsonwebtoken`).

mod common;

use std::sync::Arc;

use base64::{engine::general_purpose::STANDARD, Engine};
use bytes::Bytes;
use common::client_key::ClientKey;
use common::{error_of, Harness, ISSUER, SECRET, T0};
use http::{Method, Request, StatusCode};
use jsonwebtoken::{encode, jwk::Jwk, Algorithm, EncodingKey, Header};
use portcullis::Stores;
use portcullis_store_memory::MemoryStore;
use portcullis_testkit::CountingReplayCache;
use serde_json::{json, Value};

/// A provider whose replay cache counts its calls.
async fn counted() -> (Harness, Arc<CountingReplayCache>) {
    let store = Arc::new(MemoryStore::new());
    let replays = Arc::new(CountingReplayCache::new(store.clone()));
    let mut stores = Stores::shared(store.clone());
    stores.replays = replays.clone();
    let h = Harness::configured(store, ISSUER, |b| b.stores(stores)).await;
    (h, replays)
}

/// A DPoP proof of `POST /token` by `key`, issued now, with its own `jti` (RFC 9449 §4.2).
fn proof(key: &ClientKey, jti: &str) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("dpop+jwt".into());
    let jwk: Value = serde_json::to_value(&key.jwk).unwrap();
    header.jwk = Some(serde_json::from_value::<Jwk>(jwk).unwrap());
    let claims = json!({
        "jti": jti, "htm": "POST", "htu": format!("{ISSUER}/token"), "iat": T0,
    });
    encode(&header, &claims, &EncodingKey::from_ec_der(&key.der)).unwrap()
}

/// A client-credentials request of the service client (`client_secret_basic`), with `dpop`
/// in its DPoP header when given.
async fn client_credentials(h: &Harness, dpop: Option<&str>) -> (StatusCode, Value) {
    let basic = STANDARD.encode(format!("service:{SECRET}"));
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {basic}"));
    if let Some(proof) = dpop {
        req = req.header("dpop", proof);
    }
    let req = req
        .body(Bytes::from_static(
            b"grant_type=client_credentials&scope=read",
        ))
        .unwrap();
    let resp = h.provider.token(req).await;
    let json = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
    (resp.status(), json)
}

#[tokio::test]
async fn a_dpop_token_request_makes_one_replay_cache_call() {
    let (h, replays) = counted().await;
    let key = ClientKey::new("dpop");

    let (status, body) = client_credentials(&h, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(replays.calls(), 0, "without a proof");

    for (n, jti) in ["first-jti", "second-jti"].into_iter().enumerate() {
        let (status, body) = client_credentials(&h, Some(&proof(&key, jti))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["token_type"], "DPoP");
        assert_eq!(replays.calls(), n + 1, "proof {jti}");
    }
}

#[tokio::test]
async fn a_replayed_proof_is_refused_after_one_replay_cache_call() {
    let (h, replays) = counted().await;
    let spent = proof(&ClientKey::new("dpop"), "once");
    let (status, body) = client_credentials(&h, Some(&spent)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = client_credentials(&h, Some(&spent)).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_dpop_proof")
    );
    assert_eq!(replays.calls(), 2);
}
