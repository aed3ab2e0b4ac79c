//! The host's HTML pages (login, consent, logout confirmation, messages), rendered from
//! templates (MiniJinja, HTML-escaped by default), and the security headers every response
//! needs.
//!
//! Every page forbids framing (RFC 6749 §10.13, RFC 9700 §4.16), runs no script, loads
//! nothing and is never cached. A host restyles the pages by replacing the templates
//! ([`Pages::with_template`]) and adds its own pages on the same layout.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use bytes::Bytes;
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, RETRY_AFTER, SET_COOKIE,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use minijinja::value::{Serde, Value};
use minijinja::{AutoEscape, Environment};
use portcullis::core::{AuthorizationDetail, AuthorizeErrorCode, Issuer, ScopeSet};
use serde::Serialize;

use crate::hidden_characters::reveal_hidden_characters;
use crate::session::SessionManager;
use portcullis::throttle::Throttled;

/// CSP of pages whose forms post back to this server.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The built-in templates, by name. `layout.html` wraps every page (its `body` block);
/// `form_fields.html` holds a form's hidden `ticket` and `csrf` fields.
const TEMPLATES: [(&str, &str); 8] = [
    ("layout.html", include_str!("../templates/layout.html")),
    (
        "form_fields.html",
        include_str!("../templates/form_fields.html"),
    ),
    ("login.html", include_str!("../templates/login.html")),
    ("consent.html", include_str!("../templates/consent.html")),
    ("logout.html", include_str!("../templates/logout.html")),
    ("message.html", include_str!("../templates/message.html")),
    ("account.html", include_str!("../templates/account.html")),
    ("device.html", include_str!("../templates/device.html")),
];

/// What the standard scopes let a client do (OpenID Connect Core §5.4, §11), in the words
/// the consent page shows.
const STANDARD_SCOPES: [(&str, &str); 6] = [
    ("openid", "Confirm who you are when you sign in."),
    ("profile", "See your name and profile details."),
    ("email", "See your email address."),
    ("address", "See your postal address."),
    ("phone", "See your phone number."),
    (
        "offline_access",
        "Keep access to your account while you are away.",
    ),
];

/// A template was refused (its syntax), or could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template {name}: {message}")]
pub struct TemplateError {
    name: String,
    message: String,
}

impl TemplateError {
    fn new(name: &str, e: &minijinja::Error) -> Self {
        Self {
            name: name.to_owned(),
            message: e.to_string(),
        }
    }
}

/// A page that answers a request the host's pages cannot go on with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// `400`: a form field is repeated, or a value is malformed.
    #[error("the form is malformed")]
    BadForm,
    /// `415`: the body is not `application/x-www-form-urlencoded`.
    #[error("the body is not a form")]
    NotAForm,
    /// `403`: the form's CSRF token is missing or invalid (RFC 6749 §10.12).
    #[error("the form's CSRF token is missing or invalid")]
    Forbidden,
    /// `400`: the form's ticket (of the named kind of request, e.g. `sign-in`) is invalid or
    /// has expired.
    #[error("the {0} request is invalid or has expired")]
    Expired(&'static str),
    /// `404`.
    #[error("nothing here")]
    NotFound,
    /// `503`: a store (or the random number generator) failed; the cause is the caller's to
    /// log. The page names `temporarily_unavailable` (RFC 6749 §4.1.2.1), as the engine's
    /// 503 pages do, so a machine reading it (a monitoring probe) can tell.
    #[error("unavailable")]
    Unavailable,
}

impl PageError {
    /// The OAuth error code the page names, if any.
    fn code(self) -> Option<&'static str> {
        matches!(self, Self::Unavailable).then(unavailable_code)
    }

    /// The status, the title and the text of the page.
    fn page(self) -> (StatusCode, &'static str, Cow<'static, str>) {
        match self {
            Self::BadForm => (
                StatusCode::BAD_REQUEST,
                "Bad request",
                "The form is malformed.".into(),
            ),
            Self::NotAForm => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Bad request",
                "Forms must be sent as application/x-www-form-urlencoded.".into(),
            ),
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "Forbidden",
                "This form has expired or could not be verified (it was open too long, or \
                 your browser refused its cookie). Go back to the application and start again."
                    .into(),
            ),
            Self::Expired(what) => (
                StatusCode::BAD_REQUEST,
                "Request expired",
                format!(
                    "This {what} request is invalid or has expired. Go back to the \
                     application and start again."
                )
                .into(),
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here.".into(),
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                UNAVAILABLE_TEXT.into(),
            ),
        }
    }
}

