//! [`DeviceAuthorizationStore`]: one row per device code hash, found by its user code hash,
//! changed under its row lock (`SELECT … FOR UPDATE`) and deleted when taken.

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use portcullis_core::{CodeRecord, DeviceAuthorizationRecord, Issuer, TokenHash, UnixTime};
use portcullis_store::{DeviceAuthorizationStore, DeviceInsertOutcome, StoreResult};
use tokio_postgres::types::ToSql;

use crate::codec::{decode, json, key};
use crate::lease::Watch;
use crate::{purge, PostgresStore};

/// What a change does to the row it read.
enum Write {
    Update(Box<DeviceAuthorizationRecord>),
    Delete,
}

type Change<T> = Box<dyn FnOnce(DeviceAuthorizationRecord) -> (Option<Write>, T) + Send>;

impl PostgresStore {
    /// Reads the row of `issuer` whose `column` (`hash` or `user_code_hash`, constants of
    /// this module) is `value` and applies `change` in a transaction that holds the row
    /// locked: concurrent changes, on any connection of any node, each see the one before.
    /// `None` if no such row.
    async fn modify_device<T: Send>(
        &self,
        column: &'static str,
        value: &[u8],
        issuer: &Issuer,
        change: Change<T>,
    ) -> StoreResult<Option<T>> {
        let mut conn = self.conn().await?;
        let watch = conn.watch();
        let tx = watch.run(conn.transaction()).await?;
        match modify(&tx, &watch, column, value, issuer.as_str(), change).await {
            Ok(out) => watch.run(tx.commit()).await.map(|()| out),
            Err(e) => {
                // Frees the row lock now; the first error is the one worth reporting.
                let _ = watch.run(tx.rollback()).await;
                Err(e)
            }
        }
    }
}

async fn modify<T>(
    tx: &Transaction<'_>,
    watch: &Watch,
    column: &'static str,
    value: &[u8],
    issuer: &str,
    change: Change<T>,
) -> StoreResult<Option<T>> {
    let select = format!(
        "SELECT record FROM device_authorizations WHERE {column} = $1 AND issuer = $2 FOR UPDATE"
    );
    let select = watch.run(tx.prepare_cached(&select)).await?;
    let rows = watch.run(tx.query(&select, &[&value, &issuer])).await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let (write, out) = change(decode(row, 0)?);
    match write {
        Some(Write::Update(record)) => {
            let update =
                watch
                    .run(tx.prepare_cached(
                        "UPDATE device_authorizations SET record = $2 WHERE hash = $1",
                    ))
                    .await?;
            let args: [&(dyn ToSql + Sync); 2] = [&key(&record.hash), &json(&record)];
            watch.run(tx.execute(&update, &args)).await?
        }
        Some(Write::Delete) => {
            let delete = format!("DELETE FROM device_authorizations WHERE {column} = $1");
            let delete = watch.run(tx.prepare_cached(&delete)).await?;
            watch.run(tx.execute(&delete, &[&value])).await?
        }
        None => 0,
    };
    Ok(Some(out))
}

#[async_trait]
impl DeviceAuthorizationStore for PostgresStore {
    async fn insert_device_authorization(
        &self,
        record: &DeviceAuthorizationRecord,
    ) -> StoreResult<DeviceInsertOutcome> {
        let inserted = self.execute(
            "INSERT INTO device_authorizations (hash, user_code_hash, issuer, expires_at, record) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_code_hash) DO NOTHING",
            &[
                &key(&record.hash),
                &key(&record.user_code_hash),
                &record.issuer.as_str(),
                &record.expires_at.secs_i64(),
                &json(record),
            ],
        )
        .await?;
        Ok(match inserted {
            0 => DeviceInsertOutcome::UserCodeTaken,
            _ => DeviceInsertOutcome::Inserted,
        })
    }

    async fn find_device_authorization_by_user_code(
        &self,
        issuer: &Issuer,
        user_code_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        let rows = self
            .query(
                "SELECT record FROM device_authorizations \
                 WHERE user_code_hash = $1 AND issuer = $2",
                &[&key(user_code_hash), &issuer.as_str()],
            )
            .await?;
        let record: Option<DeviceAuthorizationRecord> =
            rows.first().map(|r| decode(r, 0)).transpose()?;
        Ok(record.filter(|d| d.awaits_user(now)))
    }

    async fn answer_device_authorization(
        &self,
        issuer: &Issuer,
        user_code_hash: &TokenHash,
        approval: Option<&CodeRecord>,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let approval = approval.cloned();
        let change: Change<bool> = Box::new(move |d| match d.answered(approval.as_ref(), now) {
            Some(answered) => (Some(Write::Update(Box::new(answered))), true),
            None => (None, false),
        });
        let answered = self
            .modify_device("user_code_hash", key(user_code_hash), issuer, change)
            .await?;
        Ok(answered == Some(true))
    }

    async fn poll_device_authorization(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        let change: Change<DeviceAuthorizationRecord> = Box::new(move |d| {
            let write = (now < d.expires_at).then(|| Write::Update(Box::new(d.polled(now))));
            (write, d)
        });
        self.modify_device("hash", key(hash), issuer, change).await
    }

    async fn take_device_authorization(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        let change: Change<Option<DeviceAuthorizationRecord>> = Box::new(move |d| {
            if d.may_be_taken(now) {
                (Some(Write::Delete), Some(d))
            } else {
                (None, None)
            }
        });
        let taken = self
            .modify_device("hash", key(hash), issuer, change)
            .await?;
        Ok(taken.flatten())
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        purge::expired(self, "device_authorizations", "expires_at", now.secs_i64()).await
    }
}
