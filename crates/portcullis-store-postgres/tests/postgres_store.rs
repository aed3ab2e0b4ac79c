//! What only the PostgreSQL store promises: migrations applied once when nodes start
//! together, secrets only as hashes, an index behind every lookup, batched purges that
//! never wait on a locked row, grant revocation sticky in the JSON copy too, and errors
//! that keep their source instead of panicking. (Rotations racing a revocation are the
//! kit's `revocation::rotations_racing_a_revocation_leave_nothing_alive`.)
//!
//! Each test is ignored (reported as skipped) without `PORTCULLIS_TEST_POSTGRES`, and fails
//! without it under `CI` (see `build.rs`).

mod common;

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use common::{chain, named_store, raw, server_url, Schemas, LATEST_SCHEMA};
use portcullis_core::{
    Algorithm, ClientKind, ClientSecretHash, CodeRecord, Grant, TokenHash, UnixTime,
};
use portcullis_store::{
    AccessTokenStore, CodeStore, ConsumeOutcome, GrantStore, KeyStore, RefreshTokenStore,
    ReplayCache, ReplayNamespace, RotateOutcome, StoreError,
};
use portcullis_store_postgres::{PostgresConfig, PostgresStore, PURGE_BATCH};
use portcullis_testkit::{Fixtures, TestClock};
use tokio::sync::Barrier;

/// This test's schemas on the test server, or `None` to skip.
fn server() -> Option<Arc<Schemas>> {
    server_url().map(Schemas::new)
}

fn code_under(f: &Fixtures, c: &TestClock) -> (Grant, CodeRecord) {
    let grant = f.grant(&Fixtures::issuer(), "alice", "c", c.at(0), c.at(10_000));
    let code = f.code(&grant, &f.family_id(), c.at(0), c.at(600));
    (grant, code)
}

#[track_caller]
fn assert_sourced(e: &StoreError, what: &str) {
    assert!(
        e.source().is_some(),
        "{what}: the driver error is kept: {e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
async fn nodes_connecting_together_migrate_once() {
    let Some(schemas) = server() else { return };
    let name = schemas.fresh_name("migrate");
    schemas.claim(&name).await;
    let nodes = 8;
    let start = Arc::new(Barrier::new(nodes));
    let connects: Vec<_> = (0..nodes)
        .map(|_| {
            let (config, start) = (schemas.config(&name), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                PostgresStore::connect_with(config).await
            })
        })
        .collect();
    for connect in connects {
        let store = connect.await.expect("connect task");
        let store = store.unwrap_or_else(|e| panic!("a node failed to start: {}", chain(&e)));
        assert_eq!(store.schema_version().await.unwrap(), LATEST_SCHEMA);
    }
    let again = schemas.open(&name).await;
    assert_eq!(again.schema_version().await.unwrap(), LATEST_SCHEMA);
    let applied = raw(schemas.url())
        .await
        .query_one(&format!("SELECT COUNT(*) FROM {name}.schema_version"), &[])
        .await
        .unwrap();
    assert_eq!(
        applied.get::<_, i64>(0),
        LATEST_SCHEMA,
        "each migration applied once"
    );
}

#[tokio::test]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
async fn a_newer_schema_is_refused() {
    let Some(schemas) = server() else { return };
    let name = schemas.fresh_name("newer");
    drop(schemas.open(&name).await);
    raw(schemas.url())
        .await
        .batch_execute(&format!("INSERT INTO {name}.schema_version VALUES (99)"))
        .await
        .unwrap();
    let e = PostgresStore::connect_with(schemas.config(&name))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("newer"), "{e}");
}

