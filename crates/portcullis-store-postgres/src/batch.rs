//! Group commit: concurrent single statements of one kind sent as one statement.
//!
//! On PostgreSQL each statement outside a transaction pays a fixed price whatever it
//! carries: its executor start-up, its own transaction and commit record, its messages.
//! Under load that fixed price is most of PostgreSQL's CPU per request, and PostgreSQL
//! shares the host's cores with the server. So when several callers insert into the same
//! hash-keyed table at once (16 concurrent token requests: up to 16 concurrent inserts),
//! their rows go as ONE `INSERT … SELECT … FROM unnest($1, …)`, and concurrent look-ups of
//! access tokens as ONE `… WHERE t.hash = ANY($1)`, whose rows are handed back to each
//! caller. Measured with `pgbench` on the benchmark's PostgreSQL (2 cores, busy): one row
//! per statement cost PostgreSQL ~80 µs of CPU per inserted token, 16 rows per statement
//! ~25 µs per row; a look-up of one token ~74 µs, of 16 at once ~17 µs per token. With
//! JSON access-token records (migration 7), PostgreSQL's CPU per request fell from 47 to 27 µs
//! for client credentials and from 29 to 20 for introspection (A/B under load,
//! docs/BENCHMARKS.md).
//!
//! * **No added delay:** a [`Batcher`] runs at most [`BATCHES_IN_FLIGHT`] statements at
//!   once; a caller that finds one free starts a statement for itself and whatever else is
//!   waiting. Callers only gather while every slot is busy — a batch is what queued
//!   during the statements before it. Nothing ever waits for more to come. A batch holds
//!   at most [`MAX_ROWS`] rows; one of a single row is the plain single-row statement.
//! * **Each caller's outcome is its own:** every caller still ends within its operation's
//!   deadline ([`PostgresConfig::operation_timeout`](crate::PostgresConfig::operation_timeout)),
//!   and a caller gone before its batch starts (timed out, or its future dropped) is left
//!   out of it. A batch statement that fails for any other reason than a broken or
//!   unanswering connection (a duplicate hash, a constraint) is run again row by row,
//!   each row as the single-row statement, so each caller gets the outcome its statement
//!   alone would have had and no row is lost or stored twice. A broken connection fails
//!   the batch's callers with a store error, and its slot connects again (see `shared`).
//! * **Same statements:** a batched look-up evaluates a token's revocation exactly as the
//!   single one does (`tokens::dead!`, on the row), and matches each caller's issuer.
//! * **Where batches run:** a batch runs in its own task (spawned on the runtime of the
//!   caller that started it), which then takes whatever queued meanwhile, so a caller
//!   whose future is dropped never abandons the others.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use deadpool_postgres::{ClientWrapper, Pool};
use portcullis_core::{AccessTokenRecord, Issuer, TokenHash};
use portcullis_store::{StoreError, StoreResult};
use tokio::sync::oneshot;
use tokio::time::{timeout_at, Instant};

use crate::codec::{db, decode, get, EncodedRecord};
use crate::shared::{is_broken, SharedClients};
use crate::{insert_hashed, tokens};

/// Rows one batch statement carries, at most.
pub(crate) const MAX_ROWS: usize = 32;

/// Statements of one [`Batcher`] in flight at once, at most: beyond them, callers gather
/// into the next batch.
pub(crate) const BATCHES_IN_FLIGHT: usize = 2;

/// The exchange of one statement: each item's outcome, in order, or the statement's error.
pub(crate) type Exchange<'a, O> =
    Pin<Box<dyn Future<Output = Result<Vec<StoreResult<O>>, tokio_postgres::Error>> + Send + 'a>>;

/// One kind of statement that can carry many callers' items at once.
pub(crate) trait Statement: Send + Sync + 'static {
    /// One caller's input.
    type Item: Send + Sync + 'static;
    /// One caller's outcome.
    type Out: Send + 'static;

    /// Runs `items` (at least one) as one statement on `client` — a single item as the
    /// plain single-row statement.
    fn run<'a>(
        &'a self,
        client: &'a ClientWrapper,
        items: &'a [Self::Item],
    ) -> Exchange<'a, Self::Out>;
}

/// The batchers of a store with shared connections.
pub(crate) struct Batches {
    access_token_inserts: Arc<Batcher<InsertHashed>>,
    refresh_token_inserts: Arc<Batcher<InsertHashed>>,
    code_inserts: Arc<Batcher<InsertHashed>>,
    access_token_finds: Arc<Batcher<FindAccessToken>>,
}

impl Batches {
    pub(crate) fn new(shared: Arc<SharedClients>, pool: Pool) -> Self {
        let inserts = |one, many| {
            Arc::new(Batcher::new(
                InsertHashed { one, many },
                shared.clone(),
                pool.clone(),
            ))
        };
        Self {
            access_token_inserts: inserts(
                insert_hashed!("access_tokens"),
                insert_hashed_rows!("access_tokens", "JSON"),
            ),
            refresh_token_inserts: inserts(
                insert_hashed!("refresh_tokens"),
                insert_hashed_rows!("refresh_tokens", "JSONB"),
            ),
            code_inserts: inserts(
                insert_hashed!("codes"),
                insert_hashed_rows!("codes", "JSONB"),
            ),
            access_token_finds: Arc::new(Batcher::new(FindAccessToken, shared, pool)),
        }
    }

