//! OpenID Connect at the token endpoint: when a redemption or a refresh issues an ID token
//! (OpenID Connect Core §3.1.3.3, §12.2) and when a code's redemption issues a refresh token
//! (§11).

use crate::client::{Client, GrantType};
use crate::oidc::OidcSession;
use crate::scope::ScopeSet;

/// The session an ID token is issued for: only in OpenID mode, a delegation with an OpenID
/// Connect session whose tokens carry `openid`.
pub(super) fn id_token_session<'a>(
    session: Option<&'a OidcSession>,
    scopes: &ScopeSet,
) -> Option<&'a OidcSession> {
    session.filter(|_| scopes.contains("openid"))
}

/// Whether a code's redemption issues a refresh token: the client may refresh, and in
/// OpenID mode (`openid`: the ID token's session) the user granted `offline_access` (§11).
pub(super) fn issues_refresh_token(
    client: &Client,
    openid: Option<&OidcSession>,
    scopes: &ScopeSet,
) -> bool {
    client.allows_grant(GrantType::RefreshToken)
        && (openid.is_none() || scopes.contains("offline_access"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::test_support::{confidential_client, session, set};

    #[test]
    fn an_id_token_needs_a_session_and_openid() {
        let s = session();
        assert_eq!(id_token_session(Some(&s), &set("openid a")), Some(&s));
        assert_eq!(id_token_session(Some(&s), &set("a")), None);
        assert_eq!(id_token_session(None, &set("openid")), None);
    }

    #[test]
    fn a_refresh_token_in_openid_mode_needs_offline_access() {
        let s = session();
        let client = confidential_client();
        assert!(issues_refresh_token(&client, None, &set("a")));
        assert!(!issues_refresh_token(&client, Some(&s), &set("openid")));
        assert!(issues_refresh_token(
            &client,
            Some(&s),
            &set("openid offline_access")
        ));
        let no_refresh = client.with_grant_types([GrantType::AuthorizationCode]);
        assert!(!issues_refresh_token(&no_refresh, None, &set("a")));
    }
}
