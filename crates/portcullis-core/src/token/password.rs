//! `grant_type=password` (RFC 6749 §4.3), only under
//! [`crate::Policy::dangerous_allow_password_grant`] (RFC 9700 §2.4): the scopes and the
//! refresh token of a resource owner the host's authenticator recognised. The engine
//! throttles and checks the credentials; this module decides what they get.

use super::client_credentials::client_scopes;
use super::openid::issues_refresh_token;
use super::request::PasswordGrant;
use super::TokenError;
use crate::client::Client;
use crate::resources::{scopes_for_audience, Resource};
use crate::scope::ScopeSet;

/// What a successful password grant issues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordDecision {
    /// The scopes granted: those asked for (or the client's default), all allowed for the
    /// client (RFC 6749 §4.3.2, §3.3); the grant and the refresh token keep them all.
    pub scopes: ScopeSet,
    /// The access token's scopes: those the `audience` understands.
    pub access_scopes: ScopeSet,
    /// Whether a refresh token comes too: when the client may refresh (RFC 6749 §4.3.3).
    /// No ID token comes with this grant (OpenID Connect defines none), so `openid` does
    /// not ask for `offline_access`.
    pub refresh_token: bool,
}

/// Decides the tokens of `request` by `client` for `audience` (checked against the
/// `registry`): `invalid_scope` for a scope the client may not have.
pub fn decide_password_grant(
    client: &Client,
    request: &PasswordGrant,
    audience: &[String],
    registry: &[Resource],
) -> Result<PasswordDecision, TokenError> {
    let scopes = client_scopes(client, request.scope.as_ref())?;
    Ok(PasswordDecision {
        access_scopes: scopes_for_audience(&scopes, audience, registry),
        refresh_token: issues_refresh_token(client, None, &scopes),
        scopes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::GrantType;
    use crate::error::{OAuthError, TokenErrorCode};
    use crate::token::test_support::*;

    fn request(scope: Option<&str>) -> PasswordGrant {
        PasswordGrant {
            username: "alice".into(),
            password: "pw".into(),
            scope: scope.map(set),
        }
    }

    #[test]
    fn scopes_are_asked_or_default_and_allowed() {
        let client = confidential_client()
            .with_allowed_scopes(set("read write"))
            .with_default_scopes(set("read"))
            .with_grant_types([GrantType::Password]);
        let decide =
            |r, audience: &[String]| decide_password_grant(&client, &r, audience, &registry());
        let d = decide(request(None), &[]).unwrap();
        assert_eq!((d.scopes, d.access_scopes), (set("read"), set("read")));
        assert!(!d.refresh_token);
        assert_eq!(
            decide(request(Some("read admin")), &[]),
            Err(OAuthError::new(
                TokenErrorCode::InvalidScope,
                "scope not allowed for this client"
            ))
        );
        let d = decide(request(Some("read write")), &[API.to_owned()]).unwrap();
        assert_eq!(
            (d.scopes, d.access_scopes),
            (set("read write"), set("read"))
        );
    }

    /// RFC 6749 §4.3.3: a refresh token when the client may refresh, `openid` or not.
    #[test]
    fn a_refresh_token_when_the_client_may_refresh() {
        let client = confidential_client()
            .with_allowed_scopes(set("openid read"))
            .with_grant_types([GrantType::Password, GrantType::RefreshToken]);
        let d = decide_password_grant(&client, &request(Some("openid read")), &[], &registry());
        assert!(d.unwrap().refresh_token);
    }
}
