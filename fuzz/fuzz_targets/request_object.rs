//! Request objects (RFC 9101): `verify_request_object` and `unsigned_request_object` on a
//! token from the input, then the claim rules and the claims-to-parameters conversion
//! (`VerifiedRequestObject::decide`, `params`).
//!
//! Input starting with `{` is taken as claims and signed with a fixed Ed25519 key, so
//! mutations reach the claim rules and the conversion; anything else is checked as is, as a
//! signed object and as an unsigned one of a client that opted in. What is accepted is
//! unexpired, names its client, and carries neither `request` nor `request_uri`.
#![no_main]

use std::sync::OnceLock;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use libfuzzer_sys::fuzz_target;
use portcullis_core::{
    unsigned_request_object, verify_request_object, Algorithm, Client, ClientKind,
    ClientRequestObjects, RequestObjectPolicy, SigningKey, UnixTime, VerifyingKey,
};
use ring::rand::SystemRandom;

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);
const ISSUER: &str = "https://as.example";

/// The fixed key and the encoded header of the signed objects.
fn signer() -> &'static (SigningKey, Vec<VerifyingKey>, String) {
    static K: OnceLock<(SigningKey, Vec<VerifyingKey>, String)> = OnceLock::new();
    K.get_or_init(|| {
        let key = SigningKey::ed25519_from_seed("jar", &[7; 32]).unwrap();
        let header =
            serde_json::json!({"typ": "oauth-authz-req+jwt", "alg": "EdDSA", "kid": "jar"});
        let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap());
        let keys = vec![key.verifying_key()];
        (key, keys, header)
    })
}

/// A client that accepts unsigned objects.
fn client() -> &'static Client {
    static C: OnceLock<Client> = OnceLock::new();
    C.get_or_init(|| {
        Client::new("app", ClientKind::Public).with_request_objects(ClientRequestObjects {
            dangerous_allow_unsigned: true,
            ..ClientRequestObjects::default()
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (key, keys, header) = signer();
    let signed;
    let token = if text.starts_with('{') {
        let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(text));
        let sig = key.sign(input.as_bytes(), &SystemRandom::new()).unwrap();
        signed = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
        &signed
    } else {
        text
    };
    let policy = RequestObjectPolicy::default();
    for verified in [
        verify_request_object(token, keys, &Algorithm::ALL).ok(),
        unsigned_request_object(token, client(), &policy).ok(),
    ]
    .into_iter()
    .flatten()
    {
        let converted = verified.params("app");
        if let Err(e) = verified.check_type(client()) {
            assert_eq!(e.code.as_str(), "invalid_request_object");
        }
        match verified.decide("app", ISSUER, &policy, NOW) {
            Ok(accepted) => {
                assert!(accepted.expires_at > NOW);
                assert!(accepted.expires_at <= NOW.plus(policy.max_lifetime));
                let params = &accepted.params;
                assert_eq!(params.get("client_id"), Some("app"));
                assert!(!params.contains("request") && !params.contains("request_uri"));
                assert!(converted.is_ok());
            }
            Err(e) => assert_eq!(e.code.as_str(), "invalid_request_object"),
        }
    }
});
