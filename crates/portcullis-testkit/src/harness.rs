//! How the checks reach the store under test: a factory of handles on named databases.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::future::{ready, Future, Ready};
use std::panic::resume_unwind;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::clock::TestClock;
use crate::fixtures::Fixtures;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Opens handles on named databases for the checks. Any `Send + Sync + 'static`
/// `Fn(DbName) -> impl Future<Output = Arc<S>>` is one; see [`DbName`] for what each call
/// must return.
pub trait StoreFactory<S>: Send + Sync + 'static {
    /// A new handle on the database `db`.
    fn open(&self, db: DbName) -> BoxFuture<Arc<S>>;
}

impl<S, F, Fut> StoreFactory<S> for F
where
    F: Fn(DbName) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Arc<S>> + Send + 'static,
{
    fn open(&self, db: DbName) -> BoxFuture<Arc<S>> {
        Box::pin(self(db))
    }
}

type Factory<S> = Arc<dyn StoreFactory<S>>;

/// Names one database of a conformance run: every check gets a fresh one.
///
/// The first handle opened for a name must find an empty database; every later handle for
/// the same name must be another handle on that same database — a separate connection or
/// pool where the backend has them — so that racing checks cross handles as separate
/// processes would. The name is unique in the run and usable as a file, schema or database
/// name: at most 63 characters of `[a-z0-9_]`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DbName(String);

impl DbName {
    /// A fresh name for the check `check`.
    pub(crate) fn fresh(check: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut name = format!("pc_{}_{n}_", std::process::id());
        name.extend(
            check
                .chars()
                .map(|c| match c.to_ascii_lowercase() {
                    c @ ('a'..='z' | '0'..='9') => c,
                    _ => '_',
                })
                .take(63 - name.len().min(63)),
        );
        Self(name)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DbName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What one check gets: handles on its own fresh database, records and a clock.
pub struct Harness<S> {
    db: DbName,
    factory: Factory<S>,
    fixtures: Fixtures,
    clock: TestClock,
}

impl<S: Send + Sync + 'static> Harness<S> {
    /// A harness for `check` on a fresh database from `make_store`; its fixtures are seeded
    /// by the check's name, so a failure replays with the same records.
    pub fn new(check: &str, make_store: impl StoreFactory<S>) -> Self {
        Self::with_factory(check, Arc::new(make_store))
    }

    fn with_factory(check: &str, factory: Factory<S>) -> Self {
        Self {
            db: DbName::fresh(check),
            factory,
            fixtures: Fixtures::new(check.as_bytes()),
            clock: TestClock::default(),
        }
    }

    /// A new handle on this check's database.
    pub async fn open(&self) -> Arc<S> {
        self.factory.open(self.db.clone()).await
    }

    /// `n` new handles on this check's database.
    pub async fn open_many(&self, n: usize) -> Vec<Arc<S>> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.open().await);
        }
        out
    }

    /// The check's database.
    pub fn db(&self) -> &DbName {
        &self.db
    }

    /// The check's record builders.
    pub fn fixtures(&self) -> &Fixtures {
        &self.fixtures
    }

    /// The check's clock.
    pub fn clock(&self) -> &TestClock {
        &self.clock
    }
}

impl<S> fmt::Debug for Harness<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Harness").field("db", &self.db).finish()
    }
}

/// Runs checks one after another on fresh databases from one factory.
pub(crate) struct Runner<S> {
    factory: Factory<S>,
}

impl<S: Send + Sync + 'static> Runner<S> {
    pub(crate) fn new(make_store: impl StoreFactory<S>) -> Self {
        Self {
            factory: Arc::new(make_store),
        }
    }

    pub(crate) async fn run<C, Fut>(&self, name: &'static str, check: C)
    where
        C: FnOnce(Harness<S>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        run_named(
            name,
            check(Harness::with_factory(name, self.factory.clone())),
        )
        .await;
    }
}

/// Runs one check as its own task, so that a failure names it.
pub(crate) async fn run_named<Fut>(name: &str, check: Fut)
where
    Fut: Future<Output = ()> + Send + 'static,
{
    if let Err(panic) = outcome(name, check).await {
        eprintln!("conformance check `{name}` failed");
        resume_unwind(panic)
    }
}

/// Runs one check as its own task; `Err` holds its panic.
async fn outcome<Fut>(name: &str, check: Fut) -> Result<(), Box<dyn Any + Send>>
where
    Fut: Future<Output = ()> + Send + 'static,
{
    match tokio::spawn(check).await {
        Ok(()) => Ok(()),
        Err(e) => match e.try_into_panic() {
            Ok(panic) => Err(panic),
            Err(e) => panic!("conformance check `{name}` was cancelled: {e}"),
        },
    }
}

/// Worker threads of the runtime each generated test runs on: more than one, so that racing
/// tasks run in parallel.
const TEST_WORKERS: usize = 4;

/// Runs one check as a test of its own on a fresh multi-thread runtime (what
/// `conformance_tests!` expands to). `make_store` is called inside the runtime.
///
/// A `known_failure` must fail: the test passes when it does, and fails when the check
/// passes, so that the store's fix is noticed and the entry removed.
pub fn run_test<M, F, S, C, CF>(name: &'static str, known_failure: bool, make_store: M, check: C)
where
    M: FnOnce() -> F,
    F: StoreFactory<S>,
    S: Send + Sync + 'static,
    C: FnOnce(Harness<S>) -> CF,
    CF: Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(TEST_WORKERS)
        .enable_all()
        .build()
        .expect("a tokio runtime for the conformance test");
    runtime.block_on(async move {
        let run = check(Harness::new(name, make_store()));
        if !known_failure {
            return run_named(name, run).await;
        }
        match outcome(name, run).await {
            Err(_) => eprintln!("conformance check `{name}` failed, as known"),
            Ok(()) => panic!(
                "conformance check `{name}` is listed in known_failures but passes: remove it"
            ),
        }
    });
}

/// A factory for stores that live in process memory, such as `MemoryStore`: the first
/// handle on a [`DbName`] is `make()`, and every later handle on it shares that store.
pub fn shared_in_process<S, M>(make: M) -> impl Fn(DbName) -> Ready<Arc<S>> + Send + Sync + 'static
where
    M: Fn() -> S + Send + Sync + 'static,
    S: Send + Sync + 'static,
{
    let dbs: Mutex<HashMap<DbName, Arc<S>>> = Mutex::new(HashMap::new());
    move |db| {
        let mut dbs = dbs.lock().unwrap_or_else(PoisonError::into_inner);
        ready(dbs.entry(db).or_insert_with(|| Arc::new(make())).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_short_and_plain() {
        let long = "x".repeat(200);
        let (a, b) = (DbName::fresh("Some-Check"), DbName::fresh(&long));
        assert_ne!(a, DbName::fresh("Some-Check"));
        assert!(a.as_str().ends_with("_some_check"), "{a}");
        assert!(b.as_str().len() <= 63);
        assert!(b
            .as_str()
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'));
    }
}
