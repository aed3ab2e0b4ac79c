//! JWK Set parsing, each key's conversion to a verifying key, and thumbprints.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::JwkSet;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = JwkSet::parse(data) {
        for jwk in &set.keys {
            let _ = jwk.to_verifying_key();
            let _ = jwk.thumbprint();
        }
    }
});
