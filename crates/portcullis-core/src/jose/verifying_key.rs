//! Verifying keys: public, shared by the signing keys that produce them and the JWKs that
//! carry them.

use ring::rsa::PublicKeyComponents;
use ring::signature::{self, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

use super::algorithm::Algorithm;
use super::error::JoseError;

/// Public key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicMaterial {
    /// RSA modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed P-256 point: `0x04 ‖ x ‖ y`.
    P256(Vec<u8>),
    /// An Ed25519 public key.
    Ed25519(Vec<u8>),
}

impl PublicMaterial {
    /// An RSA key from its big-endian components, leading zeros removed.
    pub(crate) fn rsa(n: &[u8], e: &[u8]) -> Self {
        let strip = |v: &[u8]| v[v.iter().take_while(|&&b| b == 0).count()..].to_vec();
        Self::Rsa {
            n: strip(n),
            e: strip(e),
        }
    }
}

/// A public key that verifies signatures for one algorithm (or, when the JWK named none,
/// any algorithm of its type that the caller allows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    pub(crate) kid: Option<String>,
    pub(crate) alg: Option<Algorithm>,
    pub(crate) material: PublicMaterial,
}

impl VerifyingKey {
    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithm the key is restricted to, if any.
    pub fn alg(&self) -> Option<Algorithm> {
        self.alg
    }

    /// Whether this key's type can verify `alg`, and it is not restricted to another.
    pub(crate) fn fits(&self, alg: Algorithm) -> bool {
        let type_fits = matches!(
            (&self.material, alg),
            (
                PublicMaterial::Rsa { .. },
                Algorithm::RS256 | Algorithm::PS256
            ) | (PublicMaterial::P256(_), Algorithm::ES256)
                | (PublicMaterial::Ed25519(_), Algorithm::EdDSA)
        );
        type_fits && self.alg.is_none_or(|a| a == alg)
    }

    /// Verifies `signature` over `message` with `alg`.
    pub fn verify(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        if !self.fits(alg) {
            return Err(JoseError::KeyMismatch);
        }
        let ok = match (&self.material, alg) {
            (PublicMaterial::Rsa { n, e }, Algorithm::RS256) => PublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok(),
            (PublicMaterial::Rsa { n, e }, Algorithm::PS256) => PublicKeyComponents { n, e }
                .verify(&signature::RSA_PSS_2048_8192_SHA256, message, sig)
                .is_ok(),
            (PublicMaterial::P256(point), Algorithm::ES256) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
            (PublicMaterial::Ed25519(x), Algorithm::EdDSA) => {
                UnparsedPublicKey::new(&signature::ED25519, x)
                    .verify(message, sig)
                    .is_ok()
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(JoseError::InvalidSignature)
        }
    }
}
