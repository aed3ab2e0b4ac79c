//! A browser for end-to-end tests of a host's pages (feature `browser`): it keeps cookies,
//! does not follow redirects, and plays the login, consent and logout pages that
//! `portcullis-interaction` renders (their forms' `ticket` and `csrf` fields, their `action`
//! below the issuer). Every page it fetches must forbid framing and caching.
//!
//! Everything here panics on unexpected answers: these are test helpers.

use std::sync::Arc;

use portcullis_core::Issuer;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

/// A user's sign-in name and password, as `(username, password)`: anything that converts into
/// it signs in (a host's demo user type, say).
pub type Credentials<'a> = (&'a str, &'a str);

/// A client as a test drives it: `(client_id, client_secret, redirect_uri)`, the secret
/// `None` for a public client, the redirect URI `None` for a client without the code flow.
pub type ClientCredentials<'a> = (&'a str, Option<&'a str>, Option<&'a str>);

/// The HTTP client `oauth2` sends token requests with. It must not follow redirects (the
/// `oauth2` docs: following them opens the client to SSRF).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("build the HTTP client")
}

/// The PKCE verifier of RFC 7636 Appendix B, for tests that build requests by hand.
pub const PKCE_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// The S256 challenge of [`PKCE_VERIFIER`] (RFC 7636 Appendix B).
pub const PKCE_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// An authorization request of `client` at `issuer`, built by hand: its registered redirect
/// URI, `scope`, `state`, PKCE S256 with [`PKCE_CHALLENGE`], and a nonce.
pub fn authorize_url<'a>(
    issuer: &Issuer,
    client: impl Into<ClientCredentials<'a>>,
    scope: &str,
    state: &str,
) -> Url {
    let (id, _, redirect_uri) = client.into();
    Url::parse_with_params(
        &issuer.endpoint("/authorize"),
        [
            ("response_type", "code"),
            ("client_id", id),
            ("redirect_uri", redirect_uri.expect("a code-flow client")),
            ("scope", scope),
            ("state", state),
            ("nonce", "n-0S6_WzA2Mj"),
            ("code_challenge", PKCE_CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    )
    .expect("an authorization URL")
}

/// POSTs `form` to `url` as `client`: `client_secret_basic`, or `client_id` in the form for
/// a public client (RFC 6749 §2.3.1). Returns the status and the JSON body (`Null` if the
/// body is not JSON).
pub async fn post_form<'a>(
    url: &str,
    client: impl Into<ClientCredentials<'a>>,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let (id, secret, _) = client.into();
    let mut form = form.to_vec();
    let request = http_client().post(url);
    let request = match secret {
        Some(secret) => request.basic_auth(id, Some(secret)),
        None => {
            form.push(("client_id", id));
            request
        }
    };
    let response = request.form(&form).send().await.expect("POST");
    let status = response.status();
    let body = response.bytes().await.expect("read the body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Exchanges `code` (requested by [`authorize_url`]) at `issuer`'s token endpoint.
pub async fn exchange_code<'a>(
    issuer: &Issuer,
    client: impl Into<ClientCredentials<'a>>,
    code: &str,
) -> (StatusCode, Value) {
    let client = client.into();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", client.2.expect("a code-flow client")),
        ("code_verifier", PKCE_VERIFIER),
    ];
    post_form(&issuer.endpoint("/token"), client, &form).await
}

/// Refreshes at `issuer`'s token endpoint.
pub async fn refresh<'a>(
    issuer: &Issuer,
    client: impl Into<ClientCredentials<'a>>,
    token: &str,
) -> (StatusCode, Value) {
    let form = [("grant_type", "refresh_token"), ("refresh_token", token)];
    post_form(&issuer.endpoint("/token"), client, &form).await
}

/// The value of query parameter `name` in `url`, if present exactly once.
pub fn query_param(url: &Url, name: &str) -> Option<String> {
    let mut values = url.query_pairs().filter(|(k, _)| k == name).map(|(_, v)| v);
    match (values.next(), values.next()) {
        (Some(v), None) => Some(v.into_owned()),
        _ => None,
    }
}

/// An HTML page the browser received.
#[derive(Debug)]
pub struct Page {
    /// Where it was fetched from (form actions resolve against it).
    pub url: Url,
    /// The status.
    pub status: StatusCode,
    /// Where a redirect leads.
    pub location: Option<Url>,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The HTML.
    pub body: String,
}

