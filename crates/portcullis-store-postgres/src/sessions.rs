//! [`SessionStore`]: one row per session-id hash, the record as JSONB.

use async_trait::async_trait;
use portcullis_core::{Issuer, SessionRecord, TokenHash, UnixTime};
use portcullis_store::{SessionStore, StoreResult};

use crate::codec::{decode, json, key};
use crate::{purge, PostgresStore};

#[async_trait]
impl SessionStore for PostgresStore {
    /// A hash already stored is a unique violation: a session is never overwritten.
    async fn insert_session(&self, record: &SessionRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO sessions (hash, issuer, subject, expires_at, record) \
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &key(&record.hash),
                &record.issuer.as_str(),
                &record.subject,
                &record.expires_at.secs_i64(),
                &json(record),
            ],
        )
        .await?;
        Ok(())
    }

    async fn find_session(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<SessionRecord>> {
        let rows = self
            .query(
                "SELECT record FROM sessions WHERE hash = $1 AND issuer = $2 \
                 AND expires_at > $3",
                &[&key(hash), &issuer.as_str(), &now.secs_i64()],
            )
            .await?;
        rows.first().map(|r| decode(r, 0)).transpose()
    }

    async fn delete_session(&self, issuer: &Issuer, hash: &TokenHash) -> StoreResult<bool> {
        let n = self
            .execute(
                "DELETE FROM sessions WHERE hash = $1 AND issuer = $2",
                &[&key(hash), &issuer.as_str()],
            )
            .await?;
        Ok(n > 0)
    }

    async fn delete_sessions_of_subject(&self, issuer: &Issuer, subject: &str) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM sessions WHERE issuer = $1 AND subject = $2",
            &[&issuer.as_str(), &subject],
        )
        .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        purge::expired(self, "sessions", "expires_at", now.secs_i64()).await
    }
}
