//! The `Authorization` header: Basic client credentials (`ClientAuthentication::extract`)
//! and Bearer tokens (`bearer_credentials`). The whole input is the header value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{bearer_credentials, BearerCredentials, ClientAuthentication, Params};

fuzz_target!(|header: &[u8]| {
    let no_form = Params::parse(b"").expect("an empty form");
    let _ = ClientAuthentication::extract(Some(header), &no_form);
    if let BearerCredentials::Token(token) = bearer_credentials(header) {
        // A token read is a b64token, and reads back the same from a canonical header.
        assert!(!token.is_empty() && token.is_ascii() && !token.contains(' '));
        let canonical = format!("Bearer {token}");
        assert_eq!(
            bearer_credentials(canonical.as_bytes()),
            BearerCredentials::Token(token)
        );
    }
});
