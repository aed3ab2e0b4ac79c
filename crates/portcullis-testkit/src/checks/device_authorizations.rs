//! [`DeviceAuthorizationStore`]: found by user code while it awaits the user, answered
//! once, each poll seeing the one before, and taken once when approved (RFC 8628).

use std::sync::Arc;

use portcullis_core::{DeviceAuthorizationRecord, DeviceStatus, UnixTime};
use portcullis_store::{DeviceAuthorizationStore, DeviceInsertOutcome};

use super::races::{race, RACERS, ROUNDS};
use super::{purged, Must};
use crate::{Fixtures, Harness};

async fn insert<S: DeviceAuthorizationStore>(s: &S, record: &DeviceAuthorizationRecord) {
    let outcome = s
        .insert_device_authorization(record)
        .await
        .must("insert_device_authorization");
    assert_eq!(
        outcome,
        DeviceInsertOutcome::Inserted,
        "a new authorization"
    );
}

async fn find<S: DeviceAuthorizationStore>(
    s: &S,
    record: &DeviceAuthorizationRecord,
    now: UnixTime,
) -> Option<DeviceAuthorizationRecord> {
    s.find_device_authorization_by_user_code(&record.issuer, &record.user_code_hash, now)
        .await
        .must("find_device_authorization_by_user_code")
}

async fn poll<S: DeviceAuthorizationStore>(
    s: &S,
    record: &DeviceAuthorizationRecord,
    now: UnixTime,
) -> Option<DeviceAuthorizationRecord> {
    s.poll_device_authorization(&record.issuer, &record.hash, now)
        .await
        .must("poll_device_authorization")
}

async fn take<S: DeviceAuthorizationStore>(
    s: &S,
    record: &DeviceAuthorizationRecord,
    now: UnixTime,
) -> Option<DeviceAuthorizationRecord> {
    s.take_device_authorization(&record.issuer, &record.hash, now)
        .await
        .must("take_device_authorization")
}

/// A pending authorization is found by its user code, every field intact, until it
/// expires; an unknown user code, or another issuer, finds nothing; a second insert of its
/// user code (any issuer's) is `UserCodeTaken` and stores nothing, of its device code an
/// error.
pub async fn device_authorization_round_trip<S: DeviceAuthorizationStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let d = f.device_authorization(&a, "tv", c.at(0), c.at(600));
    insert(&*s, &d).await;
    assert_eq!(find(&*s, &d, c.at(1)).await, Some(d.clone()), "as inserted");
    assert_eq!(
        find(&*s, &d, c.at(599)).await,
        Some(d.clone()),
        "before expiry"
    );
    assert_eq!(find(&*s, &d, c.at(600)).await, None, "at its expiry");
    let unknown = s
        .find_device_authorization_by_user_code(&a, &f.token_hash(), c.at(1))
        .await;
    assert_eq!(unknown.must("find_device_authorization_by_user_code"), None);
    let via_b = s
        .find_device_authorization_by_user_code(&b, &d.user_code_hash, c.at(1))
        .await;
    assert_eq!(
        via_b.must("find_device_authorization_by_user_code"),
        None,
        "B's"
    );
    for issuer in [&a, &b] {
        let same_user_code = DeviceAuthorizationRecord {
            hash: f.token_hash(),
            issuer: issuer.clone(),
            client_id: "other".into(),
            ..d.clone()
        };
        let taken = s.insert_device_authorization(&same_user_code).await;
        assert_eq!(
            taken.must("insert_device_authorization"),
            DeviceInsertOutcome::UserCodeTaken,
            "a user code is unique"
        );
        let polled = s
            .poll_device_authorization(issuer, &same_user_code.hash, c.at(1))
            .await;
        assert_eq!(polled.must("poll_device_authorization"), None, "not stored");
    }
    assert_eq!(find(&*s, &d, c.at(1)).await, Some(d.clone()), "kept as is");
    let same_device_code = DeviceAuthorizationRecord {
        user_code_hash: f.token_hash(),
        ..d.clone()
    };
    assert!(
        s.insert_device_authorization(&same_device_code)
            .await
            .is_err(),
        "a device code is unique"
    );
}

