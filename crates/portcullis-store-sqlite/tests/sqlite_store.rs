//! What only the SQLite store promises: persistence across reopening, the schema and WAL
//! set up on open, secrets only as hashes, batched purges, and errors that keep their
//! source instead of panicking.

use std::error::Error as _;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use portcullis_core::{
    Algorithm, ClientKind, ClientSecretHash, CodeRecord, Grant, TokenHash, UnixTime,
};
use portcullis_store::{
    AccessTokenStore, ClientStore, CodeStore, ConsumeOutcome, DeviceAuthorizationStore, GrantStore,
    KeyStore, PushedRequestStore, RefreshState, RefreshTokenStore, ReplayCache, ReplayNamespace,
    SessionStore, StoreError,
};
use portcullis_store_sqlite::{SqliteStore, PURGE_BATCH};
use portcullis_testkit::{Fixtures, TestClock};
use rusqlite::{params, Connection};

struct Db {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn temp_db() -> Db {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("portcullis.sqlite3");
    Db { _dir: dir, path }
}

fn raw(path: &Path) -> Connection {
    Connection::open(path).expect("a raw connection")
}

fn code_under(f: &Fixtures, c: &TestClock) -> (Grant, CodeRecord) {
    let grant = f.grant(&Fixtures::issuer(), "alice", "c", c.at(0), c.at(10_000));
    let code = f.code(&grant, &f.family_id(), c.at(0), c.at(600));
    (grant, code)
}

fn assert_sourced(e: &StoreError, what: &str) {
    assert!(
        e.source().is_some(),
        "{what}: the driver error is kept: {e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reopening_keeps_every_record_and_every_state() {
    let (db, f, c) = (temp_db(), Fixtures::new(b"reopen"), TestClock::default());
    let a = Fixtures::issuer();
    let client = f.client();
    let (grant, code) = code_under(&f, &c);
    let family = f.family_id();
    let (old, new) = (
        f.refresh_token(&grant, &family, c.at(0), c.at(600)),
        f.refresh_token(&grant, &family, c.at(1), c.at(600)),
    );
    let key = f.key(&a, Algorithm::ES256, c.at(0));
    {
        let s = SqliteStore::open(&db.path).unwrap();
        s.save_client(&a, &client).await.unwrap();
        s.save_grant(&grant).await.unwrap();
        s.insert_code(&code).await.unwrap();
        assert!(matches!(
            s.consume_code(&a, &code.hash, c.at(1)).await.unwrap(),
            ConsumeOutcome::Consumed(_)
        ));
        s.insert_refresh_token(&old).await.unwrap();
        s.rotate_refresh_token(&a, &old.hash, &new, None)
            .await
            .unwrap();
        s.insert_key(&key).await.unwrap();
    }
    let s = SqliteStore::open(&db.path).unwrap();
    assert_eq!(
        s.find_client(&a, &client.id, c.at(1)).await.unwrap(),
        Some(std::sync::Arc::new(client))
    );
    assert_eq!(s.find_grant(&a, &grant.id).await.unwrap(), Some(grant));
    assert!(matches!(
        s.consume_code(&a, &code.hash, c.at(2)).await.unwrap(),
        ConsumeOutcome::AlreadyConsumed { .. }
    ));
    for (token, want) in [(old, RefreshState::Rotated), (new, RefreshState::Active)] {
        let found = s.find_refresh_token(&a, &token.hash).await.unwrap();
        assert_eq!(found, Some((token, want)));
    }
    assert_eq!(s.keys(&Fixtures::issuer()).await.unwrap(), vec![key]);
}

#[tokio::test]
async fn open_migrates_and_sets_wal() {
    let db = temp_db();
    let s = SqliteStore::open(&db.path).unwrap();
    assert_eq!(s.schema_version().await.unwrap(), 6);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&db.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "a new database file is private");
    }
    let conn = raw(&db.path);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(s);
    // Reopening finds the schema in place and applies nothing twice.
    let s = SqliteStore::open(&db.path).unwrap();
    assert_eq!(s.schema_version().await.unwrap(), 6);
    let applied: i64 = conn
        .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(applied, 6, "each migration applied once");
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let db = temp_db();
    drop(SqliteStore::open(&db.path).unwrap());
    raw(&db.path)
        .execute("INSERT INTO schema_version VALUES (99, 0)", [])
        .unwrap();
    let e = SqliteStore::open(&db.path).unwrap_err();
    assert!(e.to_string().contains("newer"), "{e}");
}