/// The value of attribute `attr` in the first tag containing `marker`.
fn attribute(html: &str, marker: &str, attr: &str) -> Option<String> {
    let at = html.find(marker)?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let key = format!("{attr}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(html_escape::decode_html_entities(&tag[start..start + len]).into_owned())
}

impl Page {
    /// The value of the hidden input `name`.
    pub fn hidden(&self, name: &str) -> Option<String> {
        attribute(&self.body, &format!("name=\"{name}\""), "value")
    }

    /// The form's action, resolved against the page's URL.
    pub fn form_action(&self) -> Option<Url> {
        let action = attribute(&self.body, "<form", "action")?;
        self.url.join(&action).ok()
    }

    /// The scope checkboxes offered on a consent page.
    pub fn scope_boxes(&self) -> Vec<String> {
        self.body
            .split("name=\"scope\" value=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(|v| html_escape::decode_html_entities(v).into_owned())
            .collect()
    }

    /// Whether this is the login page.
    pub fn is_login(&self) -> bool {
        self.form_action()
            .is_some_and(|a| a.path().ends_with("/login"))
    }

    /// Whether this is the consent page.
    pub fn is_consent(&self) -> bool {
        self.form_action()
            .is_some_and(|a| a.path().ends_with("/consent"))
    }

    /// Whether this is the logout confirmation page.
    pub fn is_logout_confirmation(&self) -> bool {
        self.form_action()
            .is_some_and(|a| a.path().ends_with("/logout"))
    }

    /// Where this `303 See Other` leads; panics if it is not one.
    pub fn redirect(&self) -> Url {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.body);
        self.location.clone().expect("a Location header")
    }
}

/// What the user does on the consent page.
#[derive(Debug, Clone, Copy)]
pub enum Decision<'a> {
    /// Approve, leaving only these scope boxes checked.
    Approve(&'a [&'a str]),
    /// Approve with every box checked.
    ApproveAll,
    /// Deny.
    Deny,
}

/// A browser: keeps cookies, does not follow redirects (so the test sees them).
#[derive(Debug)]
pub struct Browser {
    http: reqwest::Client,
    jar: Arc<Jar>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// A browser with an empty cookie jar.
    pub fn new() -> Self {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .expect("build the browser");
        Self { http, jar }
    }

    /// The `Cookie` header this browser sends to `url` (e.g. to copy its session).
    pub fn cookies(&self, url: &Url) -> Option<String> {
        let header = self.jar.cookies(url)?;
        Some(header.to_str().expect("ASCII cookies").to_owned())
    }

    /// Stores `set_cookie` (a `Set-Cookie` value) as if `url` had sent it: a cookie copied
    /// from another browser, or planted by another site.
    pub fn add_cookie(&self, set_cookie: &str, url: &Url) {
        self.jar.add_cookie_str(set_cookie, url);
    }

    /// A new browser holding copies of `cookies` (a `Cookie` header, as
    /// [`Browser::cookies`] returns it) for `url`.
    pub fn with_cookies(cookies: &str, url: &Url) -> Self {
        let browser = Self::new();
        for pair in cookies.split("; ") {
            browser.add_cookie(&format!("{pair}; Path=/"), url);
        }
        browser
    }

    async fn page(&self, response: reqwest::Response) -> Page {
        let url = response.url().clone();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.expect("read the page");
        for (name, value) in [("x-frame-options", "DENY"), ("cache-control", "no-store")] {
            assert_eq!(
                headers.get(name).map(|v| v.as_bytes()),
                Some(value.as_bytes())
            );
        }
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(|l| url.join(l).expect("a valid Location"));
        Page {
            url,
            status,
            location,
            headers,
            body,
        }
    }

    /// Fetches a page.
    pub async fn get(&self, url: &Url) -> Page {
        let response = self.http.get(url.clone()).send().await.expect("GET");
        self.page(response).await
    }

    /// POSTs `form` to `url` with this browser's cookies, e.g. a form another site forged.
    pub async fn post(&self, url: &Url, form: &[(&str, &str)]) -> Page {
        let response = self.http.post(url.clone()).form(form).send().await;
        self.page(response.expect("POST")).await
    }

