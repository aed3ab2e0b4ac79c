//! Answers kept for a refresh grace period (`open_grace_answer`). An input is the old refresh
//! token's line and the sealed answer; without a line break the sealed answer alone, for
//! [`GRACE_REFRESH_TOKEN`]. Garbage, altered, expired answers or the wrong token open nothing
//! and never panic; and any answer, its fields taken from the input's lines, seals and opens
//! back to itself.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use portcullis_core::{open_grace_answer, seal_grace_answer, TokenResponse};
use portcullis_fuzz::{fixed_rng, issuer, GRACE_REFRESH_TOKEN, MAX_TICKET_LEN, NOW};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (token, sealed) = text.split_once('\n').unwrap_or((GRACE_REFRESH_TOKEN, text));
    if let Some(answer) = open_grace_answer(token, sealed, issuer(), NOW) {
        assert_eq!(answer.token_type, "Bearer");
    }

    let mut lines = text.split('\n').map(str::to_owned);
    let response = TokenResponse {
        access_token: lines.next().unwrap_or_default(),
        token_type: "Bearer",
        // From a few seconds to "never": the arithmetic saturates, never overflows.
        expires_in: u64::MAX >> (data.len() % 64),
        refresh_token: lines.next(),
        scope: lines.next(),
        id_token: lines.next(),
        authorization_details: Vec::new(),
        issued_token_type: None,
    };
    let until = NOW.plus(Duration::from_secs(60));
    let sealed = seal_grace_answer(token, &response, NOW, until, issuer(), &fixed_rng(1)).unwrap();
    let racer = NOW.plus(Duration::from_secs(1));
    let Some(opened) = open_grace_answer(token, &sealed, issuer(), racer) else {
        assert!(
            sealed.len() > MAX_TICKET_LEN,
            "a sealed answer did not open"
        );
        return;
    };
    assert_eq!(opened.access_token, response.access_token);
    assert_eq!(opened.refresh_token, response.refresh_token);
    assert_eq!(opened.scope, response.scope);
    assert_eq!(opened.id_token, response.id_token);
    let expires_at = NOW.plus(Duration::from_secs(response.expires_in));
    assert_eq!(opened.expires_in, racer.seconds_until(expires_at));
    assert!(open_grace_answer(token, &sealed, issuer(), until).is_none());
});
