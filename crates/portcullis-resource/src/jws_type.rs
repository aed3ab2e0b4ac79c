//! A JWS `typ` header compared with the media type it must name (RFC 7515 §4.1.9).

/// Whether `typ` names `media_type` (`application/at+jwt` for a JWT access token, RFC 9068
/// §2.1; `application/token-introspection+jwt` for a JWT introspection response, RFC 9701
/// §5): compared without regard to case, the `application/` prefix optional, as RFC 7515
/// §4.1.9 says.
pub(crate) fn is_jws_type(typ: Option<&str>, media_type: &str) -> bool {
    let subtype = media_type
        .strip_prefix("application/")
        .unwrap_or(media_type);
    typ.is_some_and(|t| t.eq_ignore_ascii_case(media_type) || t.eq_ignore_ascii_case(subtype))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_is_compared_as_a_media_type() {
        let at_jwt = "application/at+jwt";
        for typ in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+Jwt",
        ] {
            assert!(is_jws_type(Some(typ), at_jwt), "{typ}");
        }
        for typ in [
            "JWT",
            "jwt",
            "application/jwt",
            "at+jwt ",
            "xapplication/at+jwt",
            "application/",
            "application/application/at+jwt",
        ] {
            assert!(!is_jws_type(Some(typ), at_jwt), "{typ}");
        }
        assert!(!is_jws_type(None, at_jwt));
    }
}
