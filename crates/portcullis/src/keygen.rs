//! Generating signing keys: ring for ES256 and EdDSA, the `rsa` crate for RSA (ring cannot
//! generate RSA keys), both drawing from the provider's injected `SecureRandom`, on the
//! provider's blocking pool.

use std::sync::Arc;

use portcullis_core::{Algorithm, JoseError, SigningKey};
use ring::rand::SecureRandom;
use rsa::pkcs8::EncodePrivateKey;
use rsa::rand_core::{TryCryptoRng, TryRng};

use crate::blocking::BlockingPool;

/// RSA modulus size: 2048 bits (RFC 7518 §3.3 minimum; ring verifies 2048–8192).
const RSA_BITS: usize = 2048;

/// Adapts ring's `SecureRandom` to the `rand_core` traits the `rsa` crate wants.
struct RingRng<'a>(&'a dyn SecureRandom);

/// ring's generator failed.
#[derive(Debug)]
struct RngFailed;

impl std::fmt::Display for RngFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("random number generator failed")
    }
}

impl std::error::Error for RngFailed {}

impl TryRng for RingRng<'_> {
    type Error = RngFailed;

    fn try_next_u32(&mut self) -> Result<u32, RngFailed> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, RngFailed> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), RngFailed> {
        self.0.fill(dst).map_err(|_| RngFailed)
    }
}

impl TryCryptoRng for RingRng<'_> {}

/// A fresh PKCS#8 private key for `alg`, made on `pool`: an RSA key takes long enough to
/// stall an async worker.
pub(crate) async fn generate_pkcs8_on(
    pool: &BlockingPool,
    alg: Algorithm,
    rng: Arc<dyn SecureRandom + Send + Sync>,
) -> Result<Vec<u8>, JoseError> {
    pool.run(move || generate_pkcs8(alg, rng.as_ref()))
        .await
        .map_err(|_| JoseError::SigningFailed)?
}

/// A fresh PKCS#8 private key for `alg`.
fn generate_pkcs8(alg: Algorithm, rng: &dyn SecureRandom) -> Result<Vec<u8>, JoseError> {
    match alg {
        Algorithm::RS256 | Algorithm::PS256 => {
            let key = rsa::PrivateKey::new(&mut RingRng(rng), RSA_BITS)
                .map_err(|_| JoseError::SigningFailed)?;
            let der = key.to_pkcs8_der().map_err(|_| JoseError::SigningFailed)?;
            Ok(der.as_bytes().to_vec())
        }
        Algorithm::ES256 | Algorithm::EdDSA => {
            let key = SigningKey::generate("new", alg, rng)?;
            Ok(key.pkcs8_der().to_vec())
        }
    }
}
