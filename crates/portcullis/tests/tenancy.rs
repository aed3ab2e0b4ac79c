//! Several providers (issuers) in one process over one shared store stay apart.

mod common;

use std::sync::Arc;

use common::*;
use http::StatusCode;
use portcullis::core::{Issuer, TokenHash};
use portcullis::store::{AccessTokenStore, GrantStore};
use portcullis_store_memory::MemoryStore;

#[tokio::test]
async fn tenants_share_a_store_but_not_clients_codes_or_tokens() {
    let store = Arc::new(MemoryStore::new());
    let a = Harness::on_store(store.clone(), "https://a.example", Default::default()).await;
    let b = Harness::on_store(
        store.clone(),
        "https://b.example/tenant",
        Default::default(),
    )
    .await;
    let code = a.code_for("web", WEB_REDIRECT, "read", "alice").await;
    // B has a client called "web" too, with the same secret: the code still does not work there.
    let (status, json, _) = b
        .token(
            &format!("grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}", enc(WEB_REDIRECT)),
            Some(("web", SECRET)),
        )
        .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let tokens = a.exchange_web(&code).await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (status, _) = b.refresh_web(rt).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let at = TokenHash::of(tokens["access_token"].as_str().unwrap());
    let iss_a = Issuer::parse("https://a.example").unwrap();
    let iss_b = Issuer::parse("https://b.example/tenant").unwrap();
    assert!(store
        .find_access_token(&iss_a, &at)
        .await
        .unwrap()
        .is_some());
    assert!(store
        .find_access_token(&iss_b, &at)
        .await
        .unwrap()
        .is_none());
    // A's grant is findable by (subject, client) at A only.
    assert_eq!(
        store
            .grants_for(&iss_a, "alice", "web")
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store
        .grants_for(&iss_b, "alice", "web")
        .await
        .unwrap()
        .is_empty());
}
