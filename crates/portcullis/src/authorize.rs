//! The authorization endpoint (RFC 6749 §3.1, §4.1.1–§4.1.2) and the hand-off to the host
//! for login and consent.

use std::borrow::Cow;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Method, Request, Response, StatusCode};
pub use portcullis_core::InteractionRequired;
use portcullis_core::{
    names_pushed_request, open_ticket, seal_ticket, validate_authorization_request,
    validate_pushed_authorization_request, ApprovedAuthentication, AuthorizationDetail,
    AuthorizationRequest, AuthorizeErrorCode, AuthorizeRejection, Client, CodeApproval, OAuthError,
    OidcRequest, OidcSession, Params, ResponseType, ScopeSet, SealError, TicketError, UnixTime,
};

use crate::consented_grant::GrantStored;
use crate::endpoint_error::EndpointError;
use crate::observability;
use crate::provider::Provider;
use crate::responses::error_page;

/// What the authorization endpoint decided.
#[derive(Debug)]
pub enum AuthorizeOutcome {
    /// Send this response as it is: an error page, or an error response to the client in
    /// its response mode (a `303`, or a form post page).
    Respond(Response<Bytes>),
    /// The request is valid: the host must authenticate the user, ask for consent, and then
    /// call [`Provider::approve`] or [`Provider::deny`].
    Pending(PendingAuthorization),
}

/// A validated authorization request awaiting the host's login and consent.
///
/// It cannot be built or altered outside this crate. To carry it across the host's pages,
/// put [`PendingAuthorization::ticket`] in a form and get it back with
/// [`Provider::resume`]: the ticket is sealed (AES-256-GCM) with the provider's key and
/// expires after the configured interaction lifetime. It is answered once: the first of
/// [`Provider::approve`], [`Provider::deny`] and [`Provider::cannot_interact`] spends it, and
/// any later answer, with a copy resumed from the same ticket, gets an error page.
#[derive(Debug, Clone)]
pub struct PendingAuthorization {
    request: Box<AuthorizationRequest>,
    ticket: String,
    expires_at: UnixTime,
}

impl PendingAuthorization {
    /// The client asking for access.
    pub fn client_id(&self) -> &str {
        self.request.client_id()
    }

    /// The scopes asked for, to list on the consent page.
    pub fn scopes(&self) -> &ScopeSet {
        self.request.scopes()
    }

    /// Where the response will be redirected (a URI registered for the client), e.g. for the
    /// consent page's CSP `form-action`.
    pub fn redirect_uri(&self) -> &str {
        self.request.redirect_uri()
    }

    /// The sealed ticket that stands for this pending authorization in the host's forms.
    pub fn ticket(&self) -> &str {
        &self.ticket
    }

    /// The resources asked for (RFC 8707), to show on the consent page.
    pub fn resources(&self) -> &[String] {
        self.request.resources()
    }

    /// The authorization details asked for (RFC 9396 §2), each of a registered type its
    /// validator accepted, to show on the consent page; empty when none.
    pub fn authorization_details(&self) -> &[AuthorizationDetail] {
        self.request.authorization_details()
    }

    /// When the ticket stops being accepted.
    pub fn expires_at(&self) -> UnixTime {
        self.expires_at
    }

    /// The OpenID Connect parameters (`prompt`, `max_age`, `login_hint`, `ui_locales`,
    /// `acr_values`, …), when the request is in OpenID mode. With `prompt=none` the host must
    /// not show any page: it approves at once or calls [`Provider::cannot_interact`].
    pub fn oidc(&self) -> Option<&OidcRequest> {
        self.request.oidc()
    }

    /// The login the request asks for, in either mode (RFC 9470 §4), for the login decision.
    pub(crate) fn login_request(&self) -> Option<Cow<'_, OidcRequest>> {
        self.request.login_request()
    }

    /// `max_age` in seconds, in either mode (a plain OAuth request may send it: RFC 9470
    /// §4): the user must have authenticated at most this long ago, else
    /// [`Provider::approve`] answers `login_required`.
    pub fn max_age(&self) -> Option<u64> {
        self.request.max_age()
    }

    /// `acr_values`, in either mode (RFC 9470 §4), in the client's order: the authentication
    /// context classes the client would like the login to reach, e.g. to answer a resource
    /// server's step-up challenge. Voluntary (OpenID Connect Core §5.5.1.1): the host tries,
    /// and reports what it reached in [`Approval::acr`].
    pub fn acr_values(&self) -> &[String] {
        self.request.acr_values()
    }

    /// The `sub` of the verified `id_token_hint`, as the client saw it: compare it with
    /// [`Provider::subject_for`] of the logged-in user.
    pub fn id_token_hint_subject(&self) -> Option<String> {
        let hint = self.oidc()?.id_token_hint.as_deref()?;
        unverified_claim(hint, "sub")
    }
}

