//! A pooled connection leased for one store operation, under the operation's deadline
//! ([`PostgresConfig::operation_timeout`](crate::PostgresConfig::operation_timeout)).
//!
//! Every wait of an operation — for a pooled connection, for a new one to be established,
//! for each statement's answer, for `COMMIT` — ends at one deadline, set when the operation
//! asks for its connection. A connection whose statement was still unanswered when the
//! operation ended (it timed out, or the caller's future was dropped) is detached from the
//! pool and closed, never handed out again: it may be stuck behind a dead peer, or inside a
//! transaction nobody will finish.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Object, Pool};
use portcullis_store::{StoreError, StoreResult};
use tokio::time::{timeout_at, Instant};

use crate::codec::{db, pool_error};

/// The deadline of one operation, and whether a statement of it is awaiting its answer.
#[derive(Clone)]
pub(crate) struct Watch {
    deadline: Instant,
    awaiting: Arc<AtomicBool>,
}

impl Watch {
    /// Runs one exchange with the server (a statement, `BEGIN`, `COMMIT`) before the
    /// deadline. Past it, the exchange is abandoned and its connection marked for closing.
    pub(crate) async fn run<T>(
        &self,
        exchange: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> StoreResult<T> {
        self.awaiting.store(true, Ordering::Relaxed);
        let out = timeout_at(self.deadline, exchange)
            .await
            .map_err(|_| StoreError::new("postgres operation timed out"))?;
        self.awaiting.store(false, Ordering::Relaxed);
        out.map_err(db)
    }
}

/// A pooled connection for one operation: it derefs to the pool's [`Object`], and goes
/// back to the pool when dropped — unless an exchange of it never completed (see the
/// module docs), then it is closed.
pub(crate) struct Lease {
    conn: Option<Object>,
    watch: Watch,
}

impl Lease {
    /// A connection from `pool` (waiting for one, or establishing one) within `timeout`,
    /// which from now on bounds the whole operation.
    pub(crate) async fn take(pool: &Pool, timeout: Duration) -> StoreResult<Self> {
        let deadline = Instant::now() + timeout;
        let conn = timeout_at(deadline, pool.get())
            .await
            .map_err(|_| StoreError::new("postgres pool: no connection in time"))?
            .map_err(pool_error)?;
        Ok(Self {
            conn: Some(conn),
            watch: Watch {
                deadline,
                awaiting: Arc::new(AtomicBool::new(false)),
            },
        })
    }

    /// This operation's deadline, for the exchanges of a transaction (which borrows the
    /// connection).
    pub(crate) fn watch(&self) -> Watch {
        self.watch.clone()
    }

    /// [`Watch::run`] on this operation's deadline.
    pub(crate) async fn run<T>(
        &self,
        exchange: impl Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> StoreResult<T> {
        self.watch.run(exchange).await
    }
}

impl Deref for Lease {
    type Target = Object;

    fn deref(&self) -> &Object {
        // `conn` is only ever `None` inside `drop`.
        self.conn.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut Object {
        self.conn.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.watch.awaiting.load(Ordering::Relaxed) {
            if let Some(conn) = self.conn.take() {
                // Detached from the pool, the client is dropped: its connection closes.
                drop(Object::take(conn));
            }
        }
    }
}
