//! Signing JWS (ID tokens, JWT access tokens, JWT introspection responses) through a trait,
//! so that a key in a KMS or an HSM never enters the process.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use portcullis_core::{Algorithm, SigningKey, UnsignedJws, VerifyingKey};
use ring::rand::SecureRandom;

/// A signer failed. The source is kept for the host's logs; a client only ever sees
/// `temporarily_unavailable`.
#[derive(Debug, thiserror::Error)]
#[error("the signer failed")]
pub struct SignError {
    #[source]
    source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl SignError {
    /// A failure caused by `source` (the KMS's or HSM's error, say).
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self {
            source: source.into(),
        }
    }
}

/// One signing key and the one algorithm it signs with (RFC 7515, RFC 7518 §3).
///
/// The provider's own keys sign through [`RingSigner`]. A host whose keys live in a KMS or
/// an HSM implements it and hands it to
/// [`ProviderBuilder::signer`](crate::ProviderBuilder::signer): the provider then signs
/// everything of that algorithm with it, publishes its public key in the JWKS, and keeps no
/// key of that algorithm in its key store.
#[async_trait]
pub trait JwsSigner: Send + Sync + 'static {
    /// The key id, put in every JWS header and in the JWKS.
    fn kid(&self) -> &str;

    /// The algorithm.
    fn alg(&self) -> Algorithm;

    /// The public key, published in the JWKS (with this signer's `kid` and `alg`).
    fn verifying_key(&self) -> VerifyingKey;

    /// Signs the JWS signing input (RFC 7515 §5.1), returning the signature in the form
    /// the algorithm defines (RFC 7518 §3: for ES256 the 64-byte `R ‖ S`, not DER).
    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError>;
}

/// A [`JwsSigner`] holding a ring key in the process: the provider's own keys, loaded from
/// its key store. Its `Debug` output shows only the `kid` and algorithm.
pub struct RingSigner {
    key: SigningKey,
    rng: Arc<dyn SecureRandom + Send + Sync>,
}

impl RingSigner {
    /// Signs with `key`, drawing from `rng` where the algorithm needs randomness.
    pub fn new(key: SigningKey, rng: Arc<dyn SecureRandom + Send + Sync>) -> Self {
        Self { key, rng }
    }
}

impl fmt::Debug for RingSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RingSigner").field(&self.key).finish()
    }
}

#[async_trait]
impl JwsSigner for RingSigner {
    fn kid(&self) -> &str {
        self.key.kid()
    }

    fn alg(&self) -> Algorithm {
        self.key.alg()
    }

    fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        self.key
            .sign(signing_input, self.rng.as_ref())
            .map_err(SignError::new)
    }
}

/// Signs `unsigned` with `signer`: the compact JWS.
pub(crate) async fn sign_jws(
    signer: &dyn JwsSigner,
    unsigned: UnsignedJws,
) -> Result<String, SignError> {
    let signature = signer.sign(unsigned.signing_input()).await?;
    Ok(unsigned.with_signature(&signature))
}
