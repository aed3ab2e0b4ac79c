//! Login, consent and logout for users who sign in with a password: the host's
//! [`Interaction`] and the handlers of the forms it shows, on `http` types.
//!
//! `GET /authorize` (the engine) → [`Interaction::begin`]: the engine decides what to show
//! ([`PendingAuthorization::next_step`], OpenID Connect Core §3.1.2.1): the login page (the
//! username filled in from `login_hint`), the consent page of a live session, straight back
//! to the client (remembered consent), or the refusal of `prompt=none`. A password reaches
//! no authentication context class: a request whose essential `acr` it cannot reach is
//! denied (a failed authentication, §5.5.1.1). `ui_locales` is ignored.
//!
//! `POST /login` ([`LoginFlow::login`]) checks the password — unless the sign-in is
//! throttled (`429` with `Retry-After`, the password unchecked) — and the one-time code of
//! the `otp` field, then begins a new session and goes on the same way. A user who enrolled
//! a second factor ([`UserDirectory::totp_secret`]) may give a code; they must when the
//! request asks for [`MFA_ACR`] in `acr_values` (OpenID Connect Core §3.1.2.1, RFC 9470 §4),
//! and the login page then asks for it. A right code ([`TotpCheck`]) makes the sign-in reach
//! [`MFA_ACR`] with `amr` `["pwd", "otp"]` (RFC 8176); a password alone reaches no `acr`,
//! `amr` `["pwd"]`. A wrong code, or a missing one where required, is a failed sign-in
//! (throttled like a wrong password). The session remembers what the sign-in reached. `POST /consent` ([`LoginFlow::consent`]) approves with the checked
//! scopes while the session still satisfies the request, denies, or signs out to let
//! another user sign in. Every POST needs a valid CSRF token (else `403`) and a live ticket
//! (else `400`).
//!
//! `/session/end` (the engine) → [`Interaction::end_session`]: RP-initiated logout
//! (RP-Initiated Logout 1.0 §2). A request whose `id_token_hint` names the signed-in user
//! ends the session at once ([`PendingLogout::ends_without_asking`]); any other one asks
//! first, with a form posted to `POST /logout` ([`LoginFlow::logout`]).

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::header::SET_COOKIE;
use http::request::Parts;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use portcullis::core::ScopeSet;
use portcullis::store::StoreError;
use portcullis::{
    async_trait, Approval, HostRoutes, Interaction, LoginReason, NextStep, PendingAuthorization,
    PendingLogout, Provider, SessionFacts,
};

mod device;

use crate::account::Account;
use crate::form::FormGuard;
use crate::pages::{ConsentPage, LoginPage, LogoutPage, PageError, Pages};
use crate::session::{Session, SessionManager};
use crate::totp::{TotpCheck, TotpSecret, MFA_ACR, MFA_AMR};
use portcullis::throttle::{with_client_address, ClientAddress, LoginThrottle};

/// The host's users, as the login pages need them.
#[async_trait]
pub trait UserDirectory: Send + Sync + 'static {
    /// The subject of the user who signs in as `username` with `password`; `None` when the
    /// password is not theirs or there is no such user. Check it with
    /// [`PasswordCheck`](crate::PasswordCheck): in constant time, off the async workers, and
    /// as slowly for an unknown user (RFC 6819 §5.1.4.2.2).
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<String>, StoreError>;

    /// The name to greet user `subject` with; `None` when there is no such user (any more):
    /// a session of theirs then counts as none.
    async fn display_name(&self, subject: &str) -> Result<Option<String>, StoreError>;

    /// The TOTP secret of user `subject` (RFC 6238), if they enrolled a second factor: a
    /// sign-in with a code from it reaches [`MFA_ACR`]. None by default.
    async fn totp_secret(&self, subject: &str) -> Result<Option<TotpSecret>, StoreError> {
        let _ = subject;
        Ok(None)
    }
}

/// The CSRF purpose of the consent form (a token of one form never passes at another).
const CONSENT: &str = "consent";
/// The CSRF purpose of the logout confirmation.
const LOGOUT: &str = "logout";

