//! The shared store: every Portcullis storage trait on one PostgreSQL database, for many
//! nodes.
//!
//! ```no_run
//! # async fn run() -> Result<(), portcullis_store::StoreError> {
//! use portcullis_store_postgres::{PostgresConfig, PostgresStore};
//!
//! let store = PostgresStore::connect("postgres://auth@db.internal/auth").await?;
//! // Or with options: its own schema, a bigger pool.
//! let config = PostgresConfig::from_url("postgres://auth@db.internal/auth")?
//!     .schema("portcullis")?
//!     .max_connections(32);
//! let store = PostgresStore::connect_with(config).await?;
//! # Ok(()) }
//! ```
//!
//! * **Schema:** numbered migrations are compiled in and applied on connect, in one
//!   transaction that first takes a transaction-scoped advisory lock
//!   (`pg_advisory_xact_lock`), recorded in a `schema_version` table: nodes that start
//!   together apply each migration exactly once. A database written by a newer build is
//!   refused rather than misread. With [`PostgresConfig::schema`] every table lives in that
//!   schema (created if need be, and put on each connection's `search_path`).
//! * **Atomicity** (the `portcullis_store` contract, "at most once, across all processes"):
//!   `consume_code` is one conditional `UPDATE … AND NOT consumed AND expires_at > $now
//!   RETURNING record`; `rotate_refresh_token` is one statement whose conditional `UPDATE`
//!   of the old token feeds the `INSERT` of the successor; `check_and_insert` is one
//!   `INSERT … ON CONFLICT DO UPDATE … WHERE expired RETURNING`; `retire_key` locks its row
//!   (`SELECT … FOR UPDATE`) in a transaction. PostgreSQL's row locks serialise concurrent
//!   writers to one row, and a waiting `UPDATE` re-checks its condition on the row as the
//!   winner left it, so exactly one caller wins — on any connection of any node.
//! * **Revocation** is evaluated when a token is read: a token is dead when its family has
//!   a marker or its grant is revoked or gone, so a token inserted after a revocation is
//!   dead on arrival (`GrantStore`'s composition rule). `save_grant` never clears `revoked`.
//! * **Secrets:** codes and tokens are stored only as their SHA-256 [`TokenHash`] (a BYTEA
//!   key), client secrets only as their `ClientSecretHash`. The **private keys** of
//!   [`KeyRecord`]s are kept, inside the row's JSONB, as the engine hands them over: sealed
//!   (AES-256-GCM) under the host's key-encryption key (`portcullis_core::PrivateKeyEnvelope`;
//!   the engine refuses to run on this store without one unless told
//!   `dangerous_plaintext_signing_keys`). `reseal_key` swaps one under the row's lock. No
//!   `Debug` output of this crate shows them or a password.
//! * **Sessions** are stored only as the SHA-256 of their id, like tokens; signing a user
//!   out everywhere is one `DELETE` by (issuer, subject).
//! * **Layout:** the columns a query filters on (issuer, hash, subject, client, grant,
//!   family, expiry) are indexed; the record itself is JSONB (JSON for access tokens:
//!   written once and read whole, it is never parsed into JSONB and rendered back). `purge_expired` deletes in
//!   batches of [`PURGE_BATCH`] rows, each its own statement, so that it never holds many
//!   row locks for long.
//! * **Connections:** single statements outside a transaction that wait on no row lock
//!   (reads and inserts: most calls) share a few long-lived connections, pipelined ([`PostgresConfig::shared_connections`]; a
//!   broken one is replaced on its next use), and concurrent inserts into one table and
//!   concurrent access-token look-ups are gathered into one statement each (group commit, the
//!   `batch` module); transactions and purges take exclusive
//!   connections from a `deadpool-postgres` pool of `tokio-postgres` connections. Statements
//!   are prepared once per connection. TCP keepalive probes (after [`KEEPALIVE_IDLE`] idle)
//!   find a pooled connection to a vanished server dead within about 30 s.
//! * **Outages:** the wait for a connection (or its establishment) ends within
//!   [`PostgresConfig::wait_timeout`] (at most the operation timeout); then every statement
//!   of the operation and its `COMMIT` end within [`PostgresConfig::operation_timeout`]
//!   (default 5 s; each batch of a purge has its own), with a `StoreError` (the engine's
//!   503 `temporarily_unavailable`) when the server is stopped, restarting or unreachable,
//!   even silently (packets dropped). A connection whose statement went unanswered (timed
//!   out, or the caller's future dropped) is detached, never returned to the pool (a
//!   shared one is let go of by its slot) — it may hang forever, or sit inside an
//!   unfinished transaction: its statement is cancelled, and the server ends a transaction
//!   left open on it after `idle_in_transaction_session_timeout` (twice the operation
//!   timeout, set at start-up); one the server closed is discarded when next taken. The
//!   pool refills on demand: once the server answers again, the next operation connects
//!   anew. A timeout after the last statement or `COMMIT` was sent may hide a success: the
//!   single-use writes fail closed then (docs/manual/operations.md).
//! * **TLS** (rustls on ring, through `tokio-postgres-rustls`): always verify-full — the
//!   server's chain must lead to a trusted root and its certificate must name the host
//!   (RFC 6125; an IP address must be in its subjectAltName). The connection string sets
//!   it as libpq does, or [`PostgresConfig::tls`] and [`PostgresConfig::root_certificates`]:
//!
//!   | connection string | what the store does |
//!   |---|---|
//!   | no `sslmode` | plain TCP when every host is loopback (`127.0.0.0/8`, `::1`, `localhost`) or a Unix socket; TLS, verify-full, to any other host |
//!   | `sslmode=verify-full` or `sslmode=require` | TLS, verify-full, whatever the host (libpq's `require` checks nothing; this store checks everything) |
//!   | `sslmode=disable` | plain TCP whatever the host: only for a network the host secures itself |
//!   | `sslmode=prefer`, `allow`, `verify-ca` | refused (the first two may fall back to plain TCP; the last skips the host name) |
//!   | `sslrootcert=PATH` | trust the CA certificates of this PEM file (read on connect) |
//!   | `sslrootcert=system`, or none | trust the operating system's roots |
//!
//!   `postgres://auth@db.internal/auth?sslmode=verify-full&sslrootcert=/etc/portcullis/db-ca.pem`.
//!   When TLS is asked for, a server that does not offer it, a chain to another root or a
//!   certificate for another name fails the connection: there is never a fallback to
//!   plain TCP. Client certificates (`sslcert`, `sslkey`) are not supported.
//! * **Errors:** every failure is a [`StoreError`] whose source is the driver's (or the
//!   pool's) error; nothing panics and nothing is logged.
//!
//! [`TokenHash`]: portcullis_core::TokenHash
//! [`KeyRecord`]: portcullis_core::KeyRecord
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::panic))]

