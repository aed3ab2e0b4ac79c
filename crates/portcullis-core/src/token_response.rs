//! Minting access and refresh tokens, and the successful token response (RFC 6749 §5.1).

use std::fmt;
use std::time::Duration;

use ring::rand::SecureRandom;
use serde::Serialize;

use crate::ids::{random_id, FamilyId, GrantId};
use crate::issuer::Issuer;
use crate::oidc::OidcSession;
use crate::records::{AccessTokenRecord, RefreshTokenRecord};
use crate::scope::ScopeSet;
use crate::secret::{RandomError, SecretToken};
use crate::time::UnixTime;

/// A freshly minted token: the secret for the client and the record for the store.
#[derive(Debug)]
pub struct MintedToken<R> {
    /// The opaque token (256 random bits, base64url).
    pub secret: SecretToken,
    /// What to store, keyed by the secret's hash.
    pub record: R,
}

/// Who a token is for and what it allows.
#[derive(Debug, Clone, Copy)]
pub struct TokenSubject<'a> {
    /// The issuer.
    pub issuer: &'a Issuer,
    /// The client.
    pub client_id: &'a str,
    /// The resource owner, and the grant and family of a user-delegated token.
    pub delegation: Option<Delegation<'a>>,
    /// Scopes.
    pub scopes: &'a ScopeSet,
    /// The OpenID Connect session of a delegation in OpenID mode.
    pub oidc: Option<&'a OidcSession>,
}

/// The user side of a delegated token.
#[derive(Debug, Clone, Copy)]
pub struct Delegation<'a> {
    /// The resource owner.
    pub subject: &'a str,
    /// When they authenticated.
    pub auth_time: UnixTime,
    /// Their grant to the client.
    pub grant_id: &'a GrantId,
    /// The token family.
    pub family_id: &'a FamilyId,
}

/// Mints an opaque access token valid from `now` for `lifetime`.
pub fn mint_access_token(
    to: &TokenSubject<'_>,
    now: UnixTime,
    lifetime: Duration,
    rng: &dyn SecureRandom,
) -> Result<MintedToken<AccessTokenRecord>, RandomError> {
    let secret = SecretToken::generate(rng)?;
    let record = AccessTokenRecord {
        hash: secret.hash(),
        jti: random_id(rng)?,
        audience: Vec::new(),
        issuer: to.issuer.clone(),
        client_id: to.client_id.to_owned(),
        subject: to.delegation.map(|d| d.subject.to_owned()),
        scopes: to.scopes.clone(),
        grant_id: to.delegation.map(|d| d.grant_id.clone()),
        family_id: to.delegation.map(|d| d.family_id.clone()),
        userinfo_claims: to
            .oidc
            .map(|o| o.claims.userinfo.clone())
            .unwrap_or_default(),
        issued_at: now,
        expires_at: now.plus(lifetime),
    };
    Ok(MintedToken { secret, record })
}

/// Mints an opaque refresh token for a delegation, valid from `now` for `lifetime`.
pub fn mint_refresh_token(
    to: &TokenSubject<'_>,
    delegation: &Delegation<'_>,
    now: UnixTime,
    lifetime: Duration,
    rng: &dyn SecureRandom,
) -> Result<MintedToken<RefreshTokenRecord>, RandomError> {
    let secret = SecretToken::generate(rng)?;
    let record = RefreshTokenRecord {
        hash: secret.hash(),
        issuer: to.issuer.clone(),
        client_id: to.client_id.to_owned(),
        subject: delegation.subject.to_owned(),
        scopes: to.scopes.clone(),
        auth_time: delegation.auth_time,
        grant_id: delegation.grant_id.clone(),
        family_id: delegation.family_id.clone(),
        // The nonce belongs to the first ID token only (OpenID Connect Core §12.2).
        oidc: to.oidc.map(|o| OidcSession {
            nonce: None,
            ..o.clone()
        }),
        issued_at: now,
        expires_at: now.plus(lifetime),
    };
    Ok(MintedToken { secret, record })
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer` (RFC 6750).
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The refresh token, when one is issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scope, sent when it differs from what was requested (RFC 6749 §5.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The ID token, in OpenID mode (OpenID Connect Core §3.1.3.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl TokenResponse {
    /// A Bearer response for `access`, with `refresh` if issued. `scope` is included when
    /// `granted` differs from `requested` (or nothing was requested).
    pub fn bearer(
        access: &MintedToken<AccessTokenRecord>,
        refresh: Option<&MintedToken<RefreshTokenRecord>>,
        requested: Option<&ScopeSet>,
        now: UnixTime,
    ) -> Self {
        let granted = &access.record.scopes;
        Self {
            access_token: access.secret.expose().to_owned(),
            token_type: "Bearer",
            expires_in: now.seconds_until(access.record.expires_at),
            refresh_token: refresh.map(|r| r.secret.expose().to_owned()),
            scope: (requested != Some(granted)).then(|| granted.to_string()),
            id_token: None,
        }
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}