/// The login, consent and logout pages of one issuer (see the module documentation). Cheap
/// to clone (shared state).
#[derive(Clone)]
pub struct LoginFlow {
    inner: Arc<Inner>,
    /// Checks the codes of enrolled users; without it they cannot sign in.
    totp: Option<TotpCheck>,
}

struct Inner {
    provider: Provider,
    sessions: SessionManager,
    throttle: LoginThrottle,
    pages: Pages,
    users: Arc<dyn UserDirectory>,
}

impl fmt::Debug for LoginFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginFlow")
            .field("issuer", self.inner.provider.issuer())
            .finish_non_exhaustive()
    }
}

/// What the engine knows of a session: its user, and how they signed in (a session that
/// recorded nothing, a password: RFC 8176 `pwd`).
fn facts(session: &Session) -> SessionFacts {
    let facts = SessionFacts::new(session.subject(), session.auth_time());
    let facts = match session.acr() {
        Some(acr) => facts.with_acr(acr),
        None => facts,
    };
    facts
        .with_amr(
            session
                .amr()
                .map_or_else(|| vec!["pwd".into()], <[String]>::to_vec),
        )
        .with_session(session.public_id())
}

impl LoginFlow {
    /// The pages of `provider`'s pending requests: sessions from `sessions`, sign-ins
    /// throttled by `throttle`, rendered by `pages`, users from `users`.
    pub fn new(
        provider: Provider,
        sessions: SessionManager,
        throttle: LoginThrottle,
        pages: Pages,
        users: Arc<dyn UserDirectory>,
    ) -> Self {
        let inner = Inner {
            provider,
            sessions,
            throttle,
            pages,
            users,
        };
        Self {
            inner: Arc::new(inner),
            totp: None,
        }
    }

    /// With the second factor: users who enrolled ([`UserDirectory::totp_secret`]) sign in
    /// with a code checked by `totp`. Without it they cannot sign in at all.
    #[must_use]
    pub fn with_totp(mut self, totp: TotpCheck) -> Self {
        self.totp = Some(totp);
        self
    }

    /// The provider whose requests the pages answer.
    pub fn provider(&self) -> &Provider {
        &self.inner.provider
    }

    /// The sessions.
    pub fn sessions(&self) -> &SessionManager {
        &self.inner.sessions
    }

    /// The templates, e.g. for a page of the host's own.
    pub fn pages(&self) -> &Pages {
        &self.inner.pages
    }

