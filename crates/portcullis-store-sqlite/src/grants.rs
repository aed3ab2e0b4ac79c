//! [`GrantStore`]: grant rows — (issuer, id) keys, owner columns for the listings, and a
//! `revoked` flag that is authoritative over the JSON copy and never goes back to 0 — and
//! family revocation markers.

use async_trait::async_trait;
use portcullis_core::{FamilyId, Grant, GrantId, Issuer, UnixTime};
use portcullis_store::{GrantStore, StoreResult};
use rusqlite::{params, Connection, Params};

use crate::codec::{db, decode, encode};
use crate::{purge, SqliteStore};

/// Inserts or replaces a grant. Revocation is sticky: saving a copy read before a
/// concurrent `revoke_grant` does not bring the grant back.
fn save(conn: &Connection, grant: &Grant) -> StoreResult<()> {
    let json = encode(grant)?;
    conn.prepare_cached(
        "INSERT INTO grants (issuer, id, subject, client_id, expires_at, revoked, record) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (issuer, id) DO UPDATE SET \
         subject = excluded.subject, client_id = excluded.client_id, \
         expires_at = excluded.expires_at, revoked = (revoked OR excluded.revoked), \
         record = excluded.record",
    )
    .and_then(|mut s| {
        s.execute(params![
            grant.issuer.as_str(),
            grant.id.as_str(),
            grant.subject,
            grant.client_id,
            grant.expires_at.secs_i64(),
            grant.revoked,
            json
        ])
    })
    .map_err(db)?;
    Ok(())
}

/// The grants a `SELECT record, revoked FROM grants …` statement finds.
fn select(conn: &Connection, sql: &str, args: impl Params) -> StoreResult<Vec<Grant>> {
    let mut stmt = conn.prepare_cached(sql).map_err(db)?;
    let rows = stmt
        .query_map(args, |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))
        .map_err(db)?;
    let mut out = Vec::new();
    for row in rows {
        let (json, revoked) = row.map_err(db)?;
        let mut grant: Grant = decode(&json)?;
        grant.revoked = revoked;
        out.push(grant);
    }
    Ok(out)
}

/// The grant `id` of `issuer`.
fn find(conn: &Connection, issuer: &str, id: &str) -> StoreResult<Option<Grant>> {
    let sql = "SELECT record, revoked FROM grants WHERE issuer = ?1 AND id = ?2";
    Ok(select(conn, sql, params![issuer, id])?.pop())
}

/// Marks a grant revoked; whether it exists.
fn revoke(conn: &Connection, issuer: &str, id: &str) -> StoreResult<bool> {
    let n = conn
        .prepare_cached("UPDATE grants SET revoked = 1 WHERE issuer = ?1 AND id = ?2")
        .and_then(|mut s| s.execute(params![issuer, id]))
        .map_err(db)?;
    Ok(n > 0)
}

#[async_trait]
impl GrantStore for SqliteStore {
    async fn save_grant(&self, grant: &Grant) -> StoreResult<()> {
        let grant = grant.clone();
        self.run(move |conn| save(conn, &grant)).await
    }

    async fn find_grant(&self, issuer: &Issuer, id: &GrantId) -> StoreResult<Option<Grant>> {
        let (issuer, id) = (issuer.to_string(), id.to_string());
        self.run(move |conn| find(conn, &issuer, &id)).await
    }

    /// One `UPDATE` of the row's columns and its JSON copy, only while `revoked = 0`.
    async fn touch_grant(
        &self,
        issuer: &Issuer,
        id: &GrantId,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<bool> {
        let (issuer, id) = (issuer.to_string(), id.to_string());
        let (now, until) = (now.secs_i64(), expires_at.secs_i64());
        self.run(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE grants SET expires_at = MAX(expires_at, ?4), \
                     record = json_set(record, '$.last_used_at', ?3, \
                         '$.expires_at', MAX(expires_at, ?4)) \
                     WHERE issuer = ?1 AND id = ?2 AND revoked = 0",
                )
                .and_then(|mut s| s.execute(params![issuer, id, now, until]))
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }

    async fn grants_for(
        &self,
        issuer: &Issuer,
        subject: &str,
        client_id: &str,
    ) -> StoreResult<Vec<Grant>> {
        let args = (issuer.to_string(), subject.to_owned(), client_id.to_owned());
        self.run(move |conn| {
            let sql = "SELECT record, revoked FROM grants \
                       WHERE issuer = ?1 AND subject = ?2 AND client_id = ?3";
            select(conn, sql, params![args.0, args.1, args.2])
        })
        .await
    }

    async fn grants_of_subject(&self, issuer: &Issuer, subject: &str) -> StoreResult<Vec<Grant>> {
        let (issuer, subject) = (issuer.to_string(), subject.to_owned());
        self.run(move |conn| {
            let sql = "SELECT record, revoked FROM grants WHERE issuer = ?1 AND subject = ?2";
            select(conn, sql, params![issuer, subject])
        })
        .await
    }

    async fn revoke_grant(&self, issuer: &Issuer, id: &GrantId) -> StoreResult<bool> {
        let (issuer, id) = (issuer.to_string(), id.to_string());
        self.run(move |conn| revoke(conn, &issuer, &id)).await
    }

    /// A scan of the issuer's grants: deleting a client is rare.
    async fn revoke_grants_of_client(&self, issuer: &Issuer, client_id: &str) -> StoreResult<u64> {
        let (issuer, client_id) = (issuer.to_string(), client_id.to_owned());
        self.run(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE grants SET revoked = 1 \
                     WHERE issuer = ?1 AND client_id = ?2 AND revoked = 0",
                )
                .and_then(|mut s| s.execute(params![issuer, client_id]))
                .map_err(db)?;
            Ok(n as u64)
        })
        .await
    }

    async fn revoke_family(
        &self,
        issuer: &Issuer,
        family_id: &FamilyId,
        until: UnixTime,
    ) -> StoreResult<()> {
        let (issuer, family, until) = (issuer.to_string(), family_id.to_string(), until.secs_i64());
        self.run(move |conn| {
            conn.prepare_cached(
                "INSERT INTO revoked_families (issuer, family_id, until) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (issuer, family_id) DO UPDATE SET until = MAX(until, excluded.until)",
            )
            .and_then(|mut s| s.execute(params![issuer, family, until]))
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    /// Purges family markers, then grants (a token under a purged grant is dead, like one
    /// under a revoked grant).
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        let now = now.secs_i64();
        self.run(move |conn| {
            Ok(
                purge::expired(conn, "revoked_families", "issuer, family_id", "until", now)?
                    + purge::expired(conn, "grants", "issuer, id", "expires_at", now)?,
            )
        })
        .await
    }
}
