//! [`ClientStore`]: one row per (issuer, client_id), the client as JSONB.

use std::sync::Arc;

use async_trait::async_trait;
use portcullis_core::{Client, Issuer, UnixTime};
use portcullis_store::{ClientStore, StoreResult};
use tokio_postgres::types::ToSql;

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

    async fn list_clients(&self, issuer: &Issuer, now: UnixTime) -> StoreResult<Vec<Arc<Client>>> {
        let rows = self
            .query(
                "SELECT record FROM clients WHERE issuer = $1 \
                 AND (expires_at IS NULL OR expires_at > $2) ORDER BY client_id",
                &[&issuer.as_str(), &now.secs_i64()],
            )
            .await?;
        rows.iter().map(|r| decode(r, 0).map(Arc::new)).collect()
    }

    /// Without `current`, one `INSERT … ON CONFLICT DO NOTHING`; with it, the row locked
    /// (`SELECT … FOR UPDATE`) in a transaction, compared, then updated: concurrent swaps
    /// (from several nodes) queue on the row lock, and each sees the previous one's result.
    async fn replace_client(
        &self,
        issuer: &Issuer,
        current: Option<&Client>,
        replacement: &Client,
    ) -> StoreResult<bool> {
        let expires_at = replacement.expires_at.map(UnixTime::secs_i64);
        let row: [&(dyn ToSql + Sync); 4] = [
            &issuer.as_str(),
            &replacement.id,
            &expires_at,
            &json(replacement),
        ];
        let Some(current) = current else {
            let inserted = self
                .execute(
                    "INSERT INTO clients (issuer, client_id, expires_at, record) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (issuer, client_id) DO NOTHING",
                    &row,
                )
                .await?;
            return Ok(inserted == 1);
        };
        let mut conn = self.conn().await?;
        let watch = conn.watch();
        let tx = watch.run(conn.transaction()).await?;
        let select = watch
            .run(tx.prepare_cached(
                "SELECT record FROM clients WHERE issuer = $1 AND client_id = $2 FOR UPDATE",
            ))
            .await?;
        let rows = watch.run(tx.query(&select, &row[..2])).await?;
        let stored: Option<Client> = rows.first().map(|r| decode(r, 0)).transpose()?;
        if stored.as_ref() != Some(current) {
            // Frees the row lock now, not when the connection is next used.
            watch.run(tx.rollback()).await?;
            return Ok(false);
        }
        let update = watch
            .run(tx.prepare_cached(
                "UPDATE clients SET expires_at = $3, record = $4 \
                 WHERE issuer = $1 AND client_id = $2",
            ))
            .await?;
        watch.run(tx.execute(&update, &row)).await?;
        watch.run(tx.commit()).await?;
        Ok(true)
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        purge::expired(self, "clients", "expires_at", now.secs_i64()).await
    }
}
