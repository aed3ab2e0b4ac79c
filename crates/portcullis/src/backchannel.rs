//! OpenID Connect Back-Channel Logout 1.0: when a user's session ends (RP-initiated logout,
//! the host ending one or every session) or a user revokes an application's grant, each
//! client concerned that registered a `backchannel_logout_uri` gets one logout token
//! (§2.4), POSTed by the host's [`LogoutSender`] (§2.5) in a task of its own, so that the
//! user's response never waits for a client. Failures with no answer or a `5xx` are retried
//! with growing waits, a bounded number of times; a `4xx` never (core
//! `portcullis_core::next_step`). Results are traced, never the token.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portcullis_core::{
    logout_notice, next_step, session_sid, AttemptResult, Client, DeliveryStep, Grant, LoggedOut,
    LogoutNotice, LOGOUT_TOKEN_LIFETIME,
};
use portcullis_store::StoreError;
use tokio::task::JoinHandle;

use crate::client_keys::{FetchError, FETCH_TIMEOUT};
use crate::endpoint_error::Fault;
use crate::keys::KeyError;
use crate::provider::Provider;
use crate::signer::sign_jws;

/// Names the derivation of the `sid` key from the subject salt (fixed: `sid`s depend on it).
const DERIVED_SID_KEY_SALT: &[u8] = b"portcullis: sid key v1";

/// The `sid` key of a provider given none: derived from its subject salt (HKDF-SHA256), so
/// it is stable wherever the salt is, and of no use as the salt (or the salt as it).
pub(crate) fn derived_sid_key(subject_salt: &[u8; 32]) -> [u8; 32] {
    use ring::hkdf::{Salt, HKDF_SHA256};
    let prk = Salt::new(HKDF_SHA256, DERIVED_SID_KEY_SALT).extract(subject_salt);
    let mut key = [0u8; 32];
    // One SHA-256-sized output is always a valid HKDF-SHA256 length.
    let okm = prk.expand(&[], HKDF_SHA256).expect("32-byte HKDF output");
    okm.fill(&mut key).expect("32-byte HKDF output");
    key
}

/// POSTs logout tokens to clients (Back-Channel Logout 1.0 §2.5): the engine never does
/// network I/O of its own. The host injects one with
/// [`BackchannelLogout::new`] and
/// [`ProviderBuilder::backchannel_logout`](crate::ProviderBuilder::backchannel_logout)
/// (e.g. the `http-fetcher` feature's `ReqwestFetcher`, under the same rules as its
/// fetches).
#[async_trait]
pub trait LogoutSender: Send + Sync + 'static {
    /// POSTs `logout_token=<logout_token>` (`application/x-www-form-urlencoded`) to `uri`
    /// (https, or http on a loopback address), following no redirect, and returns the
    /// answer's HTTP status. A timeout or a failed connection is [`FetchError::Timeout`] or
    /// [`FetchError::Failed`] (tried again); a URI or address it will not call,
    /// [`FetchError::RefusedUrl`] or [`FetchError::RefusedAddress`] (not tried again).
    async fn send_logout_token(&self, uri: &str, logout_token: &str) -> Result<u16, FetchError>;
}

/// How logout tokens are delivered: the sender, and how hard to try.
#[derive(Clone)]
pub struct BackchannelLogout {
    sender: Arc<dyn LogoutSender>,
    retries: u32,
    backoff: Duration,
    timeout: Duration,
    sessions_named: bool,
}

impl std::fmt::Debug for BackchannelLogout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackchannelLogout")
            .field("retries", &self.retries)
            .field("backoff", &self.backoff)
            .field("timeout", &self.timeout)
            .field("sessions_named", &self.sessions_named)
            .finish_non_exhaustive()
    }
}

