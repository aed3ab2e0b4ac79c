//! Deleting expired rows in bounded batches.

use portcullis_store::StoreResult;
use rusqlite::{params, Connection};

use crate::codec::db;
use crate::PURGE_BATCH;

/// Deletes the rows of `table` whose `expiry` column is at or before `now`, [`PURGE_BATCH`]
/// rows per statement, each its own transaction so that writers queue behind a short lock;
/// returns how many went. `key` is the table's primary key; all three names are constants
/// of this crate, never input.
pub(crate) fn expired(
    conn: &Connection,
    table: &'static str,
    key: &'static str,
    expiry: &'static str,
    now: i64,
) -> StoreResult<u64> {
    let sql = format!(
        "DELETE FROM {table} WHERE ({key}) IN \
         (SELECT {key} FROM {table} WHERE {expiry} <= ?1 LIMIT ?2)"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(db)?;
    let mut total = 0;
    loop {
        let n = stmt.execute(params![now, PURGE_BATCH]).map_err(db)?;
        total += n as u64;
        if n < PURGE_BATCH as usize {
            return Ok(total);
        }
    }
}
