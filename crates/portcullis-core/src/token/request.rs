//! Token request parsing (RFC 6749 §4.1.3, §4.4.2, §6; RFC 8693 §2.1; RFC 7523 §2.1).

use std::fmt;

use super::client_credentials;
use super::jwt_bearer::JwtBearerGrant;
use super::token_exchange::TokenExchangeGrant;
use crate::client::{Client, GrantType};
use crate::error::{OAuthError, TokenErrorCode};
use crate::params::Params;
use crate::policy::Policy;
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

/// `grant_type=password` (RFC 6749 §4.3.2). Its `Debug` never shows the password.
#[derive(Clone)]
pub struct PasswordGrant {
    /// The resource owner's username, as sent.
    pub username: String,
    /// The resource owner's password.
    pub password: String,
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
    /// Token exchange (RFC 8693).
    TokenExchange(TokenExchangeGrant),
    /// A JWT assertion as the grant (RFC 7523 §2.1).
    JwtBearer(JwtBearerGrant),
    /// Resource owner password credentials.
    Password(PasswordGrant),
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
        let grant = GrantType::parse(grant_type).ok_or_else(unsupported_grant_type)?;
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
            GrantType::TokenExchange => {
                Self::TokenExchange(TokenExchangeGrant::parse(params, scope(params)?)?)
            }
            GrantType::JwtBearer => Self::JwtBearer(JwtBearerGrant {
                assertion: params
                    .get("assertion")
                    .ok_or_else(|| missing("assertion"))?
                    .to_owned(),
                scope: scope(params)?,
            }),
            GrantType::Password => Self::Password(PasswordGrant {
                username: params
                    .get("username")
                    .ok_or_else(|| missing("username"))?
                    .to_owned(),
                password: params
                    .get("password")
                    .ok_or_else(|| missing("password"))?
                    .to_owned(),
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

    /// [`TokenRequest::parse`] under `policy`: a grant type the policy leaves off (the
    /// password grant without [`Policy::dangerous_allow_password_grant`]) is
    /// `unsupported_grant_type` (RFC 6749 §5.2), exactly as one this server does not know.
    pub fn parse_enabled(params: &Params, policy: &Policy) -> Result<Self, TokenError> {
        let disabled = params.get("grant_type").and_then(GrantType::parse)
            == Some(GrantType::Password)
            && !policy.allows_password_grant();
        if disabled && !params.is_repeated("grant_type") {
            return Err(unsupported_grant_type());
        }
        Self::parse(params)
    }

    /// The grant type.
    pub fn grant_type(&self) -> GrantType {
        match self {
            Self::AuthorizationCode(_) => GrantType::AuthorizationCode,
            Self::RefreshToken(_) => GrantType::RefreshToken,
            Self::ClientCredentials(_) => GrantType::ClientCredentials,
            Self::TokenExchange(_) => GrantType::TokenExchange,
            Self::JwtBearer(_) => GrantType::JwtBearer,
            Self::Password(_) => GrantType::Password,
            Self::DeviceCode(_) => GrantType::DeviceCode,
        }
    }

    /// Whether `client` may use this grant: registered for it, and confidential for client
    /// credentials (RFC 6749 §4.4); else `unauthorized_client` (§5.2).
    pub fn check_client(&self, client: &Client) -> Result<(), TokenError> {
        let allowed = client.allows_grant(self.grant_type())
            && match self {
                // RFC 8693 §2.1 leaves client authentication to the server: only a client
                // that authenticates may trade tokens, as for client credentials.
                Self::ClientCredentials(_) | Self::TokenExchange(_) => {
                    client_credentials::client_may_use(client)
                }
                Self::AuthorizationCode(_)
                | Self::RefreshToken(_)
                | Self::JwtBearer(_)
                | Self::Password(_)
                | Self::DeviceCode(_) => true,
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

fn unsupported_grant_type() -> TokenError {
    OAuthError::new(
        TokenErrorCode::UnsupportedGrantType,
        "grant_type is not supported",
    )
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

impl fmt::Debug for PasswordGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordGrant")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("scope", &self.scope)
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
        assert_eq!(code("grant_type=password"), TokenErrorCode::InvalidRequest);
        assert_eq!(
            code("grant_type=password&username=u"),
            TokenErrorCode::InvalidRequest
        );
        assert_eq!(
            code("grant_type=implicit"),
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
        // Token exchange too: only a client that authenticates trades tokens.
        let exchange = parse(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
             &subject_token=t&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt",
        )
        .unwrap();
        let trader = confidential_client().with_grant_types([GrantType::TokenExchange]);
        assert_eq!(exchange.check_client(&trader), Ok(()));
        let public = public.with_grant_types([GrantType::TokenExchange]);
        assert_eq!(exchange.check_client(&public), refused);
    }

    /// RFC 6749 §5.2: off by policy, the password grant is unknown (`unsupported_grant_type`),
    /// whatever else the request says; on, it needs `username` and `password`.
    #[test]
    fn the_password_grant_only_when_the_policy_allows() {
        let parse_under = |body: &str, on: bool| {
            let policy = Policy {
                dangerous_allow_password_grant: on,
                ..Policy::default()
            };
            TokenRequest::parse_enabled(&Params::parse(body.as_bytes()).unwrap(), &policy)
        };
        let body = "grant_type=password&username=alice&password=s3cret&scope=read";
        for off in [body, "grant_type=password"] {
            let e = parse_under(off, false).unwrap_err();
            assert_eq!(e.code, TokenErrorCode::UnsupportedGrantType, "{off}");
        }
        let fapi = Policy {
            dangerous_allow_password_grant: true,
            ..Policy::fapi2()
        };
        let e = TokenRequest::parse_enabled(&Params::parse(body.as_bytes()).unwrap(), &fapi);
        assert_eq!(e.unwrap_err().code, TokenErrorCode::UnsupportedGrantType);
        // A repeated grant_type is invalid_request either way.
        let twice = "grant_type=password&grant_type=password";
        assert_eq!(
            parse_under(twice, false).unwrap_err().code,
            TokenErrorCode::InvalidRequest
        );
        let g = match parse_under(body, true).unwrap() {
            TokenRequest::Password(g) => g,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            (g.username.as_str(), g.password.as_str()),
            ("alice", "s3cret")
        );
        assert_eq!(g.scope.as_ref().unwrap().to_string(), "read");
        assert_eq!(
            format!("{g:?}"),
            "PasswordGrant { username: \"alice\", password: \"<redacted>\", scope: Some(ScopeSet(\"read\")) }"
        );
        assert_eq!(
            parse_under("grant_type=password&password=p", true)
                .unwrap_err()
                .code,
            TokenErrorCode::InvalidRequest
        );
        assert_eq!(
            parse_under("grant_type=client_credentials", false)
                .unwrap()
                .grant_type(),
            GrantType::ClientCredentials
        );
    }
}
