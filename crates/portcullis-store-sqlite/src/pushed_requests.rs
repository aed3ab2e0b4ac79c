//! [`PushedRequestStore`]: one row per reference hash, deleted when taken.

use async_trait::async_trait;
use portcullis_core::{Issuer, PushedRequestRecord, TokenHash, UnixTime};
use portcullis_store::{PushedRequestStore, StoreResult};
use rusqlite::{params, OptionalExtension};

use crate::codec::{db, decode, encode, key};
use crate::{purge, SqliteStore};

#[async_trait]
impl PushedRequestStore for SqliteStore {
    async fn insert_pushed_request(&self, record: &PushedRequestRecord) -> StoreResult<()> {
        let row = (
            key(&record.hash),
            record.issuer.to_string(),
            record.expires_at.secs_i64(),
            encode(record)?,
        );
        self.run(move |conn| {
            conn.prepare_cached(
                "INSERT INTO pushed_requests (hash, issuer, expires_at, record) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| s.execute(params![row.0, row.1, row.2, row.3]))
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    /// One `DELETE … RETURNING`: of all concurrent callers, on any connection or process,
    /// only the one whose statement deletes the row gets the record.
    async fn consume_pushed_request(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<PushedRequestRecord>> {
        let (issuer, hash, now) = (issuer.to_string(), key(hash), now.secs_i64());
        self.run(move |conn| {
            let json: Option<String> = conn
                .prepare_cached(
                    "DELETE FROM pushed_requests WHERE hash = ?1 AND issuer = ?2 \
                     AND expires_at > ?3 RETURNING record",
                )
                .and_then(|mut s| {
                    s.query_row(params![hash, issuer, now], |r| r.get(0))
                        .optional()
                })
                .map_err(db)?;
            json.as_deref().map(decode).transpose()
        })
        .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        self.run(move |conn| {
            purge::expired(
                conn,
                "pushed_requests",
                "hash",
                "expires_at",
                now.secs_i64(),
            )
        })
        .await
    }
}
