//! [`ClientStore`]: registered clients per issuer (RFC 6749 §2), with optional expiry
//! (RFC 7591 `client_secret_expires_at`-style registrations).

use std::sync::Arc;

use portcullis_core::{Client, Issuer, ScopeSet};
use portcullis_store::ClientStore;

use super::races::{race, RACERS, ROUNDS};
use super::{purged, Must};
use crate::{Fixtures, Harness};

/// `save_client` then `find_client` gives back the client as saved, every field intact; an
/// unknown `client_id` is `None`.
pub async fn client_round_trip<S: ClientStore>(h: Harness<S>) {
    let (s, f, now) = (h.open().await, h.fixtures(), h.clock().now());
    let a = Fixtures::issuer();
    let client = f.client();
    s.save_client(&a, &client).await.must("save_client");
    let found = s.find_client(&a, &client.id, now).await.must("find_client");
    assert_eq!(found, Some(Arc::new(client)), "the client as saved");
    let unknown = s.find_client(&a, &f.id(), now).await.must("find_client");
    assert_eq!(unknown, None, "an unknown client_id");
}

/// A dynamically registered client comes back with its registration intact: metadata of
/// the key and mutual-TLS methods (`jwks`, `jwks_uri`, `token_endpoint_auth_signing_alg`,
/// a `tls_client_auth_*` subject; RFC 7591 §2, RFC 8705 §2.1.2) as well as its kind.
pub async fn registered_client_round_trip<S: ClientStore>(h: Harness<S>) {
    let (s, f, now) = (h.open().await, h.fixtures(), h.clock().now());
    let a = Fixtures::issuer();
    let bodies: [&[u8]; 3] = [
        br#"{"grant_types":["client_credentials"],"scope":"read",
            "token_endpoint_auth_method":"private_key_jwt",
            "token_endpoint_auth_signing_alg":"ES256",
            "jwks":{"keys":[{"kty":"EC","crv":"P-256","kid":"k1",
                "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}}"#,
        br#"{"grant_types":["client_credentials"],"scope":"read",
            "token_endpoint_auth_method":"private_key_jwt",
            "jwks_uri":"https://client.example/jwks"}"#,
        br#"{"grant_types":["client_credentials"],"scope":"read",
            "token_endpoint_auth_method":"tls_client_auth",
            "tls_client_auth_san_ip":"192.0.2.7"}"#,
    ];
    for body in bodies {
        let client = f.registered_client(body);
        s.save_client(&a, &client).await.must("save_client");
        let found = s.find_client(&a, &client.id, now).await.must("find_client");
        assert_eq!(
            found,
            Some(Arc::new(client)),
            "the registered client as saved"
        );
    }
}

/// `save_client` on an existing `client_id` replaces the client ("inserts or replaces").
pub async fn client_save_replaces<S: ClientStore>(h: Harness<S>) {
    let (s, f, now) = (h.open().await, h.fixtures(), h.clock().now());
    let a = Fixtures::issuer();
    let first = f.client();
    s.save_client(&a, &first).await.must("save_client");
    let mut second = f.client();
    second.id = first.id.clone();
    second.expires_at = Some(h.clock().at(1_000));
    s.save_client(&a, &second).await.must("save_client");
    let found = s.find_client(&a, &first.id, now).await.must("find_client");
    assert_eq!(
        found,
        Some(Arc::new(second)),
        "the second save replaced the first"
    );
}

/// A client of issuer A is invisible to issuer B: B neither finds nor deletes it, and B may
/// register a different client under the same `client_id`.
pub async fn clients_are_scoped_by_issuer<S: ClientStore>(h: Harness<S>) {
    let (s, f, now) = (h.open().await, h.fixtures(), h.clock().now());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let mine = f.client();
    s.save_client(&a, &mine).await.must("save_client");
    let via_b = s.find_client(&b, &mine.id, now).await.must("find_client");
    assert_eq!(via_b, None, "issuer B must not see issuer A's client");
    let deleted = s.delete_client(&b, &mine.id).await.must("delete_client");
    assert!(!deleted, "issuer B must not delete issuer A's client");
    let mut theirs = f.client();
    theirs.id = mine.id.clone();
    s.save_client(&b, &theirs).await.must("save_client");
    let found_a = s.find_client(&a, &mine.id, now).await.must("find_client");
    assert_eq!(found_a, Some(Arc::new(mine)), "A's client untouched by B's");
    let found_b = s.find_client(&b, &theirs.id, now).await.must("find_client");
    assert_eq!(
        found_b,
        Some(Arc::new(theirs)),
        "B's client under the same id"
    );
}

/// `find_client` hides a client whose registration expired at `now` (`expires_at <= now`)
/// before it is purged; a client without expiry never expires.
pub async fn client_expires_at_its_expiry<S: ClientStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    let mut lapsing = f.client();
    lapsing.expires_at = Some(c.at(100));
    let forever = f.client();
    s.save_client(&a, &lapsing).await.must("save_client");
    s.save_client(&a, &forever).await.must("save_client");
    let before = s.find_client(&a, &lapsing.id, c.at(99)).await;
    assert_eq!(before.must("find_client"), Some(Arc::new(lapsing.clone())));
    for t in [100, 101] {
        let after = s.find_client(&a, &lapsing.id, c.at(t)).await;
        assert_eq!(after.must("find_client"), None, "expired at +{t}s");
    }
    let late = s.find_client(&a, &forever.id, c.at(u32::MAX.into())).await;
    assert_eq!(
        late.must("find_client"),
        Some(Arc::new(forever)),
        "no expiry"
    );
}

