//! [`GrantStore`]: grants — what one subject gave one client, the unit a user revokes — and
//! the purge of grants and family revocation markers. (Revocation's effect on tokens is
//! [`super::revocation`]'s.)

use portcullis_core::Grant;
use portcullis_store::GrantStore;

use super::races::{race, RACERS, ROUNDS};
use super::{purged, sorted, Must};
use crate::{Fixtures, Harness};

fn by_id(grants: Vec<Grant>) -> Vec<Grant> {
    sorted(grants, |g| g.id.clone())
}

/// `save_grant` then `find_grant` gives back the grant as saved; an unknown id and another
/// issuer's grant are `None`.
pub async fn grant_round_trip<S: GrantStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let grant = f.grant(&a, "alice", "client-1", c.at(0), c.at(1_000));
    s.save_grant(&grant).await.must("save_grant");
    let found = s.find_grant(&a, &grant.id).await.must("find_grant");
    assert_eq!(found, Some(grant.clone()), "the grant as saved");
    let unknown = s.find_grant(&a, &f.grant_id()).await.must("find_grant");
    assert_eq!(unknown, None, "an unknown grant id");
    let via_b = s.find_grant(&b, &grant.id).await.must("find_grant");
    assert_eq!(via_b, None, "issuer B must not see issuer A's grant");
}

/// `save_grant` on an existing id replaces the grant ("inserts or replaces"), and the
/// listings hold it once.
pub async fn grant_save_replaces<S: GrantStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    let grant = f.grant(&a, "alice", "client-1", c.at(0), c.at(1_000));
    s.save_grant(&grant).await.must("save_grant");
    let mut touched = grant.clone();
    touched.last_used_at = c.at(500);
    touched.expires_at = c.at(2_000);
    touched.scopes = portcullis_core::ScopeSet::parse("openid").expect("scope");
    s.save_grant(&touched).await.must("save_grant");
    let found = s.find_grant(&a, &grant.id).await.must("find_grant");
    assert_eq!(
        found,
        Some(touched.clone()),
        "the second save replaced the first"
    );
    let listed = s
        .grants_for(&a, "alice", "client-1")
        .await
        .must("grants_for");
    assert_eq!(listed, vec![touched.clone()], "listed once");
    let of_subject = s
        .grants_of_subject(&a, "alice")
        .await
        .must("grants_of_subject");
    assert_eq!(of_subject, vec![touched], "listed once");
}

/// `grants_for` lists exactly the grants of one subject to one client at one issuer, and
/// `grants_of_subject` those of one subject to any client at one issuer — revoked ones
/// included, other issuers' never.
pub async fn grants_are_listed_by_subject_and_client<S: GrantStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let g = |issuer, subject, client| f.grant(issuer, subject, client, c.at(0), c.at(1_000));
    let mut revoked = g(&a, "alice", "c1");
    let (alice_c1, alice_c2) = (g(&a, "alice", "c1"), g(&a, "alice", "c2"));
    let (bob_c1, alice_c1_at_b) = (g(&a, "bob", "c1"), g(&b, "alice", "c1"));
    for grant in [&alice_c1, &revoked, &alice_c2, &bob_c1, &alice_c1_at_b] {
        s.save_grant(grant).await.must("save_grant");
    }
    assert!(s.revoke_grant(&a, &revoked.id).await.must("revoke_grant"));
    revoked.revoked = true;

    let listed = s.grants_for(&a, "alice", "c1").await.must("grants_for");
    let want = by_id(vec![alice_c1.clone(), revoked.clone()]);
    assert_eq!(
        by_id(listed),
        want,
        "alice's grants to c1 at A, revoked included"
    );
    let listed = s
        .grants_of_subject(&a, "alice")
        .await
        .must("grants_of_subject");
    let want = by_id(vec![alice_c1, revoked, alice_c2]);
    assert_eq!(by_id(listed), want, "alice's grants at A");
    let listed = s.grants_for(&b, "alice", "c1").await.must("grants_for");
    assert_eq!(
        listed,
        vec![alice_c1_at_b.clone()],
        "alice's grants to c1 at B"
    );
    let listed = s
        .grants_of_subject(&b, "alice")
        .await
        .must("grants_of_subject");
    assert_eq!(listed, vec![alice_c1_at_b], "alice's grants at B");
    let listed = s.grants_for(&a, "bob", "c2").await.must("grants_for");
    assert_eq!(listed, Vec::new(), "bob gave c2 nothing");
    let listed = s
        .grants_of_subject(&a, "carol")
        .await
        .must("grants_of_subject");
    assert_eq!(listed, Vec::new(), "carol gave nothing");
}

