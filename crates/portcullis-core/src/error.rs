//! OAuth error codes and their HTTP statuses.

use std::borrow::Cow;
use std::fmt;

/// Error codes of the authorization endpoint (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizeErrorCode {
    /// Malformed request: a missing, invalid or repeated parameter.
    InvalidRequest,
    /// The client may not use this flow.
    UnauthorizedClient,
    /// The resource owner or the server denied the request.
    AccessDenied,
    /// The `response_type` is not supported.
    UnsupportedResponseType,
    /// The requested scope is invalid, unknown or malformed.
    InvalidScope,
    /// The server met an unexpected condition.
    ServerError,
    /// The server cannot handle the request now (e.g. its store is down).
    TemporarilyUnavailable,
    /// `prompt=none`, but the user must log in (OpenID Connect Core §3.1.2.6).
    LoginRequired,
    /// `prompt=none`, but the user must consent (§3.1.2.6).
    ConsentRequired,
    /// `prompt=none`, but some interaction is needed (§3.1.2.6).
    InteractionRequired,
    /// `prompt=none`, but the user must choose an account (§3.1.2.6).
    AccountSelectionRequired,
    /// The `request` parameter (a request object) is not supported (§3.1.2.6).
    RequestNotSupported,
    /// The `request_uri` parameter is not supported (§3.1.2.6).
    RequestUriNotSupported,
    /// A `resource` is unknown, malformed or not allowed (RFC 8707 §2).
    InvalidTarget,
    /// The `request_uri` names no live pushed request of this client: unknown, expired,
    /// already used or another client's (RFC 9101 §6.2, RFC 9126 §4).
    InvalidRequestUri,
    /// The request object is invalid: its signature, a claim, or a parameter (RFC 9101
    /// §6.1).
    InvalidRequestObject,
    /// `authorization_details` is malformed or asks for what may not be had (RFC 9396 §5).
    InvalidAuthorizationDetails,
}

impl AuthorizeErrorCode {
    /// The `error` value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::AccountSelectionRequired => "account_selection_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::InvalidRequestObject => "invalid_request_object",
            Self::InvalidAuthorizationDetails => "invalid_authorization_details",
        }
    }
}

/// Error codes of the token endpoint (RFC 6749 §5.2), each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenErrorCode {
    /// Malformed request: a missing, unsupported or repeated parameter, or more than one
    /// client authentication method.
    InvalidRequest,
    /// Client authentication failed (HTTP 401).
    InvalidClient,
    /// The code or refresh token is invalid, expired, revoked or bound to something else.
    InvalidGrant,
    /// The authenticated client may not use this grant type.
    UnauthorizedClient,
    /// The grant type is not supported by this server.
    UnsupportedGrantType,
    /// The requested scope is invalid, unknown, or exceeds what was granted.
    InvalidScope,
    /// The server's store failed; retry later (HTTP 503, RFC 6749 §4.1.2.1's code reused).
    TemporarilyUnavailable,
    /// Revocation of this token type is not supported (RFC 7009 §2.2.1).
    UnsupportedTokenType,
    /// The requested resource is unknown or not allowed (RFC 8707 §2).
    InvalidTarget,
    /// The DPoP proof is missing where one is required, malformed or invalid (RFC 9449 §5).
    InvalidDpopProof,
    /// The DPoP proof must carry the nonce of the `DPoP-Nonce` header (RFC 9449 §8).
    UseDpopNonce,
    /// `authorization_details` is malformed or exceeds what was granted (RFC 9396 §5, §6).
    InvalidAuthorizationDetails,
    /// The user has not yet answered the device authorization (RFC 8628 §3.5).
    AuthorizationPending,
    /// The device polls too often: wait 5 seconds longer from now on (RFC 8628 §3.5).
    SlowDown,
    /// The user denied the device authorization (RFC 8628 §3.5).
    AccessDenied,
    /// The device code expired (RFC 8628 §3.5).
    ExpiredToken,
}