    /// The batcher of `sql`, an [`insert_hashed!`] statement.
    pub(crate) fn inserts(&self, sql: &str) -> Option<&Arc<Batcher<InsertHashed>>> {
        [
            &self.access_token_inserts,
            &self.refresh_token_inserts,
            &self.code_inserts,
        ]
        .into_iter()
        .find(|b| b.statement.one == sql)
    }

    /// The look-up of the access token `hash` of `issuer`, batched.
    pub(crate) async fn find_access_token(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
    ) -> StoreResult<Option<AccessTokenRecord>> {
        self.access_token_finds
            .submit((issuer.clone(), *hash))
            .await
    }
}

/// The `INSERT` of many rows into `$table`, a hash-keyed table whose records are `$record`
/// (`JSON` or `JSONB`), from arrays of its columns.
macro_rules! insert_hashed_rows {
    ($table:literal, $record:literal) => {
        concat!(
            "INSERT INTO ",
            $table,
            " (hash, issuer, grant_id, family_id, expires_at, record) ",
            "SELECT * FROM unnest($1::BYTEA[], $2::TEXT[], $3::TEXT[], $4::TEXT[], ",
            "$5::BIGINT[], $6::",
            $record,
            "[])"
        )
    };
}
use insert_hashed_rows;

/// A row of a hash-keyed table, its record already encoded.
pub(crate) struct HashedRow {
    pub(crate) hash: TokenHash,
    pub(crate) issuer: String,
    pub(crate) grant_id: Option<String>,
    pub(crate) family_id: Option<String>,
    pub(crate) expires_at: i64,
    pub(crate) record: EncodedRecord,
}

/// Inserts into one hash-keyed table: `one` row ([`insert_hashed!`]) or `many`.
pub(crate) struct InsertHashed {
    one: &'static str,
    many: &'static str,
}

impl Statement for InsertHashed {
    type Item = HashedRow;
    type Out = ();

    fn run<'a>(&'a self, client: &'a ClientWrapper, rows: &'a [HashedRow]) -> Exchange<'a, ()> {
        Box::pin(async move {
            if let [row] = rows {
                let stmt = client.prepare_cached(self.one).await?;
                client
                    .execute(
                        &stmt,
                        &[
                            &row.hash.as_bytes().as_slice(),
                            &row.issuer,
                            &row.grant_id,
                            &row.family_id,
                            &row.expires_at,
                            &row.record,
                        ],
                    )
                    .await?;
            } else {
                let hashes: Vec<&[u8]> =
                    rows.iter().map(|r| r.hash.as_bytes().as_slice()).collect();
                let issuers: Vec<&str> = rows.iter().map(|r| r.issuer.as_str()).collect();
                let grants: Vec<Option<&str>> =
                    rows.iter().map(|r| r.grant_id.as_deref()).collect();
                let families: Vec<Option<&str>> =
                    rows.iter().map(|r| r.family_id.as_deref()).collect();
                let expiries: Vec<i64> = rows.iter().map(|r| r.expires_at).collect();
                let records: Vec<&EncodedRecord> = rows.iter().map(|r| &r.record).collect();
                let stmt = client.prepare_cached(self.many).await?;
                client
                    .execute(
                        &stmt,
                        &[&hashes, &issuers, &grants, &families, &expiries, &records],
                    )
                    .await?;
            }
            Ok(rows.iter().map(|_| Ok(())).collect())
        })
    }
}

/// Look-ups of access tokens by (issuer, hash), alive only (`tokens::dead!`).
pub(crate) struct FindAccessToken;

/// The look-up of many access tokens by hash; each caller matches its issuer.
const FIND_ACCESS_TOKENS: &str = concat!(
    "SELECT t.hash, t.issuer, t.record FROM access_tokens t WHERE t.hash = ANY($1::BYTEA[]) ",
    "AND NOT ",
    tokens::dead!()
);

impl Statement for FindAccessToken {
    type Item = (Issuer, TokenHash);
    type Out = Option<AccessTokenRecord>;

    fn run<'a>(
        &'a self,
        client: &'a ClientWrapper,
        keys: &'a [(Issuer, TokenHash)],
    ) -> Exchange<'a, Option<AccessTokenRecord>> {
        Box::pin(async move {
            if let [(issuer, hash)] = keys {
                let stmt = client.prepare_cached(tokens::FIND_ACCESS_TOKEN).await?;
                let rows = client
                    .query(&stmt, &[&hash.as_bytes().as_slice(), &issuer.as_str()])
                    .await?;
                return Ok(vec![rows.first().map(|r| decode(r, 0)).transpose()]);
            }
            let hashes: Vec<&[u8]> = keys.iter().map(|(_, h)| h.as_bytes().as_slice()).collect();
            let stmt = client.prepare_cached(FIND_ACCESS_TOKENS).await?;
            let rows = client.query(&stmt, &[&hashes]).await?;
            Ok(keys
                .iter()
                .map(|(issuer, hash)| {
                    for row in &rows {
                        let (h, i): (&[u8], &str) = (get(row, 0)?, get(row, 1)?);
                        if h == hash.as_bytes().as_slice() && i == issuer.as_str() {
                            return decode(row, 2).map(Some);
                        }
                    }
                    Ok(None)
                })
                .collect())
        })
    }
}