/// What a 503 page tells the person reading it.
const UNAVAILABLE_TEXT: &str = "The server cannot continue right now. Try again in a moment.";

/// The code a 503 page names: `temporarily_unavailable` (RFC 6749 §4.1.2.1).
fn unavailable_code() -> &'static str {
    AuthorizeErrorCode::TemporarilyUnavailable.as_str()
}

/// The sign-in form of a pending authorization.
#[derive(Debug, Clone, Copy)]
pub struct LoginPage<'a> {
    /// The client the user signs in to.
    pub client_id: &'a str,
    /// The pending authorization's ticket.
    pub ticket: &'a str,
    /// The username filled in (a `login_hint`, or what the user typed).
    pub username: &'a str,
    /// What went wrong with the last attempt.
    pub error: Option<&'a str>,
    /// Whether the one-time code is asked for (the request asks for
    /// [`MFA_ACR`](crate::MFA_ACR), or an enrolled user must give it); else the field is
    /// optional.
    pub ask_code: bool,
}

/// The consent form of a pending authorization: every requested scope as a pre-checked box
/// the user may uncheck.
#[derive(Debug, Clone, Copy)]
pub struct ConsentPage<'a> {
    /// The client asking.
    pub client_id: &'a str,
    /// The signed-in user's name, as greeted.
    pub user: &'a str,
    /// The requested scopes.
    pub scopes: &'a ScopeSet,
    /// The requested authorization details (RFC 9396), each listed with its type and its
    /// JSON, hidden characters escaped ([`reveal_hidden_characters`]); approving approves
    /// them all.
    pub authorization_details: &'a [AuthorizationDetail],
    /// The pending authorization's ticket.
    pub ticket: &'a str,
    /// The form's CSRF token ([`SessionManager::form_token`]).
    pub csrf: &'a str,
    /// Where the answer redirects (the client's origin is allowed as a form target).
    pub redirect_uri: &'a str,
}

/// The device verification form (RFC 8628 §3.3).
#[derive(Debug, Clone, Copy)]
pub struct DevicePage<'a> {
    /// The form's fixed ticket (what its CSRF token is bound to).
    pub ticket: &'a str,
    /// The code filled in (from `verification_uri_complete`, or what the user typed).
    pub user_code: &'a str,
    /// What went wrong with the last attempt.
    pub error: Option<&'a str>,
}

/// The RP-initiated logout confirmation (OpenID Connect RP-Initiated Logout 1.0 §2): asked
/// when the request does not prove it comes from the user's own client.
#[derive(Debug, Clone, Copy)]
pub struct LogoutPage<'a> {
    /// The client asking, if known.
    pub client_id: Option<&'a str>,
    /// The signed-in user's name, as greeted.
    pub user: &'a str,
    /// The pending logout's ticket.
    pub ticket: &'a str,
    /// The form's CSRF token ([`SessionManager::form_token`]).
    pub csrf: &'a str,
    /// Where the answer redirects, if anywhere.
    pub redirect_uri: Option<&'a str>,
}

#[derive(Serialize)]
struct ScopeRow<'a> {
    name: &'a str,
    description: Option<&'a str>,
}

/// The host's pages of one issuer: templates, the issuer's path (prefixed to every form
/// action), the descriptions of scopes shown at consent and the names of clients shown to
/// users.
pub struct Pages {
    env: Environment<'static>,
    base: String,
    scopes: HashMap<String, String>,
    client_names: HashMap<String, String>,
}

impl fmt::Debug for Pages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Pages {
    /// The built-in pages for `issuer`, whose path prefixes the form actions.
    pub fn new(issuer: &Issuer) -> Self {
        let mut env = Environment::new();
        // HTML escaping for `.html` templates (MiniJinja's default), by the same rules as the
        // engine's pages: `& < > " '` (quoted attributes and text are safe with these).
        env.set_formatter(|out, state, value| {
            if *state.auto_escape() != AutoEscape::Html || value.is_safe() || value.is_none() {
                return minijinja::escape_formatter(out, state, value);
            }
            let text = value.to_string();
            let escaped = html_escape::encode_quoted_attribute(&text);
            out.write_str(&escaped).map_err(minijinja::Error::from)
        });
        for (name, source) in TEMPLATES {
            // Fixed and covered by tests: they always parse.
            env.add_template(name, source)
                .expect("the built-in templates parse");
        }
        let base = url::Url::parse(issuer.as_str())
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        let scopes = STANDARD_SCOPES
            .iter()
            .map(|(s, d)| ((*s).to_owned(), (*d).to_owned()))
            .collect();
        Self {
            env,
            base,
            scopes,
            client_names: HashMap::new(),
        }
    }

