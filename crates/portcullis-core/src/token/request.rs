//! Token request parsing (RFC 6749 §4.1.3, §4.4.2, §6).

use std::fmt;

use super::client_credentials;
use crate::client::{Client, GrantType};
use crate::error::{OAuthError, TokenErrorCode};
use crate::params::Params;
use crate::scope::ScopeSet;

type TokenError = OAuthError<TokenErrorCode>;

/// `grant_type=authorization_code` (RFC 6749 §4.1.3).
#[derive(Clone)]
pub struct AuthorizationCodeGrant {
    /// The code.
    pub code: String,
    /// Must equal the authorization request's `redirect_uri` if that was sent.
    pub redirect_uri: Option<String>,
    /// The PKCE verifier (RFC 7636 §4.5).
    pub code_verifier: Option<String>,
}

/// `grant_type=refresh_token` (RFC 6749 §6).
#[derive(Clone)]
pub struct RefreshTokenGrant {
    /// The refresh token.
    pub refresh_token: String,
    /// A narrower scope, if asked.
    pub scope: Option<ScopeSet>,
}

/// `grant_type=client_credentials` (RFC 6749 §4.4.2).
#[derive(Debug, Clone)]
pub struct ClientCredentialsGrant {
    /// The scope asked for.
    pub scope: Option<ScopeSet>,
}

/// `grant_type=urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4).
#[derive(Clone)]
pub struct DeviceCodeGrant {
    /// The device code.
    pub device_code: String,
}

/// A parsed token request.
#[derive(Debug, Clone)]
pub enum TokenRequest {
    /// Exchange an authorization code.
    AuthorizationCode(AuthorizationCodeGrant),
    /// Refresh.
    RefreshToken(RefreshTokenGrant),
    /// Client credentials.
    ClientCredentials(ClientCredentialsGrant),
    /// Poll for a device authorization (RFC 8628 §3.4).
    DeviceCode(DeviceCodeGrant),
}

impl TokenRequest {
    /// Parses the grant from the form parameters. Client authentication parameters are
    /// read separately ([`crate::ClientAuthentication::extract`]).
    pub fn parse(params: &Params) -> Result<Self, TokenError> {
        if let Some(name) = params.first_repeated() {
            return Err(OAuthError::new(
                TokenErrorCode::InvalidRequest,
                format!("{name} was sent more than once"),
            ));
        }
        let grant_type = params
            .get("grant_type")
            .ok_or_else(|| missing("grant_type"))?;
        let grant = GrantType::parse(grant_type).ok_or_else(|| {
            OAuthError::new(
                TokenErrorCode::UnsupportedGrantType,
                "grant_type is not supported",
            )
        })?;
        Ok(match grant {
            GrantType::AuthorizationCode => Self::AuthorizationCode(AuthorizationCodeGrant {
                code: params
                    .get("code")
                    .ok_or_else(|| missing("code"))?
                    .to_owned(),
                redirect_uri: params.get("redirect_uri").map(str::to_owned),
                code_verifier: params.get("code_verifier").map(str::to_owned),
            }),
            GrantType::RefreshToken => Self::RefreshToken(RefreshTokenGrant {
                refresh_token: params
                    .get("refresh_token")
                    .ok_or_else(|| missing("refresh_token"))?
                    .to_owned(),
                scope: scope(params)?,
            }),
            GrantType::ClientCredentials => Self::ClientCredentials(ClientCredentialsGrant {
                scope: scope(params)?,
            }),
            GrantType::DeviceCode => Self::DeviceCode(DeviceCodeGrant {
                device_code: params
                    .get("device_code")
                    .ok_or_else(|| missing("device_code"))?
                    .to_owned(),
            }),
        })
    }

    /// The grant type.
    pub fn grant_type(&self) -> GrantType {
        match self {
            Self::AuthorizationCode(_) => GrantType::AuthorizationCode,
            Self::RefreshToken(_) => GrantType::RefreshToken,
            Self::ClientCredentials(_) => GrantType::ClientCredentials,
            Self::DeviceCode(_) => GrantType::DeviceCode,
        }
    }

    /// Whether `client` may use this grant: registered for it, and confidential for client
    /// credentials (RFC 6749 §4.4); else `unauthorized_client` (§5.2).
    pub fn check_client(&self, client: &Client) -> Result<(), TokenError> {
        let allowed = client.allows_grant(self.grant_type())
            && match self {
                Self::ClientCredentials(_) => client_credentials::client_may_use(client),
                Self::AuthorizationCode(_) | Self::RefreshToken(_) | Self::DeviceCode(_) => true,
            };
        if allowed {
            Ok(())
        } else {
            Err(OAuthError::new(
                TokenErrorCode::UnauthorizedClient,
                "the client may not use this grant type",
            ))
        }
    }
}

