//! HTTP responses the endpoints send: JSON with no caching, redirects, error pages.

use bytes::Bytes;
use http::header::{
    HeaderName, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, PRAGMA,
    REFERRER_POLICY, WWW_AUTHENTICATE, X_FRAME_OPTIONS,
};
use http::{HeaderValue, Response, StatusCode};
use portcullis_core::{Algorithm, AuthorizeErrorCode, BearerErrorCode, Issuer, OAuthError};
use serde::Serialize;

use crate::endpoint_error::{EndpointError, ErrorCode};
use crate::observability::refused;

/// Headers every response carrying a secret (token responses, redirects with a code) needs
/// (RFC 6749 §5.1).
const NO_STORE: [(HeaderName, HeaderValue); 2] = [
    (CACHE_CONTROL, HeaderValue::from_static("no-store")),
    (PRAGMA, HeaderValue::from_static("no-cache")),
];

/// Header slots allocated up front: ours and the security headers a host's middleware
/// commonly adds, so the map is allocated once and never regrown.
const HEADER_ROOM: usize = 12;

/// A response with `headers` (distinct names) and `body`.
fn response(
    status: StatusCode,
    headers: impl IntoIterator<Item = (HeaderName, HeaderValue)>,
    body: Bytes,
) -> Response<Bytes> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let map = r.headers_mut();
    map.reserve(HEADER_ROOM);
    for (name, value) in headers {
        map.insert(name, value);
    }
    r
}

/// A JSON response that must not be cached.
pub(crate) fn json(status: StatusCode, body: &impl Serialize) -> Response<Bytes> {
    // Room for a token response in one allocation; serializing our own types cannot fail.
    let mut buf = Vec::with_capacity(512);
    serde_json::to_writer(&mut buf, body).unwrap_or_default();
    uncached(status, "application/json;charset=UTF-8", Bytes::from(buf))
}

/// A response of `content_type` that must not be cached.
pub(crate) fn uncached(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
) -> Response<Bytes> {
    let content_type = (CONTENT_TYPE, HeaderValue::from_static(content_type));
    response(status, NO_STORE.into_iter().chain([content_type]), body)
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// An OAuth JSON error (RFC 6749 §5.2) with its code's status, uncached, with
/// `WWW-Authenticate` when a challenge is given.
pub(crate) fn json_error<C: ErrorCode>(
    error: &OAuthError<C>,
    www_authenticate: Option<&str>,
) -> Response<Bytes> {
    let mut r = json(
        error.code.http_status(),
        &ErrorBody {
            error: error.code.wire(),
            error_description: &error.description,
        },
    );
    if let Some(value) = www_authenticate.and_then(|v| HeaderValue::from_str(v).ok()) {
        r.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    refused(r, error.code.wire())
}

/// A `Bearer` challenge (RFC 6750 §3): the realm (the issuer), the error code if any, and
/// the scope a token would need.
pub(crate) fn bearer_challenge(
    realm: &Issuer,
    code: Option<BearerErrorCode>,
    scope: Option<&str>,
) -> String {
    challenge("Bearer", realm, code, scope)
}

/// A `DPoP` challenge (RFC 9449 §7.1): as a `Bearer` one, and the algorithms a proof may
/// use (`algs`).
pub(crate) fn dpop_challenge(
    realm: &Issuer,
    code: Option<BearerErrorCode>,
    scope: Option<&str>,
    algs: &[Algorithm],
) -> String {
    let mut challenge = challenge("DPoP", realm, code, scope);
    let names: Vec<&str> = algs.iter().map(|a| a.as_str()).collect();
    challenge.push_str(&format!(", algs=\"{}\"", names.join(" ")));
    challenge
}

/// A challenge of `scheme` with the auth-params of RFC 6750 §3.
fn challenge(
    scheme: &str,
    realm: &Issuer,
    code: Option<BearerErrorCode>,
    scope: Option<&str>,
) -> String {
    let mut challenge = format!("{scheme} realm=\"{realm}\"");
    if let Some(code) = code {
        challenge.push_str(&format!(", error=\"{}\"", code.as_str()));
    }
    if let Some(scope) = scope {
        challenge.push_str(&format!(", scope=\"{scope}\""));
    }
    challenge
}

impl crate::provider::Provider {
    /// The answer to a request at `path`, one of the endpoints clients call directly
    /// ([`paths::TOKEN`](crate::paths::TOKEN), `PAR`, `INTROSPECT`, `REVOKE`, `USERINFO`, `REGISTER`), whose body
    /// is larger than the host's adapter accepts: 413 (RFC 9110 §15.5.14) with the OAuth
    /// error `invalid_request` the client can read (RFC 6749 §5.2), uncached, and at UserInfo
    /// the Bearer challenge naming it (RFC 6750 §3.1).
    pub fn body_too_large(&self, path: &str) -> Response<Bytes> {
        let code = BearerErrorCode::InvalidRequest;
        let challenge = (path == crate::paths::USERINFO)
            .then(|| bearer_challenge(&self.inner.issuer, Some(code), None));
        let mut r = json_error(
            &OAuthError::new(code, "the request body is too large"),
            challenge.as_deref(),
        );
        *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        r
    }
}

/// A `303 See Other` to `location`, uncached since it may carry a code (RFC 9700 §4.12:
/// 303 so a POSTed login form is not re-posted to the client).
pub(crate) fn redirect(location: &str) -> Response<Bytes> {
    match HeaderValue::from_str(location) {
        Ok(value) => response(
            StatusCode::SEE_OTHER,
            NO_STORE.into_iter().chain([
                (LOCATION, value),
                (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            ]),
            Bytes::new(),
        ),
        // Locations are serialized URLs, always valid header values.
        Err(_) => error_page(OAuthError::new(
            AuthorizeErrorCode::InvalidRequest,
            "invalid redirect",
        )),
    }
}

/// An HTML error page for errors that must not be redirected (RFC 6749 §4.1.2.1), at the
/// authorization and end-session endpoints: 400, or 503 for a server fault.
pub(crate) fn error_page(error: impl Into<EndpointError<AuthorizeErrorCode>>) -> Response<Bytes> {
    let error = error.into().into_oauth();
    let body = format!(
        "<p><code>{}</code></p><p>{}</p>",
        escape_html(error.code.as_str()),
        escape_html(&error.description)
    );
    let page = html_page(error.code.http_status(), "Authorization error", &body);
    refused(page, error.code.as_str())
}

/// A minimal HTML page that cannot be framed or cached. `body` must already be escaped.
pub(crate) fn html_page(status: StatusCode, title: &str, body: &str) -> Response<Bytes> {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1>{body}</body></html>",
        title = escape_html(title),
    );
    response(
        status,
        NO_STORE.into_iter().chain([
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html;charset=UTF-8"),
            ),
            (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
            ),
        ]),
        Bytes::from(html),
    )
}

/// Escapes text for an HTML element or quoted attribute.
pub(crate) fn escape_html(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_quoted_attribute(s)
}
