//! The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §5, §6).

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use portcullis_core::{
    check_code_binding, check_refresh_token, decide_client_credentials, decide_code_exchange,
    decide_token_binding, format_for_audience, grant_revoked, live_scopes, merge_extra_claims,
    mint_access_token, mint_refresh_token, prepare_jwt_access_token, requested_resources,
    AccessTokenRecord, AuthorizationCodeGrant, AuthorizationDetail, Client, ClientCredentialsGrant,
    CodeRecord, FamilyId, GrantId, GrantType, HolderProof, MintedToken, OAuthError, Params, Policy,
    RefreshTokenGrant, ResourceError, ScopeSet, TokenErrorCode, TokenFormat, TokenHash,
    TokenRequest, TokenResponse, TokenSubject, UnixTime,
};
use portcullis_store::{ConsumeOutcome, GrantUse, RefreshState, RotateIssueOutcome, StoreError};

use crate::client_certificate::certificate_thumbprint;
use crate::client_endpoint::{ClientRequest, TokenEndpointError};
use crate::dpop::DpopCheck;
use crate::id_tokens::IdTokenFor;
use crate::keys::KeyError;
use crate::observability;
use crate::provider::Provider;
use crate::responses::json;
use crate::throttle::ClientAddress;

type TokenError = OAuthError<TokenErrorCode>;

fn invalid_target(e: ResourceError) -> TokenError {
    OAuthError::new(TokenErrorCode::InvalidTarget, e.to_string())
}

/// `invalid_request` when a grant that takes no `authorization_details` was sent some.
fn refuse_details(details: Option<&[AuthorizationDetail]>) -> Result<(), TokenEndpointError> {
    match details {
        Some(_) => Err(OAuthError::new(
            TokenErrorCode::InvalidRequest,
            "authorization_details is not supported with this grant",
        )
        .into()),
        None => Ok(()),
    }
}

pub(crate) fn invalid_grant(description: &'static str) -> TokenError {
    OAuthError::new(TokenErrorCode::InvalidGrant, description)
}

/// What a token exchange adds to an access token.
#[derive(Default)]
pub(crate) struct Exchanged<'a> {
    /// Its `act` claim (RFC 8693 §4.1).
    pub(crate) act: Option<&'a serde_json::Value>,
    /// The latest it may expire: that of the tokens exchanged.
    pub(crate) not_after: Option<UnixTime>,
}

/// The token request's `authorization_details` (RFC 9396 §6), parsed and validated as at
/// the authorization endpoint: `invalid_authorization_details` otherwise (§5).
fn requested_authorization_details(
    policy: &Policy,
    client: &Client,
    params: &Params,
) -> Result<Option<Vec<AuthorizationDetail>>, TokenError> {
    let types = client.tokens.authorization_details_types.as_ref();
    params
        .get("authorization_details")
        .map(|json| policy.authorization_details.parse(json, types))
        .transpose()
        .map_err(TokenError::from)
}

/// The access token's authorization details: those `requested`, each covered by one of
/// `granted` (RFC 9396 §6.1, §6.2), else `invalid_authorization_details`; all of `granted`
/// when none were.
fn narrowed_details(
    policy: &Policy,
    requested: Option<Vec<AuthorizationDetail>>,
    granted: &[AuthorizationDetail],
) -> Result<Vec<AuthorizationDetail>, TokenError> {
    Ok(policy.authorization_details.narrow(requested, granted)?)
}

impl Provider {
    /// The token endpoint. Every response carries `Cache-Control: no-store` and
    /// `Pragma: no-cache` (RFC 6749 §5.1, §5.2), and, when the request sent a DPoP proof, a
    /// fresh `DPoP-Nonce` (RFC 9449 §8).
    pub async fn token(&self, req: Request<Bytes>) -> Response<Bytes> {
        observability::request("token", self.token_answer(req)).await
    }

    async fn token_answer(&self, req: Request<Bytes>) -> Response<Bytes> {
        let response = match self.token_response(&req).await {
            Ok(body) => json(StatusCode::OK, &body),
            Err(failure) => self.client_error_response(failure, &req),
        };
        self.with_dpop_nonce(&req, response)
    }

