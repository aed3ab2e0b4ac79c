//! [`AccessTokenStore`] and [`RefreshTokenStore`].
//!
//! Revocation composes at read time: a token is dead when its family has a marker or its
//! grant is revoked or gone, so a token inserted after the revocation is dead on arrival.
//! Both lookups are primary-key probes.

use async_trait::async_trait;
use portcullis_core::{
    AccessTokenRecord, FamilyId, Issuer, RefreshTokenRecord, TokenHash, UnixTime,
};
use portcullis_store::{
    AccessTokenStore, RefreshState, RefreshTokenStore, RotateOutcome, RotationGrace, StoreResult,
};

use crate::codec::{decode, get, json, key};
use crate::{insert_hashed, purge, query_on, Hashed, PostgresStore, StatementConn};

/// Whether the token row `t` is dead through its family or its grant.
macro_rules! dead {
    () => {
        "(EXISTS (SELECT 1 FROM revoked_families f \
              WHERE f.issuer = t.issuer AND f.family_id = t.family_id) \
          OR (t.grant_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM grants g \
              WHERE g.issuer = t.issuer AND g.id = t.grant_id AND NOT g.revoked)))"
    };
}
pub(crate) use dead;

/// The look-up of one live access token by hash and issuer.
pub(crate) const FIND_ACCESS_TOKEN: &str = concat!(
    "SELECT t.record FROM access_tokens t WHERE t.hash = $1 AND t.issuer = $2 ",
    "AND NOT ",
    dead!()
);

/// The family of the refresh token `old` of `issuer`, if stored: what a rotation that
/// flipped nothing answers (`AlreadyRotated` with it, or `Missing`).
pub(crate) async fn family_of(
    conn: &StatementConn,
    issuer: &Issuer,
    old: &TokenHash,
) -> StoreResult<Option<FamilyId>> {
    let rows = query_on(
        conn,
        "SELECT family_id FROM refresh_tokens WHERE hash = $1 AND issuer = $2",
        &[&key(old), &issuer.as_str()],
    )
    .await?;
    rows.first()
        .map(|row| get(row, 0).map(FamilyId::from_stored))
        .transpose()
}

#[async_trait]
impl AccessTokenStore for PostgresStore {
    async fn insert_access_token(&self, record: &AccessTokenRecord) -> StoreResult<()> {
        let row = Hashed {
            hash: &record.hash,
            issuer: &record.issuer,
            grant_id: record.grant_id.as_ref(),
            family_id: record.family_id.as_ref(),
            expires_at: record.expires_at,
        };
        self.insert_hashed(insert_hashed!("access_tokens"), row, record)
            .await
    }

    async fn find_access_token(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
    ) -> StoreResult<Option<AccessTokenRecord>> {
        if let Some(batches) = &self.batches {
            return batches.find_access_token(issuer, hash).await;
        }
        let rows = self
            .query(FIND_ACCESS_TOKEN, &[&key(hash), &issuer.as_str()])
            .await?;
        rows.first().map(|r| decode(r, 0)).transpose()
    }

    /// Deletes the token (RFC 7009 §2.2: the token is invalid at once); `false` when no
    /// such token of `issuer` is stored, including on a repeated call.
    async fn revoke_access_token(&self, issuer: &Issuer, hash: &TokenHash) -> StoreResult<bool> {
        let n = self
            .execute(
                "DELETE FROM access_tokens WHERE hash = $1 AND issuer = $2",
                &[&key(hash), &issuer.as_str()],
            )
            .await?;
        Ok(n > 0)
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        purge::expired(self, "access_tokens", "expires_at", now.secs_i64()).await
    }
}

#[async_trait]
impl RefreshTokenStore for PostgresStore {
    async fn insert_refresh_token(&self, record: &RefreshTokenRecord) -> StoreResult<()> {
        let row = Hashed {
            hash: &record.hash,
            issuer: &record.issuer,
            grant_id: Some(&record.grant_id),
            family_id: Some(&record.family_id),
            expires_at: record.expires_at,
        };
        self.insert_hashed(insert_hashed!("refresh_tokens"), row, record)
            .await
    }