/// `delete_client` removes the client and says whether it existed.
pub async fn client_delete<S: ClientStore>(h: Harness<S>) {
    let (s, f, now) = (h.open().await, h.fixtures(), h.clock().now());
    let a = Fixtures::issuer();
    let (gone, kept) = (f.client(), f.client());
    s.save_client(&a, &gone).await.must("save_client");
    s.save_client(&a, &kept).await.must("save_client");
    assert!(s.delete_client(&a, &gone.id).await.must("delete_client"));
    let found = s.find_client(&a, &gone.id, now).await.must("find_client");
    assert_eq!(found, None, "deleted");
    let again = s.delete_client(&a, &gone.id).await.must("delete_client");
    assert!(!again, "a second delete finds nothing");
    let other = s.find_client(&a, &kept.id, now).await.must("find_client");
    assert_eq!(other, Some(Arc::new(kept)), "only the named client goes");
}

/// `purge_expired` removes exactly the clients of every issuer whose registration expired at
/// `now`, and returns how many.
pub async fn client_purge_expired<S: ClientStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let with_expiry = |secs| {
        let mut client = f.client();
        client.expires_at = Some(c.at(secs));
        client
    };
    let (a100, b100, a200, forever) = (
        with_expiry(100),
        with_expiry(100),
        with_expiry(200),
        f.client(),
    );
    for (issuer, client) in [(&a, &a100), (&b, &b100), (&a, &a200), (&a, &forever)] {
        s.save_client(issuer, client).await.must("save_client");
    }
    let purge = |secs| ClientStore::purge_expired(&*s, c.at(secs));
    purged(purge(99).await, 0, "nothing expired yet");
    purged(purge(100).await, 2, "A's and B's at +100s");
    let found = s
        .find_client(&a, &a200.id, c.at(50))
        .await
        .must("find_client");
    assert_eq!(found, Some(Arc::new(a200)), "+200s client kept");
    let gone = s
        .find_client(&a, &a100.id, c.at(50))
        .await
        .must("find_client");
    assert_eq!(gone, None, "a purged client is gone at any time");
    purged(purge(200).await, 1, "+200s client");
    purged(purge(1_000_000).await, 0, "no expiry left");
    let kept = s
        .find_client(&a, &forever.id, c.at(50))
        .await
        .must("find_client");
    assert_eq!(
        kept,
        Some(Arc::new(forever)),
        "a client without expiry is never purged"
    );
}

/// `list_clients` gives every client of one issuer, ordered by `client_id`, without those
/// expired at `now`, and none of another issuer's.
pub async fn clients_are_listed_by_issuer<S: ClientStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let none = s.list_clients(&a, c.at(0)).await.must("list_clients");
    assert_eq!(none, Vec::<Arc<Client>>::new(), "no client yet");
    let (first, second) = (f.client(), f.client());
    let mut lapsing = f.client();
    lapsing.expires_at = Some(c.at(100));
    let mut theirs = f.client();
    theirs.id = first.id.clone();
    for (issuer, client) in [(&a, &second), (&a, &lapsing), (&a, &first), (&b, &theirs)] {
        s.save_client(issuer, client).await.must("save_client");
    }
    let listed = |issuer: Issuer, secs: u64| {
        let s = s.clone();
        async move {
            let all = s
                .list_clients(&issuer, c.at(secs))
                .await
                .must("list_clients");
            all.iter().map(|c| (**c).clone()).collect::<Vec<_>>()
        }
    };
    let mut of_a = vec![first.clone(), second.clone(), lapsing.clone()];
    of_a.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(listed(a.clone(), 99).await, of_a, "A's clients, ordered");
    of_a.retain(|x| x.id != lapsing.id);
    assert_eq!(listed(a, 100).await, of_a, "without the expired one");
    assert_eq!(listed(b, 100).await, vec![theirs], "only B's under B");
}

