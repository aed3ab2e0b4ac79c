//! [`GrantStore`]: grants, whose `revoked` column is sticky and authoritative over the JSON
//! copy, and family revocation markers.

use async_trait::async_trait;
use portcullis_core::{FamilyId, Grant, GrantId, Issuer, UnixTime};
use portcullis_store::{GrantStore, StoreResult};
use tokio_postgres::Row;

use crate::codec::{decode, get, json};
use crate::{purge, PostgresStore};

/// Grants as selected by `SELECT record, revoked …`: the `revoked` column is authoritative.
fn grants(rows: &[Row]) -> StoreResult<Vec<Grant>> {
    rows.iter()
        .map(|row| {
            let mut grant: Grant = decode(row, 0)?;
            grant.revoked = get(row, 1)?;
            Ok(grant)
        })
        .collect()
}

/// Two CTEs for [`GrantStore::touch_grant`], its placeholders given (the grant's issuer and
/// id, `now` and the expiry to extend to): `live`, one row when the grant exists and is not
/// revoked in the statement's snapshot; `touched`, the `UPDATE` recording the use — only
/// when it changes something (`last_used_at` differs, or `expires_at` is extended). Every
/// token issued in the same second under one grant would otherwise rewrite its row and
/// queue on its row lock (a refresh or login load on one user's grant waited there, and
/// left a dead row version each time). Without that lock a revocation may commit between
/// the snapshot and the statement's end: the tokens then stored are dead on arrival, as
/// revocation composes at read time (`tokens.rs`) — as if they were issued just before it.
macro_rules! live_and_touched {
    ($issuer:literal, $id:literal, $now:literal, $until:literal) => {
        concat!(
            "live AS (SELECT 1 FROM grants WHERE issuer = ",
            $issuer,
            " AND id = ",
            $id,
            " AND NOT revoked), ",
            "touched AS (UPDATE grants SET expires_at = GREATEST(expires_at, ",
            $until,
            "), ",
            "record = jsonb_set(jsonb_set(record, '{last_used_at}', to_jsonb(",
            $now,
            "::BIGINT)), '{expires_at}', to_jsonb(GREATEST(expires_at, ",
            $until,
            "))) ",
            "WHERE issuer = ",
            $issuer,
            " AND id = ",
            $id,
            " AND NOT revoked AND (expires_at < ",
            $until,
            " OR (record->>'last_used_at')::BIGINT IS DISTINCT FROM ",
            $now,
            "::BIGINT))"
        )
    };
}
pub(crate) use live_and_touched;

#[async_trait]
impl GrantStore for PostgresStore {
    /// An upsert that ORs `revoked` with the stored flag: saving a copy read before a
    /// concurrent `revoke_grant` never brings the grant back (`GrantStore::save_grant`).
    async fn save_grant(&self, grant: &Grant) -> StoreResult<()> {
        self.execute(
            "INSERT INTO grants (issuer, id, subject, client_id, expires_at, revoked, record) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (issuer, id) DO UPDATE SET \
             subject = EXCLUDED.subject, client_id = EXCLUDED.client_id, \
             expires_at = EXCLUDED.expires_at, revoked = grants.revoked OR EXCLUDED.revoked, \
             record = CASE WHEN grants.revoked \
                 THEN jsonb_set(EXCLUDED.record, '{revoked}', 'true') \
                 ELSE EXCLUDED.record END",
            &[
                &grant.issuer.as_str(),
                &grant.id.as_str(),
                &grant.subject,
                &grant.client_id,
                &grant.expires_at.secs_i64(),
                &grant.revoked,
                &json(grant),
            ],
        )
        .await?;
        Ok(())
    }

    async fn find_grant(&self, issuer: &Issuer, id: &GrantId) -> StoreResult<Option<Grant>> {
        let rows = self
            .query(
                "SELECT record, revoked FROM grants WHERE issuer = $1 AND id = $2",
                &[&issuer.as_str(), &id.as_str()],
            )
            .await?;
        Ok(grants(&rows)?.pop())
    }

    /// One `UPDATE` of the row's columns and its JSONB copy, only while `NOT revoked`; the
    /// row lock serialises racing touches, and `GREATEST` keeps the latest expiry.
    async fn touch_grant(
        &self,
        issuer: &Issuer,
        id: &GrantId,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<bool> {
        let rows = self
            .query(
                concat!(
                    "WITH ",
                    live_and_touched!("$1", "$2", "$3", "$4"),
                    " SELECT count(*) FROM live"
                ),
                &[
                    &issuer.as_str(),
                    &id.as_str(),
                    &now.secs_i64(),
                    &expires_at.secs_i64(),
                ],
            )
            .await?;
        let live: i64 = match rows.first() {
            Some(row) => get(row, 0)?,
            None => 0,
        };
        Ok(live > 0)
    }

    async fn grants_for(
        &self,
        issuer: &Issuer,
        subject: &str,
        client_id: &str,
    ) -> StoreResult<Vec<Grant>> {
        let rows = self
            .query(
                "SELECT record, revoked FROM grants \
                 WHERE issuer = $1 AND subject = $2 AND client_id = $3",
                &[&issuer.as_str(), &subject, &client_id],
            )
            .await?;
        grants(&rows)
    }

    async fn grants_of_subject(&self, issuer: &Issuer, subject: &str) -> StoreResult<Vec<Grant>> {
        let rows = self
            .query(
                "SELECT record, revoked FROM grants WHERE issuer = $1 AND subject = $2",
                &[&issuer.as_str(), &subject],
            )
            .await?;
        grants(&rows)
    }

    /// Sets the sticky `revoked` flag; every token under the grant is dead from the
    /// statement's commit on, because the token lookups check the flag.
    async fn revoke_grant(&self, issuer: &Issuer, id: &GrantId) -> StoreResult<bool> {
        let n = self
            .execute(
                "UPDATE grants SET revoked = true, \
                 record = jsonb_set(record, '{revoked}', 'true') \
                 WHERE issuer = $1 AND id = $2",
                &[&issuer.as_str(), &id.as_str()],
            )
            .await?;
        Ok(n > 0)
    }

    /// A scan of the issuer's grants: deleting a client is rare.
    async fn revoke_grants_of_client(&self, issuer: &Issuer, client_id: &str) -> StoreResult<u64> {
        self.execute(
            "UPDATE grants SET revoked = true, record = jsonb_set(record, '{revoked}', 'true') \
             WHERE issuer = $1 AND client_id = $2 AND NOT revoked",
            &[&issuer.as_str(), &client_id],
        )
        .await
    }

    /// Upserts a marker for (issuer, family) kept until the later of the `until`s given.
    async fn revoke_family(
        &self,
        issuer: &Issuer,
        family_id: &FamilyId,
        until: UnixTime,
    ) -> StoreResult<()> {
        self.execute(
            "INSERT INTO revoked_families (issuer, family_id, until) VALUES ($1, $2, $3) \
             ON CONFLICT (issuer, family_id) \
             DO UPDATE SET until = GREATEST(revoked_families.until, EXCLUDED.until)",
            &[&issuer.as_str(), &family_id.as_str(), &until.secs_i64()],
        )
        .await?;
        Ok(())
    }

    /// Purges family markers, then grants, each in batches (a token under a purged grant is
    /// dead, like one under a revoked grant).
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        let now = now.secs_i64();
        Ok(
            purge::expired(self, "revoked_families", "until", now).await?
                + purge::expired(self, "grants", "expires_at", now).await?,
        )
    }
}
