//! The atomicity contract under concurrency: [`RACERS`] tasks on a multi-thread runtime race
//! to consume one code or rotate one refresh token, [`ROUNDS`] times, through one shared
//! handle or through one handle each (as separate processes would), and exactly one wins.

use std::sync::Arc;

use portcullis_core::{Issuer, TokenHash};
use portcullis_store::{CodeStore, ConsumeOutcome, RefreshState, RotateOutcome, TokenStore};
use tokio::sync::Barrier;

use super::tokens::{grace, rotated_with, saved_grant};
use super::Must;
use crate::{Fixtures, Harness};

/// How many tasks race for one code or token.
pub const RACERS: usize = 32;

/// How many times each race is run.
pub const ROUNDS: usize = 4;

/// Runs `race(handle, i)` in [`RACERS`] tasks released together; returns their results in
/// racer order.
pub(super) async fn race<S, T, F, Fut>(handles: &[Arc<S>], race: F) -> Vec<T>
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

/// Every handle from the factory reaches the same database: a write through one is read
/// through another. (Without this, the separate-handle races would prove nothing.)
pub async fn handles_share_one_database<S: CodeStore + TokenStore>(h: Harness<S>) {
    let (one, two) = (h.open().await, h.open().await);
    let (f, c) = (h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    let grant = f.grant(&a, "alice", "client-1", c.at(0), c.at(1_000));
    one.save_grant(&grant).await.must("save_grant");
    let found = two.find_grant(&a, &grant.id).await.must("find_grant");
    assert_eq!(
        found,
        Some(grant.clone()),
        "a grant saved through another handle"
    );
    let code = f.code(&grant, &f.family_id(), c.at(0), c.at(60));
    two.insert_code(&code).await.must("insert_code");
    let out = one
        .consume_code(&a, &code.hash, c.at(1))
        .await
        .must("consume_code");
    assert_eq!(
        out,
        ConsumeOutcome::Consumed(Box::new(code)),
        "through another handle"
    );
}

/// [`RACERS`] tasks sharing one handle race to consume one code: one `Consumed`, every other
/// `AlreadyConsumed`.
pub async fn racing_consumers_on_one_handle<S: CodeStore>(h: Harness<S>) {
    let handles = vec![h.open().await];
    consume_race(&h, &handles).await;
}

/// [`RACERS`] tasks with a handle each race to consume one code: one `Consumed`, every
/// other `AlreadyConsumed`.
pub async fn racing_consumers_on_separate_handles<S: CodeStore>(h: Harness<S>) {
    let handles = h.open_many(RACERS).await;
    consume_race(&h, &handles).await;
}

async fn consume_race<S: CodeStore>(h: &Harness<S>, handles: &[Arc<S>]) {
    let (f, c) = (h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    for round in 0..ROUNDS {
        let grant = f.grant(&a, "alice", "client-1", c.at(0), c.at(1_000));
        let code = f.code(&grant, &f.family_id(), c.at(0), c.at(60));
        let writer = &handles[round % handles.len()];
        writer.insert_code(&code).await.must("insert_code");
        let (hash, now) = (code.hash, c.at(1));
        let outcomes = race(handles, |s, _| {
            let a = a.clone();
            async move { s.consume_code(&a, &hash, now).await.must("consume_code") }
        })
        .await;
        let won = outcomes
            .iter()
            .filter(|o| matches!(o, ConsumeOutcome::Consumed(_)))
            .count();
        assert_eq!(won, 1, "round {round}: exactly one winner: {outcomes:?}");
        let reused = ConsumeOutcome::AlreadyConsumed {
            grant_id: code.grant_id.clone(),
            family_id: code.family_id.clone(),
        };
        for o in &outcomes {
            match o {
                ConsumeOutcome::Consumed(r) => assert_eq!(**r, code, "round {round}"),
                other => assert_eq!(other, &reused, "round {round}: every loser"),
            }
        }
    }
}

/// [`RACERS`] tasks sharing one handle race to rotate one refresh token, each with its own
/// successor: one `Rotated` whose successor alone is stored, every other `AlreadyRotated`.
pub async fn racing_rotations_on_one_handle<S: TokenStore>(h: Harness<S>) {
    let handles = vec![h.open().await];
    rotate_race(&h, &handles).await;
}

/// [`RACERS`] tasks with a handle each race to rotate one refresh token, each with its own
/// successor: one `Rotated` whose successor alone is stored, every other `AlreadyRotated`.
pub async fn racing_rotations_on_separate_handles<S: TokenStore>(h: Harness<S>) {
    let handles = h.open_many(RACERS).await;
    rotate_race(&h, &handles).await;
}

async fn rotate_race<S: TokenStore>(h: &Harness<S>, handles: &[Arc<S>]) {
    let (f, c) = (h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    let grant = f.grant(&a, "alice", "client-1", c.at(0), c.at(10_000));
    handles[0].save_grant(&grant).await.must("save_grant");
    for round in 0..ROUNDS {
        let family = f.family_id();
        let old = f.refresh_token(&grant, &family, c.at(0), c.at(600));
        let successors: Vec<_> = (0..RACERS)
            .map(|_| f.refresh_token(&grant, &family, c.at(1), c.at(600)))
            .collect();
        let writer = &handles[round % handles.len()];
        writer
            .insert_refresh_token(&old)
            .await
            .must("insert_refresh_token");
        let successors = Arc::new(successors);
        let outcomes = race(handles, |s, i| {
            let (a, successors) = (a.clone(), successors.clone());
            let hash = old.hash;
            async move {
                let out = s
                    .rotate_refresh_token(&a, &hash, &successors[i], None)
                    .await;
                out.must("rotate_refresh_token")
            }
        })
        .await;
        let winners: Vec<usize> = (0..RACERS)
            .filter(|&i| outcomes[i] == RotateOutcome::Rotated)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one winner: {outcomes:?}"
        );
        let lost = RotateOutcome::AlreadyRotated { family_id: family };
        for (i, o) in outcomes.iter().enumerate() {
            if i != winners[0] {
                assert_eq!(o, &lost, "round {round}: every loser");
            }
        }
        let reader = &handles[(round + 1) % handles.len()];
        for (i, next) in successors.iter().enumerate() {
            let state = state_of(&**reader, &a, &next.hash).await;
            let want = (i == winners[0]).then_some(RefreshState::Active);
            assert_eq!(state, want, "round {round}: successor of racer {i}");
        }
        let state = state_of(&**reader, &a, &old.hash).await;
        assert_eq!(
            state,
            Some(RefreshState::Rotated),
            "round {round}: the old token"
        );
    }
}

/// [`RACERS`] tasks claim one grace period of 5 claims through one shared handle: exactly
/// 5 get its answer.
pub async fn racing_grace_claims_on_one_handle<S: TokenStore>(h: Harness<S>) {
    let s = h.open().await;
    grace_race(&h, &[s]).await;
}

/// [`RACERS`] tasks claim one grace period of 5 claims through handles of their own:
/// exactly 5 get its answer.
pub async fn racing_grace_claims_on_separate_handles<S: TokenStore>(h: Harness<S>) {
    let handles = h.open_many(RACERS).await;
    grace_race(&h, &handles).await;
}

async fn grace_race<S: TokenStore>(h: &Harness<S>, handles: &[Arc<S>]) {
    const CLAIMS: usize = 5;
    let (a, c) = (Fixtures::issuer(), h.clock());
    let grant = saved_grant(h, &*handles[0]).await;
    for round in 0..ROUNDS {
        let writer = &handles[round % handles.len()];
        let g = grace("answer", c.at(10), CLAIMS as u32);
        let (old, _) = rotated_with(h, &**writer, &grant, Some(g)).await;
        let claims = race(handles, |s, _| {
            let (a, hash, now) = (a.clone(), old, c.at(2));
            async move {
                let out = s.claim_rotation_grace(&a, &hash, now).await;
                out.must("claim_rotation_grace")
            }
        })
        .await;
        let answered = claims.iter().flatten().count();
        assert_eq!(
            answered, CLAIMS,
            "round {round}: exactly {CLAIMS} claims answered"
        );
        assert!(claims.iter().flatten().all(|a| a == "answer"));
    }
}

async fn state_of<S: TokenStore>(s: &S, a: &Issuer, hash: &TokenHash) -> Option<RefreshState> {
    let found = s
        .find_refresh_token(a, hash)
        .await
        .must("find_refresh_token");
    found.map(|(_, state)| state)
}
