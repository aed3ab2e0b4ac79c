//! The memory store's contract: the conformance kit, plus what only this store has —
//! `purge_all`, `len` and the incremental sweep that keeps memory bounded.

use portcullis_core::{AccessTokenRecord, Algorithm};
use portcullis_store::{
    AccessTokenStore, ClientStore, CodeStore, GrantStore, KeyStore, RefreshTokenStore, ReplayCache,
    ReplayNamespace, RotationGrace, SessionStore,
};
use portcullis_store_memory::{MemoryStore, SWEEP_BATCH, SWEEP_EVERY};
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
    let tickets = ReplayNamespace::new("ticket");
    s.check_and_insert(
        &Fixtures::issuer(),
        tickets,
        &f.token_hash(),
        c.at(100),
        c.at(0),
    )
    .await
    .unwrap();
    s.insert_session(&f.session(&Fixtures::issuer(), "alice", c.at(0), c.at(300)))
        .await
        .unwrap();
    assert_eq!(s.len().unwrap(), 6);
    assert_eq!(s.purge_all(c.at(99)).unwrap(), 0);
    assert_eq!(s.purge_all(c.at(300)).unwrap(), 6);
    assert!(s.is_empty().unwrap());
}

#[tokio::test]
async fn memory_stays_bounded_without_explicit_purges() {
    let (s, f, c) = (
        MemoryStore::new(),
        Fixtures::new(b"bounded"),
        TestClock::default(),
    );
    // Each token lives 10 s; time advances 1 s per insert. A sweep step comes every
    // SWEEP_EVERY inserts and, the map being smaller than a batch, examines all of it.
    for i in 0..(16 * SWEEP_EVERY as u64) {
        s.insert_access_token(&access(&f, &c, i, i + 10))
            .await
            .unwrap();
        assert!(s.len().unwrap() <= SWEEP_EVERY + 10, "{}", s.len().unwrap());
    }
}

