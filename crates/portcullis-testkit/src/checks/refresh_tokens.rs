//! [`RefreshTokenStore`]: refresh tokens rotate once (RFC 6749 §6, RFC 9700 §4.14.2), a
//! rotation's grace period answers a bounded number of claims, and racers on one handle or
//! many never break either.

use std::sync::Arc;

use portcullis_core::{Confirmation, Grant, Issuer, RefreshTokenRecord, TokenHash, UnixTime};
use portcullis_store::{GrantStore, RefreshState, RefreshTokenStore, RotateOutcome, RotationGrace};

use super::grants::saved_grant;
use super::races::{race, RACERS, ROUNDS};
use super::{purged, Must};
use crate::{Fixtures, Harness};

pub(super) async fn refresh_state<S: RefreshTokenStore>(
    s: &S,
    i: &Issuer,
    t: &RefreshTokenRecord,
) -> Option<RefreshState> {
    let found = s
        .find_refresh_token(i, &t.hash)
        .await
        .must("find_refresh_token");
    found.map(|(record, state)| {
        assert_eq!(&record, t, "a refresh token comes back as inserted");
        state
    })
}

pub(super) async fn stored<S: RefreshTokenStore>(s: &S, hash: &TokenHash) -> bool {
    let found = s.find_refresh_token(&Fixtures::issuer(), hash).await;
    found.must("find_refresh_token").is_some()
}

/// `insert_refresh_token` then `find_refresh_token` gives back the token as inserted, every
/// field intact, and `Active` — bound to a DPoP key (RFC 9449 §5), to a certificate
/// (RFC 8705 §4) or unbound, with its login's `auth_time` or with none (unknown); an
/// unknown hash and another issuer's token are `None`.
pub async fn refresh_token_round_trip<S: GrantStore + RefreshTokenStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let grant = saved_grant(&h, &s).await;
    let token = || f.refresh_token(&grant, &f.family_id(), c.at(0), c.at(600));
    let dpop_bound = token();
    assert!(dpop_bound.confirmation.is_some());
    let certificate_bound = RefreshTokenRecord {
        confirmation: Some(Confirmation {
            jkt: None,
            ..f.confirmation(true)
        }),
        ..token()
    };
    let unbound = RefreshTokenRecord {
        confirmation: None,
        ..token()
    };
    let no_login_time = RefreshTokenRecord {
        auth_time: None,
        ..token()
    };
    assert!(dpop_bound.auth_time.is_some());
    for token in [&dpop_bound, &certificate_bound, &unbound, &no_login_time] {
        s.insert_refresh_token(token)
            .await
            .must("insert_refresh_token");
        assert_eq!(
            refresh_state(&*s, &a, token).await,
            Some(RefreshState::Active)
        );
        assert_eq!(
            refresh_state(&*s, &b, token).await,
            None,
            "not through issuer B"
        );
    }
    let unknown = s.find_refresh_token(&a, &f.token_hash()).await;
    assert_eq!(unknown.must("find_refresh_token"), None, "an unknown hash");
}

/// `rotate_refresh_token` succeeds once per token: the old token turns `Rotated`, the
/// successor is stored `Active` and rotates in turn; a second rotation of the old token is
/// `AlreadyRotated` with its family and stores nothing; an unknown token, or another
/// issuer's, is `Missing` and stores nothing.
pub async fn rotation_happens_once<S: GrantStore + RefreshTokenStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let grant = saved_grant(&h, &s).await;
    let family = f.family_id();
    let token = |i| f.refresh_token(&grant, &family, c.at(i), c.at(i + 600));
    let (r1, r2, loser, r3, stray) = (token(0), token(10), token(10), token(20), token(30));
    s.insert_refresh_token(&r1)
        .await
        .must("insert_refresh_token");

    let via_b = s.rotate_refresh_token(&b, &r1.hash, &stray, None).await;
    assert_eq!(
        via_b.must("rotate_refresh_token"),
        RotateOutcome::Missing,
        "via B"
    );
    assert_eq!(
        refresh_state(&*s, &a, &r1).await,
        Some(RefreshState::Active)
    );
    let won = s.rotate_refresh_token(&a, &r1.hash, &r2, None).await;
    assert_eq!(won.must("rotate_refresh_token"), RotateOutcome::Rotated);
    assert_eq!(
        refresh_state(&*s, &a, &r1).await,
        Some(RefreshState::Rotated)
    );
    assert_eq!(
        refresh_state(&*s, &a, &r2).await,
        Some(RefreshState::Active)
    );

    let reuse = s.rotate_refresh_token(&a, &r1.hash, &loser, None).await;
    let want = RotateOutcome::AlreadyRotated {
        family_id: family.clone(),
    };
    assert_eq!(reuse.must("rotate_refresh_token"), want, "second rotation");
    assert!(
        !stored(&*s, &loser.hash).await,
        "the loser's successor is not stored"
    );
    let next = s.rotate_refresh_token(&a, &r2.hash, &r3, None).await;
    assert_eq!(
        next.must("rotate_refresh_token"),
        RotateOutcome::Rotated,
        "chain"
    );
    assert_eq!(
        refresh_state(&*s, &a, &r3).await,
        Some(RefreshState::Active)
    );

    let unknown = s
        .rotate_refresh_token(&a, &f.token_hash(), &stray, None)
        .await;
    assert_eq!(unknown.must("rotate_refresh_token"), RotateOutcome::Missing);
    assert!(
        !stored(&*s, &stray.hash).await,
        "nothing stored for a missing token"
    );
}

