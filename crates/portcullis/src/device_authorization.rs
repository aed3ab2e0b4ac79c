//! The device authorization grant (RFC 8628): the device authorization endpoint (§3.1,
//! §3.2), the device code at the token endpoint (§3.4, §3.5), and the verification step the
//! host's pages drive (§3.3): find the authorization by the user code the user typed, then
//! approve or deny it after the host's login and consent. The core decides
//! ([`portcullis_core::DeviceAuthorizationRequest`], `decide_device_poll`).

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use portcullis_core::{
    decide_device_poll, open_payload, requested_resources, seal_payload, user_code_hash,
    AuthorizationDetail, Client, CodeApproval, DeviceAuthorizationRecord,
    DeviceAuthorizationRequest, DeviceAuthorizationResponse, DeviceCodeGrant, DevicePoll,
    DeviceStatus, HolderProof, OAuthError, OidcSession, ScopeSet, TokenErrorCode, TokenHash,
    TokenResponse, UnixTime,
};
use portcullis_store::{DeviceInsertOutcome, StoreError};

use crate::authorize::Approval;
use crate::client_endpoint::{ClientRequest, TokenEndpointError};
use crate::consented_grant::GrantStored;
use crate::observability;
use crate::provider::Provider;
use crate::responses::json;
use crate::token::invalid_grant;

/// How many user codes an authorization is offered before the engine gives up. A user
/// code is taken by another live authorization with a chance of about n / 2^34.6 for n
/// live ones (RFC 8628 §6.1), so a third taken code in a row means a broken random source
/// or store.
const USER_CODE_TRIES: usize = 3;

/// The purpose under which a [`PendingDeviceAuthorization`]'s ticket is sealed.
const DEVICE_TICKET: &str = "device_authorization";

/// A device authorization awaiting the user's answer, found by its user code
/// ([`Provider::find_device_authorization`]): show the user the client and the scopes it
/// asks for, let them log in and consent, then call
/// [`Provider::approve_device_authorization`] or [`Provider::deny_device_authorization`].
///
/// To carry it across the host's pages, put [`PendingDeviceAuthorization::ticket`] in a form
/// and get it back with [`Provider::resume_device_authorization`] (no second look-up by
/// user code, so no second throttled attempt). It is answered once: the first answer wins.
#[derive(Clone)]
pub struct PendingDeviceAuthorization {
    record: DeviceAuthorizationRecord,
    ticket: String,
}

impl std::fmt::Debug for PendingDeviceAuthorization {
    /// Never the ticket: it answers the authorization.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingDeviceAuthorization")
            .field("record", &self.record)
            .field("ticket", &"<redacted>")
            .finish()
    }
}

impl PendingDeviceAuthorization {
    /// The client (the device) asking for access, for the consent page.
    pub fn client_id(&self) -> &str {
        &self.record.client_id
    }

    /// The scopes asked for, to list on the consent page.
    pub fn scopes(&self) -> &ScopeSet {
        &self.record.scopes
    }

    /// The resources asked for (RFC 8707), to show on the consent page.
    pub fn resources(&self) -> &[String] {
        &self.record.resources
    }

    /// When the codes expire: the user must answer before.
    pub fn expires_at(&self) -> UnixTime {
        self.record.expires_at
    }

    /// The sealed ticket that stands for this authorization in the host's forms.
    pub fn ticket(&self) -> &str {
        &self.ticket
    }
}

impl Provider {
    /// The device authorization endpoint (RFC 8628 §3.1): POST only, a form body, the client
    /// authenticated as at the token endpoint (a public client by its `client_id`), which
    /// must be registered for the device grant. `200` with the codes as JSON (§3.2); errors
    /// as at the token endpoint (RFC 6749 §5.2). Every response is uncached. While the grant
    /// is off (no [`verification_uri`](portcullis_core::DeviceAuthorizationPolicy)), a `404`.
    pub async fn device_authorization(&self, req: Request<Bytes>) -> Response<Bytes> {
        observability::request(
            "device_authorization",
            self.device_authorization_answer(req),
        )
        .await
    }

