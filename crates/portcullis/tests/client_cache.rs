//! The client cache (`ProviderBuilder::client_cache`): a client changed on another node
//! (straight in the shared store here) is seen within the cache's time to live, one changed
//! through this provider at once; a registration stops at its expiry; concurrent misses
//! share one store read; the cache is bounded; a failed read is not kept.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use http::StatusCode;
use portcullis::core::{Client, Issuer, TokenHash, UnixTime};
use portcullis::store::{
    ClientStore, ReplayCache, ReplayNamespace, ReplayOutcome, StoreError, StoreResult,
};
use portcullis::{ManualClock, Provider, Stores};
use portcullis_store_memory::MemoryStore;
use tokio::sync::watch;

const CREDENTIALS: &str = "grant_type=client_credentials";
const TTL: Duration = Duration::from_secs(10);

/// A client store that counts its `find_client` calls, holds them until its gate opens, and
/// fails the next one on demand.
struct Counting {
    inner: Arc<MemoryStore>,
    finds: AtomicUsize,
    gate: watch::Receiver<bool>,
    fail_next: AtomicBool,
}

#[async_trait]
impl ClientStore for Counting {
    async fn find_client(
        &self,
        issuer: &Issuer,
        client_id: &str,
        now: UnixTime,
    ) -> StoreResult<Option<Arc<Client>>> {
        self.finds.fetch_add(1, Ordering::SeqCst);
        let mut gate = self.gate.clone();
        gate.wait_for(|open| *open).await.expect("the gate");
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(StoreError::new("down"));
        }
        self.inner.find_client(issuer, client_id, now).await
    }

    async fn save_client(&self, issuer: &Issuer, client: &Client) -> StoreResult<()> {
        self.inner.save_client(issuer, client).await
    }

    async fn delete_client(&self, issuer: &Issuer, client_id: &str) -> StoreResult<bool> {
        self.inner.delete_client(issuer, client_id).await
    }

    async fn list_clients(&self, issuer: &Issuer, now: UnixTime) -> StoreResult<Vec<Arc<Client>>> {
        self.inner.list_clients(issuer, now).await
    }

    async fn replace_client(
        &self,
        issuer: &Issuer,
        current: Option<&Client>,
        replacement: &Client,
    ) -> StoreResult<bool> {
        self.inner
            .replace_client(issuer, current, replacement)
            .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        if self.fail_next.swap(false, Ordering::SeqCst) {
            return Err(StoreError::new("down"));
        }
        ClientStore::purge_expired(&*self.inner, now).await
    }
}

/// A provider whose clients come through [`Counting`] and are kept `ttl` for at most
/// `capacity` ids, with the web and service clients registered, and the gate to open.
async fn counted(
    ttl: Duration,
    capacity: usize,
) -> (
    Provider,
    Arc<Counting>,
    Arc<ManualClock>,
    watch::Sender<bool>,
) {
    let store = Arc::new(MemoryStore::new());
    let (open, gate) = watch::channel(true);
    let counting = Arc::new(Counting {
        inner: store.clone(),
        finds: AtomicUsize::new(0),
        gate,
        fail_next: AtomicBool::new(false),
    });
    let clock = Arc::new(ManualClock::new(UnixTime::from_secs(T0)));
    let provider = Provider::builder(Issuer::parse(ISSUER).unwrap())
        .stores(Stores::shared(store).with_clients(counting.clone()))
        .clock(clock.clone())
        .client_cache(ttl, capacity)
        .build()
        .unwrap();
    for c in [web_client(), service_client()] {
        provider.register_client(&c).await.unwrap();
    }
    (provider, counting, clock, open)
}

async fn harness(ttl: Duration) -> Harness {
    Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.client_cache(ttl, 100)
    })
    .await
}

/// The status and error code (`""` for success) of a client credentials request by the
/// service client with `secret`.
async fn credentials(h: &Harness, secret: &str) -> (StatusCode, String) {
    let (status, json, _) = h
        .post(Endpoint::Token, CREDENTIALS, Some(("service", secret)))
        .await;
    (status, json["error"].as_str().unwrap_or("").to_owned())
}

fn ok() -> (StatusCode, String) {
    (StatusCode::OK, String::new())
}

fn invalid_client() -> (StatusCode, String) {
    (StatusCode::UNAUTHORIZED, "invalid_client".into())
}

fn issuer() -> Issuer {
    Issuer::parse(ISSUER).unwrap()
}

#[tokio::test]
async fn a_client_deleted_on_another_node_works_here_until_the_ttl_ends() {
    let h = harness(TTL).await;
    assert_eq!(credentials(&h, SECRET).await, ok());
    // Another node deletes it: the shared store no longer has it.
    assert!(h.store.delete_client(&issuer(), "service").await.unwrap());
    h.clock.advance(9);
    assert_eq!(credentials(&h, SECRET).await, ok(), "within the ttl");
    h.clock.advance(1);
    assert_eq!(credentials(&h, SECRET).await, invalid_client(), "ttl over");
    assert!(h.provider.client("service").await.unwrap().is_none());
}

#[tokio::test]
async fn a_secret_rotated_on_another_node_is_required_here_once_the_ttl_ends() {
    let h = harness(TTL).await;
    assert_eq!(credentials(&h, SECRET).await, ok());
    // Another node (a provider on the same store) rotates the secret with no rollover.
    let other = Harness::on_store(h.store.clone(), ISSUER, Default::default()).await;
    let rotated = other
        .provider
        .rotate_client_secret("service", Duration::ZERO, None)
        .await
        .unwrap();
    let new = rotated.secret.expose().to_owned();
    assert_eq!(credentials(&other, SECRET).await, invalid_client(), "there");
    assert_eq!(credentials(&other, &new).await, ok(), "there");
    h.clock.advance(TTL.as_secs() - 1);
    assert_eq!(credentials(&h, SECRET).await, ok(), "here, within the ttl");
    h.clock.advance(1);
    assert_eq!(credentials(&h, SECRET).await, invalid_client(), "ttl over");
    assert_eq!(credentials(&h, &new).await, ok());
}

