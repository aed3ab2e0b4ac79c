//! RP-Initiated Logout (OpenID Connect RP-Initiated Logout 1.0 §2–§3).

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use portcullis_core::{
    open_payload, seal_payload, AuthorizeErrorCode, Client, OAuthError, Params, SealError,
    TicketError, UnixTime,
};
use portcullis_store::StoreError;
use serde::{Deserialize, Serialize};

use crate::authorize::is_form;
use crate::endpoint_error::EndpointError;
use crate::observability;
use crate::provider::Provider;
use crate::responses::{error_page, escape_html, html_page, redirect};

const PURPOSE: &str = "logout";

/// What the logout endpoint decided.
#[derive(Debug)]
pub enum LogoutOutcome {
    /// Send this response: the request was refused (an error page, never a redirect).
    Respond(Response<Bytes>),
    /// A valid logout request. The host ends its session for the user — after asking the
    /// user to confirm unless [`PendingLogout::ends_without_asking`] — then calls
    /// [`Provider::finish_logout`].
    Pending(PendingLogout),
}

/// A validated logout request, carried through the host's confirmation page as a sealed
/// ticket like a pending authorization, and like it answered once: the first
/// [`Provider::finish_logout`] spends the ticket.
#[derive(Debug, Clone)]
pub struct PendingLogout {
    fields: LogoutFields,
    ticket: String,
    expires_at: UnixTime,
    /// The host's session this logout ends: its user (local subject) and its id.
    ended_session: Option<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LogoutFields {
    client_id: Option<String>,
    hint_subject: Option<String>,
    redirect: Option<String>,
    state: Option<String>,
}

impl PendingLogout {
    /// The client that asked, if known.
    pub fn client_id(&self) -> Option<&str> {
        self.fields.client_id.as_deref()
    }

    /// The `sub` of the verified `id_token_hint`, as that client saw it.
    pub fn hint_subject(&self) -> Option<&str> {
        self.fields.hint_subject.as_deref()
    }

    /// The registered `post_logout_redirect_uri` the logout will end at, if any.
    pub fn redirect_uri(&self) -> Option<&str> {
        self.fields.redirect.as_deref()
    }

    /// The sealed ticket to carry through a confirmation form.
    pub fn ticket(&self) -> &str {
        &self.ticket
    }

    /// Names the host's session this logout ends: `subject` (the local subject) and
    /// `session`, the host's id of it as given to
    /// [`Approval::with_session`](crate::Approval::with_session). [`Provider::finish_logout`]
    /// then tells each client of that session by back-channel logout (Back-Channel Logout
    /// 1.0 §2.7), without waiting for them.
    #[must_use]
    pub fn ending_session(
        mut self,
        subject: impl Into<String>,
        session: impl Into<String>,
    ) -> Self {
        self.ended_session = Some((subject.into(), session.into()));
        self
    }

    /// Whether the session of `subject` (the host's local subject) may end without asking:
    /// only when the verified `id_token_hint` names that very user, as its client knows them
    /// ([`Provider::subject_for`]). Any other request may come from another site, so the
    /// user confirms first (§2).
    pub async fn ends_without_asking(
        &self,
        provider: &Provider,
        subject: &str,
    ) -> Result<bool, StoreError> {
        let (Some(hint), Some(client_id)) = (self.hint_subject(), self.client_id()) else {
            return Ok(false);
        };
        let client = provider.client(client_id).await?;
        Ok(client.is_some_and(|c| provider.subject_for(&c, subject) == hint))
    }
}

type LogoutError = EndpointError<AuthorizeErrorCode>;

/// A refused logout request: the end-session endpoint answers with the authorization
/// endpoint's codes, on an error page (never a redirect to an unverified URI).
fn invalid_request(description: &'static str) -> LogoutError {
    OAuthError::new(AuthorizeErrorCode::InvalidRequest, description).into()
}

impl Provider {
    /// The end-session endpoint: GET or POST with `id_token_hint`, `client_id`,
    /// `post_logout_redirect_uri` (only a URI registered for that client) and `state`.
    pub async fn end_session(&self, req: Request<Bytes>) -> LogoutOutcome {
        observability::request("end_session", self.end_session_answer(req)).await
    }

    async fn end_session_answer(&self, req: Request<Bytes>) -> LogoutOutcome {
        match self.logout_request(&req).await {
            Ok(pending) => LogoutOutcome::Pending(pending),
            Err(e) => LogoutOutcome::Respond(error_page(e)),
        }
    }