/// A grace period of `max_claims` claims until `until`, with `answer` as its sealed answer.
pub(super) fn grace(answer: &str, until: UnixTime, max_claims: u32) -> RotationGrace {
    RotationGrace {
        sealed_answer: answer.to_owned(),
        until,
        max_claims,
    }
}

/// A grace period is kept by the rotation that wins and by no other, and is bounded: each
/// claim returns its answer until it is over (`now >= until`), its claims are used up, or
/// the successor is no longer current (rotated in turn, or revoked); never through another
/// issuer; never for a rotation without one. Purging removes it at `until`.
pub async fn rotation_grace_is_bounded<S: GrantStore + RefreshTokenStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let grant = saved_grant(&h, &s).await;
    let until = c.at(10);
    let rotated = |g| rotated_with(&h, &*s, &grant, g);
    let claim = |issuer: &Issuer, old, secs| claim_at(&*s, issuer.clone(), old, c.at(secs));

    let (old, new) = rotated(Some(grace("answer", until, 2))).await;
    let loser = f.refresh_token(&grant, &new.family_id, c.at(1), c.at(600));
    let lost = s
        .rotate_refresh_token(&a, &old, &loser, Some(&grace("loser", until, 9)))
        .await;
    assert!(matches!(
        lost.must("rotate_refresh_token"),
        RotateOutcome::AlreadyRotated { .. }
    ));
    assert_eq!(claim(&b, old, 1).await, None, "never through issuer B");
    assert_eq!(claim(&a, f.token_hash(), 1).await, None, "an unknown token");
    for secs in [1, 2] {
        let got = claim(&a, old, secs).await;
        assert_eq!(got.as_deref(), Some("answer"), "the winner's answer");
    }
    assert_eq!(claim(&a, old, 3).await, None, "its claims are used up");

    let (old, _) = rotated(Some(grace("answer", until, 5))).await;
    assert_eq!(claim(&a, old, 10).await, None, "over at `until`");
    assert_eq!(claim(&a, old, 9).await.as_deref(), Some("answer"));

    let (old, new) = rotated(Some(grace("answer", until, 5))).await;
    let next = f.refresh_token(&grant, &new.family_id, c.at(2), c.at(600));
    let out = s.rotate_refresh_token(&a, &new.hash, &next, None).await;
    assert_eq!(out.must("rotate_refresh_token"), RotateOutcome::Rotated);
    assert_eq!(claim(&a, old, 3).await, None, "the successor was rotated");

    let (old, new) = rotated(Some(grace("answer", until, 5))).await;
    s.revoke_family(&a, &new.family_id, c.at(600))
        .await
        .must("revoke_family");
    assert_eq!(claim(&a, old, 3).await, None, "the family was revoked");

    let (old, _) = rotated(None).await;
    assert_eq!(claim(&a, old, 1).await, None, "a rotation without grace");

    let (old, _) = rotated(Some(grace("answer", until, 5))).await;
    purged(
        RefreshTokenStore::purge_expired(&*s, c.at(9)).await,
        0,
        "nothing expired yet",
    );
    purged(
        RefreshTokenStore::purge_expired(&*s, until).await,
        5,
        "the five grace periods",
    );
    assert_eq!(claim(&a, old, 9).await, None, "purged");
}

