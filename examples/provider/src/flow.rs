//! Login, consent and logout: the host's half of the authorization and end-session
//! endpoints.
//!
//! `GET /authorize` (the engine) → [`Pages::begin`]: the login page, or, when the session
//! cookie names a live session, the consent page (straight back to the client if the engine
//! remembers a consent that covers the request). `POST /login` checks the password and goes
//! on the same way; `POST /consent` approves with the checked scopes, denies, or signs out to
//! let another user sign in. Every POST needs a valid CSRF token (else 403) and a live ticket
//! (else 400).
//!
//! Sessions are `portcullis::SessionManager`'s: a random id in the cookie, the session in the
//! store, a new id at every sign-in, and logging out deletes it (a copied cookie opens
//! nothing afterwards). The forms of a signed-in user (consent, logout confirmation, the
//! account page's) carry a CSRF token bound to the session; the login form, before any
//! session, one bound to the browser's pre-login binding cookie (see the engine's `csrf`
//! module for why that is sound). Sign-ins are throttled per account and per client address
//! (`portcullis::LoginThrottle`): a throttled attempt gets `429 Too Many Requests` with
//! `Retry-After`, the same for unknown users, and its password is not even checked.
//!
//! What to show is the engine's decision ([`PendingAuthorization::next_step`], OpenID Connect
//! Core §3.1.2.1): `prompt=none` never shows a page, `prompt=login`, `prompt=select_account`,
//! an exceeded `max_age` and an `id_token_hint` naming another user ask for the password
//! again, and remembered consent goes straight back. The pages only fill in `login_hint` as
//! the username; `ui_locales` is ignored (the pages are in English), and a request whose
//! essential `acr` a password cannot reach is denied.
//!
//! `/session/end` (the engine) → [`Pages::end_session`]: RP-initiated logout (RP-Initiated
//! Logout 1.0 §2). A request whose `id_token_hint` names the signed-in user ends the session
//! at once; any other one asks first, with a form posted to `POST /logout`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::header::{RETRY_AFTER, SET_COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode};
use portcullis::core::ScopeSet;
use portcullis::store::StoreError;
use portcullis::{
    Approval, LoginReason, NextStep, PendingAuthorization, PendingLogout, Session, SessionFacts,
    Throttled,
};
use portcullis_axum::{async_trait, into_response, read_request, Interaction};

use crate::app::AppState;
use crate::pages::{self, FormContext};
use crate::users::User;

/// The example's [`Interaction`]: renders login or consent for a pending authorization, as
/// the engine decides ([`PendingAuthorization::next_step`]), and the confirmation of a logout.
pub(crate) struct Pages(pub(crate) Arc<AppState>);

#[async_trait]
impl Interaction for Pages {
    async fn begin(
        &self,
        pending: PendingAuthorization,
        request: http::request::Parts,
    ) -> http::Response<Bytes> {
        let state = &self.0;
        let response = match state.session_for(&request.headers).await {
            Ok(session) => {
                let user = session.as_ref().map(facts);
                let step = pending.next_step(&state.provider, user.as_ref()).await;
                state.take(step, pending, session, &request.headers).await
            }
            Err(e) => store_failed(&e),
        };
        to_engine(response).await
    }

    async fn end_session(
        &self,
        pending: PendingLogout,
        request: http::request::Parts,
    ) -> http::Response<Bytes> {
        to_engine(self.logout_page(pending, request).await).await
    }
}

/// What the engine knows of a session: its user, signed in with a password.
fn facts(session: &Session) -> SessionFacts {
    SessionFacts::new(session.subject(), session.auth_time()).with_amr(vec!["pwd".into()])
}

/// The example's pages are axum responses; the engine's [`Interaction`] answers with
/// `http::Response<Bytes>` (buffered here: the pages are small, and already in memory).
async fn to_engine(response: Response) -> http::Response<Bytes> {
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => http::Response::from_parts(parts, bytes),
        Err(e) => {
            tracing::error!(error = %e, "cannot buffer a page");
            let mut r = http::Response::new(Bytes::new());
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    }
}