    async fn logout_request(&self, req: &Request<Bytes>) -> Result<PendingLogout, LogoutError> {
        let raw: &[u8] = match *req.method() {
            Method::GET => req.uri().query().unwrap_or("").as_bytes(),
            Method::POST if is_form(req) => req.body(),
            _ => return Err(invalid_request("use GET, or POST with a form body")),
        };
        let params = Params::parse(raw).map_err(|_| invalid_request("malformed parameters"))?;
        if params.first_repeated().is_some() {
            return Err(invalid_request("a parameter was sent more than once"));
        }
        let inner = &self.inner;
        let now = inner.clock.now();
        let hint = match params.get("id_token_hint") {
            None => None,
            Some(h) => match self.verified_id_token_hint(h, now).await {
                Some(claims) => Some(claims),
                None => {
                    return Err(invalid_request(
                        "id_token_hint is not a valid ID token of this provider",
                    ))
                }
            },
        };
        let client_id = match (params.get("client_id"), &hint) {
            (Some(c), Some(h)) if c != h.aud => {
                return Err(invalid_request("client_id does not match id_token_hint"))
            }
            (Some(c), _) => Some(c.to_owned()),
            (None, Some(h)) => Some(h.aud.clone()),
            (None, None) => None,
        };
        let client = match &client_id {
            Some(id) => Some(
                self.find_client(id, now)
                    .await?
                    .ok_or_else(|| invalid_request("unknown client"))?,
            ),
            None => None,
        };
        let redirect = match (params.get("post_logout_redirect_uri"), &client) {
            (None, _) => None,
            (Some(uri), Some(c)) if is_post_logout_uri(c, uri) => Some(uri.to_owned()),
            (Some(_), _) => {
                return Err(invalid_request(
                    "post_logout_redirect_uri is not registered for the client",
                ))
            }
        };
        let fields = LogoutFields {
            client_id,
            hint_subject: hint.map(|h| h.sub),
            redirect,
            state: params.get("state").map(str::to_owned),
        };
        let expires_at = now.plus(inner.policy.lifetimes.interaction);
        match seal_payload(
            PURPOSE,
            &fields,
            expires_at,
            &inner.issuer,
            &inner.interaction_key,
            inner.rng.as_ref(),
        ) {
            Ok(ticket) => Ok(PendingLogout {
                fields,
                ticket,
                expires_at,
                ended_session: None,
            }),
            Err(SealError::TooLarge) => Err(invalid_request("the logout request is too large")),
            // The generator failed (or a failure added later): the server's fault, answered
            // as it always was.
            Err(_) => Err(invalid_request("the server could not continue")),
        }
    }

    /// Recovers a pending logout from its ticket.
    pub fn resume_logout(&self, ticket: &str) -> Result<PendingLogout, TicketError> {
        let inner = &self.inner;
        let (fields, expires_at) = open_payload(
            PURPOSE,
            ticket,
            &inner.issuer,
            &inner.interaction_key,
            inner.clock.now(),
        )?;
        Ok(PendingLogout {
            fields,
            ticket: ticket.to_owned(),
            expires_at,
            ended_session: None,
        })
    }

    /// After the host ended its session (named with [`PendingLogout::ending_session`], whose
    /// clients are then told by back-channel logout): redirects to the `post_logout_redirect_uri` with
    /// `state` (§3), or shows that the user is logged out. Answers the ticket once: a
    /// replayed (or expired) one gets a 400 `invalid_request` page instead, and a store
    /// failure a 503 `temporarily_unavailable` page.
    pub async fn finish_logout(&self, pending: PendingLogout) -> Response<Bytes> {
        observability::request("finish_logout", self.finish_logout_answer(pending)).await
    }

    async fn finish_logout_answer(&self, pending: PendingLogout) -> Response<Bytes> {
        let now = self.inner.clock.now();
        if now >= pending.expires_at {
            return error_page(invalid_request("the logout request expired"));
        }
        let replayed = "this logout request was already answered";
        let spent = self
            .spend_ticket(&pending.ticket, pending.expires_at, now, replayed)
            .await;
        if let Err(page) = spent {
            return page;
        }
        if let Some((subject, session)) = &pending.ended_session {
            // Runs on its own: the user's answer never waits for a client.
            let _running = self.session_ended(subject, session);
        }
        match &pending.fields.redirect {
            Some(uri) => {
                let mut url = match url::Url::parse(uri) {
                    Ok(u) => u,
                    Err(_) => return error_page(invalid_request("invalid redirect")),
                };
                if let Some(state) = &pending.fields.state {
                    url.query_pairs_mut().append_pair("state", state);
                }
                redirect(url.as_str())
            }
            None => html_page(
                StatusCode::OK,
                "You are logged out",
                &format!("<p>{}</p>", escape_html(self.inner.issuer.as_str())),
            ),
        }
    }
}

/// RP-Initiated Logout 1.0 §3: an exact match with a registered URI.
fn is_post_logout_uri(client: &Client, uri: &str) -> bool {
    client
        .oidc
        .post_logout_redirect_uris
        .iter()
        .any(|r| r.as_str() == uri)
}