mod batch;
mod clients;
mod codec;
mod codes;
mod config;
mod device_authorizations;
mod grants;
mod issuance;
mod keys;
mod lease;
mod purge;
mod pushed_requests;
mod replay;
mod schema;
mod sessions;
mod shared;
mod tls;
mod tokens;

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use portcullis_core::{FamilyId, GrantId, Issuer, TokenHash, UnixTime};
use portcullis_store::{StoreError, StoreResult};
use serde::Serialize;
use tokio_postgres::types::ToSql;
use tokio_postgres::NoTls;

pub use config::{
    redact_connection_string, PostgresConfig, KEEPALIVE_IDLE, KEEPALIVE_INTERVAL,
    KEEPALIVE_RETRIES, MIN_OPERATION_TIMEOUT, TCP_USER_TIMEOUT,
};
pub use tls::TlsMode;
/// The driver, re-exported so that a [`tokio_postgres::Config`] built by the host matches
/// [`PostgresConfig::new`].
pub use tokio_postgres;

use batch::{Batches, HashedRow};
use codec::{json, key, EncodedRecord};
use lease::{Bounds, Canceller, Lease};
use shared::{SharedClient, SharedClients};

/// Rows `purge_expired` deletes per statement (each statement its own short transaction).
pub const PURGE_BATCH: i64 = 500;

