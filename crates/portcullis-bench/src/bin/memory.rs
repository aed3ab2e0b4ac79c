//! Heap bytes per live access token (and per grant) in the memory store, counted by a
//! counting allocator, and the resident-set growth beside it.
//!
//! `cargo run --release -p portcullis-bench --bin memory [-- N]` (N defaults to 10^6).

use std::alloc::System;
use std::hint::black_box;

use portcullis::store::{AccessTokenStore, GrantStore};
use portcullis_bench::{delegated_token, Delegated};
use portcullis_store_memory::MemoryStore;
use ring::rand::SystemRandom;
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Resident set size, in bytes (`/proc/self/statm`, 4 KiB pages).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

/// Runs `fill`, returning the heap bytes it left allocated and the RSS it added.
fn measure(fill: impl FnOnce()) -> (i64, i64) {
    let (region, before) = (Region::new(GLOBAL), rss());
    fill();
    let change = region.change();
    let heap = change.bytes_allocated as i64 - change.bytes_deallocated as i64;
    (heap, rss() as i64 - before as i64)
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("N is a number"))
        .unwrap_or(1_000_000);
    let rng = SystemRandom::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let store = MemoryStore::new();
    // Grants first, then the tokens (each its own user's, as in the scaling benchmark): the
    // records are built and dropped inside the loops, so what stays is the store's.
    let (grant_heap, grant_rss) = measure(|| {
        rt.block_on(async {
            for i in 0..n {
                let grant = Delegated::user(i, &rng).grant();
                store.save_grant(&grant).await.expect("grant saved");
            }
        })
    });
    let (token_heap, token_rss) = measure(|| {
        rt.block_on(async {
            for i in 0..n {
                let (_, token) = delegated_token(n + i, &rng);
                store.insert_access_token(&token).await.expect("inserted");
            }
        })
    });
    black_box(&store);
    let per = |b: i64| b as f64 / n as f64;
    println!("| memory store, {n} live | heap bytes (counted) | RSS growth |");
    println!("|---|---|---|");
    println!(
        "| per access token | {:.0} | {:.0} |",
        per(token_heap),
        per(token_rss)
    );
    println!(
        "| per grant | {:.0} | {:.0} |",
        per(grant_heap),
        per(grant_rss)
    );
}
