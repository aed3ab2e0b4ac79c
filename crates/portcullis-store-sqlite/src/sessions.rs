//! [`SessionStore`]: one row per session-id hash, the record as JSON.

use async_trait::async_trait;
use portcullis_core::{Issuer, SessionRecord, TokenHash, UnixTime};
use portcullis_store::{SessionStore, StoreResult};
use rusqlite::{params, OptionalExtension};

use crate::codec::{db, decode, encode, key};
use crate::{purge, SqliteStore};

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(&self, record: &SessionRecord) -> StoreResult<()> {
        let row = (
            key(&record.hash),
            record.issuer.to_string(),
            record.subject.clone(),
            record.expires_at.secs_i64(),
            encode(record)?,
        );
        self.run(move |conn| {
            conn.prepare_cached(
                "INSERT INTO sessions (hash, issuer, subject, expires_at, record) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| s.execute(params![row.0, row.1, row.2, row.3, row.4]))
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn find_session(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<SessionRecord>> {
        let (issuer, hash, now) = (issuer.to_string(), key(hash), now.secs_i64());
        self.run(move |conn| {
            let json: Option<String> = conn
                .prepare_cached(
                    "SELECT record FROM sessions WHERE hash = ?1 AND issuer = ?2 \
                     AND expires_at > ?3",
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

    async fn delete_session(&self, issuer: &Issuer, hash: &TokenHash) -> StoreResult<bool> {
        let (issuer, hash) = (issuer.to_string(), key(hash));
        self.run(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM sessions WHERE hash = ?1 AND issuer = ?2")
                .and_then(|mut s| s.execute(params![hash, issuer]))
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }

    async fn delete_sessions_of_subject(&self, issuer: &Issuer, subject: &str) -> StoreResult<u64> {
        let (issuer, subject) = (issuer.to_string(), subject.to_owned());
        self.run(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM sessions WHERE issuer = ?1 AND subject = ?2")
                .and_then(|mut s| s.execute(params![issuer, subject]))
                .map_err(db)?;
            Ok(n as u64)
        })
        .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        self.run(move |conn| purge::expired(conn, "sessions", "hash", "expires_at", now.secs_i64()))
            .await
    }
}