impl Pages {
    /// RP-initiated logout: at once when the `id_token_hint` names the signed-in user, else
    /// after a confirmation.
    async fn logout_page(&self, pending: PendingLogout, request: http::request::Parts) -> Response {
        let state = &self.0;
        let headers = &request.headers;
        let session = match state.sessions.current(headers).await {
            Ok(Some(s)) => s,
            // Nobody is signed in here: nothing to end, nothing to ask.
            Ok(None) => return state.signed_out(pending, headers).await,
            Err(e) => return store_failed(&e),
        };
        let hint_is_the_user = match (pending.hint_subject(), pending.client_id()) {
            (Some(hint), Some(client_id)) => {
                state.subject_for(client_id, session.subject()).as_deref() == Some(hint)
            }
            _ => false,
        };
        if !pending.needs_confirmation() && hint_is_the_user {
            tracing::info!(
                username = session.subject(),
                client_id = pending.client_id(),
                "signed out by the client"
            );
            return state.signed_out(pending, headers).await;
        }
        let name = state.display_name(session.subject());
        let csrf = state.csrf_token(&session, LOGOUT, pending.ticket());
        let form = state.form(pending.ticket(), &csrf);
        let html = pages::logout(pending.client_id(), name, &form);
        let csp = pages::csp_redirecting_to(pending.redirect_uri());
        pages::page(StatusCode::OK, &csp, html)
    }
}

/// What each signed-in form does, in its CSRF token's purpose (so a token of one form never
/// passes at another).
pub(crate) const CONSENT: &str = "consent";
/// The logout confirmation.
pub(crate) const LOGOUT: &str = "logout";
/// The account page's revoke buttons.
pub(crate) const REVOKE: &str = "revoke";
/// The account page's "sign out everywhere".
pub(crate) const SIGN_OUT_EVERYWHERE: &str = "sign-out-everywhere";

impl AppState {
    /// The request's live session, of a known user.
    async fn session_for(&self, headers: &HeaderMap) -> Result<Option<Session>, StoreError> {
        Ok(self
            .sessions
            .current(headers)
            .await?
            .filter(|s| self.users.get(s.subject()).is_some()))
    }

    /// The `sub` that client `client_id` knows `username` by (OpenID Connect Core §8).
    fn subject_for(&self, client_id: &str, username: &str) -> Option<String> {
        let client = self.clients.get(client_id)?;
        Some(self.provider.subject_for(client, username))
    }

    /// The CSRF token of `session`'s form doing `action` with `ticket`.
    pub(crate) fn csrf_token(&self, session: &Session, action: &str, ticket: &str) -> String {
        self.sessions.csrf_token(session, &purpose(action, ticket))
    }

