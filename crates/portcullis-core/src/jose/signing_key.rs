//! Signing keys: private, never printed.

use std::fmt;

use ring::rand::SecureRandom;
use ring::rsa::PublicKeyComponents;
use ring::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};

use super::algorithm::Algorithm;
use super::error::JoseError;
use super::jwk::Jwk;
use super::verifying_key::{PublicMaterial, VerifyingKey};

enum KeyPair {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A private signing key with its `kid` and the one algorithm it signs with.
///
/// Its `Debug` output shows only the `kid` and algorithm.
pub struct SigningKey {
    kid: String,
    alg: Algorithm,
    pair: KeyPair,
    pkcs8: Vec<u8>,
}

impl SigningKey {
    /// Loads a PKCS#8 v1/v2 DER private key for `alg`. RSA keys must be 2048–4096 bits.
    pub fn from_pkcs8(
        kid: impl Into<String>,
        alg: Algorithm,
        pkcs8: &[u8],
        rng: &dyn SecureRandom,
    ) -> Result<Self, JoseError> {
        let pair = match alg {
            Algorithm::RS256 | Algorithm::PS256 => RsaKeyPair::from_pkcs8(pkcs8)
                .map(KeyPair::Rsa)
                .map_err(|_| JoseError::InvalidKey("not an RSA PKCS#8 key of 2048-4096 bits"))?,
            Algorithm::ES256 => {
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, rng)
                    .map(KeyPair::Ecdsa)
                    .map_err(|_| JoseError::InvalidKey("not a P-256 PKCS#8 key"))?
            }
            Algorithm::EdDSA => Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
                .map(KeyPair::Ed25519)
                .map_err(|_| JoseError::InvalidKey("not an Ed25519 PKCS#8 key"))?,
        };
        Ok(Self {
            kid: kid.into(),
            alg,
            pair,
            pkcs8: pkcs8.to_vec(),
        })
    }

    /// Generates a fresh ES256 or EdDSA key with ring. ring cannot generate RSA keys: make
    /// those with a dedicated crate (the engine does) and load them with
    /// [`SigningKey::from_pkcs8`].
    pub fn generate(
        kid: impl Into<String>,
        alg: Algorithm,
        rng: &dyn SecureRandom,
    ) -> Result<Self, JoseError> {
        let doc = match alg {
            Algorithm::ES256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, rng),
            Algorithm::EdDSA => Ed25519KeyPair::generate_pkcs8(rng),
            Algorithm::RS256 | Algorithm::PS256 => {
                return Err(JoseError::InvalidKey("ring cannot generate RSA keys"))
            }
        }
        .map_err(|_| JoseError::SigningFailed)?;
        Self::from_pkcs8(kid, alg, doc.as_ref(), rng)
    }

    /// An RSA key from its components (for published test vectors).
    pub fn rsa_from_components(
        kid: impl Into<String>,
        alg: Algorithm,
        components: &ring::rsa::KeyPairComponents<&[u8]>,
    ) -> Result<Self, JoseError> {
        if !matches!(alg, Algorithm::RS256 | Algorithm::PS256) {
            return Err(JoseError::KeyMismatch);
        }
        let pair = RsaKeyPair::from_components(components)
            .map_err(|_| JoseError::InvalidKey("inconsistent RSA components"))?;
        Ok(Self {
            kid: kid.into(),
            alg,
            pair: KeyPair::Rsa(pair),
            pkcs8: Vec::new(),
        })
    }

    /// An Ed25519 key from its 32-byte seed (for published test vectors).
    pub fn ed25519_from_seed(kid: impl Into<String>, seed: &[u8]) -> Result<Self, JoseError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|_| JoseError::InvalidKey("Ed25519 seed must be 32 bytes"))?;
        Ok(Self {
            kid: kid.into(),
            alg: Algorithm::EdDSA,
            pair: KeyPair::Ed25519(pair),
            pkcs8: Vec::new(),
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The PKCS#8 DER private key, for persisting in a key store. Secret: never log it.
    /// Empty for keys built from components or seeds.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// Signs `message` (the JWS signing input).
    pub fn sign(&self, message: &[u8], rng: &dyn SecureRandom) -> Result<Vec<u8>, JoseError> {
        match &self.pair {
            KeyPair::Rsa(pair) => {
                let encoding: &'static dyn signature::RsaEncoding = match self.alg {
                    Algorithm::PS256 => &signature::RSA_PSS_SHA256,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0u8; pair.public().modulus_len()];
                pair.sign(encoding, rng, message, &mut sig)
                    .map_err(|_| JoseError::SigningFailed)?;
                Ok(sig)
            }
            KeyPair::Ecdsa(pair) => pair
                .sign(rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| JoseError::SigningFailed),
            KeyPair::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }

    /// The public half, with this key's `kid` and algorithm.
    pub fn verifying_key(&self) -> VerifyingKey {
        let material = match &self.pair {
            KeyPair::Rsa(pair) => {
                let c: PublicKeyComponents<Vec<u8>> = pair.public().into();
                PublicMaterial::Rsa { n: c.n, e: c.e }
            }
            KeyPair::Ecdsa(pair) => PublicMaterial::P256(pair.public_key().as_ref().to_vec()),
            KeyPair::Ed25519(pair) => PublicMaterial::Ed25519(pair.public_key().as_ref().to_vec()),
        };
        VerifyingKey {
            kid: Some(self.kid.clone()),
            alg: Some(self.alg),
            material,
        }
    }

    /// The public JWK to publish (`kty`, `kid`, `use: sig`, `alg`, key material only).
    pub fn public_jwk(&self) -> Jwk {
        self.verifying_key().to_jwk()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}
