//! The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4, §5, §6).

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use portcullis_core::{
    mint_access_token, mint_refresh_token, negotiate_scopes, AuthorizationCodeGrant, Client,
    ClientCredentialsGrant, CodeRecord, Delegation, FamilyId, GrantId, GrantType, MintedToken,
    OAuthError, Params, RefreshTokenGrant, RefreshTokenRecord, ScopeSet, TokenErrorCode, TokenHash,
    TokenRequest, TokenResponse, TokenSubject, UnixTime,
};
use portcullis_store::{ConsumeOutcome, RefreshState, RotateOutcome, StoreError};

use crate::client_endpoint::{ClientRequest, Failure};
use crate::id_tokens::IdTokenFor;
use crate::provider::Provider;
use crate::responses::json;

type TokenError = OAuthError<TokenErrorCode>;

fn invalid_grant(description: &'static str) -> TokenError {
    OAuthError::new(TokenErrorCode::InvalidGrant, description)
}

impl Provider {
    /// The token endpoint. Every response carries `Cache-Control: no-store` and
    /// `Pragma: no-cache` (RFC 6749 §5.1, §5.2).
    pub async fn token(&self, req: Request<Bytes>) -> Response<Bytes> {
        match self.token_response(&req).await {
            Ok(body) => json(StatusCode::OK, &body),
            Err(failure) => self.client_error_response(failure, &req),
        }
    }

    async fn token_response(&self, req: &Request<Bytes>) -> Result<TokenResponse, Failure> {
        let ClientRequest {
            client,
            params,
            now,
        } = self.authenticate_client_request(req).await?;
        self.grant(&client, &params, now).await
    }

    async fn grant(
        &self,
        client: &Client,
        params: &Params,
        now: UnixTime,
    ) -> Result<TokenResponse, Failure> {
        let request = TokenRequest::parse(params)?;
        let grant_type = request.grant_type();
        if !client.allows_grant(grant_type)
            || (grant_type == GrantType::ClientCredentials && client.is_public())
        {
            return Err(OAuthError::new(
                TokenErrorCode::UnauthorizedClient,
                "the client may not use this grant type",
            )
            .into());
        }
        match request {
            TokenRequest::AuthorizationCode(g) => self.exchange_code(client, g, now).await,
            TokenRequest::RefreshToken(g) => self.refresh(client, g, now).await,
            TokenRequest::ClientCredentials(g) => self.client_credentials(client, g, now).await,
        }
    }