#[tokio::test]
async fn expired_records_of_every_kind_go_without_an_explicit_purge() {
    let (s, f, c) = (
        MemoryStore::new(),
        Fixtures::new(b"swept"),
        TestClock::default(),
    );
    let issuer = Fixtures::issuer();
    let grant = f.grant(&issuer, "alice", "c", c.at(0), c.at(300));
    let family = f.family_id();
    let mut client = f.client();
    client.expires_at = Some(c.at(300));
    s.save_client(&issuer, &client).await.unwrap();
    let mut key = f.key(&issuer, Algorithm::EdDSA, c.at(0));
    key.expires_at = Some(c.at(300));
    s.insert_key(&key).await.unwrap();
    s.save_grant(&grant).await.unwrap();
    s.insert_code(&f.code(&grant, &family, c.at(0), c.at(60)))
        .await
        .unwrap();
    s.insert_access_token(&f.access_token(&grant, &family, c.at(0), c.at(100)))
        .await
        .unwrap();
    let old = f.refresh_token(&grant, &family, c.at(0), c.at(200));
    s.insert_refresh_token(&old).await.unwrap();
    let grace = RotationGrace {
        sealed_answer: "sealed".into(),
        until: c.at(20),
        max_claims: 1,
    };
    let successor = f.refresh_token(&grant, &family, c.at(10), c.at(200));
    s.rotate_refresh_token(&issuer, &old.hash, &successor, Some(&grace))
        .await
        .unwrap();
    s.revoke_family(&issuer, &f.family_id(), c.at(250))
        .await
        .unwrap();
    let tickets = ReplayNamespace::new("ticket");
    s.check_and_insert(&issuer, tickets, &f.token_hash(), c.at(600), c.at(0))
        .await
        .unwrap();
    // Client, key, grant, code, access token, two refresh tokens, grace, revoked family,
    // replay-cache entry.
    assert_eq!(s.len().unwrap(), 10);
    let fresh = 2 * SWEEP_EVERY;
    for _ in 0..fresh {
        s.insert_access_token(&access(&f, &c, 1000, 2000))
            .await
            .unwrap();
    }
    assert_eq!(s.len().unwrap(), fresh);
    assert!(s
        .grants_for(&issuer, "alice", "c")
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn an_insert_sweeps_at_most_a_batch() {
    let (s, f, c) = (
        MemoryStore::new(),
        Fixtures::new(b"batch"),
        TestClock::default(),
    );
    // Many more records than a batch, all alive while inserted: no step removes any.
    let expired = 8 * SWEEP_BATCH.max(SWEEP_EVERY);
    let expired = expired - expired % SWEEP_EVERY - 1;
    for _ in 0..expired {
        s.insert_access_token(&access(&f, &c, 0, 10)).await.unwrap();
    }
    assert_eq!(s.len().unwrap(), expired);
    let mut before = expired;
    for _ in 0..3 {
        // The insert that completes SWEEP_EVERY takes a step: it removes some, at most a batch.
        s.insert_access_token(&access(&f, &c, 1000, 2000))
            .await
            .unwrap();
        let removed = before + 1 - s.len().unwrap();
        assert!((1..=SWEEP_BATCH).contains(&removed), "{removed}");
        // Until the next step, inserts remove nothing.
        before = s.len().unwrap();
        for _ in 1..SWEEP_EVERY {
            s.insert_access_token(&access(&f, &c, 1000, 2000))
                .await
                .unwrap();
        }
        assert_eq!(s.len().unwrap(), before + SWEEP_EVERY - 1);
        before = s.len().unwrap();
    }
}

/// Sessions grow with sign-ins, so they are swept too: with no explicit purge, expired
/// sessions go and memory stays bounded; a swept session leaves no trace in the index that
/// "sign out everywhere" uses.
#[tokio::test]
async fn expired_sessions_go_without_an_explicit_purge() {
    let (s, f, c) = (
        MemoryStore::new(),
        Fixtures::new(b"sessions"),
        TestClock::default(),
    );
    let issuer = Fixtures::issuer();
    // Each session lives 10 s; time advances 1 s per sign-in.
    for i in 0..(16 * SWEEP_EVERY as u64) {
        let session = f.session(&issuer, &format!("user{i}"), c.at(i), c.at(i + 10));
        s.insert_session(&session).await.unwrap();
        assert!(s.len().unwrap() <= SWEEP_EVERY + 10, "{}", s.len().unwrap());
    }
    // Every user but the last few was swept: signing one out everywhere finds nothing.
    let gone = s
        .delete_sessions_of_subject(&issuer, "user0")
        .await
        .unwrap();
    assert_eq!(gone, 0);
}

/// The maps grow table by table (a resize of one of them moves a part of the map): readers
/// running while the store grows many times over always find what was inserted before.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_find_every_token_while_the_store_grows() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let (s, f, c) = (
        Arc::new(MemoryStore::new()),
        Fixtures::new(b"growth"),
        TestClock::default(),
    );
    let issuer = Fixtures::issuer();
    let first: Arc<Vec<_>> = Arc::new((0..256).map(|_| access(&f, &c, 0, 1000)).collect());
    for t in first.iter() {
        s.insert_access_token(t).await.unwrap();
    }
    let grown = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (s, first, grown) = (s.clone(), first.clone(), grown.clone());
            let issuer = issuer.clone();
            tokio::spawn(async move {
                let mut rounds = 0;
                loop {
                    for t in first.iter() {
                        let found = s.find_access_token(&issuer, &t.hash).await.unwrap();
                        assert_eq!(found.as_ref(), Some(t));
                    }
                    rounds += 1;
                    if grown.load(Ordering::Acquire) {
                        return rounds;
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    // 64 times the first tokens: every table resizes several times.
    for _ in 0..64 * first.len() {
        s.insert_access_token(&access(&f, &c, 0, 1000))
            .await
            .unwrap();
    }
    grown.store(true, Ordering::Release);
    for r in readers {
        assert!(r.await.unwrap() > 0);
    }
    assert_eq!(s.len().unwrap(), 65 * 256);
}
