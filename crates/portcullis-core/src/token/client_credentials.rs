//! `grant_type=client_credentials` (RFC 6749 §4.4): confidential clients only, for their
//! own access, without a refresh token (§4.4.3).

use super::request::ClientCredentialsGrant;
use super::TokenError;
use crate::client::Client;
use crate::error::{OAuthError, TokenErrorCode};
use crate::resources::{scopes_for_audience, Resource};
use crate::scope::{negotiate_scopes, ScopeSet};

/// Whether `client` may use the grant at all: only a confidential client, which can
/// authenticate (RFC 6749 §4.4).
pub(super) fn client_may_use(client: &Client) -> bool {
    !client.is_public()
}

/// The scopes of the access token: those asked for (or the client's default), all allowed
/// for the client, else `invalid_scope` (RFC 6749 §3.3); then those the `audience` (checked
/// against the `registry`) understands.
pub fn decide_client_credentials(
    client: &Client,
    request: &ClientCredentialsGrant,
    audience: &[String],
    registry: &[Resource],
) -> Result<ScopeSet, TokenError> {
    let scopes = client_scopes(client, request.scope.as_ref())?;
    Ok(scopes_for_audience(&scopes, audience, registry))
}

/// The scopes `asked` (or the client's default), all allowed for the client, else
/// `invalid_scope` (RFC 6749 §3.3, §5.2).
pub(super) fn client_scopes(
    client: &Client,
    asked: Option<&ScopeSet>,
) -> Result<ScopeSet, TokenError> {
    negotiate_scopes(asked, &client.allowed_scopes, &client.default_scopes).map_err(|_| {
        OAuthError::new(
            TokenErrorCode::InvalidScope,
            "scope not allowed for this client",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientKind;
    use crate::token::test_support::*;

    fn request(scope: Option<&str>) -> ClientCredentialsGrant {
        ClientCredentialsGrant {
            scope: scope.map(set),
        }
    }

    #[test]
    fn only_confidential_clients_may_use_it() {
        assert!(client_may_use(&confidential_client()));
        assert!(!client_may_use(&Client::new("app", ClientKind::Public)));
    }

    #[test]
    fn scopes_are_asked_or_default_and_allowed() {
        let client = confidential_client()
            .with_allowed_scopes(set("read write"))
            .with_default_scopes(set("read"));
        let decide =
            |r, audience: &[String]| decide_client_credentials(&client, &r, audience, &registry());
        assert_eq!(decide(request(None), &[]), Ok(set("read")));
        assert_eq!(decide(request(Some("write")), &[]), Ok(set("write")));
        assert_eq!(
            decide(request(Some("read admin")), &[]),
            Err(OAuthError::new(
                TokenErrorCode::InvalidScope,
                "scope not allowed for this client"
            ))
        );
        // For an audience, only what it understands.
        assert_eq!(
            decide(request(Some("read write")), &[API.to_owned()]),
            Ok(set("read"))
        );
    }
}