    /// The signed-in user's account page.
    pub fn account(&self) -> Account<'_> {
        Account {
            provider: &self.inner.provider,
            sessions: &self.inner.sessions,
            pages: &self.inner.pages,
        }
    }

    /// The pages' own routes, for either adapter's `host_routes`: `POST /login`,
    /// `POST /consent`, `POST /logout`, the device verification pages (`GET /device`, `POST
    /// /device`, `POST /device/login`, `POST /device/consent`: the `verification_uri` is
    /// the issuer's URL with `/device`), `GET /account`, `POST /account/revoke` and
    /// `POST /account/sign-out-everywhere` (the templates' form actions, below the issuer's
    /// path), each request with its peer's address as its [`ClientAddress`]
    /// ([`with_client_address`]), so that sign-ins are throttled per address too.
    pub fn host_routes(&self) -> HostRoutes {
        fn page<H, Fut>(flow: &LoginFlow, handler: H) -> impl Fn(Request<Bytes>) -> Fut
        where
            H: Fn(LoginFlow, Request<Bytes>) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = Response<Bytes>> + Send + 'static,
        {
            let flow = flow.clone();
            move |req| handler(flow.clone(), with_client_address(req))
        }
        HostRoutes::new()
            .route(
                Method::POST,
                "/login",
                page(self, |f, r| async move { f.login(&r).await }),
            )
            .route(
                Method::POST,
                "/consent",
                page(self, |f, r| async move { f.consent(&r).await }),
            )
            .route(
                Method::POST,
                "/logout",
                page(self, |f, r| async move { f.logout(&r).await }),
            )
            .route(
                Method::GET,
                "/device",
                page(self, |f, r| async move { f.device(&r).await }),
            )
            .route(
                Method::POST,
                "/device",
                page(self, |f, r| async move { f.device_code(&r).await }),
            )
            .route(
                Method::POST,
                "/device/login",
                page(self, |f, r| async move { f.device_login(&r).await }),
            )
            .route(
                Method::POST,
                "/device/consent",
                page(self, |f, r| async move { f.device_consent(&r).await }),
            )
            .route(
                Method::GET,
                "/account",
                page(self, |f, r| async move { f.account().show(&r).await }),
            )
            .route(
                Method::POST,
                "/account/revoke",
                page(self, |f, r| async move { f.account().revoke(&r).await }),
            )
            .route(
                Method::POST,
                "/account/sign-out-everywhere",
                page(self, |f, r| async move {
                    f.account().sign_out_everywhere(&r).await
                }),
            )
    }

    /// `POST /login`: checks the password (unless throttled), then begins a new session and
    /// takes the engine's next step.
    pub async fn login(&self, req: &Request<Bytes>) -> Response<Bytes> {
        let Inner {
            provider,
            sessions,
            pages,
            ..
        } = &*self.inner;
        let checked = match sessions.check_form(req, FormGuard::Login) {
            Ok(f) => f,
            Err(e) => return pages.error(e),
        };
        let Ok(pending) = provider.resume(&checked.ticket) else {
            return pages.error(PageError::Expired("sign-in"));
        };
        let (headers, form) = (req.headers(), checked.form);
        let (username, password, otp) =
            match (form.one("username"), form.one("password"), form.one("otp")) {
                (Ok(u), Ok(p), Ok(o)) => (u.unwrap_or_default(), p.unwrap_or_default(), o),
                _ => return pages.error(PageError::BadForm),
            };
        let address = ClientAddress::of(req);
        let client_id = pending.client_id();
        let attempt = match self.inner.throttle.begin(username, address) {
            Ok(a) => a,
            Err(throttled) => {
                tracing::warn!(client_id, "sign-in throttled");
                let login = LoginPage {
                    client_id,
                    ticket: pending.ticket(),
                    username,
                    error: None,
                    ask_code: asks_for_mfa(&pending),
                };
                return pages.throttled_login(sessions, headers, &login, throttled);
            }
        };
        let subject = match self.inner.users.authenticate(username, password).await {
            Ok(Some(subject)) => subject,
            Ok(None) => {
                tracing::info!(client_id, "sign-in failed");
                let error = Some("The username or password is incorrect.");
                let status = StatusCode::UNAUTHORIZED;
                return self.login_page(status, &pending, headers, username, error);
            }
            Err(e) => return self.store_failed(&e),
        };
        let second = self.second_factor(&subject, otp, asks_for_mfa(&pending));
        let mfa = match second.await {
            Ok(SecondFactor::None) => false,
            Ok(SecondFactor::Passed) => true,
            Ok(SecondFactor::Failed(error)) => {
                tracing::info!(client_id, "second factor failed");
                let login = LoginPage {
                    client_id,
                    ticket: pending.ticket(),
                    username,
                    error: Some(error),
                    ask_code: true,
                };
                let status = StatusCode::UNAUTHORIZED;
                return pages.login(sessions, headers, status, &login);
            }
            Err(e) => return self.store_failed(&e),
        };
        attempt.succeeded();
        tracing::info!(username, client_id, "signed in");
        let (acr, amr) = match mfa {
            true => (Some(MFA_ACR), &MFA_AMR[..]),
            false => (None, &MFA_AMR[..1]),
        };
        let now = sessions.now();
        let signed_in = sessions.sign_in_with(headers, &subject, now, acr, Some(amr));
        let (session, cookie) = match signed_in.await {
            Ok(s) => s,
            Err(e) => return self.store_failed(&e),
        };
        let step = pending
            .next_step_after_login(provider, &facts(&session))
            .await;
        let mut response = self.take(step, pending, Some(session), headers).await;
        response.headers_mut().append(SET_COOKIE, cookie);
        response
    }

    /// `POST /consent`: `decision=approve` with the checked `scope` boxes, `decision=deny`,
    /// or `decision=switch` (sign out, and back to the login page of the same request).
    pub async fn consent(&self, req: &Request<Bytes>) -> Response<Bytes> {
        let Inner {
            provider,
            sessions,
            pages,
            ..
        } = &*self.inner;
        let (form, ticket) = match sessions.check_form(req, FormGuard::Session(CONSENT)) {
            Ok(f) => (f.form, f.ticket),
            Err(e) => return pages.error(e),
        };
        let Ok(pending) = provider.resume(&ticket) else {
            return pages.error(PageError::Expired("sign-in"));
        };
        let headers = req.headers();
        match form.one("decision") {
            Ok(Some("deny")) => {
                tracing::info!(client_id = pending.client_id(), "authorization denied");
                provider.deny(pending).await
            }
            Ok(Some("switch")) => {
                let cookie = match sessions.sign_out(headers).await {
                    Ok(c) => c,
                    Err(e) => return self.store_failed(&e),
                };
                let mut response = self.login_page(StatusCode::OK, &pending, headers, "", None);
                response.headers_mut().append(SET_COOKIE, cookie);
                response
            }
            Ok(Some("approve")) => {
                let ended = |pending: &PendingAuthorization| {
                    let error = Some("Your session has ended. Sign in again.");
                    let status = StatusCode::UNAUTHORIZED;
                    self.login_page(status, pending, headers, "", error)
                };
                let session = match self.session_for(headers).await {
                    Ok(Some(s)) => facts(&s),
                    Ok(None) => return ended(&pending),
                    Err(e) => return self.store_failed(&e),
                };
                // The session must still satisfy the request (its max_age, say).
                match pending.next_step_at_consent(provider, &session) {
                    NextStep::Approve(_) | NextStep::Consent => {}
                    NextStep::Login(_) => return ended(&pending),
                    NextStep::Refuse(reason) => {
                        return provider.cannot_interact(pending, reason).await
                    }
                }
                let Ok(granted_scopes) = ScopeSet::from_tokens(form.all("scope")) else {
                    return pages.error(PageError::BadForm);
                };
                self.approve(pending, session.approval(granted_scopes))
                    .await
            }
            _ => pages.error(PageError::BadForm),
        }
    }

    /// `POST /logout`: the answer to the logout confirmation, `decision=yes` or
    /// `decision=no`.
    pub async fn logout(&self, req: &Request<Bytes>) -> Response<Bytes> {
        let Inner {
            provider,
            sessions,
            pages,
            ..
        } = &*self.inner;
        let (form, ticket) = match sessions.check_form(req, FormGuard::Session(LOGOUT)) {
            Ok(f) => (f.form, f.ticket),
            Err(e) => return pages.error(e),
        };
        let Ok(pending) = provider.resume_logout(&ticket) else {
            return pages.error(PageError::Expired("sign-out"));
        };
        match form.one("decision") {
            Ok(Some("yes")) => {
                let client_id = pending.client_id();
                tracing::info!(client_id, "signed out after confirmation");
                self.signed_out(pending, req.headers()).await
            }
            Ok(Some("no")) => pages.message(
                StatusCode::OK,
                "Still signed in",
                "You are still signed in. You can close this page.",
            ),
            _ => pages.error(PageError::BadForm),
        }
    }

    /// The request's live session, of a user the directory still knows.
    async fn session_for(&self, headers: &HeaderMap) -> Result<Option<Session>, StoreError> {
        let Some(session) = self.inner.sessions.current(headers).await? else {
            return Ok(None);
        };
        let known = self.inner.users.display_name(session.subject()).await?;
        Ok(known.map(|_| session))
    }

    /// The second factor of `subject`, who gave their password, with the form's `otp`:
    /// required when the request asks for it (`required`), checked whenever given.
    async fn second_factor(
        &self,
        subject: &str,
        otp: Option<&str>,
        required: bool,
    ) -> Result<SecondFactor, StoreError> {
        let code = otp.unwrap_or_default();
        if code.is_empty() && !required {
            return Ok(SecondFactor::None);
        }
        let Some(secret) = self.inner.users.totp_secret(subject).await? else {
            // A user without a second factor signs in with what they have: acr_values are
            // voluntary (OpenID Connect Core §5.5.1.1), the token tells what was reached.
            return Ok(SecondFactor::None);
        };
        if code.is_empty() {
            return Ok(SecondFactor::Failed(
                "Enter the code from your authenticator app.",
            ));
        }
        let Some(totp) = &self.totp else {
            tracing::error!("a user enrolled a second factor, but no TotpCheck is configured");
            return Ok(SecondFactor::Failed(
                "One-time codes cannot be checked here.",
            ));
        };
        let now = self.inner.sessions.now();
        Ok(match totp.verify(subject, &secret, code, now).await? {
            true => SecondFactor::Passed,
            false => SecondFactor::Failed("The code is incorrect or was already used."),
        })
    }

    /// The name to greet `subject` with (the subject itself for an unknown user).
    async fn greeting(&self, subject: &str) -> Result<String, StoreError> {
        let name = self.inner.users.display_name(subject).await?;
        Ok(name.unwrap_or_else(|| subject.to_owned()))
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
    ) -> Response<Bytes> {
        let login = LoginPage {
            client_id: pending.client_id(),
            ticket: pending.ticket(),
            username,
            error,
            ask_code: asks_for_mfa(pending),
        };
        let Inner {
            sessions, pages, ..
        } = &*self.inner;
        pages.login(sessions, headers, status, &login)
    }

    async fn consent_page(
        &self,
        pending: &PendingAuthorization,
        session: &Session,
    ) -> Response<Bytes> {
        let user = match self.greeting(session.subject()).await {
            Ok(u) => u,
            Err(e) => return self.store_failed(&e),
        };
        let csrf = self
            .inner
            .sessions
            .form_token(session, CONSENT, pending.ticket());
        self.inner.pages.consent(&ConsentPage {
            client_id: pending.client_id(),
            user: &user,
            scopes: pending.scopes(),
            authorization_details: pending.authorization_details(),
            ticket: pending.ticket(),
            csrf: &csrf,
            redirect_uri: pending.redirect_uri(),
        })
    }

    /// Takes the engine's next `step` for `pending`: back to the client (approved, or
    /// refused under `prompt=none`), the login page (with the request's `login_hint`), or
    /// the consent page of `session`; denied when an essential `acr` is asked for; the login
    /// page again for an enrolled user short of the [`MFA_ACR`] asked for.
    async fn take(
        &self,
        step: Result<NextStep, StoreError>,
        pending: PendingAuthorization,
        session: Option<Session>,
        headers: &HeaderMap,
    ) -> Response<Bytes> {
        let provider = &self.inner.provider;
        let step = match step {
            Ok(step) => step,
            Err(e) => return self.store_failed(&e),
        };
        match self.short_of_mfa(&pending, &step, session.as_ref()).await {
            Ok(false) => {}
            Ok(true) => return self.login_page(StatusCode::OK, &pending, headers, "", None),
            Err(e) => return self.store_failed(&e),
        }
        match (step, session) {
            (NextStep::Approve(approval), _) => self.approve(pending, approval).await,
            (NextStep::Consent, Some(session)) => self.consent_page(&pending, &session).await,
            (NextStep::Refuse(reason), _) => provider.cannot_interact(pending, reason).await,
            (NextStep::Login(prompt), _) if prompt.reason == LoginReason::Acr => {
                tracing::info!(client_id = pending.client_id(), "essential acr not reached");
                provider.deny(pending).await
            }
            (NextStep::Login(prompt), _) => {
                let hint = prompt.login_hint.as_deref().unwrap_or_default();
                self.login_page(StatusCode::OK, &pending, headers, hint, None)
            }
            // The engine asks consent only of a signed-in user.
            (NextStep::Consent, None) => self.inner.pages.error(PageError::Unavailable),
        }
    }

    /// Whether `step` would approve, or ask the consent of, an enrolled user whose session
    /// did not reach the [`MFA_ACR`] the request asks for: they sign in again, with a code.
    async fn short_of_mfa(
        &self,
        pending: &PendingAuthorization,
        step: &NextStep,
        session: Option<&Session>,
    ) -> Result<bool, StoreError> {
        if !asks_for_mfa(pending) {
            return Ok(false);
        }
        let (subject, acr) = match (step, session) {
            (NextStep::Approve(a), _) => (a.subject.as_str(), a.acr.as_deref()),
            (NextStep::Consent, Some(s)) => (s.subject(), s.acr()),
            _ => return Ok(false),
        };
        if acr == Some(MFA_ACR) {
            return Ok(false);
        }
        Ok(self.inner.users.totp_secret(subject).await?.is_some())
    }

    /// Approves `pending` as the engine decided or with the scopes the user checked.
    async fn approve(&self, pending: PendingAuthorization, approval: Approval) -> Response<Bytes> {
        let (username, client_id) = (&approval.subject, pending.client_id());
        let scopes = &approval.granted_scopes;
        tracing::info!(username, client_id, %scopes, "authorization approved");
        self.inner.provider.approve(pending, approval).await
    }

    /// Ends the request's session and lets the engine answer: back to the client's
    /// `post_logout_redirect_uri` with its `state`, or a signed-out page; the session's
    /// clients are told by back-channel logout.
    async fn signed_out(&self, pending: PendingLogout, headers: &HeaderMap) -> Response<Bytes> {
        let pending = match self.inner.sessions.current(headers).await {
            Ok(Some(s)) => pending.ending_session(s.subject(), s.public_id()),
            Ok(None) => pending,
            Err(e) => return self.store_failed(&e),
        };
        let cookie = match self.inner.sessions.sign_out(headers).await {
            Ok(c) => c,
            Err(e) => return self.store_failed(&e),
        };
        let mut response = self.inner.provider.finish_logout(pending).await;
        response.headers_mut().append(SET_COOKIE, cookie);
        response
    }

    /// A store failure: logged for the operator, `503` for the user.
    fn store_failed(&self, e: &dyn std::error::Error) -> Response<Bytes> {
        tracing::error!(error = %e, "store failure");
        self.inner.pages.error(PageError::Unavailable)
    }
}

