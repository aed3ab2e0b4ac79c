//! [`TokenStore`]'s tokens: access tokens, refresh-token rotation (RFC 6749 §6, RFC 9700
//! §4.14.2), revoking one access token (RFC 7009) and purging.

use portcullis_core::{AccessTokenRecord, Grant, Issuer, RefreshTokenRecord, TokenHash, UnixTime};
use portcullis_store::{RefreshState, RotateOutcome, RotationGrace, TokenStore};

use super::{purged, Must};
use crate::{Fixtures, Harness};

/// A saved grant of alice's at issuer A, living until +10 000 s.
pub(super) async fn saved_grant<S: TokenStore>(h: &Harness<S>, s: &S) -> Grant {
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

pub(super) async fn access<S: TokenStore>(s: &S, i: &Issuer, t: &AccessTokenRecord) -> bool {
    let found = s
        .find_access_token(i, &t.hash)
        .await
        .must("find_access_token");
    if let Some(found) = &found {
        assert_eq!(found, t, "a live access token comes back as inserted");
    }
    found.is_some()
}

pub(super) async fn refresh_state<S: TokenStore>(
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

pub(super) async fn stored<S: TokenStore>(s: &S, hash: &TokenHash) -> bool {
    let found = s.find_refresh_token(&Fixtures::issuer(), hash).await;
    found.must("find_refresh_token").is_some()
}

/// `insert_access_token` then `find_access_token` gives back the token as inserted, for a
/// user-delegated and a `client_credentials` token; an unknown hash and another issuer's
/// token are `None`.
pub async fn access_token_round_trip<S: TokenStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let grant = saved_grant(&h, &s).await;
    let user = f.access_token(&grant, &f.family_id(), c.at(0), c.at(60));
    let service = f.client_access_token(&a, "client-1", c.at(0), c.at(60));
    for t in [&user, &service] {
        s.insert_access_token(t).await.must("insert_access_token");
        assert!(access(&*s, &a, t).await, "found at A: {t:?}");
        assert!(!access(&*s, &b, t).await, "issuer B must not see A's token");
    }
    let unknown = s.find_access_token(&a, &f.token_hash()).await;
    assert_eq!(unknown.must("find_access_token"), None, "an unknown hash");
}

/// `revoke_access_token` kills that token only, says whether it knew it, and issuer B
/// cannot revoke issuer A's token (RFC 7009 §2.1).
pub async fn revoke_access_token_kills_only_that_token<S: TokenStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let grant = saved_grant(&h, &s).await;
    let family = f.family_id();
    let (gone, kept) = (
        f.access_token(&grant, &family, c.at(0), c.at(60)),
        f.access_token(&grant, &family, c.at(0), c.at(60)),
    );
    s.insert_access_token(&gone)
        .await
        .must("insert_access_token");
    s.insert_access_token(&kept)
        .await
        .must("insert_access_token");

    let via_b = s.revoke_access_token(&b, &gone.hash).await;
    assert!(
        !via_b.must("revoke_access_token"),
        "B does not know A's token"
    );
    assert!(access(&*s, &a, &gone).await, "B's attempt changed nothing");
    assert!(s
        .revoke_access_token(&a, &gone.hash)
        .await
        .must("revoke_access_token"));
    assert!(!access(&*s, &a, &gone).await, "revoked");
    assert!(
        access(&*s, &a, &kept).await,
        "a sibling in the same family lives"
    );
    // Idempotent: whatever it answers, the token stays dead.
    s.revoke_access_token(&a, &gone.hash)
        .await
        .must("revoke_access_token");
    assert!(!access(&*s, &a, &gone).await, "still revoked");
    let unknown = s.revoke_access_token(&a, &f.token_hash()).await;
    assert!(!unknown.must("revoke_access_token"), "an unknown token");
}

