//! The persistent embedded store: every Portcullis storage trait on one SQLite database
//! file, for a single node.
//!
//! ```no_run
//! # fn main() -> Result<(), portcullis_store::StoreError> {
//! let store = portcullis_store_sqlite::SqliteStore::open("/var/lib/my-auth/portcullis.db")?;
//! # Ok(()) }
//! ```
//!
//! * **Schema:** numbered migrations are compiled in and applied on open, in one IMMEDIATE
//!   transaction, recorded in a `schema_version` table. A database written by a newer build
//!   is refused rather than misread.
//! * **Concurrency:** WAL journal and a busy timeout; a small pool of connections serves
//!   tasks through `tokio::task::spawn_blocking` (or inline when no tokio runtime runs).
//!   Several processes on one host may open the same file; a network filesystem may not
//!   hold it (WAL needs shared memory).
//! * **Atomicity** (the `portcullis_store` contract): `consume_code` is one conditional
//!   `UPDATE … RETURNING`; `rotate_refresh_token` runs in one IMMEDIATE transaction, which
//!   holds the database's write lock from its first statement; `check_and_insert` is one
//!   `INSERT … ON CONFLICT DO UPDATE … WHERE expired RETURNING`. Each succeeds at most once
//!   per code, token or id, across connections and processes.
//! * **Durability:** `synchronous = FULL`: a consumed code or rotated token stays so across
//!   a power cut.
//! * **Secrets:** codes and tokens are stored only as their SHA-256 [`TokenHash`]
//!   (a BLOB key), client secrets only as their `ClientSecretHash`. The **private keys** of
//!   [`KeyRecord`]s are kept, inside the row's JSON, as the engine hands them over: sealed
//!   (AES-256-GCM) under the host's key-encryption key (`portcullis_core::PrivateKeyEnvelope`;
//!   the engine refuses to run on this store without one unless told
//!   `dangerous_plaintext_signing_keys`). `reseal_key` swaps one in a transaction. No
//!   `Debug` output of this crate shows them. A new database file is created readable and
//!   writable by its owner only (mode 0600), and its journal files inherit that.
//! * **Sessions** are stored only as the SHA-256 of their id, like tokens; signing a user
//!   out everywhere is one `DELETE` by (issuer, subject).
//! * **Layout:** the columns a query filters on (issuer, hash, subject, client, grant,
//!   family, expiry) are indexed; the record itself is JSON. `purge_expired` deletes in
//!   batches of [`PURGE_BATCH`] rows so that it never holds the write lock for long.
//! * **Errors:** every failure is a [`StoreError`] whose source is the driver's error.
//!
//! [`TokenHash`]: portcullis_core::TokenHash
//! [`KeyRecord`]: portcullis_core::KeyRecord
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::panic))]

mod clients;
mod codec;
mod codes;
mod device_authorizations;
mod grants;
mod keys;
mod pool;
mod purge;
mod pushed_requests;
mod replay;
mod schema;
mod sessions;
mod tokens;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use portcullis_store::{StoreError, StoreResult};
use rusqlite::Connection;

use pool::{Pool, Target};

/// Rows `purge_expired` deletes per statement (each statement its own short transaction).
pub const PURGE_BATCH: u32 = 500;

/// How a database is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// Connections the store keeps at most (default 8). Readers run in parallel; writers
    /// take turns on the database's one write lock.
    pub max_connections: usize,
    /// How long a statement waits for the write lock before failing (default 5 s).
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

impl SqliteOptions {
    /// Sets [`SqliteOptions::max_connections`] (at least 1).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Sets [`SqliteOptions::busy_timeout`].
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }
}

/// Every storage trait on one SQLite database. Clones share the connection pool.
#[derive(Clone)]
pub struct SqliteStore {
    pool: Arc<Pool>,
}

impl SqliteStore {
    /// Opens (creating it if need be) the database file at `path` and migrates it to the
    /// current schema. Blocks while it does: call it at startup, or in `spawn_blocking`.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// [`SqliteStore::open`] with options.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> StoreResult<Self> {
        let path = path.as_ref().to_path_buf();
        let mut first = pool::open_file(&path, options.busy_timeout)?;
        schema::migrate(&mut first)?;
        Ok(Self::with_pool(Target::File(path), &options, first))
    }

    /// A private, empty in-memory database on a single connection, gone when the last clone
    /// of the store is dropped: for tests and demos. Different calls never share data.
    pub fn memory() -> StoreResult<Self> {
        let mut first = pool::open_memory()?;
        schema::migrate(&mut first)?;
        Ok(Self::with_pool(
            Target::Memory,
            &SqliteOptions::default(),
            first,
        ))
    }

    fn with_pool(target: Target, options: &SqliteOptions, first: Connection) -> Self {
        let pool = Pool::new(target, options.max_connections, options.busy_timeout, first);
        Self {
            pool: Arc::new(pool),
        }
    }

    /// The schema version of the database (see the crate docs on migrations).
    pub async fn schema_version(&self) -> StoreResult<i64> {
        self.run(|conn| schema::version(conn)).await
    }

    /// Runs `job` on a pooled connection, off the async threads when a tokio runtime runs.
    async fn run<T, F>(&self, job: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let pool = self.pool.clone();
        let job = move || {
            let mut conn = pool.get()?;
            job(&mut conn)
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => runtime
                .spawn_blocking(job)
                .await
                .map_err(|e| StoreError::with_source("sqlite task failed", e))?,
            Err(_) => job(),
        }
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SqliteStore");
        match self.pool.target() {
            Target::File(path) => d.field("path", path),
            Target::Memory => d.field("path", &":memory:"),
        };
        d.field("max_connections", &self.pool.max()).finish()
    }
}
