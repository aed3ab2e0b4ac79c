//! The kit must fail stores that break the contract, or passing it would prove nothing:
//! a code store and a replay cache with each of a few classic bugs fail the check aimed at
//! that bug, and the same stores without the bug pass every check of their trait.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use async_trait::async_trait;
use portcullis_core::{CodeRecord, Issuer, TokenHash, UnixTime};
use portcullis_store::{
    CodeStore, ConsumeOutcome, ReplayCache, ReplayNamespace, ReplayOutcome, StoreResult,
};
use portcullis_testkit::checks::{codes, replay};
use portcullis_testkit::{run_code_checks, run_replay_checks, shared_in_process, Harness};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bug {
    None,
    /// Reads, yields, then writes: two consumers can both see the code unconsumed.
    CheckThenAct,
    /// Looks codes up by hash alone.
    IgnoresIssuer,
    /// Consumes expired codes.
    IgnoresExpiry,
    /// Forgets a consumed code at once, so reuse looks like an unknown code.
    DeletesOnConsume,
}

struct Codes {
    bug: Bug,
    map: Mutex<HashMap<TokenHash, (CodeRecord, bool)>>,
}

impl Codes {
    fn new(bug: Bug) -> Self {
        Self {
            bug,
            map: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl CodeStore for Codes {
    async fn insert_code(&self, record: &CodeRecord) -> StoreResult<()> {
        let entry = (record.clone(), false);
        self.map.lock().unwrap().insert(record.hash, entry);
        Ok(())
    }

    async fn consume_code(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<ConsumeOutcome> {
        let found = self.map.lock().unwrap().get(hash).cloned();
        let Some((record, consumed)) = found else {
            return Ok(ConsumeOutcome::Missing);
        };
        let wrong_issuer = record.issuer != *issuer && self.bug != Bug::IgnoresIssuer;
        let expired = record.expires_at <= now && self.bug != Bug::IgnoresExpiry;
        if wrong_issuer || expired {
            return Ok(ConsumeOutcome::Missing);
        }
        if self.bug == Bug::CheckThenAct {
            tokio::task::yield_now().await;
        } else if consumed || self.map.lock().unwrap().get(hash).is_some_and(|e| e.1) {
            return Ok(ConsumeOutcome::AlreadyConsumed {
                grant_id: record.grant_id,
                family_id: record.family_id,
            });
        }
        let mut map = self.map.lock().unwrap();
        if self.bug == Bug::DeletesOnConsume {
            map.remove(hash);
        } else if let Some(e) = map.get_mut(hash) {
            // Checked again under the lock that sets the flag: two callers may both have
            // passed the check above. Under `CheckThenAct` this overwrites a flag another
            // task set meanwhile.
            if e.1 && self.bug != Bug::CheckThenAct {
                return Ok(ConsumeOutcome::AlreadyConsumed {
                    grant_id: record.grant_id,
                    family_id: record.family_id,
                });
            }
            e.1 = true;
        }
        Ok(ConsumeOutcome::Consumed(Box::new(record)))
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        let mut map = self.map.lock().unwrap();
        let before = map.len();
        map.retain(|_, (r, _)| r.expires_at > now);
        Ok((before - map.len()) as u64)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplayBug {
    None,
    /// Reads, yields, then writes: two callers can both find the id absent.
    CheckThenAct,
    /// Never records anything.
    AlwaysFresh,
    /// Keys entries by issuer and id alone.
    IgnoresNamespace,
    /// Keys entries by namespace and id alone.
    IgnoresIssuer,
    /// Keeps refusing an id after its entry expired.
    NeverExpires,
    /// Records an id that arrives expired.
    AcceptsExpired,
}

type ReplayKey = (Option<Issuer>, Option<ReplayNamespace>, TokenHash);

struct Replays {
    bug: ReplayBug,
    map: Mutex<HashMap<ReplayKey, UnixTime>>,
}

impl Replays {
    fn new(bug: ReplayBug) -> Self {
        Self {
            bug,
            map: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl ReplayCache for Replays {
    async fn check_and_insert(
        &self,
        issuer: &Issuer,
        namespace: ReplayNamespace,
        id: &TokenHash,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<ReplayOutcome> {
        let key = (
            (self.bug != ReplayBug::IgnoresIssuer).then(|| issuer.clone()),
            (self.bug != ReplayBug::IgnoresNamespace).then_some(namespace),
            *id,
        );
        let live = |until: &UnixTime| *until > now || self.bug == ReplayBug::NeverExpires;
        if expires_at <= now && self.bug != ReplayBug::AcceptsExpired {
            return Ok(ReplayOutcome::Replayed);
        }
        if self.bug == ReplayBug::CheckThenAct {
            if self.map.lock().unwrap().get(&key).is_some_and(live) {
                return Ok(ReplayOutcome::Replayed);
            }
            tokio::task::yield_now().await;
            self.map.lock().unwrap().insert(key, expires_at);
            return Ok(ReplayOutcome::Fresh);
        }
        let mut map = self.map.lock().unwrap();
        if map.get(&key).is_some_and(live) {
            return Ok(ReplayOutcome::Replayed);
        }
        if self.bug != ReplayBug::AlwaysFresh {
            map.insert(key, expires_at);
        }
        Ok(ReplayOutcome::Fresh)
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        let mut map = self.map.lock().unwrap();
        let before = map.len();
        map.retain(|_, until| *until > now);
        Ok((before - map.len()) as u64)
    }
}

/// Runs `check` against stores `make` builds; whether it passed.
async fn passes<S, C, Fut>(
    make: impl Fn() -> S + Send + Sync + 'static,
    name: &str,
    check: C,
) -> bool
where
    S: Send + Sync + 'static,
    C: FnOnce(Harness<S>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let harness = Harness::new(name, shared_in_process(make));
    tokio::spawn(check(harness)).await.is_ok()
}

fn code_store(bug: Bug) -> impl Fn() -> Codes + Send + Sync + 'static {
    move || Codes::new(bug)
}

fn replay_cache(bug: ReplayBug) -> impl Fn() -> Replays + Send + Sync + 'static {
    move || Replays::new(bug)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_correct_store_passes_every_code_check() {
    run_code_checks(shared_in_process(code_store(Bug::None))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_bug_fails_its_check() {
    let race = codes::racing_consumers_on_separate_handles;
    let broken = code_store(Bug::CheckThenAct);
    assert!(!passes(broken, "race", race).await, "check-then-act");
    let scoped = codes::codes_are_scoped_by_issuer;
    let broken = code_store(Bug::IgnoresIssuer);
    assert!(!passes(broken, "scoped", scoped).await, "issuer");
    let expired = codes::expired_code_is_never_consumed;
    let broken = code_store(Bug::IgnoresExpiry);
    assert!(!passes(broken, "expiry", expired).await, "expiry");
    let once = codes::code_is_consumed_once;
    let broken = code_store(Bug::DeletesOnConsume);
    assert!(!passes(broken, "once", once).await, "reuse");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_correct_replay_cache_passes_every_replay_check() {
    run_replay_checks(shared_in_process(replay_cache(ReplayBug::None))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_replay_cache_bug_fails_its_check() {
    let race = replay::racing_replay_checks_on_separate_handles;
    let broken = replay_cache(ReplayBug::CheckThenAct);
    assert!(!passes(broken, "race", race).await, "check-then-act");
    let once = replay::an_id_is_fresh_once;
    let broken = replay_cache(ReplayBug::AlwaysFresh);
    assert!(!passes(broken, "once", once).await, "always fresh");
    for bug in [ReplayBug::IgnoresNamespace, ReplayBug::IgnoresIssuer] {
        let independent = replay::namespaces_and_issuers_are_independent;
        let broken = replay_cache(bug);
        assert!(!passes(broken, "independent", independent).await, "{bug:?}");
    }
    let expired = replay::an_expired_entry_is_fresh_again;
    let broken = replay_cache(ReplayBug::NeverExpires);
    assert!(!passes(broken, "expired", expired).await, "never expires");
    let arrival = replay::an_id_expired_on_arrival_is_never_fresh;
    let broken = replay_cache(ReplayBug::AcceptsExpired);
    assert!(!passes(broken, "arrival", arrival).await, "accepts expired");
}
