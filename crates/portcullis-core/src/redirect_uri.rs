//! Registered redirect URIs and how a requested one is matched against them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

/// Why a redirect URI cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectUriError {
    /// Not an absolute URI (RFC 6749 §3.1.2).
    #[error("redirect URI must be an absolute URI")]
    NotAbsolute,
    /// Carries a fragment (RFC 6749 §3.1.2).
    #[error("redirect URI must not include a fragment")]
    Fragment,
    /// Plain `http` to a host other than a loopback IP literal (RFC 9700 §2.6, RFC 8252 §8.3).
    #[error("plain http redirect URIs are allowed only for loopback IP literals")]
    InsecureHttp,
}

/// A registered redirect URI, kept exactly as registered.
#[derive(Clone, PartialEq, Eq)]
pub struct RedirectUri {
    raw: String,
    loopback: bool,
}

impl RedirectUri {
    /// Validates a URI for registration: absolute, no fragment (RFC 6749 §3.1.2), and `http`
    /// only for the loopback IP literals `127.0.0.1` and `[::1]` of native apps (RFC 8252 §7.3).
    pub fn parse(raw: &str) -> Result<Self, RedirectUriError> {
        let url = Url::parse(raw).map_err(|_| RedirectUriError::NotAbsolute)?;
        if raw.contains('#') {
            return Err(RedirectUriError::Fragment);
        }
        let loopback = split_loopback(raw).is_some();
        if url.scheme() == "http" && !loopback {
            return Err(RedirectUriError::InsecureHttp);
        }
        Ok(Self {
            raw: raw.to_owned(),
            loopback,
        })
    }

    /// The URI as registered.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether `requested` is exactly this registered URI: a case-sensitive string comparison
    /// without normalisation (RFC 6749 §3.1.2.3, RFC 9700 §4.1.3). Confidential clients get
    /// only this.
    pub fn matches(&self, requested: &str) -> bool {
        self.raw == requested
    }

    /// [`RedirectUri::matches`], except that a loopback IP redirect matches with any port:
    /// a native app listens on whatever port the OS gives it (RFC 8252 §7.3). Only for native
    /// apps, which are public clients (RFC 8252 §8.4).
    pub fn matches_for_native_app(&self, requested: &str) -> bool {
        if self.matches(requested) {
            return true;
        }
        if !self.loopback {
            return false;
        }
        match (split_loopback(&self.raw), split_loopback(requested)) {
            (Some(reg), Some(req)) => reg.host == req.host && reg.rest == req.rest,
            _ => false,
        }
    }

    /// Whether a response sent here reaches only the registered client: true for `https`,
    /// whose host the client proves it owns (TLS, or an OS-verified claimed URL, RFC 8252
    /// §7.2); false for loopback and private-use URI schemes, which any local app can listen
    /// on or claim (RFC 8252 §8.6, §8.10).
    pub fn identifies_client(&self) -> bool {
        self.raw
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
    }
}

/// A loopback redirect taken apart at the port: `http://HOST[:PORT]REST`.
struct LoopbackParts<'a> {
    host: &'a str,
    rest: &'a str,
}

/// Splits `http://127.0.0.1[:port]…` or `http://[::1][:port]…`; `None` for anything else.
fn split_loopback(uri: &str) -> Option<LoopbackParts<'_>> {
    let after_scheme = uri.strip_prefix("http://")?;
    let host = ["127.0.0.1", "[::1]"]
        .into_iter()
        .find(|h| after_scheme.starts_with(h))?;
    let mut rest = &after_scheme[host.len()..];
    if let Some(port_and_rest) = rest.strip_prefix(':') {
        let digits = port_and_rest.bytes().take_while(u8::is_ascii_digit).count();
        let port = &port_and_rest[..digits];
        if digits == 0 || digits > 5 || port.parse::<u16>().is_err() {
            return None;
        }
        rest = &port_and_rest[digits..];
    }
    if !(rest.is_empty() || rest.starts_with(['/', '?'])) {
        return None;
    }
    Some(LoopbackParts { host, rest })
}

impl fmt::Debug for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedirectUri").field(&self.raw).finish()
    }
}

impl Serialize for RedirectUri {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for RedirectUri {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RedirectUri::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reg(s: &str) -> RedirectUri {
        RedirectUri::parse(s).unwrap()
    }

    #[test]
    fn registration_rules() {
        assert_eq!(
            RedirectUri::parse("/cb").unwrap_err(),
            RedirectUriError::NotAbsolute
        );
        assert_eq!(
            RedirectUri::parse("https://a.example/cb#x").unwrap_err(),
            RedirectUriError::Fragment
        );
        assert_eq!(
            RedirectUri::parse("http://a.example/cb").unwrap_err(),
            RedirectUriError::InsecureHttp
        );
        assert_eq!(
            RedirectUri::parse("http://localhost/cb").unwrap_err(),
            RedirectUriError::InsecureHttp
        );
        assert!(RedirectUri::parse("http://127.0.0.1/cb").is_ok());
        assert!(RedirectUri::parse("http://[::1]:8000/cb").is_ok());
        assert!(RedirectUri::parse("com.example.app:/oauth2redirect").is_ok());
    }

