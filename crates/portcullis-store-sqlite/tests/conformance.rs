//! The conformance kit, on database files (each racer its own pool, as separate processes
//! would have) and on the single-connection in-memory database.

use std::future::{ready, Ready};
use std::sync::Arc;

use portcullis_store_sqlite::SqliteStore;
use portcullis_testkit::{conformance_tests, run_conformance, DbName};

/// Each test's databases live in a temporary directory removed when the test ends.
fn temp_files() -> impl Fn(DbName) -> Ready<Arc<SqliteStore>> + Send + Sync + 'static {
    let dir = tempfile::tempdir().expect("a temporary directory");
    move |db| {
        let path = dir.path().join(format!("{db}.sqlite3"));
        ready(Arc::new(
            SqliteStore::open(path).expect("open the database"),
        ))
    }
}

mod files {
    use super::*;
    conformance_tests!(temp_files());
}

mod in_memory {
    use super::*;
    use portcullis_testkit::shared_in_process;
    conformance_tests!(shared_in_process(
        || SqliteStore::memory().expect("an in-memory database")
    ));
}

/// The same suite through the one-call API a host may prefer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn run_conformance_in_one_call() {
    run_conformance(temp_files()).await;
}
