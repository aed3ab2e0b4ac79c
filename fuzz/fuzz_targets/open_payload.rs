//! Sealed payloads (`open_payload`), such as the engine's logout tickets. An input is a
//! purpose line and the ticket; without a line break it is a logout ticket. Garbage, altered,
//! mis-purposed or expired tickets are refused without a panic; what opens seals back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_core::{open_payload, seal_payload};
use portcullis_fuzz::{fixed_rng, issuer, key, later, LOGOUT_PURPOSE, MAX_TICKET_LEN, NOW};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The shape of the engine's pending logout.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Logout {
    client_id: Option<String>,
    hint_subject: Option<String>,
    redirect: Option<String>,
    state: Option<String>,
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (purpose, ticket) = text.split_once('\n').unwrap_or((LOGOUT_PURPOSE, text));
    if let Ok((value, expires_at)) = open_payload::<Value>(purpose, ticket, issuer(), key(), NOW) {
        assert!(expires_at > NOW, "an expired ticket opened");
        let again =
            seal_payload(purpose, &value, expires_at, issuer(), key(), &fixed_rng(1)).unwrap();
        match open_payload::<Value>(purpose, &again, issuer(), key(), NOW) {
            Ok(reopened) => assert_eq!(reopened, (value, expires_at)),
            Err(_) => assert!(
                again.len() > MAX_TICKET_LEN,
                "a sealed payload did not open"
            ),
        }
    }
    let _ = open_payload::<Logout>(purpose, ticket, issuer(), key(), NOW);
    // The ticket as what the key protects: any JSON sealed, decoded as a logout.
    if let Ok(value) = serde_json::from_str::<Value>(ticket) {
        let sealed =
            seal_payload(purpose, &value, later(), issuer(), key(), &fixed_rng(2)).unwrap();
        if let Ok((logout, _)) = open_payload::<Logout>(purpose, &sealed, issuer(), key(), NOW) {
            let again =
                seal_payload(purpose, &logout, later(), issuer(), key(), &fixed_rng(3)).unwrap();
            match open_payload::<Logout>(purpose, &again, issuer(), key(), NOW) {
                Ok((reopened, _)) => assert_eq!(reopened, logout),
                Err(_) => assert!(again.len() > MAX_TICKET_LEN, "a sealed logout did not open"),
            }
        }
    }
});
