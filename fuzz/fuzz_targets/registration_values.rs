//! Values a host or a registration request supplies: redirect URIs, issuers, scopes and
//! stored client-secret hashes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{ClientSecretHash, Issuer, RedirectUri, ScopeSet};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(uri) = RedirectUri::parse(text) {
        assert!(uri.matches(text), "a registered URI matches itself");
    }
    let _ = Issuer::parse(text);
    if let Ok(scopes) = ScopeSet::parse(text) {
        assert_eq!(ScopeSet::parse(&scopes.to_string()).ok(), Some(scopes));
    }
    let _ = ClientSecretHash::parse(text);
});
