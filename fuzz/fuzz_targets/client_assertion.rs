//! JWT client assertions (RFC 7523 §2.2) as a token-endpoint form carries them: extraction
//! (`ClientAuthentication::extract`), MAC and signature verification, and the claim rules.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_core::{
    Algorithm, ClientAssertionPolicy, ClientAuthentication, MacAlgorithm, Params,
    PresentedCredentials, SigningKey, UnixTime, VerifyingKey,
};
use ring::rand::SystemRandom;

/// The MAC secret of the seeds' HS256 assertions.
const SECRET: &[u8] = b"fuzz-client-secret-of-32-bytes!!";

fn keys() -> &'static Vec<VerifyingKey> {
    static K: OnceLock<Vec<VerifyingKey>> = OnceLock::new();
    K.get_or_init(|| {
        let rng = SystemRandom::new();
        vec![SigningKey::generate("k1", Algorithm::ES256, &rng)
            .unwrap()
            .verifying_key()]
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(params) = Params::parse(data) else {
        return;
    };
    let Ok(auth) = ClientAuthentication::extract(None, &params) else {
        return;
    };
    let PresentedCredentials::Assertion(assertion) = &auth.credentials else {
        return;
    };
    assert_eq!(auth.client_id, assertion.client_id());
    assert_eq!(auth.credentials.method(), assertion.method());
    let policy = ClientAssertionPolicy::default();
    let now = UnixTime::from_secs(1_700_000_000);
    let audiences = ["https://as.example", "https://as.example/token"];
    for verified in [
        assertion.verify_mac(SECRET, &MacAlgorithm::ALL).ok(),
        assertion.verify_signature(keys(), &Algorithm::ALL).ok(),
    ]
    .into_iter()
    .flatten()
    {
        if let Ok(accepted) = verified.decide(&auth.client_id, &audiences, &policy, now) {
            assert!(accepted.expires_at > now);
        }
    }
});
