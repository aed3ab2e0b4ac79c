//! Between records and rows: times, hashes, JSON, and errors that keep their source.

use portcullis_core::TokenHash;
use portcullis_store::StoreError;
use rusqlite::ErrorCode;
use serde::{de::DeserializeOwned, Serialize};

/// A hash as a BLOB key.
pub(crate) fn key(hash: &TokenHash) -> Vec<u8> {
    hash.as_bytes().to_vec()
}

/// A record as the JSON kept in its row's `record` column.
pub(crate) fn encode<T: Serialize>(record: &T) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|e| StoreError::with_source("record not encodable", e))
}

/// A record read back from its `record` column.
pub(crate) fn decode<T: DeserializeOwned>(json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::with_source("stored record is corrupt", e))
}

/// A driver error, classified for the host's logs; the driver error is its source.
pub(crate) fn db(e: rusqlite::Error) -> StoreError {
    let message = match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => "sqlite database busy",
        Some(ErrorCode::ConstraintViolation) => "sqlite constraint violated (duplicate key?)",
        Some(ErrorCode::DiskFull | ErrorCode::SystemIoFailure | ErrorCode::CannotOpen) => {
            "sqlite I/O failure"
        }
        _ => "sqlite query failed",
    };
    StoreError::with_source(message, e)
}
