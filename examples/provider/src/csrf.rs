//! CSRF tokens for the login and consent forms (RFC 6749 §10.12, RFC 9700 §4.7).
//!
//! Each browser gets a random binding cookie; a form's token is the HMAC, under the server's
//! key, of that binding and the pending authorization's ticket. Another site can neither read
//! the binding nor compute the HMAC, so it cannot submit a form a victim's browser will
//! accept, not even with a ticket and token it obtained for itself.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use http::{HeaderMap, HeaderValue};
use ring::hmac;
use ring::rand::SecureRandom;

use crate::cookie;

const LABEL: &[u8] = b"portcullis-example csrf v1\0";

/// Characters in a binding: 256 bits in base64url.
const BINDING_LEN: usize = 43;

/// A browser's binding value, and whether it is new and must be set.
pub(crate) struct Binding {
    pub(crate) value: String,
    fresh: bool,
}

/// Issues and checks CSRF tokens.
pub(crate) struct Csrf {
    key: hmac::Key,
    secure: bool,
}

fn is_binding(value: &str) -> bool {
    value.len() == BINDING_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Csrf {
    pub(crate) fn new(key: hmac::Key, secure: bool) -> Self {
        Self { key, secure }
    }

    fn name(&self) -> &'static str {
        cookie::name("csrf", "__Host-csrf", self.secure)
    }

    fn mac_input(binding: &str, ticket: &str) -> Vec<u8> {
        [LABEL, binding.as_bytes(), b"\0", ticket.as_bytes()].concat()
    }

    /// The browser's binding from its cookie, or a fresh one.
    pub(crate) fn binding(
        &self,
        headers: &HeaderMap,
        rng: &dyn SecureRandom,
    ) -> Result<Binding, ring::error::Unspecified> {
        if let Some(value) = cookie::read(headers, self.name()).filter(|v| is_binding(v)) {
            return Ok(Binding {
                value: value.to_owned(),
                fresh: false,
            });
        }
        let mut bytes = [0u8; 32];
        rng.fill(&mut bytes)?;
        Ok(Binding {
            value: URL_SAFE_NO_PAD.encode(bytes),
            fresh: true,
        })
    }

    /// `Set-Cookie` for a fresh binding; `None` when the browser already has it.
    pub(crate) fn set_cookie(&self, binding: &Binding) -> Option<HeaderValue> {
        binding
            .fresh
            .then(|| cookie::set(self.name(), &binding.value, None, self.secure))
    }

    /// The token for forms carrying `ticket` in the browser bound by `binding`.
    pub(crate) fn token(&self, binding: &str, ticket: &str) -> String {
        let tag = hmac::sign(&self.key, &Self::mac_input(binding, ticket));
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// Checks a submitted token against the request's binding cookie and `ticket`, in
    /// constant time. Returns the binding when the token is valid.
    pub(crate) fn check<'a>(
        &self,
        headers: &'a HeaderMap,
        ticket: &str,
        token: Option<&str>,
    ) -> Option<&'a str> {
        let binding = cookie::read(headers, self.name()).filter(|v| is_binding(v))?;
        let tag = URL_SAFE_NO_PAD.decode(token?).ok()?;
        hmac::verify(&self.key, &Self::mac_input(binding, ticket), &tag).ok()?;
        Some(binding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::COOKIE;
    use ring::rand::SystemRandom;

    fn csrf() -> Csrf {
        Csrf::new(hmac::Key::new(hmac::HMAC_SHA256, b"k"), false)
    }

    fn with_cookie(binding: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_str(&format!("csrf={binding}")).unwrap(),
        );
        h
    }

    #[test]
    fn binding_is_reused_or_created() {
        let c = csrf();
        let rng = SystemRandom::new();
        let fresh = c.binding(&HeaderMap::new(), &rng).unwrap();
        assert!(is_binding(&fresh.value));
        let set = c.set_cookie(&fresh).unwrap();
        assert!(set
            .to_str()
            .unwrap()
            .starts_with(&format!("csrf={}", fresh.value)));
        let again = c.binding(&with_cookie(&fresh.value), &rng).unwrap();
        assert_eq!(again.value, fresh.value);
        assert!(c.set_cookie(&again).is_none());
        let replaced = c.binding(&with_cookie("short"), &rng).unwrap();
        assert!(c.set_cookie(&replaced).is_some());
    }

    #[test]
    fn only_the_right_token_passes() {
        let c = csrf();
        let binding = "b".repeat(BINDING_LEN);
        let headers = with_cookie(&binding);
        let token = c.token(&binding, "ticket");
        assert_eq!(
            c.check(&headers, "ticket", Some(&token)),
            Some(binding.as_str())
        );
        assert!(c.check(&headers, "ticket", None).is_none(), "missing token");
        assert!(
            c.check(&headers, "other", Some(&token)).is_none(),
            "other ticket"
        );
        assert!(
            c.check(&headers, "ticket", Some("AAAA")).is_none(),
            "wrong token"
        );
        let other_browser = with_cookie(&"c".repeat(BINDING_LEN));
        assert!(c.check(&other_browser, "ticket", Some(&token)).is_none());
        assert!(c.check(&HeaderMap::new(), "ticket", Some(&token)).is_none());
        let other_key = Csrf::new(hmac::Key::new(hmac::HMAC_SHA256, b"x"), false);
        assert!(other_key.check(&headers, "ticket", Some(&token)).is_none());
    }
}
