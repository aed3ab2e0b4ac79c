//! The schema, as numbered migrations embedded in the binary and applied on connect.

use deadpool_postgres::{Object, Transaction};
use portcullis_store::{StoreError, StoreResult};

use crate::codec::{db, get};
use crate::lease::Lease;

/// Every migration in order: (version, SQL). A released migration is never edited; a change
/// is a new one.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_initial.sql")),
    (2, include_str!("migrations/0002_refresh_graces.sql")),
    (3, include_str!("migrations/0003_replay_cache.sql")),
    (4, include_str!("migrations/0004_sessions.sql")),
    (5, include_str!("migrations/0005_pushed_requests.sql")),
    (6, include_str!("migrations/0006_device_authorizations.sql")),
    (
        7,
        include_str!("migrations/0007_access_token_records_as_json.sql"),
    ),
];

/// The schema version this build writes.
pub(crate) const LATEST: i64 = 7;

/// The first key of the advisory lock migrations take ("PCUS"); the second is a hash of the
/// schema, so that migrations of different schemas do not wait for one another.
const LOCK_CLASS: i32 = 0x5043_5553;

/// Brings the database (or `schema`) up to [`LATEST`] in one transaction that first takes
/// a transaction-scoped advisory lock: nodes connecting at once queue on the lock, and each
/// later one finds the work done, so every migration is applied exactly once. PostgreSQL's
/// DDL is transactional: a failed migration leaves nothing half done. Refuses a database
/// written by a newer build.
pub(crate) async fn migrate(conn: &mut Object, schema: Option<&str>) -> StoreResult<()> {
    let tx = conn.transaction().await.map_err(db)?;
    match apply(&tx, schema).await {
        Ok(()) => tx.commit().await.map_err(db),
        Err(e) => {
            // Ends the transaction (and frees the lock) now, not when the connection next
            // runs a statement. The first error is the one worth reporting.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// The migration's statements, inside its transaction.
async fn apply(tx: &Transaction<'_>, schema: Option<&str>) -> StoreResult<()> {
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext(COALESCE($2::text, current_schema()::text, '')))",
        &[&LOCK_CLASS, &schema],
    )
    .await
    .map_err(db)?;
    if let Some(schema) = schema {
        // `schema` is a checked plain identifier (see `PostgresConfig::schema`). The session's
        // search_path already names it; SET LOCAL makes sure a schema created just now is
        // where this transaction creates the tables.
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\"; SET LOCAL search_path TO \"{schema}\";"
        ))
        .await
        .map_err(db)?;
    }
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version    INTEGER     NOT NULL PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );",
    )
    .await
    .map_err(db)?;
    let row = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_version",
            &[],
        )
        .await
        .map_err(db)?;
    let current: i64 = get(&row, 0)?;
    if current > LATEST {
        return Err(StoreError::new(
            "the database schema is newer than this portcullis-store-postgres",
        ));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.batch_execute(sql).await.map_err(db)?;
        let version = i32::try_from(*version)
            .map_err(|_| StoreError::new("migration version out of range"))?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// The version the database is at (within the operation timeout, like any store call).
pub(crate) async fn version(conn: &Lease) -> StoreResult<i64> {
    let row = conn
        .run(conn.query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_version",
            &[],
        ))
        .await?;
    get(&row, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_up_to_latest() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
        assert_eq!(versions, (1..=LATEST).collect::<Vec<_>>());
    }
}
