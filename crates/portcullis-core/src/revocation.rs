//! Revocation requests (RFC 7009 §2.1), and the `token` and `token_type_hint` parameters
//! they share with introspection requests (RFC 7662 §2.1).

use std::fmt;

use crate::error::{OAuthError, TokenErrorCode};
use crate::params::Params;

type TokenError = OAuthError<TokenErrorCode>;

/// The kinds of token a client may revoke or introspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `access_token`.
    Access,
    /// `refresh_token`.
    Refresh,
}

impl TokenKind {
    /// The order to look a token up in: the hinted kind first, then the other (the hint
    /// only speeds the search up, RFC 7009 §2.1, RFC 7662 §2.1); access tokens first
    /// without a hint.
    pub fn lookup_order(hint: Option<Self>) -> [Self; 2] {
        match hint {
            Some(Self::Refresh) => [Self::Refresh, Self::Access],
            Some(Self::Access) | None => [Self::Access, Self::Refresh],
        }
    }

    fn parse(hint: &str) -> Option<Self> {
        match hint {
            "access_token" => Some(Self::Access),
            "refresh_token" => Some(Self::Refresh),
            _ => None,
        }
    }
}

/// The `token` of a revocation or introspection request: each parameter once, and `token`
/// present, else `invalid_request`.
pub(crate) fn token_param(params: &Params) -> Result<&str, TokenError> {
    let invalid = |description| OAuthError::new(TokenErrorCode::InvalidRequest, description);
    if params.first_repeated().is_some() {
        return Err(invalid("a parameter was sent more than once"));
    }
    params
        .get("token")
        .ok_or_else(|| invalid("token is missing"))
}

/// `token_type_hint`, for the token kinds this server has; `None` when absent or unknown.
pub(crate) fn token_type_hint(params: &Params) -> Option<TokenKind> {
    params.get("token_type_hint").and_then(TokenKind::parse)
}

/// A revocation request (RFC 7009 §2.1), once the client authenticated.
#[derive(Clone, PartialEq, Eq)]
pub struct RevocationRequest {
    /// The token to revoke.
    pub token: String,
    /// `token_type_hint`.
    pub hint: Option<TokenKind>,
}

impl RevocationRequest {
    /// Reads `token` and `token_type_hint`: `invalid_request` for a repeated parameter or a
    /// missing token, `unsupported_token_type` for a hint other than `access_token` and
    /// `refresh_token` (RFC 7009 §2.2.1).
    pub fn parse(params: &Params) -> Result<Self, TokenError> {
        let token = token_param(params)?.to_owned();
        let hint = token_type_hint(params);
        if hint.is_none() && params.contains("token_type_hint") {
            return Err(OAuthError::new(
                TokenErrorCode::UnsupportedTokenType,
                "only access and refresh tokens can be revoked",
            ));
        }
        Ok(Self { token, hint })
    }

    /// The order to look the token up in ([`TokenKind::lookup_order`]).
    pub fn lookup_order(&self) -> [TokenKind; 2] {
        TokenKind::lookup_order(self.hint)
    }

    /// A client revokes only its own tokens (RFC 7009 §2.1): `unauthorized_client` for a
    /// token issued to another (`issued_to`).
    pub fn check_owner(&self, issued_to: &str, client_id: &str) -> Result<(), TokenError> {
        if issued_to == client_id {
            Ok(())
        } else {
            Err(OAuthError::new(
                TokenErrorCode::UnauthorizedClient,
                "the token was not issued to this client",
            ))
        }
    }
}

impl fmt::Debug for RevocationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevocationRequest")
            .field("token", &"<redacted>")
            .field("hint", &self.hint)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<RevocationRequest, TokenError> {
        RevocationRequest::parse(&Params::parse(body.as_bytes()).unwrap())
    }

    fn refusal(body: &str) -> (TokenErrorCode, String) {
        let e = parse(body).unwrap_err();
        (e.code, e.description.into_owned())
    }

    #[test]
    fn refusals() {
        let invalid = |d: &str| (TokenErrorCode::InvalidRequest, d.to_owned());
        assert_eq!(refusal(""), invalid("token is missing"));
        assert_eq!(
            refusal("token_type_hint=access_token"),
            invalid("token is missing")
        );
        assert_eq!(
            refusal("token=a&token=b"),
            invalid("a parameter was sent more than once")
        );
        assert_eq!(
            refusal("token=a&client_id=c&client_id=c"),
            invalid("a parameter was sent more than once")
        );
        for hint in ["id_token", "Refresh_token"] {
            assert_eq!(
                refusal(&format!("token=a&token_type_hint={hint}")),
                (
                    TokenErrorCode::UnsupportedTokenType,
                    "only access and refresh tokens can be revoked".to_owned()
                )
            );
        }
    }

    #[test]
    fn the_hint_orders_the_lookup() {
        use TokenKind::{Access, Refresh};
        let order = |body: &str| parse(body).unwrap().lookup_order();
        assert_eq!(order("token=a"), [Access, Refresh]);
        assert_eq!(
            order("token=a&token_type_hint=access_token"),
            [Access, Refresh]
        );
        assert_eq!(
            order("token=a&token_type_hint=refresh_token"),
            [Refresh, Access]
        );
        let r = parse("token=sekrit&token_type_hint=refresh_token").unwrap();
        assert_eq!(r.token, "sekrit");
        assert_eq!(r.hint, Some(Refresh));
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("sekrit"));
        assert!(
            dbg.contains("RevocationRequest") && dbg.contains("<redacted>"),
            "{dbg}"
        );
    }

    #[test]
    fn a_client_revokes_only_its_own_tokens() {
        let r = parse("token=a").unwrap();
        assert_eq!(r.check_owner("c", "c"), Ok(()));
        assert_eq!(
            r.check_owner("other", "c"),
            Err(OAuthError::new(
                TokenErrorCode::UnauthorizedClient,
                "the token was not issued to this client"
            ))
        );
    }
}
