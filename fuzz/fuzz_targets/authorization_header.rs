//! The `Authorization` header: Basic client credentials (`ClientAuthentication::extract`),
//! Bearer tokens (`bearer_credentials`) and Bearer or DPoP tokens (`access_token_credentials`,
//! RFC 9449 §7.1). The whole input is the header value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{
    access_token_credentials, bearer_credentials, AccessTokenCredentials, BearerCredentials,
    ClientAuthentication, Params, TokenScheme,
};

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
    if let AccessTokenCredentials::Token(scheme, token) = access_token_credentials(header) {
        // Either scheme's token is a b64token and reads back the same; only Bearer's is a
        // bearer token.
        assert!(!token.is_empty() && token.is_ascii() && !token.contains(' '));
        let name = match scheme {
            TokenScheme::Bearer => "Bearer",
            TokenScheme::Dpop => "DPoP",
        };
        let canonical = format!("{name} {token}");
        assert_eq!(
            access_token_credentials(canonical.as_bytes()),
            AccessTokenCredentials::Token(scheme, token)
        );
        assert_eq!(
            bearer_credentials(header) == BearerCredentials::Token(token),
            scheme == TokenScheme::Bearer
        );
    }
});
