//! A JWS `typ` header compared with the media type it must name (RFC 7515 §4.1.9).

/// Whether `typ` names the media type `application/<expected>` (e.g. `at+jwt` for a JWT
/// access token, RFC 9068 §2.1; `token-introspection+jwt` for a JWT introspection response,
/// RFC 9701 §5): compared without regard to case, the `application/` prefix optional, as
/// RFC 7515 §4.1.9 says.
pub fn is_jws_type(typ: Option<&str>, expected: &str) -> bool {
    const PREFIX: &str = "application/";
    let Some(typ) = typ else {
        return false;
    };
    let subtype = match typ.get(..PREFIX.len()) {
        Some(p) if p.eq_ignore_ascii_case(PREFIX) => &typ[PREFIX.len()..],
        _ => typ,
    };
    subtype.eq_ignore_ascii_case(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_is_compared_as_a_media_type() {
        for typ in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+Jwt",
        ] {
            assert!(is_jws_type(Some(typ), "at+jwt"), "{typ}");
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
            assert!(!is_jws_type(Some(typ), "at+jwt"), "{typ}");
        }
        assert!(!is_jws_type(None, "at+jwt"));
    }
}
