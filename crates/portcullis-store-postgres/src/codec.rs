//! Between records and rows: times, hashes, JSONB, and errors that keep their source.

use deadpool_postgres::PoolError;
use portcullis_core::TokenHash;
use portcullis_store::StoreError;
use std::fmt;

use bytes::{BufMut, BytesMut};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{accepts, to_sql_checked, IsNull, Json, ToSql, Type};
use tokio_postgres::Row;

/// A hash as a BYTEA key.
pub(crate) fn key(hash: &TokenHash) -> &[u8] {
    hash.as_bytes()
}

/// A record as the JSONB kept in its row's `record` column (encoded as it is sent).
pub(crate) fn json<T>(record: &T) -> Json<&T> {
    Json(record)
}

/// A record encoded as JSON ahead of its statement (a batched one carries many), sent as the
/// `JSON` or `JSONB` its column holds.
pub(crate) struct EncodedRecord(String);

impl EncodedRecord {
    pub(crate) fn of<T: Serialize>(record: &T) -> Result<Self, StoreError> {
        serde_json::to_string(record)
            .map(Self)
            .map_err(|e| StoreError::with_source("record not encodable", e))
    }
}

impl fmt::Debug for EncodedRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncodedRecord(..)")
    }
}

impl ToSql for EncodedRecord {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        if *ty == Type::JSONB {
            // The binary JSONB format: a version byte, then the text.
            out.put_u8(1);
        }
        out.put_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    accepts!(JSON, JSONB);
    to_sql_checked!();
}

/// The record in column `column` of `row`.
pub(crate) fn decode<T: DeserializeOwned>(row: &Row, column: usize) -> Result<T, StoreError> {
    row.try_get::<_, Json<T>>(column)
        .map(|Json(record)| record)
        .map_err(|e| StoreError::with_source("stored record is corrupt", e))
}

/// A plain column of `row`.
pub(crate) fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    column: usize,
) -> Result<T, StoreError> {
    row.try_get(column)
        .map_err(|e| StoreError::with_source("stored row has an unexpected type", e))
}

/// A driver error, classified for the host's logs; the driver error is its source. (A
/// server error names the constraint or key that failed, never a parameter's value beyond
/// a hash.)
pub(crate) fn db(e: tokio_postgres::Error) -> StoreError {
    let message = match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => {
            "postgres unique constraint violated (duplicate key?)"
        }
        Some(c) if c.code().starts_with("23") => "postgres constraint violated",
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            "postgres transaction conflict"
        }
        Some(c) if *c == SqlState::UNDEFINED_TABLE => {
            "postgres table missing (schema not migrated?)"
        }
        Some(c) if c.code().starts_with("08") || c.code().starts_with("57") => {
            "postgres connection lost or server shutting down"
        }
        Some(c) if c.code().starts_with("53") => "postgres server out of resources",
        Some(_) => "postgres query failed",
        None if e.is_closed() => "postgres connection lost",
        None => "postgres driver failed",
    };
    StoreError::with_source(message, e)
}

/// A pool failure: no connection could be had in time, or none could be established.
pub(crate) fn pool_error(e: PoolError) -> StoreError {
    let message = match &e {
        PoolError::Timeout(_) => "postgres pool: no connection in time",
        PoolError::Backend(_) => "postgres connection failed",
        _ => "postgres pool failed",
    };
    StoreError::with_source(message, e)
}