/// How a sign-in's second factor went.
enum SecondFactor {
    /// None was given, nor needed.
    None,
    /// The code was right, and new.
    Passed,
    /// It was missing or wrong: the sign-in failed, with this message.
    Failed(&'static str),
}

/// Whether the request asks for a sign-in with a one-time code ([`MFA_ACR`] in
/// `acr_values`).
fn asks_for_mfa(pending: &PendingAuthorization) -> bool {
    pending.acr_values().iter().any(|v| v == MFA_ACR)
}

#[async_trait]
impl Interaction for LoginFlow {
    /// The engine's next step for the request's session, of a known user.
    async fn begin(&self, pending: PendingAuthorization, request: Parts) -> Response<Bytes> {
        let headers = &request.headers;
        match self.session_for(headers).await {
            Ok(session) => {
                let user = session.as_ref().map(facts);
                let step = pending.next_step(&self.inner.provider, user.as_ref()).await;
                self.take(step, pending, session, headers).await
            }
            Err(e) => self.store_failed(&e),
        }
    }

    /// Signs out at once when the hint names the signed-in user, else asks first; with
    /// nobody signed in, nothing to end and nothing to ask.
    async fn end_session(&self, pending: PendingLogout, request: Parts) -> Response<Bytes> {
        let headers = &request.headers;
        let session = match self.inner.sessions.current(headers).await {
            Ok(Some(s)) => s,
            Ok(None) => return self.signed_out(pending, headers).await,
            Err(e) => return self.store_failed(&e),
        };
        let subject = session.subject();
        match pending
            .ends_without_asking(&self.inner.provider, subject)
            .await
        {
            Ok(true) => {
                let client_id = pending.client_id();
                tracing::info!(username = subject, client_id, "signed out by the client");
                return self.signed_out(pending, headers).await;
            }
            Ok(false) => {}
            Err(e) => return self.store_failed(&e),
        }
        let user = match self.greeting(subject).await {
            Ok(u) => u,
            Err(e) => return self.store_failed(&e),
        };
        let csrf = self
            .inner
            .sessions
            .form_token(&session, LOGOUT, pending.ticket());
        self.inner.pages.logout(&LogoutPage {
            client_id: pending.client_id(),
            user: &user,
            ticket: pending.ticket(),
            csrf: &csrf,
            redirect_uri: pending.redirect_uri(),
        })
    }
}
