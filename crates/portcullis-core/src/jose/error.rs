//! Why a JOSE operation failed. The variants say what kind of failure it was, never anything
//! secret.

/// A JOSE failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    /// Not a compact JWS: wrong number of parts, bad base64url, bad JSON, or too long.
    #[error("malformed JWS")]
    Malformed,
    /// `alg` is missing, `none`, unsupported, or not in the caller's allow-list.
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The header has `crit` extensions, none of which this implementation understands
    /// (RFC 7515 §4.1.11).
    #[error("unsupported critical header")]
    UnsupportedCritical,
    /// No key with the header's `kid` (or, without `kid`, no single key for the algorithm).
    #[error("no matching key")]
    NoMatchingKey,
    /// The key's type does not fit the algorithm.
    #[error("key does not match the algorithm")]
    KeyMismatch,
    /// The signature does not verify.
    #[error("invalid signature")]
    InvalidSignature,
    /// Key material was refused (bad PKCS#8, wrong curve, weak RSA modulus…).
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// The random number generator or signer failed.
    #[error("signing failed")]
    SigningFailed,
}
