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
//! Sessions, CSRF tokens, throttling, form reading and the pages are the kit's
//! (`portcullis_interaction`): server-side sessions that logout ends, forms bound to the
//! session (the login form to a pre-login binding cookie), `429` with `Retry-After` for a
//! throttled sign-in, whose password is not even checked. The handlers here are on `http`
//! types; `app` mounts them on axum.
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

use std::sync::Arc;

use bytes::Bytes;
use http::header::SET_COOKIE;
use http::{HeaderMap, Request, StatusCode};
use portcullis::core::ScopeSet;
use portcullis::store::StoreError;
use portcullis::{
    async_trait, Approval, Interaction, LoginReason, NextStep, PendingAuthorization, PendingLogout,
    SessionFacts,
};
use portcullis_interaction::{
    Account, ClientAddress, ConsentPage, FormGuard, LoginPage, LogoutPage, PageError, Session,
};

use crate::app::AppState;
use crate::users::User;

/// A page: the pages' handlers are framework-free, on `http` types.
pub(crate) type Page = http::Response<Bytes>;

/// The example's [`Interaction`]: renders login or consent for a pending authorization, and
/// the confirmation of a logout.
pub(crate) struct Pages(pub(crate) Arc<AppState>);

#[async_trait]
impl Interaction for Pages {
    async fn begin(&self, pending: PendingAuthorization, request: http::request::Parts) -> Page {
        begin(&self.0, pending, &request.headers).await
    }

    async fn end_session(&self, pending: PendingLogout, request: http::request::Parts) -> Page {
        end_session(&self.0, pending, &request.headers).await
    }
}

/// The next step of a pending authorization, as the engine decides
/// ([`PendingAuthorization::next_step`]): the login page, the consent page, or straight back
/// to the client.
pub(crate) async fn begin(
    state: &AppState,
    pending: PendingAuthorization,
    headers: &HeaderMap,
) -> Page {
    match state.session_for(headers).await {
        Ok(session) => {
            let user = session.as_ref().map(facts);
            let step = pending.next_step(&state.provider, user.as_ref()).await;
            state.take(step, pending, session, headers).await
        }
        Err(e) => store_failed(state, &e),
    }
}

/// What the engine knows of a session: its user, signed in with a password.
fn facts(session: &Session) -> SessionFacts {
    SessionFacts::new(session.subject(), session.auth_time()).with_amr(vec!["pwd".into()])
}

