//! The `Authorization: Bearer` header (RFC 6750 §2.1).

/// What an `Authorization` header value says about a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerCredentials<'a> {
    /// `Bearer` (any case), one or more spaces, and a `b64token`.
    Token(&'a str),
    /// Another scheme (e.g. `Basic`): no bearer token is presented.
    OtherScheme,
    /// The `Bearer` scheme without a well-formed `b64token`, or a value that is not text.
    Malformed,
}

/// Reads an `Authorization` header value (RFC 6750 §2.1):
/// `credentials = "Bearer" 1*SP b64token`, where
/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub fn bearer_credentials(value: &[u8]) -> BearerCredentials<'_> {
    let Ok(value) = std::str::from_utf8(value) else {
        return BearerCredentials::Malformed;
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return BearerCredentials::OtherScheme;
    }
    let token = rest.trim_start_matches(' ');
    if is_b64token(token) {
        BearerCredentials::Token(token)
    } else {
        BearerCredentials::Malformed
    }
}

fn is_b64token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use BearerCredentials::*;

    #[test]
    fn reads_the_token_of_the_bearer_scheme_only() {
        assert_eq!(
            bearer_credentials(b"Bearer abc.DEF-_~+/=="),
            Token("abc.DEF-_~+/==")
        );
        assert_eq!(bearer_credentials(b"bEaReR   t0k"), Token("t0k"));
        assert_eq!(bearer_credentials(b"Basic dXNlcjpwdw=="), OtherScheme);
        assert_eq!(bearer_credentials(b"Bearerx abc"), OtherScheme);
        assert_eq!(bearer_credentials(b""), OtherScheme);
        for bad in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Bearer ==",
            b"Bearer a b",
            b"Bearer a=b",
            b"Bearer a\tb",
            b"Bearer tok ",
            b"Bearer \xff",
            b"\xffBearer x",
        ] {
            assert_eq!(bearer_credentials(bad), Malformed, "{bad:?}");
        }
    }
}
