//! Revocation composes across [`GrantStore`], [`AccessTokenStore`] and
//! [`RefreshTokenStore`]: a token is dead when it, its family (RFC 9700 §4.14.2: a reused
//! refresh token or code revokes its family) or its grant is revoked — including a token
//! inserted after the revocation.

use std::sync::Arc;

use portcullis_core::{AccessTokenRecord, FamilyId, Grant, RefreshTokenRecord};
use portcullis_store::{
    AccessTokenStore, GrantStore, RefreshState, RefreshTokenStore, RotateOutcome,
};

use super::access_tokens::access;
use super::grants::saved_grant;
use super::races::{race, RACERS, ROUNDS};
use super::refresh_tokens::{refresh_state, stored};
use super::Must;
use crate::{Fixtures, Harness};

/// Everything a revocation must kill, checked through `find_*` and `rotate_refresh_token`.
struct Victims {
    access: AccessTokenRecord,
    refresh: RefreshTokenRecord,
}

impl Victims {
    async fn insert<S: GrantStore + AccessTokenStore + RefreshTokenStore>(
        h: &Harness<S>,
        s: &S,
        grant: &Grant,
        family: &FamilyId,
    ) -> Self {
        let (f, c) = (h.fixtures(), h.clock());
        let v = Self {
            access: f.access_token(grant, family, c.at(0), c.at(600)),
            refresh: f.refresh_token(grant, family, c.at(0), c.at(6_000)),
        };
        s.insert_access_token(&v.access)
            .await
            .must("insert_access_token");
        s.insert_refresh_token(&v.refresh)
            .await
            .must("insert_refresh_token");
        v
    }

    async fn assert_live<S: GrantStore + AccessTokenStore + RefreshTokenStore>(
        &self,
        s: &S,
        what: &str,
    ) {
        let a = Fixtures::issuer();
        assert!(
            access(s, &a, &self.access).await,
            "{what}: access token lives"
        );
        let state = refresh_state(s, &a, &self.refresh).await;
        assert_eq!(
            state,
            Some(RefreshState::Active),
            "{what}: refresh token lives"
        );
    }

    async fn assert_dead<S: GrantStore + AccessTokenStore + RefreshTokenStore>(
        &self,
        h: &Harness<S>,
        s: &S,
        what: &str,
    ) {
        let a = Fixtures::issuer();
        assert!(
            !access(s, &a, &self.access).await,
            "{what}: access token dead"
        );
        let state = refresh_state(s, &a, &self.refresh).await;
        assert_eq!(
            state,
            Some(RefreshState::Revoked),
            "{what}: refresh token revoked"
        );
        let (f, c) = (h.fixtures(), h.clock());
        let grant = s
            .find_grant(&a, &self.refresh.grant_id)
            .await
            .must("find_grant");
        let grant = grant.expect("the grant is still stored");
        let successor = f.refresh_token(&grant, &self.refresh.family_id, c.at(1), c.at(600));
        let out = s
            .rotate_refresh_token(&a, &self.refresh.hash, &successor, None)
            .await;
        let want = RotateOutcome::AlreadyRotated {
            family_id: self.refresh.family_id.clone(),
        };
        assert_eq!(
            out.must("rotate_refresh_token"),
            want,
            "{what}: never rotates"
        );
        assert!(
            !stored(s, &successor.hash).await,
            "{what}: no successor stored"
        );
    }
}

/// `revoke_grant` kills every access and refresh token under the grant at once — including
/// tokens inserted after the revocation (a racing redemption) — and nothing else: another
/// grant's tokens and `client_credentials` tokens live on.
pub async fn revoked_grant_kills_its_tokens<
    S: GrantStore + AccessTokenStore + RefreshTokenStore,
