//! DPoP proofs (RFC 9449): the checks of §4.3 on one `DPoP` header value.
//!
//! [`DpopProof::verify`] decides whether a proof JWT (§4.2) is acceptable for a request; the
//! engine does the rest: it reads the header (exactly one, §4.3 item 1), spends the returned
//! `jti` once in the replay cache until [`VerifiedDpopProof::replay_until`] (§11.1), issues
//! nonces (§8, §9), checks the proof's key against the token's `cnf.jkt` (§4.3 item 12, §6)
//! and answers with the status of the endpoint: 400 at the token endpoint (§5), 401 with a
//! `WWW-Authenticate: DPoP` challenge at a protected resource (§7.1).

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::digest::{digest, SHA256};
use ring::hmac;
use serde::Deserialize;
use url::Url;

use crate::client_assertion::{numeric_date, MAX_CLOCK_SKEW, MAX_JTI_LEN};
use crate::jose::{
    unverified_header, verify_compact, Algorithm, JoseError, Jwk, PRIVATE_JWK_MEMBERS,
};
use crate::secret::constant_time_eq;
use crate::security_profile::SecurityProfile;
use crate::time::UnixTime;

/// Longest proof accepted, checked before anything is parsed.
pub const MAX_DPOP_PROOF_LEN: usize = 8 * 1024;

/// The `typ` of a DPoP proof (RFC 9449 §4.2).
pub const DPOP_PROOF_TYPE: &str = "dpop+jwt";

/// The rules DPoP proofs are held to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DpopPolicy {
    /// Signature algorithms accepted (§4.3 item 5; default all of [`Algorithm::ALL`]:
    /// RS256, PS256, ES256, EdDSA). `none` and HMAC cannot be named.
    pub algorithms: Vec<Algorithm>,
    /// How far in the past `iat` may be (default 60 s): also how long the replay cache keeps a
    /// `jti` (§11.1).
    pub max_age: Duration,
    /// How far ahead of now `iat` may be (default 10 s; at most [`MAX_CLOCK_SKEW`], larger
    /// values count as that).
    pub max_skew: Duration,
    /// Every proof must carry a server nonce (§8, §9; default off: a client may still be
    /// held to one on its own).
    pub require_nonce: bool,
    /// How long a nonce is handed out before the next replaces it; each is accepted for
    /// twice this long (default 5 minutes).
    pub nonce_period: Duration,
}

impl Default for DpopPolicy {
    fn default() -> Self {
        Self {
            algorithms: Algorithm::ALL.to_vec(),
            max_age: Duration::from_secs(60),
            max_skew: Duration::from_secs(10),
            require_nonce: false,
            nonce_period: Duration::from_secs(300),
        }
    }
}

impl DpopPolicy {
    /// This policy for a client of `profile`: its algorithms narrowed to those the profile
    /// allows (FAPI 2.0 §5.4.1: PS256, ES256, EdDSA), the rest unchanged.
    pub fn for_profile(&self, profile: SecurityProfile) -> Self {
        let mut policy = self.clone();
        policy.algorithms.retain(|a| profile.allows_algorithm(*a));
        policy
    }
}

/// The request a proof is checked against.
#[derive(Debug, Clone, Copy)]
pub struct DpopRequest<'a> {
    /// The HTTP method, as sent (`POST`).
    pub method: &'a str,
    /// The request's absolute target URI (RFC 9110 §7.1); its query and fragment are ignored.
    pub uri: &'a str,
    /// The access token presented with the proof, if any (at a protected resource).
    pub access_token: Option<&'a str>,
    /// The server's nonces, when the proof must carry one (§8, §9).
    pub nonce: Option<&'a DpopNonces>,
}

/// A proof that passed every check: its `jti` must still be spent once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedDpopProof {
    /// The RFC 7638 SHA-256 thumbprint of the proof's key, base64url: the `jkt` a token is
    /// bound to (§6.1).
    pub jkt: String,
    /// The proof's `jti`, to spend once in the replay cache (§11.1).
    pub jti: String,
    /// Until when the `jti` must stay spent: the first second the proof is refused as too old,
    /// `iat` + [`DpopPolicy::max_age`] + 1 s (a replay cache entry is gone at its
    /// `expires_at`, and a proof exactly `max_age` old is still accepted).
    pub replay_until: UnixTime,
}

