//! [`AccessTokenStore`]: access tokens are found by hash while live, never through another
//! issuer, revoked one by one (RFC 7009) and purged when expired.

use portcullis_core::{AccessTokenRecord, Confirmation, Issuer};
use portcullis_store::{AccessTokenStore, GrantStore};

use super::grants::saved_grant;
use super::{purged, Must};
use crate::{Fixtures, Harness};

pub(super) async fn access<S: AccessTokenStore>(s: &S, i: &Issuer, t: &AccessTokenRecord) -> bool {
    let found = s
        .find_access_token(i, &t.hash)
        .await
        .must("find_access_token");
    if let Some(found) = &found {
        assert_eq!(found, t, "a live access token comes back as inserted");
    }
    found.is_some()
}

/// `insert_access_token` then `find_access_token` gives back the token as inserted, every
/// field intact, for a user-delegated token (bound to a DPoP key and a certificate, with its
/// login's `auth_time`, `acr` and `amr`: RFC 9470 §6), one of a later, stronger login under
/// the same grant, a user's token whose login time is unknown (no `auth_time`: a JWT bearer
/// assertion without one), a `client_credentials` token (no login) and one bound to a
/// certificate only (RFC 8705 §3.1); an unknown hash and another issuer's token are `None`.
pub async fn access_token_round_trip<S: GrantStore + AccessTokenStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let grant = saved_grant(&h, &s).await;
    let user = f.access_token(&grant, &f.family_id(), c.at(0), c.at(60));
    let stepped_up = AccessTokenRecord {
        auth_time: Some(c.at(5)),
        acr: Some("urn:example:loa:3".into()),
        amr: Some(vec!["hwk".into()]),
        ..f.access_token(&grant, &f.family_id(), c.at(10), c.at(70))
    };
    let no_login_time = AccessTokenRecord {
        auth_time: None,
        ..f.access_token(&grant, &f.family_id(), c.at(10), c.at(70))
    };
    let service = f.client_access_token(&a, "client-1", c.at(0), c.at(60));
    let certificate_bound = AccessTokenRecord {
        confirmation: Some(Confirmation {
            jkt: None,
            ..f.confirmation(true)
        }),
        ..f.client_access_token(&a, "client-1", c.at(0), c.at(60))
    };
    assert!(user.confirmation.as_ref().is_some_and(|c| c.jkt.is_some()));
    assert!(user.auth_time.is_some() && user.acr.is_some() && user.amr.is_some());
    assert_ne!(user.auth_time, stepped_up.auth_time);
    for t in [
        &user,
        &stepped_up,
        &no_login_time,
        &service,
        &certificate_bound,
    ] {
        s.insert_access_token(t).await.must("insert_access_token");
        assert!(access(&*s, &a, t).await, "found at A: {t:?}");
        assert!(!access(&*s, &b, t).await, "issuer B must not see A's token");
    }
    let unknown = s.find_access_token(&a, &f.token_hash()).await;
    assert_eq!(unknown.must("find_access_token"), None, "an unknown hash");
}

/// `revoke_access_token` kills that token only, says whether it knew it, and issuer B
/// cannot revoke issuer A's token (RFC 7009 §2.1).
pub async fn revoke_access_token_kills_only_that_token<S: GrantStore + AccessTokenStore>(
    h: Harness<S>,
) {
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

/// `purge_expired` removes exactly the access tokens, of every issuer, that expired at
/// `now`, returns how many went, and leaves the grants they were issued under alone.
pub async fn access_token_purge_expired<S: GrantStore + AccessTokenStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let grant = saved_grant(&h, &s).await;
    let family = f.family_id();
    let user = f.access_token(&grant, &family, c.at(0), c.at(100));
    let service = f.client_access_token(&a, "client-1", c.at(0), c.at(100));
    let service_b = f.client_access_token(&b, "client-1", c.at(0), c.at(100));
    let later = f.access_token(&grant, &family, c.at(0), c.at(200));
    for t in [&user, &service, &service_b, &later] {
        s.insert_access_token(t).await.must("insert_access_token");
    }

    let purge = |secs| AccessTokenStore::purge_expired(&*s, c.at(secs));
    purged(purge(99).await, 0, "nothing expired yet");
    purged(purge(100).await, 3, "A's and B's +100s tokens");
    for t in [&user, &service] {
        assert!(!access(&*s, &a, t).await, "purged");
    }
    assert!(access(&*s, &a, &later).await, "the +200s token lives");
    purged(purge(200).await, 1, "the +200s token");
    purged(purge(1_000_000).await, 0, "none left");
    let found = s.find_grant(&a, &grant.id).await.must("find_grant");
    assert_eq!(
        found,
        Some(grant),
        "the grant is not an access token's to purge"
    );
}