/// A valid RP-initiated logout: signs out at once, or asks first.
pub(crate) async fn end_session(
    state: &AppState,
    pending: PendingLogout,
    headers: &HeaderMap,
) -> Page {
    let session = match state.sessions.current(headers).await {
        Ok(Some(s)) => s,
        // Nobody is signed in here: nothing to end, nothing to ask.
        Ok(None) => return state.signed_out(pending, headers).await,
        Err(e) => return store_failed(state, &e),
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
    let csrf = state
        .sessions
        .form_token(&session, LOGOUT, pending.ticket());
    state.pages.logout(&LogoutPage {
        client_id: pending.client_id(),
        user: state.display_name(session.subject()),
        ticket: pending.ticket(),
        csrf: &csrf,
        redirect_uri: pending.redirect_uri(),
    })
}

/// What each signed-in form does, in its CSRF token's purpose (so a token of one form never
/// passes at another).
pub(crate) const CONSENT: &str = "consent";
/// The logout confirmation.
pub(crate) const LOGOUT: &str = "logout";

impl AppState {
    /// The user's account page (`portcullis_interaction::Account`).
    fn account(&self) -> Account<'_> {
        Account {
            provider: &self.provider,
            sessions: &self.sessions,
            pages: &self.pages,
        }
    }

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

    /// The sign-in form of `pending`, with a CSRF token bound to the browser's pre-login
    /// binding (set as a cookie if the browser has none yet).
    fn login_page(
        &self,
        status: StatusCode,
        pending: &PendingAuthorization,
        headers: &HeaderMap,
        username: &str,
        error: Option<&str>,
    ) -> Page {
        let login = LoginPage {
            client_id: pending.client_id(),
            ticket: pending.ticket(),
            username,
            error,
        };
        self.pages.login(&self.sessions, headers, status, &login)
    }

    fn consent_page(&self, pending: &PendingAuthorization, session: &Session) -> Page {
        let csrf = self.sessions.form_token(session, CONSENT, pending.ticket());
        self.pages.consent(&ConsentPage {
            client_id: pending.client_id(),
            user: self.display_name(session.subject()),
            scopes: pending.scopes(),
            ticket: pending.ticket(),
            csrf: &csrf,
            redirect_uri: pending.redirect_uri(),
        })
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
    ) -> Page {
        let step = match step {
            Ok(step) => step,
            Err(e) => return store_failed(self, &e),
        };
        match (step, session) {
            (NextStep::Approve(approval), _) => self.approve(pending, approval).await,
            (NextStep::Consent, Some(session)) => self.consent_page(&pending, &session),
            (NextStep::Refuse(reason), _) => self.provider.cannot_interact(pending, reason).await,
            (NextStep::Login(prompt), _) if prompt.reason == LoginReason::Acr => {
                tracing::info!(client_id = pending.client_id(), "essential acr not reached");
                self.provider.deny(pending).await
            }
            (NextStep::Login(prompt), _) => {
                let hint = prompt.login_hint.as_deref().unwrap_or_default();
                self.login_page(StatusCode::OK, &pending, headers, hint, None)
            }
            // The engine asks consent only of a signed-in user.
            (NextStep::Consent, None) => self.pages.error(PageError::Unavailable),
        }
    }

    /// Approves `pending` as the engine decided or with the scopes the user checked.
    async fn approve(&self, pending: PendingAuthorization, approval: Approval) -> Page {
        let (username, client_id) = (&approval.subject, pending.client_id());
        let scopes = &approval.granted_scopes;
        tracing::info!(username, client_id, %scopes, "authorization approved");
        self.provider.approve(pending, approval).await
    }

    /// Ends the request's session and lets the engine answer: back to the client's
    /// `post_logout_redirect_uri` with its `state`, or a signed-out page.
    async fn signed_out(&self, pending: PendingLogout, headers: &HeaderMap) -> Page {
        let cookie = match self.sessions.sign_out(headers).await {
            Ok(c) => c,
            Err(e) => return store_failed(self, &e),
        };
        let mut response = self.provider.finish_logout(pending).await;
        response.headers_mut().append(SET_COOKIE, cookie);
        response
    }
}

/// A store failure: logged for the operator, `503` for the user.
pub(crate) fn store_failed(state: &AppState, e: &StoreError) -> Page {
    tracing::error!(error = %e, "store failure");
    state.pages.error(PageError::Unavailable)
}

/// `GET /account`: the signed-in user's grants, and "sign out everywhere".
pub(crate) async fn account(state: Arc<AppState>, req: Request<Bytes>) -> Page {
    state.account().show(&req).await
}

/// `POST /account/revoke`: revokes one of the signed-in user's grants.
pub(crate) async fn revoke_grant(state: Arc<AppState>, req: Request<Bytes>) -> Page {
    state.account().revoke(&req).await
}

/// `POST /account/sign-out-everywhere`: ends every session of the signed-in user.
pub(crate) async fn sign_out_everywhere(state: Arc<AppState>, req: Request<Bytes>) -> Page {
    state.account().sign_out_everywhere(&req).await
}

/// `POST /login`: checks the password (unless throttled), then begins a new session and
/// shows consent.
pub(crate) async fn login(state: Arc<AppState>, req: Request<Bytes>) -> Page {
    let checked = match state.sessions.check_form(&req, FormGuard::Login) {
        Ok(f) => f,
        Err(e) => return state.pages.error(e),
    };
    let Ok(pending) = state.provider.resume(&checked.ticket) else {
        return state.pages.error(PageError::Expired("sign-in"));
    };
    let (headers, form) = (req.headers(), checked.form);
    let (username, password) = match (form.one("username"), form.one("password")) {
        (Ok(u), Ok(p)) => (u.unwrap_or_default(), p.unwrap_or_default()),
        _ => return state.pages.error(PageError::BadForm),
    };
    let address = req.extensions().get::<ClientAddress>().map(|a| a.0);
    let attempt = match state.throttle.begin(username, address) {
        Ok(a) => a,
        Err(throttled) => {
            tracing::warn!(client_id = pending.client_id(), "sign-in throttled");
            let login = LoginPage {
                client_id: pending.client_id(),
                ticket: pending.ticket(),
                username,
                error: None,
            };
            let pages = &state.pages;
            return pages.throttled_login(&state.sessions, headers, &login, throttled);
        }
    };
    let Some(user) = state.users.authenticate(username, password).await else {
        tracing::info!(client_id = pending.client_id(), "sign-in failed");
        let error = Some("The username or password is incorrect.");
        let status = StatusCode::UNAUTHORIZED;
        return state.login_page(status, &pending, headers, username, error);
    };
    attempt.succeeded();
    tracing::info!(username, client_id = pending.client_id(), "signed in");
    let now = state.clock.now();
    let (session, cookie) = match state.sessions.sign_in(headers, &user.username, now).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot begin a session");
            return state.pages.error(PageError::Unavailable);
        }
    };
    let user = facts(&session);
    let step = pending.next_step_after_login(&state.provider, &user).await;
    let mut response = state.take(step, pending, Some(session), headers).await;
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}

