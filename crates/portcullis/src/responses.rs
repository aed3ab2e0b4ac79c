//! HTTP responses the endpoints send: JSON with no caching, redirects, error pages.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, PRAGMA, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};
use serde::Serialize;

/// Headers every response carrying a secret (token responses, redirects with a code) needs
/// (RFC 6749 §5.1).
fn no_store(builder: http::response::Builder) -> http::response::Builder {
    builder
        .header(CACHE_CONTROL, "no-store")
        .header(PRAGMA, "no-cache")
}

fn finish(builder: http::response::Builder, body: Bytes) -> Response<Bytes> {
    // Every header value set here is a constant or validated ASCII.
    builder.body(body).unwrap_or_else(|_| {
        let mut r = Response::new(Bytes::new());
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// A JSON response that must not be cached.
pub(crate) fn json(status: StatusCode, body: &impl Serialize) -> Response<Bytes> {
    let body = serde_json::to_vec(body).unwrap_or_default();
    uncached(status, "application/json;charset=UTF-8", Bytes::from(body))
}

/// A response of `content_type` that must not be cached.
pub(crate) fn uncached(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
) -> Response<Bytes> {
    finish(
        no_store(Response::builder().status(status)).header(CONTENT_TYPE, content_type),
        body,
    )
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// An OAuth JSON error (RFC 6749 §5.2), with `WWW-Authenticate` when the status is 401.
pub(crate) fn json_error(
    status: StatusCode,
    error: &str,
    description: &str,
    www_authenticate: Option<&str>,
) -> Response<Bytes> {
    let mut r = json(
        status,
        &ErrorBody {
            error,
            error_description: description,
        },
    );
    if let Some(value) = www_authenticate.and_then(|v| HeaderValue::from_str(v).ok()) {
        r.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    r
}

impl crate::provider::Provider {
    /// The answer to a request at `path`, one of the endpoints clients call directly
    /// ([`paths::TOKEN`](crate::paths::TOKEN), `INTROSPECT`, `REVOKE`, `USERINFO`), whose body
    /// is larger than the host's adapter accepts: 413 (RFC 9110 §15.5.14) with the OAuth
    /// error `invalid_request` the client can read (RFC 6749 §5.2), uncached, and at UserInfo
    /// the Bearer challenge naming it (RFC 6750 §3.1).
    pub fn body_too_large(&self, path: &str) -> Response<Bytes> {
        let challenge = (path == crate::paths::USERINFO).then(|| {
            format!(
                "Bearer realm=\"{}\", error=\"invalid_request\"",
                self.inner.issuer
            )
        });
        json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "the request body is too large",
            challenge.as_deref(),
        )
    }
}

/// A `303 See Other` to `location`, uncached since it may carry a code (RFC 9700 §4.12:
/// 303 so a POSTed login form is not re-posted to the client).
pub(crate) fn redirect(location: &str) -> Response<Bytes> {
    match HeaderValue::from_str(location) {
        Ok(value) => finish(
            no_store(Response::builder().status(StatusCode::SEE_OTHER))
                .header(LOCATION, value)
                .header("referrer-policy", "no-referrer"),
            Bytes::new(),
        ),
        // Locations are serialized URLs, always valid header values.
        Err(_) => error_page(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "invalid redirect",
        ),
    }
}

/// An HTML error page for errors that must not be redirected (RFC 6749 §4.1.2.1).
pub(crate) fn error_page(status: StatusCode, error: &str, description: &str) -> Response<Bytes> {
    let body = format!(
        "<p><code>{}</code></p><p>{}</p>",
        escape_html(error),
        escape_html(description)
    );
    html_page(status, "Authorization error", &body)
}

/// A minimal HTML page that cannot be framed or cached. `body` must already be escaped.
pub(crate) fn html_page(status: StatusCode, title: &str, body: &str) -> Response<Bytes> {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1>{body}</body></html>",
        title = escape_html(title),
    );
    finish(
        no_store(Response::builder().status(status))
            .header(CONTENT_TYPE, "text/html;charset=UTF-8")
            .header("x-frame-options", "DENY")
            .header(
                "content-security-policy",
                "default-src 'none'; frame-ancestors 'none'",
            ),
        Bytes::from(html),
    )
}

/// Escapes text for an HTML element or quoted attribute.
pub(crate) fn escape_html(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_quoted_attribute(s)
}