/// Why a proof was refused. The message never contains the proof or the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// Longer than [`MAX_DPOP_PROOF_LEN`].
    #[error("the DPoP proof is too long")]
    TooLong,
    /// Not one compact JWS with a JSON header and claims (§4.3 items 2, 3).
    #[error("the DPoP proof is not a well-formed JWT")]
    Malformed,
    /// `typ` is not `dpop+jwt` (§4.3 item 4).
    #[error("the DPoP proof's typ must be dpop+jwt")]
    WrongType,
    /// `alg` is missing, `none`, symmetric or not allowed (§4.3 item 5).
    #[error("the DPoP proof's algorithm is not allowed")]
    AlgorithmNotAllowed,
    /// `jwk` is missing, not a usable public key, or does not fit `alg` (§4.2).
    #[error("the DPoP proof's jwk is not a usable public key")]
    InvalidKey,
    /// `jwk` has private or symmetric key members (§4.3 item 7).
    #[error("the DPoP proof's jwk contains a private key")]
    PrivateKey,
    /// The signature does not verify with `jwk` (§4.3 item 6).
    #[error("the DPoP proof's signature is invalid")]
    InvalidSignature,
    /// `jti` is missing, empty or too long (§4.2).
    #[error("the DPoP proof needs a jti")]
    InvalidJti,
    /// `htm` is missing or is not the request's method (§4.3 item 8).
    #[error("the DPoP proof's htm does not match the request")]
    WrongMethod,
    /// `htu` is missing or is not the request's URI (§4.3 item 9).
    #[error("the DPoP proof's htu does not match the request")]
    WrongUri,
    /// `iat` is missing or outside the accepted window (§4.3 item 11).
    #[error("the DPoP proof's iat is missing or outside the accepted window")]
    IssuedAt,
    /// `ath` is missing or is not the hash of the presented access token (§4.3 item 12).
    #[error("the DPoP proof's ath does not match the access token")]
    AccessTokenHash,
    /// The server requires a nonce and the proof's `nonce` is missing or another (§8, §9).
    #[error("the DPoP proof must carry the server's nonce")]
    UseNonce,
}

impl DpopError {
    /// The OAuth error code: `use_dpop_nonce` for [`DpopError::UseNonce`] (§8, §9),
    /// `invalid_dpop_proof` for every other (§5, §7.1). The HTTP status is the endpoint's:
    /// 400 at the token endpoint, 401 with a `DPoP` challenge at a protected resource.
    pub fn error_code(self) -> &'static str {
        match self {
            Self::UseNonce => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }
}

/// What a JOSE failure means once the proof's `alg` passed the allow-list: an algorithm
/// refused now is the `jwk`'s own.
impl From<JoseError> for DpopError {
    fn from(e: JoseError) -> Self {
        match e {
            JoseError::InvalidSignature => Self::InvalidSignature,
            JoseError::AlgorithmNotAllowed
            | JoseError::KeyMismatch
            | JoseError::InvalidKey(_)
            | JoseError::NoMatchingKey => Self::InvalidKey,
            _ => Self::Malformed,
        }
    }
}

/// The protected header of a proof (§4.2).
#[derive(Deserialize)]
struct Header {
    typ: Option<String>,
    alg: Option<String>,
    kid: Option<String>,
    jwk: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The claims of a proof (§4.2).
#[derive(Deserialize)]
struct Claims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    #[serde(default, deserialize_with = "numeric_date")]
    iat: Option<UnixTime>,
    ath: Option<String>,
    nonce: Option<String>,
}

/// A DPoP proof (RFC 9449 §4).
#[derive(Debug, Clone, Copy)]
pub struct DpopProof;

impl DpopProof {
    /// Checks `proof`, one `DPoP` header value, for `request` at `now` (RFC 9449 §4.3):
    /// a single JWT of at most [`MAX_DPOP_PROOF_LEN`] bytes; `typ` `dpop+jwt`; `alg` one of
    /// the policy's (refused before any key is used); a public `jwk` fitting `alg` that
    /// verifies the signature; a `jti`; `htm` the method; `htu` the URI, both normalised
    /// (RFC 3986 §6.2.2, §6.2.3) without query and fragment; `iat` no more than `max_age` old
    /// nor `max_skew` ahead; `ath` the hash of the access token when one is presented; and
    /// the server's nonce when one is required.
    pub fn verify(
        proof: &str,
        request: &DpopRequest<'_>,
        policy: &DpopPolicy,
        now: UnixTime,
    ) -> Result<VerifiedDpopProof, DpopError> {
        if proof.len() > MAX_DPOP_PROOF_LEN {
            return Err(DpopError::TooLong);
        }
        let header = read_header(proof)?;
        if !header.typ.as_deref().is_some_and(is_dpop_type) {
            return Err(DpopError::WrongType);
        }
        let alg = header
            .alg
            .as_deref()
            .and_then(Algorithm::parse)
            .filter(|a| policy.algorithms.contains(a))
            .ok_or(DpopError::AlgorithmNotAllowed)?;
        let raw_jwk = header.jwk.ok_or(DpopError::InvalidKey)?;
        if PRIVATE_JWK_MEMBERS.iter().any(|m| raw_jwk.contains_key(*m)) {
            return Err(DpopError::PrivateKey);
        }
        let jwk: Jwk = serde_json::from_value(serde_json::Value::Object(raw_jwk))
            .map_err(|_| DpopError::InvalidKey)?;
        let mut key = jwk.to_verifying_key()?;
        // The key is the header's own: whatever `kid` the header names is this key's.
        key.kid = header.kid;
        let verified = verify_compact(proof, &[key], &[alg])?;
        let jkt = jwk.thumbprint()?;
        let claims: Claims =
            serde_json::from_slice(&verified.payload).map_err(|_| DpopError::Malformed)?;

        let jti = claims
            .jti
            .filter(|j| (1..=MAX_JTI_LEN).contains(&j.len()))
            .ok_or(DpopError::InvalidJti)?;
        if claims.htm.as_deref() != Some(request.method) {
            return Err(DpopError::WrongMethod);
        }
        let same_uri = claims
            .htu
            .as_deref()
            .and_then(normalised_uri)
            .is_some_and(|htu| Some(htu) == normalised_uri(request.uri));
        if !same_uri {
            return Err(DpopError::WrongUri);
        }
        let iat = claims.iat.ok_or(DpopError::IssuedAt)?;
        let latest = now.plus(policy.max_skew.min(MAX_CLOCK_SKEW));
        let too_old = iat.plus(policy.max_age.saturating_add(Duration::from_secs(1)));
        if iat > latest || too_old <= now {
            return Err(DpopError::IssuedAt);
        }
        if let Some(token) = request.access_token {
            let expected = URL_SAFE_NO_PAD.encode(digest(&SHA256, token.as_bytes()));
            let ath = claims.ath.ok_or(DpopError::AccessTokenHash)?;
            if !constant_time_eq(ath.as_bytes(), expected.as_bytes()) {
                return Err(DpopError::AccessTokenHash);
            }
        }
        if let Some(nonces) = request.nonce {
            if !claims.nonce.is_some_and(|n| nonces.accepts(&n, now)) {
                return Err(DpopError::UseNonce);
            }
        }
        Ok(VerifiedDpopProof {
            jkt,
            jti,
            replay_until: too_old,
        })
    }
}