    async fn token_response(
        &self,
        req: &Request<Bytes>,
    ) -> Result<TokenResponse, TokenEndpointError> {
        let ClientRequest {
            client,
            params,
            now,
        } = self
            .authenticate_client_request(req, crate::paths::TOKEN)
            .await?;
        let proof = self
            .dpop_proof(
                req,
                &DpopCheck {
                    path: crate::paths::TOKEN,
                    access_token: None,
                    client: &client,
                    now,
                },
            )
            .await?;
        let certificate = certificate_thumbprint(req);
        let presented = HolderProof {
            dpop_jkt: proof.as_ref().map(|p| p.jkt.as_str()),
            certificate_thumbprint: certificate.as_deref(),
        };
        self.grant(req, &client, &params, &presented, now).await
    }

    async fn grant(
        &self,
        req: &Request<Bytes>,
        client: &Client,
        params: &Params,
        presented: &HolderProof<'_>,
        now: UnixTime,
    ) -> Result<TokenResponse, TokenEndpointError> {
        let request = TokenRequest::parse_enabled(params, &self.inner.policy)?;
        if !self.offers_grant(request.grant_type()) {
            return Err(OAuthError::new(
                TokenErrorCode::UnsupportedGrantType,
                "grant_type is not supported",
            )
            .into());
        }
        let grant_type = request.grant_type();
        observability::grant_type(grant_type);
        request.check_client(client)?;
        let resources = requested_resources(params, &self.inner.policy.resources, &client.id)
            .map_err(invalid_target)?;
        let details = requested_authorization_details(&self.inner.policy, client, params)?;
        let response = match request {
            TokenRequest::AuthorizationCode(g) => {
                self.exchange_code(client, g, resources, details, presented, now)
                    .await
            }
            TokenRequest::RefreshToken(g) => {
                self.refresh(client, g, resources, details, presented, now)
                    .await
            }
            TokenRequest::ClientCredentials(g) => {
                let details = details.unwrap_or_default();
                // RFC 9396 §6.3, as the host registered each type: no user approves these.
                self.inner
                    .policy
                    .authorization_details
                    .check_without_user(&details)
                    .map_err(TokenError::from)?;
                self.client_credentials(client, g, resources, &details, presented, now)
                    .await
            }
            TokenRequest::TokenExchange(g) => {
                self.token_exchange(client, g, resources, details, presented, now)
                    .await
            }
            TokenRequest::JwtBearer(g) => {
                refuse_details(details.as_deref())?;
                self.jwt_bearer(client, g, resources, presented, now).await
            }
            TokenRequest::Password(g) => {
                refuse_details(details.as_deref())?;
                let address = ClientAddress::of(req);
                self.password(client, g, resources, presented, address, now)
                    .await
            }
            TokenRequest::DeviceCode(g) => {
                self.device_code(client, g, resources, details, presented, now)
                    .await
            }
        }?;
        observability::tokens_issued(grant_type, &response);
        Ok(response)
    }

    /// Whether this provider offers `grant` (discovery lists exactly these): token exchange
    /// and the JWT bearer grant only when the host enabled them, the password grant
    /// only under its `dangerous_` policy with an authenticator, the device grant only
    /// with a verification page.
    pub(crate) fn offers_grant(&self, grant: GrantType) -> bool {
        match grant {
            GrantType::TokenExchange => self.inner.token_exchange.is_some(),
            GrantType::JwtBearer => self.offers_jwt_bearer(),
            GrantType::Password => {
                self.inner.policy.allows_password_grant() && self.inner.password_grant.is_some()
            }
            GrantType::DeviceCode => self.inner.policy.device_authorization.is_enabled(),
            GrantType::AuthorizationCode
            | GrantType::RefreshToken
            | GrantType::ClientCredentials => true,
        }
    }