    /// Submits the page's form: its hidden fields plus `fields`.
    pub async fn submit(&self, page: &Page, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form = Vec::new();
        for name in ["ticket", "csrf"] {
            let value = page
                .hidden(name)
                .expect("the form carries a ticket and a CSRF token");
            form.push((name.to_owned(), value));
        }
        form.extend(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let action = page.form_action().expect("the page has a form");
        self.http
            .post(action)
            .form(&form)
            .send()
            .await
            .expect("POST")
    }

    /// Submits the device verification form (RFC 8628 §3.3) with `user_code` and returns the
    /// next page.
    pub async fn enter_device_code(&self, entry: &Page, user_code: &str) -> Page {
        let response = self.submit(entry, &[("user_code", user_code)]).await;
        self.page(response).await
    }

    /// Submits the login form and returns the next page.
    pub async fn log_in<'a>(&self, login: &Page, user: impl Into<Credentials<'a>>) -> Page {
        let (username, password) = user.into();
        let fields = [("username", username), ("password", password)];
        let response = self.submit(login, &fields).await;
        self.page(response).await
    }

    /// Submits the login form with a one-time code (`otp`) besides the password, and returns
    /// the next page.
    pub async fn log_in_with_code<'a>(
        &self,
        login: &Page,
        user: impl Into<Credentials<'a>>,
        code: &str,
    ) -> Page {
        let (username, password) = user.into();
        let fields = [
            ("username", username),
            ("password", password),
            ("otp", code),
        ];
        let response = self.submit(login, &fields).await;
        self.page(response).await
    }

    /// Opens `authorize_url` and signs in as `user`: returns the consent page.
    pub async fn sign_in<'a>(&self, authorize_url: &Url, user: impl Into<Credentials<'a>>) -> Page {
        let login = self.get(authorize_url).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.body);
        assert!(login.is_login(), "expected the login page: {}", login.body);
        let consent = self.log_in(&login, user).await;
        assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
        assert!(
            consent.is_consent(),
            "expected the consent page: {}",
            consent.body
        );
        consent
    }

    /// Answers the consent page; returns where the provider redirected (`303 See Other`).
    pub async fn decide(&self, consent: &Page, decision: Decision<'_>) -> Url {
        self.answer(consent, decision).await.redirect()
    }

    /// Answers the consent page; returns the provider's answer, whatever it is.
    pub async fn answer(&self, consent: &Page, decision: Decision<'_>) -> Page {
        let boxes = consent.scope_boxes();
        let mut fields: Vec<(&str, &str)> = match decision {
            Decision::Approve(scopes) => scopes.iter().map(|s| ("scope", *s)).collect(),
            Decision::ApproveAll => boxes.iter().map(|s| ("scope", s.as_str())).collect(),
            Decision::Deny => Vec::new(),
        };
        let value = if matches!(decision, Decision::Deny) {
            "deny"
        } else {
            "approve"
        };
        fields.push(("decision", value));
        let response = self.submit(consent, &fields).await;
        self.page(response).await
    }

    /// Answers the logout confirmation page: sign out (`true`) or stay signed in.
    pub async fn confirm_logout(&self, confirmation: &Page, sign_out: bool) -> Page {
        assert!(
            confirmation.is_logout_confirmation(),
            "expected the logout confirmation: {}",
            confirmation.body
        );
        let decision = if sign_out { "yes" } else { "no" };
        let response = self.submit(confirmation, &[("decision", decision)]).await;
        self.page(response).await
    }

    /// The whole dance: open `authorize_url`, sign in as `user` unless the session cookie
    /// already does, decide, and return where the provider redirected. When the provider
    /// remembers a consent that covers the request, it redirects at once and `decision` is
    /// not asked (so it must not be [`Decision::Deny`]).
    pub async fn authorize<'a>(
        &self,
        authorize_url: &Url,
        user: impl Into<Credentials<'a>>,
        decision: Decision<'_>,
    ) -> Url {
        let page = self.get(authorize_url).await;
        if page.status == StatusCode::SEE_OTHER {
            assert!(
                !matches!(decision, Decision::Deny),
                "consent was remembered: there is nothing to deny"
            );
            return page.redirect();
        }
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let consent = if page.is_login() {
            self.log_in(&page, user).await
        } else {
            page
        };
        if consent.status == StatusCode::SEE_OTHER {
            return consent.redirect();
        }
        assert!(
            consent.is_consent(),
            "expected the consent page: {}",
            consent.body
        );
        self.decide(&consent, decision).await
    }
}
