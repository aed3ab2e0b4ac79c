//! The clients the store returned, kept for a bounded time so that most requests read no
//! client from the store ([`ProviderBuilder::client_cache`]).
//!
//! * **Staleness:** an answer (a client, or none under that id) is used for `ttl` after its
//!   load began, by the provider's clock; a client changed on another node (through the
//!   shared store) is therefore seen here within `ttl`. A registration that expires is
//!   refused from its expiry on, cached or not.
//! * **Invalidation:** every write of a client through this provider (registration and its
//!   updates and deletion, [`Provider::register_client`], the client administration)
//!   drops the cached answer once the store has answered, so the changing node sees the
//!   change at once.
//! * **Bounded:** at most `capacity` ids; when full, stale answers go first, and if more
//!   than half are still fresh, all go.
//! * **One load per id:** concurrent misses of one id wait for one store read. A failed read
//!   is not kept: the next caller reads again.
//!
//! [`ProviderBuilder::client_cache`]: crate::ProviderBuilder::client_cache
//! [`Provider::register_client`]: crate::Provider::register_client

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use portcullis_core::{Client, UnixTime};
use portcullis_store::StoreResult;
use tokio::sync::OnceCell;

/// Default [`ClientCache`] staleness: a client changed on another node is seen within it.
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(10);

/// Default number of client ids kept.
pub(crate) const DEFAULT_CAPACITY: usize = 10_000;

/// The store's answer for one client id, loaded at most once.
#[derive(Clone)]
struct Slot {
    /// When the load began.
    loaded_at: UnixTime,
    answer: Arc<OnceCell<Option<Arc<Client>>>>,
}

impl Slot {
    fn is_fresh(&self, now: UnixTime, ttl: Duration) -> bool {
        self.loaded_at <= now && now < self.loaded_at.plus(ttl)
    }
}

/// See the module docs.
pub(crate) struct ClientCache {
    ttl: Duration,
    capacity: usize,
    slots: Mutex<HashMap<String, Slot>>,
}

impl ClientCache {
    /// Answers kept for `ttl` (whole seconds; zero: none kept), for at most `capacity` ids.
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The client `client_id` at `now`: the cached answer while fresh, else `load`'s (one
    /// load at a time per id) — unless its registration expired at `now`.
    pub(crate) async fn get<F, Fut>(
        &self,
        client_id: &str,
        now: UnixTime,
        load: F,
    ) -> StoreResult<Option<Arc<Client>>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = StoreResult<Option<Arc<Client>>>>,
    {
        if self.ttl.as_secs() == 0 || self.capacity == 0 {
            return load().await;
        }
        let slot = self.slot(client_id, now);
        let answer = slot.answer.get_or_try_init(load).await?;
        Ok(answer
            .clone()
            .filter(|c| c.expires_at.is_none_or(|e| now < e)))
    }

    /// Forgets the answer for `client_id`: the next lookup reads the store.
    pub(crate) fn invalidate(&self, client_id: &str) {
        self.lock().remove(client_id);
    }

    /// The fresh slot of `client_id`, or a new one (not yet loaded) in its place.
    fn slot(&self, client_id: &str, now: UnixTime) -> Slot {
        let mut slots = self.lock();
        match slots.get(client_id) {
            Some(slot) if slot.is_fresh(now, self.ttl) => return slot.clone(),
            Some(_) => {}
            None if slots.len() >= self.capacity => {
                slots.retain(|_, s| s.is_fresh(now, self.ttl));
                if slots.len() > self.capacity / 2 {
                    slots.clear();
                }
            }
            None => {}
        }
        let slot = Slot {
            loaded_at: now,
            answer: Arc::new(OnceCell::new()),
        };
        slots.insert(client_id.to_owned(), slot.clone());
        slot
    }

    /// The slots; a panic while they were held cannot leave them inconsistent (each change
    /// is one map operation), so a poisoned lock is taken as it is.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