/// `insert_refresh_token` then `find_refresh_token` gives back the token as inserted and
/// `Active`; an unknown hash and another issuer's token are `None`.
pub async fn refresh_token_round_trip<S: TokenStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let grant = saved_grant(&h, &s).await;
    let token = f.refresh_token(&grant, &f.family_id(), c.at(0), c.at(600));
    s.insert_refresh_token(&token)
        .await
        .must("insert_refresh_token");
    assert_eq!(
        refresh_state(&*s, &a, &token).await,
        Some(RefreshState::Active)
    );
    assert_eq!(
        refresh_state(&*s, &b, &token).await,
        None,
        "not through issuer B"
    );
    let unknown = s.find_refresh_token(&a, &f.token_hash()).await;
    assert_eq!(unknown.must("find_refresh_token"), None, "an unknown hash");
}

/// `rotate_refresh_token` succeeds once per token: the old token turns `Rotated`, the
/// successor is stored `Active` and rotates in turn; a second rotation of the old token is
/// `AlreadyRotated` with its family and stores nothing; an unknown token, or another
/// issuer's, is `Missing` and stores nothing.
pub async fn rotation_happens_once<S: TokenStore>(h: Harness<S>) {
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
pub async fn rotation_grace_is_bounded<S: TokenStore>(h: Harness<S>) {
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
        TokenStore::purge_expired(&*s, c.at(9)).await,
        0,
        "nothing expired yet",
    );
    purged(
        TokenStore::purge_expired(&*s, until).await,
        5,
        "the five grace periods",
    );
    assert_eq!(claim(&a, old, 9).await, None, "purged");
}

/// Rotates a new token of a new family under `grant` with `g`: the old hash, the successor.
pub(super) async fn rotated_with<S: TokenStore>(
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

async fn claim_at<S: TokenStore>(
    s: &S,
    issuer: Issuer,
    old: TokenHash,
    now: UnixTime,
) -> Option<String> {
    s.claim_rotation_grace(&issuer, &old, now)
        .await
        .must("claim_rotation_grace")
}

/// `purge_expired` removes exactly the access tokens, refresh tokens (rotated or not),
/// family revocation markers and grants, of every issuer, that expired at `now`, and returns
/// how many records went.
pub async fn token_purge_expired<S: TokenStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let grant = f.grant(&a, "alice", "client-1", c.at(0), c.at(400));
    let grant_b = f.grant(&b, "alice", "client-1", c.at(0), c.at(400));
    s.save_grant(&grant).await.must("save_grant");
    s.save_grant(&grant_b).await.must("save_grant");
    let family = f.family_id();
    let user = f.access_token(&grant, &family, c.at(0), c.at(100));
    let service = f.client_access_token(&a, "client-1", c.at(0), c.at(100));
    let service_b = f.client_access_token(&b, "client-1", c.at(0), c.at(100));
    for t in [&user, &service, &service_b] {
        s.insert_access_token(t).await.must("insert_access_token");
    }
    let old = f.refresh_token(&grant, &family, c.at(0), c.at(150));
    let new = f.refresh_token(&grant, &family, c.at(10), c.at(200));
    s.insert_refresh_token(&old)
        .await
        .must("insert_refresh_token");
    let out = s.rotate_refresh_token(&a, &old.hash, &new, None).await;
    assert_eq!(out.must("rotate_refresh_token"), RotateOutcome::Rotated);
    s.revoke_family(&a, &f.family_id(), c.at(300))
        .await
        .must("revoke_family");

    let purge = |secs| TokenStore::purge_expired(&*s, c.at(secs));
    purged(purge(99).await, 0, "nothing expired yet");
    purged(purge(100).await, 3, "the access tokens");
    for t in [&user, &service] {
        assert!(!access(&*s, &a, t).await, "purged");
    }
    purged(purge(150).await, 1, "the rotated refresh token");
    assert_eq!(refresh_state(&*s, &a, &old).await, None, "purged");
    assert_eq!(
        refresh_state(&*s, &a, &new).await,
        Some(RefreshState::Active)
    );
    purged(purge(200).await, 1, "its successor");
    purged(purge(300).await, 1, "the family marker");
    let found = s.find_grant(&a, &grant.id).await.must("find_grant");
    assert_eq!(found, Some(grant.clone()), "the grant lives until +400s");
    purged(purge(400).await, 2, "A's and B's grants");
    assert_eq!(
        s.find_grant(&a, &grant.id).await.must("find_grant"),
        None,
        "purged"
    );
    purged(purge(1_000_000).await, 0, "none left");
}
