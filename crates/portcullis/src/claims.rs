//! What the host knows about its users: their claims (OpenID Connect Core §5.1), and
//! extra claims it wants in ID tokens.

use async_trait::async_trait;
use portcullis_core::ScopeSet;
use serde_json::{Map, Value};

/// The host could not produce claims. The source is logged, never shown to clients.
#[derive(Debug, thiserror::Error)]
#[error("claims source failed")]
pub struct ClaimsError(#[source] pub Box<dyn std::error::Error + Send + Sync + 'static>);

/// The host's source of user claims.
#[async_trait]
pub trait UserClaims: Send + Sync + 'static {
    /// Every claim the host holds about `subject`, under the standard names (§5.1). The
    /// engine releases only those the grant's scopes (§5.4) or the `claims` request (§5.5)
    /// allow, and always sets `sub` itself.
    async fn claims(&self, subject: &str) -> Result<Map<String, Value>, ClaimsError>;

    /// Extra claims for an ID token issued to `client_id` with `scopes`. Protocol claims
    /// (`iss`, `aud`, `exp`, `nonce`, …) are dropped: a hook cannot override them.
    async fn id_token_claims(
        &self,
        _subject: &str,
        _client_id: &str,
        _scopes: &ScopeSet,
    ) -> Result<Map<String, Value>, ClaimsError> {
        Ok(Map::new())
    }

    /// Extra claims for an access token (a JWT access token's payload, and introspection
    /// responses) issued to `client_id` for `audience` with `scopes`; `subject` is `None`
    /// for client credentials. Protocol claims are dropped.
    async fn access_token_claims(
        &self,
        _subject: Option<&str>,
        _client_id: &str,
        _audience: &[String],
        _scopes: &ScopeSet,
    ) -> Result<Map<String, Value>, ClaimsError> {
        Ok(Map::new())
    }
}

/// A host with no user claims: ID tokens and UserInfo carry only `sub`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoUserClaims;

#[async_trait]
impl UserClaims for NoUserClaims {
    async fn claims(&self, _subject: &str) -> Result<Map<String, Value>, ClaimsError> {
        Ok(Map::new())
    }
}
