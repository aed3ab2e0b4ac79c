//! Growth: the latency of each single insert while the memory store fills from empty, to
//! show the pauses a growing table makes (a resize copies and rehashes what it holds while
//! every request waits on the store's lock). Medians hide them; the tail and the maximum
//! show them.
//!
//! On a shared machine the wall-clock maximum is also where the scheduler's preemptions
//! land (a time slice of other work, milliseconds), so each insert's thread CPU time is
//! taken too: a resize is work the thread does, a preemption is not.

use std::time::{Duration, Instant};

use portcullis::store::{AccessTokenStore, GrantStore};
use portcullis_store_memory::MemoryStore;
use ring::rand::SystemRandom;
use rustix::time::{clock_gettime, ClockId};

use crate::fixtures::delegated_token;

/// The wall-clock and CPU time of each insert of one kind, in nanoseconds.
#[derive(Debug, Default)]
pub struct InsertTimes {
    /// Wall-clock time, what a waiting request sees.
    pub wall: Vec<u64>,
    /// This thread's CPU time, which preemptions do not inflate.
    pub cpu: Vec<u64>,
}

impl InsertTimes {
    fn with_capacity(n: usize) -> Self {
        Self {
            wall: Vec::with_capacity(n),
            cpu: Vec::with_capacity(n),
        }
    }
}

/// The time of every insert while the store grew.
#[derive(Debug, Default)]
pub struct GrowthTimes {
    /// Each `save_grant` (a user's grant: the grant map and its owner index grow).
    pub grant: InsertTimes,
    /// Each `insert_access_token` (the access-token map grows).
    pub token: InsertTimes,
}

/// This thread's CPU time so far.
fn thread_cpu() -> Duration {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Runs `insert`, recording its wall-clock and CPU time in `times`.
async fn timed<F: std::future::Future<Output = ()>>(times: &mut InsertTimes, insert: F) {
    let (wall, cpu) = (Instant::now(), thread_cpu());
    insert.await;
    let cpu = thread_cpu() - cpu;
    times.wall.push(wall.elapsed().as_nanos() as u64);
    times.cpu.push(cpu.as_nanos() as u64);
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
        grant: InsertTimes::with_capacity(n),
        token: InsertTimes::with_capacity(n),
    };
    rt.block_on(async {
        for i in 0..n as u64 {
            let (grant, token) = delegated_token(i, &rng);
            timed(&mut times.grant, async {
                store.save_grant(&grant).await.expect("grant saved");
            })
            .await;
            timed(&mut times.token, async {
                store.insert_access_token(&token).await.expect("inserted");
            })
            .await;
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
