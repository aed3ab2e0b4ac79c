//! The kit must fail stores that break the contract, or passing it would prove nothing:
//! a code store with each of a few classic bugs fails the check aimed at that bug, and the
//! same store without the bug passes every code check.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use async_trait::async_trait;
use portcullis_core::{CodeRecord, Issuer, TokenHash, UnixTime};
use portcullis_store::{CodeStore, ConsumeOutcome, StoreResult};
use portcullis_testkit::checks::{codes, races};
use portcullis_testkit::{run_code_checks, shared_in_process, Harness};

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
            // Under `CheckThenAct` this overwrites a flag another task set meanwhile.
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

/// Runs `check` against a store with `bug`; whether it passed.
async fn passes<C, Fut>(bug: Bug, name: &str, check: C) -> bool
where
    C: FnOnce(Harness<Codes>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let harness = Harness::new(name, shared_in_process(move || Codes::new(bug)));
    tokio::spawn(check(harness)).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_correct_store_passes_every_code_check() {
    run_code_checks(shared_in_process(|| Codes::new(Bug::None))).await;
    assert!(passes(Bug::None, "race", races::racing_consumers_on_one_handle).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_bug_fails_its_check() {
    let race = races::racing_consumers_on_separate_handles;
    assert!(
        !passes(Bug::CheckThenAct, "race", race).await,
        "check-then-act"
    );
    let scoped = codes::codes_are_scoped_by_issuer;
    assert!(
        !passes(Bug::IgnoresIssuer, "scoped", scoped).await,
        "issuer"
    );
    let expired = codes::expired_code_is_never_consumed;
    assert!(
        !passes(Bug::IgnoresExpiry, "expiry", expired).await,
        "expiry"
    );
    let once = codes::code_is_consumed_once;
    assert!(!passes(Bug::DeletesOnConsume, "once", once).await, "reuse");
}