#[tokio::test]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
async fn secrets_are_stored_only_as_hashes() {
    let Some(schemas) = server() else { return };
    let name = schemas.fresh_name("hashes");
    let s = schemas.open(&name).await;
    let (f, c) = (Fixtures::new(b"hashes"), TestClock::default());
    let secret = |n: u8| {
        format!(
            "{}{n:02}",
            "S3cr3t-bearer-value-that-must-not-leak-".repeat(2)
        )
    };
    let (grant, mut code) = code_under(&f, &c);
    code.hash = TokenHash::of(&secret(1));
    let mut access = f.access_token(&grant, &f.family_id(), c.at(0), c.at(60));
    access.hash = TokenHash::of(&secret(2));
    let mut refresh = f.refresh_token(&grant, &f.family_id(), c.at(0), c.at(60));
    refresh.hash = TokenHash::of(&secret(3));
    let successor = f.refresh_token(&grant, &refresh.family_id, c.at(1), c.at(60));
    let mut client = f.client();
    client.kind =
        ClientKind::confidential(ClientSecretHash::sha256_of_generated(&secret(4)).unwrap());
    s.save_grant(&grant).await.unwrap();
    s.insert_code(&code).await.unwrap();
    s.consume_code(&Fixtures::issuer(), &code.hash, c.at(1))
        .await
        .unwrap();
    s.insert_access_token(&access).await.unwrap();
    s.insert_refresh_token(&refresh).await.unwrap();
    let rotated = s
        .rotate_refresh_token(&Fixtures::issuer(), &refresh.hash, &successor, None)
        .await;
    assert_eq!(rotated.unwrap(), RotateOutcome::Rotated);
    portcullis_store::ClientStore::save_client(&s, &Fixtures::issuer(), &client)
        .await
        .unwrap();
    let ticket = TokenHash::of(&secret(5));
    let tickets = ReplayNamespace::new("ticket");
    s.check_and_insert(&Fixtures::issuer(), tickets, &ticket, c.at(60), c.at(0))
        .await
        .unwrap();
    let mut session = f.session(&Fixtures::issuer(), "alice", c.at(0), c.at(60));
    session.hash = TokenHash::of(&secret(5));
    portcullis_store::SessionStore::insert_session(&s, &session)
        .await
        .unwrap();
    let mut pushed = f.pushed_request(&Fixtures::issuer(), "alice-app", c.at(0), c.at(60));
    pushed.hash = TokenHash::of(&secret(6));
    portcullis_store::PushedRequestStore::insert_pushed_request(&s, &pushed)
        .await
        .unwrap();
    let mut device = f.device_authorization(&Fixtures::issuer(), "tv", c.at(0), c.at(60));
    device.hash = TokenHash::of(&secret(7));
    device.user_code_hash = TokenHash::of(&secret(8));
    let stored =
        portcullis_store::DeviceAuthorizationStore::insert_device_authorization(&s, &device);
    assert_eq!(
        stored.await.unwrap(),
        portcullis_store::DeviceInsertOutcome::Inserted
    );

    // Every row of every table, as text.
    let db = raw(schemas.url()).await;
    let tables = db
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
            &[&name],
        )
        .await
        .unwrap();
    assert_eq!(tables.len(), 13, "twelve tables and schema_version");
    let mut dump = String::new();
    for table in tables {
        let table: String = table.get(0);
        let sql = format!("SELECT COALESCE(string_agg(t::text, E'\\n'), '') FROM {name}.{table} t");
        dump.push_str(&db.query_one(&sql, &[]).await.unwrap().get::<_, String>(0));
    }
    for n in 1..=8 {
        assert!(!dump.contains(&secret(n)), "secret {n} in plaintext");
    }
    let hex: String = code
        .hash
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(dump.contains(&hex), "the code is keyed by its hash");
}

