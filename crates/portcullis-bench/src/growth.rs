//! Growth: the latency of each single insert while the memory store fills from empty, to
//! show the pauses a growing table makes (a resize copies and rehashes what it holds while
//! every request waits on the store's lock). Medians hide them; the tail and the maximum
//! show them.

use std::time::Instant;

use portcullis::store::{AccessTokenStore, GrantStore};
use portcullis_store_memory::MemoryStore;
use ring::rand::SystemRandom;

use crate::fixtures::delegated_token;

/// The time of every insert, in nanoseconds, in insertion order.
#[derive(Debug, Default)]
pub struct GrowthTimes {
    /// Each `save_grant` (a user's grant: the grant map and its owner index grow).
    pub grant: Vec<u64>,
    /// Each `insert_access_token` (the access-token map grows).
    pub token: Vec<u64>,
}

/// Fills an empty memory store with `n` users, each with a grant and an access token (as
/// the scaling benchmark does), timing each insert alone. The records are made before the
/// clock starts.
pub fn grow_memory_store(n: usize) -> GrowthTimes {
    let rng = SystemRandom::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let store = MemoryStore::new();
    let mut times = GrowthTimes {
        grant: Vec::with_capacity(n),
        token: Vec::with_capacity(n),
    };
    rt.block_on(async {
        for i in 0..n as u64 {
            let (grant, token) = delegated_token(i, &rng);
            let start = Instant::now();
            store.save_grant(&grant).await.expect("grant saved");
            let saved = Instant::now();
            store.insert_access_token(&token).await.expect("inserted");
            let end = Instant::now();
            times.grant.push((saved - start).as_nanos() as u64);
            times.token.push((end - saved).as_nanos() as u64);
        }
    });
    times
}

/// The `q` quantile (0 to 1) of `ns`, sorted in place.
pub fn quantile_ns(ns: &mut [u64], q: f64) -> u64 {
    ns.sort_unstable();
    let i = ((ns.len() as f64 - 1.0) * q).round() as usize;
    ns[i.min(ns.len() - 1)]
}