/// Rotates a new token of a new family under `grant` with `g`: the old hash, the successor.
pub(super) async fn rotated_with<S: RefreshTokenStore>(
    h: &Harness<S>,
    s: &S,
    grant: &Grant,
    g: Option<RotationGrace>,
) -> (TokenHash, RefreshTokenRecord) {
    let (f, c) = (h.fixtures(), h.clock());
    let family = f.family_id();
    let old = f.refresh_token(grant, &family, c.at(0), c.at(600));
    let new = f.refresh_token(grant, &family, c.at(1), c.at(600));
    s.insert_refresh_token(&old)
        .await
        .must("insert_refresh_token");
    let out = s
        .rotate_refresh_token(&Fixtures::issuer(), &old.hash, &new, g.as_ref())
        .await;
    assert_eq!(out.must("rotate_refresh_token"), RotateOutcome::Rotated);
    (old.hash, new)
}

async fn claim_at<S: RefreshTokenStore>(
    s: &S,
    issuer: Issuer,
    old: TokenHash,
    now: UnixTime,
) -> Option<String> {
    s.claim_rotation_grace(&issuer, &old, now)
        .await
        .must("claim_rotation_grace")
}

/// `purge_expired` removes exactly the refresh tokens (rotated or not), of every issuer, that
/// expired at `now`, returns how many went, and leaves the grants they were issued under
/// alone.
pub async fn refresh_token_purge_expired<S: GrantStore + RefreshTokenStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let grant = saved_grant(&h, &s).await;
    let grant_b = f.grant(&b, "alice", "client-1", c.at(0), c.at(10_000));
    s.save_grant(&grant_b).await.must("save_grant");
    let family = f.family_id();
    let old = f.refresh_token(&grant, &family, c.at(0), c.at(150));
    let new = f.refresh_token(&grant, &family, c.at(10), c.at(200));
    let of_b = f.refresh_token(&grant_b, &f.family_id(), c.at(0), c.at(150));
    for t in [&old, &of_b] {
        s.insert_refresh_token(t).await.must("insert_refresh_token");
    }
    let out = s.rotate_refresh_token(&a, &old.hash, &new, None).await;
    assert_eq!(out.must("rotate_refresh_token"), RotateOutcome::Rotated);

    let purge = |secs| RefreshTokenStore::purge_expired(&*s, c.at(secs));
    purged(purge(149).await, 0, "nothing expired yet");
    purged(purge(150).await, 2, "the rotated token and B's");
    assert_eq!(refresh_state(&*s, &a, &old).await, None, "purged");
    assert_eq!(refresh_state(&*s, &b, &of_b).await, None, "purged");
    assert_eq!(
        refresh_state(&*s, &a, &new).await,
        Some(RefreshState::Active)
    );
    purged(purge(200).await, 1, "its successor");
    purged(purge(1_000_000).await, 0, "none left");
    let found = s.find_grant(&a, &grant.id).await.must("find_grant");
    assert_eq!(
        found,
        Some(grant),
        "the grant is not a refresh token's to purge"
    );
}

/// [`RACERS`] tasks sharing one handle race to rotate one refresh token, each with its own
/// successor: one `Rotated` whose successor alone is stored, every other `AlreadyRotated`.
pub async fn racing_rotations_on_one_handle<S: GrantStore + RefreshTokenStore>(h: Harness<S>) {
    let handles = vec![h.open().await];
    rotate_race(&h, &handles).await;
}

/// [`RACERS`] tasks with a handle each race to rotate one refresh token, each with its own
/// successor: one `Rotated` whose successor alone is stored, every other `AlreadyRotated`.
pub async fn racing_rotations_on_separate_handles<S: GrantStore + RefreshTokenStore>(
    h: Harness<S>,
) {
    let handles = h.open_many(RACERS).await;
    rotate_race(&h, &handles).await;
}

async fn rotate_race<S: GrantStore + RefreshTokenStore>(h: &Harness<S>, handles: &[Arc<S>]) {
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
pub async fn racing_grace_claims_on_one_handle<S: GrantStore + RefreshTokenStore>(h: Harness<S>) {
    let s = h.open().await;
    grace_race(&h, &[s]).await;
}

/// [`RACERS`] tasks claim one grace period of 5 claims through handles of their own:
/// exactly 5 get its answer.
pub async fn racing_grace_claims_on_separate_handles<S: GrantStore + RefreshTokenStore>(
    h: Harness<S>,
) {
    let handles = h.open_many(RACERS).await;
    grace_race(&h, &handles).await;
}

async fn grace_race<S: GrantStore + RefreshTokenStore>(h: &Harness<S>, handles: &[Arc<S>]) {
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

async fn state_of<S: RefreshTokenStore>(
    s: &S,
    a: &Issuer,
    hash: &TokenHash,
) -> Option<RefreshState> {
    let found = s
        .find_refresh_token(a, hash)
        .await
        .must("find_refresh_token");
    found.map(|(_, state)| state)
}
