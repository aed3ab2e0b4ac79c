//! `client_secret_jwt` secrets (OpenID Connect Core §9): the server needs the secret itself
//! to check a MAC, so it cannot keep a hash. It keeps the secret sealed with AES-256-GCM
//! under the host's key-encryption key (the envelope of [`crate::key_encryption`]), bound
//! to the issuer and the `client_id`: a copy of the store yields no secret, and a sealed
//! secret moved to another client or issuer does not open.

use std::fmt;

use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};

use crate::issuer::Issuer;
use crate::key_encryption::{
    standard_base64, EnvelopeFormat, KeyEncryptionKeys, KeySealError, OpenFailure,
};
use crate::secret::{RandomError, SecretToken};

/// Sealed client secrets.
const CLIENT_SECRET: EnvelopeFormat = EnvelopeFormat::new(b"PCS1", b"portcullis client secret v1");

/// The shortest secret accepted: HMAC-SHA256 wants a key of at least its output size
/// (RFC 7518 §3.2).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// Why a `client_secret_jwt` secret could not be sealed or opened. Never shows the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientSecretSealError {
    /// Shorter than [`MIN_JWT_SECRET_BYTES`].
    #[error("a client_secret_jwt secret must be at least 32 bytes")]
    TooShort,
    /// No key-encryption key is configured: the secret can be neither sealed nor opened.
    #[error("client_secret_jwt needs a key-encryption key (ProviderBuilder::key_encryption_keys)")]
    NoKek,
    /// Sealed under a KEK that is not configured.
    #[error("the client secret is sealed under key-encryption key {0:?}, which is not configured")]
    UnknownKek(String),
    /// The KEK does not open it: another key under that id, or a record altered or moved.
    #[error("the client secret does not open with key-encryption key {0:?}: a wrong key, or an altered or moved record")]
    WrongKekOrAltered(String),
    /// Not a sealed client secret.
    #[error("the stored client secret is not sealed")]
    Malformed,
    /// The random number generator failed while sealing.
    #[error("the random number generator failed")]
    Random,
}

/// A `client_secret_jwt` secret in the clear: the HMAC key is its UTF-8 bytes (what
/// clients use). Its `Debug` output is redacted.
#[derive(Clone)]
pub struct JwtClientSecret(String);

impl JwtClientSecret {
    /// 256 random bits, base64url-encoded (43 characters).
    pub fn generate(rng: &dyn SecureRandom) -> Result<Self, RandomError> {
        SecretToken::generate(rng).map(|t| Self(t.expose().to_owned()))
    }

    /// A secret the host chose: at least [`MIN_JWT_SECRET_BYTES`] bytes.
    pub fn new(secret: impl Into<String>) -> Result<Self, ClientSecretSealError> {
        let secret = secret.into();
        if secret.len() < MIN_JWT_SECRET_BYTES {
            return Err(ClientSecretSealError::TooShort);
        }
        Ok(Self(secret))
    }

    /// The secret, to hand to the client once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for JwtClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtClientSecret(<redacted>)")
    }
}

/// A `client_secret_jwt` secret as stored: sealed under a KEK, bound to its issuer and
/// client. Serialized as standard base64; its `Debug` output names the KEK only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedClientSecret(#[serde(with = "standard_base64")] Vec<u8>);

impl SealedClientSecret {
    /// Seals `secret` for `client_id` of `issuer` under the current KEK of `keks`.
    pub fn seal(
        secret: &JwtClientSecret,
        issuer: &Issuer,
        client_id: &str,
        keks: &KeyEncryptionKeys,
        rng: &dyn SecureRandom,
    ) -> Result<Self, ClientSecretSealError> {
        CLIENT_SECRET
            .seal(secret.0.as_bytes(), &bound(issuer, client_id), keks, rng)
            .map(Self)
            .map_err(|_: KeySealError| ClientSecretSealError::Random)
    }

