//! The memory store's contract: the conformance kit, plus what only this store has —
//! `purge_all`, `len` and the automatic purge that keeps memory bounded.

use portcullis_core::AccessTokenRecord;
use portcullis_store::TokenStore;
use portcullis_store_memory::{MemoryStore, AUTO_PURGE_EVERY};
use portcullis_testkit::{conformance_tests, shared_in_process, Fixtures, TestClock};

conformance_tests!(shared_in_process(MemoryStore::new));

fn access(f: &Fixtures, clock: &TestClock, issued: u64, expires: u64) -> AccessTokenRecord {
    f.client_access_token(
        &Fixtures::issuer(),
        "c",
        clock.at(issued),
        clock.at(expires),
    )
}

#[tokio::test]
async fn purge_all_empties_every_aggregate() {
    let (s, f, c) = (
        MemoryStore::new(),
        Fixtures::new(b"purge_all"),
        TestClock::default(),
    );
    let grant = f.grant(&Fixtures::issuer(), "alice", "c", c.at(0), c.at(300));
    let family = f.family_id();
    s.save_grant(&grant).await.unwrap();
    s.insert_access_token(&f.access_token(&grant, &family, c.at(0), c.at(100)))
        .await
        .unwrap();
    s.insert_refresh_token(&f.refresh_token(&grant, &family, c.at(0), c.at(200)))
        .await
        .unwrap();
    s.revoke_family(&Fixtures::issuer(), &family, c.at(250))
        .await
        .unwrap();
    assert_eq!(s.len().unwrap(), 4);
    assert_eq!(s.purge_all(c.at(99)).unwrap(), 0);
    assert_eq!(s.purge_all(c.at(300)).unwrap(), 4);
    assert!(s.is_empty().unwrap());
}

#[tokio::test]
async fn memory_stays_bounded_without_explicit_purges() {
    let (s, f, c) = (
        MemoryStore::new(),
        Fixtures::new(b"bounded"),
        TestClock::default(),
    );
    // Each token lives 10 s; time advances 1 s per insert.
    for i in 0..(4 * AUTO_PURGE_EVERY) {
        s.insert_access_token(&access(&f, &c, i, i + 10))
            .await
            .unwrap();
    }
    assert!(
        s.len().unwrap() <= AUTO_PURGE_EVERY as usize + 10,
        "{}",
        s.len().unwrap()
    );
}