/// A claim of a JWS whose signature was verified earlier (before the request was sealed).
fn unverified_claim(jws: &str, name: &str) -> Option<String> {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let payload = URL_SAFE_NO_PAD.decode(jws.split('.').nth(1)?).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&payload).ok()?;
    claims.get(name)?.as_str().map(str::to_owned)
}

/// The host's decision for a pending authorization.
///
/// Built with [`Approval::new`] and the `with_*` methods (its fields stay public): a new
/// field never breaks a host's code.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Approval {
    /// The authenticated user's stable identifier.
    pub subject: String,
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// The scopes the user agreed to. Intersected with the request: the host can narrow the
    /// request but never widen it.
    pub granted_scopes: ScopeSet,
    /// The authentication context class reached (`acr`), if the host tracks it.
    pub acr: Option<String>,
    /// The authentication methods used (`amr`, RFC 8176), e.g. `["pwd"]`.
    pub amr: Option<Vec<String>>,
    /// The authorization details the user agreed to (RFC 9396); `None`: all those asked
    /// for. Only elements a requested one covers are kept (see
    /// `portcullis_core::AuthorizationDetailsTypes::approved`): never more than asked.
    pub authorization_details: Option<Vec<AuthorizationDetail>>,
    /// The host's id of the user's session (not a secret; stable while it lasts), if it
    /// names one: ID tokens then carry its `sid` at the client, and back-channel logout
    /// tells the client when it ends ([`Provider::session_ended`]).
    pub session: Option<String>,
}

impl Approval {
    /// `subject`, who authenticated at `auth_time`, agreed to `granted_scopes`; no `acr`
    /// nor `amr`.
    pub fn new(subject: impl Into<String>, auth_time: UnixTime, granted_scopes: ScopeSet) -> Self {
        Self {
            subject: subject.into(),
            auth_time,
            granted_scopes,
            acr: None,
            amr: None,
            authorization_details: None,
            session: None,
        }
    }

    /// Sets [`Approval::session`].
    pub fn with_session(mut self, session: impl Into<String>) -> Self {
        self.session = Some(session.into());
        self
    }

    /// Sets [`Approval::acr`].
    pub fn with_acr(mut self, acr: Option<String>) -> Self {
        self.acr = acr;
        self
    }

    /// Sets [`Approval::amr`].
    pub fn with_amr(mut self, amr: Option<Vec<String>>) -> Self {
        self.amr = amr;
        self
    }

    /// Sets [`Approval::authorization_details`].
    pub fn with_authorization_details(mut self, details: Vec<AuthorizationDetail>) -> Self {
        self.authorization_details = Some(details);
        self
    }
}

/// Why a ticket could not be resumed.
pub type InteractionError = TicketError;

fn invalid_request(description: impl Into<Cow<'static, str>>) -> Response<Bytes> {
    error_page(OAuthError::new(
        AuthorizeErrorCode::InvalidRequest,
        description,
    ))
}

impl Provider {
    /// The authorization endpoint: GET with a query, or POST with a form body (RFC 6749 §3.1).
    pub async fn authorize(&self, req: Request<Bytes>) -> AuthorizeOutcome {
        observability::request("authorization", self.authorize_answer(req)).await
    }

