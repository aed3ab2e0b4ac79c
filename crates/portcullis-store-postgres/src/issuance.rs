//! [`TokenIssuance`]: a code exchange's or a refresh's writes in one statement each.
//!
//! The grant comes first (`live_and_touched!`): `live` — the grant stands, its row locked (a
//! share lock when the use changes nothing, the `UPDATE`'s otherwise), so a concurrent
//! `revoke_grant` comes wholly before or after the statement — is what every insert reads
//! from, so the tokens are stored exactly when the grant stood, all or nothing. A rotation's
//! conditional `UPDATE` of the old token (as `rotate_refresh_token`'s) sits between the grant
//! and the inserts. A statement that found the grant changing under it wrote nothing and is
//! run again (`settled_use`).

use async_trait::async_trait;
use portcullis_core::{AccessTokenRecord, FamilyId, GrantId, RefreshTokenRecord, TokenHash};
use portcullis_store::{GrantUse, RotateIssueOutcome, RotationGrace, StoreResult, TokenIssuance};
use tokio_postgres::types::ToSql;

use crate::codec::{get, json, key};
use crate::grants::{live_and_touched, settled_use};
use crate::tokens::{dead, family_of};
use crate::{PostgresStore, StatementConn};

/// The columns of a hash-keyed token row, typed for an `INSERT … SELECT` (`$n` untyped
/// there): `insert_from!("access_tokens", "live", 11, …, 16)` inserts `$11`…`$16` once per
/// row of `live`. The record goes as the type its column holds: JSON for access tokens
/// (migration 7: never parsed into JSONB), JSONB for refresh tokens.
macro_rules! insert_from {
    ("access_tokens", $from:literal, $h:literal, $i:literal, $g:literal, $f:literal, $e:literal, $r:literal) => {
        insert_from!(@ "access_tokens", "JSON", $from, $h, $i, $g, $f, $e, $r)
    };
    ("refresh_tokens", $from:literal, $h:literal, $i:literal, $g:literal, $f:literal, $e:literal, $r:literal) => {
        insert_from!(@ "refresh_tokens", "JSONB", $from, $h, $i, $g, $f, $e, $r)
    };
    (@ $table:literal, $ty:literal, $from:literal, $h:literal, $i:literal, $g:literal, $f:literal, $e:literal, $r:literal) => {
        concat!(
            "INSERT INTO ",
            $table,
            " (hash, issuer, grant_id, family_id, expires_at, record) ",
            "SELECT $",
            $h,
            "::BYTEA, $",
            $i,
            "::TEXT, $",
            $g,
            "::TEXT, $",
            $f,
            "::TEXT, $",
            $e,
            "::BIGINT, $",
            $r,
            "::",
            $ty,
            " FROM ",
            $from
        )
    };
}

#[async_trait]
impl TokenIssuance for PostgresStore {
    async fn issue_tokens(
        &self,
        grant: &GrantUse<'_>,
        refresh: Option<&RefreshTokenRecord>,
        access: &AccessTokenRecord,
    ) -> StoreResult<bool> {
        let conn = StatementConn::Pooled(Box::new(self.conn().await?));
        let r = refresh.map(|r| {
            (
                key(&r.hash),
                r.issuer.as_str(),
                r.grant_id.as_str(),
                r.family_id.as_str(),
                r.expires_at.secs_i64(),
            )
        });
        let a = access_args(access);
        let args: [&(dyn ToSql + Sync); 16] = [
            &grant.issuer.as_str(),
            &grant.grant_id.as_str(),
            &grant.now.secs_i64(),
            &grant.expires_at.secs_i64(),
            &r.map(|r| r.0),
            &r.map(|r| r.1),
            &r.map(|r| r.2),
            &r.map(|r| r.3),
            &r.map(|r| r.4),
            &refresh.map(json),
            &a.0,
            &a.1,
            &a.2,
            &a.3,
            &a.4,
            &json(access),
        ];
        let sql = concat!(
            "WITH ",
            live_and_touched!("$1", "$2", "$3", "$4"),
            ", r AS (",
            insert_from!("refresh_tokens", "live", 5, 6, 7, 8, 9, 10),
            " WHERE $5::BYTEA IS NOT NULL), a AS (",
            insert_from!("access_tokens", "live", 11, 12, 13, 14, 15, 16),
            ") SELECT (SELECT count(*) FROM live), (SELECT count(*) FROM seen)"
        );
        Ok(settled_use(&conn, sql, &args, (0, 1)).await?.0)
    }

