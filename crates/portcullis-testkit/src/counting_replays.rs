//! A replay cache that counts the calls made to it: tests pin how many store round trips a
//! request spends on single-use ids (a DPoP proof's `jti`: one).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use portcullis_core::{Issuer, TokenHash, UnixTime};
use portcullis_store::{ReplayCache, ReplayNamespace, ReplayOutcome, StoreResult};

/// Another replay cache, every call to it counted.
pub struct CountingReplayCache {
    inner: Arc<dyn ReplayCache>,
    calls: AtomicUsize,
}

impl CountingReplayCache {
    /// Counts the calls made to `inner`.
    pub fn new(inner: Arc<dyn ReplayCache>) -> Self {
        Self {
            inner,
            calls: AtomicUsize::new(0),
        }
    }

    /// The calls made so far, of any method.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl ReplayCache for CountingReplayCache {
    async fn check_and_insert(
        &self,
        issuer: &Issuer,
        namespace: ReplayNamespace,
        id: &TokenHash,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<ReplayOutcome> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner
            .check_and_insert(issuer, namespace, id, expires_at, now)
            .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.purge_expired(now).await
    }
}