/// `POST /consent`: `decision=approve` with the checked `scope` boxes, `decision=deny`, or
/// `decision=switch` (sign out, and back to the login page of the same request).
pub(crate) async fn consent(state: Arc<AppState>, req: Request<Bytes>) -> Page {
    let (form, ticket) = match state.sessions.check_form(&req, FormGuard::Session(CONSENT)) {
        Ok(f) => (f.form, f.ticket),
        Err(e) => return state.pages.error(e),
    };
    let Ok(pending) = state.provider.resume(&ticket) else {
        return state.pages.error(PageError::Expired("sign-in"));
    };
    let headers = req.headers();
    match form.one("decision") {
        Ok(Some("deny")) => {
            tracing::info!(client_id = pending.client_id(), "authorization denied");
            state.provider.deny(pending).await
        }
        Ok(Some("switch")) => {
            let cookie = match state.sessions.sign_out(headers).await {
                Ok(c) => c,
                Err(e) => return store_failed(&state, &e),
            };
            let mut response = state.login_page(StatusCode::OK, &pending, headers, "", None);
            response.headers_mut().append(SET_COOKIE, cookie);
            response
        }
        Ok(Some("approve")) => {
            let ended = |pending: &PendingAuthorization| {
                let error = Some("Your session has ended. Sign in again.");
                let status = StatusCode::UNAUTHORIZED;
                state.login_page(status, pending, headers, "", error)
            };
            let session = match state.session_for(headers).await {
                Ok(Some(s)) => facts(&s),
                Ok(None) => return ended(&pending),
                Err(e) => return store_failed(&state, &e),
            };
            // The session must still satisfy the request (its max_age, say).
            match pending.next_step_at_consent(&state.provider, &session) {
                NextStep::Approve(_) | NextStep::Consent => {}
                NextStep::Login(_) => return ended(&pending),
                NextStep::Refuse(reason) => {
                    return state.provider.cannot_interact(pending, reason).await
                }
            }
            let Ok(granted_scopes) = ScopeSet::from_tokens(form.all("scope")) else {
                return state.pages.error(PageError::BadForm);
            };
            state
                .approve(pending, session.approval(granted_scopes))
                .await
        }
        _ => state.pages.error(PageError::BadForm),
    }
}

/// `POST /logout`: the answer to the logout confirmation, `decision=yes` or `decision=no`.
pub(crate) async fn logout(state: Arc<AppState>, req: Request<Bytes>) -> Page {
    let (form, ticket) = match state.sessions.check_form(&req, FormGuard::Session(LOGOUT)) {
        Ok(f) => (f.form, f.ticket),
        Err(e) => return state.pages.error(e),
    };
    let Ok(pending) = state.provider.resume_logout(&ticket) else {
        return state.pages.error(PageError::Expired("sign-out"));
    };
    match form.one("decision") {
        Ok(Some("yes")) => {
            tracing::info!(
                client_id = pending.client_id(),
                "signed out after confirmation"
            );
            state.signed_out(pending, req.headers()).await
        }
        Ok(Some("no")) => state.pages.message(
            StatusCode::OK,
            "Still signed in",
            "You are still signed in. You can close this page.",
        ),
        _ => state.pages.error(PageError::BadForm),
    }
}
