//! [`CodeStore`]: one row per code hash, with a `consumed` flag that only ever goes 0 → 1.

use async_trait::async_trait;
use portcullis_core::{CodeRecord, FamilyId, GrantId, Issuer, TokenHash, UnixTime};
use portcullis_store::{CodeStore, ConsumeOutcome, StoreResult};
use rusqlite::{params, OptionalExtension};

use crate::codec::{db, decode, encode, key};
use crate::{purge, SqliteStore};

#[async_trait]
impl CodeStore for SqliteStore {
    async fn insert_code(&self, record: &CodeRecord) -> StoreResult<()> {
        let row = (
            key(&record.hash),
            record.issuer.to_string(),
            record.grant_id.to_string(),
            record.family_id.to_string(),
            record.expires_at.secs_i64(),
            encode(record)?,
        );
        self.run(move |conn| {
            conn.prepare_cached(
                "INSERT INTO codes (hash, issuer, grant_id, family_id, expires_at, record) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| s.execute(params![row.0, row.1, row.2, row.3, row.4, row.5]))
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    /// One conditional `UPDATE … RETURNING`: of all concurrent callers, on any connection
    /// or process, only the one whose statement flips `consumed` gets the record. A caller
    /// that flipped nothing reads the row again: `consumed` never goes back to 0, so a live
    /// row it finds was consumed by someone else.
    async fn consume_code(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<ConsumeOutcome> {
        let (issuer, hash, now) = (issuer.to_string(), key(hash), now.secs_i64());
        self.run(move |conn| {
            let won: Option<String> = conn
                .prepare_cached(
                    "UPDATE codes SET consumed = 1 WHERE hash = ?1 AND issuer = ?2 \
                     AND expires_at > ?3 AND consumed = 0 RETURNING record",
                )
                .and_then(|mut s| {
                    s.query_row(params![hash, issuer, now], |r| r.get(0))
                        .optional()
                })
                .map_err(db)?;
            if let Some(json) = won {
                return Ok(ConsumeOutcome::Consumed(Box::new(decode(&json)?)));
            }
            let lost: Option<(String, String)> = conn
                .prepare_cached(
                    "SELECT grant_id, family_id FROM codes WHERE hash = ?1 AND issuer = ?2 \
                     AND expires_at > ?3 AND consumed = 1",
                )
                .and_then(|mut s| {
                    s.query_row(params![hash, issuer, now], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                })
                .map_err(db)?;
            Ok(match lost {
                Some((grant, family)) => ConsumeOutcome::AlreadyConsumed {
                    grant_id: GrantId::from_stored(grant),
                    family_id: FamilyId::from_stored(family),
                },
                None => ConsumeOutcome::Missing,
            })
        })
        .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        self.run(move |conn| purge::expired(conn, "codes", "hash", "expires_at", now.secs_i64()))
            .await
    }
}