/// The user answers once: an approval stores its code record, a later answer (approval or
/// denial) changes nothing, and an answered authorization is no longer found by user code.
/// An expired one, or another issuer's, cannot be answered.
pub async fn device_authorization_is_answered_once<S: DeviceAuthorizationStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let d = f.device_authorization(&a, "tv", c.at(0), c.at(600));
    let approval = f.device_approval(&d, "alice");
    insert(&*s, &d).await;
    let user_code = &d.user_code_hash;
    let via_b = s
        .answer_device_authorization(&b, user_code, None, c.at(1))
        .await;
    assert!(
        !via_b.must("answer_device_authorization"),
        "through another issuer"
    );
    let first = s
        .answer_device_authorization(&a, user_code, Some(&approval), c.at(1))
        .await;
    assert!(
        first.must("answer_device_authorization"),
        "the first answer"
    );
    let denial = s
        .answer_device_authorization(&a, user_code, None, c.at(2))
        .await;
    assert!(
        !denial.must("answer_device_authorization"),
        "a second answer"
    );
    let again = s
        .answer_device_authorization(&a, user_code, Some(&approval), c.at(2))
        .await;
    assert!(
        !again.must("answer_device_authorization"),
        "a second approval"
    );
    assert_eq!(find(&*s, &d, c.at(2)).await, None, "answered");
    let polled = poll(&*s, &d, c.at(3)).await.expect("still there");
    assert_eq!(polled.status, DeviceStatus::Approved(Box::new(approval)));
    let late = f.device_authorization(&a, "tv", c.at(0), c.at(600));
    insert(&*s, &late).await;
    let user_code = late.user_code_hash;
    let expired = s
        .answer_device_authorization(&a, &user_code, None, c.at(600))
        .await;
    assert!(
        !expired.must("answer_device_authorization"),
        "at its expiry"
    );
    let denied = s
        .answer_device_authorization(&a, &user_code, None, c.at(599))
        .await;
    assert!(denied.must("answer_device_authorization"), "a denial");
    let polled = poll(&*s, &late, c.at(599)).await.expect("still there");
    assert_eq!(polled.status, DeviceStatus::Denied);
}

/// Each poll returns the record as it was before it and stores
/// [`DeviceAuthorizationRecord::polled`]: the time of the poll, and the interval raised
/// after a poll too soon. An expired record is returned but not changed; an unknown device
/// code, or another issuer's, is `None`.
pub async fn device_polls_are_recorded<S: DeviceAuthorizationStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let d = f.device_authorization(&a, "tv", c.at(0), c.at(600));
    insert(&*s, &d).await;
    assert_eq!(poll(&*s, &d, c.at(10)).await, Some(d.clone()), "first poll");
    let first = d.polled(c.at(10));
    assert_eq!(
        poll(&*s, &d, c.at(12)).await,
        Some(first.clone()),
        "too soon"
    );
    let second = first.polled(c.at(12));
    assert_eq!(second.interval, 10, "slowed down");
    assert_eq!(poll(&*s, &d, c.at(30)).await, Some(second.clone()));
    let third = second.polled(c.at(30));
    assert_eq!(
        poll(&*s, &d, c.at(600)).await,
        Some(third.clone()),
        "expired"
    );
    assert_eq!(poll(&*s, &d, c.at(601)).await, Some(third), "unchanged");
    let via_b = s.poll_device_authorization(&b, &d.hash, c.at(31)).await;
    assert_eq!(via_b.must("poll_device_authorization"), None, "B's");
    let unknown = s
        .poll_device_authorization(&a, &f.token_hash(), c.at(31))
        .await;
    assert_eq!(unknown.must("poll_device_authorization"), None, "unknown");
}

/// Only an approved, unexpired authorization is taken, by its own issuer, once; it is then
/// gone (polls find nothing).
pub async fn approved_device_authorization_is_taken_once<S: DeviceAuthorizationStore>(
    h: Harness<S>,
) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let d = f.device_authorization(&a, "tv", c.at(0), c.at(600));
    insert(&*s, &d).await;
    assert_eq!(take(&*s, &d, c.at(1)).await, None, "pending");
    let approval = f.device_approval(&d, "alice");
    let answered = s
        .answer_device_authorization(&a, &d.user_code_hash, Some(&approval), c.at(1))
        .await;
    assert!(answered.must("answer_device_authorization"));
    let via_b = s.take_device_authorization(&b, &d.hash, c.at(2)).await;
    assert_eq!(via_b.must("take_device_authorization"), None, "B's");
    assert_eq!(take(&*s, &d, c.at(600)).await, None, "at its expiry");
    let taken = take(&*s, &d, c.at(2)).await.expect("approved");
    assert_eq!(taken.status, DeviceStatus::Approved(Box::new(approval)));
    assert_eq!(take(&*s, &d, c.at(3)).await, None, "taken before");
    assert_eq!(poll(&*s, &d, c.at(3)).await, None, "gone");
    let denied = f.device_authorization(&a, "tv", c.at(0), c.at(600));
    insert(&*s, &denied).await;
    let answered = s
        .answer_device_authorization(&a, &denied.user_code_hash, None, c.at(1))
        .await;
    assert!(answered.must("answer_device_authorization"));
    assert_eq!(take(&*s, &denied, c.at(2)).await, None, "denied");
}

/// `purge_expired` removes exactly the device authorizations (of every issuer, in any
/// state) expired at `now`, and returns how many.
pub async fn device_authorization_purge_expired<S: DeviceAuthorizationStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let early = [
        f.device_authorization(&a, "tv", c.at(0), c.at(100)),
        f.device_authorization(&b, "tv", c.at(0), c.at(100)),
    ];
    let late = f.device_authorization(&a, "tv", c.at(0), c.at(200));
    for d in early.iter().chain([&late]) {
        insert(&*s, d).await;
    }
    let purge = |secs| DeviceAuthorizationStore::purge_expired(&*s, c.at(secs));
    purged(purge(99).await, 0, "nothing expired yet");
    purged(purge(100).await, 2, "A's and B's +100s authorizations");
    assert_eq!(find(&*s, &late, c.at(150)).await, Some(late.clone()));
    purged(purge(1_000_000).await, 1, "the +200s authorization");
    purged(purge(1_000_000).await, 0, "none left");
}

