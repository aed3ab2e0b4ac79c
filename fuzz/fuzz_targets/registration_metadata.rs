//! Dynamic client registration bodies (RFC 7591 §2): the size and depth limits, the JSON
//! parse and the metadata validation (`RegistrationRequest::parse`), every authentication
//! method allowed. What passes must pass its own check again, round-trip through its stored
//! form, have a client kind (given the secret its method needs) and become a client or be
//! refused as metadata.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{
    needs_secret, Algorithm, ClientAuthMethod, ClientMetadata, ClientRegistration,
    ClientSecretHash, KeptSecret, MacAlgorithm, RegistrationRequest, RegistrationRules, ScopeSet,
    TokenHash, UnixTime,
};

fuzz_target!(|data: &[u8]| {
    let rules = RegistrationRules::new(ScopeSet::parse("openid profile read").unwrap())
        .with_auth_methods(
            ClientAuthMethod::ALL.to_vec(),
            Algorithm::ALL.to_vec(),
            MacAlgorithm::ALL.to_vec(),
            true,
        );
    let Ok(request) = RegistrationRequest::parse(data, &rules) else {
        return;
    };
    let metadata = request.metadata;
    assert_eq!(metadata.check(&rules), Ok(()));
    let stored = serde_json::to_vec(&metadata).unwrap();
    let back: ClientMetadata = serde_json::from_slice(&stored).unwrap();
    assert_eq!(back, metadata);
    let method = metadata.token_endpoint_auth_method;
    let secret = needs_secret(method).then(|| {
        if method == ClientAuthMethod::ClientSecretJwt {
            KeptSecret::Sealed(serde_json::from_str("\"AAAA\"").unwrap())
        } else {
            KeptSecret::Hashed(ClientSecretHash::sha256_of_generated(&"s".repeat(43)).unwrap())
        }
    });
    let kind = metadata.client_kind(secret).unwrap();
    let registration =
        ClientRegistration::new(metadata.clone(), TokenHash::of("t"), UnixTime::from_secs(1));
    let _ = metadata.to_client("client".into(), kind, registration);
});