    async fn rotate_and_issue(
        &self,
        grant: &GrantUse<'_>,
        old: &TokenHash,
        successor: &RefreshTokenRecord,
        grace: Option<&RotationGrace>,
        access: &AccessTokenRecord,
    ) -> StoreResult<RotateIssueOutcome> {
        let conn = StatementConn::Pooled(Box::new(self.conn().await?));
        let a = access_args(access);
        let args: [&(dyn ToSql + Sync); 20] = [
            &grant.issuer.as_str(),
            &grant.grant_id.as_str(),
            &grant.now.secs_i64(),
            &grant.expires_at.secs_i64(),
            &key(old),
            &key(&successor.hash),
            &successor.issuer.as_str(),
            &successor.grant_id.as_str(),
            &successor.family_id.as_str(),
            &successor.expires_at.secs_i64(),
            &json(successor),
            &grace.map(|g| g.sealed_answer.as_str()),
            &grace.map(|g| g.until.secs_i64()),
            &grace.map(|g| i32::try_from(g.max_claims).unwrap_or(i32::MAX)),
            &a.0,
            &a.1,
            &a.2,
            &a.3,
            &a.4,
            &json(access),
        ];
        let sql = concat!(
            "WITH ",
            live_and_touched!("$1", "$2", "$3", "$4"),
            ", old AS (UPDATE refresh_tokens t SET rotated = true ",
            "WHERE t.hash = $5 AND t.issuer = $1 AND NOT t.rotated AND NOT ",
            dead!(),
            " AND EXISTS (SELECT 1 FROM live) RETURNING t.hash), ",
            "successor AS (",
            insert_from!("refresh_tokens", "old", 6, 7, 8, 9, 10, 11),
            " RETURNING hash), ",
            "grace AS (INSERT INTO refresh_graces ",
            "(old_hash, issuer, successor_hash, sealed_answer, until, max_claims) ",
            "SELECT $5, $1, hash, $12::TEXT, $13::BIGINT, $14::INTEGER ",
            "FROM successor WHERE $12::TEXT IS NOT NULL), ",
            "a AS (",
            insert_from!("access_tokens", "successor", 15, 16, 17, 18, 19, 20),
            ") SELECT (SELECT count(*) FROM live), (SELECT count(*) FROM seen), ",
            "(SELECT count(*) FROM successor)"
        );
        let (stood, row) = settled_use(&conn, sql, &args, (0, 1)).await?;
        if !stood {
            return Ok(RotateIssueOutcome::GrantRevoked);
        }
        if get::<i64>(&row, 2)? > 0 {
            return Ok(RotateIssueOutcome::Issued);
        }
        Ok(match family_of(&conn, grant.issuer, old).await? {
            Some(family_id) => RotateIssueOutcome::AlreadyRotated { family_id },
            None => RotateIssueOutcome::Missing,
        })
    }
}

/// An access token's row values but the record, in [`insert_from!`]'s order.
fn access_args(access: &AccessTokenRecord) -> (&[u8], &str, Option<&str>, Option<&str>, i64) {
    (
        key(&access.hash),
        access.issuer.as_str(),
        access.grant_id.as_ref().map(GrantId::as_str),
        access.family_id.as_ref().map(FamilyId::as_str),
        access.expires_at.secs_i64(),
    )
}