    /// Replaces the template `name` (one of the built-in ones: `layout.html`, `login.html`,
    /// `consent.html`, `logout.html`, `message.html`, `account.html`, `device.html`,
    /// `form_fields.html`), or
    /// adds a page of the host's own (rendered with [`Pages::render`]). Names ending in
    /// `.html` are HTML-escaped; `{{ value | safe }}` opts out.
    pub fn with_template(
        mut self,
        name: &'static str,
        source: impl Into<String>,
    ) -> Result<Self, TemplateError> {
        self.env
            .add_template_owned(name, source.into())
            .map_err(|e| TemplateError::new(name, &e))?;
        Ok(self)
    }

    /// Describes `scope` on the consent page ("`scope`: `description`"). The standard
    /// OpenID Connect scopes are described already.
    pub fn describe_scope(mut self, scope: &str, description: &str) -> Self {
        self.scopes.insert(scope.to_owned(), description.to_owned());
        self
    }

    /// Names the client `client_id` on the sign-in, consent and account pages ("`name`
    /// (`client_id`)"); a client without a name is shown by its id alone. Only the host
    /// names clients: a name a client registered itself is not shown, as users would take
    /// it for one the host vouches for (RFC 7591 §5).
    pub fn name_client(mut self, client_id: &str, name: &str) -> Self {
        self.client_names
            .insert(client_id.to_owned(), name.to_owned());
        self
    }

    /// The name the host gave `client_id`, if any.
    pub(crate) fn client_name(&self, client_id: &str) -> Option<&str> {
        self.client_names.get(client_id).map(String::as_str)
    }

    /// The issuer's path without a trailing `/` (`""` at the root): where the pages' routes
    /// are mounted.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Renders `template` titled `title` with `context` (its fields, besides `title` and
    /// `base`), as a page with `csp` and `status`. A template that fails to render is
    /// logged, and answered with [`PageError::Unavailable`].
    pub fn render(
        &self,
        status: StatusCode,
        csp: &str,
        template: &str,
        title: &str,
        context: impl Serialize,
    ) -> Response<Bytes> {
        match self.render_html(template, title, context) {
            Ok(html) => page(status, csp, html),
            Err(e) => {
                tracing::error!(error = %e, "cannot render a page");
                let code = unavailable_code();
                let html = format!("<p><code>{code}</code></p><p>{UNAVAILABLE_TEXT}</p>");
                page(StatusCode::SERVICE_UNAVAILABLE, CSP, html)
            }
        }
    }

    fn render_html(
        &self,
        name: &str,
        title: &str,
        context: impl Serialize,
    ) -> Result<String, TemplateError> {
        let template = self
            .env
            .get_template(name)
            .map_err(|e| TemplateError::new(name, &e))?;
        let context = minijinja::context! {
            title => title,
            base => &self.base,
            ..Value::from(Serde(context))
        };
        template
            .render(context)
            .map_err(|e| TemplateError::new(name, &e))
    }

    /// A page with a message and no form.
    pub fn message(&self, status: StatusCode, title: &str, text: &str) -> Response<Bytes> {
        self.message_naming(status, title, None, text)
    }

