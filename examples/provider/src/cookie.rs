//! Reading and writing the example's cookies.

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

/// The value of the cookie `name`, if the request sent it exactly once. Two cookies of one
/// name (e.g. one planted for a narrower path) count as none.
pub(crate) fn read<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut found = None;
    for header in headers.get_all(COOKIE) {
        let Ok(header) = header.to_str() else {
            continue;
        };
        for pair in header.split(';') {
            match pair.trim().split_once('=') {
                Some((n, v)) if n == name => {
                    if found.is_some() {
                        return None;
                    }
                    found = Some(v);
                }
                _ => {}
            }
        }
    }
    found
}

/// A `Set-Cookie` value: host-only, `Path=/`, `HttpOnly`, `SameSite=Lax`, and `Secure` when
/// the issuer is `https` (RFC 6265 §4.1; RFC 6819 §5.1.4.1). `value` must be cookie-safe
/// (the callers pass base64url and digits).
pub(crate) fn set(name: &str, value: &str, max_age: Option<u64>, secure: bool) -> HeaderValue {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(secs) = max_age {
        text.push_str(&format!("; Max-Age={secs}"));
    }
    if secure {
        text.push_str("; Secure");
    }
    // Names are constants and values base64url, digits and dots: always a valid header.
    HeaderValue::from_str(&text).expect("cookie values are ASCII without controls")
}

/// A `Set-Cookie` value that deletes the cookie `name`.
pub(crate) fn clear(name: &str, secure: bool) -> HeaderValue {
    set(name, "", Some(0), secure)
}

/// Cookie names: with an `https` issuer the `__Host-` prefix makes browsers refuse the
/// cookie unless it is `Secure`, host-only and for `/`, so a sibling domain cannot plant it.
pub(crate) fn name(base: &'static str, host_prefixed: &'static str, secure: bool) -> &'static str {
    if secure {
        host_prefixed
    } else {
        base
    }
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
    fn reads_one_cookie() {
        let h = headers(&["a=1; session=xyz", "b=2"]);
        assert_eq!(read(&h, "session"), Some("xyz"));
        assert_eq!(read(&h, "b"), Some("2"));
        assert_eq!(read(&h, "c"), None);
        assert_eq!(read(&headers(&["session=1", "session=2"]), "session"), None);
    }

    #[test]
    fn attributes() {
        let v = set("s", "v", Some(60), true);
        assert_eq!(
            v.to_str().unwrap(),
            "s=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
        assert_eq!(
            clear("s", false).to_str().unwrap(),
            "s=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        );
    }
}
