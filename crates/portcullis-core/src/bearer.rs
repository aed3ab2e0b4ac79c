//! The `Authorization` header of a request carrying an access token: the `Bearer` scheme
//! (RFC 6750 §2.1) and the `DPoP` scheme (RFC 9449 §7.1), both followed by a `b64token`.

/// The scheme an access token is presented with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenScheme {
    /// `Bearer` (RFC 6750 §2.1): whoever holds the token may use it.
    Bearer,
    /// `DPoP` (RFC 9449 §7.1): the request also carries a DPoP proof.
    Dpop,
}

/// What an `Authorization` header value says about an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessTokenCredentials<'a> {
    /// `Bearer` or `DPoP` (any case), one or more spaces, and a `b64token`.
    Token(TokenScheme, &'a str),
    /// Another scheme (e.g. `Basic`): no access token is presented.
    OtherScheme,
    /// The `Bearer` or `DPoP` scheme (named here) without a well-formed `b64token`, or a value
    /// that is not text (`None`).
    Malformed(Option<TokenScheme>),
}

/// Reads an `Authorization` header value (RFC 6750 §2.1, RFC 9449 §7.1):
/// `credentials = ( "Bearer" / "DPoP" ) 1*SP b64token`, where
/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub fn access_token_credentials(value: &[u8]) -> AccessTokenCredentials<'_> {
    let Ok(value) = std::str::from_utf8(value) else {
        return AccessTokenCredentials::Malformed(None);
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        TokenScheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        TokenScheme::Dpop
    } else {
        return AccessTokenCredentials::OtherScheme;
    };
    let token = rest.trim_start_matches(' ');
    if is_b64token(token) {
        AccessTokenCredentials::Token(scheme, token)
    } else {
        AccessTokenCredentials::Malformed(Some(scheme))
    }
}

/// What an `Authorization` header value says about a bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerCredentials<'a> {
    /// `Bearer` (any case), one or more spaces, and a `b64token`.
    Token(&'a str),
    /// Another scheme (e.g. `Basic`, `DPoP`): no bearer token is presented.
    OtherScheme,
    /// The `Bearer` scheme without a well-formed `b64token`, or a value that is not text.
    Malformed,
}

/// Reads an `Authorization` header value for the `Bearer` scheme only (RFC 6750 §2.1), as
/// [`access_token_credentials`] does.
pub fn bearer_credentials(value: &[u8]) -> BearerCredentials<'_> {
    match access_token_credentials(value) {
        AccessTokenCredentials::Token(TokenScheme::Bearer, token) => {
            BearerCredentials::Token(token)
        }
        AccessTokenCredentials::Token(TokenScheme::Dpop, _)
        | AccessTokenCredentials::Malformed(Some(TokenScheme::Dpop))
        | AccessTokenCredentials::OtherScheme => BearerCredentials::OtherScheme,
        AccessTokenCredentials::Malformed(_) => BearerCredentials::Malformed,
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
        assert_eq!(bearer_credentials(b"DPoP abc"), OtherScheme);
        assert_eq!(bearer_credentials(b"DPoP a b"), OtherScheme);
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

    #[test]
    fn reads_the_scheme_of_bearer_and_dpop_credentials() {
        use AccessTokenCredentials as C;
        use TokenScheme::*;
        assert_eq!(
            access_token_credentials(b"Bearer abc"),
            C::Token(Bearer, "abc")
        );
        assert_eq!(
            access_token_credentials(b"DPoP abc.DEF-_~+/=="),
            C::Token(Dpop, "abc.DEF-_~+/==")
        );
        assert_eq!(
            access_token_credentials(b"dpop   t0k"),
            C::Token(Dpop, "t0k")
        );
        assert_eq!(access_token_credentials(b"DPoPx abc"), C::OtherScheme);
        assert_eq!(access_token_credentials(b"Basic abc"), C::OtherScheme);
        for bad in [&b"DPoP"[..], b"DPoP ", b"DPoP a=b", b"DPoP a b"] {
            assert_eq!(
                access_token_credentials(bad),
                C::Malformed(Some(Dpop)),
                "{bad:?}"
            );
        }
        assert_eq!(
            access_token_credentials(b"Bearer a b"),
            C::Malformed(Some(Bearer))
        );
        assert_eq!(access_token_credentials(b"DPoP \xff"), C::Malformed(None));
    }
}
