//! [`AccessTokenStore`] and [`RefreshTokenStore`].
//!
//! Revocation composes at read time: a token is dead when its family has a marker or its
//! grant is revoked or gone, so a token inserted after the revocation is dead on arrival.

use async_trait::async_trait;
use portcullis_core::{
    AccessTokenRecord, FamilyId, GrantId, Issuer, RefreshTokenRecord, TokenHash, UnixTime,
};
use portcullis_store::{
    AccessTokenStore, RefreshState, RefreshTokenStore, RotateOutcome, RotationGrace, StoreResult,
};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::codec::{db, decode, encode, key};
use crate::{purge, SqliteStore};

/// Whether the token row `t` is dead through its family or its grant.
macro_rules! dead {
    () => {
        "(EXISTS (SELECT 1 FROM revoked_families f \
              WHERE f.issuer = t.issuer AND f.family_id = t.family_id) \
          OR (t.grant_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM grants g \
              WHERE g.issuer = t.issuer AND g.id = t.grant_id AND g.revoked = 0)))"
    };
}

fn insert_refresh(conn: &Connection, r: &RefreshTokenRecord) -> StoreResult<()> {
    let json = encode(r)?;
    conn.prepare_cached(
        "INSERT INTO refresh_tokens (hash, issuer, grant_id, family_id, expires_at, record) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            key(&r.hash),
            r.issuer.as_str(),
            r.grant_id.as_str(),
            r.family_id.as_str(),
            r.expires_at.secs_i64(),
            json
        ])
    })
    .map_err(db)?;
    Ok(())
}

/// The refresh token `hash` of `issuer`, whether it was rotated, and whether it is dead.
fn refresh_row(
    conn: &Connection,
    issuer: &str,
    hash: &[u8],
) -> StoreResult<Option<(RefreshTokenRecord, bool, bool)>> {
    let row: Option<(String, bool, bool)> = conn
        .prepare_cached(concat!(
            "SELECT t.record, t.rotated, ",
            dead!(),
            " FROM refresh_tokens t WHERE t.hash = ?1 AND t.issuer = ?2"
        ))
        .and_then(|mut s| {
            s.query_row(params![hash, issuer], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
        })
        .map_err(db)?;
    row.map(|(json, rotated, dead)| Ok((decode(&json)?, rotated, dead)))
        .transpose()
}

/// Rotates inside one IMMEDIATE transaction: it holds the write lock from its first read,
/// so no other connection or process can rotate, revoke or purge the token in between.
fn rotate(
    conn: &mut Connection,
    issuer: &str,
    old: &[u8],
    successor: &RefreshTokenRecord,
    grace: Option<&RotationGrace>,
) -> StoreResult<RotateOutcome> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let outcome = match refresh_row(&tx, issuer, old)? {
        None => RotateOutcome::Missing,
        Some((record, rotated, dead)) if rotated || dead => RotateOutcome::AlreadyRotated {
            family_id: record.family_id,
        },
        Some(_) => {
            tx.prepare_cached("UPDATE refresh_tokens SET rotated = 1 WHERE hash = ?1")
                .and_then(|mut s| s.execute(params![old]))
                .map_err(db)?;
            insert_refresh(&tx, successor)?;
            if let Some(g) = grace {
                insert_grace(&tx, issuer, old, &successor.hash, g)?;
            }
            RotateOutcome::Rotated
        }
    };
    tx.commit().map_err(db)?;
    Ok(outcome)
}

fn insert_grace(
    conn: &Connection,
    issuer: &str,
    old: &[u8],
    successor: &TokenHash,
    g: &RotationGrace,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO refresh_graces \
         (old_hash, issuer, successor_hash, sealed_answer, until, max_claims) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            old,
            issuer,
            key(successor),
            g.sealed_answer,
            g.until.secs_i64(),
            g.max_claims
        ])
    })
    .map_err(db)?;
    Ok(())
}

