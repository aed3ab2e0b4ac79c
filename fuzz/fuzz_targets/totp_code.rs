//! The second factor's inputs (`portcullis_interaction`): a TOTP secret as a configuration
//! gives it (`TotpSecret::from_base32`, RFC 4648 §6), and a code as a login form submits it
//! (`TotpCheck::verify`, RFC 6238). Input: the base32 secret, a newline, then the code. A
//! secret that parses holds at least 16 bytes; a code that passes is 6 ASCII digits, and the
//! same code at the same time never passes twice.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::{issuer, ready, NOW};
use portcullis_interaction::{TotpCheck, TotpSecret};
use portcullis_store_memory::MemoryStore;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (secret, code) = text.split_once('\n').unwrap_or((text, ""));
    let Ok(secret) = TotpSecret::from_base32(secret) else {
        return;
    };
    let check = TotpCheck::new(Arc::new(MemoryStore::new()), issuer().clone());
    let first = ready(check.verify("alice", &secret, code, NOW)).expect("a memory store");
    if first {
        assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
        let again = ready(check.verify("alice", &secret, code, NOW)).expect("a memory store");
        assert!(!again, "a code passed twice");
    }
});