>(
    h: Harness<S>,
) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    let (doomed, spared) = (saved_grant(&h, &s).await, saved_grant(&h, &s).await);
    let before = Victims::insert(&h, &*s, &doomed, &f.family_id()).await;
    let bystander = Victims::insert(&h, &*s, &spared, &f.family_id()).await;
    let service = f.client_access_token(&a, "client-1", c.at(0), c.at(600));
    s.insert_access_token(&service)
        .await
        .must("insert_access_token");
    before.assert_live(&*s, "before revocation").await;

    assert!(s.revoke_grant(&a, &doomed.id).await.must("revoke_grant"));
    before.assert_dead(&h, &*s, "revoked grant").await;
    let after = Victims::insert(&h, &*s, &doomed, &f.family_id()).await;
    after
        .assert_dead(&h, &*s, "inserted after the revocation")
        .await;
    bystander.assert_live(&*s, "another grant").await;
    assert!(
        access(&*s, &a, &service).await,
        "a client_credentials token lives"
    );
}

/// `revoke_grants_of_client` (a deleted client, RFC 7592 §2.3) revokes every grant of that
/// client at that issuer — every subject's, every token under them dead at once, as
/// `revoke_grant` — and nothing else: another client's grants and the same client id's
/// grants at another issuer live on; it counts what it revoked, and a second call revokes
/// nothing more.
pub async fn revoking_a_clients_grants_kills_its_tokens<
    S: GrantStore + AccessTokenStore + RefreshTokenStore,
>(
    h: Harness<S>,
) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let alice = saved_grant(&h, &s).await;
    let bob = f.grant(&a, "bob", "client-1", c.at(0), c.at(10_000));
    let other_client = f.grant(&a, "alice", "client-2", c.at(0), c.at(10_000));
    let at_b = f.grant(&b, "alice", "client-1", c.at(0), c.at(10_000));
    for g in [&bob, &other_client, &at_b] {
        s.save_grant(g).await.must("save_grant");
    }
    let mut already = f.grant(&a, "carol", "client-1", c.at(0), c.at(10_000));
    s.save_grant(&already).await.must("save_grant");
    assert!(s.revoke_grant(&a, &already.id).await.must("revoke_grant"));
    already.revoked = true;
    let victims = [
        Victims::insert(&h, &*s, &alice, &f.family_id()).await,
        Victims::insert(&h, &*s, &bob, &f.family_id()).await,
    ];
    let bystander = Victims::insert(&h, &*s, &other_client, &f.family_id()).await;

    let n = s.revoke_grants_of_client(&a, "client-1").await;
    assert_eq!(
        n.must("revoke_grants_of_client"),
        2,
        "alice's and bob's grants"
    );
    for (v, who) in victims.iter().zip(["alice", "bob"]) {
        v.assert_dead(&h, &*s, &format!("{who}'s grant of the deleted client"))
            .await;
    }
    bystander.assert_live(&*s, "another client's grant").await;
    let kept = s.find_grant(&b, &at_b.id).await.must("find_grant");
    assert_eq!(
        kept,
        Some(at_b),
        "issuer B's grant of the same client id lives"
    );
    let kept = s.find_grant(&a, &other_client.id).await.must("find_grant");
    assert_eq!(kept, Some(other_client), "another client's grant lives");
    let again = s.revoke_grants_of_client(&a, "client-1").await;
    assert_eq!(
        again.must("revoke_grants_of_client"),
        0,
        "nothing left to revoke"
    );
    let found = s.find_grant(&a, &already.id).await.must("find_grant");
    assert_eq!(found, Some(already), "a revoked grant stays revoked");
}

/// `revoke_family` kills every token of the family — including tokens inserted after it —
/// and nothing else: the grant stays unrevoked and its other families live on. It is
/// idempotent: a second call, even with an earlier `until`, keeps the family dead.
pub async fn revoked_family_kills_its_tokens<
    S: GrantStore + AccessTokenStore + RefreshTokenStore,