/// Counts one claim in one statement, so concurrent claims never exceed `max_claims`.
fn claim_grace(
    conn: &Connection,
    issuer: &str,
    old: &[u8],
    now: i64,
) -> StoreResult<Option<String>> {
    conn.prepare_cached(concat!(
        "UPDATE refresh_graces SET claims = claims + 1 \
         WHERE old_hash = ?1 AND issuer = ?2 AND until > ?3 AND claims < max_claims \
         AND EXISTS (SELECT 1 FROM refresh_tokens t \
             WHERE t.hash = refresh_graces.successor_hash AND t.issuer = refresh_graces.issuer \
             AND t.rotated = 0 AND NOT ",
        dead!(),
        ") RETURNING sealed_answer"
    ))
    .and_then(|mut s| {
        s.query_row(params![old, issuer, now], |r| r.get(0))
            .optional()
    })
    .map_err(db)
}

#[async_trait]
impl AccessTokenStore for SqliteStore {
    async fn insert_access_token(&self, record: &AccessTokenRecord) -> StoreResult<()> {
        let row = (
            key(&record.hash),
            record.issuer.to_string(),
            record.grant_id.as_ref().map(GrantId::to_string),
            record.family_id.as_ref().map(FamilyId::to_string),
            record.expires_at.secs_i64(),
            encode(record)?,
        );
        self.run(move |conn| {
            conn.prepare_cached(
                "INSERT INTO access_tokens (hash, issuer, grant_id, family_id, expires_at, \
                 record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| s.execute(params![row.0, row.1, row.2, row.3, row.4, row.5]))
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn find_access_token(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
    ) -> StoreResult<Option<AccessTokenRecord>> {
        let (issuer, hash) = (issuer.to_string(), key(hash));
        self.run(move |conn| {
            let json: Option<String> = conn
                .prepare_cached(concat!(
                    "SELECT t.record FROM access_tokens t WHERE t.hash = ?1 AND t.issuer = ?2 ",
                    "AND NOT ",
                    dead!()
                ))
                .and_then(|mut s| s.query_row(params![hash, issuer], |r| r.get(0)).optional())
                .map_err(db)?;
            json.as_deref().map(decode).transpose()
        })
        .await
    }

    async fn revoke_access_token(&self, issuer: &Issuer, hash: &TokenHash) -> StoreResult<bool> {
        let (issuer, hash) = (issuer.to_string(), key(hash));
        self.run(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM access_tokens WHERE hash = ?1 AND issuer = ?2")
                .and_then(|mut s| s.execute(params![hash, issuer]))
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        let now = now.secs_i64();
        self.run(move |conn| purge::expired(conn, "access_tokens", "hash", "expires_at", now))
            .await
    }
}

#[async_trait]
impl RefreshTokenStore for SqliteStore {
    async fn insert_refresh_token(&self, record: &RefreshTokenRecord) -> StoreResult<()> {
        let record = record.clone();
        self.run(move |conn| insert_refresh(conn, &record)).await
    }

    async fn find_refresh_token(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
    ) -> StoreResult<Option<(RefreshTokenRecord, RefreshState)>> {
        let (issuer, hash) = (issuer.to_string(), key(hash));
        self.run(move |conn| {
            Ok(
                refresh_row(conn, &issuer, &hash)?.map(|(record, rotated, dead)| {
                    let state = match (dead, rotated) {
                        (true, _) => RefreshState::Revoked,
                        (false, true) => RefreshState::Rotated,
                        (false, false) => RefreshState::Active,
                    };
                    (record, state)
                }),
            )
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        issuer: &Issuer,
        old: &TokenHash,
        successor: &RefreshTokenRecord,
        grace: Option<&RotationGrace>,
    ) -> StoreResult<RotateOutcome> {
        let (issuer, old, successor) = (issuer.to_string(), key(old), successor.clone());
        let grace = grace.cloned();
        self.run(move |conn| rotate(conn, &issuer, &old, &successor, grace.as_ref()))
            .await
    }

    async fn claim_rotation_grace(
        &self,
        issuer: &Issuer,
        old: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<String>> {
        let (issuer, old, now) = (issuer.to_string(), key(old), now.secs_i64());
        self.run(move |conn| claim_grace(conn, &issuer, &old, now))
            .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        let now = now.secs_i64();
        self.run(move |conn| {
            Ok(
                purge::expired(conn, "refresh_tokens", "hash", "expires_at", now)?
                    + purge::expired(conn, "refresh_graces", "old_hash", "until", now)?,
            )
        })
        .await
    }
}

/// The trait's defaults: the calls in sequence, each one statement on a local database (no
/// network round trips to save).
impl portcullis_store::TokenIssuance for SqliteStore {}
