//! [`CodeStore`]: one row per code hash, with a `consumed` flag that only ever goes
//! false → true.

use async_trait::async_trait;
use portcullis_core::{CodeRecord, FamilyId, GrantId, Issuer, TokenHash, UnixTime};
use portcullis_store::{CodeStore, ConsumeOutcome, StoreResult};

use crate::codec::{decode, get, key};
use crate::{insert_hashed, purge, query_on, Hashed, PostgresStore, StatementConn};

#[async_trait]
impl CodeStore for PostgresStore {
    async fn insert_code(&self, record: &CodeRecord) -> StoreResult<()> {
        let row = Hashed {
            hash: &record.hash,
            issuer: &record.issuer,
            grant_id: Some(&record.grant_id),
            family_id: Some(&record.family_id),
            expires_at: record.expires_at,
        };
        self.insert_hashed(insert_hashed!("codes"), row, record)
            .await
    }

    /// One conditional `UPDATE … AND NOT consumed AND expires_at > $now RETURNING record`:
    /// of all concurrent callers, on any connection of any node, only the one whose
    /// statement flips `consumed` gets the record — a racing `UPDATE` waits for the row lock
    /// and then re-checks `NOT consumed` on the row as the winner left it. A caller that
    /// flipped nothing reads the row again: `consumed` never goes back to false, so a live
    /// row it finds was consumed before (`CodeStore::consume_code`'s atomicity contract).
    async fn consume_code(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<ConsumeOutcome> {
        let args: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
            [&key(hash), &issuer.as_str(), &now.secs_i64()];
        let conn = StatementConn::Pooled(Box::new(self.conn().await?));
        let won = query_on(
            &conn,
            "UPDATE codes SET consumed = true WHERE hash = $1 AND issuer = $2 \
             AND expires_at > $3 AND NOT consumed RETURNING record",
            &args,
        )
        .await?;
        if let Some(row) = won.first() {
            return Ok(ConsumeOutcome::Consumed(Box::new(decode(row, 0)?)));
        }
        let lost = query_on(
            &conn,
            "SELECT grant_id, family_id FROM codes WHERE hash = $1 AND issuer = $2 \
             AND expires_at > $3 AND consumed",
            &args,
        )
        .await?;
        Ok(match lost.first() {
            Some(row) => ConsumeOutcome::AlreadyConsumed {
                grant_id: GrantId::from_stored(get(row, 0)?),
                family_id: FamilyId::from_stored(get(row, 1)?),
            },
            None => ConsumeOutcome::Missing,
        })
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        purge::expired(self, "codes", "expires_at", now.secs_i64()).await
    }
}
