//! The `Cookie` header and the CSRF token of the host pages' forms, as `SessionManager`
//! reads them on every request: the session cookie, the login binding cookie, and the
//! session-bound and login CSRF tokens. Input: the `Cookie` header value, a newline, then the
//! submitted token. Nothing the fuzzer writes may pass a CSRF check (it does not know the
//! key), and a binding cookie is reused only when it has the shape of one.
#![no_main]

use std::sync::{Arc, OnceLock};

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::issuer;
use portcullis_interaction::SessionManager;
use portcullis_store_memory::MemoryStore;

fn sessions() -> &'static SessionManager {
    static S: OnceLock<SessionManager> = OnceLock::new();
    S.get_or_init(|| {
        SessionManager::builder(issuer().clone(), Arc::new(MemoryStore::new()))
            .csrf_key([0x3c; 32])
            .build()
            .expect("a session manager")
    })
}

fuzz_target!(|data: &[u8]| {
    let (cookie, token) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(value) = HeaderValue::from_bytes(cookie) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, value);
    let token = std::str::from_utf8(token).ok();
    let sessions = sessions();
    for purpose in ["consent", ""] {
        assert!(!sessions.check_csrf(&headers, purpose, token));
        assert!(!sessions.check_login_csrf(&headers, purpose, token));
    }
    let binding = sessions.login_binding(&headers).expect("randomness");
    if binding.set_cookie().is_none() {
        // A reused binding signs a token that checks against the same headers.
        let ticket = "ticket";
        let token = sessions.login_csrf_token(&binding, ticket);
        assert!(sessions.check_login_csrf(&headers, ticket, Some(&token)));
    }
});