impl BackchannelLogout {
    /// Delivers through `sender`: 3 retries after the first attempt, 1 s before the first
    /// retry and twice as long before each next one, each attempt bounded by
    /// [`FETCH_TIMEOUT`].
    pub fn new(sender: Arc<dyn LogoutSender>) -> Self {
        Self {
            sender,
            retries: 3,
            backoff: Duration::from_secs(1),
            timeout: FETCH_TIMEOUT,
            sessions_named: false,
        }
    }

    /// Declares that the host names the user's session in every approval
    /// ([`Approval::with_session`](crate::Approval::with_session),
    /// [`SessionFacts::with_session`](crate::SessionFacts::with_session); the interaction
    /// kit's `LoginFlow` always does): the ID tokens of the authorization endpoint, and of
    /// the codes and refresh tokens it issues, then carry the session's `sid`, as the logout
    /// tokens of its end do, and discovery advertises `backchannel_logout_session_supported`
    /// (Back-Channel Logout 1.0 §2.1). Default: not declared, and not advertised. The device
    /// grant's ID tokens carry no `sid` either way: the device is not part of the browser
    /// session that approved it.
    pub fn sessions_named(mut self) -> Self {
        self.sessions_named = true;
        self
    }

    /// Sets how many times a failed delivery is tried again (at most
    /// [`MAX_LOGOUT_RETRIES`](portcullis_core::MAX_LOGOUT_RETRIES)).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Sets the wait before the first retry (doubling after, at most
    /// [`MAX_LOGOUT_BACKOFF`](portcullis_core::MAX_LOGOUT_BACKOFF)).
    pub fn backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets how long one attempt may take.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Delivers `token` to `uri`: attempts until the core's [`next_step`] is final, or until
    /// a retry could no longer end before the token expires (its `exp` is
    /// [`LOGOUT_TOKEN_LIFETIME`] after issue: the client would refuse it, §2.6).
    async fn deliver(&self, uri: &str, token: &str) -> (DeliveryStep, u32) {
        let issued = tokio::time::Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let sent =
                tokio::time::timeout(self.timeout, self.sender.send_logout_token(uri, token));
            let result = match sent.await {
                Ok(Ok(status)) => AttemptResult::Status(status),
                Ok(Err(FetchError::Timeout | FetchError::Failed(_))) | Err(_) => {
                    AttemptResult::Unanswered
                }
                Ok(Err(_)) => AttemptResult::Refused,
            };
            match next_step(result, attempt, self.retries, self.backoff) {
                DeliveryStep::RetryAfter(wait)
                    if issued.elapsed() + wait + self.timeout < LOGOUT_TOKEN_LIFETIME =>
                {
                    tokio::time::sleep(wait).await
                }
                DeliveryStep::RetryAfter(_) => return (DeliveryStep::GaveUp, attempt),
                last => return (last, attempt),
            }
        }
    }
}

/// How one client's logout token went.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryReport {
    /// The client.
    pub client_id: String,
    /// How many times it was sent.
    pub attempts: u32,
    /// [`DeliveryStep::Delivered`], [`DeliveryStep::Refused`] or [`DeliveryStep::GaveUp`].
    pub outcome: DeliveryStep,
}

/// The deliveries of one logout, running in a task of their own. Dropping this lets them
/// run on; [`LogoutDeliveries::finished`] waits for them (for tests and hosts that must
/// know).
#[derive(Debug)]
#[must_use = "deliveries run on when dropped; call finished() to wait for them"]
pub struct LogoutDeliveries(Option<JoinHandle<Vec<DeliveryReport>>>);

impl LogoutDeliveries {
    /// What became of each client's logout token: one report per client told (none when
    /// back-channel logout is off, no client is concerned, or a store failed).
    pub async fn finished(self) -> Vec<DeliveryReport> {
        match self.0 {
            Some(task) => task.await.unwrap_or_default(),
            None => Vec::new(),
        }
    }
}

