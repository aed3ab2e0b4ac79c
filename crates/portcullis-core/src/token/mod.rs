//! The token endpoint's protocol (RFC 6749 §3.2, §5): the request, one module per grant type
//! with its rules, and the response.
//!
//! Each grant's module holds pure decisions taking `now`; the engine performs their effects
//! (store reads and writes, signing) and answers with their refusals as they are. A new grant
//! type is a new module here, a variant of [`TokenRequest`] and an arm in the engine's match.

mod client_credentials;
mod code_exchange;
mod jwt_bearer;
mod openid;
mod password;
mod refresh;
mod request;
mod response;
mod scope_lifetimes;
#[cfg(test)]
pub(crate) mod test_support;
mod token_exchange;

pub use client_credentials::decide_client_credentials;
pub use code_exchange::{check_code_binding, decide_code_exchange, grant_revoked, CodeExchange};
pub use jwt_bearer::{
    check_grant_assertion, decide_jwt_bearer_scopes, AcceptedGrantAssertion, JwtBearerGrant,
    JwtBearerPolicy,
};
pub use password::{decide_password_grant, PasswordDecision};
pub use refresh::{check_refresh_token, RefreshCheck, RefreshDecision};
pub use request::{
    AuthorizationCodeGrant, ClientCredentialsGrant, DeviceCodeGrant, PasswordGrant,
    RefreshTokenGrant, TokenRequest,
};
pub use response::{
    mint_access_token, mint_jwt_access_token, mint_refresh_token, prepare_jwt_access_token,
    Delegation, MintedToken, TokenResponse, TokenSubject, UnsignedJwtAccessToken,
};
pub use scope_lifetimes::{live_scopes, LiveScopes};
pub use token_exchange::{
    decide_token_exchange, exchange_audience, id_token_auth_time, ExchangeDecision, ExchangeMode,
    ExchangeParty, ExchangeRole, PartySubject, TokenExchangeGrant, TokenExchangePolicy, TokenType,
};

use crate::error::{OAuthError, TokenErrorCode};
use crate::resources::ResourceError;

type TokenError = OAuthError<TokenErrorCode>;

fn invalid_grant(description: &'static str) -> TokenError {
    OAuthError::new(TokenErrorCode::InvalidGrant, description)
}

/// `invalid_target` (RFC 8707 §2) with the resource error's text.
fn invalid_target(e: ResourceError) -> TokenError {
    OAuthError::new(TokenErrorCode::InvalidTarget, e.to_string())
}