    /// A page with a message, naming the OAuth error `code` (`message.html`'s `code`) if
    /// there is one.
    fn message_naming(
        &self,
        status: StatusCode,
        title: &str,
        code: Option<&str>,
        text: &str,
    ) -> Response<Bytes> {
        #[derive(Serialize)]
        struct Message<'a> {
            code: Option<&'a str>,
            text: &'a str,
        }
        self.render(status, CSP, "message.html", title, Message { code, text })
    }

    /// The page of `error`: a `503` names `temporarily_unavailable` (RFC 6749 §4.1.2.1).
    pub fn error(&self, error: PageError) -> Response<Bytes> {
        let (status, title, text) = error.page();
        self.message_naming(status, title, error.code(), &text)
    }

    /// The sign-in form, `status` (`200`, or `401` after a wrong password), with a CSRF
    /// token bound to the browser's pre-login binding: the binding cookie is set too when
    /// the browser has none yet.
    pub fn login(
        &self,
        sessions: &SessionManager,
        headers: &HeaderMap,
        status: StatusCode,
        login: &LoginPage<'_>,
    ) -> Response<Bytes> {
        self.login_at("/login", sessions, headers, status, login)
    }

    /// [`Pages::login`] posting to `action` (below [`Pages::base`]).
    pub(crate) fn login_at(
        &self,
        action: &str,
        sessions: &SessionManager,
        headers: &HeaderMap,
        status: StatusCode,
        login: &LoginPage<'_>,
    ) -> Response<Bytes> {
        #[derive(Serialize)]
        struct Login<'a> {
            action: &'a str,
            client_id: &'a str,
            client_name: Option<&'a str>,
            ticket: &'a str,
            csrf: &'a str,
            username: &'a str,
            error: Option<&'a str>,
            ask_code: bool,
        }
        let Ok(binding) = sessions.login_binding(headers) else {
            return self.error(PageError::Unavailable);
        };
        let csrf = sessions.login_csrf_token(&binding, login.ticket);
        let context = Login {
            action,
            client_id: login.client_id,
            client_name: self.client_name(login.client_id),
            ticket: login.ticket,
            csrf: &csrf,
            username: login.username,
            error: login.error,
            ask_code: login.ask_code,
        };
        let mut response = self.render(status, CSP, "login.html", "Sign in", context);
        if let Some(cookie) = binding.set_cookie() {
            response.headers_mut().append(SET_COOKIE, cookie.clone());
        }
        response
    }

    /// The sign-in form again, `429 Too Many Requests` with `Retry-After` (RFC 6585 §4):
    /// too many failed sign-ins.
    pub fn throttled_login(
        &self,
        sessions: &SessionManager,
        headers: &HeaderMap,
        login: &LoginPage<'_>,
        throttled: Throttled,
    ) -> Response<Bytes> {
        let secs = throttled.retry_after_secs;
        let error = format!("Too many failed sign-ins. Try again in {secs} seconds.");
        let login = LoginPage {
            error: Some(&error),
            ..*login
        };
        let status = StatusCode::TOO_MANY_REQUESTS;
        let mut response = self.login(sessions, headers, status, &login);
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
        response
    }

    /// The consent form.
    pub fn consent(&self, consent: &ConsentPage<'_>) -> Response<Bytes> {
        let csp = csp_redirecting_to(Some(consent.redirect_uri));
        self.consent_at("/consent", &csp, consent)
    }

    /// [`Pages::consent`] posting to `action` (below [`Pages::base`]), with `csp`.
    pub(crate) fn consent_at(
        &self,
        action: &str,
        csp: &str,
        consent: &ConsentPage<'_>,
    ) -> Response<Bytes> {
        #[derive(Serialize)]
        struct Consent<'a> {
            action: &'a str,
            client_id: &'a str,
            client_name: Option<&'a str>,
            user: &'a str,
            scopes: Vec<ScopeRow<'a>>,
            details: Vec<DetailRow<'a>>,
            ticket: &'a str,
            csrf: &'a str,
        }
        #[derive(Serialize)]
        struct DetailRow<'a> {
            r#type: Cow<'a, str>,
            json: String,
        }
        let scopes = consent
            .scopes
            .iter()
            .map(|name| ScopeRow {
                name,
                description: self.scopes.get(name).map(String::as_str),
            })
            .collect();
        let details = consent
            .authorization_details
            .iter()
            .map(|d| DetailRow {
                r#type: reveal_hidden_characters(d.detail_type()),
                json: reveal_hidden_characters(
                    &serde_json::to_string_pretty(d.as_json()).unwrap_or_default(),
                )
                .into_owned(),
            })
            .collect();
        let context = Consent {
            action,
            client_id: consent.client_id,
            client_name: self.client_name(consent.client_id),
            user: consent.user,
            scopes,
            details,
            ticket: consent.ticket,
            csrf: consent.csrf,
        };
        self.render(
            StatusCode::OK,
            csp,
            "consent.html",
            "Authorize access",
            context,
        )
    }

    /// The device verification page (RFC 8628 §3.3): the form where the user enters the
    /// code their device shows (`user_code` filled in from `verification_uri_complete`),
    /// with a CSRF token bound to the browser's pre-login binding and `ticket`.
    pub fn device(
        &self,
        sessions: &SessionManager,
        headers: &HeaderMap,
        status: StatusCode,
        device: &DevicePage<'_>,
    ) -> Response<Bytes> {
        #[derive(Serialize)]
        struct Device<'a> {
            ticket: &'a str,
            csrf: &'a str,
            user_code: &'a str,
            error: Option<&'a str>,
        }
        let Ok(binding) = sessions.login_binding(headers) else {
            return self.error(PageError::Unavailable);
        };
        let csrf = sessions.login_csrf_token(&binding, device.ticket);
        let context = Device {
            ticket: device.ticket,
            csrf: &csrf,
            user_code: device.user_code,
            error: device.error,
        };
        let mut response = self.render(status, CSP, "device.html", "Connect a device", context);
        if let Some(cookie) = binding.set_cookie() {
            response.headers_mut().append(SET_COOKIE, cookie.clone());
        }
        response
    }

    /// The logout confirmation.
    pub fn logout(&self, logout: &LogoutPage<'_>) -> Response<Bytes> {
        #[derive(Serialize)]
        struct Logout<'a> {
            client_id: Option<&'a str>,
            user: &'a str,
            ticket: &'a str,
            csrf: &'a str,
        }
        let context = Logout {
            client_id: logout.client_id,
            user: logout.user,
            ticket: logout.ticket,
            csrf: logout.csrf,
        };
        let csp = csp_redirecting_to(logout.redirect_uri);
        self.render(StatusCode::OK, &csp, "logout.html", "Sign out", context)
    }
}

