//! [`KeyStore`]: one row per (issuer, kid). The record is JSON; its private key is the
//! envelope the engine sealed (see the crate docs).

use async_trait::async_trait;
use portcullis_core::{Issuer, KeyRecord, PrivateKeyEnvelope, UnixTime};
use portcullis_store::{KeyStore, StoreResult};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::codec::{db, decode, encode};
use crate::{purge, SqliteStore};

/// Applies `change` to the key's record inside one IMMEDIATE transaction, so that
/// concurrent writers (from several processes) each see the other's change: of concurrent
/// retirements the earliest wins, of concurrent re-seals the first. Whether the key exists
/// and `change` changed it.
fn modify(
    conn: &mut Connection,
    issuer: &str,
    kid: &str,
    change: impl FnOnce(&mut KeyRecord) -> bool,
) -> StoreResult<bool> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let json: Option<String> = tx
        .prepare_cached("SELECT record FROM signing_keys WHERE issuer = ?1 AND kid = ?2")
        .and_then(|mut s| s.query_row(params![issuer, kid], |r| r.get(0)).optional())
        .map_err(db)?;
    let Some(json) = json else {
        return Ok(false);
    };
    let mut key: KeyRecord = decode(&json)?;
    if !change(&mut key) {
        return Ok(false);
    }
    let (expires, json) = (key.expires_at.map(UnixTime::secs_i64), encode(&key)?);
    tx.prepare_cached(
        "UPDATE signing_keys SET expires_at = ?3, record = ?4 WHERE issuer = ?1 AND kid = ?2",
    )
    .and_then(|mut s| s.execute(params![issuer, kid, expires, json]))
    .map_err(db)?;
    tx.commit().map_err(db)?;
    Ok(true)
}

#[async_trait]
impl KeyStore for SqliteStore {
    /// A `kid` already stored for the issuer is an error: a key is never overwritten.
    async fn insert_key(&self, key: &KeyRecord) -> StoreResult<()> {
        let row = (
            key.issuer.to_string(),
            key.kid.clone(),
            key.expires_at.map(UnixTime::secs_i64),
            encode(key)?,
        );
        self.run(move |conn| {
            conn.prepare_cached(
                "INSERT INTO signing_keys (issuer, kid, expires_at, record) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| s.execute(params![row.0, row.1, row.2, row.3]))
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn keys(&self, issuer: &Issuer) -> StoreResult<Vec<KeyRecord>> {
        let issuer = issuer.to_string();
        self.run(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT record FROM signing_keys WHERE issuer = ?1")
                .map_err(db)?;
            let rows = stmt
                .query_map(params![issuer], |r| r.get::<_, String>(0))
                .map_err(db)?;
            rows.map(|json| decode(&json.map_err(db)?)).collect()
        })
        .await
    }

    async fn retire_key(
        &self,
        issuer: &Issuer,
        kid: &str,
        retires_at: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<bool> {
        let (issuer, kid) = (issuer.to_string(), kid.to_owned());
        self.run(move |conn| {
            modify(conn, &issuer, &kid, |key| {
                key.retire(retires_at, expires_at);
                true
            })
        })
        .await
    }

    async fn reseal_key(
        &self,
        issuer: &Issuer,
        kid: &str,
        old: &PrivateKeyEnvelope,
        new: &PrivateKeyEnvelope,
    ) -> StoreResult<bool> {
        let (issuer, kid) = (issuer.to_string(), kid.to_owned());
        let (old, new) = (old.clone(), new.clone());
        self.run(move |conn| modify(conn, &issuer, &kid, |key| key.reseal(&old, &new)))
            .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        self.run(move |conn| {
            purge::expired(
                conn,
                "signing_keys",
                "issuer, kid",
                "expires_at",
                now.secs_i64(),
            )
        })
        .await
    }
}
