//! [`ClientStore`]: one row per (issuer, client_id), the client as JSON.

use std::sync::Arc;

use async_trait::async_trait;
use portcullis_core::{Client, Issuer, UnixTime};
use portcullis_store::{ClientStore, StoreResult};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use crate::codec::{db, decode, encode};
use crate::{purge, SqliteStore};

#[async_trait]
impl ClientStore for SqliteStore {
    async fn find_client(
        &self,
        issuer: &Issuer,
        client_id: &str,
        now: UnixTime,
    ) -> StoreResult<Option<Arc<Client>>> {
        let (issuer, client_id) = (issuer.to_string(), client_id.to_owned());
        self.run(move |conn| {
            let json: Option<String> = conn
                .prepare_cached(
                    "SELECT record FROM clients WHERE issuer = ?1 AND client_id = ?2 \
                     AND (expires_at IS NULL OR expires_at > ?3)",
                )
                .and_then(|mut s| {
                    s.query_row(params![issuer, client_id, now.secs_i64()], |r| r.get(0))
                        .optional()
                })
                .map_err(db)?;
            json.as_deref().map(|j| decode(j).map(Arc::new)).transpose()
        })
        .await
    }

    async fn save_client(&self, issuer: &Issuer, client: &Client) -> StoreResult<()> {
        let (issuer, id) = (issuer.to_string(), client.id.clone());
        let (expires_at, json) = (client.expires_at.map(UnixTime::secs_i64), encode(client)?);
        self.run(move |conn| {
            conn.prepare_cached(
                "INSERT INTO clients (issuer, client_id, expires_at, record) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (issuer, client_id) \
                 DO UPDATE SET expires_at = excluded.expires_at, record = excluded.record",
            )
            .and_then(|mut s| s.execute(params![issuer, id, expires_at, json]))
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn delete_client(&self, issuer: &Issuer, client_id: &str) -> StoreResult<bool> {
        let (issuer, client_id) = (issuer.to_string(), client_id.to_owned());
        self.run(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM clients WHERE issuer = ?1 AND client_id = ?2")
                .and_then(|mut s| s.execute(params![issuer, client_id]))
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }

    async fn list_clients(&self, issuer: &Issuer, now: UnixTime) -> StoreResult<Vec<Arc<Client>>> {
        let issuer = issuer.to_string();
        self.run(move |conn| {
            let mut select = conn
                .prepare_cached(
                    "SELECT record FROM clients WHERE issuer = ?1 \
                     AND (expires_at IS NULL OR expires_at > ?2) ORDER BY client_id",
                )
                .map_err(db)?;
            let rows = select
                .query_map(params![issuer, now.secs_i64()], |r| r.get::<_, String>(0))
                .map_err(db)?;
            rows.map(|json| decode(&json.map_err(db)?).map(Arc::new))
                .collect()
        })
        .await
    }

    /// Reads, compares and writes inside one IMMEDIATE transaction, which holds the write
    /// lock from its first read: concurrent swaps (from several processes) queue, and each
    /// sees the previous one's result.
    async fn replace_client(
        &self,
        issuer: &Issuer,
        current: Option<&Client>,
        replacement: &Client,
    ) -> StoreResult<bool> {
        let (issuer, current) = (issuer.to_string(), current.cloned());
        let (id, expires_at) = (replacement.id.clone(), replacement.expires_at);
        let json = encode(replacement)?;
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db)?;
            let stored: Option<String> = tx
                .prepare_cached("SELECT record FROM clients WHERE issuer = ?1 AND client_id = ?2")
                .and_then(|mut s| s.query_row(params![issuer, id], |r| r.get(0)).optional())
                .map_err(db)?;
            let stored: Option<Client> = stored.as_deref().map(decode).transpose()?;
            if stored != current {
                return Ok(false);
            }
            tx.prepare_cached(
                "INSERT INTO clients (issuer, client_id, expires_at, record) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (issuer, client_id) \
                 DO UPDATE SET expires_at = excluded.expires_at, record = excluded.record",
            )
            .and_then(|mut s| {
                s.execute(params![
                    issuer,
                    id,
                    expires_at.map(UnixTime::secs_i64),
                    json
                ])
            })
            .map_err(db)?;
            tx.commit().map_err(db)?;
            Ok(true)
        })
        .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        self.run(move |conn| {
            purge::expired(
                conn,
                "clients",
                "issuer, client_id",
                "expires_at",
                now.secs_i64(),
            )
        })
        .await
    }
}
