//! Prints the tables of `docs/BENCHMARKS.md`: each core operation beside ring doing only
//! its cryptography (medians of samples taken alternately, and the ratio), and the stores'
//! latencies at 10^3 and 10^6 live tokens.
//!
//! `cargo run --release -p portcullis-bench --bin report [-- core | stores [LARGE [STORE]] |
//! growth [N]]` (core and stores by default; LARGE, the larger store size, defaults to 10^6;
//! STORE, `memory` or `sqlite`, defaults to both). `growth` times every single insert while
//! the memory store fills from empty to N users (10^6 by default), each with a grant and an
//! access token, and prints the tail of those latencies: a resize under the lock shows there.

use std::hint::black_box;
use std::time::{Duration, Instant};

use portcullis::core::Algorithm;
use portcullis_bench::{
    batch_for, grow_memory_store, median_ns, paired_median_ns, quantile_ns, CodeFlow, CoreOps,
    ScaledStore, StoreKind,
};

/// Samples per core figure; each sample runs a batch of about [`SAMPLE_TIME`].
const SAMPLES: usize = 101;
const SAMPLE_TIME: Duration = Duration::from_millis(4);

fn us(ns: f64) -> String {
    let us = ns / 1000.0;
    if us < 10.0 {
        format!("{us:.2}")
    } else {
        format!("{us:.1}")
    }
}

fn verdict(ratio: f64, limit: f64) -> String {
    let met = if ratio <= limit { "met" } else { "missed" };
    format!("≤ {limit}×: {met}")
}

/// One row: ours and ring's medians, the ratio, and the target if there is one.
fn pair(name: &str, target: Option<f64>, mut ours: impl FnMut(), mut ring: impl FnMut()) {
    let batches = (
        batch_for(SAMPLE_TIME, &mut ours),
        batch_for(SAMPLE_TIME, &mut ring),
    );
    let (o, r) = paired_median_ns(SAMPLES, batches, ours, ring);
    let ratio = o / r;
    let target = target.map_or("—".into(), |t| verdict(ratio, t));
    println!("| {name} | {} | {} | {ratio:.2} | {target} |", us(o), us(r));
}

fn alone(name: &str, mut ours: impl FnMut()) {
    let batch = batch_for(SAMPLE_TIME, &mut ours);
    println!(
        "| {name} | {} | — | — | — |",
        us(median_ns(SAMPLES, batch, ours))
    );
}

