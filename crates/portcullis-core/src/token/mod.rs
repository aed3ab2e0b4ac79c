//! The token endpoint's protocol (RFC 6749 §3.2, §5): the request, one module per grant type
//! with its rules, and the response.
//!
//! Each grant's module holds pure decisions taking `now`; the engine performs their effects
//! (store reads and writes, signing) and answers with their refusals as they are. A new grant
//! type is a new module here, a variant of [`TokenRequest`] and an arm in the engine's match.

mod request;
mod response;

pub use request::{
    AuthorizationCodeGrant, ClientCredentialsGrant, RefreshTokenGrant, TokenRequest,
};
pub use response::{
    mint_access_token, mint_jwt_access_token, mint_refresh_token, prepare_jwt_access_token,
    Delegation, MintedToken, TokenResponse, TokenSubject, UnsignedJwtAccessToken,
};
