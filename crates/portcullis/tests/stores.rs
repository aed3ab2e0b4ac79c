//! `Stores` from one store with some aggregates replaced: the provider reads and writes each
//! aggregate in the store given for it, and only there.

mod common;

use std::sync::Arc;

use common::*;
use portcullis::core::{Issuer, TokenHash};
use portcullis::store::{AccessTokenStore, GrantStore};
use portcullis::Stores;
use portcullis_store_memory::MemoryStore;

#[tokio::test]
async fn each_aggregate_lives_in_the_store_given_for_it() {
    let (main, elsewhere) = (Arc::new(MemoryStore::new()), Arc::new(MemoryStore::new()));
    // The grant and token stores share their state (revocation composes across them).
    let stores = Stores::shared(main.clone())
        .with_grants(elsewhere.clone())
        .with_access_tokens(elsewhere.clone())
        .with_refresh_tokens(elsewhere.clone())
        .with_replays(elsewhere.clone());
    let h = Harness::configured(main.clone(), ISSUER, |b| b.stores(stores)).await;
    let code = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
    let json = h.exchange_web(&code).await;

    let issuer = Issuer::parse(ISSUER).unwrap();
    let hash = TokenHash::of(json["access_token"].as_str().unwrap());
    let found = elsewhere.find_access_token(&issuer, &hash).await.unwrap();
    assert!(found.is_some(), "the access token is in its own store");
    let found = main.find_access_token(&issuer, &hash).await.unwrap();
    assert!(found.is_none(), "and not in the main store");
    let grants = elsewhere.grants_of_subject(&issuer, "alice").await.unwrap();
    assert_eq!(grants.len(), 1, "the grant is in its own store");
    let grants = main.grants_of_subject(&issuer, "alice").await.unwrap();
    assert!(grants.is_empty(), "and not in the main store");
    // The main store holds the three clients and the (consumed) code: the spent
    // interaction ticket went to the replay cache given.
    assert_eq!(main.len().unwrap(), 4);
    assert!(json["refresh_token"].is_string(), "{json}");
    let what = "the grant, the access and refresh tokens, the ticket";
    assert_eq!(elsewhere.len().unwrap(), 4, "{what}");
}

/// The grant and token stores replaced by assigning the fields (not through `with_*`): the
/// code exchange and the refresh still write to them, never to the store `Stores::shared`
/// was built from (its one-statement issuance would touch a grant that is not there).
#[tokio::test]
async fn stores_assigned_to_the_fields_are_not_bypassed_by_the_combined_issuance() {
    let (main, elsewhere) = (Arc::new(MemoryStore::new()), Arc::new(MemoryStore::new()));
    let mut stores = Stores::shared(main.clone());
    stores.grants = elsewhere.clone();
    stores.access_tokens = elsewhere.clone();
    stores.refresh_tokens = elsewhere.clone();
    let h = Harness::configured(main.clone(), ISSUER, |b| b.stores(stores)).await;
    let code = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
    let json = h.exchange_web(&code).await;
    let refresh = json["refresh_token"].as_str().expect("a refresh token");

    let (status, refreshed) = h.refresh_web(refresh).await;
    assert_eq!(status, 200, "{refreshed}");
    let issuer = Issuer::parse(ISSUER).unwrap();
    for token in [&json["access_token"], &refreshed["access_token"]] {
        let hash = TokenHash::of(token.as_str().unwrap());
        let found = elsewhere.find_access_token(&issuer, &hash).await.unwrap();
        assert!(found.is_some(), "the access token is in its own store");
        assert!(main
            .find_access_token(&issuer, &hash)
            .await
            .unwrap()
            .is_none());
    }
}
