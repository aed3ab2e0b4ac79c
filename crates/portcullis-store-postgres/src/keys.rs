//! [`KeyStore`]: one row per (issuer, kid). The record is JSONB; its private key is the
//! envelope the engine sealed (see the crate docs).

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use portcullis_core::{Issuer, KeyRecord, PrivateKeyEnvelope, UnixTime};
use portcullis_store::{KeyStore, StoreResult};

use crate::codec::{decode, json};
use crate::lease::Watch;
use crate::{purge, PostgresStore};

#[async_trait]
impl KeyStore for PostgresStore {
    /// A `kid` already stored for the issuer is an error (a unique violation): a key is
    /// never overwritten.
    async fn insert_key(&self, key: &KeyRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO signing_keys (issuer, kid, expires_at, record) VALUES ($1, $2, $3, $4)",
            &[
                &key.issuer.as_str(),
                &key.kid,
                &key.expires_at.map(UnixTime::secs_i64),
                &json(key),
            ],
        )
        .await?;
        Ok(())
    }

    async fn keys(&self, issuer: &Issuer) -> StoreResult<Vec<KeyRecord>> {
        let rows = self
            .query(
                "SELECT record FROM signing_keys WHERE issuer = $1",
                &[&issuer.as_str()],
            )
            .await?;
        rows.iter().map(|r| decode(r, 0)).collect()
    }

    /// Locks the key's row (`SELECT … FOR UPDATE`) in a transaction, so that concurrent
    /// rotations (from several nodes) each see the other's retirement and the earliest
    /// one wins (`KeyStore::retire_key`: a key never comes back).
    async fn retire_key(
        &self,
        issuer: &Issuer,
        kid: &str,
        retires_at: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<bool> {
        self.modify_key(issuer, kid, |key| {
            key.retire(retires_at, expires_at);
            true
        })
        .await
    }

    /// Under the same row lock as `retire_key`: of nodes re-sealing one key at once, the
    /// first wins and the others find a private key that is no longer `old`.
    async fn reseal_key(
        &self,
        issuer: &Issuer,
        kid: &str,
        old: &PrivateKeyEnvelope,
        new: &PrivateKeyEnvelope,
    ) -> StoreResult<bool> {
        self.modify_key(issuer, kid, |key| key.reseal(old, new))
            .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        purge::expired(self, "signing_keys", "expires_at", now.secs_i64()).await
    }
}

impl PostgresStore {
    /// Applies `change` to the key's record in a transaction that holds its row locked;
    /// whether the key exists and `change` changed it.
    async fn modify_key(
        &self,
        issuer: &Issuer,
        kid: &str,
        change: impl FnOnce(&mut KeyRecord) -> bool + Send,
    ) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let watch = conn.watch();
        let tx = watch.run(conn.transaction()).await?;
        match modify(&tx, &watch, issuer.as_str(), kid, change).await {
            Ok(changed) => watch.run(tx.commit()).await.map(|()| changed),
            Err(e) => {
                // Frees the row lock now; the first error is the one worth reporting.
                let _ = watch.run(tx.rollback()).await;
                Err(e)
            }
        }
    }
}

/// Applies `change` to the key inside `tx`, which holds its row locked until the caller
/// commits; whether the key exists and `change` changed it.
async fn modify(
    tx: &Transaction<'_>,
    watch: &Watch,
    issuer: &str,
    kid: &str,
    change: impl FnOnce(&mut KeyRecord) -> bool + Send,
) -> StoreResult<bool> {
    let select = watch
        .run(tx.prepare_cached(
            "SELECT record FROM signing_keys WHERE issuer = $1 AND kid = $2 FOR UPDATE",
        ))
        .await?;
    let rows = watch.run(tx.query(&select, &[&issuer, &kid])).await?;
    let Some(row) = rows.first() else {
        return Ok(false);
    };
    let mut key: KeyRecord = decode(row, 0)?;
    if !change(&mut key) {
        return Ok(false);
    }
    let update = watch
        .run(tx.prepare_cached(
            "UPDATE signing_keys SET expires_at = $3, record = $4 WHERE issuer = $1 AND kid = $2",
        ))
        .await?;
    watch
        .run(tx.execute(
            &update,
            &[
                &issuer,
                &kid,
                &key.expires_at.map(UnixTime::secs_i64),
                &json(&key),
            ],
        ))
        .await?;
    Ok(true)
}
