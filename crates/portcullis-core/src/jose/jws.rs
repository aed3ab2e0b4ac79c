//! Compact JWS serialization (RFC 7515 §7.1).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};

use super::algorithm::Algorithm;
use super::error::JoseError;
use super::signing_key::SigningKey;
use super::verifying_key::VerifyingKey;

/// Longest compact JWS accepted: bounds the work an attacker's input can cause.
const MAX_JWS_LEN: usize = 64 * 1024;

/// The protected header fields Portcullis reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwsHeader {
    /// The algorithm.
    pub alg: String,
    /// The key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The media type of the whole JWS (`JWT`, `at+jwt`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
}

/// A JWS whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedJws {
    /// The protected header.
    pub header: JwsHeader,
    /// The algorithm that verified it.
    pub alg: Algorithm,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// A compact JWS waiting for its signature (RFC 7515 §5.1): the header (`alg`, `kid`,
/// `typ`) and payload are encoded; a signer anywhere — a ring key in the process, a KMS or an
/// HSM — signs [`UnsignedJws::signing_input`], and [`UnsignedJws::with_signature`] appends
/// the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsignedJws(String);

impl UnsignedJws {
    /// Encodes the header and `payload` for a key `kid` signing with `alg`.
    pub fn new(
        alg: Algorithm,
        kid: &str,
        typ: Option<&str>,
        payload: &[u8],
    ) -> Result<Self, JoseError> {
        let header = JwsHeader {
            alg: alg.as_str().to_owned(),
            kid: Some(kid.to_owned()),
            typ: typ.map(str::to_owned),
        };
        let header = serde_json::to_vec(&header).map_err(|_| JoseError::SigningFailed)?;
        let mut out = URL_SAFE_NO_PAD.encode(header);
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(payload));
        Ok(Self(out))
    }

    /// The bytes to sign: `base64url(header) '.' base64url(payload)`.
    pub fn signing_input(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The compact JWS with `signature` (the JWA form of `alg`'s signature, RFC 7518 §3:
    /// for ES256 the 64-byte `R ‖ S`, not DER).
    pub fn with_signature(mut self, signature: &[u8]) -> String {
        self.0.push('.');
        self.0.push_str(&URL_SAFE_NO_PAD.encode(signature));
        self.0
    }
}

/// Signs `payload` with `key` into a compact JWS whose header is `alg`, `kid` and `typ`.
pub fn sign_compact(
    payload: &[u8],
    typ: Option<&str>,
    key: &SigningKey,
    rng: &dyn SecureRandom,
) -> Result<String, JoseError> {
    let unsigned = UnsignedJws::new(key.alg(), key.kid(), typ, payload)?;
    let sig = key.sign(unsigned.signing_input(), rng)?;
    Ok(unsigned.with_signature(&sig))
}

/// Verifies a compact JWS against `keys`, accepting only the algorithms in `allowed`.
///
/// Refused: `alg: none` or any algorithm not allowed; any `crit` header (no extension is
/// understood, RFC 7515 §4.1.11); a key whose type or declared algorithm does not fit `alg`;
/// non-canonical base64url. With a `kid` the key must have that `kid`; without one, exactly
/// one key may fit the algorithm.
pub fn verify_compact(
    token: &str,
    keys: &[VerifyingKey],
    allowed: &[Algorithm],
) -> Result<VerifiedJws, JoseError> {
    if token.len() > MAX_JWS_LEN {
        return Err(JoseError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Malformed);
    };
    let header_bytes = URL_SAFE_NO_PAD
        .decode(h64)
        .map_err(|_| JoseError::Malformed)?;
    let raw: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&header_bytes).map_err(|_| JoseError::Malformed)?;
    if raw.contains_key("crit") {
        return Err(JoseError::UnsupportedCritical);
    }
    let header: JwsHeader =
        serde_json::from_value(serde_json::Value::Object(raw)).map_err(|_| JoseError::Malformed)?;
    let alg = Algorithm::parse(&header.alg)
        .filter(|a| allowed.contains(a))
        .ok_or(JoseError::AlgorithmNotAllowed)?;
    let key = select_key(keys, header.kid.as_deref(), alg)?;
    let payload = URL_SAFE_NO_PAD
        .decode(p64)
        .map_err(|_| JoseError::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(s64)
        .map_err(|_| JoseError::Malformed)?;
    let signing_input_len = h64.len() + 1 + p64.len();
    key.verify(alg, &token.as_bytes()[..signing_input_len], &sig)?;
    Ok(VerifiedJws {
        header,
        alg,
        payload,
    })
}

fn select_key<'k>(
    keys: &'k [VerifyingKey],
    kid: Option<&str>,
    alg: Algorithm,
) -> Result<&'k VerifyingKey, JoseError> {
    match kid {
        Some(kid) => {
            let key = keys
                .iter()
                .find(|k| k.kid() == Some(kid))
                .ok_or(JoseError::NoMatchingKey)?;
            if key.fits(alg) {
                Ok(key)
            } else {
                Err(JoseError::KeyMismatch)
            }
        }
        None => {
            let mut fitting = keys.iter().filter(|k| k.fits(alg));
            match (fitting.next(), fitting.next()) {
                (Some(k), None) => Ok(k),
                _ => Err(JoseError::NoMatchingKey),
            }
        }
    }
}
