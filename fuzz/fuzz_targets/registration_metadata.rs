//! Dynamic client registration bodies (RFC 7591 §2): the size and depth limits, the JSON
//! parse and the metadata validation (`RegistrationRequest::parse`). What passes must pass
//! its own check again, round-trip through its stored form, and become a valid client.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{
    client_kind, ClientMetadata, ClientRegistration, ClientSecretHash, RegistrationRequest,
    RegistrationRules, ScopeSet, TokenHash, UnixTime,
};

fuzz_target!(|data: &[u8]| {
    let rules = RegistrationRules::new(ScopeSet::parse("openid profile read").unwrap());
    let Ok(request) = RegistrationRequest::parse(data, &rules) else {
        return;
    };
    let metadata = request.metadata;
    assert_eq!(metadata.check(&rules), Ok(()));
    let stored = serde_json::to_vec(&metadata).unwrap();
    let back: ClientMetadata = serde_json::from_slice(&stored).unwrap();
    assert_eq!(back, metadata);
    let secret = ClientSecretHash::sha256_of_generated(&"s".repeat(43)).unwrap();
    let kind = client_kind(metadata.token_endpoint_auth_method, Some(secret)).unwrap();
    let registration =
        ClientRegistration::new(metadata.clone(), TokenHash::of("t"), UnixTime::from_secs(1));
    let _ = metadata.to_client("client".into(), kind, registration);
});
