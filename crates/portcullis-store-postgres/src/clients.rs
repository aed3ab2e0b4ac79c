//! [`ClientStore`]: one row per (issuer, client_id), the client as JSONB.

use std::sync::Arc;

use async_trait::async_trait;
use portcullis_core::{Client, Issuer, UnixTime};
use portcullis_store::{ClientStore, StoreResult};

use crate::codec::{decode, json};
use crate::{purge, PostgresStore};

#[async_trait]
impl ClientStore for PostgresStore {
    /// A client whose registration expired at or before `now` is not found.
    async fn find_client(
        &self,
        issuer: &Issuer,
        client_id: &str,
        now: UnixTime,
    ) -> StoreResult<Option<Arc<Client>>> {
        let rows = self
            .query(
                "SELECT record FROM clients WHERE issuer = $1 AND client_id = $2 \
                 AND (expires_at IS NULL OR expires_at > $3)",
                &[&issuer.as_str(), &client_id, &now.secs_i64()],
            )
            .await?;
        rows.first().map(|r| decode(r, 0).map(Arc::new)).transpose()
    }

    async fn save_client(&self, issuer: &Issuer, client: &Client) -> StoreResult<()> {
        self.execute(
            "INSERT INTO clients (issuer, client_id, expires_at, record) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (issuer, client_id) \
             DO UPDATE SET expires_at = EXCLUDED.expires_at, record = EXCLUDED.record",
            &[
                &issuer.as_str(),
                &client.id,
                &client.expires_at.map(UnixTime::secs_i64),
                &json(client),
            ],
        )
        .await?;
        Ok(())
    }

    async fn delete_client(&self, issuer: &Issuer, client_id: &str) -> StoreResult<bool> {
        let n = self
            .execute(
                "DELETE FROM clients WHERE issuer = $1 AND client_id = $2",
                &[&issuer.as_str(), &client_id],
            )
            .await?;
        Ok(n > 0)
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        purge::expired(self, "clients", "expires_at", now.secs_i64()).await
    }
}