>(
    h: Harness<S>,
) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    let grant = saved_grant(&h, &s).await;
    let (doomed, spared) = (f.family_id(), f.family_id());
    let before = Victims::insert(&h, &*s, &grant, &doomed).await;
    let sibling = Victims::insert(&h, &*s, &grant, &spared).await;
    before.assert_live(&*s, "before revocation").await;

    s.revoke_family(&a, &doomed, c.at(7_000))
        .await
        .must("revoke_family");
    before.assert_dead(&h, &*s, "revoked family").await;
    let after = Victims::insert(&h, &*s, &grant, &doomed).await;
    after
        .assert_dead(&h, &*s, "inserted after the revocation")
        .await;
    sibling.assert_live(&*s, "another family").await;
    let found = s.find_grant(&a, &grant.id).await.must("find_grant");
    assert_eq!(found, Some(grant), "the grant is not revoked");

    s.revoke_family(&a, &doomed, c.at(10))
        .await
        .must("revoke_family");
    before
        .assert_dead(&h, &*s, "after a second revocation")
        .await;
}

/// Issuer B revoking a family id never kills issuer A's tokens of that family: the
/// revocation is scoped by its issuer like every other call.
pub async fn revoke_family_is_scoped_by_issuer<
    S: GrantStore + AccessTokenStore + RefreshTokenStore,
>(
    h: Harness<S>,
) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let grant = saved_grant(&h, &s).await;
    let family = f.family_id();
    let victims = Victims::insert(&h, &*s, &grant, &family).await;
    let b = Fixtures::other_issuer();
    s.revoke_family(&b, &family, c.at(7_000))
        .await
        .must("revoke_family");
    victims
        .assert_live(&*s, "after issuer B revoked the family id")
        .await;
}

/// [`RACERS`] tasks with a handle each race: one revokes a refresh token's family (or, every
/// other round, its grant) while the others rotate the token. At most one rotation wins,
/// every other is `AlreadyRotated` (never an error), and afterwards the old token and any
/// successor stored are `Revoked`.
pub async fn rotations_racing_a_revocation_leave_nothing_alive<S>(h: Harness<S>)
where
    S: GrantStore + AccessTokenStore + RefreshTokenStore,
{
    let handles = h.open_many(RACERS).await;
    let (f, c) = (h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    for round in 0..ROUNDS {
        let grant = saved_grant(&h, &*handles[0]).await;
        let family = f.family_id();
        let old = f.refresh_token(&grant, &family, c.at(0), c.at(600));
        let writer = &handles[1];
        writer
            .insert_refresh_token(&old)
            .await
            .must("insert_refresh_token");
        let successors: Arc<Vec<_>> = Arc::new(
            (0..RACERS)
                .map(|_| f.refresh_token(&grant, &family, c.at(1), c.at(600)))
                .collect(),
        );
        let (by_grant, until) = (round % 2 == 1, c.at(600));
        let outcomes = race(&handles, |s, i| {
            let (a, successors) = (a.clone(), successors.clone());
            let (grant_id, family, old) = (grant.id.clone(), family.clone(), old.hash);
            async move {
                if i > 0 {
                    let out = s.rotate_refresh_token(&a, &old, &successors[i], None).await;
                    return Some(out.must("rotate_refresh_token"));
                }
                if by_grant {
                    s.revoke_grant(&a, &grant_id).await.must("revoke_grant");
                } else {
                    let out = s.revoke_family(&a, &family, until).await;
                    out.must("revoke_family");
                }
                None
            }
        })
        .await;
        let won = outcomes
            .iter()
            .flatten()
            .filter(|o| **o == RotateOutcome::Rotated)
            .count();
        assert!(won <= 1, "round {round}: {won} rotations won: {outcomes:?}");
        let lost = RotateOutcome::AlreadyRotated {
            family_id: family.clone(),
        };
        for o in outcomes.iter().flatten() {
            if *o != RotateOutcome::Rotated {
                assert_eq!(o, &lost, "round {round}: every loser");
            }
        }
        let reader = &*handles[2];
        for token in std::iter::once(&old).chain(successors.iter()) {
            if let Some(state) = refresh_state(reader, &a, token).await {
                assert_eq!(
                    state,
                    RefreshState::Revoked,
                    "round {round}: dead afterwards"
                );
            }
        }
    }
}
