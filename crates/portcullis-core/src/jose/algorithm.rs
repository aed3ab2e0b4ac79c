//! JWS algorithms (RFC 7518 §3.1, RFC 8037 §3.1).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The signature algorithms Portcullis signs and verifies with. `none` is not one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3); OpenID Connect's baseline.
    RS256,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256 (RFC 7518 §3.5).
    PS256,
    /// ECDSA with P-256 and SHA-256 (RFC 7518 §3.4).
    ES256,
    /// Ed25519 (RFC 8037 §3.1).
    EdDSA,
}

impl Algorithm {
    /// The `alg` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// Parses an `alg` value; `None` for `none` and anything unsupported.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "RS256" => Some(Self::RS256),
            "PS256" => Some(Self::PS256),
            "ES256" => Some(Self::ES256),
            "EdDSA" => Some(Self::EdDSA),
            _ => None,
        }
    }

    /// The JWK `kty` a key for this algorithm has.
    pub fn key_type(self) -> &'static str {
        match self {
            Self::RS256 | Self::PS256 => "RSA",
            Self::ES256 => "EC",
            Self::EdDSA => "OKP",
        }
    }

    /// Every supported algorithm.
    pub const ALL: [Algorithm; 4] = [Self::RS256, Self::PS256, Self::ES256, Self::EdDSA];
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The HMAC algorithms of JWS (RFC 7518 §3.2), for MACs keyed with a shared secret (e.g.
/// `client_secret_jwt`, OpenID Connect Core §9). Kept apart from [`Algorithm`], so that no
/// public key is ever used as an HMAC secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MacAlgorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
}

impl MacAlgorithm {
    /// Every HMAC algorithm.
    pub const ALL: [MacAlgorithm; 3] = [Self::HS256, Self::HS384, Self::HS512];

    /// The `alg` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
        }
    }

    /// Parses an `alg` value; `None` for anything but the three HMAC algorithms.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == value)
    }

    /// ring's HMAC algorithm.
    pub(crate) fn ring_algorithm(self) -> ring::hmac::Algorithm {
        match self {
            Self::HS256 => ring::hmac::HMAC_SHA256,
            Self::HS384 => ring::hmac::HMAC_SHA384,
            Self::HS512 => ring::hmac::HMAC_SHA512,
        }
    }

    /// A MAC of `message` under `secret`: what a client signing with this algorithm sends
    /// (for tests and clients of this crate).
    pub fn sign(self, secret: &[u8], message: &[u8]) -> Vec<u8> {
        let key = ring::hmac::Key::new(self.ring_algorithm(), secret);
        ring::hmac::sign(&key, message).as_ref().to_vec()
    }
}

impl fmt::Display for MacAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