    /// RFC 6749 §4.1.3, RFC 7636 §4.6.
    async fn exchange_code(
        &self,
        client: &Client,
        g: AuthorizationCodeGrant,
        now: UnixTime,
    ) -> Result<TokenResponse, Failure> {
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
                self.revoke_family(&family_id, now).await?;
                return Err(invalid_grant("the authorization code was already used").into());
            }
            ConsumeOutcome::Missing => {
                return Err(invalid_grant("the authorization code is invalid or expired").into())
            }
        };
        check_code_binding(&record, client, &g)?;
        let grant_live = inner
            .stores
            .tokens
            .find_grant(&inner.issuer, &record.grant_id)
            .await?
            .is_some_and(|gr| !gr.revoked);
        if !grant_live {
            return Err(invalid_grant("the grant was revoked").into());
        }
        let delegation = Delegation {
            subject: &record.subject,
            auth_time: record.auth_time,
            grant_id: &record.grant_id,
            family_id: &record.family_id,
        };
        let to = TokenSubject {
            issuer: &inner.issuer,
            client_id: &client.id,
            delegation: Some(delegation),
            scopes: &record.scopes,
            oidc: record.oidc.as_ref(),
        };
        // OpenID Connect Core §11: in OpenID mode a refresh token needs `offline_access`.
        let openid = record
            .oidc
            .as_ref()
            .filter(|_| record.scopes.contains("openid"));
        let refresh = if client.allows_grant(GrantType::RefreshToken)
            && (openid.is_none() || record.scopes.contains("offline_access"))
        {
            Some(mint_refresh_token(
                &to,
                &delegation,
                now,
                inner.policy.lifetimes.refresh_token,
                inner.rng.as_ref(),
            )?)
        } else {
            None
        };
        let access = self.mint_access_token(&to, now)?;
        let id_token = match openid {
            Some(session) => Some(
                self.issue_id_token(
                    &IdTokenFor {
                        client,
                        subject: &record.subject,
                        auth_time: record.auth_time,
                        scopes: &record.scopes,
                        session,
                        access_token: access.secret.expose(),
                        code: Some(&g.code),
                    },
                    now,
                )
                .await?,
            ),
            None => None,
        };
        if let Some(r) = &refresh {
            inner.stores.tokens.insert_refresh_token(&r.record).await?;
        }
        inner
            .stores
            .tokens
            .insert_access_token(&access.record)
            .await?;
        self.touch_grant(&record.grant_id, now).await?;
        let mut response = TokenResponse::bearer(&access, refresh.as_ref(), None, now);
        response.id_token = id_token;
        Ok(response)
    }

    /// RFC 6749 §6, with rotation and reuse detection (RFC 9700 §4.14.2).
    async fn refresh(
        &self,
        client: &Client,
        g: RefreshTokenGrant,
        now: UnixTime,
    ) -> Result<TokenResponse, Failure> {
        let inner = &self.inner;
        let hash = TokenHash::of(&g.refresh_token);
        let Some((old, state)) = inner
            .stores
            .tokens
            .find_refresh_token(&inner.issuer, &hash)
            .await?
        else {
            return Err(invalid_grant("the refresh token is invalid").into());
        };
        match state {
            RefreshState::Active => {}
            RefreshState::Rotated => return Err(self.refresh_reused(&old.family_id, now).await),
            RefreshState::Revoked => {
                return Err(invalid_grant("the refresh token was revoked").into())
            }
        }
        if old.client_id != client.id {
            return Err(invalid_grant("the refresh token was issued to another client").into());
        }
        if now >= old.expires_at {
            return Err(invalid_grant("the refresh token has expired").into());
        }
        let scopes = narrowed_scopes(&old, g.scope.as_ref())?;
        let delegation = Delegation {
            subject: &old.subject,
            auth_time: old.auth_time,
            grant_id: &old.grant_id,
            family_id: &old.family_id,
        };
        // RFC 6749 §6: the new refresh token keeps the scope of the old one.
        let successor_to = TokenSubject {
            issuer: &inner.issuer,
            client_id: &client.id,
            delegation: Some(delegation),
            scopes: &old.scopes,
            oidc: old.oidc.as_ref(),
        };
        let successor = mint_refresh_token(
            &successor_to,
            &delegation,
            now,
            inner.policy.lifetimes.refresh_token,
            inner.rng.as_ref(),
        )?;
        let to = TokenSubject {
            scopes: &scopes,
            ..successor_to
        };
        let access = self.mint_access_token(&to, now)?;
        // OpenID Connect Core §12.2: a new ID token with the same sub and original auth_time.
        let id_token = match old.oidc.as_ref().filter(|_| scopes.contains("openid")) {
            Some(session) => Some(
                self.issue_id_token(
                    &IdTokenFor {
                        client,
                        subject: &old.subject,
                        auth_time: old.auth_time,
                        scopes: &scopes,
                        session,
                        access_token: access.secret.expose(),
                        code: None,
                    },
                    now,
                )
                .await?,
            ),
            None => None,
        };
        match inner
            .stores
            .tokens
            .rotate_refresh_token(&inner.issuer, &hash, &successor.record)
            .await?
        {
            RotateOutcome::Rotated => {}
            RotateOutcome::AlreadyRotated { family_id } => {
                return Err(self.refresh_reused(&family_id, now).await)
            }
            RotateOutcome::Missing => {
                return Err(invalid_grant("the refresh token is invalid").into())
            }
        }
        inner
            .stores
            .tokens
            .insert_access_token(&access.record)
            .await?;
        self.touch_grant(&old.grant_id, now).await?;
        let mut response = TokenResponse::bearer(
            &access,
            Some(&successor),
            g.scope.as_ref().or(Some(&old.scopes)),
            now,
        );
        response.id_token = id_token;
        Ok(response)
    }

    /// A rotated refresh token came back: someone holds a copy. Revoke the whole family.
    async fn refresh_reused(&self, family_id: &FamilyId, now: UnixTime) -> Failure {
        tracing::warn!("refresh token reused; revoking its family");
        match self.revoke_family(family_id, now).await {
            Ok(()) => invalid_grant("the refresh token was already used").into(),
            Err(e) => e.into(),
        }
    }

    /// RFC 6749 §4.4: confidential clients only, no refresh token (§4.4.3).
    async fn client_credentials(
        &self,
        client: &Client,
        g: ClientCredentialsGrant,
        now: UnixTime,
    ) -> Result<TokenResponse, Failure> {
        let scopes = negotiate_scopes(
            g.scope.as_ref(),
            &client.allowed_scopes,
            &client.default_scopes,
        )
        .map_err(|_| {
            OAuthError::new(
                TokenErrorCode::InvalidScope,
                "scope not allowed for this client",
            )
        })?;
        let to = TokenSubject {
            issuer: &self.inner.issuer,
            client_id: &client.id,
            delegation: None,
            scopes: &scopes,
            oidc: None,
        };
        let access = self.mint_access_token(&to, now)?;
        self.inner
            .stores
            .tokens
            .insert_access_token(&access.record)
            .await?;
        Ok(TokenResponse::bearer(&access, None, g.scope.as_ref(), now))
    }

    fn mint_access_token(
        &self,
        to: &TokenSubject<'_>,
        now: UnixTime,
    ) -> Result<MintedToken<portcullis_core::AccessTokenRecord>, Failure> {
        let inner = &self.inner;
        Ok(mint_access_token(
            to,
            now,
            inner.policy.lifetimes.access_token,
            inner.rng.as_ref(),
        )?)
    }

    async fn revoke_family(&self, family_id: &FamilyId, now: UnixTime) -> Result<(), StoreError> {
        let inner = &self.inner;
        let until = now.plus(inner.policy.lifetimes.longest_token());
        inner
            .stores
            .tokens
            .revoke_family(&inner.issuer, family_id, until)
            .await
    }

    /// Records use of a grant and extends its life to cover the tokens just issued.
    async fn touch_grant(&self, id: &GrantId, now: UnixTime) -> Result<(), StoreError> {
        let inner = &self.inner;
        let tokens = &inner.stores.tokens;
        if let Some(mut grant) = tokens.find_grant(&inner.issuer, id).await? {
            grant.last_used_at = now;
            grant.expires_at = grant
                .expires_at
                .max(now.plus(inner.policy.lifetimes.longest_token()));
            tokens.save_grant(&grant).await?;
        }
        Ok(())
    }
}