/// `revoke_grant` marks the grant revoked (and only that), is idempotent, is `false` for an
/// unknown grant, issuer B cannot revoke issuer A's grant, and saving a stale copy never
/// un-revokes it.
pub async fn revoke_grant_marks_it_revoked<S: GrantStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let grant = f.grant(&a, "alice", "client-1", c.at(0), c.at(1_000));
    let other = f.grant(&a, "alice", "client-2", c.at(0), c.at(1_000));
    s.save_grant(&grant).await.must("save_grant");
    s.save_grant(&other).await.must("save_grant");

    assert!(
        !s.revoke_grant(&b, &grant.id).await.must("revoke_grant"),
        "via B"
    );
    let found = s.find_grant(&a, &grant.id).await.must("find_grant");
    assert_eq!(found, Some(grant.clone()), "B's attempt changed nothing");

    assert!(s.revoke_grant(&a, &grant.id).await.must("revoke_grant"));
    let revoked = Grant {
        revoked: true,
        ..grant.clone()
    };
    let found = s.find_grant(&a, &grant.id).await.must("find_grant");
    assert_eq!(found, Some(revoked.clone()), "revoked, otherwise unchanged");
    assert!(
        s.revoke_grant(&a, &grant.id).await.must("revoke_grant"),
        "idempotent"
    );
    let found = s.find_grant(&a, &grant.id).await.must("find_grant");
    assert_eq!(found, Some(revoked.clone()), "still revoked");
    // A copy read before the revocation, saved afterwards (recording a use), never brings
    // the grant back (the trait's `save_grant` contract).
    let stale = Grant {
        last_used_at: c.at(5),
        ..grant.clone()
    };
    s.save_grant(&stale).await.must("save_grant");
    let found = s.find_grant(&a, &grant.id).await.must("find_grant");
    assert!(
        found.is_some_and(|g| g.revoked),
        "a stale save un-revoked the grant"
    );
    let found = s.find_grant(&a, &other.id).await.must("find_grant");
    assert_eq!(found, Some(other), "another grant untouched");
    let unknown = s.revoke_grant(&a, &f.grant_id()).await.must("revoke_grant");
    assert!(!unknown, "an unknown grant");
}

/// A saved grant of alice's at issuer A, living until +10 000 s.
pub(super) async fn saved_grant<S: GrantStore>(h: &Harness<S>, s: &S) -> Grant {
    let (f, c) = (h.fixtures(), h.clock());
    let grant = f.grant(
        &Fixtures::issuer(),
        "alice",
        "client-1",
        c.at(0),
        c.at(10_000),
    );
    s.save_grant(&grant).await.must("save_grant");
    grant
}

/// Saving a copy of a grant read before its revocation (a concurrent touch recording a use)
/// keeps the grant revoked and saves the rest of the copy (`GrantStore::save_grant`).
pub async fn a_stale_save_keeps_the_revocation_and_saves_the_rest<S: GrantStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    let grant = f.grant(&a, "alice", "client-1", c.at(0), c.at(100));
    s.save_grant(&grant).await.must("save_grant");
    let stale = s.find_grant(&a, &grant.id).await.must("find_grant");
    let stale = stale.expect("the grant as saved");
    assert!(s.revoke_grant(&a, &grant.id).await.must("revoke_grant"));
    let touched = Grant {
        last_used_at: c.at(50),
        ..stale
    };
    s.save_grant(&touched).await.must("save_grant");
    let found = s.find_grant(&a, &grant.id).await.must("find_grant");
    let want = Grant {
        revoked: true,
        ..touched
    };
    assert_eq!(found, Some(want), "still revoked, the rest saved");
}

/// `purge_expired` removes exactly the grants (revoked or not) and family revocation
/// markers, of every issuer, that expired at `now`, and returns how many went.
pub async fn grant_purge_expired<S: GrantStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let grant = f.grant(&a, "alice", "client-1", c.at(0), c.at(400));
    let revoked = f.grant(&a, "bob", "client-1", c.at(0), c.at(400));
    let grant_b = f.grant(&b, "alice", "client-1", c.at(0), c.at(400));
    for g in [&grant, &revoked, &grant_b] {
        s.save_grant(g).await.must("save_grant");
    }
    assert!(s.revoke_grant(&a, &revoked.id).await.must("revoke_grant"));
    s.revoke_family(&a, &f.family_id(), c.at(300))
        .await
        .must("revoke_family");
    s.revoke_family(&b, &f.family_id(), c.at(300))
        .await
        .must("revoke_family");

    let purge = |secs| GrantStore::purge_expired(&*s, c.at(secs));
    purged(purge(299).await, 0, "nothing expired yet");
    purged(purge(300).await, 2, "A's and B's family markers");
    let found = s.find_grant(&a, &grant.id).await.must("find_grant");
    assert_eq!(found, Some(grant.clone()), "the grant lives until +400s");
    purged(
        purge(400).await,
        3,
        "the grants, revoked or not, of A and B",
    );
    for (issuer, id) in [(&a, &grant.id), (&a, &revoked.id), (&b, &grant_b.id)] {
        let found = s.find_grant(issuer, id).await.must("find_grant");
        assert_eq!(found, None, "purged");
    }
    let listed = s.grants_of_subject(&a, "alice").await;
    assert_eq!(
        listed.must("grants_of_subject"),
        Vec::new(),
        "no longer listed"
    );
    purged(purge(1_000_000).await, 0, "none left");
}

