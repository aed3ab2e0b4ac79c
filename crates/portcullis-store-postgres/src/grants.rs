//! [`GrantStore`]: grants, whose `revoked` column is sticky and authoritative over the JSON
//! copy, and family revocation markers.

use async_trait::async_trait;
use portcullis_core::{FamilyId, Grant, GrantId, Issuer, UnixTime};
use portcullis_store::{GrantStore, StoreError, StoreResult};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::codec::{decode, get, json};
use crate::{purge, query_on, PostgresStore, StatementConn};

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

/// The CTEs of a grant's use ([`GrantStore::touch_grant`]), its placeholders given (the
/// grant's issuer and id, `now` and the expiry to extend to), ending in `live`: one row when
/// the grant stands, ordered against a concurrent `revoke_grant` by a row lock either way.
///
/// * `seen`: the grant is live in the statement's snapshot. A use changes the row when it is
///   later than `last_used_at` or the expiry grows (`@stale`); neither ever goes back, so
///   uses a second apart on either side of a boundary do not rewrite the row in turn.
/// * `held`: a use that changes nothing takes a share lock instead of rewriting the row —
///   every use within one second under one grant rewrote it and queued on its lock (a
///   refresh or login load on one user's grant waited there, leaving a dead row version
///   each time). Share locks do not wait for each other; a revocation waits for them.
/// * `touched`: the `UPDATE` of a use that changes the row; `GREATEST` keeps the latest expiry
///   of racing touches.
///
/// A row locked after a concurrent change is read again, and left out if no longer
/// matching: `live` is then empty although `seen` is not, and the statement is run again
/// ([`settled_use`]) — its next snapshot tells a racing touch (which made this one's change)
/// from a revocation.
macro_rules! live_and_touched {
    ($issuer:literal, $id:literal, $now:literal, $until:literal) => {
        concat!(
            "seen AS (SELECT 1 FROM grants WHERE issuer = ",
            $issuer,
            " AND id = ",
            $id,
            " AND NOT revoked), ",
            "held AS (SELECT 1 FROM grants WHERE issuer = ",
            $issuer,
            " AND id = ",
            $id,
            " AND NOT revoked AND NOT ",
            live_and_touched!(@stale $now, $until),
            " FOR SHARE), ",
            "touched AS (UPDATE grants SET expires_at = GREATEST(expires_at, ",
            $until,
            "), ",
            "record = jsonb_set(jsonb_set(record, '{last_used_at}', to_jsonb(GREATEST(",
            "(record->>'last_used_at')::BIGINT, ",
            $now,
            "::BIGINT))), '{expires_at}', to_jsonb(GREATEST(expires_at, ",
            $until,
            "))) ",
            "WHERE issuer = ",
            $issuer,
            " AND id = ",
            $id,
            " AND NOT revoked AND ",
            live_and_touched!(@stale $now, $until),
            " RETURNING 1), ",
            "live AS (SELECT 1 AS one WHERE EXISTS (SELECT 1 FROM held) ",
            "OR EXISTS (SELECT 1 FROM touched))"
        )
    };
    (@stale $now:literal, $until:literal) => {
        concat!(
            "(expires_at < ",
            $until,
            " OR COALESCE((record->>'last_used_at')::BIGINT < ",
            $now,
            "::BIGINT, true))"
        )
    };
}
pub(crate) use live_and_touched;

/// Runs `sql` — a grant's use (`live_and_touched!`) and what reads from `live` — on `conn`
/// until the use settles: whether the grant stood, and the statement's one row, whose
/// columns `live` and `seen` are the counts of those CTEs. When the grant was live in the
/// snapshot but changed before its row was locked, `live` is empty, nothing was written, and
/// the statement runs again: each such run follows a commit of another use or of a
/// revocation, and the next snapshot tells which.
pub(crate) async fn settled_use(
    conn: &StatementConn,
    sql: &str,
    args: &[&(dyn ToSql + Sync)],
    (live, seen): (usize, usize),
) -> StoreResult<(bool, Row)> {
    const ATTEMPTS: usize = 3;
    for _ in 0..ATTEMPTS {
        let rows = query_on(conn, sql, args).await?;
        let row = rows
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::new("a grant's use answered no row"))?;
        let (live, seen): (i64, i64) = (get(&row, live)?, get(&row, seen)?);
        if live > 0 || seen == 0 {
            return Ok((live > 0, row));
        }
    }
    Err(StoreError::new("the grant kept changing during its use"))
}

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

    /// One statement (`live_and_touched!`): the use recorded in the row's columns and its
    /// JSONB copy when it changes them, only while `NOT revoked`.
    async fn touch_grant(
        &self,
        issuer: &Issuer,
        id: &GrantId,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<bool> {
        let conn = StatementConn::Pooled(Box::new(self.conn().await?));
        let sql = concat!(
            "WITH ",
            live_and_touched!("$1", "$2", "$3", "$4"),
            " SELECT (SELECT count(*) FROM live), (SELECT count(*) FROM seen)"
        );
        let args: [&(dyn ToSql + Sync); 4] = [
            &issuer.as_str(),
            &id.as_str(),
            &now.secs_i64(),
            &expires_at.secs_i64(),
        ];
        Ok(settled_use(&conn, sql, &args, (0, 1)).await?.0)
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
