//! [`ReplayCache`]: an id is fresh once per issuer and namespace until it expires, even
//! when [`RACERS`] tasks on handles of their own present it at once.

use std::sync::Arc;

use portcullis_core::{Issuer, TokenHash, UnixTime};
use portcullis_store::{ReplayCache, ReplayNamespace, ReplayOutcome};

use super::races::{race, RACERS, ROUNDS};
use super::{purged, Must};
use crate::{Fixtures, Harness};

use ReplayOutcome::{Fresh, Replayed};

/// The namespace most checks use.
const TICKETS: ReplayNamespace = ReplayNamespace::new("ticket");

/// Another namespace, to show that namespaces are independent.
const PROOFS: ReplayNamespace = ReplayNamespace::new("proof");

async fn check<S: ReplayCache>(
    s: &S,
    issuer: &Issuer,
    namespace: ReplayNamespace,
    id: &TokenHash,
    expires_at: UnixTime,
    now: UnixTime,
) -> ReplayOutcome {
    s.check_and_insert(issuer, namespace, id, expires_at, now)
        .await
        .must("check_and_insert")
}

/// The first `check_and_insert` of an id is `Fresh`; every later one is `Replayed` until the
/// id expires — through the same handle or another, and whatever expiry the later call
/// carries.
pub async fn an_id_is_fresh_once<S: ReplayCache>(h: Harness<S>) {
    let (one, two) = (h.open().await, h.open().await);
    let (a, id, c) = (Fixtures::issuer(), h.fixtures().token_hash(), h.clock());
    let first = check(&*one, &a, TICKETS, &id, c.at(60), c.at(0)).await;
    assert_eq!(first, Fresh, "first use");
    for (s, t) in [(&one, 0), (&two, 1), (&one, 30), (&two, 59)] {
        let again = check(&**s, &a, TICKETS, &id, c.at(600), c.at(t)).await;
        assert_eq!(again, Replayed, "replay at +{t}s");
    }
}

/// The same id under another namespace, or of another issuer, is a separate entry: fresh
/// once of its own, and using it leaves the others as they were.
pub async fn namespaces_and_issuers_are_independent<S: ReplayCache>(h: Harness<S>) {
    let s = h.open().await;
    let (a, b, c) = (Fixtures::issuer(), Fixtures::other_issuer(), h.clock());
    let id = h.fixtures().token_hash();
    let (expires, now) = (c.at(60), c.at(1));
    let entries = [(&a, TICKETS), (&a, PROOFS), (&b, TICKETS), (&b, PROOFS)];
    for (issuer, namespace) in entries {
        let what = format!("{issuer} / {}", namespace.as_str());
        let first = check(&*s, issuer, namespace, &id, expires, now).await;
        assert_eq!(first, Fresh, "{what}: first use");
        let again = check(&*s, issuer, namespace, &id, expires, now).await;
        assert_eq!(again, Replayed, "{what}: replay");
    }
    let other = h.fixtures().token_hash();
    let first = check(&*s, &a, TICKETS, &other, expires, now).await;
    assert_eq!(first, Fresh, "another id");
}

/// An entry expired at `now` (`expires_at <= now`) counts as absent: the id is fresh again,
/// once, and then replayed until its new expiry.
pub async fn an_expired_entry_is_fresh_again<S: ReplayCache>(h: Harness<S>) {
    let s = h.open().await;
    let (a, id, c) = (Fixtures::issuer(), h.fixtures().token_hash(), h.clock());
    assert_eq!(check(&*s, &a, TICKETS, &id, c.at(60), c.at(0)).await, Fresh);
    let renewed = check(&*s, &a, TICKETS, &id, c.at(120), c.at(60)).await;
    assert_eq!(renewed, Fresh, "at the first expiry");
    for t in [60, 119] {
        let again = check(&*s, &a, TICKETS, &id, c.at(600), c.at(t)).await;
        assert_eq!(again, Replayed, "at +{t}s, before the new expiry");
    }
    let later = check(&*s, &a, TICKETS, &id, c.at(600), c.at(120)).await;
    assert_eq!(later, Fresh, "at the new expiry");
}

/// An id that arrives expired (`expires_at <= now`) is `Replayed`, and nothing is recorded:
/// the same id with a live expiry is then fresh.
pub async fn an_id_expired_on_arrival_is_never_fresh<S: ReplayCache>(h: Harness<S>) {
    let s = h.open().await;
    let (a, id, c) = (Fixtures::issuer(), h.fixtures().token_hash(), h.clock());
    for expires in [5, 10] {
        let late = check(&*s, &a, TICKETS, &id, c.at(expires), c.at(10)).await;
        assert_eq!(late, Replayed, "expiring at {expires}, presented at 10");
    }
    let live = check(&*s, &a, TICKETS, &id, c.at(11), c.at(10)).await;
    assert_eq!(live, Fresh, "the same id, live");
}

/// `purge_expired` removes exactly the entries (of every issuer and namespace) expired at
/// `now`; the others stay and keep refusing their ids.
pub async fn replay_purge_expired<S: ReplayCache>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let (early, late) = (f.token_hash(), f.token_hash());
    let entries = [
        (&a, TICKETS, &early, 10),
        (&b, PROOFS, &early, 10),
        (&a, TICKETS, &late, 20),
    ];
    for (issuer, namespace, id, expires) in entries {
        let first = check(&*s, issuer, namespace, id, c.at(expires), c.at(0)).await;
        assert_eq!(first, Fresh);
    }
    purged(
        ReplayCache::purge_expired(&*s, c.at(9)).await,
        0,
        "none expired",
    );
    purged(
        ReplayCache::purge_expired(&*s, c.at(10)).await,
        2,
        "at expiry",
    );
    purged(ReplayCache::purge_expired(&*s, c.at(10)).await, 0, "again");
    let kept = check(&*s, &a, TICKETS, &late, c.at(600), c.at(15)).await;
    assert_eq!(kept, Replayed, "a live entry survives the purge");
    purged(
        ReplayCache::purge_expired(&*s, c.at(20)).await,
        1,
        "the rest",
    );
}

/// [`RACERS`] tasks sharing one handle present one id at once: exactly one `Fresh` — for a
/// new id, and again when the entry has expired.
pub async fn racing_replay_checks_on_one_handle<S: ReplayCache>(h: Harness<S>) {
    let handles = vec![h.open().await];
    replay_race(&h, &handles).await;
}

/// [`RACERS`] tasks with a handle each (as separate processes would have) present one id at
/// once: exactly one `Fresh` — for a new id, and again when the entry has expired.
pub async fn racing_replay_checks_on_separate_handles<S: ReplayCache>(h: Harness<S>) {
    let handles = h.open_many(RACERS).await;
    replay_race(&h, &handles).await;
}

async fn replay_race<S: ReplayCache>(h: &Harness<S>, handles: &[Arc<S>]) {
    let (a, c) = (Fixtures::issuer(), h.clock());
    for round in 0..ROUNDS {
        let id = h.fixtures().token_hash();
        // A new id, then the same id once its entry has expired.
        for (expires, now) in [(60, 1), (120, 60)] {
            let (expires, now) = (c.at(expires), c.at(now));
            let outcomes = race(handles, |s, _| {
                let a = a.clone();
                async move { check(&*s, &a, TICKETS, &id, expires, now).await }
            })
            .await;
            let fresh = outcomes.iter().filter(|o| **o == Fresh).count();
            assert_eq!(
                fresh, 1,
                "round {round}, at {now:?}: exactly one fresh: {outcomes:?}"
            );
        }
    }
}