    async fn device_authorization_answer(&self, req: Request<Bytes>) -> Response<Bytes> {
        if !self.inner.policy.device_authorization.is_enabled() {
            let mut r = Response::new(Bytes::new());
            *r.status_mut() = StatusCode::NOT_FOUND;
            return r;
        }
        match self.start_device_authorization(&req).await {
            Ok(body) => json(StatusCode::OK, &body),
            Err(e) => self.client_error_response(e, &req),
        }
    }

    async fn start_device_authorization(
        &self,
        req: &Request<Bytes>,
    ) -> Result<DeviceAuthorizationResponse, TokenEndpointError> {
        let ClientRequest {
            client,
            params,
            now,
        } = self
            .authenticate_client_request(req, crate::paths::DEVICE_AUTHORIZATION)
            .await?;
        let inner = &self.inner;
        let resources = requested_resources(&params, &inner.policy.resources, &client.id)
            .map_err(|e| OAuthError::new(TokenErrorCode::InvalidTarget, e.to_string()))?;
        let request = DeviceAuthorizationRequest::validate(&params, &client, resources)?;
        for _ in 0..USER_CODE_TRIES {
            let issued = request.clone().issue(
                &client.id,
                &inner.issuer,
                &inner.policy.device_authorization,
                now,
                inner.rng.as_ref(),
            )?;
            let stored = inner
                .stores
                .device_authorizations
                .insert_device_authorization(&issued.record)
                .await?;
            match stored {
                DeviceInsertOutcome::Inserted => return Ok(issued.response),
                DeviceInsertOutcome::UserCodeTaken => {
                    tracing::info!("a new user code was taken: issuing another");
                }
            }
        }
        Err(StoreError::new("no free user code: every try was taken").into())
    }

    /// The device access token request (RFC 8628 §3.4, §3.5): each poll recorded, the core's
    /// answer (`decide_device_poll`), and an approved authorization taken once and redeemed
    /// as an authorization code is: the same tokens, bound to a DPoP proof if one came.
    pub(crate) async fn device_code(
        &self,
        client: &Client,
        g: DeviceCodeGrant,
        resources: Vec<String>,
        details: Option<Vec<AuthorizationDetail>>,
        presented: &HolderProof<'_>,
        now: UnixTime,
    ) -> Result<TokenResponse, TokenEndpointError> {
        let inner = &self.inner;
        let devices = &inner.stores.device_authorizations;
        let hash = TokenHash::of(&g.device_code);
        let polled = devices
            .poll_device_authorization(&inner.issuer, &hash, now)
            .await?;
        let DevicePoll::Approved = decide_device_poll(polled.as_ref(), client, now)?;
        let taken = devices
            .take_device_authorization(&inner.issuer, &hash, now)
            .await?;
        let Some(DeviceStatus::Approved(code)) = taken.map(|d| d.status) else {
            return Err(invalid_grant("the device code was already used").into());
        };
        self.redeem_code(client, &code, None, resources, details, presented, now)
            .await
    }

    /// The device authorization whose user code the user typed (case, dashes and spaces
    /// ignored: RFC 8628 §6.1), if it awaits their answer. `None` for a malformed, unknown,
    /// expired or answered code. The host throttles these look-ups (RFC 8628 §5.1: a user
    /// code is short enough to guess), e.g. with [`crate::throttle::LoginThrottle::begin_user_code`],
    /// which also caps failed look-ups for the whole provider.
    pub async fn find_device_authorization(
        &self,
        user_code: &str,
    ) -> Result<Option<PendingDeviceAuthorization>, StoreError> {
        let Some(hash) = user_code_hash(user_code) else {
            return Ok(None);
        };
        self.pending_device_authorization(&hash).await
    }

