//! [`PushedRequestStore`]: a pushed request is taken once, by its own issuer, before it
//! expires, and never again.

use std::sync::Arc;

use portcullis_core::PushedRequestRecord;
use portcullis_store::PushedRequestStore;

use super::races::{race, RACERS, ROUNDS};
use super::{purged, Must};
use crate::{Fixtures, Harness};

/// Takes `record` through its own issuer at `+secs`: `true` if it came back, as inserted.
async fn taken<S: PushedRequestStore>(
    h: &Harness<S>,
    s: &S,
    record: &PushedRequestRecord,
    secs: u64,
) -> bool {
    let got = s
        .consume_pushed_request(&record.issuer, &record.hash, h.clock().at(secs))
        .await
        .must("consume_pushed_request");
    if let Some(r) = &got {
        assert_eq!(
            r, record,
            "consume_pushed_request returns the request as inserted"
        );
    }
    got.is_some()
}

/// A pushed request comes back once, every field intact; then never again. An unknown hash
/// is `None`.
pub async fn pushed_request_is_taken_once<S: PushedRequestStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    let unknown = s.consume_pushed_request(&a, &f.token_hash(), c.at(1)).await;
    assert_eq!(unknown.must("consume_pushed_request"), None, "empty store");
    let pushed = f.pushed_request(&a, "client-1", c.at(0), c.at(60));
    s.insert_pushed_request(&pushed)
        .await
        .must("insert_pushed_request");
    let unknown = s.consume_pushed_request(&a, &f.token_hash(), c.at(1)).await;
    assert_eq!(unknown.must("consume_pushed_request"), None, "another hash");
    assert!(taken(&h, &s, &pushed, 1).await, "the first time");
    assert!(!taken(&h, &s, &pushed, 2).await, "the second time");
}

/// A pushed request expired at `now` (`expires_at <= now`) is never taken; one second
/// before, it is.
pub async fn expired_pushed_request_is_never_taken<S: PushedRequestStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    let (live, dead) = (
        f.pushed_request(&a, "client-1", c.at(0), c.at(60)),
        f.pushed_request(&a, "client-1", c.at(0), c.at(60)),
    );
    for r in [&live, &dead] {
        s.insert_pushed_request(r)
            .await
            .must("insert_pushed_request");
    }
    assert!(!taken(&h, &s, &dead, 60).await, "at its expiry");
    assert!(!taken(&h, &s, &dead, 61).await, "after its expiry");
    assert!(taken(&h, &s, &live, 59).await, "a second before its expiry");
}

/// A request pushed to issuer A is not taken through issuer B, and is still A's after.
pub async fn pushed_requests_are_scoped_by_issuer<S: PushedRequestStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let pushed = f.pushed_request(&a, "client-1", c.at(0), c.at(60));
    s.insert_pushed_request(&pushed)
        .await
        .must("insert_pushed_request");
    let via_b = s.consume_pushed_request(&b, &pushed.hash, c.at(1)).await;
    assert_eq!(
        via_b.must("consume_pushed_request"),
        None,
        "taken through B"
    );
    assert!(taken(&h, &s, &pushed, 1).await, "still A's");
}

/// `purge_expired` removes exactly the pushed requests (of every issuer, taken or not)
/// expired at `now`, and returns how many.
pub async fn pushed_request_purge_expired<S: PushedRequestStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let early = [
        f.pushed_request(&a, "client-1", c.at(0), c.at(100)),
        f.pushed_request(&b, "client-1", c.at(0), c.at(100)),
    ];
    let late = f.pushed_request(&a, "client-2", c.at(0), c.at(200));
    for r in early.iter().chain([&late]) {
        s.insert_pushed_request(r)
            .await
            .must("insert_pushed_request");
    }
    let purge = |secs| PushedRequestStore::purge_expired(&*s, c.at(secs));
    purged(purge(99).await, 0, "nothing expired yet");
    purged(purge(100).await, 2, "A's and B's +100s requests");
    purged(purge(1_000_000).await, 1, "the +200s request");
    purged(purge(1_000_000).await, 0, "none left");
}

/// [`RACERS`] tasks on one handle race to take one pushed request: exactly one gets it.
pub async fn racing_takers_on_one_handle<S: PushedRequestStore>(h: Harness<S>) {
    let handles = vec![h.open().await];
    take_race(&h, &handles).await;
}

/// [`RACERS`] tasks with a handle each race to take one pushed request: exactly one gets
/// it (single use across processes, RFC 9126 §4).
pub async fn racing_takers_on_separate_handles<S: PushedRequestStore>(h: Harness<S>) {
    let handles = h.open_many(RACERS).await;
    take_race(&h, &handles).await;
}

async fn take_race<S: PushedRequestStore>(h: &Harness<S>, handles: &[Arc<S>]) {
    let (f, c) = (h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    for round in 0..ROUNDS {
        let pushed = f.pushed_request(&a, "client-1", c.at(0), c.at(60));
        let writer = &handles[round % handles.len()];
        writer
            .insert_pushed_request(&pushed)
            .await
            .must("insert_pushed_request");
        let (hash, now) = (pushed.hash, c.at(1));
        let outcomes = race(handles, |s, _| {
            let a = a.clone();
            async move {
                s.consume_pushed_request(&a, &hash, now)
                    .await
                    .must("consume_pushed_request")
            }
        })
        .await;
        let won: Vec<_> = outcomes.iter().flatten().collect();
        assert_eq!(won.len(), 1, "round {round}: exactly one winner");
        assert_eq!(won[0], &pushed, "round {round}: the winner gets the record");
    }
}
