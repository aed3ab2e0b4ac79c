//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6): what a consumed code
//! must match, and what its redemption issues.
//!
//! The engine consumes the code (`CodeStore::consume_code`, at most once), checks it with
//! [`check_code_binding`], records the use of its grant (`GrantStore::touch_grant`, which
//! says whether the grant stands), and lets [`decide_code_exchange`] decide.

use super::openid::{id_token_session, issues_refresh_token};
use super::request::AuthorizationCodeGrant;
use super::response::{Delegation, TokenSubject};
use super::{invalid_grant, invalid_target, TokenError};
use crate::client::Client;
use crate::issuer::Issuer;
use crate::oidc::OidcSession;
use crate::records::CodeRecord;
use crate::resources::{narrow_resources, scopes_for_audience, Resource};
use crate::scope::ScopeSet;
use crate::time::UnixTime;

/// Checks a consumed code against the token request at `now`: unexpired, and going back to
/// the client, redirect URI and PKCE verifier it was issued for (RFC 6749 §4.1.3, RFC 7636
/// §4.6). Without a challenge, a verifier is refused too, so PKCE cannot be downgraded
/// (RFC 9700 §2.1.1). Every refusal is `invalid_grant`.
pub fn check_code_binding(
    code: &CodeRecord,
    client: &Client,
    request: &AuthorizationCodeGrant,
    now: UnixTime,
) -> Result<(), TokenError> {
    // The store never consumes an expired code; were it to, the code is still refused.
    if now >= code.expires_at {
        return Err(invalid_grant(
            "the authorization code is invalid or expired",
        ));
    }
    if code.client_id != client.id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    let redirect_ok = match (&code.redirect_uri, &request.redirect_uri) {
        (Some(bound), Some(sent)) => bound == sent,
        (Some(_), None) => false,
        (None, Some(sent)) => client.find_redirect_uri(sent).is_some(),
        (None, None) => true,
    };
    if !redirect_ok {
        return Err(invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&code.code_challenge, &request.code_verifier) {
        (Some(challenge), Some(verifier)) if challenge.verify(verifier) => Ok(()),
        (Some(_), _) => Err(invalid_grant(
            "code_verifier does not match the code challenge",
        )),
        (None, Some(_)) => Err(invalid_grant(
            "code_verifier sent but no code challenge was",
        )),
        (None, None) => Ok(()),
    }
}

/// What the redemption of a bound code issues.
#[derive(Debug)]
pub struct CodeExchange<'a> {
    code: &'a CodeRecord,
    /// The access token's audience: the resources asked for, some of those granted, or all
    /// of them (RFC 8707 §2.2). The refresh token keeps them all.
    pub audience: Vec<String>,
    /// The access token's scopes: the granted ones its audience understands.
    pub access_scopes: ScopeSet,
    /// Whether a refresh token is issued (the client may refresh; in OpenID mode, with
    /// `offline_access`: OpenID Connect Core §11).
    pub refresh_token: bool,
    /// The session of the ID token to issue, in OpenID mode (OpenID Connect Core §3.1.3.3).
    pub id_token: Option<&'a OidcSession>,
}

impl<'a> CodeExchange<'a> {
    /// The user side of the tokens: the code's subject, grant and family.
    pub fn delegation(&self) -> Delegation<'a> {
        let code = self.code;
        Delegation {
            subject: &code.subject,
            auth_time: Some(code.auth_time),
            acr: code.acr.as_deref(),
            amr: code.amr.as_deref(),
            grant_id: &code.grant_id,
            family_id: &code.family_id,
        }
    }

    /// Who the refresh token is for: everything the code granted.
    pub fn refresh_subject<'s>(&'s self, issuer: &'s Issuer) -> TokenSubject<'s> {
        let code = self.code;
        TokenSubject {
            issuer,
            client_id: &code.client_id,
            delegation: Some(self.delegation()),
            scopes: &code.scopes,
            audience: &code.resources,
            oidc: code.oidc.as_ref(),
            confirmation: None,
            authorization_details: &code.authorization_details,
        }
    }

    /// Who the access token is for: [`CodeExchange::audience`] and
    /// [`CodeExchange::access_scopes`].
    pub fn access_subject<'s>(&'s self, issuer: &'s Issuer) -> TokenSubject<'s> {
        TokenSubject {
            scopes: &self.access_scopes,
            audience: &self.audience,
            ..self.refresh_subject(issuer)
        }
    }
}