    pub(crate) fn form<'a>(&'a self, ticket: &'a str, csrf: &'a str) -> FormContext<'a> {
        FormContext {
            base: &self.base,
            ticket,
            csrf,
        }
    }

    /// The sign-in form of `pending`, with a CSRF token bound to the browser's pre-login
    /// binding (set as a cookie if the browser has none yet).
    fn login_page(
        &self,
        status: StatusCode,
        pending: &PendingAuthorization,
        headers: &HeaderMap,
        username: &str,
        error: Option<&str>,
    ) -> Response {
        let Ok(binding) = self.sessions.login_binding(headers) else {
            return unavailable();
        };
        let csrf = self.sessions.login_csrf_token(&binding, pending.ticket());
        let form = self.form(pending.ticket(), &csrf);
        let html = pages::login(pending.client_id(), &form, username, error);
        let mut response = pages::page(status, pages::CSP, html);
        if let Some(cookie) = binding.set_cookie() {
            response.headers_mut().append(SET_COOKIE, cookie.clone());
        }
        response
    }

    /// The sign-in form again, `429` with `Retry-After` (RFC 6585 §4): too many failures.
    fn throttled_page(
        &self,
        pending: &PendingAuthorization,
        headers: &HeaderMap,
        username: &str,
        throttled: Throttled,
    ) -> Response {
        let secs = throttled.retry_after_secs;
        let error = format!("Too many failed sign-ins. Try again in {secs} seconds.");
        let status = StatusCode::TOO_MANY_REQUESTS;
        let mut response = self.login_page(status, pending, headers, username, Some(&error));
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(secs));
        response
    }

    fn consent_page(&self, pending: &PendingAuthorization, session: &Session) -> Response {
        let csrf = self.csrf_token(session, CONSENT, pending.ticket());
        let form = self.form(pending.ticket(), &csrf);
        let html = pages::consent(
            pending.client_id(),
            pending.scopes(),
            self.display_name(session.subject()),
            &form,
        );
        let csp = pages::csp_redirecting_to(Some(pending.redirect_uri()));
        pages::page(StatusCode::OK, &csp, html)
    }

    fn display_name<'a>(&'a self, username: &'a str) -> &'a str {
        self.users
            .get(username)
            .map_or(username, User::display_name)
    }

    /// Takes the engine's next `step` for `pending` ([`PendingAuthorization::next_step`]):
    /// back to the client (approved, or refused under `prompt=none`), the login page (with the
    /// request's `login_hint`), or the consent page of `session`. The example reaches no
    /// authentication context class: a request whose essential `acr` its password cannot
    /// reach is denied (a failed authentication, OpenID Connect Core §5.5.1.1).
    async fn take(
        &self,
        step: Result<NextStep, StoreError>,
        pending: PendingAuthorization,
        session: Option<Session>,
        headers: &HeaderMap,
    ) -> Response {
        let step = match step {
            Ok(step) => step,
            Err(e) => return store_failed(&e),
        };
        match (step, session) {
            (NextStep::Approve(approval), _) => self.approve(pending, approval).await,
            (NextStep::Consent, Some(session)) => self.consent_page(&pending, &session),
            (NextStep::Refuse(reason), _) => {
                into_response(self.provider.cannot_interact(pending, reason).await)
            }
            (NextStep::Login(prompt), _) if prompt.reason == LoginReason::Acr => {
                tracing::info!(client_id = pending.client_id(), "essential acr not reached");
                into_response(self.provider.deny(pending).await)
            }
            (NextStep::Login(prompt), _) => {
                let hint = prompt.login_hint.as_deref().unwrap_or_default();
                self.login_page(StatusCode::OK, &pending, headers, hint, None)
            }
            // The engine asks consent only of a signed-in user.
            (NextStep::Consent, None) => unavailable(),
        }
    }

    /// Approves `pending` as the engine decided or with the scopes the user checked.
    async fn approve(&self, pending: PendingAuthorization, approval: Approval) -> Response {
        let (username, client_id) = (&approval.subject, pending.client_id());
        let scopes = &approval.granted_scopes;
        tracing::info!(username, client_id, %scopes, "authorization approved");
        into_response(self.provider.approve(pending, approval).await)
    }

    /// Ends the request's session and lets the engine answer: back to the client's
    /// `post_logout_redirect_uri` with its `state`, or a signed-out page.
    async fn signed_out(&self, pending: PendingLogout, headers: &HeaderMap) -> Response {
        let cookie = match self.sessions.sign_out(headers).await {
            Ok(c) => c,
            Err(e) => return store_failed(&e),
        };
        let mut response = into_response(self.provider.finish_logout(pending).await);
        response.headers_mut().append(SET_COOKIE, cookie);
        response
    }
}

/// The purpose a signed-in form's CSRF token is bound to: its action and its ticket.
pub(crate) fn purpose(action: &str, ticket: &str) -> String {
    format!("{action} {ticket}")
}

/// A urlencoded form body.
struct Form(Vec<(String, String)>);