impl TokenErrorCode {
    /// The `error` value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidTarget => "invalid_target",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::InvalidAuthorizationDetails => "invalid_authorization_details",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::AccessDenied => "access_denied",
            Self::ExpiredToken => "expired_token",
        }
    }

    /// The HTTP status: 400 for everything but `invalid_client` (401, RFC 6749 §5.2)
    /// and an unavailable store (503).
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidClient => 401,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// Error codes of a resource protected by bearer tokens (RFC 6750 §3.1), such as UserInfo
/// (OpenID Connect Core §5.3.3), each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BearerErrorCode {
    /// Malformed request: a missing or repeated parameter, more than one way of sending the
    /// token (HTTP 400).
    InvalidRequest,
    /// The token is expired, revoked, malformed or invalid (HTTP 401).
    InvalidToken,
    /// The token lacks a scope the request needs (HTTP 403).
    InsufficientScope,
    /// The server failed; retry later (HTTP 503, RFC 6749 §4.1.2.1's code reused).
    TemporarilyUnavailable,
    /// The DPoP proof is missing, malformed or invalid (HTTP 401, RFC 9449 §7.1).
    InvalidDpopProof,
    /// The DPoP proof must carry the nonce of the `DPoP-Nonce` header (HTTP 401,
    /// RFC 9449 §9).
    UseDpopNonce,
}

impl BearerErrorCode {
    /// The `error` value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }

    /// The HTTP status (RFC 6750 §3.1, RFC 9449 §7.1, §9).
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::InvalidToken | Self::InvalidDpopProof | Self::UseDpopNonce => 401,
            Self::InsufficientScope => 403,
            Self::TemporarilyUnavailable => 503,
        }
    }
}

/// An OAuth error: a code plus a human-readable description that never carries secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError<C> {
    /// The wire code.
    pub code: C,
    /// `error_description`: ASCII text for the developer (RFC 6749 §5.2).
    pub description: Cow<'static, str>,
}

impl<C> OAuthError<C> {
    /// An error with a fixed description.
    pub fn new(code: C, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }
}

impl fmt::Display for OAuthError<TokenErrorCode> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl fmt::Display for OAuthError<AuthorizeErrorCode> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl fmt::Display for OAuthError<BearerErrorCode> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError<TokenErrorCode> {}
impl std::error::Error for OAuthError<AuthorizeErrorCode> {}
impl std::error::Error for OAuthError<BearerErrorCode> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_errors_have_the_status_of_rfc_6749() {
        use TokenErrorCode::*;
        let cases = [
            (InvalidRequest, "invalid_request", 400),
            (InvalidClient, "invalid_client", 401),
            (InvalidGrant, "invalid_grant", 400),
            (UnauthorizedClient, "unauthorized_client", 400),
            (UnsupportedGrantType, "unsupported_grant_type", 400),
            (InvalidScope, "invalid_scope", 400),
            (TemporarilyUnavailable, "temporarily_unavailable", 503),
            (UnsupportedTokenType, "unsupported_token_type", 400),
            (InvalidTarget, "invalid_target", 400),
            (InvalidDpopProof, "invalid_dpop_proof", 400),
            (UseDpopNonce, "use_dpop_nonce", 400),
            (
                InvalidAuthorizationDetails,
                "invalid_authorization_details",
                400,
            ),
        ];
        for (code, wire, status) in cases {
            assert_eq!((code.as_str(), code.status()), (wire, status));
        }
    }

    #[test]
    fn an_error_displays_its_code_and_description() {
        let token = OAuthError::new(TokenErrorCode::InvalidGrant, "expired");
        assert_eq!(token.to_string(), "invalid_grant: expired");
        let authorize = OAuthError::new(AuthorizeErrorCode::AccessDenied, "no");
        assert_eq!(authorize.to_string(), "access_denied: no");
        let bearer = OAuthError::new(BearerErrorCode::InsufficientScope, "needs openid");
        assert_eq!(bearer.to_string(), "insufficient_scope: needs openid");
    }

    #[test]
    fn bearer_errors_have_the_status_of_rfc_6750() {
        let cases = [
            (BearerErrorCode::InvalidRequest, "invalid_request", 400),
            (BearerErrorCode::InvalidToken, "invalid_token", 401),
            (
                BearerErrorCode::InsufficientScope,
                "insufficient_scope",
                403,
            ),
            (
                BearerErrorCode::TemporarilyUnavailable,
                "temporarily_unavailable",
                503,
            ),
            (BearerErrorCode::InvalidDpopProof, "invalid_dpop_proof", 401),
            (BearerErrorCode::UseDpopNonce, "use_dpop_nonce", 401),
        ];
        for (code, wire, status) in cases {
            assert_eq!((code.as_str(), code.status()), (wire, status));
        }
    }
}