    #[test]
    fn exact_match_only() {
        let r = reg("https://client.example/cb?x=1");
        assert!(r.matches("https://client.example/cb?x=1"));
        for bad in [
            "https://client.example/cb",
            "https://client.example/cb?x=1&y=2",
            "https://CLIENT.example/cb?x=1",
            "https://client.example/cb/?x=1",
            "https://client.example/%63b?x=1",
            "https://client.example/cb?x=1#f",
            "https://client.example:443/cb?x=1",
            "https://client.example.evil/cb?x=1",
            "https://client.example@evil/cb?x=1",
            "https://client.example/cb/../cb?x=1",
        ] {
            assert!(!r.matches(bad), "{bad}");
            assert!(!r.matches_for_native_app(bad), "{bad}");
        }
    }

    #[test]
    fn loopback_matches_any_port_but_nothing_else() {
        let r = reg("http://127.0.0.1/callback");
        assert!(r.matches_for_native_app("http://127.0.0.1:51004/callback"));
        assert!(r.matches_for_native_app("http://127.0.0.1/callback"));
        for bad in [
            "http://127.0.0.1:51004/callback2",
            "http://127.0.0.1:51004/Callback",
            "http://127.0.0.1:99999/callback",
            "http://127.0.0.1:/callback",
            "http://127.0.0.1.evil/callback",
            "http://127.0.0.1@evil/callback",
            "http://[::1]:5000/callback",
            "http://localhost:5000/callback",
            "https://127.0.0.1:5000/callback",
        ] {
            assert!(!r.matches_for_native_app(bad), "{bad}");
        }
        let v6 = reg("http://[::1]:8000/cb");
        assert!(v6.matches_for_native_app("http://[::1]:1234/cb"));
        assert!(!v6.matches_for_native_app("http://127.0.0.1:1234/cb"));
    }

    /// RFC 8252 §7.3 is for native apps: everyone else matches exactly (RFC 9700 §4.1.3).
    #[test]
    fn only_native_apps_may_vary_the_loopback_port() {
        let r = reg("http://127.0.0.1:9000/cb");
        assert!(r.matches("http://127.0.0.1:9000/cb"));
        assert!(!r.matches("http://127.0.0.1:4444/cb"));
        assert!(!r.matches("http://127.0.0.1/cb"));
        assert!(r.matches_for_native_app("http://127.0.0.1:4444/cb"));
    }

    #[test]
    fn only_https_identifies_the_client() {
        assert!(reg("https://client.example/cb").identifies_client());
        assert!(reg("HTTPS://client.example/cb").identifies_client());
        for unverifiable in [
            "http://127.0.0.1/cb",
            "http://[::1]:8000/cb",
            "com.example.app:/oauth2redirect",
            "httpsx:/cb",
        ] {
            assert!(!reg(unverifiable).identifies_client(), "{unverifiable}");
        }
    }

    /// A port has at most five digits: `000080` is not port 80, neither at registration nor
    /// as the varying port of a loopback redirect.
    #[test]
    fn loopback_port_has_at_most_five_digits() {
        for uri in ["http://127.0.0.1:000080/cb", "http://[::1]:0000080/cb"] {
            assert_eq!(
                RedirectUri::parse(uri).unwrap_err(),
                RedirectUriError::InsecureHttp,
                "{uri}"
            );
        }
        assert!(!reg("http://127.0.0.1/cb").matches_for_native_app("http://127.0.0.1:000080/cb"));
        assert!(!reg("http://[::1]/cb").matches_for_native_app("http://[::1]:0000080/cb"));
    }

    #[test]
    fn debug_shows_the_uri_as_registered() {
        assert_eq!(
            format!("{:?}", reg("http://127.0.0.1/cb?x=1")),
            r#"RedirectUri("http://127.0.0.1/cb?x=1")"#
        );
    }

    proptest! {
        /// A URI that differs from the registered one in any way but a loopback port is refused.
        #[test]
        fn never_matches_a_different_uri(suffix in "[a-zA-Z0-9%@:/?#&=.]{1,12}") {
            let r = reg("https://client.example/cb");
            let candidate = format!("https://client.example/cb{suffix}");
            prop_assert!(!r.matches_for_native_app(&candidate));
            let candidate = format!("https://client.example{suffix}/cb");
            prop_assert!(!r.matches_for_native_app(&candidate));
        }

        #[test]
        fn loopback_differs_only_in_port(port in 1u16.., path in "/[a-z]{0,6}") {
            let r = reg("http://127.0.0.1/cb");
            let same = format!("http://127.0.0.1:{port}/cb");
            prop_assert!(r.matches_for_native_app(&same));
            prop_assert!(!r.matches(&same));
            let other = format!("http://127.0.0.1:{port}{path}x");
            prop_assert!(!r.matches_for_native_app(&other));
        }
    }
}
