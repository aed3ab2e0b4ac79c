//! Reading and writing the host pages' cookies (RFC 6265), through the `cookie` crate.

use std::time::Duration;

use cookie::{Cookie, SameSite};
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

/// The value of the cookie `name`, if the request sent it exactly once. Two cookies of one
/// name count as none: one of them may have been planted for a narrower path or a parent
/// domain (RFC 6265 §8.5, §8.6), and the server cannot tell which is its own.
pub(crate) fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = None;
    for header in headers.get_all(COOKIE) {
        let Ok(header) = header.to_str() else {
            continue;
        };
        for cookie in Cookie::split_parse(header).flatten() {
            if cookie.name() == name {
                if found.is_some() {
                    return None;
                }
                found = Some(cookie.value().to_owned());
            }
        }
    }
    found
}

/// A cookie's name: with an `https` issuer the `__Host-` prefix, so that browsers refuse the
/// cookie unless it is `Secure`, host-only and for `/`, and no sibling domain can plant it
/// (RFC 6265bis §4.1.3.2).
pub(crate) fn name(base: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

/// A `Set-Cookie` value: host-only, `Path=/`, `HttpOnly`, `SameSite=Lax` (sent on the
/// top-level navigation that brings an authorization request, never on a cross-site POST),
/// `Secure` when the issuer is `https` (RFC 6819 §5.1.4.1), and `Max-Age` if given. `value`
/// must be cookie-safe: the callers pass base64url.
pub(crate) fn set(name: &str, value: &str, max_age: Option<Duration>, secure: bool) -> HeaderValue {
    let mut cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure);
    if let Some(age) = max_age {
        let secs = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
        cookie = cookie.max_age(cookie::time::Duration::seconds(secs));
    }
    // Names are ours and values base64url: always a valid header value.
    HeaderValue::try_from(cookie.build().to_string()).expect("cookies are ASCII without controls")
}

/// A `Set-Cookie` value that deletes the cookie `name`.
pub(crate) fn clear(name: &str, secure: bool) -> HeaderValue {
    set(name, "", Some(Duration::ZERO), secure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(COOKIE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_cookie_counts_only_if_sent_once() {
        let h = headers(&["a=1; session=xyz", "b=2"]);
        assert_eq!(read(&h, "session").as_deref(), Some("xyz"));
        assert_eq!(read(&h, "b").as_deref(), Some("2"));
        assert_eq!(read(&h, "c"), None);
        for twice in [&["session=1", "session=2"][..], &["session=1; session=1"]] {
            assert_eq!(read(&headers(twice), "session"), None, "{twice:?}");
        }
        assert_eq!(read(&headers(&["sessionx=1; xsession=2"]), "session"), None);
    }

    #[test]
    fn attributes() {
        let v = set("__Host-s", "v", Some(Duration::from_secs(60)), true);
        let v = v.to_str().unwrap();
        assert!(v.starts_with("__Host-s=v;"), "{v}");
        for attribute in [
            "; Path=/",
            "; HttpOnly",
            "; SameSite=Lax",
            "; Max-Age=60",
            "; Secure",
        ] {
            assert!(v.contains(attribute), "{v} lacks {attribute}");
        }
        assert!(!v.contains("Domain"), "host-only: {v}");
        let cleared = clear("s", false);
        let cleared = cleared.to_str().unwrap();
        assert!(
            cleared.starts_with("s=;") && cleared.contains("Max-Age=0"),
            "{cleared}"
        );
        assert!(!cleared.contains("Secure"), "{cleared}");
        assert_eq!(name("s", true), "__Host-s");
        assert_eq!(name("s", false), "s");
    }
}
