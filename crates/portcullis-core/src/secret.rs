//! Bearer secrets (codes, access and refresh tokens) and their stored hashes.

use std::fmt;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::digest::{digest, SHA256};
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};

/// The injected random source failed; nothing was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the random number generator failed")]
pub struct RandomError;

/// Bytes of randomness in every code and token: 256 bits (RFC 6749 §10.10, RFC 9700 §4.5.3).
const SECRET_BYTES: usize = 32;

/// A freshly minted bearer secret, handed to the client exactly once and never stored.
///
/// Its `Debug` output is redacted so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl SecretToken {
    /// 256 random bits from `rng`, base64url-encoded without padding (43 characters).
    pub fn generate(rng: &dyn SecureRandom) -> Result<Self, RandomError> {
        let mut bytes = [0u8; SECRET_BYTES];
        rng.fill(&mut bytes).map_err(|_| RandomError)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Wraps a self-contained token (a signed JWT) that is handed out like a random one.
    pub(crate) fn signed(token: String) -> Self {
        Self(token)
    }

    /// The value to send to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hash under which the secret's record is stored.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

/// SHA-256 of a bearer secret: the only form in which codes and tokens are stored.
///
/// A 256-bit random secret needs no salt or stretching: the hash is preimage-resistant and
/// lets a presented secret be found by an index lookup.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of a presented secret.
    pub fn of(secret: &str) -> Self {
        let d = digest(&SHA256, secret.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Self(out)
    }

    /// The hash of an id made of several parts (e.g. a client and its assertion's `jti`),
    /// each length-prefixed so that no two lists of parts share a hash.
    pub fn of_parts(parts: &[&[u8]]) -> Self {
        let mut ctx = ring::digest::Context::new(&SHA256);
        for part in parts {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        Self(out)
    }

    /// Rebuilds a hash read back from a store.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw hash bytes, for a store's key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A prefix is enough to tell records apart in a log and reveals nothing usable.
        write!(f, "TokenHash({}…)", &URL_SAFE_NO_PAD.encode(self.0)[..8])
    }
}

/// Compares two byte strings in time independent of where they differ (the `subtle` crate's
/// comparison; only the lengths, which are public, may leak).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    #[test]
    fn generated_secrets_are_256_bit_base64url_and_distinct() {
        let rng = SystemRandom::new();
        let a = SecretToken::generate(&rng).unwrap();
        let b = SecretToken::generate(&rng).unwrap();
        assert_eq!(a.expose().len(), 43);
        assert!(a
            .expose()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
        assert_eq!(a.hash(), TokenHash::of(a.expose()));
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let rng = SystemRandom::new();
        let a = SecretToken::generate(&rng).unwrap();
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
