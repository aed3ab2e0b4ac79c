//! Client secrets, stored only as a hash suited to their entropy.

use std::fmt;
use std::num::NonZeroU32;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::digest::{digest, SHA256};
use ring::pbkdf2;
use ring::rand::SecureRandom;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::secret::{constant_time_eq, RandomError, SecretToken};

/// Why a stored client-secret hash could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientSecretHashError {
    /// The text is not one of the formats [`ClientSecretHash`] writes.
    #[error("unrecognised client secret hash format")]
    Format,
    /// A generated secret shorter than 256 bits cannot use the unstretched hash.
    #[error("secret too short for an unstretched hash: use PBKDF2")]
    TooShort,
}

/// The stored form of a client secret.
///
/// * [`ClientSecretHash::Sha256`] for secrets this server generated with ≥ 256 bits of
///   entropy: guessing is hopeless, so a plain SHA-256 suffices and verification is cheap.
/// * [`ClientSecretHash::Pbkdf2`] for secrets a person chose: PBKDF2-HMAC-SHA256 with a random
///   salt, slowing offline guessing (RFC 6819 §5.1.4.1.3).
///
/// Text form (for config files and stores): `sha256$<b64url>` or
/// `pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>`.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientSecretHash {
    /// SHA-256 of a high-entropy generated secret.
    Sha256([u8; 32]),
    /// PBKDF2-HMAC-SHA256.
    Pbkdf2 {
        /// Iteration count.
        iterations: NonZeroU32,
        /// Random salt.
        salt: Vec<u8>,
        /// Derived key.
        hash: [u8; 32],
    },
}

impl ClientSecretHash {
    /// Hashes a generated secret of at least 43 characters (256 bits in base64url).
    pub fn sha256_of_generated(secret: &str) -> Result<Self, ClientSecretHashError> {
        if secret.len() < 43 {
            return Err(ClientSecretHashError::TooShort);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(digest(&SHA256, secret.as_bytes()).as_ref());
        Ok(Self::Sha256(out))
    }

    /// A new client secret of 256 random bits from `rng` (to hand to the client once), and
    /// the hash to store: the SHA-256 of [`ClientSecretHash::sha256_of_generated`].
    pub fn generate(rng: &dyn SecureRandom) -> Result<(SecretToken, Self), RandomError> {
        let secret = SecretToken::generate(rng)?;
        let hash = Self::Sha256(*secret.hash().as_bytes());
        Ok((secret, hash))
    }

    /// Hashes any secret with PBKDF2-HMAC-SHA256 and a fresh 128-bit salt.
    pub fn pbkdf2(
        secret: &str,
        iterations: NonZeroU32,
        rng: &dyn SecureRandom,
    ) -> Result<Self, RandomError> {
        let mut salt = vec![0u8; 16];
        rng.fill(&mut salt).map_err(|_| RandomError)?;
        let mut hash = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            secret.as_bytes(),
            &mut hash,
        );
        Ok(Self::Pbkdf2 {
            iterations,
            salt,
            hash,
        })
    }

    /// Whether verifying costs a deliberate key stretch (PBKDF2), which a server must not run
    /// on its async workers; the SHA-256 of a generated secret is cheap.
    pub fn is_stretched(&self) -> bool {
        matches!(self, Self::Pbkdf2 { .. })
    }

    /// Whether `presented` is the secret, compared in constant time.
    pub fn verify(&self, presented: &str) -> bool {
        match self {
            Self::Sha256(expected) => {
                constant_time_eq(digest(&SHA256, presented.as_bytes()).as_ref(), expected)
            }
            Self::Pbkdf2 {
                iterations,
                salt,
                hash,
            } => pbkdf2::verify(
                pbkdf2::PBKDF2_HMAC_SHA256,
                *iterations,
                salt,
                presented.as_bytes(),
                hash,
            )
            .is_ok(),
        }
    }