    async fn find_refresh_token(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
    ) -> StoreResult<Option<(RefreshTokenRecord, RefreshState)>> {
        let rows = self
            .query(
                concat!(
                    "SELECT t.record, t.rotated, ",
                    dead!(),
                    " FROM refresh_tokens t WHERE t.hash = $1 AND t.issuer = $2"
                ),
                &[&key(hash), &issuer.as_str()],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let state = match (get(row, 2)?, get(row, 1)?) {
            (true, _) => RefreshState::Revoked,
            (false, true) => RefreshState::Rotated,
            (false, false) => RefreshState::Active,
        };
        Ok(Some((decode(row, 0)?, state)))
    }

    /// One statement: a conditional `UPDATE` flips the old token's `rotated` flag — only
    /// if it is unrotated and alive — and feeds the `INSERT` of the successor (and of the
    /// grace period, if any), so both are stored exactly when the flip happened, atomically.
    /// Racing callers on any node queue on the old row's lock and re-check `NOT rotated` on
    /// the row as the winner left it: at most one rotates
    /// (`RefreshTokenStore::rotate_refresh_token`'s atomicity contract). A caller that
    /// flipped nothing only reads the token's family to answer.
    async fn rotate_refresh_token(
        &self,
        issuer: &Issuer,
        old: &TokenHash,
        successor: &RefreshTokenRecord,
        grace: Option<&RotationGrace>,
    ) -> StoreResult<RotateOutcome> {
        let conn = StatementConn::Pooled(Box::new(self.conn().await?));
        let rows = query_on(
            &conn,
            concat!(
                "WITH old AS (UPDATE refresh_tokens t SET rotated = true ",
                "WHERE t.hash = $1 AND t.issuer = $2 AND NOT t.rotated AND NOT ",
                dead!(),
                " RETURNING t.hash), ",
                "successor AS (INSERT INTO refresh_tokens ",
                "(hash, issuer, grant_id, family_id, expires_at, record) ",
                "SELECT $3::BYTEA, $4::TEXT, $5::TEXT, $6::TEXT, $7::BIGINT, $8::JSONB ",
                "FROM old RETURNING hash), ",
                "grace AS (INSERT INTO refresh_graces ",
                "(old_hash, issuer, successor_hash, sealed_answer, until, max_claims) ",
                "SELECT $1, $2, hash, $9::TEXT, $10::BIGINT, $11::INTEGER ",
                "FROM successor WHERE $9::TEXT IS NOT NULL) ",
                "SELECT count(*) FROM successor"
            ),
            &[
                &key(old),
                &issuer.as_str(),
                &key(&successor.hash),
                &successor.issuer.as_str(),
                &successor.grant_id.as_str(),
                &successor.family_id.as_str(),
                &successor.expires_at.secs_i64(),
                &json(successor),
                &grace.map(|g| g.sealed_answer.as_str()),
                &grace.map(|g| g.until.secs_i64()),
                &grace.map(|g| i32::try_from(g.max_claims).unwrap_or(i32::MAX)),
            ],
        )
        .await?;
        let rotated: i64 = match rows.first() {
            Some(row) => get(row, 0)?,
            None => 0,
        };
        if rotated > 0 {
            return Ok(RotateOutcome::Rotated);
        }
        Ok(match family_of(&conn, issuer, old).await? {
            Some(family_id) => RotateOutcome::AlreadyRotated { family_id },
            None => RotateOutcome::Missing,
        })
    }

    /// One statement: the `UPDATE` takes the grace row's lock, so concurrent claims queue
    /// and each re-checks `claims < max_claims` on the row as the one before left it.
    async fn claim_rotation_grace(
        &self,
        issuer: &Issuer,
        old: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<String>> {
        let rows = self
            .query(
                concat!(
                    "UPDATE refresh_graces gr SET claims = gr.claims + 1 ",
                    "WHERE gr.old_hash = $1 AND gr.issuer = $2 AND gr.until > $3 ",
                    "AND gr.claims < gr.max_claims ",
                    "AND EXISTS (SELECT 1 FROM refresh_tokens t ",
                    "WHERE t.hash = gr.successor_hash AND t.issuer = gr.issuer ",
                    "AND NOT t.rotated AND NOT ",
                    dead!(),
                    ") RETURNING gr.sealed_answer"
                ),
                &[&key(old), &issuer.as_str(), &now.secs_i64()],
            )
            .await?;
        rows.first().map(|row| get(row, 0)).transpose()
    }

    /// Purges refresh tokens, then the grace periods of their rotations, each in batches.
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        let now = now.secs_i64();
        Ok(
            purge::expired(self, "refresh_tokens", "expires_at", now).await?
                + purge::expired(self, "refresh_graces", "until", now).await?,
        )
    }
}