/// [`RACERS`] tasks on one handle poll and take one approved authorization at once: exactly
/// one takes it.
pub async fn racing_device_takers_on_one_handle<S: DeviceAuthorizationStore>(h: Harness<S>) {
    let handles = vec![h.open().await];
    take_race(&h, &handles).await;
}

/// [`RACERS`] tasks with a handle each poll and take one approved authorization at once:
/// exactly one takes it (the device code is redeemed once, RFC 8628 §3.5).
pub async fn racing_device_takers_on_separate_handles<S: DeviceAuthorizationStore>(h: Harness<S>) {
    let handles = h.open_many(RACERS).await;
    take_race(&h, &handles).await;
}

/// [`RACERS`] tasks with a handle each poll one pending authorization at once: each sees
/// the poll before it, so exactly one sees it never polled.
pub async fn racing_device_polls_on_separate_handles<S: DeviceAuthorizationStore>(h: Harness<S>) {
    let handles = h.open_many(RACERS).await;
    let (f, c) = (h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    for round in 0..ROUNDS {
        let d = f.device_authorization(&a, "tv", c.at(0), c.at(600));
        insert(&*handles[round % handles.len()], &d).await;
        let (hash, now) = (d.hash, c.at(10));
        let outcomes = race(&handles, |s, _| {
            let a = a.clone();
            async move {
                s.poll_device_authorization(&a, &hash, now)
                    .await
                    .must("poll_device_authorization")
                    .expect("found")
            }
        })
        .await;
        let first = outcomes
            .iter()
            .filter(|r| r.last_polled_at.is_none())
            .count();
        assert_eq!(first, 1, "round {round}: exactly one first poll");
        let slowed = outcomes.iter().map(|r| r.interval).max();
        assert_eq!(
            slowed,
            Some(5 + 5 * (RACERS as u64 - 2)),
            "round {round}: every later poll slowed down once"
        );
    }
}

/// [`RACERS`] tasks with a handle each insert authorizations with one user code (and
/// device codes of their own) at once: exactly one is stored, the others are told the user
/// code is taken.
pub async fn racing_device_inserts_on_separate_handles<S: DeviceAuthorizationStore>(h: Harness<S>) {
    let handles = h.open_many(RACERS).await;
    let (f, c) = (h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    for round in 0..ROUNDS {
        let d = f.device_authorization(&a, "tv", c.at(0), c.at(600));
        let records: Vec<_> = (0..RACERS)
            .map(|_| DeviceAuthorizationRecord {
                hash: f.token_hash(),
                ..d.clone()
            })
            .collect();
        let outcomes = race(&handles, |s, i| {
            let record = records[i].clone();
            async move {
                s.insert_device_authorization(&record)
                    .await
                    .must("insert_device_authorization")
            }
        })
        .await;
        let stored: Vec<_> = (0..RACERS)
            .filter(|&i| outcomes[i] == DeviceInsertOutcome::Inserted)
            .collect();
        assert_eq!(stored.len(), 1, "round {round}: exactly one stored");
        let found = find(&*handles[0], &d, c.at(1)).await.map(|r| r.hash);
        assert_eq!(
            found,
            Some(records[stored[0]].hash),
            "round {round}: the winner's"
        );
    }
}

async fn take_race<S: DeviceAuthorizationStore>(h: &Harness<S>, handles: &[Arc<S>]) {
    let (f, c) = (h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    for round in 0..ROUNDS {
        let d = f.device_authorization(&a, "tv", c.at(0), c.at(600));
        let writer = &handles[round % handles.len()];
        insert(&**writer, &d).await;
        let approval = f.device_approval(&d, "alice");
        let answered = writer
            .answer_device_authorization(&a, &d.user_code_hash, Some(&approval), c.at(1))
            .await;
        assert!(answered.must("answer_device_authorization"));
        let (hash, now) = (d.hash, c.at(20));
        let outcomes = race(handles, |s, _| {
            let a = a.clone();
            async move {
                let polled = s
                    .poll_device_authorization(&a, &hash, now)
                    .await
                    .must("poll_device_authorization");
                match polled {
                    Some(_) => s
                        .take_device_authorization(&a, &hash, now)
                        .await
                        .must("take_device_authorization"),
                    None => None,
                }
            }
        })
        .await;
        let won: Vec<_> = outcomes.iter().flatten().collect();
        assert_eq!(won.len(), 1, "round {round}: exactly one winner");
        assert_eq!(
            won[0].status,
            DeviceStatus::Approved(Box::new(approval)),
            "round {round}: the winner gets the approval"
        );
    }
}