/// Callers of one [`Statement`], gathered into batches.
pub(crate) struct Batcher<S: Statement> {
    statement: S,
    queue: Mutex<Queue<S>>,
    shared: Arc<SharedClients>,
    pool: Pool,
}

struct Queue<S: Statement> {
    waiting: VecDeque<Job<S>>,
    /// Tasks running batches (at most [`BATCHES_IN_FLIGHT`]).
    running: usize,
}

struct Job<S: Statement> {
    item: S::Item,
    reply: oneshot::Sender<StoreResult<S::Out>>,
}

impl<S: Statement> Batcher<S> {
    fn new(statement: S, shared: Arc<SharedClients>, pool: Pool) -> Self {
        Self {
            statement,
            queue: Mutex::new(Queue {
                waiting: VecDeque::new(),
                running: 0,
            }),
            shared,
            pool,
        }
    }

    /// Runs `item` in the next batch; its outcome, within the operation's deadline.
    pub(crate) async fn submit(self: &Arc<Self>, item: S::Item) -> StoreResult<S::Out> {
        let deadline = Instant::now() + self.shared.operation_timeout();
        let (reply, outcome) = oneshot::channel();
        let start = {
            let mut queue = self.queue();
            queue.waiting.push_back(Job { item, reply });
            let start = queue.running < BATCHES_IN_FLIGHT;
            if start {
                queue.running += 1;
            }
            start
        };
        if start {
            // The place is given back by the guard even if the task is dropped unpolled
            // (its runtime shutting down).
            let running = Running(Some(self.clone()));
            tokio::spawn(self.clone().drain(running));
        }
        match timeout_at(deadline, outcome).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err(StoreError::new("postgres batch abandoned")),
            Err(_) => Err(StoreError::new("postgres operation timed out")),
        }
    }

    /// Runs batches of what is waiting until nothing is; `running` holds its place.
    async fn drain(self: Arc<Self>, mut running: Running<S>) {
        loop {
            let jobs: Vec<Job<S>> = {
                let mut queue = self.queue();
                queue.waiting.retain(|job| !job.reply.is_closed());
                if queue.waiting.is_empty() {
                    queue.running -= 1;
                    running.0 = None;
                    return;
                }
                let n = queue.waiting.len().min(MAX_ROWS);
                queue.waiting.drain(..n).collect()
            };
            self.run(jobs).await;
        }
    }

    /// Runs one batch and answers its callers.
    async fn run(&self, jobs: Vec<Job<S>>) {
        let (items, replies): (Vec<S::Item>, Vec<_>) =
            jobs.into_iter().map(|j| (j.item, j.reply)).unzip();
        match self.outcomes(&items).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                let cause = Arc::new(e);
                for reply in replies {
                    let _ = reply.send(Err(StoreError::with_source(
                        "postgres batch failed",
                        BatchFailure(cause.clone()),
                    )));
                }
            }
        }
    }

    /// Each item's outcome; an error when the connection failed (every item fails then).
    async fn outcomes(&self, items: &[S::Item]) -> StoreResult<Vec<StoreResult<S::Out>>> {
        let client = self.shared.get(self.pool.manager()).await?;
        // A statement error leaves the connection usable: it comes back inside `Ok`.
        let batch = client
            .run(async {
                match self.statement.run(&client, items).await {
                    Err(e) if !is_broken(&e) => Ok(Err(e)),
                    other => other.map(Ok),
                }
            })
            .await?;
        match batch {
            Ok(outcomes) => return Ok(outcomes),
            // A single row's error is its own.
            Err(e) if items.len() == 1 => return Ok(vec![Err(db(e))]),
            Err(_) => {}
        }
        let mut outcomes = Vec::with_capacity(items.len());
        for item in items.chunks(1) {
            let one = client.run(self.statement.run(&client, item)).await;
            outcomes.push(one.and_then(|mut o| {
                o.pop()
                    .unwrap_or_else(|| Err(StoreError::new("postgres: no outcome")))
            }));
        }
        Ok(outcomes)
    }

    fn queue(&self) -> MutexGuard<'_, Queue<S>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Gives a batch task's place back if the task ends before it found the queue empty: its
/// runtime shut down, before or after the task first ran (a place kept would be lost for
/// good, and with every place lost no batch would start again).
struct Running<S: Statement>(Option<Arc<Batcher<S>>>);

impl<S: Statement> Drop for Running<S> {
    fn drop(&mut self) {
        if let Some(batcher) = self.0.take() {
            batcher.queue().running -= 1;
        }
    }
}

/// The failure of a batch's connection, shared by its callers.
#[derive(Debug)]
struct BatchFailure(Arc<StoreError>);

impl fmt::Display for BatchFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BatchFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}