/// `touch_grant` records the use (`last_used_at`) and keeps the later expiry, in the record
/// `find_grant` returns and in what `purge_expired` sees; it touches neither a revoked grant
/// (nor brings it back), an unknown one, nor another issuer's.
pub async fn touch_grant_records_use_of_live_grants_only<S: GrantStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let grant = f.grant(&a, "alice", "client-1", c.at(0), c.at(1_000));
    s.save_grant(&grant).await.must("save_grant");
    let touched = s.touch_grant(&a, &grant.id, c.at(100), c.at(2_000));
    assert!(touched.await.must("touch_grant"), "a live grant is touched");
    let mut want = grant.clone();
    want.last_used_at = c.at(100);
    want.expires_at = c.at(2_000);
    let found = s.find_grant(&a, &grant.id).await.must("find_grant");
    assert_eq!(found, Some(want.clone()), "used at 100, extended to 2000");

    let touched = s.touch_grant(&a, &grant.id, c.at(200), c.at(1_500));
    assert!(touched.await.must("touch_grant"), "touched again");
    want.last_used_at = c.at(200);
    let found = s.find_grant(&a, &grant.id).await.must("find_grant");
    assert_eq!(
        found,
        Some(want.clone()),
        "an earlier expiry never shortens it"
    );
    purged(
        s.purge_expired(c.at(1_999)).await,
        0,
        "the grant lives to 2000",
    );

    let via_b = s.touch_grant(&b, &grant.id, c.at(300), c.at(3_000));
    assert!(!via_b.await.must("touch_grant"), "another issuer's grant");
    let other_id = f.grant_id();
    let unknown = s.touch_grant(&a, &other_id, c.at(300), c.at(3_000));
    assert!(!unknown.await.must("touch_grant"), "an unknown grant");
    let found = s.find_grant(&a, &grant.id).await.must("find_grant");
    assert_eq!(found, Some(want.clone()), "untouched by the misses");

    assert!(s.revoke_grant(&a, &grant.id).await.must("revoke_grant"));
    want.revoked = true;
    let revoked = s.touch_grant(&a, &grant.id, c.at(400), c.at(4_000));
    assert!(!revoked.await.must("touch_grant"), "a revoked grant");
    let found = s.find_grant(&a, &grant.id).await.must("find_grant");
    assert_eq!(
        found,
        Some(want),
        "a revoked grant stays revoked and untouched"
    );
    purged(
        s.purge_expired(c.at(2_000)).await,
        1,
        "the grant expired at 2000",
    );
}

/// [`RACERS`] tasks with a handle each touch one grant with different expiries while one
/// revokes it: the grant ends revoked, and its expiry is at least the latest one a touch
/// that returned `true` asked for.
pub async fn racing_touches_on_separate_handles<S: GrantStore>(h: Harness<S>) {
    let handles = h.open_many(RACERS).await;
    let (f, c) = (h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    for round in 0..ROUNDS {
        let grant = f.grant(&a, "alice", "client-1", c.at(0), c.at(1_000));
        handles[round % handles.len()]
            .save_grant(&grant)
            .await
            .must("save_grant");
        let revoker = RACERS / 2 + round;
        let outcomes = race(&handles, |s, i| {
            let (a, id) = (a.clone(), grant.id.clone());
            let (now, until) = (c.at(10), c.at(2_000 + i as u64));
            async move {
                if i == revoker {
                    s.revoke_grant(&a, &id).await.must("revoke_grant");
                    false
                } else {
                    s.touch_grant(&a, &id, now, until).await.must("touch_grant")
                }
            }
        })
        .await;
        let found = handles[0]
            .find_grant(&a, &grant.id)
            .await
            .must("find_grant");
        let found = found.expect("the grant is still stored");
        assert!(
            found.revoked,
            "round {round}: a touch brought the grant back"
        );
        let latest = (0..RACERS).filter(|&i| outcomes[i]).max();
        if let Some(i) = latest {
            assert!(
                found.expires_at >= c.at(2_000 + i as u64),
                "round {round}: a touch's expiry was lost: {found:?}"
            );
        }
    }
}
