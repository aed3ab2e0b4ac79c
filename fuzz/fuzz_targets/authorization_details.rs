//! `authorization_details` (RFC 9396 §2): parsed and validated against the testkit's two
//! sample types — `payment_initiation`, whose validator reads nested members and whose subset
//! rule compares amounts, and `account_information`, accepting any well-shaped element — first
//! for any client, then for a client limited to `account_information`. What is accepted is
//! within the bounds, of registered types, round-trips through its stored form, and narrows
//! and approves to itself.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use portcullis_core::{
    AuthorizationDetail, MAX_AUTHORIZATION_DETAILS, MAX_AUTHORIZATION_DETAILS_LEN,
};
use portcullis_testkit::sample_authorization_details_types;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let types = sample_authorization_details_types();
    let accounts = BTreeSet::from(["account_information".to_owned()]);
    for client_types in [None, Some(&accounts)] {
        let Ok(details) = types.parse(text, client_types) else {
            continue;
        };
        assert!(text.len() <= MAX_AUTHORIZATION_DETAILS_LEN);
        assert!(!details.is_empty() && details.len() <= MAX_AUTHORIZATION_DETAILS);
        for d in &details {
            assert!(types.names().any(|n| n == d.detail_type()));
            assert!(client_types.is_none_or(|t| t.contains(d.detail_type())));
        }
        let stored = serde_json::to_string(&details).unwrap();
        let back: Vec<AuthorizationDetail> = serde_json::from_str(&stored).unwrap();
        assert_eq!(back, details);
        assert_eq!(
            types.parse(&stored, client_types).ok().as_ref(),
            (stored.len() <= MAX_AUTHORIZATION_DETAILS_LEN).then_some(&details)
        );
        assert_eq!(types.narrow(None, &details).unwrap(), details);
        assert_eq!(
            types.narrow(Some(details.clone()), &details).unwrap(),
            details
        );
        assert_eq!(types.approved(&details, None), details);
        assert_eq!(types.approved(&details, Some(&details)), details);
        assert!(types.approved(&[], Some(&details)).is_empty());
    }
});
