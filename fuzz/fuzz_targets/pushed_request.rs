//! Pushed authorization requests (RFC 9126): a form pushed by the authenticated client
//! (`Params::parse` + `push_authorization_request`), then its reference resolved at the
//! authorization endpoint (`resolve_pushed_request`). Whatever was accepted when pushed is
//! valid when resolved, with the same DPoP binding; another client never resolves it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{
    push_authorization_request, resolve_pushed_request, validate_pushed_authorization_request,
    Params, Policy, PushContext, UnixTime,
};
use portcullis_fuzz::{client, issuer};

fuzz_target!(|data: &[u8]| {
    let Ok(params) = Params::parse(data) else {
        return;
    };
    let now = UnixTime::from_secs(1_000);
    let context = PushContext {
        client: client(),
        dpop_proof_jkt: None,
        now,
    };
    let rng = ring::rand::SystemRandom::new();
    let policy = Policy::default();
    let Ok(pushed) = push_authorization_request(&params, &context, issuer(), &policy, &rng) else {
        return;
    };
    // The reference is a URN of base64url characters: nothing to percent-encode.
    let front = |client_id: &str| {
        let query = format!("client_id={client_id}&request_uri={}", pushed.request_uri);
        Params::parse(query.as_bytes()).expect("a query this target wrote")
    };
    let record = Some(&pushed.record);
    assert!(resolve_pushed_request(&front("other"), record, issuer(), now).is_err());
    let resolved = resolve_pushed_request(&front("app"), record, issuer(), now)
        .expect("a pushed request resolves for its client");
    assert_eq!(
        resolved.params().get("dpop_jkt"),
        pushed.record.dpop_jkt.as_deref()
    );
    validate_pushed_authorization_request(&resolved, Some(client()), issuer(), &policy)
        .expect("a request accepted when pushed is valid when resolved");
});