    /// RFC 6749 §4.1.3, RFC 7636 §4.6, RFC 9449 §10: the core decides
    /// (`portcullis_core::check_code_binding`, `decide_token_binding`,
    /// `decide_code_exchange`).
    async fn exchange_code(
        &self,
        client: &Client,
        g: AuthorizationCodeGrant,
        resources: Vec<String>,
        details: Option<Vec<AuthorizationDetail>>,
        presented: &HolderProof<'_>,
        now: UnixTime,
    ) -> Result<TokenResponse, TokenEndpointError> {
        let inner = &self.inner;
        let record = match inner
            .stores
            .codes
            .consume_code(&inner.issuer, &TokenHash::of(&g.code), now)
            .await?
        {
            ConsumeOutcome::Consumed(record) => record,
            ConsumeOutcome::AlreadyConsumed { family_id, .. } => {
                // RFC 6749 §4.1.2: a reused code revokes what was issued from it.
                tracing::warn!(client_id = %client.id, "authorization code reused; revoking its tokens");
                observability::replayed("authorization_code");
                self.revoke_family(&family_id, now).await?;
                return Err(invalid_grant("the authorization code was already used").into());
            }
            ConsumeOutcome::Missing => {
                return Err(invalid_grant("the authorization code is invalid or expired").into())
            }
        };
        check_code_binding(&record, client, &g, now)?;
        self.redeem_code(
            client,
            &record,
            Some(&g.code),
            resources,
            details,
            presented,
            now,
        )
        .await
    }