/// Decides the redemption of `code`, bound by [`check_code_binding`], given the `resource`s
/// of the token request (checked against the `registry` for the client): `invalid_target` if
/// a resource was not granted (RFC 8707 §2.2). Whether the code's grant still stands is
/// found when its tokens are stored; a revoked or missing one is [`grant_revoked`], before
/// any error of this.
pub fn decide_code_exchange<'a>(
    code: &'a CodeRecord,
    client: &Client,
    requested_resources: Vec<String>,
    registry: &[Resource],
) -> Result<CodeExchange<'a>, TokenError> {
    let audience =
        narrow_resources(requested_resources, &code.resources).map_err(invalid_target)?;
    let access_scopes = scopes_for_audience(&code.scopes, &audience, registry);
    let id_token = id_token_session(code.oidc.as_ref(), &code.scopes);
    Ok(CodeExchange {
        code,
        audience,
        access_scopes,
        refresh_token: issues_refresh_token(client, id_token, &code.scopes),
        id_token,
    })
}

/// The answer to redeeming a code (or refreshing a token) whose grant was revoked or is gone.
pub fn grant_revoked() -> TokenError {
    invalid_grant("the grant was revoked")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::GrantType;
    use crate::error::TokenErrorCode;
    use crate::pkce::{CodeChallenge, CodeChallengeMethod};
    use crate::token::test_support::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn request(redirect_uri: Option<&str>, verifier: Option<&str>) -> AuthorizationCodeGrant {
        AuthorizationCodeGrant {
            code: "c".into(),
            redirect_uri: redirect_uri.map(str::to_owned),
            code_verifier: verifier.map(str::to_owned),
        }
    }

    fn bound_code() -> CodeRecord {
        let mut code = code_record();
        code.redirect_uri = Some(REDIRECT.into());
        code.code_challenge = CodeChallenge::new(CodeChallengeMethod::S256, CHALLENGE);
        code
    }

    fn refusal(r: Result<(), TokenError>) -> (TokenErrorCode, String) {
        let e = r.unwrap_err();
        (e.code, e.description.into_owned())
    }

    fn invalid_grant(description: &str) -> (TokenErrorCode, String) {
        (TokenErrorCode::InvalidGrant, description.to_owned())
    }

    #[test]
    fn a_matching_code_is_bound() {
        let client = confidential_client();
        let check = |code: &CodeRecord, r| check_code_binding(code, &client, &r, now());
        assert_eq!(
            check(&bound_code(), request(Some(REDIRECT), Some(VERIFIER))),
            Ok(())
        );
        // Nothing bound, nothing sent.
        assert_eq!(check(&code_record(), request(None, None)), Ok(()));
        // A registered redirect URI the authorization request did not send.
        assert_eq!(check(&code_record(), request(Some(REDIRECT), None)), Ok(()));
    }

    #[test]
    fn each_mismatch_is_invalid_grant() {
        let client = confidential_client();
        let check = |code: &CodeRecord, r, now| refusal(check_code_binding(code, &client, &r, now));
        let ok = request(Some(REDIRECT), Some(VERIFIER));
        let code = bound_code();
        assert_eq!(
            check(&code, ok.clone(), code.expires_at),
            invalid_grant("the authorization code is invalid or expired")
        );
        let mut other = bound_code();
        other.client_id = "other".into();
        assert_eq!(
            check(&other, ok.clone(), now()),
            invalid_grant("the code was issued to another client")
        );
        let wrong_redirect = "redirect_uri does not match the authorization request";
        for r in [
            request(Some("https://app.example/other"), Some(VERIFIER)),
            request(None, Some(VERIFIER)),
        ] {
            assert_eq!(check(&code, r, now()), invalid_grant(wrong_redirect));
        }
        assert_eq!(
            check(
                &code_record(),
                request(Some("https://evil.example/cb"), None),
                now()
            ),
            invalid_grant(wrong_redirect)
        );
        let wrong_verifier = "code_verifier does not match the code challenge";
        for r in [
            request(Some(REDIRECT), None),
            request(Some(REDIRECT), Some(&VERIFIER.replace('d', "e"))),
        ] {
            assert_eq!(check(&code, r, now()), invalid_grant(wrong_verifier));
        }
        assert_eq!(
            check(&code_record(), request(None, Some(VERIFIER)), now()),
            invalid_grant("code_verifier sent but no code challenge was")
        );
    }

    #[test]
    fn a_code_is_good_until_its_expiry() {
        let client = confidential_client();
        let code = code_record();
        let just_before = UnixTime::from_secs(code.expires_at.secs() - 1);
        assert_eq!(
            check_code_binding(&code, &client, &request(None, None), just_before),
            Ok(())
        );
    }

    #[test]
    fn the_access_token_narrows_to_requested_resources() {
        let client = confidential_client();
        let mut code = code_record();
        code.scopes = set("read write");
        code.resources = vec![API.into(), OTHER_API.into()];
        let registry = registry();
        let x = decide_code_exchange(&code, &client, vec![API.into()], &registry).unwrap();
        assert_eq!(x.audience, vec![API.to_owned()]);
        assert_eq!(x.access_scopes, set("read"));
        let issuer = issuer();
        let access = x.access_subject(&issuer);
        assert_eq!(
            (access.scopes, access.audience),
            (&set("read"), &[API.to_owned()][..])
        );
        let refresh = x.refresh_subject(&issuer);
        assert_eq!(refresh.scopes, &code.scopes);
        assert_eq!(refresh.audience, &code.resources[..]);
        assert_eq!(refresh.client_id, client.id);
        let d = refresh.delegation.unwrap();
        assert_eq!(
            (d.subject, d.grant_id, d.family_id),
            (code.subject.as_str(), &code.grant_id, &code.family_id)
        );
        assert_eq!(d.auth_time, Some(code.auth_time));
        // None asked: all granted.
        let all = decide_code_exchange(&code, &client, vec![], &registry).unwrap();
        assert_eq!(all.audience, code.resources);
        assert_eq!(all.access_scopes, code.scopes);
        let e = decide_code_exchange(&code, &client, vec!["https://x.example".into()], &registry)
            .unwrap_err();
        assert_eq!(e.code, TokenErrorCode::InvalidTarget);
        assert_eq!(e.description, "resource was not granted");
    }

    #[test]
    fn openid_mode_decides_the_id_token_and_the_refresh_token() {
        let client = confidential_client();
        let mut code = code_record();
        code.oidc = Some(session());
        let decide = |code: &CodeRecord| {
            let x = decide_code_exchange(code, &client, vec![], &[]).unwrap();
            (x.id_token.is_some(), x.refresh_token)
        };
        code.scopes = set("openid");
        assert_eq!(decide(&code), (true, false));
        code.scopes = set("openid offline_access");
        assert_eq!(decide(&code), (true, true));
        code.scopes = set("read");
        assert_eq!(decide(&code), (false, true));
        let no_refresh = client
            .clone()
            .with_grant_types([GrantType::AuthorizationCode]);
        let x = decide_code_exchange(&code, &no_refresh, vec![], &[]).unwrap();
        assert!(!x.refresh_token);
    }
}
