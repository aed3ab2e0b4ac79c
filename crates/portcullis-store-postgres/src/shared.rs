//! Pipelined connections shared by the single statements that wait on no row lock.
//!
//! A single statement outside a transaction that waits on no row lock (a token insert or
//! look-up, a grant read…: `waits_on_no_row_lock` in the crate root) does not need a
//! connection of its own: `tokio-postgres` pipelines the
//! statements issued concurrently on one client — their messages leave in one write, and
//! the server answers them in order without waiting for the client in between. Sharing a
//! few long-lived clients instead of taking an exclusive pooled connection per statement
//! saves the server and the host a wake-up and a task switch per statement under load.
//! Transactions (and `purge_expired`'s batches) keep exclusive pooled connections: a
//! transaction must not interleave with other callers' statements.
//! Concurrent inserts into one table and concurrent access-token look-ups go further: they
//! are gathered into one statement, run on a slot like any other (the `batch` module).
//!
//! * **Slots:** [`SharedClients::get`] hands out the slots' clients round robin.
//! * **Bounded:** at most [`PIPELINE_DEPTH`] statements per slot are in flight at once; a
//!   caller beyond that waits for a statement to finish. Like a pooled one, an operation on
//!   a shared connection — its wait for room, the connecting, the statement — ends within
//!   [`PostgresConfig::operation_timeout`](crate::PostgresConfig::operation_timeout).
//! * **Head of line:** the server runs a connection's statements one after the other, so a
//!   statement waits at most for those queued before it on its slot, each a single
//!   statement that waits on no row lock. An `UPDATE`, `DELETE`, upsert or `FOR UPDATE`
//!   (a grant touch, a code consumption, a rotation) runs on a pooled connection instead:
//!   while it waited for a lock on a shared slot, every statement behind it would wait too
//!   (measured: logins on PostgreSQL halved when the touches of one busy grant shared the
//!   slots).
//! * **Broken connections are replaced:** a slot whose connection closed (the server
//!   restarted, the network failed, an administrator ended it) connects again on its next
//!   use; statements in flight on the broken connection fail with a store error, and the
//!   first such failure empties the slot (the client only learns a moment later that its
//!   connection closed). So does a statement that times out: its connection may be stuck
//!   behind a server that vanished without a word; the statements still on it end by their
//!   own deadlines, and it closes when the last of them lets go of it. (A caller whose
//!   future is dropped leaves the connection as it is: outside a transaction the driver
//!   simply discards the answer.) One caller per slot connects at a time; the callers that
//!   waited for it share its failure rather than each trying (and waiting) again, and none
//!   waits past its operation's deadline. The slot recovers by itself once the server is
//!   back.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use deadpool::managed::Manager as _;
use deadpool_postgres::{ClientWrapper, Manager};
use portcullis_store::{StoreError, StoreResult};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{timeout_at, Instant};

use crate::codec::db;

/// Statements in flight at once on one shared connection, at most.
pub(crate) const PIPELINE_DEPTH: usize = 32;

/// A few long-lived connections that single statements share, pipelined.
pub(crate) struct SharedClients {
    slots: Box<[Arc<Slot>]>,
    next: AtomicUsize,
    in_flight: Arc<Semaphore>,
    operation_timeout: Duration,
}

/// One shared connection, connected when first used and again after it closed.
struct Slot {
    state: Mutex<SlotState>,
    /// Held by the one caller connecting the slot.
    connecting: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct SlotState {
    client: Option<Arc<ClientWrapper>>,
    /// When the last attempt to connect failed, so that callers that queued behind it fail
    /// at once.
    failed_at: Option<Instant>,
}

/// A shared client for one operation: the caller's share of its pipeline (released when
/// dropped), and the operation's deadline.
pub(crate) struct SharedClient {
    client: Arc<ClientWrapper>,
    slot: Arc<Slot>,
    deadline: Instant,
    _permit: OwnedSemaphorePermit,
}

impl SharedClient {
    /// Runs one exchange with the server before the operation's deadline. A connection
    /// found broken, or that let the deadline pass, is let go of by its slot.
    pub(crate) async fn run<T>(
        &self,
        exchange: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> StoreResult<T> {
        match timeout_at(self.deadline, exchange).await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => {
                if is_broken(&e) {
                    self.let_go();
                }
                Err(db(e))
            }
            Err(_) => {
                self.let_go();
                Err(StoreError::new("postgres operation timed out"))
            }
        }
    }

