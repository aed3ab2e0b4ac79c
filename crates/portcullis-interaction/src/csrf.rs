//! CSRF tokens for the host's forms (RFC 6749 §10.12, RFC 9700 §4.7): an HMAC, under the
//! server's key, of what the form is bound to.
//!
//! * **Signed in** (consent, logout confirmation, account actions): bound to the session id
//!   (through its hash) and the form's purpose (its ticket). Another site knows neither the
//!   id nor the key, and a cookie it plants cannot help it: the token it could obtain for a
//!   session of its own does not verify against the victim's session. A planted session
//!   cookie would make the browser act for the attacker's session, never the victim's.
//! * **Before sign-in** (the login form, no session yet): bound to a random per-browser
//!   binding cookie and the ticket. This is the classic double-submit defence, and a cookie
//!   planted by a sibling domain or over plain `http` could defeat it (login CSRF: the
//!   victim signed in as the attacker). The binding is therefore `__Host-` prefixed and
//!   `Secure` on `https` issuers (no sibling domain can set it), the login form acts for
//!   no one yet (it only checks a password), and everything after it is bound to the
//!   session that sign-in creates, under a label the login tokens never carry.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use portcullis::core::TokenHash;
use ring::hmac;

const SESSION_LABEL: &[u8] = b"portcullis csrf session v1\0";
const LOGIN_LABEL: &[u8] = b"portcullis csrf login v1\0";

/// Characters of a binding: 256 bits in base64url.
pub(crate) const BINDING_LEN: usize = 43;

/// Whether `value` has the shape of a binding (or a session id): 43 base64url characters.
pub(crate) fn is_random_value(value: &str) -> bool {
    value.len() == BINDING_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn session_input(session: &TokenHash, purpose: &str) -> Vec<u8> {
    [SESSION_LABEL, session.as_bytes(), purpose.as_bytes()].concat()
}

fn login_input(binding: &str, ticket: &str) -> Vec<u8> {
    [LOGIN_LABEL, binding.as_bytes(), b"\0", ticket.as_bytes()].concat()
}

fn sign(key: &hmac::Key, input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(hmac::sign(key, input).as_ref())
}

/// Verifies `token` against `input` in constant time.
fn verify(key: &hmac::Key, input: &[u8], token: Option<&str>) -> bool {
    token
        .and_then(|t| URL_SAFE_NO_PAD.decode(t).ok())
        .is_some_and(|tag| hmac::verify(key, input, &tag).is_ok())
}

/// The token of a signed-in form for `purpose`, in the session whose id hashes to `session`.
pub(crate) fn session_token(key: &hmac::Key, session: &TokenHash, purpose: &str) -> String {
    sign(key, &session_input(session, purpose))
}

/// Whether `token` is [`session_token`]'s for `session` and `purpose`.
pub(crate) fn verify_session_token(
    key: &hmac::Key,
    session: &TokenHash,
    purpose: &str,
    token: Option<&str>,
) -> bool {
    verify(key, &session_input(session, purpose), token)
}

/// The token of the login form of `ticket` in the browser bound by `binding`.
pub(crate) fn login_token(key: &hmac::Key, binding: &str, ticket: &str) -> String {
    sign(key, &login_input(binding, ticket))
}

/// Whether `token` is [`login_token`]'s for `binding` and `ticket`.
pub(crate) fn verify_login_token(
    key: &hmac::Key,
    binding: &str,
    ticket: &str,
    token: Option<&str>,
) -> bool {
    verify(key, &login_input(binding, ticket), token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &[u8]) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, k)
    }

    #[test]
    fn a_session_token_verifies_only_for_its_session_purpose_and_key() {
        let (k, s) = (key(b"k"), TokenHash::of("session"));
        let token = session_token(&k, &s, "ticket");
        assert!(verify_session_token(&k, &s, "ticket", Some(&token)));
        assert!(!verify_session_token(&k, &s, "ticket", None));
        assert!(!verify_session_token(&k, &s, "other", Some(&token)));
        assert!(!verify_session_token(
            &k,
            &TokenHash::of("x"),
            "ticket",
            Some(&token)
        ));
        assert!(!verify_session_token(
            &key(b"x"),
            &s,
            "ticket",
            Some(&token)
        ));
        assert!(!verify_session_token(&k, &s, "ticket", Some("AAAA")));
        assert!(!verify_session_token(&k, &s, "ticket", Some("not base64!")));
    }

    #[test]
    fn login_and_session_tokens_never_pass_for_each_other() {
        let k = key(b"k");
        let binding = "b".repeat(BINDING_LEN);
        let login = login_token(&k, &binding, "t");
        assert!(verify_login_token(&k, &binding, "t", Some(&login)));
        assert!(!verify_login_token(
            &k,
            &"c".repeat(BINDING_LEN),
            "t",
            Some(&login)
        ));
        assert!(!verify_login_token(&k, &binding, "u", Some(&login)));
        let s = TokenHash::of(&binding);
        assert!(!verify_session_token(&k, &s, "t", Some(&login)));
        let session = session_token(&k, &s, "t");
        assert!(!verify_login_token(&k, &binding, "t", Some(&session)));
    }

    #[test]
    fn random_values_are_43_base64url_characters() {
        assert!(is_random_value(&"aZ09-_".repeat(8)[..43]));
        assert!(!is_random_value(&"a".repeat(42)));
        assert!(!is_random_value(&"a".repeat(44)));
        assert!(!is_random_value(&format!("{}=", "a".repeat(42))));
    }
}
