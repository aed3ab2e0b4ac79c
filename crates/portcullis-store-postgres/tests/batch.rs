//! Group commit on the shared connections: concurrent inserts into one table, and
//! concurrent look-ups of access tokens, each run as one statement — with every caller's
//! outcome exactly that of its own statement.
//!
//! A batch forms while the batches before it are in flight; these tests hold those in
//! flight behind a row lock (an uncommitted insert of the same hash by another
//! connection) so that the rest gather. Each test is ignored (reported as skipped)
//! without `PORTCULLIS_TEST_POSTGRES`, and fails without it under `CI`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{chain, named_store, raw, server_url, Schemas};
use portcullis_core::{AccessTokenRecord, UnixTime};
use portcullis_store::{AccessTokenStore, StoreResult};
use portcullis_store_postgres::PostgresStore;
use portcullis_testkit::Fixtures;
use tokio::task::JoinHandle;

/// This test's schemas on the test server, or `None` to skip.
fn server() -> Option<Arc<Schemas>> {
    server_url().map(Schemas::new)
}

/// A store in schema `name` whose connections are named `name`, with one shared connection.
async fn store(schemas: &Schemas, name: &str) -> Arc<PostgresStore> {
    Arc::new(named_store(schemas, name, 1).await)
}

fn token(f: &Fixtures, issuer_b: bool) -> AccessTokenRecord {
    let issuer = if issuer_b {
        Fixtures::other_issuer()
    } else {
        Fixtures::issuer()
    };
    f.client_access_token(
        &issuer,
        "svc",
        UnixTime::from_secs(1_000),
        UnixTime::from_secs(4_000_000_000),
    )
}

fn insert(s: &Arc<PostgresStore>, t: &AccessTokenRecord) -> JoinHandle<StoreResult<()>> {
    let (s, t) = (s.clone(), t.clone());
    tokio::spawn(async move { s.insert_access_token(&t).await })
}

/// Another connection's uncommitted insert of `t`'s hash: a store insert of it waits for
/// this transaction's end. Returns the connection, inside its transaction.
async fn hold(schemas: &Schemas, name: &str, t: &AccessTokenRecord) -> tokio_postgres::Client {
    let db = raw(schemas.url()).await;
    db.batch_execute("BEGIN").await.unwrap();
    db.execute(
        &format!(
            "INSERT INTO {name}.access_tokens (hash, issuer, expires_at, record) \
             VALUES ($1, $2, 0, '{{}}')"
        ),
        &[&t.hash.as_bytes().as_slice(), &t.issuer.as_str()],
    )
    .await
    .unwrap();
    db
}

/// Waits (at most 10 s) until a connection named `name` waits on a lock.
async fn until_waiting_on_lock(schemas: &Schemas, name: &str) {
    let db = raw(schemas.url()).await;
    for _ in 0..1000 {
        let waiting: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE application_name = $1 AND wait_event_type = 'Lock'",
                &[&name],
            )
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no statement of {name} waits on the lock");
}

/// Lets the spawned callers reach the batcher's queue.
async fn let_callers_queue() {
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
}

/// Many concurrent inserts, of two issuers, then many concurrent look-ups: each caller
/// gets exactly its own token, none of the other issuer's, and nothing for a hash never
/// stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
async fn concurrent_inserts_and_finds_each_get_their_own_row() {
    let Some(schemas) = server() else { return };
    let name = schemas.fresh_name("batch_own");
    let s = store(&schemas, &name).await;
    let f = Fixtures::new(b"batch-own");
    let tokens: Vec<_> = (0..300).map(|i| token(&f, i % 3 == 0)).collect();
    let inserts: Vec<_> = tokens.iter().map(|t| insert(&s, t)).collect();
    for call in inserts {
        call.await.unwrap().unwrap();
    }
    let finds = tokens.iter().enumerate().map(|(i, t)| {
        let (s, t) = (s.clone(), t.clone());
        tokio::spawn(async move {
            let own = s.find_access_token(&t.issuer, &t.hash).await.unwrap();
            // The same hash under the other issuer, in the same batches: not found.
            let other = if i % 3 == 0 {
                Fixtures::issuer()
            } else {
                Fixtures::other_issuer()
            };
            let foreign = s.find_access_token(&other, &t.hash).await.unwrap();
            (t, own, foreign)
        })
    });
    let never = f.token_hash();
    let missing = {
        let s = s.clone();
        tokio::spawn(async move { s.find_access_token(&Fixtures::issuer(), &never).await })
    };
    for call in finds.collect::<Vec<_>>() {
        let (t, own, foreign) = call.await.unwrap();
        assert_eq!(own.as_ref(), Some(&t), "each caller finds its own token");
        assert_eq!(foreign, None, "a token of another issuer is not found");
    }
    assert_eq!(missing.await.unwrap().unwrap(), None);
}