/// `replace_client` stores the replacement only over the client it expects: over the one
/// stored (then the next swap must expect the replacement), or with `None` only where no
/// client has that id; never across issuers.
pub async fn replace_client_compares_and_swaps<S: ClientStore>(h: Harness<S>) {
    let (s, f, now) = (h.open().await, h.fixtures(), h.clock().now());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let original = f.client();
    let swap = |current: Option<Client>, replacement: Client, issuer: Issuer| {
        let s = s.clone();
        async move {
            let out = s
                .replace_client(&issuer, current.as_ref(), &replacement)
                .await;
            out.must("replace_client")
        }
    };
    let found = |issuer: Issuer, id: String| {
        let s = s.clone();
        async move {
            let client = s.find_client(&issuer, &id, now).await.must("find_client");
            client.map(|c| (*c).clone())
        }
    };
    assert!(swap(None, original.clone(), a.clone()).await, "inserted");
    assert!(
        !swap(None, original.clone(), a.clone()).await,
        "already there"
    );
    let mut changed = original.clone();
    changed.first_party = !changed.first_party;
    let mut stale = original.clone();
    stale.redirect_uris.clear();
    assert!(
        !swap(Some(stale), changed.clone(), a.clone()).await,
        "stale"
    );
    let id = original.id.clone();
    assert_eq!(found(a.clone(), id.clone()).await, Some(original.clone()));
    assert!(!swap(Some(original.clone()), changed.clone(), b.clone()).await);
    assert_eq!(found(b.clone(), id.clone()).await, None, "nothing in B");
    assert!(swap(Some(original.clone()), changed.clone(), a.clone()).await);
    assert_eq!(found(a.clone(), id.clone()).await, Some(changed.clone()));
    assert!(
        !swap(Some(original), changed.clone(), a.clone()).await,
        "once"
    );
    assert!(swap(None, changed.clone(), b.clone()).await, "B's own");
    // An expired client still counts as stored.
    let mut lapsed = f.client();
    lapsed.expires_at = Some(h.clock().at(0));
    s.save_client(&a, &lapsed).await.must("save_client");
    assert!(
        !swap(None, lapsed.clone(), a.clone()).await,
        "an expired one"
    );
    let mut renewed = lapsed.clone();
    renewed.expires_at = None;
    assert!(swap(Some(lapsed), renewed.clone(), a.clone()).await);
    assert_eq!(found(a, renewed.id.clone()).await, Some(renewed));
}

/// Racers each swapping the same stored client for their own replacement, from separate
/// handles: exactly one wins, and its replacement is what is stored.
pub async fn racing_client_replacements_on_separate_handles<S: ClientStore>(h: Harness<S>) {
    let handles = h.open_many(RACERS).await;
    let (f, now, a) = (h.fixtures(), h.clock().now(), Fixtures::issuer());
    for round in 0..ROUNDS {
        let original = f.client();
        let first = &handles[round % handles.len()];
        first.save_client(&a, &original).await.must("save_client");
        let replacements: Arc<Vec<Client>> = Arc::new(
            (0..RACERS)
                .map(|i| {
                    let mut c = original.clone();
                    c.default_scopes = ScopeSet::parse(&format!("racer{i}")).expect("a scope");
                    c.allowed_scopes = c.default_scopes.clone();
                    c
                })
                .collect(),
        );
        let outcomes = race(&handles, |s, i| {
            let (a, original, replacements) = (a.clone(), original.clone(), replacements.clone());
            async move {
                let out = s
                    .replace_client(&a, Some(&original), &replacements[i])
                    .await;
                out.must("replace_client")
            }
        })
        .await;
        let winners: Vec<usize> = (0..RACERS).filter(|&i| outcomes[i]).collect();
        assert_eq!(winners.len(), 1, "round {round}: exactly one winner");
        let reader = &handles[(round + 1) % handles.len()];
        let stored = reader.find_client(&a, &original.id, now).await;
        assert_eq!(
            stored.must("find_client").as_deref(),
            Some(&replacements[winners[0]]),
            "round {round}: the winner's client"
        );
    }
}