fn missing(name: &str) -> TokenError {
    OAuthError::new(TokenErrorCode::InvalidRequest, format!("{name} is missing"))
}

fn scope(params: &Params) -> Result<Option<ScopeSet>, TokenError> {
    params
        .get("scope")
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|_| OAuthError::new(TokenErrorCode::InvalidScope, "scope is malformed"))
}

impl fmt::Debug for AuthorizationCodeGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCodeGrant")
            .field("code", &"<redacted>")
            .field("redirect_uri", &self.redirect_uri)
            .field(
                "code_verifier",
                &self.code_verifier.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl fmt::Debug for DeviceCodeGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodeGrant")
            .field("device_code", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for RefreshTokenGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokenGrant")
            .field("refresh_token", &"<redacted>")
            .field("scope", &self.scope)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<TokenRequest, TokenError> {
        TokenRequest::parse(&Params::parse(body.as_bytes()).unwrap())
    }

    #[test]
    fn error_codes() {
        let code = |b: &str| parse(b).unwrap_err().code;
        assert_eq!(code(""), TokenErrorCode::InvalidRequest);
        assert_eq!(
            code("grant_type=password"),
            TokenErrorCode::UnsupportedGrantType
        );
        assert_eq!(
            code("grant_type=authorization_code"),
            TokenErrorCode::InvalidRequest
        );
        assert_eq!(
            code("grant_type=refresh_token"),
            TokenErrorCode::InvalidRequest
        );
        assert_eq!(
            code("grant_type=client_credentials&scope=a&scope=b"),
            TokenErrorCode::InvalidRequest
        );
        assert_eq!(
            code("grant_type=client_credentials&scope=a%5Cb"),
            TokenErrorCode::InvalidScope
        );
    }

    #[test]
    fn parses_each_grant() {
        assert!(matches!(
            parse("grant_type=authorization_code&code=c&code_verifier=v").unwrap(),
            TokenRequest::AuthorizationCode(g) if g.code == "c" && g.code_verifier.as_deref() == Some("v")
        ));
        assert!(matches!(
            parse("grant_type=refresh_token&refresh_token=r&scope=a").unwrap(),
            TokenRequest::RefreshToken(g) if g.refresh_token == "r" && g.scope.is_some()
        ));
        assert_eq!(
            parse("grant_type=client_credentials").unwrap().grant_type(),
            GrantType::ClientCredentials
        );
        let device = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code";
        assert_eq!(
            parse(device).unwrap_err().description,
            "device_code is missing"
        );
        let dbg = format!(
            "{:?}",
            parse(&format!("{device}&device_code=sekrit")).unwrap()
        );
        assert!(
            dbg.contains("DeviceCodeGrant") && !dbg.contains("sekrit"),
            "{dbg}"
        );
        let dbg = format!(
            "{:?}",
            parse("grant_type=refresh_token&refresh_token=sekrit&scope=read").unwrap()
        );
        assert!(!dbg.contains("sekrit"));
        assert!(
            dbg.contains("RefreshTokenGrant") && dbg.contains("read"),
            "{dbg}"
        );
        let dbg = format!(
            "{:?}",
            parse("grant_type=authorization_code&code=sekrit&code_verifier=sekrit&redirect_uri=https%3A%2F%2Fapp.example%2Fcb").unwrap()
        );
        assert!(!dbg.contains("sekrit"));
        assert!(
            dbg.contains("https://app.example/cb") && dbg.contains("<redacted>"),
            "{dbg}"
        );
    }

    #[test]
    fn a_client_uses_its_registered_grants_and_client_credentials_if_confidential() {
        use crate::client::ClientKind;
        use crate::token::test_support::confidential_client;
        let refused = Err(OAuthError::new(
            TokenErrorCode::UnauthorizedClient,
            "the client may not use this grant type",
        ));
        let code = parse("grant_type=authorization_code&code=c").unwrap();
        let cc = parse("grant_type=client_credentials").unwrap();
        let client = confidential_client();
        assert_eq!(code.check_client(&client), Ok(()));
        assert_eq!(cc.check_client(&client), refused);
        let service = client.with_grant_types([GrantType::ClientCredentials]);
        assert_eq!(cc.check_client(&service), Ok(()));
        assert_eq!(code.check_client(&service), refused);
        let public =
            Client::new("app", ClientKind::Public).with_grant_types([GrantType::ClientCredentials]);
        assert_eq!(cc.check_client(&public), refused);
    }
}
