//! The login decision of a pending authorization: the engine gathers what it knows (the
//! client, remembered consent, the subject the `id_token_hint` names) about the host's
//! session, and the core decides (`portcullis_core::decide_login`, OpenID Connect Core
//! §3.1.2.1–§3.1.2.6, §5.5.1.1).

use portcullis_core::{
    decide_login, Client, InteractionRequired, LoginDecision, LoginPrompt, ScopeSet, SignedIn,
    UnixTime,
};
use portcullis_store::StoreError;

use crate::authorize::{Approval, PendingAuthorization};
use crate::provider::Provider;

/// What the host knows of its signed-in user: who they are and how they authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionFacts {
    /// The user's stable identifier at the host (the local subject).
    pub subject: String,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// The authentication context class reached (`acr`), if the host tracks it.
    pub acr: Option<String>,
    /// The authentication methods used (`amr`, RFC 8176), e.g. `["pwd"]`.
    pub amr: Option<Vec<String>>,
    /// The host's id of the session (see [`Approval::session`]), if it names one.
    pub session: Option<String>,
}

impl SessionFacts {
    /// `subject`, authenticated at `auth_time`, with no `acr` or `amr`.
    pub fn new(subject: impl Into<String>, auth_time: UnixTime) -> Self {
        Self {
            subject: subject.into(),
            auth_time,
            acr: None,
            amr: None,
            session: None,
        }
    }

    /// With the host's id of the session (see [`Approval::session`]).
    #[must_use]
    pub fn with_session(mut self, session: impl Into<String>) -> Self {
        self.session = Some(session.into());
        self
    }

    /// With the authentication context class reached.
    #[must_use]
    pub fn with_acr(mut self, acr: impl Into<String>) -> Self {
        self.acr = Some(acr.into());
        self
    }

    /// With the authentication methods used.
    #[must_use]
    pub fn with_amr(mut self, amr: Vec<String>) -> Self {
        self.amr = Some(amr);
        self
    }

    /// The approval of this user's authentication with `granted_scopes`, for
    /// [`Provider::approve`].
    pub fn approval(&self, granted_scopes: ScopeSet) -> Approval {
        Approval {
            subject: self.subject.clone(),
            auth_time: self.auth_time,
            granted_scopes,
            acr: self.acr.clone(),
            amr: self.amr.clone(),
            authorization_details: None,
            session: self.session.clone(),
        }
    }
}

/// What the host does next with a pending authorization
/// ([`PendingAuthorization::next_step`]).
#[derive(Debug, Clone)]
pub enum NextStep {
    /// Approve at once: pass this approval (the session's user, the scopes asked for) to
    /// [`Provider::approve`].
    Approve(Approval),
    /// Show the login page, for this reason and with these hints.
    Login(LoginPrompt),
    /// Show the consent page to the signed-in user.
    Consent,
    /// No page may be shown (`prompt=none`): answer with [`Provider::cannot_interact`].
    Refuse(InteractionRequired),
}

impl PendingAuthorization {
    /// The next step when the request arrives, for the host's signed-in user (`None`: nobody
    /// is signed in): approve at once, show the login page, show the consent page, or refuse
    /// (`prompt=none`). A session found on arrival never satisfies `prompt=login` or
    /// `prompt=select_account`; `max_age`, the `id_token_hint`'s user, an essential `acr`
    /// (§5.5.1.1) and remembered consent ([`Provider::needs_consent`]) are checked too.
    pub async fn next_step(
        &self,
        provider: &Provider,
        session: Option<&SessionFacts>,
    ) -> Result<NextStep, StoreError> {
        self.decide(provider, session, false).await
    }

    /// The next step once the user passed this request's login step: they just signed in on
    /// its login page, or they answer its consent page (only a session that passed the login
    /// step reaches it). `prompt=login` and `prompt=select_account` are then satisfied; every
    /// other rule of [`PendingAuthorization::next_step`] applies (a user other than the
    /// `id_token_hint`'s, or one short of an essential `acr`, logs in again).
    pub async fn next_step_after_login(
        &self,
        provider: &Provider,
        session: &SessionFacts,
    ) -> Result<NextStep, StoreError> {
        self.decide(provider, Some(session), true).await
    }

    /// The next step when the user answers this request's consent page with `session`, with
    /// no store call: [`NextStep::Consent`] while the session still satisfies the request
    /// (its `max_age`, an essential `acr`; OpenID Connect Core §3.1.2.1, §5.5.1.1), else the
    /// login step or, under `prompt=none`, the refusal. The `id_token_hint`'s user and
    /// remembered consent were settled when the page was shown, to this same session (its
    /// form's CSRF token is bound to it).
    pub fn next_step_at_consent(&self, provider: &Provider, session: &SessionFacts) -> NextStep {
        let signed_in = SignedIn {
            auth_time: session.auth_time,
            acr: session.acr.as_deref(),
            authenticated_for_request: true,
            is_hinted_user: true,
            needs_consent: true,
        };
        let now = provider.inner.clock.now();
        match decide_login(self.login_request().as_deref(), Some(&signed_in), now) {
            LoginDecision::Login(prompt) => NextStep::Login(prompt),
            LoginDecision::Refuse(reason) => NextStep::Refuse(reason),
            LoginDecision::Consent | LoginDecision::Approve => NextStep::Consent,
        }
    }

    async fn decide(
        &self,
        provider: &Provider,
        session: Option<&SessionFacts>,
        authenticated_for_request: bool,
    ) -> Result<NextStep, StoreError> {
        let signed_in = match session {
            Some(s) => {
                let client = provider.client(self.client_id()).await?;
                Some(SignedIn {
                    auth_time: s.auth_time,
                    acr: s.acr.as_deref(),
                    authenticated_for_request,
                    is_hinted_user: self.is_hinted_user(provider, client.as_deref(), s),
                    needs_consent: provider
                        .needs_consent_of(client.as_deref(), self, &s.subject)
                        .await?,
                })
            }
            None => None,
        };
        let now = provider.inner.clock.now();
        Ok(
            match decide_login(self.login_request().as_deref(), signed_in.as_ref(), now) {
                // The core approves only a signed-in user; were it not so, fail closed.
                LoginDecision::Approve => session
                    .map_or(NextStep::Refuse(InteractionRequired::Login), |s| {
                        NextStep::Approve(s.approval(self.scopes().clone()))
                    }),
                LoginDecision::Login(prompt) => NextStep::Login(prompt),
                LoginDecision::Consent => NextStep::Consent,
                LoginDecision::Refuse(reason) => NextStep::Refuse(reason),
            },
        )
    }

    /// Whether `session`'s user is the one the `id_token_hint` names, as the client knows
    /// them ([`Provider::subject_for`]); `true` without a hint.
    fn is_hinted_user(
        &self,
        provider: &Provider,
        client: Option<&Client>,
        session: &SessionFacts,
    ) -> bool {
        match self.id_token_hint_subject() {
            None => true,
            Some(hinted) => {
                client.is_some_and(|c| provider.subject_for(c, &session.subject) == hinted)
            }
        }
    }
}
