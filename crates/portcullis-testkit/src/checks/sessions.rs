//! [`SessionStore`]: a session is found until it expires or is deleted, and never after;
//! signing a subject out everywhere spares every other subject and issuer.

use portcullis_core::SessionRecord;
use portcullis_store::SessionStore;

use super::races::{race, RACERS};
use super::{purged, Must};
use crate::{Fixtures, Harness};

/// Whether the store finds `record` through its own issuer at `+secs`.
async fn found<S: SessionStore>(h: &Harness<S>, s: &S, record: &SessionRecord, secs: u64) -> bool {
    let found = s
        .find_session(&record.issuer, &record.hash, h.clock().at(secs))
        .await
        .must("find_session");
    if let Some(r) = &found {
        assert_eq!(r, record, "find_session returns the session as inserted");
    }
    found.is_some()
}

/// A session is found as inserted, every field intact; an unknown hash is `None`; inserting
/// the same hash again fails and keeps the first.
pub async fn session_round_trip<S: SessionStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    let unknown = s.find_session(&a, &f.token_hash(), c.at(1)).await;
    assert_eq!(unknown.must("find_session"), None, "empty store");
    let session = f.session(&a, "alice", c.at(0), c.at(3_600));
    s.insert_session(&session).await.must("insert_session");
    assert!(found(&h, &s, &session, 1).await, "just inserted");
    let unknown = s.find_session(&a, &f.token_hash(), c.at(1)).await;
    assert_eq!(unknown.must("find_session"), None, "another hash");
    let copy = SessionRecord {
        subject: "mallory".into(),
        ..session.clone()
    };
    assert!(
        s.insert_session(&copy).await.is_err(),
        "a session is never overwritten"
    );
    assert!(found(&h, &s, &session, 2).await, "the first one is kept");
}

/// A session expired at `now` (`expires_at <= now`) is never found; one second before, it is.
pub async fn session_expires_at_its_expiry<S: SessionStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let session = f.session(&Fixtures::issuer(), "alice", c.at(0), c.at(100));
    s.insert_session(&session).await.must("insert_session");
    assert!(found(&h, &s, &session, 99).await, "at +99s");
    for t in [100, 101, 1_000_000] {
        assert!(!found(&h, &s, &session, t).await, "expired, at +{t}s");
    }
}

/// A deleted session is never found again, and deleting it again is `false`; the other
/// sessions, of the same subject too, are untouched.
pub async fn deleted_session_is_never_found<S: SessionStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    let (ended, other) = (
        f.session(&a, "alice", c.at(0), c.at(3_600)),
        f.session(&a, "alice", c.at(0), c.at(3_600)),
    );
    for session in [&ended, &other] {
        s.insert_session(session).await.must("insert_session");
    }
    let deleted = s.delete_session(&a, &ended.hash).await;
    assert!(deleted.must("delete_session"), "it existed");
    assert!(!found(&h, &s, &ended, 1).await, "deleted");
    let again = s.delete_session(&a, &ended.hash).await;
    assert!(!again.must("delete_session"), "deleted twice");
    let unknown = s.delete_session(&a, &f.token_hash()).await;
    assert!(!unknown.must("delete_session"), "unknown");
    assert!(
        found(&h, &s, &other, 1).await,
        "the subject's other session"
    );
}

/// A session of issuer A is not found, not deleted and not signed out through issuer B.
pub async fn sessions_are_scoped_by_issuer<S: SessionStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let session = f.session(&a, "alice", c.at(0), c.at(3_600));
    s.insert_session(&session).await.must("insert_session");
    let via_b = s.find_session(&b, &session.hash, c.at(1)).await;
    assert_eq!(via_b.must("find_session"), None, "found through B");
    let deleted = s.delete_session(&b, &session.hash).await;
    assert!(!deleted.must("delete_session"), "deleted through B");
    let everywhere = s.delete_sessions_of_subject(&b, "alice").await;
    assert_eq!(
        everywhere.must("delete_sessions_of_subject"),
        0,
        "B's alice"
    );
    assert!(found(&h, &s, &session, 1).await, "A's session survives B");
}

/// Signing `alice` out everywhere at A ends all her sessions there, and no one else's: not
/// bob's at A, not hers at B. It returns how many went; again, none.
pub async fn delete_sessions_of_subject_spares_the_others<S: SessionStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let hers = [
        f.session(&a, "alice", c.at(0), c.at(3_600)),
        f.session(&a, "alice", c.at(10), c.at(7_200)),
    ];
    let spared = [
        f.session(&a, "bob", c.at(0), c.at(3_600)),
        f.session(&b, "alice", c.at(0), c.at(3_600)),
        f.session(&a, "alice2", c.at(0), c.at(3_600)),
    ];
    for session in hers.iter().chain(&spared) {
        s.insert_session(session).await.must("insert_session");
    }
    let n = s.delete_sessions_of_subject(&a, "alice").await;
    assert_eq!(n.must("delete_sessions_of_subject"), 2, "alice's at A");
    for session in &hers {
        assert!(!found(&h, &s, session, 20).await, "signed out everywhere");
    }
    for session in &spared {
        assert!(
            found(&h, &s, session, 20).await,
            "{} at {} must survive",
            session.subject,
            session.issuer
        );
    }
    let again = s.delete_sessions_of_subject(&a, "alice").await;
    assert_eq!(again.must("delete_sessions_of_subject"), 0, "again");
    // A session begun after signing out everywhere is a new one, and lives.
    let later = f.session(&a, "alice", c.at(30), c.at(3_600));
    s.insert_session(&later).await.must("insert_session");
    assert!(found(&h, &s, &later, 31).await, "a later sign-in");
}

/// [`RACERS`] tasks, one handle each, race to delete one session: exactly one is told it
/// existed, and it is gone for every handle.
pub async fn racing_deletes_on_separate_handles<S: SessionStore>(h: Harness<S>) {
    let handles = h.open_many(RACERS).await;
    let (f, c) = (h.fixtures(), h.clock());
    let session = f.session(&Fixtures::issuer(), "alice", c.at(0), c.at(3_600));
    handles[0]
        .insert_session(&session)
        .await
        .must("insert_session");
    let hash = session.hash;
    let wins = race(&handles, move |s, _| async move {
        s.delete_session(&Fixtures::issuer(), &hash)
            .await
            .must("delete_session")
    })
    .await;
    assert_eq!(wins.iter().filter(|w| **w).count(), 1, "{wins:?}");
    for s in &handles[..4] {
        assert!(
            !found(&h, s, &session, 1).await,
            "deleted, for every handle"
        );
    }
}

/// `purge_expired` removes exactly the sessions (of every issuer) expired at `now`, and
/// returns how many.
pub async fn session_purge_expired<S: SessionStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let early = [
        f.session(&a, "alice", c.at(0), c.at(100)),
        f.session(&b, "alice", c.at(0), c.at(100)),
    ];
    let late = f.session(&a, "bob", c.at(0), c.at(200));
    for session in early.iter().chain([&late]) {
        s.insert_session(session).await.must("insert_session");
    }
    let purge = |secs| SessionStore::purge_expired(&*s, c.at(secs));
    purged(purge(99).await, 0, "nothing expired yet");
    purged(purge(100).await, 2, "A's and B's +100s sessions");
    assert!(found(&h, &s, &late, 150).await, "the +200s session");
    purged(purge(200).await, 1, "the +200s session");
    purged(purge(1_000_000).await, 0, "none left");
}