    /// Issues the tokens of a consumed and bound code, or of an approved device
    /// authorization (`code`: `None`, no `c_hash`): the core decides the binding
    /// (`decide_token_binding`) and the tokens (`decide_code_exchange`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn redeem_code(
        &self,
        client: &Client,
        record: &CodeRecord,
        code: Option<&str>,
        resources: Vec<String>,
        details: Option<Vec<AuthorizationDetail>>,
        presented: &HolderProof<'_>,
        now: UnixTime,
    ) -> Result<TokenResponse, TokenEndpointError> {
        let inner = &self.inner;
        let binding = decide_token_binding(client, presented, record.confirmation().as_ref())?;
        let exchange =
            match decide_code_exchange(record, client, resources, &inner.policy.resources) {
                Ok(exchange) => exchange,
                // A revoked grant is refused as such before the exchange's own errors (read
                // only here: on success, storing the tokens tells whether it stands); if the
                // read fails, the exchange's error stands.
                Err(e) => {
                    return Err(match self.grant_stands(&record.grant_id).await {
                        Ok(false) => grant_revoked().into(),
                        _ => e.into(),
                    })
                }
            };
        let details = narrowed_details(&inner.policy, details, &record.authorization_details)?;
        let delegation = exchange.delegation();
        let refresh = if exchange.refresh_token {
            let mut r = mint_refresh_token(
                &exchange.refresh_subject(&inner.issuer),
                &delegation,
                now,
                inner.policy.lifetimes.refresh_token,
                inner.rng.as_ref(),
            )?;
            r.record.confirmation = binding.refresh.as_cnf().cloned();
            Some(r)
        } else {
            None
        };
        let to = TokenSubject {
            confirmation: binding.access.as_cnf(),
            authorization_details: &details,
            ..exchange.access_subject(&inner.issuer)
        };
        let access = self.access_token(client, &to, now).await?;
        let id_token = match exchange.id_token {
            Some(session) => Some(
                self.issue_id_token(
                    &IdTokenFor {
                        client,
                        subject: &record.subject,
                        auth_time: Some(record.auth_time),
                        scopes: &record.scopes,
                        session,
                        access_token: Some(access.secret.expose()),
                        code,
                    },
                    now,
                )
                .await?,
            ),
            None => None,
        };
        // The code is spent: its grant records the use and the tokens are stored only if it
        // still stands, in one store operation.
        let grant = self.grant_use(&record.grant_id, now);
        let refresh_record = refresh.as_ref().map(|r| &r.record);
        if !inner
            .stores
            .issue_tokens(&grant, refresh_record, &access.record)
            .await?
        {
            return Err(grant_revoked().into());
        }
        let mut response = TokenResponse::new(&access, refresh.as_ref(), None, now);
        response.id_token = id_token;
        Ok(response)
    }

    /// RFC 6749 §6, with rotation and reuse detection (RFC 9700 §4.14.2): the core decides
    /// an active token's refresh (`portcullis_core::check_refresh_token`, `RefreshCheck`). A
    /// bound token needs its key or certificate first, even for a racer's grace answer
    /// (RFC 9449 §5, RFC 8705 §4: `decide_token_binding`).
    async fn refresh(
        &self,
        client: &Client,
        g: RefreshTokenGrant,
        resources: Vec<String>,
        details: Option<Vec<AuthorizationDetail>>,
        presented: &HolderProof<'_>,
        now: UnixTime,
    ) -> Result<TokenResponse, TokenEndpointError> {
        let inner = &self.inner;
        let hash = TokenHash::of(&g.refresh_token);
        let Some((old, state)) = inner
            .stores
            .refresh_tokens
            .find_refresh_token(&inner.issuer, &hash)
            .await?
        else {
            return Err(invalid_grant("the refresh token is invalid").into());
        };
        let binding = decide_token_binding(client, presented, old.confirmation.as_ref())?;
        match state {
            RefreshState::Active => {}
            RefreshState::Rotated => {
                return match self
                    .grace_answer(client, &old, &g.refresh_token, now)
                    .await?
                {
                    Some(answer) => Ok(answer),
                    None => Err(self.refresh_reused(&old.family_id, now).await),
                }
            }
            RefreshState::Revoked => {
                return Err(invalid_grant("the refresh token was revoked").into())
            }
        }
        let check = check_refresh_token(&old, client, now)?;
        let grant_last_used_at = if check.needs_grant_last_use() {
            inner
                .stores
                .grants
                .find_grant(&inner.issuer, &old.grant_id)
                .await?
                .map(|g| g.last_used_at)
        } else {
            None
        };
        let decision = check.decide(
            grant_last_used_at,
            g.scope.as_ref(),
            resources,
            &inner.policy.resources,
        )?;
        let details = narrowed_details(&inner.policy, details, &old.authorization_details)?;
        let mut rotated = decision.mint_successor(
            &inner.issuer,
            now,
            inner.policy.lifetimes.refresh_token,
            inner.rng.as_ref(),
        )?;
        if let Some(successor) = &mut rotated {
            successor.record.confirmation = binding.refresh.as_cnf().cloned();
        }
        let to = TokenSubject {
            confirmation: binding.access.as_cnf(),
            authorization_details: &details,
            ..decision.access_subject(&inner.issuer)
        };
        let access = self.access_token(client, &to, now).await?;
        let id_token = match decision.id_token {
            Some(session) => Some(
                self.issue_id_token(
                    &IdTokenFor {
                        client,
                        subject: &old.subject,
                        auth_time: old.auth_time,
                        scopes: &decision.access_scopes,
                        session,
                        access_token: Some(access.secret.expose()),
                        code: None,
                    },
                    now,
                )
                .await?,
            ),
            None => None,
        };
        let mut response = TokenResponse::new(
            &access,
            rotated.as_ref(),
            Some(decision.response_scope),
            now,
        );
        response.id_token = id_token;
        // The grant records the use, the token rotates (if it does) and the new tokens are
        // stored in one store operation: all of it only if the grant still stands (and the
        // rotation succeeds).
        let grant = self.grant_use(&old.grant_id, now);
        let Some(successor) = &rotated else {
            return match inner
                .stores
                .issue_tokens(&grant, None, &access.record)
                .await?
            {
                true => Ok(response),
                false => Err(grant_revoked().into()),
            };
        };
        let grace = self.grace_to_keep(client, &g.refresh_token, &response, now)?;
        let outcome = inner.stores.rotate_and_issue(
            &grant,
            &hash,
            &successor.record,
            grace.as_ref(),
            &access.record,
        );
        match outcome.await? {
            RotateIssueOutcome::Issued => Ok(response),
            RotateIssueOutcome::GrantRevoked => Err(grant_revoked().into()),
            // A racer rotated first. Within its grace period this request gets the racer's
            // answer (its own tokens were never stored); otherwise this is reuse.
            RotateIssueOutcome::AlreadyRotated { family_id } => {
                match self
                    .grace_answer(client, &old, &g.refresh_token, now)
                    .await?
                {
                    Some(answer) => Ok(answer),
                    None => Err(self.refresh_reused(&family_id, now).await),
                }
            }
            RotateIssueOutcome::Missing => {
                Err(invalid_grant("the refresh token is invalid").into())
            }
        }
    }

    /// A rotated refresh token came back: someone holds a copy. Revoke the whole family.
    async fn refresh_reused(&self, family_id: &FamilyId, now: UnixTime) -> TokenEndpointError {
        tracing::warn!("refresh token reused; revoking its family");
        observability::replayed("refresh_token");
        match self.revoke_family(family_id, now).await {
            Ok(()) => invalid_grant("the refresh token was already used").into(),
            Err(e) => e.into(),
        }
    }

    /// RFC 6749 §4.4: the core decides the scopes (`portcullis_core::decide_client_credentials`)
    /// and the binding (`decide_token_binding`); no refresh token (§4.4.3).
    async fn client_credentials(
        &self,
        client: &Client,
        g: ClientCredentialsGrant,
        audience: Vec<String>,
        details: &[AuthorizationDetail],
        presented: &HolderProof<'_>,
        now: UnixTime,
    ) -> Result<TokenResponse, TokenEndpointError> {
        let scopes =
            decide_client_credentials(client, &g, &audience, &self.inner.policy.resources)?;
        let binding = decide_token_binding(client, presented, None)?;
        let to = TokenSubject {
            issuer: &self.inner.issuer,
            client_id: &client.id,
            delegation: None,
            scopes: &scopes,
            audience: &audience,
            oidc: None,
            confirmation: binding.access.as_cnf(),
            authorization_details: details,
        };
        self.issue_access_token(client, &to, &Exchanged::default(), g.scope.as_ref(), now)
            .await
    }

    /// Mints `to`'s access token (with what a token exchange adds), stores it and answers
    /// with it alone — no refresh token, no ID token: the client credentials, JWT bearer and
    /// token exchange grants. `scope` is returned when it differs from `requested`
    /// (RFC 6749 §5.1).
    pub(crate) async fn issue_access_token(
        &self,
        client: &Client,
        to: &TokenSubject<'_>,
        exchanged: &Exchanged<'_>,
        requested: Option<&ScopeSet>,
        now: UnixTime,
    ) -> Result<TokenResponse, TokenEndpointError> {
        let access = self.access_token_with(client, to, exchanged, now).await?;
        self.inner
            .stores
            .access_tokens
            .insert_access_token(&access.record)
            .await?;
        Ok(TokenResponse::new(&access, None, requested, now))
    }

    /// Mints an access token: a JWT (RFC 9068) when its audience — or, without one, the
    /// client — asks for one, else opaque. It carries only the scopes still alive, each
    /// scope's lifetime counted from the user's authentication (the core decides:
    /// `portcullis_core::live_scopes`); those fading before the token expire on their own,
    /// and a JWT, which cannot change, gets the shortest remaining lifetime of its scopes.
    pub(crate) async fn access_token(
        &self,
        client: &Client,
        to: &TokenSubject<'_>,
        now: UnixTime,
    ) -> Result<MintedToken<AccessTokenRecord>, TokenEndpointError> {
        self.access_token_with(client, to, &Exchanged::default(), now)
            .await
    }

    /// [`Provider::access_token`] for a token exchange: with its `act` claim, expiring no
    /// later than `not_after` (RFC 8693 §4.1, §2.2.1).
    pub(crate) async fn access_token_with(
        &self,
        client: &Client,
        to: &TokenSubject<'_>,
        exchanged: &Exchanged<'_>,
        now: UnixTime,
    ) -> Result<MintedToken<AccessTokenRecord>, TokenEndpointError> {
        let inner = &self.inner;
        let policy = &inner.policy;
        let mut token_exp = now.plus(policy.lifetimes.access_token);
        if let Some(limit) = exchanged.not_after {
            token_exp = token_exp.min(limit);
        }
        let live = live_scopes(
            to.scopes,
            to.delegation.and_then(|d| d.auth_time),
            &policy.scope_lifetimes,
            now,
            token_exp,
        );
        let to = &TokenSubject {
            scopes: &live.scopes,
            ..*to
        };
        let format = if to.audience.is_empty() {
            client.tokens.access_token_format
        } else {
            format_for_audience(to.audience, &policy.resources)
        };
        match format {
            TokenFormat::Opaque => {
                let mut t =
                    mint_access_token(to, now, policy.lifetimes.access_token, inner.rng.as_ref())?;
                t.record.scope_expiry = live.expiry;
                t.record.expires_at = token_exp;
                t.record.act = exchanged.act.cloned();
                Ok(t)
            }
            TokenFormat::Jwt => {
                let exp = live.jwt_expiry(token_exp);
                let mut extra = self
                    .access_token_claims_for(to.delegation.map(|d| d.subject), to)
                    .await?;
                if let Some(act) = exchanged.act {
                    extra.insert("act".into(), act.clone());
                }
                let alg = client.profile.signing_alg(None, policy.keys.default_alg);
                let key = self.signer(alg, now).await?;
                // RFC 9068 §3: without a resource, a default audience: this provider.
                let default_audience = [inner.issuer.to_string()];
                let to = TokenSubject {
                    audience: if to.audience.is_empty() {
                        &default_audience
                    } else {
                        to.audience
                    },
                    ..*to
                };
                let unsigned = prepare_jwt_access_token(
                    &to,
                    now,
                    exp,
                    extra,
                    key.alg(),
                    key.kid(),
                    inner.rng.as_ref(),
                )
                .map_err(KeyError::from)?;
                let signature = key
                    .sign(unsigned.signing_input())
                    .await
                    .map_err(KeyError::from)?;
                let mut t = unsigned.with_signature(&signature);
                t.record.act = exchanged.act.cloned();
                Ok(t)
            }
        }
    }

    /// The host's extra access-token claims for `subject`, protocol claims dropped.
    pub(crate) async fn access_token_claims_for(
        &self,
        subject: Option<&str>,
        to: &TokenSubject<'_>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, TokenEndpointError> {
        let hook = self
            .inner
            .claims
            .access_token_claims(subject, to.client_id, to.audience, to.scopes)
            .await?;
        let mut extra = serde_json::Map::new();
        let dropped = merge_extra_claims(&mut extra, hook);
        if !dropped.is_empty() {
            tracing::warn!(
                ?dropped,
                "host access token claims may not set protocol claims"
            );
        }
        Ok(extra)
    }

    async fn revoke_family(&self, family_id: &FamilyId, now: UnixTime) -> Result<(), StoreError> {
        let inner = &self.inner;
        let until = now.plus(inner.policy.lifetimes.longest_token());
        inner
            .stores
            .grants
            .revoke_family(&inner.issuer, family_id, until)
            .await
    }

    /// The use of grant `id` at `now` that tokens are issued under: its life extended to
    /// cover them (`GrantStore::touch_grant`'s arguments).
    fn grant_use<'a>(&'a self, id: &'a GrantId, now: UnixTime) -> GrantUse<'a> {
        let inner = &self.inner;
        GrantUse {
            issuer: &inner.issuer,
            grant_id: id,
            now,
            expires_at: now.plus(inner.policy.lifetimes.longest_token()),
        }
    }

    /// Whether grant `id` is stored and not revoked.
    async fn grant_stands(&self, id: &GrantId) -> Result<bool, StoreError> {
        let inner = &self.inner;
        let grant = inner.stores.grants.find_grant(&inner.issuer, id).await?;
        Ok(grant.is_some_and(|g| !g.revoked))
    }
}