/// The code must go back to the client, redirect URI and PKCE verifier it was issued for
/// (RFC 6749 §4.1.3, RFC 7636 §4.6). Without a challenge, a verifier is refused too, so
/// PKCE cannot be downgraded (RFC 9700 §2.1.1).
fn check_code_binding(
    record: &CodeRecord,
    client: &Client,
    g: &AuthorizationCodeGrant,
) -> Result<(), TokenError> {
    if record.client_id != client.id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    let redirect_ok = match (&record.redirect_uri, &g.redirect_uri) {
        (Some(bound), Some(sent)) => bound == sent,
        (Some(_), None) => false,
        (None, Some(sent)) => client.find_redirect_uri(sent).is_some(),
        (None, None) => true,
    };
    if !redirect_ok {
        return Err(invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&record.code_challenge, &g.code_verifier) {
        (Some(challenge), Some(verifier)) if challenge.verify(verifier) => Ok(()),
        (Some(_), _) => Err(invalid_grant(
            "code_verifier does not match the code challenge",
        )),
        (None, Some(_)) => Err(invalid_grant(
            "code_verifier sent but no code challenge was",
        )),
        (None, None) => Ok(()),
    }
}

/// A refresh may narrow the scope but never widen it (RFC 6749 §6).
fn narrowed_scopes(
    old: &RefreshTokenRecord,
    requested: Option<&ScopeSet>,
) -> Result<ScopeSet, TokenError> {
    match requested {
        None => Ok(old.scopes.clone()),
        Some(r) if r.is_subset(&old.scopes) => Ok(r.clone()),
        Some(_) => Err(OAuthError::new(
            TokenErrorCode::InvalidScope,
            "the requested scope exceeds the original grant",
        )),
    }
}