    /// Opens the secret of `client_id` of `issuer`.
    pub fn open(
        &self,
        issuer: &Issuer,
        client_id: &str,
        keks: Option<&KeyEncryptionKeys>,
    ) -> Result<JwtClientSecret, ClientSecretSealError> {
        let header = CLIENT_SECRET
            .header(&self.0)
            .ok_or(ClientSecretSealError::Malformed)?;
        let keks = keks.ok_or(ClientSecretSealError::NoKek)?;
        let plain = CLIENT_SECRET
            .open(&self.0, header, &bound(issuer, client_id), keks)
            .map_err(|failure| match failure {
                OpenFailure::UnknownKek(id) => ClientSecretSealError::UnknownKek(id.to_owned()),
                OpenFailure::WrongKekOrAltered(id) => {
                    ClientSecretSealError::WrongKekOrAltered(id.to_owned())
                }
            })?;
        String::from_utf8(plain)
            .map(JwtClientSecret)
            .map_err(|_| ClientSecretSealError::Malformed)
    }

    /// The id of the KEK it is sealed under, if it is sealed.
    pub fn kek_id(&self) -> Option<&str> {
        CLIENT_SECRET.header(&self.0).map(|(id, _)| id)
    }
}

fn bound<'a>(issuer: &'a Issuer, client_id: &'a str) -> [&'a [u8]; 2] {
    [issuer.as_str().as_bytes(), client_id.as_bytes()]
}

impl fmt::Debug for SealedClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedClientSecret(kek: {:?})", self.kek_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyEncryptionKey;
    use ring::rand::SystemRandom;

    fn keks(id: &str, byte: u8) -> KeyEncryptionKeys {
        KeyEncryptionKeys::new(KeyEncryptionKey::new(id, &[byte; 32]).unwrap())
    }

    #[test]
    fn sealed_secrets_open_only_for_their_issuer_and_client() {
        let rng = SystemRandom::new();
        let iss = Issuer::parse("https://as.example").unwrap();
        let other = Issuer::parse("https://other.example").unwrap();
        let k = keks("k1", 1);
        let secret = JwtClientSecret::generate(&rng).unwrap();
        assert_eq!(secret.expose().len(), 43);
        let sealed = SealedClientSecret::seal(&secret, &iss, "app", &k, &rng).unwrap();
        let raw = serde_json::to_string(&sealed).unwrap();
        assert!(!raw.contains(secret.expose()));
        assert!(!format!("{sealed:?}{secret:?}").contains(secret.expose()));
        let back: SealedClientSecret = serde_json::from_str(&raw).unwrap();
        assert_eq!(back.kek_id(), Some("k1"));
        let opened = back.open(&iss, "app", Some(&k)).unwrap();
        assert_eq!(opened.expose(), secret.expose());
        let wrong = ClientSecretSealError::WrongKekOrAltered("k1".into());
        assert_eq!(back.open(&iss, "other", Some(&k)).unwrap_err(), wrong);
        assert_eq!(back.open(&other, "app", Some(&k)).unwrap_err(), wrong);
        assert_eq!(
            back.open(&iss, "app", Some(&keks("k1", 2))).unwrap_err(),
            wrong
        );
        assert_eq!(
            back.open(&iss, "app", Some(&keks("k2", 1))).unwrap_err(),
            ClientSecretSealError::UnknownKek("k1".into())
        );
        assert_eq!(
            back.open(&iss, "app", None).unwrap_err(),
            ClientSecretSealError::NoKek
        );
        let plain = SealedClientSecret(secret.expose().as_bytes().to_vec());
        assert_eq!(
            plain.open(&iss, "app", Some(&k)).unwrap_err(),
            ClientSecretSealError::Malformed
        );
        assert_eq!(plain.kek_id(), None);
    }

    #[test]
    fn secrets_are_at_least_32_bytes() {
        assert_eq!(
            JwtClientSecret::new("x".repeat(31)).unwrap_err(),
            ClientSecretSealError::TooShort
        );
        assert_eq!(
            JwtClientSecret::new("x".repeat(32)).unwrap().expose().len(),
            32
        );
    }
}
