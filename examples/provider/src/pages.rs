//! The HTML pages, and the security headers on every response.
//!
//! Every dynamic value goes through [`esc`]. Pages cannot be framed (RFC 6749 §10.13,
//! RFC 9700 §4.16), run no script, load nothing, and are never cached.

use std::borrow::Cow;

use axum::response::{Html, IntoResponse, Response};
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use http::{HeaderValue, StatusCode};
use portcullis::core::ScopeSet;

/// CSP of pages whose forms post back to this server.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// CSP of the consent page. Its form is answered with a redirect to the client, and
/// browsers apply `form-action` to redirects too, so it is left out: the engine does not
/// tell the host the redirect URI to allow.
pub(crate) const CONSENT_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;\
    padding:0 1rem}label{display:block;margin:.6rem 0}input[type=text],input[type=password]\
    {width:100%;padding:.4rem}button{margin:.8rem .5rem 0 0;padding:.4rem 1rem}\
    .error{color:#a00}code{background:#eee;padding:0 .2rem}";

/// Escapes text for an element or a quoted attribute.
pub(crate) fn esc(s: &str) -> Cow<'_, str> {
    html_escape::encode_quoted_attribute(s)
}

/// What every form of a pending authorization carries.
pub(crate) struct FormContext<'a> {
    /// The issuer's path, prefixed to form actions.
    pub(crate) base: &'a str,
    /// The sealed pending authorization.
    pub(crate) ticket: &'a str,
    /// The CSRF token for this ticket and browser.
    pub(crate) csrf: &'a str,
}

impl FormContext<'_> {
    fn hidden(&self) -> String {
        format!(
            "<input type=\"hidden\" name=\"ticket\" value=\"{}\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            esc(self.ticket),
            esc(self.csrf)
        )
    }
}

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{}</title>\
         <style>{STYLE}</style></head><body><h1>{}</h1>{body}</body></html>",
        esc(title),
        esc(title)
    )
}

/// The sign-in form.
pub(crate) fn login(
    client_id: &str,
    form: &FormContext<'_>,
    username: &str,
    error: Option<&str>,
) -> String {
    let error = error.map_or(String::new(), |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e))
    });
    layout(
        "Sign in",
        &format!(
            "<p>Sign in to continue to <code>{client}</code>.</p>{error}\
             <form method=\"post\" action=\"{base}/login\">{hidden}\
             <label>Username <input type=\"text\" name=\"username\" value=\"{user}\" \
             autocomplete=\"username\" required autofocus></label>\
             <label>Password <input type=\"password\" name=\"password\" \
             autocomplete=\"current-password\" required></label>\
             <button type=\"submit\">Sign in</button></form>",
            client = esc(client_id),
            base = esc(form.base),
            hidden = form.hidden(),
            user = esc(username),
        ),
    )
}

/// What a scope lets the client do, for the demo's scopes.
fn describe(scope: &str) -> Option<&'static str> {
    match scope {
        "read" => Some("read your data"),
        "write" => Some("change your data"),
        "profile" => Some("see your name"),
        "email" => Some("see your email address"),
        _ => None,
    }
}

/// The consent form: every requested scope as a pre-checked box the user may uncheck.
pub(crate) fn consent(
    client_id: &str,
    scopes: &ScopeSet,
    user: &str,
    form: &FormContext<'_>,
) -> String {
    let boxes: String = scopes
        .iter()
        .map(|s| {
            let what = describe(s).map_or(String::new(), |d| format!(": {d}"));
            format!(
                "<label><input type=\"checkbox\" name=\"scope\" value=\"{v}\" checked> \
                 <code>{v}</code>{what}</label>",
                v = esc(s)
            )
        })
        .collect();
    layout(
        "Authorize access",
        &format!(
            "<p>Signed in as <strong>{user}</strong> (<a href=\"{base}/logout\">not you?</a>)\
             </p><p><code>{client}</code> asks for access to your account:</p>\
             <form method=\"post\" action=\"{base}/consent\">{hidden}{boxes}\
             <button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
             <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
            user = esc(user),
            client = esc(client_id),
            base = esc(form.base),
            hidden = form.hidden(),
        ),
    )
}

/// A page with a message and no form.
pub(crate) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    page(status, CSP, layout(title, &format!("<p>{}</p>", esc(text))))
}

/// An HTML response with `csp`. [`security_headers`] adds the rest.
pub(crate) fn page(status: StatusCode, csp: &'static str, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    response
        .headers_mut()
        .insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    response
}

/// Middleware: adds the security headers a response lacks, whoever produced it (the
/// engine's own pages keep their CSP, and its JSON keeps `Cache-Control: no-store`).
pub(crate) async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (X_FRAME_OPTIONS, "DENY"),
        (CONTENT_SECURITY_POLICY, CSP),
        (CACHE_CONTROL, "no-store"),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "no-referrer"),
    ] {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: FormContext<'static> = FormContext {
        base: "",
        ticket: "t\"><script>",
        csrf: "c",
    };

    #[test]
    fn dynamic_values_are_escaped() {
        let evil = "<script>alert(1)</script>\"'&";
        let scopes = ScopeSet::parse("read <b>").unwrap();
        for html in [
            login(evil, &FORM, evil, Some(evil)),
            consent(evil, &scopes, evil, &FORM),
        ] {
            assert!(!html.contains("<script>"), "{html}");
            assert!(!html.contains("<b>"), "{html}");
            assert!(html.contains("&lt;script&gt;"), "{html}");
            assert!(
                html.contains("value=\"t&quot;&gt;&lt;script&gt;\""),
                "{html}"
            );
        }
    }

    #[test]
    fn consent_lists_scopes_checked() {
        let html = consent("web", &ScopeSet::parse("read email").unwrap(), "Al", &FORM);
        assert!(html.contains("name=\"scope\" value=\"email\" checked"));
        assert!(html.contains("name=\"scope\" value=\"read\" checked"));
        assert!(html.contains("action=\"/consent\""));
    }

    #[tokio::test]
    async fn headers_are_added_but_not_overridden() {
        let r = security_headers(page(StatusCode::OK, CONSENT_CSP, String::new())).await;
        let h = r.headers();
        assert_eq!(h[X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[CACHE_CONTROL], "no-store");
        assert_eq!(h[CONTENT_SECURITY_POLICY], CONSENT_CSP);
        assert_eq!(h[X_CONTENT_TYPE_OPTIONS], "nosniff");
        let r = security_headers(StatusCode::NOT_FOUND.into_response()).await;
        assert_eq!(r.headers()[CONTENT_SECURITY_POLICY], CSP);
        assert!(CSP.contains("frame-ancestors 'none'"));
    }
}
