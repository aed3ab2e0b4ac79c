//! [`PushedRequestStore`]: one row per reference hash, deleted when taken.

use async_trait::async_trait;
use portcullis_core::{Issuer, PushedRequestRecord, TokenHash, UnixTime};
use portcullis_store::{PushedRequestStore, StoreResult};

use crate::codec::{decode, json, key};
use crate::{purge, PostgresStore};

#[async_trait]
impl PushedRequestStore for PostgresStore {
    async fn insert_pushed_request(&self, record: &PushedRequestRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO pushed_requests (hash, issuer, expires_at, record) \
             VALUES ($1, $2, $3, $4)",
            &[
                &key(&record.hash),
                &record.issuer.as_str(),
                &record.expires_at.secs_i64(),
                &json(record),
            ],
        )
        .await?;
        Ok(())
    }

    /// One `DELETE … RETURNING`: of all concurrent callers, on any connection of any node,
    /// only the one whose statement deletes the row gets the record — a racing `DELETE`
    /// waits for the row lock and then finds the row gone.
    async fn consume_pushed_request(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<PushedRequestRecord>> {
        let rows = self
            .query(
                "DELETE FROM pushed_requests WHERE hash = $1 AND issuer = $2 \
                 AND expires_at > $3 RETURNING record",
                &[&key(hash), &issuer.as_str(), &now.secs_i64()],
            )
            .await?;
        rows.first().map(|r| decode(r, 0)).transpose()
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        purge::expired(self, "pushed_requests", "expires_at", now.secs_i64()).await
    }
}