/// The server's DPoP nonces (RFC 9449 §8, §9), stateless and rotating: a nonce names a
/// period of [`DpopPolicy::nonce_period`] and carries an HMAC-SHA256 tag of it under the
/// provider's nonce key, so every node holding the key accepts it without a store. The
/// current period's nonce and the previous one's are accepted: a nonce handed out just
/// before a rotation still works for one period.
pub struct DpopNonces {
    key: hmac::Key,
    period_secs: u64,
}

/// Bytes of the tag a nonce carries (128 bits).
const NONCE_TAG_LEN: usize = 16;

impl DpopNonces {
    /// Nonces under `key` (256 random bits, the same on every node), each handed out for
    /// `period` (at least one second).
    pub fn new(key: &[u8; 32], period: Duration) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
            period_secs: period.as_secs().max(1),
        }
    }

    /// The nonce to hand out at `now` (the `DPoP-Nonce` header).
    pub fn current(&self, now: UnixTime) -> String {
        self.nonce_of(now.secs() / self.period_secs)
    }

    /// Whether `nonce` is the current period's or the previous one's.
    pub fn accepts(&self, nonce: &str, now: UnixTime) -> bool {
        let period = now.secs() / self.period_secs;
        [Some(period), period.checked_sub(1)]
            .into_iter()
            .flatten()
            .any(|p| constant_time_eq(self.nonce_of(p).as_bytes(), nonce.as_bytes()))
    }

    fn nonce_of(&self, period: u64) -> String {
        let tag = hmac::sign(&self.key, &period.to_be_bytes());
        let mut raw = period.to_be_bytes().to_vec();
        raw.extend_from_slice(&tag.as_ref()[..NONCE_TAG_LEN]);
        URL_SAFE_NO_PAD.encode(raw)
    }
}

impl std::fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopNonces")
            .field("period_secs", &self.period_secs)
            .finish_non_exhaustive()
    }
}

/// Whether `typ` is `dpop+jwt` (RFC 7515 §4.1.9's comparison).
fn is_dpop_type(typ: &str) -> bool {
    crate::jose::is_media_type(typ, DPOP_PROOF_TYPE)
}

/// The protected header of a compact JWS with three parts (§4.3 item 2).
fn read_header(proof: &str) -> Result<Header, DpopError> {
    let raw = unverified_header(proof).map_err(|_| DpopError::Malformed)?;
    serde_json::from_value(serde_json::Value::Object(raw)).map_err(|_| DpopError::Malformed)
}

/// An absolute URI without query and fragment, normalised for comparison (§4.3 item 9):
/// scheme and host lowercased, default port and dot segments removed, empty path `/`
/// (RFC 3986 §6.2.2.1, §6.2.2.3, §6.2.3, by the WHATWG parser), percent-encodings of
/// unreserved characters decoded and the others uppercased (§6.2.2.1, §6.2.2.2).
fn normalised_uri(raw: &str) -> Option<String> {
    let mut url = Url::parse(raw).ok()?;
    if url.cannot_be_a_base() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    let path = normalised_percent_encoding(url.path());
    url.set_path(&path);
    Some(url.into())
}

/// `path` with percent-encoded unreserved characters decoded and other percent-encodings
/// in uppercase (RFC 3986 §6.2.2.1, §6.2.2.2).
fn normalised_percent_encoding(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], escaped) {
            (b'%', Some(b)) => {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    out.push(char::from(b));
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
                i += 3;
            }
            _ => {
                out.push(char::from(bytes[i]));
                i += 1;
            }
        }
    }
    out
}
