//! [`KeyStore`]: signing keys and their rotation records (RFC 7517 key sets; see
//! `portcullis_core::plan_rotation`).

use std::sync::Arc;

use portcullis_core::{Algorithm, Issuer, KeyRecord, UnixTime};
use portcullis_store::KeyStore;

use super::races::{race, RACERS, ROUNDS};
use super::{purged, sorted, Must};
use crate::{Fixtures, Harness};

async fn keys_of<S: KeyStore>(s: &S, issuer: &Issuer) -> Vec<KeyRecord> {
    sorted(s.keys(issuer).await.must("keys"), |k| k.kid.clone())
}

fn retired(key: &KeyRecord, retires: UnixTime, expires: UnixTime) -> KeyRecord {
    KeyRecord {
        retires_at: Some(retires),
        expires_at: Some(expires),
        ..key.clone()
    }
}

/// `insert_key` then `keys` gives back every key of the issuer as inserted — private key
/// bytes included — and none of another issuer's, even one with the same `kid` (a `kid` is
/// unique per issuer only).
pub async fn key_round_trip<S: KeyStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let es = f.key(&a, Algorithm::ES256, c.at(0));
    let rs = f.key(&a, Algorithm::RS256, c.at(10));
    let twin = KeyRecord {
        kid: es.kid.clone(),
        ..f.key(&b, Algorithm::EdDSA, c.at(20))
    };
    for k in [&es, &rs, &twin] {
        s.insert_key(k).await.must("insert_key");
    }
    let want = sorted(vec![es, rs], |k| k.kid.clone());
    assert_eq!(keys_of(&*s, &a).await, want, "A's keys as inserted");
    assert_eq!(
        keys_of(&*s, &b).await,
        vec![twin],
        "B's key under the same kid"
    );
    let none = Issuer::parse("https://c.conformance.example").expect("issuer");
    assert_eq!(
        keys_of(&*s, &none).await,
        Vec::new(),
        "an issuer without keys"
    );
}

/// `retire_key` sets when a key stops signing and leaves the key set, changing nothing
/// else; an earlier `retires_at` already set is kept (a key never comes back), a still
/// earlier one replaces it; an unknown `kid`, or another issuer's, is `false` and changes
/// nothing.
pub async fn retire_key_keeps_the_earlier_retirement<S: KeyStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let key = f.key(&a, Algorithm::ES256, c.at(0));
    let other = f.key(&a, Algorithm::ES256, c.at(5));
    s.insert_key(&key).await.must("insert_key");
    s.insert_key(&other).await.must("insert_key");
    let retire = |kid: &str, issuer: &Issuer, r, e| {
        let (kid, issuer) = (kid.to_owned(), issuer.clone());
        let s = s.clone();
        async move {
            s.retire_key(&issuer, &kid, c.at(r), c.at(e))
                .await
                .must("retire_key")
        }
    };
    let find = |kid: String| {
        let s = s.clone();
        let a = a.clone();
        async move {
            let keys = s.keys(&a).await.must("keys");
            keys.into_iter()
                .find(|k| k.kid == kid)
                .expect("key still stored")
        }
    };

    assert!(retire(&key.kid, &a, 100, 200).await);
    assert_eq!(
        find(key.kid.clone()).await,
        retired(&key, c.at(100), c.at(200))
    );
    assert!(retire(&key.kid, &a, 150, 250).await, "a later retirement");
    let k = find(key.kid.clone()).await;
    assert_eq!(
        k.retires_at,
        Some(c.at(100)),
        "the earlier retires_at is kept"
    );
    assert!(retire(&key.kid, &a, 50, 120).await, "an earlier retirement");
    assert_eq!(
        find(key.kid.clone()).await,
        retired(&key, c.at(50), c.at(120))
    );

    assert!(!retire(&f.id(), &a, 10, 20).await, "an unknown kid");
    assert!(
        !retire(&other.kid, &b, 10, 20).await,
        "A's key through issuer B"
    );
    assert_eq!(find(other.kid.clone()).await, other, "untouched");
}

