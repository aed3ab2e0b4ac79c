//! Login, consent and logout: the host's half of the authorization and end-session
//! endpoints.
//!
//! `GET /authorize` (the engine) → [`Pages::begin`]: the login page, or, when a session cookie
//! is valid, the consent page (straight back to the client if the engine remembers a consent
//! that covers the request). `POST /login` checks the password and goes on the same way;
//! `POST /consent` approves with the checked scopes, denies, or signs out to let another
//! user sign in. Every POST needs a valid CSRF token (else 403) and a live ticket (else 400).
//!
//! OpenID Connect requests are honoured too (Core §3.1.2.1): `prompt=none` never shows a
//! page, `prompt=login`, `prompt=select_account` and an exceeded `max_age` ask for the
//! password again, an `id_token_hint` naming another user does not count the session, and
//! `login_hint` fills in the username. `ui_locales` is ignored: the pages are in English.
//!
//! `/session/end` (the engine) → [`Pages::end_session`]: RP-initiated logout (RP-Initiated
//! Logout 1.0 §2). A request whose `id_token_hint` names the signed-in user ends the session
//! at once; any other one asks first, with a form posted to `POST /logout`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use http::header::SET_COOKIE;
use http::{HeaderMap, StatusCode};
use portcullis::core::{ScopeSet, UnixTime};
use portcullis::{Approval, InteractionRequired, PendingAuthorization, PendingLogout};
use portcullis_axum::{async_trait, into_response, read_request, Interaction};

use crate::app::AppState;
use crate::csrf::Binding;
use crate::pages::{self, FormContext};
use crate::session::Session;
use crate::users::User;

/// The example's [`Interaction`]: renders login or consent for a pending authorization, and
/// the confirmation of a logout.
pub(crate) struct Pages(pub(crate) Arc<AppState>);

#[async_trait]
impl Interaction for Pages {
    async fn begin(
        &self,
        pending: PendingAuthorization,
        request: http::request::Parts,
    ) -> Response {
        let state = &self.0;
        let Ok(binding) = state.csrf.binding(&request.headers, &state.rng) else {
            return unavailable();
        };
        let now = state.clock.now();
        let prompt = pending.oidc().map(|o| o.prompt).unwrap_or_default();
        let hinted = pending.id_token_hint_subject();
        let session = state
            .session_for(&request.headers, &pending, now)
            // The user must sign in again, or choose which account to use.
            .filter(|_| !(prompt.login || prompt.select_account))
            // The client expects another user than the one signed in.
            .filter(|s| {
                hinted.as_deref().is_none_or(|h| {
                    state
                        .subject_for(pending.client_id(), &s.username)
                        .as_deref()
                        == Some(h)
                })
            });
        let response = match session {
            Some(session) => state.signed_in(pending, &binding.value, session).await,
            None if prompt.none => {
                let reason = InteractionRequired::Login;
                return into_response(state.provider.cannot_interact(pending, reason).await);
            }
            None => {
                let hint = pending.oidc().and_then(|o| o.login_hint.as_deref());
                let hint = hint.unwrap_or_default();
                state.login_page(StatusCode::OK, &pending, &binding.value, hint, None)
            }
        };
        state.with_binding(response, &binding)
    }

    async fn end_session(&self, pending: PendingLogout, request: http::request::Parts) -> Response {
        let state = &self.0;
        let Some(session) = state.sessions.read(&request.headers, state.clock.now()) else {
            // Nobody is signed in here: nothing to end, nothing to ask.
            return state.signed_out(pending).await;
        };
        let hint_is_the_user = match (pending.hint_subject(), pending.client_id()) {
            (Some(hint), Some(client_id)) => {
                state.subject_for(client_id, &session.username).as_deref() == Some(hint)
            }
            _ => false,
        };
        if !pending.needs_confirmation() && hint_is_the_user {
            tracing::info!(
                username = session.username,
                client_id = pending.client_id(),
                "signed out by the client"
            );
            return state.signed_out(pending).await;
        }
        let Ok(binding) = state.csrf.binding(&request.headers, &state.rng) else {
            return unavailable();
        };
        let name = state.display_name(&session.username);
        let csrf = state.csrf.token(&binding.value, pending.ticket());
        let form = state.form(pending.ticket(), &csrf);
        let html = pages::logout(pending.client_id(), name, &form);
        let csp = pages::csp_redirecting_to(pending.redirect_uri());
        state.with_binding(pages::page(StatusCode::OK, &csp, html), &binding)
    }
}

