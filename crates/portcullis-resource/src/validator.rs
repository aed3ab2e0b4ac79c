//! The one thing every way of validating an access token does.

use async_trait::async_trait;
use portcullis_core::UnixTime;

use crate::{TokenClaims, TokenError};

/// Validates an access token presented to this resource: by value (a JWT access token,
/// RFC 9068) or by reference (introspection, RFC 7662).
///
/// A validator checks what the token itself says — its issuer, audience, lifetime,
/// signature or the authorization server's verdict. Whether the request proves the key or
/// certificate the token is bound to (`cnf`), and whether its scope suffices for the route,
/// are checked after it, from the returned claims.
#[async_trait]
pub trait TokenValidator: Send + Sync + 'static {
    /// The claims of `token` if it is valid for this resource at `now`.
    async fn validate(&self, token: &str, now: UnixTime) -> Result<TokenClaims, TokenError>;
}
