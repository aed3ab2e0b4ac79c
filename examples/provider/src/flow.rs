//! Login and consent: the host's half of the authorization endpoint.
//!
//! `GET /authorize` (the engine) → [`Pages::begin`]: the login page, or the consent page when
//! a session cookie is valid. `POST /login` checks the password and shows the consent page;
//! `POST /consent` approves with the checked scopes or denies. Every POST needs a valid CSRF
//! token (else 403) and a live ticket (else 400).
//!
//! OpenID Connect requests are honoured too (Core §3.1.2.1): `prompt=none` never shows a
//! page, `prompt=login` and an exceeded `max_age` ask for the password again, and
//! `login_hint` fills in the username.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use http::header::SET_COOKIE;
use http::{HeaderMap, StatusCode};
use portcullis::core::{ScopeSet, UnixTime};
use portcullis::{Approval, InteractionRequired, PendingAuthorization, PendingLogout};
use portcullis_axum::{async_trait, into_response, read_request, Interaction};

use crate::app::AppState;
use crate::pages::{self, FormContext};
use crate::session::Session;
use crate::users::User;

/// The example's [`Interaction`]: renders login or consent for a pending authorization.
pub(crate) struct Pages(pub(crate) Arc<AppState>);

#[async_trait]
impl Interaction for Pages {
    async fn begin(
        &self,
        pending: PendingAuthorization,
        request: http::request::Parts,
    ) -> Response {
        let state = &self.0;
        let binding = match state.csrf.binding(&request.headers, &state.rng) {
            Ok(b) => b,
            Err(_) => return unavailable(),
        };
        let now = state.clock.now();
        let prompt = pending.oidc().map(|o| o.prompt).unwrap_or_default();
        let user = match state.session_for(&request.headers, &pending, now) {
            Some(_) if prompt.login => None,
            Some(session) => state.users.get(&session.username),
            None => None,
        };
        if prompt.none {
            // No page may be shown. This example keeps no record of earlier consent, so a
            // signed-in user still has to give it.
            let reason = match user {
                Some(_) => InteractionRequired::Consent,
                None => InteractionRequired::Login,
            };
            return into_response(state.provider.cannot_interact(pending, reason));
        }
        let mut response = match user {
            Some(user) => state.consent_page(&pending, &binding.value, user),
            None => {
                let hint = pending.oidc().and_then(|o| o.login_hint.as_deref());
                let hint = hint.unwrap_or_default();
                state.login_page(StatusCode::OK, &pending, &binding.value, hint, None)
            }
        };
        if let Some(cookie) = state.csrf.set_cookie(&binding) {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
        response
    }

    async fn end_session(
        &self,
        pending: PendingLogout,
        _request: http::request::Parts,
    ) -> Response {
        let state = &self.0;
        if pending.needs_confirmation() {
            // TODO(issue 4): a confirmation page; until then only hinted logouts proceed.
            return pages::message(
                StatusCode::BAD_REQUEST,
                "Logout",
                "Logout without id_token_hint needs a confirmation page.",
            );
        }
        let mut response = into_response(state.provider.finish_logout(pending));
        response
            .headers_mut()
            .append(SET_COOKIE, state.sessions.clear_cookie());
        response
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

    fn form<'a>(&'a self, pending: &'a PendingAuthorization, csrf: &'a str) -> FormContext<'a> {
        FormContext {
            base: &self.base,
            ticket: pending.ticket(),
            csrf,
        }
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
        let form = self.form(pending, &csrf);
        let html = pages::login(pending.client_id(), &form, username, error);
        pages::page(status, pages::CSP, html)
    }

    fn consent_page(&self, pending: &PendingAuthorization, binding: &str, user: &User) -> Response {
        let csrf = self.csrf.token(binding, pending.ticket());
        let form = self.form(pending, &csrf);
        let html = pages::consent(
            pending.client_id(),
            pending.scopes(),
            user.display_name(),
            &form,
        );
        pages::page(StatusCode::OK, pages::CONSENT_CSP, html)
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
    let is_form = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
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

/// The checks every POST starts with: a form, a valid CSRF token for its ticket (403), and
/// a ticket that is still live (400).
async fn pending_form(
    state: &AppState,
    req: Request,
) -> Result<(HeaderMap, Form, PendingAuthorization, String), Response> {
    let (headers, form) = read_form(req).await?;
    let ticket = form.one("ticket")?.unwrap_or_default();
    let Some(binding) = state.csrf.check(&headers, ticket, form.one("csrf")?) else {
        tracing::warn!("form refused: missing or invalid CSRF token");
        return Err(forbidden());
    };
    let binding = binding.to_owned();
    let pending = state.provider.resume(ticket).map_err(|_| {
        pages::message(
            StatusCode::BAD_REQUEST,
            "Request expired",
            "This sign-in request is invalid or has expired. Go back to the application and \
             start again.",
        )
    })?;
    Ok((headers, form, pending, binding))
}

/// `POST /login`: checks the password, then sets the session and shows consent.
pub(crate) async fn login(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (_, form, pending, binding) = match pending_form(&state, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (username, password) = match (form.one("username"), form.one("password")) {
        (Ok(u), Ok(p)) => (u.unwrap_or_default(), p.unwrap_or_default()),
        _ => return bad_request(),
    };
    let Some(user) = state.users.authenticate(username, password) else {
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
    let mut response = state.consent_page(&pending, &binding, user);
    let cookie = state.sessions.set_cookie(&session);
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}

/// `POST /consent`: `decision=approve` with the checked `scope` boxes, or `decision=deny`.
pub(crate) async fn consent(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let (headers, form, pending, binding) = match pending_form(&state, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let client_id = pending.client_id().to_owned();
    match form.one("decision") {
        Ok(Some("deny")) => {
            tracing::info!(client_id, "authorization denied");
            into_response(state.provider.deny(pending))
        }
        Ok(Some("approve")) => {
            let session = state.session_for(&headers, &pending, state.clock.now());
            let Some(Session {
                username,
                auth_time,
            }) = session
            else {
                let error = Some("Your session has ended. Sign in again.");
                return state.login_page(StatusCode::UNAUTHORIZED, &pending, &binding, "", error);
            };
            let Ok(granted_scopes) = ScopeSet::from_tokens(form.all("scope")) else {
                return bad_request();
            };
            tracing::info!(username, client_id, scopes = %granted_scopes, "authorization approved");
            let approval = Approval {
                subject: username,
                auth_time,
                granted_scopes,
                acr: None,
                amr: Some(vec!["pwd".into()]),
            };
            into_response(state.provider.approve(pending, approval).await)
        }
        _ => bad_request(),
    }
}

/// `GET /logout`: ends the session.
pub(crate) async fn logout(State(state): State<Arc<AppState>>) -> Response {
    let mut response = pages::message(StatusCode::OK, "Signed out", "You are signed out.");
    let cookie = state.sessions.clear_cookie();
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}