    /// Reads the text form.
    pub fn parse(text: &str) -> Result<Self, ClientSecretHashError> {
        let parts: Vec<&str> = text.split('$').collect();
        match parts.as_slice() {
            ["sha256", h] => Ok(Self::Sha256(decode32(h)?)),
            ["pbkdf2-sha256", iters, salt, h] => Ok(Self::Pbkdf2 {
                iterations: iters.parse().map_err(|_| ClientSecretHashError::Format)?,
                salt: URL_SAFE_NO_PAD
                    .decode(salt)
                    .map_err(|_| ClientSecretHashError::Format)?,
                hash: decode32(h)?,
            }),
            _ => Err(ClientSecretHashError::Format),
        }
    }
}

fn decode32(text: &str) -> Result<[u8; 32], ClientSecretHashError> {
    URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or(ClientSecretHashError::Format)
}

impl fmt::Display for ClientSecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sha256(h) => write!(f, "sha256${}", URL_SAFE_NO_PAD.encode(h)),
            Self::Pbkdf2 {
                iterations,
                salt,
                hash,
            } => write!(
                f,
                "pbkdf2-sha256${iterations}${}${}",
                URL_SAFE_NO_PAD.encode(salt),
                URL_SAFE_NO_PAD.encode(hash)
            ),
        }
    }
}

impl fmt::Debug for ClientSecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sha256(_) => "ClientSecretHash::Sha256(<redacted>)",
            Self::Pbkdf2 { .. } => "ClientSecretHash::Pbkdf2(<redacted>)",
        })
    }
}

impl Serialize for ClientSecretHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClientSecretHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    #[test]
    fn pbkdf2_round_trip() {
        let h = ClientSecretHash::pbkdf2(
            "hunter2",
            NonZeroU32::new(1000).unwrap(),
            &SystemRandom::new(),
        )
        .unwrap();
        assert!(h.verify("hunter2"));
        assert!(!h.verify("hunter3"));
        assert!(h.is_stretched());
        let again = ClientSecretHash::parse(&h.to_string()).unwrap();
        assert!(again.verify("hunter2"));
        assert!(!format!("{h:?}").contains(&h.to_string()));
    }

    #[test]
    fn a_generated_secret_has_256_bits_and_its_sha256_hash() {
        let (secret, hash) = ClientSecretHash::generate(&SystemRandom::new()).unwrap();
        assert_eq!(secret.expose().len(), 43);
        assert_eq!(
            ClientSecretHash::sha256_of_generated(secret.expose()),
            Ok(hash.clone())
        );
        assert!(hash.verify(secret.expose()) && !hash.is_stretched());
        let (other, _) = ClientSecretHash::generate(&SystemRandom::new()).unwrap();
        assert_ne!(secret.expose(), other.expose());
    }

    #[test]
    fn sha256_for_generated_secrets_only() {
        assert_eq!(
            ClientSecretHash::sha256_of_generated("short"),
            Err(ClientSecretHashError::TooShort)
        );
        let secret = "x".repeat(43);
        let h = ClientSecretHash::sha256_of_generated(&secret).unwrap();
        assert!(h.verify(&secret));
        assert!(!h.verify("y"));
        assert!(!h.is_stretched());
        assert_eq!(ClientSecretHash::parse(&h.to_string()).unwrap(), h);
    }

    /// Debug names the kind of hash, never its bytes or salt.
    #[test]
    fn debug_names_the_kind_but_shows_no_hash() {
        let secret = "x".repeat(43);
        let sha = ClientSecretHash::sha256_of_generated(&secret).unwrap();
        assert_eq!(format!("{sha:?}"), "ClientSecretHash::Sha256(<redacted>)");
        let iterations = NonZeroU32::new(1000).unwrap();
        let pbkdf2 = ClientSecretHash::pbkdf2(&secret, iterations, &SystemRandom::new()).unwrap();
        assert_eq!(
            format!("{pbkdf2:?}"),
            "ClientSecretHash::Pbkdf2(<redacted>)"
        );
    }

    #[test]
    fn bad_text_is_refused() {
        for bad in ["", "md5$x", "sha256$", "pbkdf2-sha256$0$AA$AA", "sha256$!!"] {
            assert!(ClientSecretHash::parse(bad).is_err(), "{bad}");
        }
    }
}
