//! The device authorization grant (RFC 8628): a device authorization request form (first
//! line: `Params::parse` + `DeviceAuthorizationRequest::validate` + `issue`), a typed user
//! code (second line: `normalize_user_code`), then a token request form (the rest:
//! `TokenRequest::parse`) polled against the issued record at a time from the input
//! (`decide_device_poll`, `DeviceAuthorizationRecord::polled`). What is issued shows a user
//! code that normalises to its stored hash; a normalised code is 8 characters of the
//! alphabet and normalises to itself; a poll answers only with the device code issued, and
//! every refusal is a 400.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{
    decide_device_poll, normalize_user_code, user_code_hash, Client, ClientKind,
    DeviceAuthorizationPolicy, DeviceAuthorizationRequest, GrantType, Params, ScopeSet, TokenHash,
    TokenRequest, UnixTime, USER_CODE_ALPHABET, USER_CODE_LEN,
};
use portcullis_fuzz::{issuer, NOW};

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(3, |b| *b == b'\n');
    let (form, typed, token) = (
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
    );
    if let Ok(typed) = std::str::from_utf8(typed) {
        if let Some(code) = normalize_user_code(typed) {
            assert_eq!(code.len(), USER_CODE_LEN);
            assert!(code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)));
            assert_eq!(normalize_user_code(&code).as_deref(), Some(code.as_str()));
        }
    }
    let Ok(params) = Params::parse(form) else {
        return;
    };
    let client = Client::new("tv", ClientKind::Public)
        .with_grant_types([GrantType::DeviceCode])
        .with_allowed_scopes(ScopeSet::parse("openid read write").expect("scopes"))
        .with_default_scopes(ScopeSet::parse("read").expect("scopes"));
    let policy = DeviceAuthorizationPolicy {
        verification_uri: Some("https://as.example/device".into()),
        ..DeviceAuthorizationPolicy::default()
    };
    let Ok(request) = DeviceAuthorizationRequest::validate(&params, &client, Vec::new()) else {
        return;
    };
    let rng = ring::rand::SystemRandom::new();
    let issued = request
        .issue("tv", issuer(), &policy, NOW, &rng)
        .expect("the system generator works");
    let shown = &issued.response.user_code;
    assert_eq!(user_code_hash(shown), Some(issued.record.user_code_hash));
    let Ok(token) = Params::parse(token) else {
        return;
    };
    let Ok(TokenRequest::DeviceCode(grant)) = TokenRequest::parse(&token) else {
        return;
    };
    let at = token
        .get("at")
        .and_then(|t| t.parse::<u64>().ok())
        .map_or(NOW, |t| UnixTime::from_secs(NOW.secs().saturating_add(t)));
    let found = (TokenHash::of(&grant.device_code) == issued.record.hash).then_some(&issued.record);
    let record = found.map(|r| r.polled(NOW));
    match decide_device_poll(record.as_ref(), &client, at) {
        Ok(_) => unreachable!("a pending authorization never yields tokens"),
        Err(e) => {
            assert_eq!(e.code.status(), 400);
            assert!(found.is_some() || e.code.as_str() == "invalid_grant");
        }
    }
});
