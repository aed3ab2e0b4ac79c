//! Core micro-benchmarks, each beside ring doing only the cryptography of it.
//!
//! `cargo bench -p portcullis-bench --bench core -- --warm-up-time 1 --measurement-time 3`
#![allow(missing_docs)] // criterion's macros define undocumented functions

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use portcullis_bench::{CodeFlow, CoreOps};

fn core(c: &mut Criterion) {
    let ops = CoreOps::new();

    let mut g = c.benchmark_group("opaque_mint");
    g.bench_function("ours", |b| b.iter(|| black_box(ops.mint_opaque())));
    g.bench_function("ring", |b| b.iter(|| black_box(ops.ring_opaque())));
    g.finish();

    for signer in ops.signers() {
        let alg = signer.alg();
        let mut g = c.benchmark_group(format!("jwt_mint/{alg}"));
        g.bench_function("ours", |b| b.iter(|| black_box(ops.mint_jwt(signer))));
        g.bench_function("ring", |b| b.iter(|| black_box(ops.ring_sign(signer))));
        g.finish();

        let mut g = c.benchmark_group(format!("jwt_verify/{alg}"));
        g.bench_function("ours", |b| b.iter(|| black_box(ops.verify_jwt(signer))));
        g.bench_function("ring", |b| b.iter(|| black_box(ops.ring_verify(signer))));
        g.finish();

        let mut g = c.benchmark_group(format!("resource_jwt/{alg}"));
        g.bench_function("ours", |b| {
            b.iter(|| black_box(ops.validate_access_token(signer)))
        });
        g.bench_function("ring", |b| {
            b.iter(|| black_box(ops.ring_verify_access_token(signer)))
        });
        g.finish();
    }

    let mut g = c.benchmark_group("client_assertion/ES256");
    g.bench_function("ours", |b| b.iter(|| black_box(ops.verify_assertion())));
    g.bench_function("ring", |b| {
        b.iter(|| black_box(ops.ring_verify_assertion()))
    });
    g.finish();

    for proof in ops.proofs() {
        let mut g = c.benchmark_group(format!("dpop_proof/{}", proof.alg()));
        g.bench_function("ours", |b| b.iter(|| black_box(ops.verify_proof(proof))));
        g.bench_function("ring", |b| {
            b.iter(|| black_box(ops.ring_verify_proof(proof)))
        });
        g.finish();
    }

    let mut g = c.benchmark_group("pkce_s256");
    g.bench_function("ours", |b| b.iter(|| black_box(ops.pkce_verify())));
    g.bench_function("ring", |b| b.iter(|| black_box(ops.ring_pkce())));
    g.finish();

    c.bench_function("scope_negotiation", |b| {
        b.iter(|| black_box(ops.negotiate()))
    });

    let mut g = c.benchmark_group("code_exchange");
    type NewFlow = fn() -> CodeFlow;
    for (name, new) in [
        ("oauth", CodeFlow::oauth as NewFlow),
        ("openid_rs256", CodeFlow::openid),
    ] {
        // Built on first use: a filter that skips it skips the RSA key generation.
        let mut flow = None;
        g.bench_function(name, |b| {
            let flow = flow.get_or_insert_with(new);
            b.iter_batched(
                || flow.code(),
                |code| black_box(flow.exchange(&code)),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = core
}
criterion_main!(benches);
