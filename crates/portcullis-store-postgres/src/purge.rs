//! Deleting expired rows in bounded batches.

use portcullis_store::StoreResult;

use crate::{PostgresStore, PURGE_BATCH};

/// Deletes the rows of `table` whose `expiry` column is at or before `now` ("expired at
/// `now`", as every `purge_expired` of the traits says), [`PURGE_BATCH`] rows per
/// statement, each statement its own transaction on its own lease (so its own
/// [`operation_timeout`](crate::PostgresConfig::operation_timeout): a backlog of many
/// batches never runs into one deadline), so that no purge holds many row locks for long;
/// returns how many went. Rows another transaction holds locked (a rotation under
/// way, another node's purge) are skipped, not waited for: a later purge takes them. Both
/// names are constants of this crate, never input.
pub(crate) async fn expired(
    store: &PostgresStore,
    table: &'static str,
    expiry: &'static str,
    now: i64,
) -> StoreResult<u64> {
    let sql = format!(
        "DELETE FROM {table} WHERE ctid = ANY(ARRAY( \
             SELECT ctid FROM {table} WHERE {expiry} <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)) \
         AND {expiry} <= $1"
    );
    let mut total = 0;
    loop {
        let conn = store.conn().await?;
        let stmt = conn.run(conn.prepare_cached(&sql)).await?;
        let n = conn.run(conn.execute(&stmt, &[&now, &PURGE_BATCH])).await?;
        total += n;
        if n < PURGE_BATCH.unsigned_abs() {
            return Ok(total);
        }
    }
}