    async fn authorize_answer(&self, req: Request<Bytes>) -> AuthorizeOutcome {
        let raw: &[u8] = match *req.method() {
            Method::GET => req.uri().query().unwrap_or("").as_bytes(),
            Method::POST if is_form(&req) => req.body(),
            Method::POST => {
                return AuthorizeOutcome::Respond(invalid_request(
                    "the body must be application/x-www-form-urlencoded",
                ))
            }
            _ => {
                let mut r = invalid_request("use GET or POST");
                *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
                r.headers_mut().insert(
                    http::header::ALLOW,
                    http::HeaderValue::from_static("GET, POST"),
                );
                return AuthorizeOutcome::Respond(r);
            }
        };
        let params = match Params::parse(raw) {
            Ok(p) => p,
            Err(e) => return AuthorizeOutcome::Respond(invalid_request(e.to_string())),
        };
        let inner = &self.inner;
        let now = inner.clock.now();
        // RFC 9126 §4: a pushed request's parameters replace the front channel's.
        let pushed = if names_pushed_request(&params) {
            match self.take_pushed_request(&params, now).await {
                Ok(p) => Some(p),
                Err(e) => return AuthorizeOutcome::Respond(error_page(e)),
            }
        } else {
            None
        };
        let params = pushed.as_ref().map_or(&params, |p| p.params());
        let client = match params.get("client_id") {
            Some(id) if !params.is_repeated("client_id") => match self.find_client(id, now).await {
                Ok(c) => c,
                Err(e) => return AuthorizeOutcome::Respond(error_page(e)),
            },
            _ => None,
        };
        if let Some(c) = client.as_deref() {
            observability::client_id(&c.id);
        }
        // A pushed request resolved its request object when it was pushed (RFC 9126 §3).
        let validated = match &pushed {
            Some(p) => validate_pushed_authorization_request(
                p,
                client.as_deref(),
                &inner.issuer,
                &inner.policy,
            ),
            None => self
                .resolve_request_object(params, client.as_deref(), now)
                .await
                .and_then(|params| {
                    validate_authorization_request(
                        &params,
                        client.as_deref(),
                        &inner.issuer,
                        &inner.policy,
                    )
                }),
        };
        let request = match validated {
            Ok(r) => r,
            Err(AuthorizeRejection::ErrorPage(e)) => {
                return AuthorizeOutcome::Respond(error_page(e))
            }
            Err(AuthorizeRejection::Redirect(r))
                if client
                    .as_ref()
                    .is_some_and(|c| self.is_document_client(&c.id)) =>
            {
                return AuthorizeOutcome::Respond(error_page(r.error))
            }
            Err(AuthorizeRejection::Redirect(r)) => {
                return AuthorizeOutcome::Respond(self.deliver(r.response).await)
            }
        };
        if let Some(hint) = request.oidc().and_then(|o| o.id_token_hint.as_deref()) {
            if self
                .verified_id_token_hint(hint, now)
                .await
                .is_none_or(|h| h.aud != request.client_id())
            {
                return AuthorizeOutcome::Respond(
                    self.error_before_interaction(
                        &request,
                        AuthorizeErrorCode::InvalidRequest,
                        "id_token_hint is not a valid ID token for this client",
                    )
                    .await,
                );
            }
        }
        let expires_at = now.plus(inner.policy.lifetimes.interaction);
        match seal_ticket(
            &request,
            expires_at,
            &inner.issuer,
            &inner.interaction_key,
            inner.rng.as_ref(),
        ) {
            Ok(ticket) => AuthorizeOutcome::Pending(PendingAuthorization {
                request: Box::new(request),
                ticket,
                expires_at,
            }),
            Err(SealError::TooLarge) => AuthorizeOutcome::Respond(
                self.error_before_interaction(
                    &request,
                    AuthorizeErrorCode::InvalidRequest,
                    "the authorization request is too large",
                )
                .await,
            ),
            // The generator failed (or a failure added later): the server's fault.
            Err(_) => AuthorizeOutcome::Respond(
                self.error_before_interaction(
                    &request,
                    AuthorizeErrorCode::ServerError,
                    "the server could not continue",
                )
                .await,
            ),
        }
    }

    /// Recovers a pending authorization from its ticket, if it is authentic, was sealed by
    /// this provider's issuer and has not expired.
    pub fn resume(&self, ticket: &str) -> Result<PendingAuthorization, InteractionError> {
        let inner = &self.inner;
        let (request, expires_at) = open_ticket(
            ticket,
            &inner.issuer,
            &inner.interaction_key,
            inner.clock.now(),
        )?;
        Ok(PendingAuthorization {
            request: Box::new(request),
            ticket: ticket.to_owned(),
            expires_at,
        })
    }

    /// A `prompt=none` request needs the user: redirects with `login_required`,
    /// `consent_required`, `account_selection_required` or `interaction_required`
    /// (OpenID Connect Core §3.1.2.6). Answers the ticket (see [`PendingAuthorization`]).
    pub async fn cannot_interact(
        &self,
        pending: PendingAuthorization,
        reason: InteractionRequired,
    ) -> Response<Bytes> {
        observability::request(
            "cannot_interact",
            self.cannot_interact_answer(pending, reason),
        )
        .await
    }

