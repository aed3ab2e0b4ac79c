//! What the PostgreSQL tests share: the server named by `PORTCULLIS_TEST_POSTGRES`, raw
//! connections to it, and schemas that start empty and are dropped when the test ends.
// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::collections::HashSet;
use std::future::Future;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError};

use portcullis_store_postgres::{PostgresConfig, PostgresStore};
use portcullis_testkit::DbName;
use tokio_postgres::{Client, NoTls};

/// The schema version of a store with every migration applied.
pub(crate) const LATEST_SCHEMA: i64 = 7;

/// The variable that names the test server, e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
pub(crate) const SERVER_VAR: &str = "PORTCULLIS_TEST_POSTGRES";

/// The test server's URL. Without one, a test skips (saying so) — or fails when `CI` is
/// set, because CI must run these tests.
pub(crate) fn server_url() -> Option<String> {
    match std::env::var(SERVER_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) => panic!(
            "{SERVER_VAR} is unset, but CI is set: CI must run the PostgreSQL tests \
             (.ci/run starts a server and sets {SERVER_VAR})"
        ),
        _ => {
            // Once per test binary, and past the test harness's capture of `eprintln!`, so
            // that a plain `cargo test` shows it.
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: the PostgreSQL store's tests need a server; set \
                     {SERVER_VAR}=postgres://postgres@127.0.0.1:5432/postgres to run them"
                );
            });
            None
        }
    }
}

/// A plain driver connection, for looking at what the store wrote.
pub(crate) async fn raw(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to the test server");
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("test connection ended: {e}");
        }
    });
    client
}

/// Schemas of one test: each starts empty, and all are dropped when this is dropped.
pub(crate) struct Schemas {
    url: String,
    names: Mutex<HashSet<String>>,
}

impl Schemas {
    pub(crate) fn new(url: String) -> Arc<Self> {
        Arc::new(Self {
            url,
            names: Mutex::new(HashSet::new()),
        })
    }

    /// A schema name no other test (of this or a concurrent run) uses.
    pub(crate) fn fresh_name(&self, what: &str) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        format!("pt_{}_{n}_{what}", std::process::id())
    }

    /// A store's configuration for `schema`, with a small pool.
    pub(crate) fn config(&self, schema: &str) -> PostgresConfig {
        PostgresConfig::from_url(&self.url)
            .expect("a valid test server URL")
            .schema(schema)
            .expect("a valid schema name")
            .max_connections(8)
    }

    /// Makes `schema` this test's: the first time, a stale schema of an earlier run is
    /// dropped, and it will be dropped when the test ends.
    pub(crate) async fn claim(&self, schema: &str) {
        let first = self
            .names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(schema.to_owned());
        if first {
            let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
            raw(&self.url).await.batch_execute(&sql).await.expect(&sql);
        }
    }

    /// A new store (its own pool) on `schema`: an empty one the first time this test names
    /// it, the same one after that.
    pub(crate) async fn open(&self, schema: &str) -> PostgresStore {
        self.claim(schema).await;
        PostgresStore::connect_with(self.config(schema))
            .await
            .unwrap_or_else(|e| panic!("connect to schema {schema}: {}", chain(&e)))
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

/// A store on the schema `name` whose connections are named `name` (for finding them in
/// `pg_stat_activity`), with `shared` shared connections.
pub(crate) async fn named_store(schemas: &Schemas, name: &str, shared: usize) -> PostgresStore {
    schemas.claim(name).await;
    let mut pg: portcullis_store_postgres::tokio_postgres::Config = schemas.url().parse().unwrap();
    pg.application_name(name);
    let config = PostgresConfig::new(pg)
        .schema(name)
        .unwrap()
        .max_connections(4)
        .shared_connections(shared);
    PostgresStore::connect_with(config).await.unwrap()
}

impl Drop for Schemas {
    fn drop(&mut self) {
        let names = std::mem::take(self.names.get_mut().unwrap_or_else(PoisonError::into_inner));
        if names.is_empty() {
            return;
        }
        let list: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
        // Never hang a test on a lock a connection that is still closing holds.
        let sql = format!(
            "SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS {} CASCADE",
            list.join(", ")
        );
        let url = self.url.clone();
        // Dropped on a runtime's thread, which may not block on a future: clean up from a
        // thread of our own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the cleanup");
            runtime.block_on(async {
                if let Err(e) = raw(&url).await.batch_execute(&sql).await {
                    eprintln!("test schemas not dropped: {e}");
                }
            });
        });
        let _ = cleanup.join();
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The conformance kit's store factory: a [`DbName`] is a schema.
pub(crate) fn factory() -> impl Fn(DbName) -> BoxFuture<Arc<PostgresStore>> + Send + Sync + 'static
{
    let url = server_url().expect("the conformance suite was built for a server: set it");
    let schemas = Schemas::new(url);
    move |db: DbName| {
        let schemas = schemas.clone();
        Box::pin(async move { Arc::new(schemas.open(db.as_str()).await) })
    }
}

/// An error and its sources, for a failure message.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
