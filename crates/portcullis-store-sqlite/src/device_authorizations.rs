//! [`DeviceAuthorizationStore`]: one row per device code hash, found by its user code hash,
//! changed in IMMEDIATE transactions and deleted when taken.

use async_trait::async_trait;
use portcullis_core::{CodeRecord, DeviceAuthorizationRecord, Issuer, TokenHash, UnixTime};
use portcullis_store::{DeviceAuthorizationStore, DeviceInsertOutcome, StoreResult};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::codec::{db, decode, encode, key};
use crate::{purge, SqliteStore};

/// What a change does to the row it read.
enum Write {
    Update(Box<DeviceAuthorizationRecord>),
    Delete,
}

/// Reads the row of `issuer` whose `column` (`hash` or `user_code_hash`, constants of this
/// module) is `value`, and applies `change` inside one IMMEDIATE transaction, which holds
/// the write lock from the read: concurrent changes, from any connection or process, each
/// see the one before. `None` if no such row.
fn modify<T>(
    conn: &mut Connection,
    column: &'static str,
    value: &[u8],
    issuer: &str,
    change: impl FnOnce(DeviceAuthorizationRecord) -> (Option<Write>, T),
) -> StoreResult<Option<T>> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let json: Option<String> = tx
        .prepare_cached(&format!(
            "SELECT record FROM device_authorizations WHERE {column} = ?1 AND issuer = ?2"
        ))
        .and_then(|mut s| s.query_row(params![value, issuer], |r| r.get(0)).optional())
        .map_err(db)?;
    let Some(json) = json else {
        return Ok(None);
    };
    let (write, out) = change(decode(&json)?);
    match write {
        Some(Write::Update(record)) => {
            let json = encode(&record)?;
            tx.prepare_cached("UPDATE device_authorizations SET record = ?2 WHERE hash = ?1")
                .and_then(|mut s| s.execute(params![key(&record.hash), json]))
                .map_err(db)?
        }
        Some(Write::Delete) => tx
            .prepare_cached(&format!(
                "DELETE FROM device_authorizations WHERE {column} = ?1"
            ))
            .and_then(|mut s| s.execute(params![value]))
            .map_err(db)?,
        None => 0,
    };
    tx.commit().map_err(db)?;
    Ok(Some(out))
}

#[async_trait]
impl DeviceAuthorizationStore for SqliteStore {
    async fn insert_device_authorization(
        &self,
        record: &DeviceAuthorizationRecord,
    ) -> StoreResult<DeviceInsertOutcome> {
        let row = (
            key(&record.hash),
            key(&record.user_code_hash),
            record.issuer.to_string(),
            record.expires_at.secs_i64(),
            encode(record)?,
        );
        self.run(move |conn| {
            conn.prepare_cached(
                "INSERT INTO device_authorizations \
                 (hash, user_code_hash, issuer, expires_at, record) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (user_code_hash) DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![row.0, row.1, row.2, row.3, row.4]))
            .map_err(db)
            .map(|inserted| match inserted {
                0 => DeviceInsertOutcome::UserCodeTaken,
                _ => DeviceInsertOutcome::Inserted,
            })
        })
        .await
    }

    async fn find_device_authorization_by_user_code(
        &self,
        issuer: &Issuer,
        user_code_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        let (issuer, hash) = (issuer.to_string(), key(user_code_hash));
        let json: Option<String> = self
            .run(move |conn| {
                conn.prepare_cached(
                    "SELECT record FROM device_authorizations \
                     WHERE user_code_hash = ?1 AND issuer = ?2",
                )
                .and_then(|mut s| s.query_row(params![hash, issuer], |r| r.get(0)).optional())
                .map_err(db)
            })
            .await?;
        let record: Option<DeviceAuthorizationRecord> = json.as_deref().map(decode).transpose()?;
        Ok(record.filter(|d| d.awaits_user(now)))
    }

    async fn answer_device_authorization(
        &self,
        issuer: &Issuer,
        user_code_hash: &TokenHash,
        approval: Option<&CodeRecord>,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let (issuer, hash, approval) = (issuer.to_string(), key(user_code_hash), approval.cloned());
        self.run(move |conn| {
            modify(conn, "user_code_hash", &hash, &issuer, |d| {
                match d.answered(approval.as_ref(), now) {
                    Some(answered) => (Some(Write::Update(Box::new(answered))), true),
                    None => (None, false),
                }
            })
            .map(|answered| answered == Some(true))
        })
        .await
    }

    async fn poll_device_authorization(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        let (issuer, hash) = (issuer.to_string(), key(hash));
        self.run(move |conn| {
            modify(conn, "hash", &hash, &issuer, |d| {
                let write = (now < d.expires_at).then(|| Write::Update(Box::new(d.polled(now))));
                (write, d)
            })
        })
        .await
    }

    async fn take_device_authorization(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        let (issuer, hash) = (issuer.to_string(), key(hash));
        self.run(move |conn| {
            modify(conn, "hash", &hash, &issuer, |d| {
                if d.may_be_taken(now) {
                    (Some(Write::Delete), Some(d))
                } else {
                    (None, None)
                }
            })
            .map(Option::flatten)
        })
        .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        self.run(move |conn| {
            purge::expired(
                conn,
                "device_authorizations",
                "hash",
                "expires_at",
                now.secs_i64(),
            )
        })
        .await
    }
}