    async fn cannot_interact_answer(
        &self,
        pending: PendingAuthorization,
        reason: InteractionRequired,
    ) -> Response<Bytes> {
        if let Err(response) = self.answer(&pending, self.inner.clock.now()).await {
            return response;
        }
        let (code, description) = reason.error();
        self.error_before_interaction(&pending.request, code, description)
            .await
    }

    /// The user refused (or the host will not let them proceed): redirects with
    /// `access_denied` (RFC 6749 §4.1.2.1). Answers the ticket (see
    /// [`PendingAuthorization`]).
    pub async fn deny(&self, pending: PendingAuthorization) -> Response<Bytes> {
        observability::request("deny", self.deny_answer(pending)).await
    }

    async fn deny_answer(&self, pending: PendingAuthorization) -> Response<Bytes> {
        if let Err(response) = self.answer(&pending, self.inner.clock.now()).await {
            return response;
        }
        self.error_redirect(
            &pending.request,
            AuthorizeErrorCode::AccessDenied,
            "the resource owner denied the request",
        )
        .await
    }

    /// The user authenticated and consented: issues the code and sends it to the client
    /// (RFC 6749 §4.1.2) with `state` and `iss` (RFC 9207), in the request's response mode: a
    /// `303` to the redirect URI (query or fragment), or a form post page; signed first for
    /// JARM.
    ///
    /// The consent is recorded in the subject's grant to the client; codes and tokens issued
    /// under it die when the grant is revoked. Answers the ticket first (see
    /// [`PendingAuthorization`]): a failure after that leaves it spent, and the client starts
    /// again.
    pub async fn approve(
        &self,
        pending: PendingAuthorization,
        approval: Approval,
    ) -> Response<Bytes> {
        observability::request("approve", self.approve_answer(pending, approval)).await
    }

    async fn approve_answer(
        &self,
        pending: PendingAuthorization,
        approval: Approval,
    ) -> Response<Bytes> {
        let inner = &self.inner;
        let request = &pending.request;
        observability::client_id(request.client_id());
        let now = inner.clock.now();
        if let Err(response) = self.answer(&pending, now).await {
            return response;
        }
        // The client may have been removed since the request was validated: its redirect URI
        // is then no longer trusted.
        let client = match self.find_client(request.client_id(), now).await {
            Ok(Some(c)) if c.find_redirect_uri(request.redirect_uri()).is_some() => c,
            Ok(_) => return invalid_request("unknown client"),
            Err(e) => return error_page(e),
        };
        let requested_at = pending
            .expires_at
            .secs()
            .saturating_sub(inner.policy.lifetimes.interaction.as_secs());
        // The login asked for is checked in either mode (RFC 9470 §4); only OpenID mode keeps
        // a session for ID tokens.
        let session = match request.login_request() {
            Some(o) => match oidc_session(
                &o,
                &client,
                &approval,
                UnixTime::from_secs(requested_at),
                now,
            ) {
                Ok(session) => Some(session),
                Err(description) => {
                    return self
                        .error_redirect(request, AuthorizeErrorCode::LoginRequired, description)
                        .await
                }
            },
            None => None,
        };
        // Back-Channel Logout 1.0 §2.1: the session's `sid` at this client, in its ID tokens
        // and remembered by the grant, for the logout tokens of the session's end.
        let sid = approval
            .session
            .as_deref()
            .map(|s| self.sid_for(s, request.client_id()));
        let oidc = session
            .filter(|_| request.oidc().is_some())
            .map(|o| OidcSession {
                sid: sid.clone(),
                ..o
            });
        let scopes = request.granted_scopes(&approval.granted_scopes);
        let mut consented = match self
            .consent_grant(request.client_id(), &approval, &scopes, now)
            .await
        {
            Ok(g) => g,
            Err(e) => return self.redirect_error(request, e.into()).await,
        };
        match (&sid, &oidc) {
            (Some(sid), Some(_)) => consented.grant.record_session(sid),
            // Discovery promised a `sid` in every ID token (Back-Channel Logout 1.0 §2.1).
            (None, Some(_)) if self.backchannel_logout_session_supported() => tracing::warn!(
                client_id = %request.client_id(),
                "an approval named no session although BackchannelLogout::sessions_named \
                 was declared: its ID tokens carry no sid"
            ),
            _ => {}
        }
        let grant_id = consented.grant.id.clone();
        let details = inner.policy.authorization_details.approved(
            request.authorization_details(),
            approval.authorization_details.as_deref(),
        );
        let code_approval = CodeApproval {
            subject: &approval.subject,
            auth_time: approval.auth_time,
            acr: approval.acr.as_deref(),
            amr: approval.amr.as_deref(),
            scopes: &scopes,
            grant_id: &grant_id,
            oidc,
            authorization_details: &details,
        };
        if request.response_type() != ResponseType::Code {
            return self
                .approve_front_channel(request, &client, &code_approval, &consented, now)
                .await;
        }
        let issued = match request.issue_code(
            &code_approval,
            &inner.issuer,
            now,
            client
                .profile
                .code_lifetime(inner.policy.lifetimes.authorization_code),
            inner.rng.as_ref(),
        ) {
            Ok(i) => i,
            Err(_) => {
                return self
                    .error_redirect(
                        request,
                        AuthorizeErrorCode::ServerError,
                        "the server could not continue",
                    )
                    .await
            }
        };
        // The code first, the grant last: if either write fails the client gets no code, and
        // a code whose grant was never saved cannot be redeemed — no half-written grant.
        let stored = match inner.stores.codes.insert_code(&issued.record).await {
            Ok(()) => self.store_consented_grant(&consented).await,
            Err(e) => Err(e),
        };
        match stored {
            Ok(GrantStored::Stored) => {}
            Ok(GrantStored::Revoked) => {
                return self
                    .error_redirect(
                        request,
                        AuthorizeErrorCode::AccessDenied,
                        "the grant was revoked",
                    )
                    .await
            }
            Err(e) => return self.redirect_error(request, e.into()).await,
        }
        observability::issued_at_authorization("authorization_code", "authorization_code");
        self.deliver(issued.response).await
    }

