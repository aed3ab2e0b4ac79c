//! Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document): the first
//! line is the `client_id`, the rest the document. `is_client_id_url` and
//! `client_from_metadata_document` never panic; an accepted document describes a valid
//! public client whose id is the URL, and `cache_control_max_age` / `document_max_age`
//! stay within their bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{
    cache_control_max_age, client_from_metadata_document, document_max_age, is_client_id_url,
    ClientKind, RegistrationRules, ScopeSet, MAX_DOCUMENT_AGE, MIN_DOCUMENT_AGE,
};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (first, body) = data.split_at(split);
    let Ok(client_id) = std::str::from_utf8(first) else {
        return;
    };
    let age = document_max_age(cache_control_max_age(client_id));
    assert!((MIN_DOCUMENT_AGE..=MAX_DOCUMENT_AGE).contains(&age));
    let rules = RegistrationRules::new(ScopeSet::parse("openid read").unwrap());
    if let Ok(client) = client_from_metadata_document(client_id, body, &rules) {
        assert!(is_client_id_url(client_id));
        assert_eq!(client.id, client_id);
        assert_eq!(client.kind, ClientKind::Public);
        assert!(client.validate().is_ok());
    }
});