#[tokio::test]
async fn changes_through_this_provider_are_seen_at_once() {
    let h = harness(TTL).await;
    assert_eq!(credentials(&h, SECRET).await, ok());
    let rotated = h
        .provider
        .rotate_client_secret("service", Duration::ZERO, None)
        .await
        .unwrap();
    let new = rotated.secret.expose().to_owned();
    assert_eq!(credentials(&h, SECRET).await, invalid_client(), "rotated");
    assert_eq!(credentials(&h, &new).await, ok());

    assert!(h.provider.remove_client("service").await.unwrap());
    assert_eq!(credentials(&h, &new).await, invalid_client(), "removed");

    h.provider.add_client(&service_client()).await.unwrap();
    assert_eq!(credentials(&h, SECRET).await, ok(), "added again");
}

#[tokio::test]
async fn a_zero_ttl_reads_the_store_every_time() {
    let h = harness(Duration::ZERO).await;
    assert_eq!(credentials(&h, SECRET).await, ok());
    assert!(h.store.delete_client(&issuer(), "service").await.unwrap());
    assert_eq!(credentials(&h, SECRET).await, invalid_client());
}

#[tokio::test]
async fn a_registration_stops_at_its_expiry_even_when_cached() {
    let h = harness(TTL).await;
    let expiring = service_client().with_expires_at(Some(UnixTime::from_secs(T0 + 5)));
    h.provider.register_client(&expiring).await.unwrap();
    assert_eq!(credentials(&h, SECRET).await, ok());
    h.clock.advance(4);
    assert_eq!(credentials(&h, SECRET).await, ok());
    h.clock.advance(1);
    assert_eq!(credentials(&h, SECRET).await, invalid_client(), "expired");
}

#[tokio::test]
async fn a_client_unknown_here_and_registered_on_another_node_is_seen_within_the_ttl() {
    let h = harness(TTL).await;
    assert!(h.store.delete_client(&issuer(), "service").await.unwrap());
    assert_eq!(credentials(&h, SECRET).await, invalid_client());
    h.store
        .save_client(&issuer(), &service_client())
        .await
        .unwrap();
    assert_eq!(credentials(&h, SECRET).await, invalid_client(), "cached");
    h.clock.advance(TTL.as_secs());
    assert_eq!(credentials(&h, SECRET).await, ok());
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_misses_share_one_read() {
    let (provider, counting, _clock, open) = counted(TTL, 100).await;
    open.send(false).unwrap();
    let lookups: Vec<_> = (0..8)
        .map(|_| {
            let p = provider.clone();
            tokio::spawn(async move { p.client("service").await })
        })
        .collect();
    // Every task runs up to its wait (for the gate, or for the one read).
    for _ in 0..32 {
        tokio::task::yield_now().await;
    }
    open.send(true).unwrap();
    for lookup in lookups {
        let found = lookup.await.unwrap().unwrap().expect("the client");
        assert_eq!(found.id, "service");
    }
    assert_eq!(counting.finds.load(Ordering::SeqCst), 1);
    provider.client("service").await.unwrap().unwrap();
    assert_eq!(counting.finds.load(Ordering::SeqCst), 1, "then cached");
}

#[tokio::test]
async fn the_cache_is_bounded_and_reads_again_after_the_ttl() {
    for (capacity, reads) in [(1, 3), (2, 2)] {
        let (provider, counting, clock, _open) = counted(TTL, capacity).await;
        for id in ["web", "service", "web"] {
            provider.client(id).await.unwrap().expect("the client");
        }
        let finds = counting.finds.load(Ordering::SeqCst);
        assert_eq!(finds, reads, "capacity {capacity}");
        clock.advance(TTL.as_secs());
        provider.client("web").await.unwrap().expect("the client");
        assert_eq!(counting.finds.load(Ordering::SeqCst), reads + 1, "stale");
    }
}

#[tokio::test]
async fn a_failed_read_is_not_kept() {
    let (provider, counting, _clock, _open) = counted(TTL, 100).await;
    counting.fail_next.store(true, Ordering::SeqCst);
    assert!(provider.client("service").await.is_err());
    let found = provider.client("service").await.unwrap();
    assert_eq!(found.expect("the client").id, "service");
    assert_eq!(counting.finds.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_failed_purge_of_one_store_does_not_stop_the_others() {
    let (provider, counting, clock, _open) = counted(TTL, 100).await;
    let issuer = Issuer::parse(ISSUER).unwrap();
    let now = UnixTime::from_secs(T0);
    let recorded = counting
        .inner
        .check_and_insert(
            &issuer,
            ReplayNamespace::new("test"),
            &TokenHash::of("jti"),
            UnixTime::from_secs(T0 + 1),
            now,
        )
        .await
        .unwrap();
    assert_eq!(recorded, ReplayOutcome::Fresh);
    clock.advance(2);
    // The clients are purged before the replay cache.
    counting.fail_next.store(true, Ordering::SeqCst);
    let err = provider.purge_expired().await.unwrap_err();
    assert_eq!(err.to_string(), "store error: down");
    assert_eq!(provider.purge_expired().await.unwrap(), 0, "already purged");
}