impl AppState {
    /// The request's valid session, of a known user, and recent enough for the request's
    /// `max_age` (OpenID Connect Core §3.1.2.1).
    fn session_for(
        &self,
        headers: &HeaderMap,
        pending: &PendingAuthorization,
        now: UnixTime,
    ) -> Option<Session> {
        let max_age = pending.oidc().and_then(|o| o.max_age);
        self.sessions
            .read(headers, now)
            .filter(|s| self.users.get(&s.username).is_some())
            .filter(|s| max_age.is_none_or(|m| s.auth_time.seconds_until(now) <= m))
    }

    /// The `sub` that client `client_id` knows `username` by (OpenID Connect Core §8).
    fn subject_for(&self, client_id: &str, username: &str) -> Option<String> {
        let client = self.clients.get(client_id)?;
        Some(self.provider.subject_for(client, username))
    }

    fn form<'a>(&'a self, ticket: &'a str, csrf: &'a str) -> FormContext<'a> {
        FormContext {
            base: &self.base,
            ticket,
            csrf,
        }
    }

    /// Sets the browser's CSRF binding cookie on `response` if it is new.
    fn with_binding(&self, mut response: Response, binding: &Binding) -> Response {
        if let Some(cookie) = self.csrf.set_cookie(binding) {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
        response
    }

    fn login_page(
        &self,
        status: StatusCode,
        pending: &PendingAuthorization,
        binding: &str,
        username: &str,
        error: Option<&str>,
    ) -> Response {
        let csrf = self.csrf.token(binding, pending.ticket());
        let form = self.form(pending.ticket(), &csrf);
        let html = pages::login(pending.client_id(), &form, username, error);
        pages::page(status, pages::CSP, html)
    }

    fn consent_page(
        &self,
        pending: &PendingAuthorization,
        binding: &str,
        username: &str,
    ) -> Response {
        let csrf = self.csrf.token(binding, pending.ticket());
        let form = self.form(pending.ticket(), &csrf);
        let html = pages::consent(
            pending.client_id(),
            pending.scopes(),
            self.display_name(username),
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

    /// The next step for a signed-in user: straight back to the client when an earlier
    /// consent covers the request (remembered by the engine), else the consent page, or
    /// `consent_required` when no page may be shown (`prompt=none`).
    async fn signed_in(
        &self,
        pending: PendingAuthorization,
        binding: &str,
        session: Session,
    ) -> Response {
        let prompt_none = pending.oidc().is_some_and(|o| o.prompt.none);
        match self
            .provider
            .needs_consent(&pending, &session.username)
            .await
        {
            Ok(false) => {
                let scopes = pending.scopes().clone();
                self.approve(pending, session, scopes).await
            }
            Ok(true) if prompt_none => {
                let reason = InteractionRequired::Consent;
                into_response(self.provider.cannot_interact(pending, reason).await)
            }
            Ok(true) => self.consent_page(&pending, binding, &session.username),
            Err(e) => {
                tracing::error!(error = %e, "store failure");
                unavailable()
            }
        }
    }

    /// Approves `pending` for the session's user with `granted_scopes`.
    async fn approve(
        &self,
        pending: PendingAuthorization,
        session: Session,
        granted_scopes: ScopeSet,
    ) -> Response {
        let Session {
            username,
            auth_time,
        } = session;
        let client_id = pending.client_id();
        tracing::info!(username, client_id, scopes = %granted_scopes, "authorization approved");
        let approval = Approval {
            subject: username,
            auth_time,
            granted_scopes,
            acr: None,
            amr: Some(vec!["pwd".into()]),
        };
        into_response(self.provider.approve(pending, approval).await)
    }

    /// Ends the session and lets the engine answer: back to the client's
    /// `post_logout_redirect_uri` with its `state`, or a signed-out page.
    async fn signed_out(&self, pending: PendingLogout) -> Response {
        let mut response = into_response(self.provider.finish_logout(pending).await);
        let cookie = self.sessions.clear_cookie();
        response.headers_mut().append(SET_COOKIE, cookie);
        response
    }
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

fn unavailable() -> Response {
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

/// A form that passed the CSRF check, with its ticket and the browser's binding.
pub(crate) struct CheckedForm {
    pub(crate) headers: HeaderMap,
    form: Form,
    pub(crate) ticket: String,
    binding: String,
}

/// The check every POST starts with: a form with a valid CSRF token for its ticket (403).
pub(crate) async fn checked_form(state: &AppState, req: Request) -> Result<CheckedForm, Response> {
    let (headers, form) = read_form(req).await?;
    let ticket = form.one("ticket")?.unwrap_or_default().to_owned();
    let Some(binding) = state.csrf.check(&headers, &ticket, form.one("csrf")?) else {
        tracing::warn!("form refused: missing or invalid CSRF token");
        return Err(forbidden());
    };
    let binding = binding.to_owned();
    Ok(CheckedForm {
        headers,
        form,
        ticket,
        binding,
    })
}

/// A checked form whose ticket is a live pending authorization (else 400).
async fn pending_form(
    state: &AppState,
    req: Request,
) -> Result<(CheckedForm, PendingAuthorization), Response> {
    let checked = checked_form(state, req).await?;
    let pending = state
        .provider
        .resume(&checked.ticket)
        .map_err(|_| expired("sign-in"))?;
    Ok((checked, pending))
}

/// `POST /login`: checks the password, then sets the session and shows consent.
pub(crate) async fn login(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (CheckedForm { form, binding, .. }, pending) = match pending_form(&state, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (username, password) = match (form.one("username"), form.one("password")) {
        (Ok(u), Ok(p)) => (u.unwrap_or_default(), p.unwrap_or_default()),
        _ => return bad_request(),
    };
    let Some(user) = state.users.authenticate(username, password).await else {
        tracing::info!(client_id = pending.client_id(), "sign-in failed");
        let error = Some("The username or password is incorrect.");
        return state.login_page(
            StatusCode::UNAUTHORIZED,
            &pending,
            &binding,
            username,
            error,
        );
    };
    tracing::info!(username, client_id = pending.client_id(), "signed in");
    let session = Session {
        username: user.username.clone(),
        auth_time: state.clock.now(),
    };
    let cookie = state.sessions.set_cookie(&session);
    let mut response = state.signed_in(pending, &binding, session).await;
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}

/// `POST /consent`: `decision=approve` with the checked `scope` boxes, `decision=deny`, or
/// `decision=switch` (sign out, and back to the login page of the same request).
pub(crate) async fn consent(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (checked, pending) = match pending_form(&state, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let CheckedForm {
        headers,
        form,
        binding,
        ..
    } = checked;
    match form.one("decision") {
        Ok(Some("deny")) => {
            tracing::info!(client_id = pending.client_id(), "authorization denied");
            into_response(state.provider.deny(pending).await)
        }
        Ok(Some("switch")) => {
            let mut response = state.login_page(StatusCode::OK, &pending, &binding, "", None);
            let cookie = state.sessions.clear_cookie();
            response.headers_mut().append(SET_COOKIE, cookie);
            response
        }
        Ok(Some("approve")) => {
            let Some(session) = state.session_for(&headers, &pending, state.clock.now()) else {
                let error = Some("Your session has ended. Sign in again.");
                return state.login_page(StatusCode::UNAUTHORIZED, &pending, &binding, "", error);
            };
            let Ok(granted_scopes) = ScopeSet::from_tokens(form.all("scope")) else {
                return bad_request();
            };
            state.approve(pending, session, granted_scopes).await
        }
        _ => bad_request(),
    }
}

/// `POST /logout`: the answer to the logout confirmation, `decision=yes` or `decision=no`.
pub(crate) async fn logout(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let checked = match checked_form(&state, req).await {
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
            state.signed_out(pending).await
        }
        Ok(Some("no")) => pages::message(
            StatusCode::OK,
            "Still signed in",
            "You are still signed in. You can close this page.",
        ),
        _ => bad_request(),
    }
}