/// What ended.
#[derive(Debug, Clone)]
pub(crate) enum LogoutEvent {
    /// One session of `subject` (the host's id of it).
    Session { subject: String, session: String },
    /// Every session of `subject`.
    EverySession { subject: String },
    /// The user revoked this grant.
    GrantRevoked(Grant),
}

impl Provider {
    /// Whether logout tokens are delivered (a [`BackchannelLogout`] is configured).
    pub(crate) fn backchannel_logout_supported(&self) -> bool {
        self.inner.backchannel_logout.is_some()
    }

    /// Whether ID tokens and logout tokens carry `sid` (Back-Channel Logout 1.0 §2.1): logout
    /// tokens are delivered and the host declared it names its sessions
    /// ([`BackchannelLogout::sessions_named`]).
    pub(crate) fn backchannel_logout_session_supported(&self) -> bool {
        self.inner
            .backchannel_logout
            .as_ref()
            .is_some_and(|b| b.sessions_named)
    }

    /// The `sid` of the host's session `session` at `client_id` (Back-Channel Logout 1.0
    /// §2.1), as ID tokens and logout tokens carry it.
    pub(crate) fn sid_for(&self, session: &str, client_id: &str) -> String {
        session_sid(&self.inner.sid_key, session, client_id)
    }

    /// Tells the clients of one ended session of `subject` (`session`: the host's id of
    /// it, as given to [`Approval::with_session`](crate::Approval::with_session)): each client
    /// to which a code was issued in that session gets a logout token with `sub` and `sid`.
    /// Call it when the host ends a session by itself (its own logout page, an
    /// administrator); RP-initiated logout calls it through
    /// [`PendingLogout::ending_session`](crate::PendingLogout::ending_session).
    pub fn session_ended(&self, subject: &str, session: &str) -> LogoutDeliveries {
        self.spawn_logout(LogoutEvent::Session {
            subject: subject.to_owned(),
            session: session.to_owned(),
        })
    }

    /// Tells the clients of every session of `subject` ("sign out everywhere"): each client
    /// holding a grant of the user gets one logout token with `sub` only — every session of
    /// the user at that client ends (§2.4) — or, for a client that requires a `sid`, the
    /// `sid` of its latest session.
    pub fn every_session_ended(&self, subject: &str) -> LogoutDeliveries {
        self.spawn_logout(LogoutEvent::EverySession {
            subject: subject.to_owned(),
        })
    }

    /// Runs the deliveries of `event` in a task of their own.
    pub(crate) fn spawn_logout(&self, event: LogoutEvent) -> LogoutDeliveries {
        if !self.backchannel_logout_supported() {
            return LogoutDeliveries(None);
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!("back-channel logout needs a Tokio runtime: no logout token sent");
            return LogoutDeliveries(None);
        };
        let provider = self.clone();
        LogoutDeliveries(Some(runtime.spawn(async move {
            match provider.deliver_logout(event).await {
                Ok(reports) => reports,
                Err(e) => {
                    tracing::error!(error = %e, "back-channel logout: store failure");
                    Vec::new()
                }
            }
        })))
    }

    /// The clients `event` concerns, each once, with the `sid` its token names.
    async fn logout_targets(
        &self,
        event: &LogoutEvent,
    ) -> Result<Vec<(Arc<Client>, Option<String>)>, StoreError> {
        let inner = &self.inner;
        let (subject, session) = match event {
            LogoutEvent::Session { subject, session } => (subject, Some(session)),
            LogoutEvent::EverySession { subject } => (subject, None),
            LogoutEvent::GrantRevoked(grant) => {
                return self.targets_of([grant.clone()], None).await
            }
        };
        let mut grants = inner
            .stores
            .grants
            .grants_of_subject(&inner.issuer, subject)
            .await?;
        // A revoked grant's client was told when it was revoked; of one session, only the
        // clients that were given a code in it.
        grants.retain(|g| {
            !g.revoked && session.is_none_or(|s| g.has_session(&self.sid_for(s, &g.client_id)))
        });
        self.targets_of(grants, session.map(String::as_str)).await
    }

