//! [`ClientStore`]: registered clients per issuer (RFC 6749 §2), with optional expiry
//! (RFC 7591 `client_secret_expires_at`-style registrations).

use std::sync::Arc;

use portcullis_store::ClientStore;

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