    /// Empties the slot of this client (unless it has already been replaced), so that the
    /// next caller connects again.
    fn let_go(&self) {
        let mut state = self.slot.state();
        if state
            .client
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, &self.client))
        {
            state.client = None;
        }
    }
}

/// Whether `e` says the connection is closed or unusable (connection exception, or an
/// operator's intervention such as a shutdown), not just that its statement failed.
pub(crate) fn is_broken(e: &tokio_postgres::Error) -> bool {
    e.is_closed()
        || e.code().is_some_and(|c| {
            let class = &c.code()[..2];
            class == "08" || class == "57"
        })
}

impl std::ops::Deref for SharedClient {
    type Target = ClientWrapper;

    fn deref(&self) -> &ClientWrapper {
        &self.client
    }
}

impl SharedClients {
    /// `slots` shared connections (at least one), none connected yet; each operation on
    /// them ends within `operation_timeout`.
    pub(crate) fn new(slots: usize, operation_timeout: Duration) -> Self {
        let slots = slots.max(1);
        Self {
            slots: (0..slots)
                .map(|_| {
                    Arc::new(Slot {
                        state: Mutex::default(),
                        connecting: tokio::sync::Mutex::const_new(()),
                    })
                })
                .collect(),
            next: AtomicUsize::new(0),
            in_flight: Arc::new(Semaphore::new(slots * PIPELINE_DEPTH)),
            operation_timeout,
        }
    }

    /// The next slot's client, connected by `manager` if need be, once a statement may
    /// enter the pipeline.
    pub(crate) async fn get(&self, manager: &Manager) -> StoreResult<SharedClient> {
        let deadline = Instant::now() + self.operation_timeout;
        let too_late = || StoreError::new("postgres: no shared connection in time");
        let permit = timeout_at(deadline, self.in_flight.clone().acquire_owned())
            .await
            .map_err(|_| too_late())?
            .map_err(|_| StoreError::new("postgres shared connections closed"))?;
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        let client = timeout_at(deadline, slot.client(manager))
            .await
            .map_err(|_| too_late())??;
        Ok(SharedClient {
            client,
            slot: slot.clone(),
            deadline,
            _permit: permit,
        })
    }

    /// How long each operation on the shared connections may take.
    pub(crate) fn operation_timeout(&self) -> Duration {
        self.operation_timeout
    }

    /// How many slots hold an open connection.
    pub(crate) fn open(&self) -> usize {
        self.slots.iter().filter(|s| s.live().is_some()).count()
    }
}

impl Slot {
    /// The slot's client, if it is connected and its connection is open.
    fn live(&self) -> Option<Arc<ClientWrapper>> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.client.clone().filter(|c| !c.is_closed())
    }

    async fn client(&self, manager: &Manager) -> StoreResult<Arc<ClientWrapper>> {
        if let Some(client) = self.live() {
            return Ok(client);
        }
        let asked = Instant::now();
        let _connecting = self.connecting.lock().await;
        if let Some(client) = self.live() {
            return Ok(client);
        }
        if self.state().failed_at.is_some_and(|at| at >= asked) {
            return Err(StoreError::new(
                "postgres connection failed (the attempt this call waited for)",
            ));
        }
        match manager.create().await {
            Ok(client) => {
                let client = Arc::new(client);
                *self.state() = SlotState {
                    client: Some(client.clone()),
                    failed_at: None,
                };
                Ok(client)
            }
            Err(e) => {
                *self.state() = SlotState {
                    client: None,
                    failed_at: Some(Instant::now()),
                };
                Err(StoreError::with_source("postgres connection failed", e))
            }
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