/// Median time of one exchange: codes are made before each sample, outside the timing.
fn exchange(name: &str, flow: &CodeFlow) {
    let mut samples: Vec<f64> = (0..31)
        .map(|_| {
            let codes: Vec<String> = (0..20).map(|_| flow.code()).collect();
            let start = Instant::now();
            for code in &codes {
                black_box(flow.exchange(code));
            }
            start.elapsed().as_nanos() as f64 / codes.len() as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    println!(
        "| {name} | {} | — | — | — |",
        us(samples[samples.len() / 2])
    );
}

fn core() {
    let ops = CoreOps::new();
    println!("| operation | ours (µs) | ring alone (µs) | ours/ring | target |");
    println!("|---|---|---|---|---|");
    pair(
        "opaque access token mint (ring: 32-byte draw + SHA-256)",
        Some(3.0),
        || {
            black_box(ops.mint_opaque());
        },
        || {
            black_box(ops.ring_opaque());
        },
    );
    for s in ops.signers() {
        pair(
            &format!("JWT access token mint, {} (ring: sign)", s.alg()),
            Some(1.3),
            || {
                black_box(ops.mint_jwt(s));
            },
            || {
                black_box(ops.ring_sign(s));
            },
        );
    }
    for s in ops.signers() {
        pair(
            &format!("JWT verify, {} (ring: verify)", s.alg()),
            None,
            || {
                black_box(ops.verify_jwt(s));
            },
            || {
                black_box(ops.ring_verify(s));
            },
        );
    }
    for s in ops.signers() {
        pair(
            &format!(
                "JWT access token at a resource server, {}: RFC 9068 validation, keys cached (ring: verify)",
                s.alg()
            ),
            (s.alg() == Algorithm::ES256).then_some(1.2),
            || {
                black_box(ops.validate_access_token(s));
            },
            || {
                black_box(ops.ring_verify_access_token(s));
            },
        );
    }
    pair(
        "private_key_jwt assertion, ES256: form, read, verify, claims (ring: verify)",
        Some(1.3),
        || {
            black_box(ops.verify_assertion());
        },
        || {
            black_box(ops.ring_verify_assertion());
        },
    );
    for p in ops.proofs() {
        pair(
            &format!(
                "DPoP proof, {}: header, jwk, verify, thumbprint, claims (ring: verify)",
                p.alg()
            ),
            Some(1.3),
            || {
                black_box(ops.verify_proof(p));
            },
            || {
                black_box(ops.ring_verify_proof(p));
            },
        );
    }
    pair(
        "PKCE S256 verify (ring: SHA-256 + base64url)",
        None,
        || {
            black_box(ops.pkce_verify());
        },
        || {
            black_box(ops.ring_pkce());
        },
    );
    alone("scope parse + negotiation", || {
        black_box(ops.negotiate());
    });
    exchange(
        "code → token exchange, OAuth (opaque AT + RT), memory store",
        &CodeFlow::oauth(),
    );
    exchange(
        "code → token exchange, OpenID (+ RS256 ID token), memory store",
        &CodeFlow::openid(),
    );
}

/// The median time per operation of samples of (time, operations).
fn per_op(samples: &[(Duration, u64)]) -> f64 {
    let mut v: Vec<f64> = samples
        .iter()
        .map(|(t, n)| t.as_nanos() as f64 / *n as f64)
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn stores(large: usize, only: Option<&str>) {
    println!("| store | operation | 10^3 live (µs) | {large} live (µs) | ratio | target |");
    println!("|---|---|---|---|---|---|");
    let kinds = [StoreKind::Memory, StoreKind::Sqlite];
    for kind in kinds
        .into_iter()
        .filter(|k| only.is_none_or(|o| o == k.name()))
    {
        let (fresh, finds, rounds) = match kind {
            StoreKind::Memory => (4096, 20_000, 31),
            StoreKind::Sqlite => (32, 2_000, 15),
        };
        let start = Instant::now();
        let mut small = ScaledStore::new(kind, 1_000, fresh);
        let mut large = ScaledStore::new(kind, large, fresh);
        eprintln!("{}: filled in {:.1?}", kind.name(), start.elapsed());
        let n = fresh as u64;
        // Rounds alternate between the two sizes, so both see the same load.
        let (mut issue_s, mut issue_l, mut ins_s, mut ins_l) = (vec![], vec![], vec![], vec![]);
        let (mut find_s, mut find_l) = (vec![], vec![]);
        for _ in 0..rounds {
            let (s, l) = (small.insert_round(), large.insert_round());
            issue_s.push((s.issue, n));
            issue_l.push((l.issue, n));
            ins_s.push((s.insert, n));
            ins_l.push((l.insert, n));
            find_s.push((small.find_round(finds), finds));
            find_l.push((large.find_round(finds), finds));
        }
        let name = kind.name();
        let (s, l) = (per_op(&issue_s), per_op(&issue_l));
        println!(
            "| {name} | issue access token (mint + insert) | {} | {} | {:.2} | {} |",
            us(s),
            us(l),
            l / s,
            verdict(l / s, 1.5)
        );
        let (s, l) = (per_op(&ins_s), per_op(&ins_l));
        println!(
            "| {name} | of which the insert | {} | {} | {:.2} | — |",
            us(s),
            us(l),
            l / s
        );
        let (s, l) = (per_op(&find_s), per_op(&find_l));
        println!(
            "| {name} | find access token (introspection) | {} | {} | {:.2} | — |",
            us(s),
            us(l),
            l / s
        );
    }
}

/// The latency of single inserts while the memory store grows from empty to `n` users:
/// wall-clock quantiles, and the CPU time's tail (which preemptions do not inflate).
fn growth(n: usize) {
    let start = Instant::now();
    let mut times = grow_memory_store(n);
    eprintln!("memory: grown to {n} users in {:.1?}", start.elapsed());
    println!(
        "| memory store, 0 → {n} users | p50 (µs) | p99 (µs) | p99.9 (µs) | max (µs) \
         | CPU p99.9 (µs) | CPU max (µs) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, t) in [
        ("save grant", &mut times.grant),
        ("insert access token", &mut times.token),
    ] {
        let wall = [0.5, 0.99, 0.999, 1.0].map(|q| us(quantile_ns(&mut t.wall, q) as f64));
        let cpu = [0.999, 1.0].map(|q| us(quantile_ns(&mut t.cpu, q) as f64));
        println!("| {name} | {} | {} |", wall.join(" | "), cpu.join(" | "));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let large = args
        .get(1)
        .map_or(1_000_000, |n| n.parse().expect("LARGE is a number"));
    match args.first().map(String::as_str) {
        Some("core") => core(),
        Some("stores") => stores(large, args.get(2).map(String::as_str)),
        Some("growth") => growth(large),
        None => {
            core();
            println!();
            stores(large, None);
        }
        Some(other) => panic!("unknown section {other:?}: core, stores or growth"),
    }
}
