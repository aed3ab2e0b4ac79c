//! Store scaling: issuance and introspection latency with 10^3 and 10^6 live tokens, in the
//! memory and SQLite stores.
//!
//! `cargo bench -p portcullis-bench --bench stores -- --warm-up-time 1 --measurement-time 3`
#![allow(missing_docs)] // criterion's macros define undocumented functions

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use portcullis_bench::{ScaledStore, StoreKind};

fn stores(c: &mut Criterion) {
    for kind in [StoreKind::Memory, StoreKind::Sqlite] {
        // Each SQLite insert is a durable transaction: fewer per round.
        let fresh = match kind {
            StoreKind::Memory => 4096,
            StoreKind::Sqlite => 64,
        };
        let mut g = c.benchmark_group(kind.name());
        for (label, live) in [("1e3", 1_000), ("1e6", 1_000_000)] {
            // Filled on first use: a filter that skips both benchmarks skips the fill.
            let mut store = None;
            let new = || ScaledStore::new(kind, live, fresh);
            g.bench_function(format!("insert_access_token/{label}"), |b| {
                let store = store.get_or_insert_with(new);
                b.iter_custom(|iters| {
                    let (mut took, mut done) = (Duration::ZERO, 0u64);
                    while done < iters {
                        took += store.insert_round().insert;
                        done += store.fresh_len() as u64;
                    }
                    took.mul_f64(iters as f64 / done as f64)
                })
            });
            g.bench_function(format!("find_access_token/{label}"), |b| {
                let store = store.get_or_insert_with(new);
                b.iter_custom(|iters| store.find_round(iters))
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = stores
}
criterion_main!(benches);
