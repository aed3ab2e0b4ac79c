//! How every group's racers run: [`RACERS`] tasks on a multi-thread runtime, released
//! together, race for one code, token, key or id, [`ROUNDS`] times, through one shared
//! handle or through one handle each (as separate processes would). The racers themselves
//! live with their trait's checks (`codes::racing_consumers_*`,
//! `refresh_tokens::racing_rotations_*`, `replay::racing_replay_checks_*`, …).

use std::sync::Arc;

use tokio::sync::Barrier;

/// How many tasks race for one code or token.
pub const RACERS: usize = 32;

/// How many times each race is run.
pub const ROUNDS: usize = 4;

/// Runs `race(handle, i)` in [`RACERS`] tasks released together; returns their results in
/// racer order.
pub(crate) async fn race<S, T, F, Fut>(handles: &[Arc<S>], race: F) -> Vec<T>
where
    S: Send + Sync + 'static,
    T: Send + 'static,
    F: Fn(Arc<S>, usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let start = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (start, run) = (start.clone(), race(handles[i % handles.len()].clone(), i));
            tokio::spawn(async move {
                start.wait().await;
                run.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(RACERS);
    for task in tasks {
        match task.await {
            Ok(v) => out.push(v),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    out
}
