//! Where a request carries its access token (RFC 6750 §2): the `Authorization` header
//! (§2.1, and RFC 9449 §7.1 for `DPoP`), a form body (§2.2, opt-in) or the query string
//! (§2.3, a dangerous opt-in: URLs are logged and leak), exactly one of them.

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::request::Parts;
use http::Method;
use portcullis_core::{access_token_credentials, AccessTokenCredentials, Params, TokenScheme};

/// The form parameter and query parameter naming the token (RFC 6750 §2.2, §2.3).
const ACCESS_TOKEN: &str = "access_token";

/// Which places besides the `Authorization` header a token may come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TokenLocations {
    /// The form-encoded body (RFC 6750 §2.2).
    pub(crate) form_body: bool,
    /// The query string (RFC 6750 §2.3).
    pub(crate) query: bool,
}

impl TokenLocations {
    /// `bearer_methods_supported` (RFC 9728 §2): `header`, then `body` and `query` when
    /// accepted.
    pub(crate) fn bearer_methods(self) -> Vec<&'static str> {
        let mut methods = vec!["header"];
        if self.form_body {
            methods.push("body");
        }
        if self.query {
            methods.push("query");
        }
        methods
    }
}

/// The one access token of a request and the scheme it came with (`Bearer` from a form body
/// or the query).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PresentedToken {
    pub(crate) scheme: TokenScheme,
    pub(crate) token: String,
    /// Whether it came from the query string (RFC 6750 §2.3).
    pub(crate) from_query: bool,
}

/// Why no token could be read: `invalid_request` (RFC 6750 §3.1), challenged with the
/// scheme the `Authorization` header names, if any.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MalformedRequest {
    pub(crate) description: &'static str,
    pub(crate) scheme: Option<TokenScheme>,
}

/// The access token of the request `parts` (with `form_body`, the body when the caller read
/// it): `None` when none is sent (another scheme such as `Basic` counts as none); refused
/// when the header is repeated or malformed, or when more than one place carries a token.
pub(crate) fn presented_token(
    parts: &Parts,
    form_body: Option<&[u8]>,
    locations: TokenLocations,
) -> Result<Option<PresentedToken>, MalformedRequest> {
    let mut headers = parts.headers.get_all(AUTHORIZATION).iter();
    let header = headers.next();
    if headers.next().is_some() {
        return Err(malformed("more than one Authorization header", None));
    }
    let from_header = match header.map(|v| access_token_credentials(v.as_bytes())) {
        None | Some(AccessTokenCredentials::OtherScheme) => None,
        Some(AccessTokenCredentials::Token(scheme, token)) => Some(PresentedToken {
            scheme,
            token: token.to_owned(),
            from_query: false,
        }),
        Some(AccessTokenCredentials::Malformed(scheme)) => {
            return Err(malformed("malformed Authorization header", scheme))
        }
    };
    let scheme = from_header.as_ref().map(|p| p.scheme);
    let from_body = match form_body {
        Some(body) if locations.form_body && is_form(parts) => {
            parameter(body, false).map_err(|d| malformed(d, scheme))?
        }
        _ => None,
    };
    let from_query = match parts.uri.query() {
        Some(query) if locations.query => {
            parameter(query.as_bytes(), true).map_err(|d| malformed(d, scheme))?
        }
        _ => None,
    };
    let mut found = [from_header, from_body, from_query].into_iter().flatten();
    let token = found.next();
    if found.next().is_some() {
        return Err(malformed("more than one access token", scheme));
    }
    Ok(token)
}

fn malformed(description: &'static str, scheme: Option<TokenScheme>) -> MalformedRequest {
    MalformedRequest {
        description,
        scheme,
    }
}

/// Whether the request has a form body a token may be in (RFC 6750 §2.2): form-encoded, and
/// not a `GET`.
fn is_form(parts: &Parts) -> bool {
    parts.method != Method::GET
        && parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
}

/// The `access_token` parameter of a form body or query string, sent at most once.
fn parameter(encoded: &[u8], from_query: bool) -> Result<Option<PresentedToken>, &'static str> {
    let params = Params::parse(encoded).map_err(|_| "malformed form body or query string")?;
    if params.is_repeated(ACCESS_TOKEN) {
        return Err("access_token was sent more than once");
    }
    Ok(params.get(ACCESS_TOKEN).map(|token| PresentedToken {
        scheme: TokenScheme::Bearer,
        token: token.to_owned(),
        from_query,
    }))
}