    /// The clients of `grants`, each once (its most recently used grant decides), with the
    /// `sid` of `session` at each, or else the latest session's for a client that requires
    /// one.
    async fn targets_of(
        &self,
        grants: impl IntoIterator<Item = Grant>,
        session: Option<&str>,
    ) -> Result<Vec<(Arc<Client>, Option<String>)>, StoreError> {
        let mut by_client: BTreeMap<String, Grant> = BTreeMap::new();
        for g in grants {
            let newer = by_client
                .get(&g.client_id)
                .is_none_or(|kept| kept.last_used_at <= g.last_used_at);
            if newer {
                by_client.insert(g.client_id.clone(), g);
            }
        }
        let now = self.inner.clock.now();
        let mut targets = Vec::new();
        for (client_id, grant) in by_client {
            let Some(client) = self.find_client(&client_id, now).await? else {
                continue;
            };
            let sid = match session {
                Some(s) => Some(self.sid_for(s, &client_id)),
                None if client.oidc.backchannel_logout_session_required => {
                    grant.latest_session().map(str::to_owned)
                }
                None => None,
            };
            targets.push((client, sid));
        }
        Ok(targets)
    }

    /// Signs and delivers the logout tokens of `event`, the clients' at once.
    async fn deliver_logout(&self, event: LogoutEvent) -> Result<Vec<DeliveryReport>, StoreError> {
        let Some(config) = self.inner.backchannel_logout.clone() else {
            return Ok(Vec::new());
        };
        let subject = match &event {
            LogoutEvent::Session { subject, .. } | LogoutEvent::EverySession { subject } => {
                subject.clone()
            }
            LogoutEvent::GrantRevoked(g) => g.subject.clone(),
        };
        let mut tasks = tokio::task::JoinSet::new();
        for (client, sid) in self.logout_targets(&event).await? {
            let (notice, token) = match self.logout_token(&client, &subject, sid.as_deref()).await {
                Ok(Some(signed)) => signed,
                Ok(None) => continue,
                Err(e) => {
                    e.report();
                    continue;
                }
            };
            let config = config.clone();
            tasks.spawn(async move {
                let (outcome, attempts) = config.deliver(&notice.uri, &token).await;
                let client_id = notice.claims.aud;
                match outcome {
                    DeliveryStep::Delivered => {
                        tracing::info!(client_id = %client_id, attempts, "logout token delivered")
                    }
                    _ => tracing::warn!(
                        client_id = %client_id,
                        attempts,
                        ?outcome,
                        "logout token not delivered"
                    ),
                }
                DeliveryReport {
                    client_id,
                    attempts,
                    outcome,
                }
            });
        }
        let mut reports = Vec::new();
        while let Some(done) = tasks.join_next().await {
            if let Ok(report) = done {
                reports.push(report);
            }
        }
        reports.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(reports)
    }

    /// The logout token `client` gets when `subject` (local) is logged out, signed with its
    /// ID tokens' algorithm (§2.4); `None` when it gets none (core
    /// [`logout_notice`]).
    async fn logout_token(
        &self,
        client: &Client,
        subject: &str,
        sid: Option<&str>,
    ) -> Result<Option<(LogoutNotice, String)>, Fault> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let sub = self.subject_for(client, subject);
        let who = LoggedOut { sub: &sub, sid };
        let Some(notice) = logout_notice(&inner.issuer, client, who, now, inner.rng.as_ref())
            .map_err(Fault::from)?
        else {
            return Ok(None);
        };
        let alg = self.id_token_alg(client);
        let key = self.signer(alg, now).await?;
        let unsigned = notice
            .claims
            .to_jws(alg, key.kid())
            .map_err(KeyError::from)?;
        let token = sign_jws(key.as_ref(), unsigned)
            .await
            .map_err(KeyError::from)?;
        Ok(Some((notice, token)))
    }
}