/// The `INSERT` of a row into `$table`, a hash-keyed table, for
/// [`PostgresStore::insert_hashed`] (a constant: nothing is formatted per call).
macro_rules! insert_hashed {
    ($table:literal) => {
        concat!(
            "INSERT INTO ",
            $table,
            " (hash, issuer, grant_id, family_id, expires_at, record) ",
            "VALUES ($1, $2, $3, $4, $5, $6)"
        )
    };
}
pub(crate) use insert_hashed;

/// The indexed columns of a row of a hash-keyed table (codes, access and refresh tokens).
struct Hashed<'a> {
    hash: &'a TokenHash,
    issuer: &'a Issuer,
    grant_id: Option<&'a GrantId>,
    family_id: Option<&'a FamilyId>,
    expires_at: UnixTime,
}

/// Every storage trait on one PostgreSQL database (or one schema of it). Clones share the
/// connection pool; stores on many nodes share the database.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// The pipelined connections of single statements that wait on no row lock; `None`:
    /// they take pooled ones.
    shared: Option<Arc<SharedClients>>,
    /// Concurrent inserts and look-ups on the shared connections, gathered into batches
    /// (see the `batch` module); `None` when there are no shared connections.
    batches: Option<Arc<Batches>>,
    config: PostgresConfig,
    canceller: Canceller,
}

/// The connection one statement outside a transaction runs on, under the operation's
/// deadline.
enum StatementConn {
    Shared(SharedClient),
    Pooled(Box<Lease>),
}

impl StatementConn {
    /// Runs one exchange with the server before the operation's deadline (a broken or
    /// unanswering shared connection is let go of: see the `shared` module).
    async fn run<T>(
        &self,
        exchange: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> StoreResult<T> {
        match self {
            Self::Shared(client) => client.run(exchange).await,
            Self::Pooled(lease) => lease.run(exchange).await,
        }
    }
}

impl Deref for StatementConn {
    type Target = ClientWrapper;

