//! The schema, as numbered migrations embedded in the binary and applied on open.

use portcullis_store::{StoreError, StoreResult};
use rusqlite::{Connection, TransactionBehavior};

use crate::codec::db;

/// Every migration in order: (version, SQL). A released migration is never edited; a change
/// is a new one.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_initial.sql")),
    (2, include_str!("migrations/0002_refresh_graces.sql")),
    (3, include_str!("migrations/0003_replay_cache.sql")),
    (4, include_str!("migrations/0004_sessions.sql")),
    (5, include_str!("migrations/0005_pushed_requests.sql")),
    (6, include_str!("migrations/0006_device_authorizations.sql")),
];

/// The schema version this build writes.
pub(crate) const LATEST: i64 = 6;

/// Brings the database up to [`LATEST`] in one IMMEDIATE transaction, so that processes
/// opening it at once apply each migration exactly once. Refuses a database written by a
/// newer build.
pub(crate) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version    INTEGER NOT NULL PRIMARY KEY,
            applied_at INTEGER NOT NULL
        ) STRICT;",
    )
    .map_err(db)?;
    let current: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version",
            [],
            |r| r.get(0),
        )
        .map_err(db)?;
    if current > LATEST {
        return Err(StoreError::new(
            "the database schema is newer than this portcullis-store-sqlite",
        ));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.execute_batch(sql).map_err(db)?;
        tx.execute(
            "INSERT INTO schema_version (version, applied_at) VALUES (?1, unixepoch())",
            [version],
        )
        .map_err(db)?;
    }
    tx.commit().map_err(db)
}

/// The version the database is at.
pub(crate) fn version(conn: &Connection) -> StoreResult<i64> {
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )
    .map_err(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_up_to_latest() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
        assert_eq!(versions, (1..=LATEST).collect::<Vec<_>>());
    }

    #[test]
    fn migrating_twice_is_a_no_op_and_a_newer_schema_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        assert_eq!(version(&conn).unwrap(), LATEST);
        conn.execute("INSERT INTO schema_version VALUES (?1, 0)", [LATEST + 1])
            .unwrap();
        assert!(migrate(&mut conn).is_err());
    }
}
