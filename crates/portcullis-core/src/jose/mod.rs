//! JOSE over ring: compact JWS (RFC 7515) with RS256, PS256, ES256 and EdDSA (RFC 7518,
//! RFC 8037), HMAC verification (HS256/384/512, RFC 7518 §3.2), JWK and JWK Sets (RFC 7517) and JWK thumbprints (RFC 7638).

mod algorithm;
mod error;
mod jwk;
mod jws;
mod signing_key;
mod verifying_key;

pub use algorithm::{Algorithm, MacAlgorithm};
pub use error::JoseError;
pub(crate) use jwk::PRIVATE_JWK_MEMBERS;
pub use jwk::{Jwk, JwkSet};
pub(crate) use jws::{is_media_type, unverified_header};
pub use jws::{
    sign_compact, verify_compact, verify_compact_hmac, JwsHeader, UnsignedJws, VerifiedJws,
};
pub use signing_key::SigningKey;
pub(crate) use verifying_key::PublicMaterial;
pub use verifying_key::VerifyingKey;