/// A field that must be single was repeated.
struct Repeated;

impl From<Repeated> for Response {
    fn from(_: Repeated) -> Self {
        bad_request()
    }
}

impl Form {
    /// The value of a field sent at most once; `Err` when repeated.
    fn one<'a>(&'a self, name: &str) -> Result<Option<&'a str>, Repeated> {
        let mut values = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        match (values.next(), values.next()) {
            (v, None) => Ok(v),
            _ => Err(Repeated),
        }
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Buffers (at most `portcullis_axum::MAX_BODY_BYTES`) and parses a form POST.
async fn read_form(req: Request) -> Result<(HeaderMap, Form), Response> {
    let req = read_request(req).await?;
    if !portcullis::is_form(&req) {
        return Err(pages::message(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Bad request",
            "Forms must be sent as application/x-www-form-urlencoded.",
        ));
    }
    let (parts, body) = req.into_parts();
    let fields = url::form_urlencoded::parse(&body).into_owned().collect();
    Ok((parts.headers, Form(fields)))
}

fn bad_request() -> Response {
    pages::message(
        StatusCode::BAD_REQUEST,
        "Bad request",
        "The form is malformed.",
    )
}

fn forbidden() -> Response {
    pages::message(
        StatusCode::FORBIDDEN,
        "Forbidden",
        "The form could not be verified. Go back to the application and start again.",
    )
}

pub(crate) fn unavailable() -> Response {
    pages::message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Unavailable",
        "The server cannot continue right now.",
    )
}

fn expired(what: &str) -> Response {
    pages::message(
        StatusCode::BAD_REQUEST,
        "Request expired",
        &format!(
            "This {what} request is invalid or has expired. Go back to the application and \
             start again."
        ),
    )
}

/// A store failure: logged for the operator, `503` for the user.
pub(crate) fn store_failed(e: &StoreError) -> Response {
    tracing::error!(error = %e, "store failure");
    unavailable()
}

/// A form that passed the CSRF check, with its ticket.
pub(crate) struct CheckedForm {
    pub(crate) headers: HeaderMap,
    form: Form,
    pub(crate) ticket: String,
}

/// Reads a form and its `ticket`; `Err` (403) unless `valid` accepts its CSRF token.
async fn checked(
    req: Request,
    valid: impl FnOnce(&HeaderMap, &str, Option<&str>) -> bool,
) -> Result<CheckedForm, Response> {
    let (headers, form) = read_form(req).await?;
    let ticket = form.one("ticket")?.unwrap_or_default().to_owned();
    if !valid(&headers, &ticket, form.one("csrf")?) {
        tracing::warn!("form refused: missing or invalid CSRF token");
        return Err(forbidden());
    }
    Ok(CheckedForm {
        headers,
        form,
        ticket,
    })
}

/// The check every signed-in form starts with: a CSRF token bound to the request's session
/// and to `action` with the form's ticket (else 403).
pub(crate) async fn session_form(
    state: &AppState,
    req: Request,
    action: &str,
) -> Result<CheckedForm, Response> {
    checked(req, |headers, ticket, token| {
        state
            .sessions
            .check_csrf(headers, &purpose(action, ticket), token)
    })
    .await
}

