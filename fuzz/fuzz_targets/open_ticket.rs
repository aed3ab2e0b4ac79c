//! Interaction tickets as a host's form returns them (`open_ticket`): garbage, altered or
//! expired tickets are refused without a panic, and whatever the key seals decodes or is
//! refused the same way.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{open_ticket, seal_payload, seal_ticket, AuthorizationRequest, UnixTime};
use portcullis_fuzz::{fixed_rng, issuer, key, later, MAX_TICKET_LEN, NOW, TICKET_PURPOSE};

/// An opened request seals and opens back to itself (unless sealed it is over the bound).
fn round_trips(request: &AuthorizationRequest, expires_at: UnixTime) {
    let again = seal_ticket(request, expires_at, issuer(), key(), &fixed_rng(1)).unwrap();
    match open_ticket(&again, issuer(), key(), NOW) {
        Ok((reopened, at)) => assert_eq!((&reopened, at), (request, expires_at)),
        Err(_) => assert!(again.len() > MAX_TICKET_LEN, "a sealed ticket did not open"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The input as the ticket itself.
    if let Ok((request, expires_at)) = open_ticket(text, issuer(), key(), NOW) {
        assert!(expires_at > NOW, "an expired ticket opened");
        round_trips(&request, expires_at);
    }
    // The input as what the key protects: any JSON sealed as a pending request reaches the
    // decoding of its fields.
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        let sealed = seal_payload(
            TICKET_PURPOSE,
            &value,
            later(),
            issuer(),
            key(),
            &fixed_rng(2),
        )
        .unwrap();
        if let Ok((request, expires_at)) = open_ticket(&sealed, issuer(), key(), NOW) {
            round_trips(&request, expires_at);
        }
    }
});