/// CSP of a page whose form is answered with a redirect to `redirect_uri` (the consent and
/// logout confirmation pages): browsers apply `form-action` to the redirects that follow a
/// submission too, so the client's origin is allowed besides this server (CSP 3 §6.4.1),
/// and nothing else.
pub fn csp_redirecting_to(redirect_uri: Option<&str>) -> Cow<'static, str> {
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

/// An HTML response with `csp` and the other security headers ([`add_security_headers`]).
pub fn page(status: StatusCode, csp: &str, html: String) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(html));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Built from constants and serialized URL origins; the strict policy if ever not.
    let csp = HeaderValue::from_str(csp).unwrap_or(HeaderValue::from_static(CSP));
    headers.insert(CONTENT_SECURITY_POLICY, csp);
    add_security_headers(headers);
    response
}

/// Adds the security headers a response lacks, whoever produced it (the engine's own pages
/// keep their CSP, and its JSON keeps `Cache-Control: no-store`): no framing, the strict
/// [`CSP`], no caching, no sniffing, no referrer. A host runs it on every response.
pub fn add_security_headers(headers: &mut HeaderMap) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pages() -> Pages {
        Pages::new(&Issuer::parse("https://as.example/t/").unwrap())
    }

    fn sessions() -> SessionManager {
        let issuer = Issuer::parse("https://as.example/t").unwrap();
        let store = Arc::new(portcullis_store_memory::MemoryStore::new());
        SessionManager::builder(issuer, store).build().unwrap()
    }

    fn body(r: &Response<Bytes>) -> String {
        String::from_utf8(r.body().to_vec()).unwrap()
    }

    const EVIL: &str = "<script>alert(1)</script>\"'&";

    #[test]
    fn dynamic_values_are_escaped() {
        let p = pages();
        let scopes = ScopeSet::parse("read <b>").unwrap();
        let ticket = "t\"><script>";
        let login = LoginPage {
            client_id: EVIL,
            ticket,
            username: EVIL,
            error: Some(EVIL),
            ask_code: true,
        };
        let consent = ConsentPage {
            client_id: EVIL,
            user: EVIL,
            scopes: &scopes,
            authorization_details: &[serde_json::from_value(
                serde_json::json!({"type": EVIL, EVIL: EVIL}),
            )
            .unwrap()],
            ticket,
            csrf: "c",
            redirect_uri: "https://rp.example/cb",
        };
        let logout = LogoutPage {
            client_id: Some(EVIL),
            user: EVIL,
            ticket,
            csrf: "c",
            redirect_uri: None,
        };
        for r in [
            p.login(&sessions(), &HeaderMap::new(), StatusCode::OK, &login),
            p.consent(&consent),
            p.logout(&logout),
            p.message(StatusCode::OK, EVIL, EVIL),
        ] {
            let html = body(&r);
            assert!(!html.contains("<script>"), "{html}");
            assert!(!html.contains("<b>"), "{html}");
            assert!(html.contains("&lt;script&gt;"), "{html}");
            assert!(html.contains("&quot;&#x27;&amp;"), "{html}");
            if !html.contains("<h1>&lt;script") {
                assert!(
                    html.contains("value=\"t&quot;&gt;&lt;script&gt;\""),
                    "{html}"
                );
            }
        }
    }

    #[test]
    fn forms_post_below_the_issuer_path_with_their_ticket_and_token() {
        let p = pages();
        let scopes = ScopeSet::parse("read email").unwrap();
        let consent = ConsentPage {
            client_id: "web",
            user: "Al",
            scopes: &scopes,
            authorization_details: &[],
            ticket: "tk",
            csrf: "cs",
            redirect_uri: "https://rp.example/cb",
        };
        let r = p.consent(&consent);
        let html = body(&r);
        assert!(html.contains("action=\"/t/consent\""), "{html}");
        assert!(html.contains("name=\"ticket\" value=\"tk\""), "{html}");
        assert!(html.contains("name=\"csrf\" value=\"cs\""), "{html}");
        assert!(html.contains("name=\"scope\" value=\"email\" checked"));
        assert!(html.contains("checked> See your email address. <code>email</code></label>"));
        assert!(html.contains("name=\"scope\" value=\"read\" checked> <code>read</code></"));
        // Every box has its label, and the client is shown by its id until the host names it.
        assert!(
            html.contains("<label for=\"scope-1\"><input id=\"scope-1\""),
            "{html}"
        );
        assert!(
            html.contains("<label for=\"scope-2\"><input id=\"scope-2\""),
            "{html}"
        );
        assert!(
            html.contains("<p><code>web</code> asks for access"),
            "{html}"
        );
        let named = pages().name_client("web", "Web <App>");
        assert!(
            body(&named.consent(&consent))
                .contains("<p><strong>Web &lt;App&gt;</strong> (<code>web</code>) asks for access"),
            "{html}"
        );
        assert!(!html.contains("<pre>"), "no details, no list: {html}");
        let details = [
            serde_json::from_value(serde_json::json!({"type": "payment_initiation",
            "instructedAmount": {"currency": "EUR", "amount": "12.00"}}))
            .unwrap(),
        ];
        let html = body(&p.consent(&ConsentPage {
            authorization_details: &details,
            ..consent
        }));
        assert!(html.contains("<code>payment_initiation</code>"), "{html}");
        assert!(
            html.contains("&quot;amount&quot;: &quot;12.00&quot;"),
            "{html}"
        );
        assert_eq!(
            r.headers()[CONTENT_SECURITY_POLICY],
            format!("{CSP} https://rp.example").as_str()
        );
        for (issuer, base) in [("https://as.example", ""), ("https://as.example/", "")] {
            assert_eq!(Pages::new(&Issuer::parse(issuer).unwrap()).base(), base);
        }
        assert_eq!(pages().base(), "/t");
        let described = pages().describe_scope("read", "Read your data.");
        assert!(body(&described.consent(&consent)).contains("Read your data. <code>read</code>"));
    }

    /// A payee's name with a bidirectional override or a zero-width space is shown with
    /// those characters escaped, never raw.
    #[test]
    fn the_consent_page_shows_hidden_characters_of_details_escaped() {
        let scopes = ScopeSet::parse("read").unwrap();
        let details = [serde_json::from_value(serde_json::json!({
            "type": "payment_initiation",
            "creditorName": "Merchant A\u{202e}gnikaB\u{202c}\u{200b}",
            "note\u{2066}": "x"
        }))
        .unwrap()];
        let html = body(&pages().consent(&ConsentPage {
            client_id: "web",
            user: "Al",
            scopes: &scopes,
            authorization_details: &details,
            ticket: "tk",
            csrf: "cs",
            redirect_uri: "https://rp.example/cb",
        }));
        assert!(
            html.contains(r"Merchant A\u{202e}gnikaB\u{202c}\u{200b}&quot;"),
            "{html}"
        );
        assert!(html.contains(r"&quot;note\u{2066}&quot;"), "{html}");
        for hidden in ['\u{202e}', '\u{202c}', '\u{200b}', '\u{2066}'] {
            assert!(!html.contains(hidden), "U+{:04X}", u32::from(hidden));
        }
    }

    #[test]
    fn the_login_page_sets_the_binding_once_and_a_throttled_one_says_when() {
        let (p, sessions) = (pages(), sessions());
        let login = LoginPage {
            client_id: "web",
            ticket: "tk",
            username: "al",
            error: None,
            ask_code: false,
        };
        let r = p.login(&sessions, &HeaderMap::new(), StatusCode::OK, &login);
        let html = body(&r);
        for id in ["username", "password", "otp"] {
            let field = format!("<label for=\"{id}\">");
            assert!(
                html.contains(&field) && html.contains(&format!("id=\"{id}\"")),
                "{html}"
            );
        }
        assert!(html.contains("<code>web</code>.</p>"), "{html}");
        let named = pages().name_client("web", "Web App");
        let r2 = named.login(&sessions, &HeaderMap::new(), StatusCode::OK, &login);
        assert!(body(&r2).contains("<strong>Web App</strong> (<code>web</code>).</p>"));
        let set = r.headers()[SET_COOKIE].to_str().unwrap().to_owned();
        assert!(set.starts_with("__Host-csrf="), "{set}");
        let mut again = HeaderMap::new();
        let pair = set.split(';').next().unwrap();
        again.insert(http::header::COOKIE, HeaderValue::from_str(pair).unwrap());
        let throttled = Throttled {
            retry_after_secs: 7,
        };
        let r = p.throttled_login(&sessions, &again, &login, throttled);
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[RETRY_AFTER], "7");
        assert!(r.headers().get(SET_COOKIE).is_none());
        assert!(body(&r).contains("Try again in 7 seconds."));
    }

    #[test]
    fn errors_have_their_status() {
        let p = pages();
        for (e, status) in [
            (PageError::BadForm, 400),
            (PageError::NotAForm, 415),
            (PageError::Forbidden, 403),
            (PageError::Expired("sign-in"), 400),
            (PageError::NotFound, 404),
            (PageError::Unavailable, 503),
        ] {
            let r = p.error(e);
            assert_eq!(r.status(), status, "{e:?}");
            let named = body(&r).contains("<p><code>temporarily_unavailable</code></p>");
            assert_eq!(named, status == 503, "{e:?}");
            assert_eq!(r.headers()[CACHE_CONTROL], "no-store", "{e:?}");
        }
        assert!(body(&p.error(PageError::Expired("sign-out"))).contains("This sign-out request"));
    }

    #[test]
    fn host_templates_share_the_layout_and_are_checked() {
        let p = pages()
            .with_template(
                "hello.html",
                "{% extends \"layout.html\" %}{% block body %}{{ who }}{% endblock %}",
            )
            .unwrap();
        #[derive(Serialize)]
        struct Hello<'a> {
            who: &'a str,
        }
        let r = p.render(
            StatusCode::OK,
            CSP,
            "hello.html",
            "Hi",
            Hello { who: "<b>" },
        );
        let html = body(&r);
        assert!(
            html.contains("<h1>Hi</h1>") && html.contains("&lt;b&gt;"),
            "{html}"
        );
        let broken = pages().with_template("x.html", "{% if %}").unwrap_err();
        assert!(
            broken.to_string().starts_with("template x.html"),
            "{broken}"
        );
        let r = p.render(StatusCode::OK, CSP, "missing.html", "Hi", ());
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(body(&r).contains("<code>temporarily_unavailable</code>"));
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

    #[test]
    fn headers_are_added_but_not_overridden() {
        let consent_csp = csp_redirecting_to(Some("https://rp.example/cb"));
        let r = page(StatusCode::OK, &consent_csp, String::new());
        let h = r.headers();
        assert_eq!(h[X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[CACHE_CONTROL], "no-store");
        assert_eq!(h[CONTENT_SECURITY_POLICY], consent_csp.as_ref());
        assert_eq!(h[X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[REFERRER_POLICY], "no-referrer");
        let mut h = HeaderMap::new();
        add_security_headers(&mut h);
        assert_eq!(h[CONTENT_SECURITY_POLICY], CSP);
        assert!(CSP.contains("frame-ancestors 'none'"));
    }
}
