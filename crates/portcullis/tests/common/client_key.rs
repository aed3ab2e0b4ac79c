//! A client's ES256 key pair: `jsonwebtoken` (an independent implementation) signs client
//! assertions with the private half, the provider gets the public JWK.

use jsonwebtoken::{encode, Algorithm as JwtAlg, EncodingKey, Header};
use portcullis::core::{Algorithm, Jwk, SigningKey};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::Value;

pub struct ClientKey {
    pub kid: String,
    pub der: Vec<u8>,
    pub jwk: Jwk,
}

impl ClientKey {
    pub fn new(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let der = doc.as_ref().to_vec();
        let jwk = SigningKey::from_pkcs8(kid, Algorithm::ES256, &der, &rng)
            .unwrap()
            .public_jwk();
        Self {
            kid: kid.into(),
            der,
            jwk,
        }
    }

    /// A JWT of `claims`, ES256, with this key's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(JwtAlg::ES256);
        header.kid = Some(self.kid.clone());
        encode(&header, claims, &EncodingKey::from_ec_der(&self.der)).unwrap()
    }
}