/// A batch with a hash already stored, and two callers inserting the same new hash: the
/// batch statement fails and its rows run one by one, so only the duplicates' callers get
/// the unique violation, and every other row is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
async fn a_duplicate_in_a_batch_fails_only_its_caller() {
    let Some(schemas) = server() else { return };
    let name = schemas.fresh_name("batch_dup");
    let s = store(&schemas, &name).await;
    let f = Fixtures::new(b"batch-dup");
    let stored = token(&f, false);
    s.insert_access_token(&stored).await.unwrap();
    // The first insert waits on another connection's lock; the batches behind it gather.
    let held = token(&f, false);
    let db = hold(&schemas, &name, &held).await;
    let first = insert(&s, &held);
    until_waiting_on_lock(&schemas, &name).await;
    let twin = token(&f, false);
    let mut rows: Vec<_> = (0..10).map(|i| token(&f, i % 2 == 0)).collect();
    rows.insert(3, stored.clone());
    rows.insert(6, twin.clone());
    rows.insert(8, twin.clone());
    let calls: Vec<_> = rows.iter().map(|t| insert(&s, t)).collect();
    let_callers_queue().await;
    db.batch_execute("ROLLBACK").await.unwrap();
    first.await.unwrap().unwrap();
    let mut twins_stored = 0;
    for (i, call) in calls.into_iter().enumerate() {
        let outcome = call.await.unwrap();
        match i {
            3 => {
                let e = outcome.expect_err("the hash already stored");
                assert!(chain(&e).contains("unique"), "{}", chain(&e));
            }
            6 | 8 => match outcome {
                Ok(()) => twins_stored += 1,
                Err(e) => assert!(chain(&e).contains("unique"), "{}", chain(&e)),
            },
            _ => outcome.unwrap(),
        }
    }
    assert_eq!(twins_stored, 1, "exactly one of the twins is stored");
    for t in rows.iter().chain([&held]) {
        assert_eq!(
            s.find_access_token(&t.issuer, &t.hash)
                .await
                .unwrap()
                .as_ref(),
            Some(t),
            "every row stored"
        );
    }
    assert_eq!(
        s.find_access_token(&stored.issuer, &stored.hash)
            .await
            .unwrap(),
        Some(stored),
        "the stored token is not overwritten"
    );
    let count: i64 = raw(schemas.url())
        .await
        .query_one(&format!("SELECT count(*) FROM {name}.access_tokens"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        count, 13,
        "each row once: 1 stored before, the held one, 11 new"
    );
}

/// The shared connection ends while a batch waits on it: its callers get store errors
/// (none hangs, none is stored twice), and the next inserts and look-ups work again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
async fn a_connection_broken_mid_batch_fails_its_callers_then_recovers() {
    let Some(schemas) = server() else { return };
    let name = schemas.fresh_name("batch_broken");
    let s = store(&schemas, &name).await;
    let f = Fixtures::new(b"batch-broken");
    let held = token(&f, false);
    let db = hold(&schemas, &name, &held).await;
    let first = insert(&s, &held);
    until_waiting_on_lock(&schemas, &name).await;
    let rows: Vec<_> = (0..10).map(|i| token(&f, i % 2 == 0)).collect();
    let calls: Vec<_> = rows.iter().map(|t| insert(&s, t)).collect();
    let_callers_queue().await;
    let killed: i64 = db
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1 AND wait_event_type = 'Lock'",
            &[&name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 1, "the shared connection");
    let e = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("the broken batch's caller is answered")
        .unwrap()
        .expect_err("its connection broke");
    assert!(chain(&e).contains("connection"), "{}", chain(&e));
    let mut stored = Vec::new();
    for (t, call) in rows.iter().zip(calls) {
        let outcome = tokio::time::timeout(Duration::from_secs(10), call)
            .await
            .expect("every caller is answered")
            .unwrap();
        match outcome {
            Ok(()) => stored.push(t),
            Err(e) => assert!(chain(&e).contains("connection"), "{}", chain(&e)),
        }
    }
    db.batch_execute("ROLLBACK").await.unwrap();
    // Recovered: a new insert and look-ups on a fresh shared connection.
    let after = token(&f, true);
    s.insert_access_token(&after).await.unwrap();
    for t in rows.iter().chain([&held, &after]) {
        let found = s.find_access_token(&t.issuer, &t.hash).await.unwrap();
        let expected = (stored.contains(&t) || std::ptr::eq(t, &after)).then_some(t);
        assert_eq!(
            found.as_ref(),
            expected,
            "stored exactly when its caller was told so"
        );
    }
}

/// A batch task dropped before it ever ran (its runtime shut down right after the caller
/// queued) gives its place back: with every place lost, no batch would start again and
/// every insert would time out for the life of the process.
#[test]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
fn a_batch_task_dropped_unpolled_gives_its_place_back() {
    use std::future::Future as _;
    let Some(schemas) = server() else { return };
    let f = Fixtures::new(b"batch-unpolled");
    let runtime = |multi: bool| {
        let mut b = if multi {
            tokio::runtime::Builder::new_multi_thread()
        } else {
            tokio::runtime::Builder::new_current_thread()
        };
        b.enable_all().build().unwrap()
    };
    let home = runtime(true);
    let name = schemas.fresh_name("batch_unpolled");
    let s = home.block_on(store(&schemas, &name));
    // More times than there are places (two).
    for _ in 0..3 {
        let gone = runtime(false);
        let t = token(&f, false);
        gone.block_on(async {
            let mut call = std::pin::pin!(s.insert_access_token(&t));
            // One poll queues the row and spawns the batch task, which never runs.
            std::future::poll_fn(|cx| {
                let _ = call.as_mut().poll(cx);
                std::task::Poll::Ready(())
            })
            .await;
        });
        drop(gone);
    }
    let t = token(&f, false);
    home.block_on(async {
        s.insert_access_token(&t).await.unwrap();
        assert!(s
            .find_access_token(&t.issuer, &t.hash)
            .await
            .unwrap()
            .is_some());
    });
    drop(s);
    home.block_on(async move { drop(schemas) });
}