#[tokio::test]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
async fn every_lookup_is_served_by_an_index() {
    let Some(schemas) = server() else { return };
    let name = schemas.fresh_name("indexes");
    drop(schemas.open(&name).await);
    let db = raw(schemas.url()).await;
    db.batch_execute(&format!(
        "SET search_path TO {name}; SET enable_seqscan = off"
    ))
    .await
    .unwrap();
    let h = "'\\x00'::bytea";
    let lookups = [
        "clients WHERE issuer = 'a' AND client_id = 'b'".to_owned(),
        "clients WHERE expires_at <= 5".to_owned(),
        format!("codes WHERE hash = {h} AND issuer = 'a'"),
        "codes WHERE expires_at <= 5".to_owned(),
        "grants WHERE issuer = 'a' AND id = 'g'".to_owned(),
        "grants WHERE issuer = 'a' AND subject = 's' AND client_id = 'c'".to_owned(),
        "grants WHERE issuer = 'a' AND subject = 's'".to_owned(),
        "grants WHERE expires_at <= 5".to_owned(),
        "revoked_families WHERE issuer = 'a' AND family_id = 'f'".to_owned(),
        "revoked_families WHERE until <= 5".to_owned(),
        format!("access_tokens WHERE hash = {h} AND issuer = 'a'"),
        "access_tokens WHERE expires_at <= 5".to_owned(),
        format!("refresh_tokens WHERE hash = {h} AND issuer = 'a'"),
        "refresh_tokens WHERE expires_at <= 5".to_owned(),
        format!("refresh_graces WHERE old_hash = {h} AND issuer = 'a'"),
        "refresh_graces WHERE until <= 5".to_owned(),
        "signing_keys WHERE issuer = 'a'".to_owned(),
        "signing_keys WHERE expires_at <= 5".to_owned(),
        format!("replay_cache WHERE issuer = 'a' AND namespace = 'n' AND id = {h}"),
        "replay_cache WHERE expires_at <= 5".to_owned(),
        format!("device_authorizations WHERE hash = {h} AND issuer = 'a'"),
        format!("device_authorizations WHERE user_code_hash = {h} AND issuer = 'a'"),
        "device_authorizations WHERE expires_at <= 5".to_owned(),
    ];
    for lookup in lookups {
        let plan = db
            .query(&format!("EXPLAIN SELECT ctid FROM {lookup}"), &[])
            .await
            .unwrap();
        let plan: Vec<String> = plan.iter().map(|r| r.get(0)).collect();
        assert!(
            !plan.iter().any(|line| line.contains("Seq Scan")),
            "{lookup}: {plan:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
async fn purge_deletes_in_batches_skips_locked_rows_and_counts_every_row() {
    let Some(schemas) = server() else { return };
    let name = schemas.fresh_name("purge");
    let s = schemas.open(&name).await;
    let rows = 2 * PURGE_BATCH + 7;
    let db = raw(schemas.url()).await;
    db.batch_execute(&format!(
        "INSERT INTO {name}.access_tokens (hash, issuer, expires_at, record) \
         SELECT sha256(i::text::bytea), 'i', i, '{{}}' FROM generate_series(0, {rows} - 1) i"
    ))
    .await
    .unwrap();
    // Another transaction holds one expired row (say, a node in the middle of a write).
    let mut holder = raw(schemas.url()).await;
    let tx = holder.transaction().await.unwrap();
    let sql = format!("SELECT 1 FROM {name}.access_tokens WHERE expires_at = 0 FOR UPDATE");
    assert_eq!(tx.query(&sql, &[]).await.unwrap().len(), 1);

    let now = UnixTime::from_secs(rows.unsigned_abs());
    let purge = AccessTokenStore::purge_expired(&s, now);
    let purged = tokio::time::timeout(Duration::from_secs(10), purge)
        .await
        .expect("a purge never waits for a locked row")
        .unwrap();
    assert_eq!(purged, rows.unsigned_abs() - 1, "all but the locked row");
    tx.rollback().await.unwrap();
    assert_eq!(AccessTokenStore::purge_expired(&s, now).await.unwrap(), 1);
    assert_eq!(AccessTokenStore::purge_expired(&s, now).await.unwrap(), 0);
}

/// The kit checks that a stale save keeps a grant revoked
/// (`grants::a_stale_save_keeps_the_revocation_and_saves_the_rest`); here, that the JSON copy
/// of the record says so too, not only the column.
#[tokio::test]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
async fn a_revoked_grant_stays_revoked_in_its_column_and_its_record() {
    let Some(schemas) = server() else { return };
    let name = schemas.fresh_name("sticky");
    let s = schemas.open(&name).await;
    let (f, c) = (Fixtures::new(b"sticky"), TestClock::default());
    let a = Fixtures::issuer();
    let grant = f.grant(&a, "alice", "c", c.at(0), c.at(100));
    s.save_grant(&grant).await.unwrap();
    assert!(s.revoke_grant(&a, &grant.id).await.unwrap());
    // A concurrent touch that read the grant before the revocation saves it back.
    let touched = Grant {
        last_used_at: c.at(50),
        ..grant
    };
    s.save_grant(&touched).await.unwrap();
    let row = raw(schemas.url())
        .await
        .query_one(
            &format!("SELECT revoked, record->>'revoked' FROM {name}.grants"),
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "the column");
    assert_eq!(row.get::<_, String>(1), "true", "the JSON copy agrees");
}

#[tokio::test]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
async fn failures_are_store_errors_with_their_source() {
    let Some(schemas) = server() else { return };
    let nowhere = PostgresConfig::from_url("postgres://postgres@127.0.0.1:1/postgres")
        .unwrap()
        .wait_timeout(Duration::from_secs(2));
    let e = PostgresStore::connect_with(nowhere).await.unwrap_err();
    assert_sourced(&e, "no server there");

    let name = schemas.fresh_name("errors");
    let s = schemas.open(&name).await;
    let (f, c) = (Fixtures::new(b"errors"), TestClock::default());
    let (_, code) = code_under(&f, &c);
    s.insert_code(&code).await.unwrap();
    let e = s.insert_code(&code).await.unwrap_err();
    assert!(e.to_string().contains("unique"), "{e}");
    assert_sourced(&e, "a duplicate code");
    let key = f.key(&Fixtures::issuer(), Algorithm::ES256, c.at(0));
    s.insert_key(&key).await.unwrap();
    let e = s.insert_key(&key).await.unwrap_err();
    assert_sourced(&e, "a duplicate kid (a key is never overwritten)");

    let db = raw(schemas.url()).await;
    db.batch_execute(&format!(
        "UPDATE {name}.codes SET record = '{{\"not\": \"a code\"}}'"
    ))
    .await
    .unwrap();
    let e = s
        .consume_code(&Fixtures::issuer(), &code.hash, c.at(1))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("corrupt"), "{e}");
    assert_sourced(&e, "a corrupt record");

    db.batch_execute(&format!("DROP TABLE {name}.grants CASCADE"))
        .await
        .unwrap();
    let e = s
        .find_grant(&Fixtures::issuer(), &f.grant_id())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
    assert_sourced(&e, "a dropped table");
    // The corrupt code failed closed: the statement that could not hand it over still
    // consumed it, so it can never be redeemed.
    let again = s
        .consume_code(&Fixtures::issuer(), &code.hash, c.at(2))
        .await;
    assert!(
        matches!(again, Ok(ConsumeOutcome::AlreadyConsumed { .. })),
        "{again:?}"
    );
}

/// A store on `name` whose connections carry `name` as their `application_name`, with
/// `shared` shared connections.
/// How many server connections carry `application_name` `name`.
async fn connections_named(db: &tokio_postgres::Client, name: &str) -> i64 {
    db.query_one(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
        &[&name],
    )
    .await
    .unwrap()
    .get(0)
}

/// Single statements share the few shared connections, pipelined: many at once open no
/// connection beyond them (and the pooled one the migration took).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
async fn single_statements_share_the_pipelined_connections() {
    let Some(schemas) = server() else { return };
    let name = schemas.fresh_name("shared");
    let s = Arc::new(named_store(&schemas, &name, 2).await);
    let (f, c) = (Fixtures::new(b"shared"), TestClock::default());
    let a = Fixtures::issuer();
    let grant = f.grant(&a, "alice", "c", c.at(0), c.at(100));
    s.save_grant(&grant).await.unwrap();
    // More than the pipelines hold at once (2 × 32): the rest wait for room.
    let calls = (0..200).map(|_| {
        let (s, a, id) = (s.clone(), a.clone(), grant.id.clone());
        tokio::spawn(async move { s.find_grant(&a, &id).await })
    });
    for call in calls {
        let found = call.await.unwrap().unwrap();
        assert_eq!(found.map(|g| g.id), Some(grant.id.clone()));
    }
    let db = raw(schemas.url()).await;
    assert_eq!(
        connections_named(&db, &name).await,
        3,
        "2 shared + 1 pooled"
    );
}

/// A touch writes the grant's row only when it changes it (a later `last_used_at`, a longer
/// life): uses within one second under one grant would each rewrite the row and queue on its
/// lock. Whether it wrote shows in the row version (`xmin`); the answer is the grant's
/// liveness either way.
#[tokio::test]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
async fn a_touch_that_changes_nothing_writes_nothing() {
    let Some(schemas) = server() else { return };
    let name = schemas.fresh_name("touch");
    let s = schemas.open(&name).await;
    let (f, c) = (Fixtures::new(b"touch"), TestClock::default());
    let a = Fixtures::issuer();
    let grant = f.grant(&a, "alice", "c", c.at(0), c.at(100));
    s.save_grant(&grant).await.unwrap();
    let db = raw(schemas.url()).await;
    let version = || async {
        let row = db
            .query_one(
                &format!("SELECT xmin::TEXT, expires_at, record FROM {name}.grants"),
                &[],
            )
            .await
            .unwrap();
        let record: serde_json::Value = row.get(2);
        (
            row.get::<_, String>(0),
            row.get::<_, i64>(1),
            record["last_used_at"].as_i64(),
        )
    };
    let touch = |now, until| s.touch_grant(&a, &grant.id, c.at(now), c.at(until));
    let saved = version().await;

    assert!(touch(5, 200).await.unwrap());
    let used = version().await;
    assert_ne!(used.0, saved.0, "a first use writes");
    assert_eq!(
        (used.1, used.2),
        (c.at(200).secs_i64(), Some(c.at(5).secs_i64()))
    );
    assert!(touch(5, 200).await.unwrap());
    assert!(touch(5, 150).await.unwrap(), "a shorter life is no change");
    assert_eq!(version().await, used, "the same second: nothing written");
    assert!(touch(5, 201).await.unwrap());
    let longer = version().await;
    assert_ne!(longer.0, used.0, "a longer life writes");
    assert_eq!(
        (longer.1, longer.2),
        (c.at(201).secs_i64(), Some(c.at(5).secs_i64()))
    );
    assert!(touch(6, 150).await.unwrap());
    let later = version().await;
    assert_ne!(later.0, longer.0, "a later use writes");
    assert_eq!(
        (later.1, later.2),
        (c.at(201).secs_i64(), Some(c.at(6).secs_i64()))
    );
    // A use from a second before (a request begun earlier, a node's clock behind) neither
    // writes nor moves the last use back: uses on both sides of a second's boundary would
    // otherwise rewrite the row in turn.
    assert!(touch(5, 150).await.unwrap());
    assert_eq!(version().await, later, "an earlier use: nothing written");

    assert!(s.revoke_grant(&a, &grant.id).await.unwrap());
    assert!(!touch(6, 150).await.unwrap(), "a revoked grant is not live");
    assert!(!touch(7, 300).await.unwrap());
}

/// A use of a grant whose revocation is in progress (its row locked by the revoking
/// transaction) waits for it, whether the use changes the row (an `UPDATE`) or not (a share
/// lock), and then finds the grant revoked: a revocation is ordered before or after every
/// use, never beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
async fn a_use_racing_a_revocation_waits_for_it_and_finds_it_revoked() {
    let Some(schemas) = server() else { return };
    let name = schemas.fresh_name("userevoke");
    let s = Arc::new(named_store(&schemas, &name, 1).await);
    let (f, c) = (Fixtures::new(b"userevoke"), TestClock::default());
    let a = Fixtures::issuer();
    let grant = f.grant(&a, "alice", "c", c.at(0), c.at(100));
    s.save_grant(&grant).await.unwrap();
    assert!(s
        .touch_grant(&a, &grant.id, c.at(5), c.at(200))
        .await
        .unwrap());
    let mut db = raw(schemas.url()).await;
    let revoker = db.transaction().await.unwrap();
    let revoked = revoker
        .execute(
            &format!("UPDATE {name}.grants SET revoked = true WHERE id = $1"),
            &[&grant.id.as_str()],
        )
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    let use_at = |now, until| {
        let (s, a, id) = (s.clone(), a.clone(), grant.id.clone());
        tokio::spawn(async move { s.touch_grant(&a, &id, now, until).await })
    };
    let unchanged = use_at(c.at(5), c.at(200));
    let changed = use_at(c.at(6), c.at(300));
    // Reads go on meanwhile (and give both uses time to reach the lock).
    for _ in 0..20 {
        let found = tokio::time::timeout(Duration::from_secs(2), s.find_grant(&a, &grant.id))
            .await
            .expect("a read beside the waiting uses");
        assert!(
            !found.unwrap().expect("the grant").revoked,
            "not committed yet"
        );
    }
    assert!(!unchanged.is_finished(), "a use changing nothing waits");
    assert!(!changed.is_finished(), "a use changing the row waits");
    revoker.commit().await.unwrap();
    assert!(
        !unchanged.await.unwrap().unwrap(),
        "revoked once the lock is free"
    );
    assert!(
        !changed.await.unwrap().unwrap(),
        "revoked once the lock is free"
    );
}

/// A statement that waits on a row lock (here the touch of a grant another transaction
/// holds) runs on a pooled connection of its own: on the shared, pipelined one it would
/// stall every statement queued behind it, whatever its row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
async fn a_statement_waiting_on_a_row_lock_stalls_no_shared_connection() {
    let Some(schemas) = server() else { return };
    let name = schemas.fresh_name("rowlock");
    let s = Arc::new(named_store(&schemas, &name, 1).await);
    let (f, c) = (Fixtures::new(b"rowlock"), TestClock::default());
    let a = Fixtures::issuer();
    let grant = f.grant(&a, "alice", "c", c.at(0), c.at(100));
    s.save_grant(&grant).await.unwrap();
    let mut db = raw(schemas.url()).await;
    let locker = db.transaction().await.unwrap();
    let locked = locker
        .execute(
            &format!("SELECT 1 FROM {name}.grants WHERE id = $1 FOR UPDATE"),
            &[&grant.id.as_str()],
        )
        .await
        .unwrap();
    assert_eq!(locked, 1);
    let touch = {
        let (s, a, id) = (s.clone(), a.clone(), grant.id.clone());
        tokio::spawn(async move { s.touch_grant(&a, &id, c.at(5), c.at(200)).await })
    };
    // Reads while the touch waits for the lock: each answers though the lock is held.
    for _ in 0..20 {
        let found = tokio::time::timeout(Duration::from_secs(2), s.find_grant(&a, &grant.id))
            .await
            .expect("a read queued behind the waiting touch");
        assert_eq!(found.unwrap().map(|g| g.id), Some(grant.id.clone()));
    }
    assert!(!touch.is_finished(), "the touch waits for the lock");
    locker.rollback().await.unwrap();
    assert!(touch.await.unwrap().unwrap());
}

/// A shared connection the server drops (a restart, a failover, an administrator) fails the
/// statements in flight on it and is replaced on its next use, without help.
#[tokio::test]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
async fn a_broken_shared_connection_is_replaced_by_itself() {
    let Some(schemas) = server() else { return };
    let name = schemas.fresh_name("broken");
    let s = named_store(&schemas, &name, 1).await;
    let (f, c) = (Fixtures::new(b"broken"), TestClock::default());
    let a = Fixtures::issuer();
    let grant = f.grant(&a, "alice", "c", c.at(0), c.at(100));
    s.save_grant(&grant).await.unwrap();
    // A read opens the shared connection (the upsert above took the pooled one).
    s.find_grant(&a, &grant.id).await.unwrap();
    let db = raw(schemas.url()).await;
    let killed: i64 = db
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1",
            &[&name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 2, "the shared connection and the pooled one");
    // The statement sent before the client saw the connection close fails; none after it.
    let mut failures = 0;
    let found = loop {
        match s.find_grant(&a, &grant.id).await {
            Ok(found) => break found,
            Err(e) if failures == 0 => {
                assert!(e.to_string().contains("connection"), "{e}");
                failures += 1;
            }
            Err(e) => panic!("the broken connection was not replaced: {}", chain(&e)),
        }
    };
    assert_eq!(found.map(|g| g.id), Some(grant.id));
    assert!(format!("{s:?}").contains("shared_connections: 1"), "{s:?}");
}

/// Migration 7 turns access tokens' records from JSONB into JSON, converting the rows
/// already stored: a token stored at version 6 is found, whole, after it.
#[tokio::test]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
async fn access_tokens_stored_as_jsonb_are_converted_to_json() {
    let Some(schemas) = server() else { return };
    let name = schemas.fresh_name("json7");
    let s = named_store(&schemas, &name, 1).await;
    let (f, c) = (Fixtures::new(b"json7"), TestClock::default());
    let grant = f.grant(&Fixtures::issuer(), "alice", "c", c.at(0), c.at(10_000));
    s.save_grant(&grant).await.unwrap();
    let token = f.access_token(&grant, &f.family_id(), c.at(0), c.at(600));
    s.insert_access_token(&token).await.unwrap();
    let db = raw(schemas.url()).await;
    assert_eq!(record_type(&db, &name).await, "json");
    // Back to version 6: the column as it was, the token in it.
    db.batch_execute(&format!(
        "ALTER TABLE {name}.access_tokens ALTER COLUMN record TYPE JSONB USING record::JSONB; \
         DELETE FROM {name}.schema_version WHERE version = 7;"
    ))
    .await
    .unwrap();
    assert_eq!(record_type(&db, &name).await, "jsonb");
    drop(s);
    let s = schemas.open(&name).await;
    assert_eq!(s.schema_version().await.unwrap(), LATEST_SCHEMA);
    assert_eq!(record_type(&db, &name).await, "json");
    assert_eq!(
        s.find_access_token(&token.issuer, &token.hash)
            .await
            .unwrap(),
        Some(token)
    );
}

/// The type of the `record` column of `schema`'s access tokens.
async fn record_type(db: &tokio_postgres::Client, schema: &str) -> String {
    db.query_one(
        "SELECT data_type::TEXT FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = 'access_tokens' AND column_name = 'record'",
        &[&schema],
    )
    .await
    .unwrap()
    .get(0)
}
