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

/// CSP of a page whose form is answered with a redirect to `redirect_uri` (the consent and
/// logout confirmation pages): browsers apply `form-action` to the redirects that follow a
/// submission too, so the client's origin is allowed besides this server (CSP 3
/// §6.4.1), and nothing else.
pub(crate) fn csp_redirecting_to(redirect_uri: Option<&str>) -> Cow<'static, str> {
    match redirect_uri.and_then(csp_source) {
        Some(source) => Cow::Owned(format!("{CSP} {source}")),
        None => Cow::Borrowed(CSP),
    }
}

/// A CSP source expression matching `uri`'s origin: `scheme://host:port`, or only
/// `scheme:` where CSP has no host syntax (a native app's private-use scheme, an IPv6
/// literal).
fn csp_source(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    Some(match url.host() {
        Some(url::Host::Domain(_) | url::Host::Ipv4(_)) if url.origin().is_tuple() => {
            url.origin().ascii_serialization()
        }
        _ => format!("{}:", url.scheme()),
    })
}

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

/// A whole page titled `title` around `body` (already escaped).
pub(crate) fn titled(title: &str, body: &str) -> String {
    layout(title, body)
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
        "openid" => Some("confirm who you are"),
        "profile" => Some("see your name and profile"),
        "email" => Some("see your email address"),
        "address" => Some("see your postal address"),
        "phone" => Some("see your phone number"),
        "offline_access" => Some("keep access while you are away"),
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
            "<form method=\"post\" action=\"{base}/consent\">{hidden}\
             <p>Signed in as <strong>{user}</strong> \
             <button type=\"submit\" name=\"decision\" value=\"switch\">Not you?</button></p>\
             <p><code>{client}</code> asks for access to your account:</p>{boxes}\
             <button type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
             <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
            user = esc(user),
            client = esc(client_id),
            base = esc(form.base),
            hidden = form.hidden(),
        ),
    )
}

/// The RP-initiated logout confirmation (OpenID Connect RP-Initiated Logout 1.0 §2): asked
/// when the request does not prove it comes from the user's own client.
pub(crate) fn logout(client_id: Option<&str>, user: &str, form: &FormContext<'_>) -> String {
    let asking = client_id.map_or(String::new(), |c| {
        format!("<p><code>{}</code> asks to sign you out.</p>", esc(c))
    });
    layout(
        "Sign out",
        &format!(
            "<p>Signed in as <strong>{user}</strong>.</p>{asking}\
             <form method=\"post\" action=\"{base}/logout\">{hidden}\
             <button type=\"submit\" name=\"decision\" value=\"yes\">Sign out</button>\
             <button type=\"submit\" name=\"decision\" value=\"no\">Stay signed in</button>\
             </form>",
            user = esc(user),
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
pub(crate) fn page(status: StatusCode, csp: &str, html: String) -> Response {
    let mut response = (status, Html(html)).into_response();
    // Built from constants and serialized URL origins; the strict policy if ever not.
    let csp = HeaderValue::from_str(csp).unwrap_or(HeaderValue::from_static(CSP));
    response.headers_mut().insert(CONTENT_SECURITY_POLICY, csp);
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
            logout(Some(evil), evil, &FORM),
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

    #[test]
    fn redirecting_forms_allow_only_the_client_origin() {
        let csp = |uri| csp_redirecting_to(Some(uri)).into_owned();
        let with = |source: &str| format!("{CSP} {source}");
        assert_eq!(
            csp("https://rp.example:8443/cb?x=1"),
            with("https://rp.example:8443")
        );
        assert_eq!(csp("https://rp.example/cb"), with("https://rp.example"));
        assert_eq!(
            csp("http://127.0.0.1:9000/callback"),
            with("http://127.0.0.1:9000")
        );
        assert_eq!(csp("http://[::1]:9000/callback"), with("http:"));
        assert_eq!(csp("com.example.app:/oauth"), with("com.example.app:"));
        assert_eq!(csp("myapp://callback"), with("myapp:"));
        assert_eq!(csp_redirecting_to(None), CSP);
        assert_eq!(csp("not a uri"), CSP);
    }

    #[tokio::test]
    async fn headers_are_added_but_not_overridden() {
        let consent_csp = csp_redirecting_to(Some("https://rp.example/cb"));
        let r = security_headers(page(StatusCode::OK, &consent_csp, String::new())).await;
        let h = r.headers();
        assert_eq!(h[X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[CACHE_CONTROL], "no-store");
        assert_eq!(h[CONTENT_SECURITY_POLICY], consent_csp.as_ref());
        assert_eq!(h[X_CONTENT_TYPE_OPTIONS], "nosniff");
        let r = security_headers(StatusCode::NOT_FOUND.into_response()).await;
        assert_eq!(r.headers()[CONTENT_SECURITY_POLICY], CSP);
        assert!(CSP.contains("frame-ancestors 'none'"));
    }
}
