//! A pooled connection leased for one store operation, under the operation's deadline
//! ([`PostgresConfig::operation_timeout`](crate::PostgresConfig::operation_timeout)).
//!
//! Waiting for a pooled connection, or for a new one to be established, is bounded by
//! [`PostgresConfig::wait_timeout`](crate::PostgresConfig::wait_timeout); once the
//! connection is held, every exchange of the operation — each statement's answer,
//! `COMMIT` — ends at one deadline, `operation_timeout` later. A connection whose statement
//! was still unanswered when the operation ended (it timed out, or the caller's future was
//! dropped) is detached from the pool, never handed out again: it may be stuck behind a
//! dead peer, or inside a transaction nobody will finish. Detaching drops our client; the
//! driver's connection task then ends once the server answers or the socket fails (TCP
//! keepalives, `tcp_user_timeout`). So that the server stops the work too, a detached
//! connection's running statement is cancelled (a cancel request on a new connection,
//! bounded by `operation_timeout`), and a transaction left idle on it is ended by the
//! server after `idle_in_transaction_session_timeout` (twice `operation_timeout`, set at
//! connection start-up), which releases its row locks.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Object, Pool};
use portcullis_store::{StoreError, StoreResult};
use tokio::time::{timeout, timeout_at, Instant};
use tokio_postgres::{CancelToken, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::codec::{db, pool_error};

/// The deadline of one operation, and whether a statement of it is awaiting its answer.
#[derive(Clone)]
pub(crate) struct Watch {
    deadline: Instant,
    /// The operation timeout, which also bounds a cancel request.
    bound: Duration,
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
    canceller: Canceller,
}

/// How a connection's running statement is cancelled: through a new connection, with the
/// pool's TLS setting.
#[derive(Clone)]
pub(crate) enum Canceller {
    Plain,
    Tls(MakeRustlsConnect),
}

impl Canceller {
    /// Sends a cancel request for `token`'s connection in the background, giving up after
    /// `bound`. Outside a runtime (nothing to run it on) nothing is sent.
    fn spawn(&self, token: CancelToken, bound: Duration) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let canceller = self.clone();
        runtime.spawn(async move {
            // A failure (the server unreachable) leaves the server's own timeouts to it.
            let _ = match canceller {
                Canceller::Plain => timeout(bound, token.cancel_query(NoTls)).await,
                Canceller::Tls(tls) => timeout(bound, token.cancel_query(tls)).await,
            };
        });
    }
}

/// The bounds of an operation (see the module docs).
#[derive(Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) wait: Duration,
    pub(crate) operation: Duration,
}

impl Lease {
    /// A connection from `pool` (waiting for one, or establishing one) within
    /// `bounds.wait`; from then on the operation has `bounds.operation`.
    pub(crate) async fn take(
        pool: &Pool,
        bounds: Bounds,
        canceller: &Canceller,
    ) -> StoreResult<Self> {
        let conn = timeout(bounds.wait, pool.get())
            .await
            .map_err(|_| StoreError::new("postgres pool: no connection in time"))?
            .map_err(pool_error)?;
        Ok(Self {
            conn: Some(conn),
            watch: Watch {
                deadline: Instant::now() + bounds.operation,
                bound: bounds.operation,
                awaiting: Arc::new(AtomicBool::new(false)),
            },
            canceller: canceller.clone(),
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
                // Detached from the pool, the client is dropped; the server is asked to
                // stop the statement (see the module docs).
                let bound = self.watch.bound;
                self.canceller.spawn(conn.cancel_token(), bound);
                drop(Object::take(conn));
            }
        }
    }
}
