//! The session cookie: who signed in and when, signed with HMAC-SHA256 and valid until it
//! expires.
//!
//! Value: `b64url(username).auth_time.expires_at.b64url(tag)`, where the tag is the HMAC of
//! everything before it under a label, so a CSRF token can never pass for a session.

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use http::{HeaderMap, HeaderValue};
use portcullis::core::UnixTime;
use ring::hmac;

use crate::cookie;

const LABEL: &[u8] = b"portcullis-example session v1\0";

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    /// Who.
    pub(crate) username: String,
    /// When they entered their password.
    pub(crate) auth_time: UnixTime,
}

/// Seals and opens session cookies.
pub(crate) struct Sessions {
    key: hmac::Key,
    lifetime: Duration,
    secure: bool,
}

fn mac_input(payload: &str) -> Vec<u8> {
    [LABEL, payload.as_bytes()].concat()
}

impl Sessions {
    pub(crate) fn new(key: hmac::Key, lifetime: Duration, secure: bool) -> Self {
        Self {
            key,
            lifetime,
            secure,
        }
    }

    fn name(&self) -> &'static str {
        cookie::name("session", "__Host-session", self.secure)
    }

    /// The cookie value for `session`, expiring one lifetime after its `auth_time`.
    pub(crate) fn seal(&self, session: &Session) -> String {
        let payload = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(&session.username),
            session.auth_time.secs(),
            session.auth_time.plus(self.lifetime).secs()
        );
        let tag = hmac::sign(&self.key, &mac_input(&payload));
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The session in `value`, if the tag verifies (in constant time) and it has not expired.
    pub(crate) fn open(&self, value: &str, now: UnixTime) -> Option<Session> {
        let (payload, tag) = value.rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        hmac::verify(&self.key, &mac_input(payload), &tag).ok()?;
        let mut parts = payload.split('.');
        let (user, auth_time, expires_at) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || now.secs() >= expires_at.parse::<u64>().ok()? {
            return None;
        }
        Some(Session {
            username: String::from_utf8(URL_SAFE_NO_PAD.decode(user).ok()?).ok()?,
            auth_time: UnixTime::from_secs(auth_time.parse().ok()?),
        })
    }

    /// The valid session the request carries, if any.
    pub(crate) fn read(&self, headers: &HeaderMap, now: UnixTime) -> Option<Session> {
        self.open(cookie::read(headers, self.name())?, now)
    }

    /// `Set-Cookie` for `session`.
    pub(crate) fn set_cookie(&self, session: &Session) -> HeaderValue {
        let max_age = Some(self.lifetime.as_secs());
        cookie::set(self.name(), &self.seal(session), max_age, self.secure)
    }

    /// `Set-Cookie` that signs the user out.
    pub(crate) fn clear_cookie(&self) -> HeaderValue {
        cookie::clear(self.name(), self.secure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(key: &[u8]) -> Sessions {
        let key = hmac::Key::new(hmac::HMAC_SHA256, key);
        Sessions::new(key, Duration::from_secs(100), false)
    }

    fn alice() -> Session {
        Session {
            username: "alice".into(),
            auth_time: UnixTime::from_secs(1000),
        }
    }

    #[test]
    fn round_trip_until_expiry() {
        let s = sessions(b"k");
        let value = s.seal(&alice());
        assert_eq!(s.open(&value, UnixTime::from_secs(1000)), Some(alice()));
        assert_eq!(s.open(&value, UnixTime::from_secs(1099)), Some(alice()));
        assert_eq!(s.open(&value, UnixTime::from_secs(1100)), None, "expired");
    }

    #[test]
    fn tampered_cookies_are_refused() {
        let s = sessions(b"k");
        let value = s.seal(&alice());
        let now = UnixTime::from_secs(1000);
        // Another user, a later expiry, a foreign key, a truncated or missing tag.
        let (payload, tag) = value.rsplit_once('.').unwrap();
        let mallory = payload.replacen(&URL_SAFE_NO_PAD.encode("alice"), "bWFsbG9yeQ", 1);
        let longer = payload.replace(".1100", ".9999");
        for forged in [
            format!("{mallory}.{tag}"),
            format!("{longer}.{tag}"),
            sessions(b"other").seal(&alice()),
            format!("{payload}.{}", &tag[..10]),
            payload.to_owned(),
            String::new(),
        ] {
            assert_eq!(s.open(&forged, now), None, "{forged}");
        }
    }

    #[test]
    fn cookie_attributes() {
        let s = sessions(b"k");
        let v = s.set_cookie(&alice());
        let v = v.to_str().unwrap();
        assert!(v.starts_with("session="), "{v}");
        assert!(v.contains("; HttpOnly; SameSite=Lax; Max-Age=100"), "{v}");
        assert!(!v.contains("Secure"));
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"k");
        let secure = Sessions::new(key, Duration::from_secs(1), true).set_cookie(&alice());
        let secure = secure.to_str().unwrap();
        assert!(secure.starts_with("__Host-session=") && secure.ends_with("; Secure"));
    }
}
