//! [`TokenIssuance`]: tokens are issued only under a grant that stands, a rotation that
//! issues wins once, and racers on many handles never break either.

use std::sync::Arc;

use portcullis_core::{AccessTokenRecord, Grant, RefreshTokenRecord, UnixTime};
use portcullis_store::{GrantUse, RefreshState, RotateIssueOutcome, TokenIssuance};

use super::grants::saved_grant;
use super::races::{race, RACERS, ROUNDS};
use super::refresh_tokens::stored;
use super::Must;
use crate::Harness;

fn grant_use(grant: &Grant, now: UnixTime, expires_at: UnixTime) -> GrantUse<'_> {
    GrantUse {
        issuer: &grant.issuer,
        grant_id: &grant.id,
        now,
        expires_at,
    }
}

async fn live_access<S: TokenIssuance>(s: &S, t: &AccessTokenRecord) -> bool {
    let found = s.find_access_token(&t.issuer, &t.hash).await;
    found.must("find_access_token").is_some()
}

async fn refresh_state<S: TokenIssuance>(s: &S, t: &RefreshTokenRecord) -> Option<RefreshState> {
    let found = s.find_refresh_token(&t.issuer, &t.hash).await;
    found.must("find_refresh_token").map(|(_, state)| state)
}

/// `issue_tokens` under a live grant stores both tokens (or the access token alone) and
/// records the grant's use (`last_used_at`, the later `expires_at`); under a revoked or
/// unknown grant it answers `false` and stores nothing.
pub async fn issue_tokens_only_under_a_live_grant<S: TokenIssuance>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let grant = saved_grant(&h, &s).await;
    let family = f.family_id();
    let (refresh, access) = (
        f.refresh_token(&grant, &family, c.at(5), c.at(600)),
        f.access_token(&grant, &family, c.at(5), c.at(60)),
    );
    let issued = s
        .issue_tokens(
            &grant_use(&grant, c.at(5), c.at(20_000)),
            Some(&refresh),
            &access,
        )
        .await;
    assert!(issued.must("issue_tokens"), "a live grant issues");
    assert_eq!(
        refresh_state(&*s, &refresh).await,
        Some(RefreshState::Active)
    );
    assert!(
        live_access(&*s, &access).await,
        "the access token is stored"
    );
    let found = s
        .find_grant(&grant.issuer, &grant.id)
        .await
        .must("find_grant");
    let found = found.expect("the grant");
    assert_eq!(
        (found.last_used_at, found.expires_at),
        (c.at(5), c.at(20_000)),
        "the grant's use is recorded"
    );
    let alone = f.access_token(&grant, &family, c.at(6), c.at(60));
    let issued = s
        .issue_tokens(&grant_use(&grant, c.at(6), c.at(100)), None, &alone)
        .await;
    assert!(issued.must("issue_tokens"), "an access token alone");
    assert!(live_access(&*s, &alone).await);

    let unknown = f.grant(&grant.issuer, "alice", "client-1", c.at(0), c.at(10_000));
    let revoked = saved_grant(&h, &s).await;
    assert!(s
        .revoke_grant(&revoked.issuer, &revoked.id)
        .await
        .must("revoke_grant"));
    for (what, g) in [("unknown", &unknown), ("revoked", &revoked)] {
        let (refresh, access) = (
            f.refresh_token(g, &family, c.at(7), c.at(600)),
            f.access_token(g, &family, c.at(7), c.at(60)),
        );
        let issued = s
            .issue_tokens(
                &grant_use(g, c.at(7), c.at(20_000)),
                Some(&refresh),
                &access,
            )
            .await;
        assert!(!issued.must("issue_tokens"), "{what} grant");
        assert!(
            !stored(&*s, &refresh.hash).await,
            "{what}: no refresh token"
        );
        let found = s.find_access_token(&access.issuer, &access.hash).await;
        assert_eq!(
            found.must("find_access_token"),
            None,
            "{what}: no access token"
        );
    }
}