#[tokio::test]
async fn secrets_are_stored_only_as_hashes() {
    let (db, f, c) = (temp_db(), Fixtures::new(b"hashes"), TestClock::default());
    let secret = |n: u8| {
        format!(
            "{}{n:02}",
            "S3cr3t-bearer-value-that-must-not-leak-".repeat(2)
        )
    };
    let s = SqliteStore::open(&db.path).unwrap();
    let (grant, mut code) = code_under(&f, &c);
    code.hash = TokenHash::of(&secret(1));
    let mut access = f.access_token(&grant, &f.family_id(), c.at(0), c.at(60));
    access.hash = TokenHash::of(&secret(2));
    let mut refresh = f.refresh_token(&grant, &f.family_id(), c.at(0), c.at(60));
    refresh.hash = TokenHash::of(&secret(3));
    let mut client = f.client();
    client.kind =
        ClientKind::confidential(ClientSecretHash::sha256_of_generated(&secret(4)).unwrap());
    s.save_grant(&grant).await.unwrap();
    s.insert_code(&code).await.unwrap();
    s.insert_access_token(&access).await.unwrap();
    s.insert_refresh_token(&refresh).await.unwrap();
    s.save_client(&Fixtures::issuer(), &client).await.unwrap();
    let ticket = TokenHash::of(&secret(5));
    let tickets = ReplayNamespace::new("ticket");
    s.check_and_insert(&Fixtures::issuer(), tickets, &ticket, c.at(60), c.at(0))
        .await
        .unwrap();
    let mut session = f.session(&Fixtures::issuer(), "alice", c.at(0), c.at(60));
    session.hash = TokenHash::of(&secret(5));
    s.insert_session(&session).await.unwrap();
    let mut pushed = f.pushed_request(&Fixtures::issuer(), "alice-app", c.at(0), c.at(60));
    pushed.hash = TokenHash::of(&secret(6));
    s.insert_pushed_request(&pushed).await.unwrap();
    let mut device = f.device_authorization(&Fixtures::issuer(), "tv", c.at(0), c.at(60));
    device.hash = TokenHash::of(&secret(7));
    device.user_code_hash = TokenHash::of(&secret(8));
    let stored = s.insert_device_authorization(&device).await.unwrap();
    assert_eq!(stored, portcullis_store::DeviceInsertOutcome::Inserted);

    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        let mut p = db.path.clone().into_os_string();
        p.push(suffix);
        bytes.extend(std::fs::read(PathBuf::from(p)).unwrap_or_default());
    }
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    for n in 1..=8 {
        assert!(!contains(secret(n).as_bytes()), "secret {n} in plaintext");
    }
    assert!(
        contains(code.hash.as_bytes()),
        "the code is keyed by its hash"
    );
    assert!(
        !format!("{s:?}").contains("record"),
        "Debug shows only the path"
    );
}

#[tokio::test]
async fn purge_deletes_in_batches_and_counts_every_row() {
    let db = temp_db();
    let s = SqliteStore::open(&db.path).unwrap();
    let rows = 2 * u64::from(PURGE_BATCH) + 7;
    let mut conn = raw(&db.path);
    let tx = conn.transaction().unwrap();
    for i in 0..rows {
        let hash = TokenHash::of(&i.to_string());
        tx.execute(
            "INSERT INTO access_tokens (hash, issuer, expires_at, record) VALUES (?1, 'i', ?2, '{}')",
            params![&hash.as_bytes()[..], i64::try_from(i).unwrap()],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    let now = UnixTime::from_secs(rows);
    assert_eq!(
        AccessTokenStore::purge_expired(&s, now).await.unwrap(),
        rows
    );
    assert_eq!(AccessTokenStore::purge_expired(&s, now).await.unwrap(), 0);
}

#[tokio::test]
async fn failures_are_store_errors_with_their_source() {
    let missing_dir = Path::new("/nonexistent-portcullis-dir/db.sqlite3");
    let e = SqliteStore::open(missing_dir).unwrap_err();
    assert_sourced(&e, "open in a missing directory");

    let (db, f, c) = (temp_db(), Fixtures::new(b"errors"), TestClock::default());
    let s = SqliteStore::open(&db.path).unwrap();
    let (_, code) = code_under(&f, &c);
    s.insert_code(&code).await.unwrap();
    let e = s.insert_code(&code).await.unwrap_err();
    assert_sourced(&e, "a duplicate code");
    let key = f.key(&Fixtures::issuer(), Algorithm::ES256, c.at(0));
    s.insert_key(&key).await.unwrap();
    let e = s.insert_key(&key).await.unwrap_err();
    assert_sourced(&e, "a duplicate kid (a key is never overwritten)");

    raw(&db.path)
        .execute("UPDATE codes SET record = '{not json'", [])
        .unwrap();
    let e = s
        .consume_code(&Fixtures::issuer(), &code.hash, c.at(1))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("corrupt"), "{e}");
    assert_sourced(&e, "a corrupt record");
}

#[test]
fn works_without_a_tokio_runtime() {
    // With no runtime the job runs inline, so each future is ready at its first poll.
    fn now<T>(fut: impl Future<Output = T>) -> T {
        match pin!(fut).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("pending without a runtime"),
        }
    }
    let (s, f, c) = (
        SqliteStore::memory().unwrap(),
        Fixtures::new(b"inline"),
        TestClock::default(),
    );
    let (_, code) = code_under(&f, &c);
    now(s.insert_code(&code)).unwrap();
    let out = now(s.consume_code(&Fixtures::issuer(), &code.hash, c.at(1))).unwrap();
    assert_eq!(out, ConsumeOutcome::Consumed(Box::new(code)));
}

#[tokio::test]
async fn in_memory_databases_are_private() {
    let (one, two) = (
        SqliteStore::memory().unwrap(),
        SqliteStore::memory().unwrap(),
    );
    let (f, c) = (Fixtures::new(b"private"), TestClock::default());
    let client = f.client();
    one.save_client(&Fixtures::issuer(), &client).await.unwrap();
    let elsewhere = two
        .find_client(&Fixtures::issuer(), &client.id, c.now())
        .await;
    assert_eq!(elsewhere.unwrap(), None);
}