    /// Recovers a pending device authorization from its ticket, if the ticket is authentic
    /// and the authorization still awaits the user.
    pub async fn resume_device_authorization(
        &self,
        ticket: &str,
    ) -> Result<Option<PendingDeviceAuthorization>, StoreError> {
        let inner = &self.inner;
        let opened = open_payload::<TokenHash>(
            DEVICE_TICKET,
            ticket,
            &inner.issuer,
            &inner.interaction_key,
            inner.clock.now(),
        );
        match opened {
            Ok((hash, _)) => self.pending_device_authorization(&hash).await,
            Err(_) => Ok(None),
        }
    }

    async fn pending_device_authorization(
        &self,
        user_code_hash: &TokenHash,
    ) -> Result<Option<PendingDeviceAuthorization>, StoreError> {
        let inner = &self.inner;
        let found = inner
            .stores
            .device_authorizations
            .find_device_authorization_by_user_code(
                &inner.issuer,
                user_code_hash,
                inner.clock.now(),
            )
            .await?;
        let Some(record) = found else {
            return Ok(None);
        };
        let ticket = seal_payload(
            DEVICE_TICKET,
            &record.user_code_hash,
            record.expires_at,
            &inner.issuer,
            &inner.interaction_key,
            inner.rng.as_ref(),
        )
        .map_err(|e| StoreError::with_source("sealing a device ticket", e))?;
        Ok(Some(PendingDeviceAuthorization { record, ticket }))
    }

    /// The user logged in and agreed: records the approval (the granted scopes are those
    /// asked for that the user agreed to) and the consent in the user's grant to the
    /// client, so that the device's next poll gets its tokens. An ID token goes with them
    /// when `openid` is granted. `false` if the authorization was answered meanwhile or
    /// expired, or the user's grant to the client was revoked meanwhile (the device's poll
    /// then gets no token).
    pub async fn approve_device_authorization(
        &self,
        pending: &PendingDeviceAuthorization,
        approval: Approval,
    ) -> Result<bool, StoreError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let record = &pending.record;
        let Some(client) = self.find_client(&record.client_id, now).await? else {
            return Ok(false);
        };
        let scopes = record.scopes.intersection(&approval.granted_scopes);
        let consented = self
            .consent_grant(&record.client_id, &approval, &scopes, now)
            .await?;
        let grant = &consented.grant;
        let oidc = scopes.contains("openid").then(|| OidcSession {
            nonce: None,
            acr: approval.acr.clone(),
            amr: approval.amr.clone(),
            auth_time_required: client.oidc.require_auth_time,
            claims: Default::default(),
            // The device is not part of the browser's session that approved it: its ID
            // tokens carry no `sid` of that session.
            sid: None,
        });
        let code = record
            .approved(
                &CodeApproval {
                    subject: &approval.subject,
                    auth_time: approval.auth_time,
                    acr: approval.acr.as_deref(),
                    amr: approval.amr.as_deref(),
                    scopes: &scopes,
                    grant_id: &grant.id,
                    oidc,
                    authorization_details: &[],
                },
                inner.rng.as_ref(),
            )
            .map_err(|e| StoreError::with_source("random id", e))?;
        // The approval first, the grant last: an approval whose grant was never saved
        // cannot be redeemed (its grant is missing) — no half-written grant.
        let answered = inner
            .stores
            .device_authorizations
            .answer_device_authorization(&inner.issuer, &record.user_code_hash, Some(&code), now)
            .await?;
        if !answered {
            return Ok(false);
        }
        // A grant revoked meanwhile: the device's redemption fails; the user is told so.
        Ok(self.store_consented_grant(&consented).await? == GrantStored::Stored)
    }

    /// The user refused: the device's next poll gets `access_denied` (RFC 8628 §3.5).
    /// `false` if the authorization was answered meanwhile or expired.
    pub async fn deny_device_authorization(
        &self,
        pending: &PendingDeviceAuthorization,
    ) -> Result<bool, StoreError> {
        let inner = &self.inner;
        inner
            .stores
            .device_authorizations
            .answer_device_authorization(
                &inner.issuer,
                &pending.record.user_code_hash,
                None,
                inner.clock.now(),
            )
            .await
    }
}