/// The client's address, when the server passes it (`ConnectInfo`).
fn client_address(req: &Request) -> Option<std::net::IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// `POST /login`: checks the password (unless throttled), then begins a new session and
/// shows consent.
pub(crate) async fn login(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let address = client_address(&req);
    let valid = |h: &HeaderMap, ticket: &str, token: Option<&str>| {
        state.sessions.check_login_csrf(h, ticket, token)
    };
    let checked = match checked(req, valid).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Ok(pending) = state.provider.resume(&checked.ticket) else {
        return expired("sign-in");
    };
    let CheckedForm { headers, form, .. } = checked;
    let (username, password) = match (form.one("username"), form.one("password")) {
        (Ok(u), Ok(p)) => (u.unwrap_or_default(), p.unwrap_or_default()),
        _ => return bad_request(),
    };
    let attempt = match state.throttle.begin(username, address) {
        Ok(a) => a,
        Err(throttled) => {
            tracing::warn!(client_id = pending.client_id(), "sign-in throttled");
            return state.throttled_page(&pending, &headers, username, throttled);
        }
    };
    let Some(user) = state.users.authenticate(username, password).await else {
        tracing::info!(client_id = pending.client_id(), "sign-in failed");
        let error = Some("The username or password is incorrect.");
        let status = StatusCode::UNAUTHORIZED;
        return state.login_page(status, &pending, &headers, username, error);
    };
    attempt.succeeded();
    tracing::info!(username, client_id = pending.client_id(), "signed in");
    let now = state.clock.now();
    let (session, cookie) = match state.sessions.sign_in(&headers, &user.username, now).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot begin a session");
            return unavailable();
        }
    };
    let user = facts(&session);
    let step = pending.next_step_after_login(&state.provider, &user).await;
    let mut response = state.take(step, pending, Some(session), &headers).await;
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}

/// `POST /consent`: `decision=approve` with the checked `scope` boxes, `decision=deny`, or
/// `decision=switch` (sign out, and back to the login page of the same request).
pub(crate) async fn consent(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let CheckedForm {
        headers,
        form,
        ticket,
    } = match session_form(&state, req, CONSENT).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Ok(pending) = state.provider.resume(&ticket) else {
        return expired("sign-in");
    };
    match form.one("decision") {
        Ok(Some("deny")) => {
            tracing::info!(client_id = pending.client_id(), "authorization denied");
            into_response(state.provider.deny(pending).await)
        }
        Ok(Some("switch")) => {
            let cookie = match state.sessions.sign_out(&headers).await {
                Ok(c) => c,
                Err(e) => return store_failed(&e),
            };
            let mut response = state.login_page(StatusCode::OK, &pending, &headers, "", None);
            response.headers_mut().append(SET_COOKIE, cookie);
            response
        }
        Ok(Some("approve")) => {
            let ended = |pending: &PendingAuthorization| {
                let error = Some("Your session has ended. Sign in again.");
                let status = StatusCode::UNAUTHORIZED;
                state.login_page(status, pending, &headers, "", error)
            };
            let session = match state.session_for(&headers).await {
                Ok(Some(s)) => facts(&s),
                Ok(None) => return ended(&pending),
                Err(e) => return store_failed(&e),
            };
            // The session must still satisfy the request (its max_age, say).
            match pending
                .next_step_after_login(&state.provider, &session)
                .await
            {
                Ok(NextStep::Approve(_) | NextStep::Consent) => {}
                Ok(NextStep::Login(_)) => return ended(&pending),
                Ok(NextStep::Refuse(reason)) => {
                    return into_response(state.provider.cannot_interact(pending, reason).await)
                }
                Err(e) => return store_failed(&e),
            }
            let Ok(granted_scopes) = ScopeSet::from_tokens(form.all("scope")) else {
                return bad_request();
            };
            state
                .approve(pending, session.approval(granted_scopes))
                .await
        }
        _ => bad_request(),
    }
}

/// `POST /logout`: the answer to the logout confirmation, `decision=yes` or `decision=no`.
pub(crate) async fn logout(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let checked = match session_form(&state, req, LOGOUT).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Ok(pending) = state.provider.resume_logout(&checked.ticket) else {
        return expired("sign-out");
    };
    match checked.form.one("decision") {
        Ok(Some("yes")) => {
            tracing::info!(
                client_id = pending.client_id(),
                "signed out after confirmation"
            );
            state.signed_out(pending, &checked.headers).await
        }
        Ok(Some("no")) => pages::message(
            StatusCode::OK,
            "Still signed in",
            "You are still signed in. You can close this page.",
        ),
        _ => bad_request(),
    }
}