/// `rotate_and_issue` rotates once: the first call is `Issued` (old token `Rotated`,
/// successor `Active`, access token stored); a second is `AlreadyRotated` with the family;
/// an unknown token is `Missing`; a token under a revoked grant is `GrantRevoked` — and
/// every call but the first leaves no live token of its own.
pub async fn rotate_and_issue_happens_once<S: TokenIssuance>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let grant = saved_grant(&h, &s).await;
    let family = f.family_id();
    let old = f.refresh_token(&grant, &family, c.at(0), c.at(600));
    s.insert_refresh_token(&old)
        .await
        .must("insert_refresh_token");
    let attempt = |i| {
        (
            f.refresh_token(&grant, &family, c.at(i), c.at(i + 600)),
            f.access_token(&grant, &family, c.at(i), c.at(i + 60)),
        )
    };
    let use_at = |i| grant_use(&grant, c.at(i), c.at(20_000));

    let (successor, access) = attempt(10);
    let won = s
        .rotate_and_issue(&use_at(10), &old.hash, &successor, None, &access)
        .await;
    assert_eq!(won.must("rotate_and_issue"), RotateIssueOutcome::Issued);
    assert_eq!(refresh_state(&*s, &old).await, Some(RefreshState::Rotated));
    assert_eq!(
        refresh_state(&*s, &successor).await,
        Some(RefreshState::Active)
    );
    assert!(live_access(&*s, &access).await, "the winner's access token");

    let (loser, loser_access) = attempt(20);
    let reuse = s
        .rotate_and_issue(&use_at(20), &old.hash, &loser, None, &loser_access)
        .await;
    let want = RotateIssueOutcome::AlreadyRotated {
        family_id: family.clone(),
    };
    assert_eq!(reuse.must("rotate_and_issue"), want, "second rotation");
    assert!(
        !stored(&*s, &loser.hash).await,
        "no successor for the loser"
    );
    assert!(
        !live_access(&*s, &loser_access).await,
        "no access token for the loser"
    );

    let (stray, stray_access) = attempt(30);
    let unknown = s
        .rotate_and_issue(&use_at(30), &f.token_hash(), &stray, None, &stray_access)
        .await;
    assert_eq!(
        unknown.must("rotate_and_issue"),
        RotateIssueOutcome::Missing
    );
    assert!(!stored(&*s, &stray.hash).await);
    assert!(!live_access(&*s, &stray_access).await);

    assert!(s
        .revoke_grant(&grant.issuer, &grant.id)
        .await
        .must("revoke_grant"));
    let (late, late_access) = attempt(40);
    let revoked = s
        .rotate_and_issue(&use_at(40), &successor.hash, &late, None, &late_access)
        .await;
    assert_eq!(
        revoked.must("rotate_and_issue"),
        RotateIssueOutcome::GrantRevoked
    );
    assert_ne!(refresh_state(&*s, &late).await, Some(RefreshState::Active));
    assert!(!live_access(&*s, &late_access).await);
}

/// [`RACERS`] tasks with a handle each race `rotate_and_issue` on one refresh token, each
/// with its own successor and access token: one `Issued`, whose tokens alone are live,
/// every other `AlreadyRotated`.
pub async fn racing_rotate_and_issue_on_separate_handles<S: TokenIssuance>(h: Harness<S>) {
    let handles = h.open_many(RACERS).await;
    let (f, c) = (h.fixtures(), h.clock());
    let grant = saved_grant(&h, &*handles[0]).await;
    for round in 0..ROUNDS {
        let family = f.family_id();
        let old = f.refresh_token(&grant, &family, c.at(0), c.at(600));
        let writer = &handles[round % handles.len()];
        writer
            .insert_refresh_token(&old)
            .await
            .must("insert_refresh_token");
        let tokens: Arc<Vec<_>> = Arc::new(
            (0..RACERS)
                .map(|_| {
                    (
                        f.refresh_token(&grant, &family, c.at(1), c.at(600)),
                        f.access_token(&grant, &family, c.at(1), c.at(60)),
                    )
                })
                .collect(),
        );
        let outcomes = race(&handles, |s, i| {
            let (tokens, grant, hash) = (tokens.clone(), grant.clone(), old.hash);
            let (now, until) = (c.at(1), c.at(10_000));
            async move {
                let (successor, access) = &tokens[i];
                let used = grant_use(&grant, now, until);
                let out = s
                    .rotate_and_issue(&used, &hash, successor, None, access)
                    .await;
                out.must("rotate_and_issue")
            }
        })
        .await;
        let winners: Vec<usize> = (0..RACERS)
            .filter(|&i| outcomes[i] == RotateIssueOutcome::Issued)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: one winner: {outcomes:?}");
        let reader = &handles[(round + 1) % handles.len()];
        for (i, (successor, access)) in tokens.iter().enumerate() {
            let won = i == winners[0];
            if !won {
                let lost = RotateIssueOutcome::AlreadyRotated {
                    family_id: family.clone(),
                };
                assert_eq!(outcomes[i], lost, "round {round}: racer {i}");
            }
            let state = refresh_state(&**reader, successor).await;
            assert_eq!(
                state,
                won.then_some(RefreshState::Active),
                "round {round}: {i}"
            );
            assert_eq!(
                live_access(&**reader, access).await,
                won,
                "round {round}: {i}"
            );
        }
        assert_eq!(
            refresh_state(&**reader, &old).await,
            Some(RefreshState::Rotated)
        );
    }
}