    /// Spends the ticket of `pending` ([`Provider::spend_ticket`]), unless it expired:
    /// `Err` holds the response when it may not be answered (an `access_denied` redirect
    /// once expired, else an error page).
    async fn answer(
        &self,
        pending: &PendingAuthorization,
        now: UnixTime,
    ) -> Result<(), Response<Bytes>> {
        if now >= pending.expires_at {
            return Err(self
                .error_redirect(
                    &pending.request,
                    AuthorizeErrorCode::AccessDenied,
                    "the authorization request expired",
                )
                .await);
        }
        let replayed = "this authorization request was already answered";
        self.spend_ticket(&pending.ticket, pending.expires_at, now, replayed)
            .await
    }

    /// An error before the user has seen the client: redirected, unless the client is known
    /// only by its metadata document, whose redirect URIs nobody vouched for — then a page
    /// (RFC 9700 §4.11.2: redirect automatically only to trusted URIs).
    async fn error_before_interaction(
        &self,
        request: &AuthorizationRequest,
        code: AuthorizeErrorCode,
        description: &'static str,
    ) -> Response<Bytes> {
        if self.is_document_client(request.client_id()) {
            return error_page(OAuthError::new(code, description));
        }
        self.error_redirect(request, code, description).await
    }

    async fn error_redirect(
        &self,
        request: &AuthorizationRequest,
        code: AuthorizeErrorCode,
        description: &'static str,
    ) -> Response<Bytes> {
        self.redirect_error(request, OAuthError::new(code, description).into())
            .await
    }

    /// Redirects `error` to the client (RFC 6749 §4.1.2.1): a fault of the server as
    /// `temporarily_unavailable`.
    async fn redirect_error(
        &self,
        request: &AuthorizationRequest,
        error: EndpointError<AuthorizeErrorCode>,
    ) -> Response<Bytes> {
        let error = error.into_oauth();
        let code = error.code.as_str();
        let r = request.error_redirect(error, &self.inner.issuer);
        observability::refused(self.deliver(r.response).await, code)
    }
}

/// Whether the request declares an `application/x-www-form-urlencoded` body (parameters
/// such as `charset` allowed).
pub fn is_form<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The OpenID Connect session of an approved request, after checking that the host's
/// authentication satisfies the request (`portcullis_core::oidc_session`).
fn oidc_session(
    request: &OidcRequest,
    client: &Client,
    approval: &Approval,
    requested_at: UnixTime,
    now: UnixTime,
) -> Result<OidcSession, &'static str> {
    let auth = ApprovedAuthentication {
        auth_time: approval.auth_time,
        acr: approval.acr.as_deref(),
        amr: approval.amr.as_deref(),
    };
    portcullis_core::oidc_session(
        request,
        client.oidc.require_auth_time,
        &auth,
        requested_at,
        now,
    )
}
