//! Grant rows: (issuer, id) keys, owner columns for the listings, and a `revoked` flag that
//! is authoritative over the JSON copy and never goes back to 0.

use portcullis_core::Grant;
use portcullis_store::StoreResult;
use rusqlite::{params, Connection, Params};

use crate::codec::{db, decode, encode};

/// Inserts or replaces a grant. Revocation is sticky: saving a copy read before a
/// concurrent `revoke_grant` does not bring the grant back.
pub(crate) fn save(conn: &Connection, grant: &Grant) -> StoreResult<()> {
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
pub(crate) fn select(conn: &Connection, sql: &str, args: impl Params) -> StoreResult<Vec<Grant>> {
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
pub(crate) fn find(conn: &Connection, issuer: &str, id: &str) -> StoreResult<Option<Grant>> {
    let sql = "SELECT record, revoked FROM grants WHERE issuer = ?1 AND id = ?2";
    Ok(select(conn, sql, params![issuer, id])?.pop())
}

/// Marks a grant revoked; whether it exists.
pub(crate) fn revoke(conn: &Connection, issuer: &str, id: &str) -> StoreResult<bool> {
    let n = conn
        .prepare_cached("UPDATE grants SET revoked = 1 WHERE issuer = ?1 AND id = ?2")
        .and_then(|mut s| s.execute(params![issuer, id]))
        .map_err(db)?;
    Ok(n > 0)
}