    fn deref(&self) -> &ClientWrapper {
        match self {
            Self::Shared(client) => client,
            Self::Pooled(lease) => lease,
        }
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user@host:port/dbname`, or the
    /// `key=value` form) and migrates it to the current schema, with the defaults of
    /// [`PostgresConfig`].
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(PostgresConfig::from_url(url)?).await
    }

    /// Connects as `config` says and migrates the database (or the configured schema) to
    /// the current schema. Fails if the server cannot be reached or the migration fails.
    pub async fn connect_with(config: PostgresConfig) -> StoreResult<Self> {
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let (manager, canceller) = if config.uses_tls() {
            let tls = config.tls_connector()?;
            let manager = Manager::from_config(config.connection(), tls.clone(), manager_config);
            (manager, Canceller::Tls(tls))
        } else {
            let manager = Manager::from_config(config.connection(), NoTls, manager_config);
            (manager, Canceller::Plain)
        };
        let pool = Pool::builder(manager)
            .max_size(config.max_connections)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(config.wait()))
            .create_timeout(Some(config.wait()))
            .build()
            .map_err(|e| StoreError::with_source("postgres pool not built", e))?;
        let shared = (config.shared_connections > 0).then(|| {
            Arc::new(SharedClients::new(
                config.shared_connections,
                config.operation_timeout,
            ))
        });
        let batches = shared
            .as_ref()
            .map(|shared| Arc::new(Batches::new(shared.clone(), pool.clone())));
        let store = Self {
            pool,
            shared,
            batches,
            config,
            canceller,
        };
        let mut conn = store.conn().await?;
        schema::migrate(&mut conn, store.config.schema_name()).await?;
        Ok(store)
    }

    /// The schema version of the database (see the crate docs on migrations).
    pub async fn schema_version(&self) -> StoreResult<i64> {
        let conn = self.conn().await?;
        schema::version(&conn).await
    }

    /// The configuration this store was connected with.
    pub fn config(&self) -> &PostgresConfig {
        &self.config
    }

    /// An exclusive pooled connection for one operation (a transaction, a run of
    /// statements), within [`PostgresConfig::wait_timeout`]
    /// (at most the operation timeout);
    /// once it is held, the operation has [`PostgresConfig::operation_timeout`] to finish
    /// (see `lease`).
    async fn conn(&self) -> StoreResult<Lease> {
        let bounds = Bounds {
            wait: self.config.wait(),
            operation: self.config.operation_timeout,
        };
        Lease::take(&self.pool, bounds, &self.canceller).await
    }

    /// The connection for `sql`, one statement outside a transaction: a shared, pipelined
    /// one when sharing is on and the statement never waits on a row lock, else an exclusive
    /// pooled one (see the `shared` module and [`waits_on_no_row_lock`]).
    async fn statement_conn(&self, sql: &str) -> StoreResult<StatementConn> {
        match &self.shared {
            Some(shared) if waits_on_no_row_lock(sql) => Ok(StatementConn::Shared(
                shared.get(self.pool.manager()).await?,
            )),
            _ => Ok(StatementConn::Pooled(Box::new(self.conn().await?))),
        }
    }

    /// Runs one prepared statement that returns rows.
    async fn query(
        &self,
        sql: &str,
        args: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<tokio_postgres::Row>> {
        query_on(&self.statement_conn(sql).await?, sql, args).await
    }

    /// Runs one prepared statement; how many rows it changed.
    async fn execute(&self, sql: &str, args: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        let conn = self.statement_conn(sql).await?;
        let stmt = conn.run(conn.prepare_cached(sql)).await?;
        conn.run(conn.execute(&stmt, args)).await
    }
    /// Inserts a new row by `sql`, the [`insert_hashed!`] of a hash-keyed table (with
    /// concurrent inserts into the same table, in one statement: see the `batch` module). A hash
    /// already stored is an error (a unique violation): a code or token is never
    /// overwritten.
    async fn insert_hashed<T: Serialize + fmt::Debug + Sync>(
        &self,
        sql: &'static str,
        row: Hashed<'_>,
        record: &T,
    ) -> StoreResult<()> {
        if let Some(inserts) = self.batches.as_ref().and_then(|b| b.inserts(sql)) {
            return inserts
                .submit(HashedRow {
                    hash: *row.hash,
                    issuer: row.issuer.as_str().to_owned(),
                    grant_id: row.grant_id.map(|g| g.as_str().to_owned()),
                    family_id: row.family_id.map(|f| f.as_str().to_owned()),
                    expires_at: row.expires_at.secs_i64(),
                    record: EncodedRecord::of(record)?,
                })
                .await;
        }
        let args: [&(dyn ToSql + Sync); 6] = [
            &key(row.hash),
            &row.issuer.as_str(),
            &row.grant_id.map(GrantId::as_str),
            &row.family_id.map(FamilyId::as_str),
            &row.expires_at.secs_i64(),
            &json(record),
        ];
        self.execute(sql, &args).await?;
        Ok(())
    }
}

/// Whether `sql` can never wait on another transaction's row lock: a plain `SELECT`, or a
/// plain `INSERT` (which waits only on a concurrent insert of the same key: for the
/// hash-keyed tables, a collision of 256-bit hashes). Only such statements go on the shared,
/// pipelined connections: a statement that waits there (an `UPDATE` of a grant many
/// requests touch, an upsert, `FOR UPDATE`) would stall every statement queued behind it
/// on that connection, whatever its row.
fn waits_on_no_row_lock(sql: &str) -> bool {
    let sql = sql.trim_start();
    (sql.starts_with("SELECT ") && !sql.contains("FOR UPDATE"))
        || (sql.starts_with("INSERT ") && !sql.contains("ON CONFLICT"))
}

/// Runs one prepared statement that returns rows on `conn`: for an operation of several
/// statements under one lease (one deadline).
async fn query_on(
    conn: &StatementConn,
    sql: &str,
    args: &[&(dyn ToSql + Sync)],
) -> StoreResult<Vec<tokio_postgres::Row>> {
    let stmt = conn.run(conn.prepare_cached(sql)).await?;
    conn.run(conn.query(&stmt, args)).await
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PostgresStore")
            .field("config", &self.config)
            .field("connections", &status.size)
            .field(
                "shared_connections",
                &self.shared.as_ref().map_or(0, |s| s.open()),
            )
            .finish()
    }
}
