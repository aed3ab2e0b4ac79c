//! Compact JWS serialization (RFC 7515 §7.1).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};

use super::algorithm::{Algorithm, MacAlgorithm};
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
    let parts = Compact::split(token)?;
    let alg = Algorithm::parse(&parts.header.alg)
        .filter(|a| allowed.contains(a))
        .ok_or(JoseError::AlgorithmNotAllowed)?;
    let key = select_key(keys, parts.header.kid.as_deref(), alg)?;
    let (payload, sig) = parts.decode_payload_and_signature()?;
    key.verify(alg, parts.signing_input, &sig)?;
    Ok(VerifiedJws {
        header: parts.header,
        alg,
        payload,
    })
}

/// Verifies a compact JWS MACed with `secret` (RFC 7518 §3.2), accepting only the HMAC
/// algorithms in `allowed`: an asymmetric `alg` (or `none`) is refused before the secret is
/// used. The comparison is ring's, in constant time. Returns the payload and the algorithm.
pub fn verify_compact_hmac(
    token: &str,
    secret: &[u8],
    allowed: &[MacAlgorithm],
) -> Result<(Vec<u8>, MacAlgorithm), JoseError> {
    let parts = Compact::split(token)?;
    let alg = MacAlgorithm::parse(&parts.header.alg)
        .filter(|a| allowed.contains(a))
        .ok_or(JoseError::AlgorithmNotAllowed)?;
    let (payload, sig) = parts.decode_payload_and_signature()?;
    let key = ring::hmac::Key::new(alg.ring_algorithm(), secret);
    ring::hmac::verify(&key, parts.signing_input, &sig).map_err(|_| JoseError::InvalidSignature)?;
    Ok((payload, alg))
}

/// A compact JWS split into its parts, its protected header read (RFC 7515 §7.1).
struct Compact<'a> {
    header: JwsHeader,
    signing_input: &'a [u8],
    payload: &'a str,
    signature: &'a str,
}

impl<'a> Compact<'a> {
    fn split(token: &'a str) -> Result<Self, JoseError> {
        let [h64, p64, s64] = parts(token)?;
        let raw = decode_header(h64)?;
        if raw.contains_key("crit") {
            return Err(JoseError::UnsupportedCritical);
        }
        let header: JwsHeader = serde_json::from_value(serde_json::Value::Object(raw))
            .map_err(|_| JoseError::Malformed)?;
        Ok(Self {
            header,
            signing_input: &token.as_bytes()[..h64.len() + 1 + p64.len()],
            payload: p64,
            signature: s64,
        })
    }

    fn decode_payload_and_signature(&self) -> Result<(Vec<u8>, Vec<u8>), JoseError> {
        let decode = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| JoseError::Malformed)
        };
        Ok((decode(self.payload)?, decode(self.signature)?))
    }
}

/// The three base64url parts of a compact JWS of at most [`MAX_JWS_LEN`] bytes (RFC 7515
/// §7.1).
fn parts(token: &str) -> Result<[&str; 3], JoseError> {
    if token.len() > MAX_JWS_LEN {
        return Err(JoseError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::Malformed);
    };
    Ok([h64, p64, s64])
}

/// A protected header, decoded to a JSON object.
fn decode_header(h64: &str) -> Result<serde_json::Map<String, serde_json::Value>, JoseError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(h64)
        .map_err(|_| JoseError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JoseError::Malformed)
}

/// Whether a JWS's `typ` is the media type `expected` (given without `application/`):
/// media types compare case-insensitively, and an omitted `application/` prefix counts as
/// present (RFC 7515 §4.1.9).
pub(crate) fn is_media_type(typ: &str, expected: &str) -> bool {
    let prefix = "application/";
    let subtype = match typ.get(..prefix.len()) {
        Some(p) if p.eq_ignore_ascii_case(prefix) => &typ[prefix.len()..],
        _ => typ,
    };
    subtype.eq_ignore_ascii_case(expected)
}

/// The protected header of a compact JWS, read before it is verified: for what must be
/// decided before a key is chosen (a DPoP proof's `typ`, `alg` and `jwk`, RFC 9449 §4.3).
pub(crate) fn unverified_header(
    token: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, JoseError> {
    decode_header(parts(token)?[0])
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