/// `reseal_key` replaces a key's private key only while it is still the `old` one given
/// (compare-and-swap), changing nothing else of the record; a stale `old`, an unknown `kid`
/// or another issuer's key is `false` and changes nothing; a later retirement keeps the
/// re-sealed private key.
pub async fn reseal_key_swaps_only_the_current_private_key<S: KeyStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let key = f.key(&a, Algorithm::ES256, c.at(0));
    s.insert_key(&key).await.must("insert_key");
    let (sealed, other) = (f.envelope(), f.envelope());
    let reseal = |issuer: &Issuer, kid: &str, old, new| {
        let (s, issuer, kid) = (s.clone(), issuer.clone(), kid.to_owned());
        async move {
            s.reseal_key(&issuer, &kid, &old, &new)
                .await
                .must("reseal_key")
        }
    };
    let only = |s: &Arc<S>| {
        let (s, a) = (s.clone(), a.clone());
        async move { keys_of(&*s, &a).await }
    };
    assert!(reseal(&a, &key.kid, key.private_key.clone(), sealed.clone()).await);
    let resealed = KeyRecord {
        private_key: sealed.clone(),
        ..key.clone()
    };
    assert_eq!(
        only(&s).await,
        vec![resealed.clone()],
        "only the private key"
    );
    assert!(
        !reseal(&a, &key.kid, key.private_key.clone(), other.clone()).await,
        "a stale old private key"
    );
    assert!(
        !reseal(&b, &key.kid, sealed.clone(), other.clone()).await,
        "A's key through issuer B"
    );
    assert!(
        !reseal(&a, &f.id(), sealed.clone(), other).await,
        "an unknown kid"
    );
    assert_eq!(only(&s).await, vec![resealed.clone()], "unchanged");
    let retired_key = s
        .retire_key(&a, &key.kid, c.at(10), c.at(20))
        .await
        .must("retire_key");
    assert!(retired_key);
    assert_eq!(
        only(&s).await,
        vec![retired(&resealed, c.at(10), c.at(20))],
        "retiring keeps the re-sealed private key"
    );
}

/// [`RACERS`] tasks with a handle each re-seal one signing key, from the same stored
/// private key to one of their own (as processes loading it at once do): exactly one
/// succeeds, and its private key is the one stored.
pub async fn racing_reseals_on_separate_handles<S: KeyStore>(h: Harness<S>) {
    let handles = h.open_many(RACERS).await;
    let (f, c, a) = (h.fixtures(), h.clock(), Fixtures::issuer());
    for round in 0..ROUNDS {
        let key = f.key(&a, Algorithm::ES256, c.at(0));
        handles[round % handles.len()]
            .insert_key(&key)
            .await
            .must("insert_key");
        let news = Arc::new((0..RACERS).map(|_| f.envelope()).collect::<Vec<_>>());
        let outcomes = race(&handles, |s, i| {
            let (a, key, news) = (a.clone(), key.clone(), news.clone());
            async move {
                let out = s.reseal_key(&a, &key.kid, &key.private_key, &news[i]).await;
                out.must("reseal_key")
            }
        })
        .await;
        let winners: Vec<usize> = (0..RACERS).filter(|&i| outcomes[i]).collect();
        assert_eq!(winners.len(), 1, "round {round}: exactly one winner");
        let reader = &handles[(round + 1) % handles.len()];
        let stored = reader.keys(&a).await.must("keys");
        let stored = stored.iter().find(|k| k.kid == key.kid).expect("the key");
        assert_eq!(
            stored.private_key, news[winners[0]],
            "round {round}: the winner's private key"
        );
    }
}

/// `purge_expired` removes exactly the keys, of every issuer, whose `expires_at` passed at
/// `now`, and returns how many; `keys` lists an expired key until it is purged, and never
/// purges a key without `expires_at`.
pub async fn key_purge_expired<S: KeyStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let current = f.key(&a, Algorithm::ES256, c.at(0));
    let early = retired(&f.key(&a, Algorithm::ES256, c.at(0)), c.at(50), c.at(100));
    let late = retired(&f.key(&a, Algorithm::RS256, c.at(0)), c.at(100), c.at(200));
    let of_b = retired(&f.key(&b, Algorithm::ES256, c.at(0)), c.at(50), c.at(100));
    for k in [&current, &early, &late, &of_b] {
        s.insert_key(k).await.must("insert_key");
    }
    let want = sorted(vec![current.clone(), early, late.clone()], |k| {
        k.kid.clone()
    });
    assert_eq!(
        keys_of(&*s, &a).await,
        want,
        "expired keys are listed until purged"
    );
    let purge = |secs| KeyStore::purge_expired(&*s, c.at(secs));
    purged(purge(99).await, 0, "nothing expired yet");
    purged(purge(100).await, 2, "A's and B's +100s keys");
    let want = sorted(vec![current.clone(), late], |k| k.kid.clone());
    assert_eq!(keys_of(&*s, &a).await, want);
    assert_eq!(keys_of(&*s, &b).await, Vec::new());
    purged(purge(200).await, 1, "the +200s key");
    purged(purge(1_000_000).await, 0, "none left");
    assert_eq!(
        keys_of(&*s, &a).await,
        vec![current],
        "no expiry, never purged"
    );
}
