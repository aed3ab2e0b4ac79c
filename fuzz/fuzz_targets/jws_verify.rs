//! Compact JWS parsing and verification against keys of every algorithm.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_core::{verify_compact, Algorithm, SigningKey, VerifyingKey};
use ring::rand::SystemRandom;

fn keys() -> &'static Vec<VerifyingKey> {
    static K: OnceLock<Vec<VerifyingKey>> = OnceLock::new();
    K.get_or_init(|| {
        let rng = SystemRandom::new();
        [Algorithm::ES256, Algorithm::EdDSA]
            .into_iter()
            .map(|alg| {
                SigningKey::generate(format!("k-{alg}"), alg, &rng)
                    .unwrap()
                    .verifying_key()
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data) {
        let _ = verify_compact(token, keys(), &Algorithm::ALL);
    }
});
