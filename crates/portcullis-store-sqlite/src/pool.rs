//! A small blocking connection pool: connections open on demand up to a limit, and wait
//! for one another beyond it.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use portcullis_store::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};

use crate::codec::db;

/// Where the connections go.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A database file, shared by every connection (and by other processes).
    File(PathBuf),
    /// A private in-memory database: a single connection, which holds it.
    Memory,
}

#[derive(Debug)]
pub(crate) struct Pool {
    target: Target,
    max: usize,
    busy_timeout: Duration,
    state: Mutex<Idle>,
    returned: Condvar,
}

#[derive(Debug, Default)]
struct Idle {
    connections: Vec<Connection>,
    open: usize,
}

impl Pool {
    /// A pool whose first connection is `first` (already set up and migrated).
    pub(crate) fn new(
        target: Target,
        max: usize,
        busy_timeout: Duration,
        first: Connection,
    ) -> Self {
        let max = match target {
            Target::File(_) => max.max(1),
            Target::Memory => 1,
        };
        Self {
            target,
            max,
            busy_timeout,
            state: Mutex::new(Idle {
                connections: vec![first],
                open: 1,
            }),
            returned: Condvar::new(),
        }
    }

    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// An idle connection, a new one if the pool may grow, or the next one returned.
    pub(crate) fn get(&self) -> StoreResult<Pooled<'_>> {
        let mut idle = self.lock()?;
        loop {
            if let Some(conn) = idle.connections.pop() {
                return Ok(Pooled {
                    pool: self,
                    conn: Some(conn),
                });
            }
            if idle.open < self.max {
                idle.open += 1;
                drop(idle);
                return match self.connect() {
                    Ok(conn) => Ok(Pooled {
                        pool: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        self.lock()?.open -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            idle = self
                .returned
                .wait(idle)
                .map_err(|_| StoreError::new("sqlite pool lock poisoned"))?;
        }
    }

    fn connect(&self) -> StoreResult<Connection> {
        match &self.target {
            Target::File(path) => open_file(path, self.busy_timeout),
            // Unreachable: the one in-memory connection is never closed while the pool lives.
            Target::Memory => Err(StoreError::new("the in-memory database was lost")),
        }
    }

    fn lock(&self) -> StoreResult<MutexGuard<'_, Idle>> {
        self.state
            .lock()
            .map_err(|_| StoreError::new("sqlite pool lock poisoned"))
    }

    fn put_back(&self, conn: Connection) {
        // A poisoned lock loses the connection; the pool stays usable through `open`.
        if let Ok(mut idle) = self.state.lock() {
            idle.connections.push(conn);
        }
        self.returned.notify_one();
    }
}

/// Opens a database file with the settings every connection needs: WAL journal (readers
/// never block the writer, and many processes on one host may share the file), full sync
/// on commit (a consumed code stays consumed across a power cut), and a busy timeout so
/// that writers queue instead of failing.
pub(crate) fn open_file(path: &std::path::Path, busy_timeout: Duration) -> StoreResult<Connection> {
    create_private(path)
        .map_err(|e| StoreError::with_source("cannot create the database file", e))?;
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(db)?;
    conn.busy_timeout(busy_timeout).map_err(db)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(db)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::new("sqlite refused WAL mode for this database"));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db)?;
    Ok(with_statement_cache(conn))
}

/// Statements this crate prepares per connection (`prepare_cached`), all of them: more
/// than rusqlite's default cache of 16, which would re-prepare the hot ones in turn.
const STATEMENT_CACHE: usize = 128;

/// `conn`, keeping every statement this crate runs prepared.
fn with_statement_cache(conn: Connection) -> Connection {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn
}

/// Creates the database file, readable and writable by its owner only (mode 0600), unless
/// it exists: it holds the (sealed) signing keys and the tokens' hashes, and SQLite gives
/// its journal files the database file's permissions.
fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// A private in-memory database.
pub(crate) fn open_memory() -> StoreResult<Connection> {
    Connection::open_in_memory()
        .map(with_statement_cache)
        .map_err(db)
}

/// A connection on loan from the pool; it goes back when dropped.
pub(crate) struct Pooled<'a> {
    pool: &'a Pool,
    conn: Option<Connection>,
}

impl Deref for Pooled<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("present until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.put_back(conn);
        }
    }
}
