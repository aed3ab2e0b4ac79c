//! Medians of per-call times measured with `Instant`: the report's figures (criterion
//! gives the detailed statistics).

use std::time::{Duration, Instant};

/// How many calls of `f` fill about `target` (at least one): the batch size of a sample.
pub fn batch_for(target: Duration, mut f: impl FnMut()) -> u64 {
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < target {
        f();
        n += 1;
    }
    n.max(1)
}

fn sample_ns(batch: u64, f: &mut impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..batch {
        f();
    }
    start.elapsed().as_nanos() as f64 / batch as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 0 {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    }
}

/// Median nanoseconds per call of `f`, over `samples` samples of `batch` calls each.
pub fn median_ns(samples: usize, batch: u64, mut f: impl FnMut()) -> f64 {
    median((0..samples).map(|_| sample_ns(batch, &mut f)).collect())
}

/// Median nanoseconds per call of `a` and of `b`, their samples alternating so that both
/// see the same load on the machine; each sample runs its batch (`batches.0` calls of `a`,
/// `batches.1` of `b`).
pub fn paired_median_ns(
    samples: usize,
    batches: (u64, u64),
    mut a: impl FnMut(),
    mut b: impl FnMut(),
) -> (f64, f64) {
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        ta.push(sample_ns(batches.0, &mut a));
        tb.push(sample_ns(batches.1, &mut b));
    }
    (median(ta), median(tb))
}
