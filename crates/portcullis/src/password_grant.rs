//! The resource owner password credentials grant (RFC 6749 §4.3), only under
//! `Policy::dangerous_allow_password_grant`, for clients registered for it, and with a host
//! [`PasswordAuthenticator`]: the host checks the credentials on the blocking pool, each
//! attempt throttled per username and client address like the login form
//! ([`LoginThrottle`]); the core decides the scopes and the refresh token
//! (`portcullis_core::decide_password_grant`).

use std::net::IpAddr;
use std::sync::Arc;

use portcullis_core::{
    decide_password_grant, decide_token_binding, grant_at_consent, mint_refresh_token, Client,
    Consent, Delegation, FamilyId, HolderProof, OAuthError, PasswordGrant, TokenErrorCode,
    TokenResponse, TokenSubject, UnixTime,
};

use crate::client_endpoint::TokenEndpointError;
use crate::provider::Provider;
use crate::throttle::LoginThrottle;

/// Checks a resource owner's password for the password grant. Called on the provider's
/// blocking pool (a stretched password hash may take milliseconds), after the throttle let
/// the attempt through.
pub trait PasswordAuthenticator: Send + Sync + 'static {
    /// The user `username` names if `password` is theirs; `None` for an unknown user and a
    /// wrong password alike (and, to tell neither apart by time, spend as long on both).
    fn authenticate(&self, username: &str, password: &str) -> Option<PasswordLogin>;
}

/// A resource owner the [`PasswordAuthenticator`] recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PasswordLogin {
    /// The user's stable identifier.
    pub subject: String,
    /// The authentication methods (RFC 8176): `["pwd"]`.
    pub amr: Vec<String>,
}

impl PasswordLogin {
    /// `subject`, authenticated by password (`amr` `pwd`).
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            amr: vec!["pwd".to_owned()],
        }
    }
}

/// What the password grant needs from the host: its authenticator, and the throttle of its
/// login form (share one, so that guesses count across both).
#[derive(Clone)]
pub(crate) struct PasswordGrantSetup {
    pub(crate) authenticator: Arc<dyn PasswordAuthenticator>,
    pub(crate) throttle: LoginThrottle,
}

fn invalid_grant(description: &'static str) -> TokenEndpointError {
    OAuthError::new(TokenErrorCode::InvalidGrant, description).into()
}

impl Provider {
    /// RFC 6749 §4.3.2, §4.3.3: `invalid_grant` for credentials the host does not accept,
    /// never saying whether the user or the password was wrong, and for an attempt the
    /// throttle refuses (its password is then not checked). The user's grant to the client
    /// records the scopes, so revoking it revokes these tokens; a refresh token when the
    /// client may refresh; no ID token (OpenID Connect defines none for this grant).
    pub(crate) async fn password(
        &self,
        client: &Client,
        g: PasswordGrant,
        audience: Vec<String>,
        presented: &HolderProof<'_>,
        address: Option<IpAddr>,
        now: UnixTime,
    ) -> Result<TokenResponse, TokenEndpointError> {
        let inner = &self.inner;
        let Some(setup) = &inner.password_grant else {
            return Err(OAuthError::new(
                TokenErrorCode::UnsupportedGrantType,
                "grant_type is not supported",
            )
            .into());
        };
        let decision = decide_password_grant(client, &g, &audience, &inner.policy.resources)?;
        let binding = decide_token_binding(client, presented, None)?;
        let Ok(attempt) = setup.throttle.begin(&g.username, address) else {
            return Err(invalid_grant("too many failed attempts: retry later"));
        };
        let authenticator = setup.authenticator.clone();
        let PasswordGrant {
            username,
            password,
            scope: requested,
        } = g;
        let login = inner
            .blocking
            .run(move || authenticator.authenticate(&username, &password))
            .await
            .ok()
            .flatten();
        let Some(login) = login else {
            return Err(invalid_grant("the resource owner credentials are invalid"));
        };
        attempt.succeeded();
        let grants = inner
            .stores
            .grants
            .grants_for(&inner.issuer, &login.subject, &client.id)
            .await?;
        let consent = Consent {
            issuer: &inner.issuer,
            subject: &login.subject,
            client_id: &client.id,
            scopes: &decision.scopes,
        };
        let lifetime = inner.policy.lifetimes.longest_token();
        let grant = grant_at_consent(grants, &consent, now, lifetime, inner.rng.as_ref())?;
        let family_id = FamilyId::generate(inner.rng.as_ref())?;
        let delegation = Delegation {
            subject: &login.subject,
            auth_time: Some(now),
            acr: None,
            amr: Some(&login.amr),
            grant_id: &grant.id,
            family_id: &family_id,
        };
        let refresh_subject = TokenSubject {
            issuer: &inner.issuer,
            client_id: &client.id,
            delegation: Some(delegation),
            scopes: &decision.scopes,
            audience: &audience,
            oidc: None,
            confirmation: None,
            authorization_details: &[],
        };
        let refresh = match decision.refresh_token {
            true => {
                let lifetime = inner.policy.lifetimes.refresh_token;
                let mut r = mint_refresh_token(
                    &refresh_subject,
                    &delegation,
                    now,
                    lifetime,
                    inner.rng.as_ref(),
                )?;
                r.record.confirmation = binding.refresh.as_cnf().cloned();
                Some(r)
            }
            false => None,
        };
        let to = TokenSubject {
            scopes: &decision.access_scopes,
            confirmation: binding.access.as_cnf(),
            ..refresh_subject
        };
        let access = self.access_token(client, &to, now).await?;
        let stores = &inner.stores;
        if let Some(r) = &refresh {
            stores
                .refresh_tokens
                .insert_refresh_token(&r.record)
                .await?;
        }
        stores
            .access_tokens
            .insert_access_token(&access.record)
            .await?;
        stores.grants.save_grant(&grant).await?;
        Ok(TokenResponse::new(
            &access,
            refresh.as_ref(),
            requested.as_ref(),
            now,
        ))
    }
}
