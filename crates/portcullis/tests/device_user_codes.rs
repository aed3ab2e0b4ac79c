//! A new user code already held by another device authorization (RFC 8628 §6.1: about
//! 2^34.6 codes, so it happens): the engine issues another, a bounded number of times,
//! through a store that says the first ones are taken.

mod common;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use portcullis::core::CodeRecord;
use portcullis::core::{
    Client, ClientKind, DeviceAuthorizationPolicy, DeviceAuthorizationRecord, GrantType, Issuer,
    Policy, ScopeSet, TokenHash, UnixTime,
};
use portcullis::store::{DeviceAuthorizationStore, DeviceInsertOutcome, StoreResult};
use portcullis::Stores;
use portcullis_store_memory::MemoryStore;
use serde_json::Value;

/// A memory store that reports the user code of the first `taken` inserts as taken, and
/// records every record offered.
struct TakenFirst {
    inner: Arc<MemoryStore>,
    taken: usize,
    offered: Mutex<Vec<DeviceAuthorizationRecord>>,
}

#[portcullis::async_trait]
impl DeviceAuthorizationStore for TakenFirst {
    async fn insert_device_authorization(
        &self,
        record: &DeviceAuthorizationRecord,
    ) -> StoreResult<DeviceInsertOutcome> {
        let tries = {
            let mut offered = self.offered.lock().unwrap();
            offered.push(record.clone());
            offered.len()
        };
        if tries <= self.taken {
            return Ok(DeviceInsertOutcome::UserCodeTaken);
        }
        self.inner.insert_device_authorization(record).await
    }

    async fn find_device_authorization_by_user_code(
        &self,
        issuer: &Issuer,
        user_code_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        self.inner
            .find_device_authorization_by_user_code(issuer, user_code_hash, now)
            .await
    }

    async fn answer_device_authorization(
        &self,
        issuer: &Issuer,
        user_code_hash: &TokenHash,
        approval: Option<&CodeRecord>,
        now: UnixTime,
    ) -> StoreResult<bool> {
        self.inner
            .answer_device_authorization(issuer, user_code_hash, approval, now)
            .await
    }

    async fn poll_device_authorization(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        self.inner
            .poll_device_authorization(issuer, hash, now)
            .await
    }

    async fn take_device_authorization(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        self.inner
            .take_device_authorization(issuer, hash, now)
            .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        DeviceAuthorizationStore::purge_expired(&*self.inner, now).await
    }
}

/// A provider whose device store reports the first `taken` user codes as taken.
async fn provider(taken: usize) -> (Harness, Arc<TakenFirst>) {
    let store = Arc::new(MemoryStore::new());
    let devices = Arc::new(TakenFirst {
        inner: store.clone(),
        taken,
        offered: Mutex::default(),
    });
    let mut policy = Policy::default();
    policy.device_authorization = DeviceAuthorizationPolicy {
        verification_uri: Some(format!("{ISSUER}/device")),
        ..DeviceAuthorizationPolicy::default()
    };
    let mut stores = Stores::shared(store.clone());
    stores.device_authorizations = devices.clone();
    let h = Harness::configured(store, ISSUER, |b| b.policy(policy).stores(stores)).await;
    let tv = Client::new("tv", ClientKind::Public)
        .with_allowed_scopes(ScopeSet::parse("read").unwrap())
        .with_grant_types([GrantType::DeviceCode]);
    h.provider.register_client(&tv).await.unwrap();
    (h, devices)
}

async fn start(h: &Harness) -> (StatusCode, Value) {
    let req = Request::post("/device_authorization")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from_static(b"client_id=tv&scope=read"))
        .unwrap();
    let resp = h.provider.device_authorization(req).await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let json = serde_json::from_slice(resp.body()).unwrap_or(Value::Null);
    (resp.status(), json)
}

#[tokio::test]
async fn a_taken_user_code_is_replaced_by_a_fresh_one() {
    let (h, devices) = provider(2).await;
    let (status, json) = start(&h).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let offered = devices.offered.lock().unwrap().clone();
    assert_eq!(offered.len(), 3, "two taken, the third stored");
    let user_codes: std::collections::HashSet<_> =
        offered.iter().map(|r| r.user_code_hash).collect();
    assert_eq!(user_codes.len(), 3, "a fresh user code each try");
    let devices_codes: std::collections::HashSet<_> = offered.iter().map(|r| r.hash).collect();
    assert_eq!(devices_codes.len(), 3, "and a fresh device code");
    // The answer is the stored one's: its user code finds it.
    let user_code = json["user_code"].as_str().unwrap();
    let pending = h.provider.find_device_authorization(user_code).await;
    assert_eq!(pending.unwrap().unwrap().client_id(), "tv");
    let first = &offered[0];
    let lost = h
        .store
        .find_device_authorization_by_user_code(
            &Issuer::parse(ISSUER).unwrap(),
            &first.user_code_hash,
            UnixTime::from_secs(T0),
        )
        .await
        .unwrap();
    assert_eq!(lost, None, "a refused try is not stored");
}

#[tokio::test]
async fn three_taken_user_codes_in_a_row_are_the_servers_trouble() {
    let (h, devices) = provider(3).await;
    let (status, json) = start(&h).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{json}");
    assert_eq!(error_of(&json), "temporarily_unavailable", "{json}");
    assert_eq!(devices.offered.lock().unwrap().len(), 3, "no fourth try");
}
