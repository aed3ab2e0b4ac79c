//! Client authentication at the token endpoint (RFC 6749 §2.3).

use std::fmt;

use base64::{engine::general_purpose::STANDARD, Engine};

use crate::client::{Client, ClientKind};
use crate::client_secret::ClientSecretHash;
use crate::error::{OAuthError, TokenErrorCode};
use crate::params::Params;

type TokenError = OAuthError<TokenErrorCode>;

/// The credentials a request presented.
#[derive(Clone, PartialEq, Eq)]
pub enum PresentedCredentials {
    /// `client_secret_basic`: HTTP Basic (RFC 6749 §2.3.1).
    Basic {
        /// The secret.
        secret: String,
    },
    /// `client_secret_post`: `client_secret` in the body (RFC 6749 §2.3.1).
    Post {
        /// The secret.
        secret: String,
    },
    /// `none`: a public client names itself with `client_id` only.
    None,
}

/// The client authentication methods this server supports (RFC 6749 §2.3.1; names of
/// OAuth 2.0 Dynamic Client Registration §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuthMethod {
    /// `client_secret_basic`: HTTP Basic.
    ClientSecretBasic,
    /// `client_secret_post`: `client_secret` in the body.
    ClientSecretPost,
    /// `none`: a public client, which only names itself.
    None,
    /// `tls_client_auth`: a certificate of the host's client CA (RFC 8705 §2.1).
    TlsClientAuth,
    /// `self_signed_tls_client_auth`: a certificate with a registered key (RFC 8705 §2.2).
    SelfSignedTlsClientAuth,
}

impl ClientAuthMethod {
    /// Every method, in the order discovery lists them.
    pub const ALL: [Self; 5] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::None,
        Self::TlsClientAuth,
        Self::SelfSignedTlsClientAuth,
    ];

    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
            Self::TlsClientAuth => "tls_client_auth",
            Self::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }
}

impl PresentedCredentials {
    /// The method these credentials were presented with.
    pub fn method(&self) -> ClientAuthMethod {
        match self {
            Self::Basic { .. } => ClientAuthMethod::ClientSecretBasic,
            Self::Post { .. } => ClientAuthMethod::ClientSecretPost,
            Self::None => ClientAuthMethod::None,
        }
    }
}

/// Who the request says it comes from, and how it proves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAuthentication {
    /// The claimed `client_id`.
    pub client_id: String,
    /// The proof.
    pub credentials: PresentedCredentials,
}

fn invalid_client(description: &'static str) -> TokenError {
    OAuthError::new(TokenErrorCode::InvalidClient, description)
}

fn invalid_request(description: &'static str) -> TokenError {
    OAuthError::new(TokenErrorCode::InvalidRequest, description)
}

impl ClientAuthentication {
    /// Reads the client's credentials from the `Authorization` header (if any) and the form.
    /// More than one method is `invalid_request` (RFC 6749 §2.3); no identification at all,
    /// or an unreadable `Authorization` header, is `invalid_client`.
    pub fn extract(authorization: Option<&[u8]>, params: &Params) -> Result<Self, TokenError> {
        if params.is_repeated("client_id") || params.is_repeated("client_secret") {
            return Err(invalid_request(
                "client credentials were sent more than once",
            ));
        }
        let body_id = params.get("client_id");
        let body_secret = params.get("client_secret");
        if let Some(header) = authorization {
            let (id, secret) = parse_basic(header)?;
            if body_secret.is_some() {
                return Err(invalid_request(
                    "more than one client authentication method",
                ));
            }
            if body_id.is_some_and(|b| b != id) {
                return Err(invalid_request(
                    "client_id does not match the Authorization header",
                ));
            }
            return Ok(Self {
                client_id: id,
                credentials: PresentedCredentials::Basic { secret },
            });
        }
        match (body_id, body_secret) {
            (Some(id), Some(secret)) => Ok(Self {
                client_id: id.to_owned(),
                credentials: PresentedCredentials::Post {
                    secret: secret.to_owned(),
                },
            }),
            (Some(id), None) => Ok(Self {
                client_id: id.to_owned(),
                credentials: PresentedCredentials::None,
            }),
            (None, Some(_)) => Err(invalid_request("client_secret without client_id")),
            (None, None) => Err(invalid_client("client authentication is missing")),
        }
    }
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1,
/// RFC 7617 §2). The scheme name is case-insensitive.
fn parse_basic(header: &[u8]) -> Result<(String, String), TokenError> {
    let unreadable = || invalid_client("unreadable Basic credentials");
    let header = std::str::from_utf8(header).map_err(|_| unreadable())?;
    let (scheme, rest) = header.split_once(' ').ok_or_else(unreadable)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid_client("unsupported authentication scheme"));
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| unreadable())?;
    let decoded = String::from_utf8(decoded).map_err(|_| unreadable())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(unreadable)?;
    // RFC 6749 §2.3.1: both are form-encoded before they are joined.
    let id = crate::params::decode(id.as_bytes()).map_err(|_| unreadable())?;
    let secret = crate::params::decode(secret.as_bytes()).map_err(|_| unreadable())?;
    if id.is_empty() {
        return Err(unreadable());
    }
    Ok((id, secret))
}

impl ClientAuthentication {
    /// The stored hash and the presented secret that [`authenticate_client`] needs compared:
    /// `None` unless `client` is confidential and a secret was presented. The caller compares
    /// them ([`ClientSecretHash::verify`]), off its async workers when the hash
    /// [is stretched](ClientSecretHash::is_stretched).
    pub fn secret_to_check<'a>(
        &'a self,
        client: Option<&'a Client>,
    ) -> Option<(&'a ClientSecretHash, &'a str)> {
        match (&client?.kind, &self.credentials) {
            (
                ClientKind::Confidential { secret: stored },
                PresentedCredentials::Basic { secret } | PresentedCredentials::Post { secret },
            ) => Some((stored, secret)),
            _ => None,
        }
    }
}

/// Authenticates the client the store returned for `auth.client_id` (RFC 6749 §3.2.1):
/// confidential clients must prove their secret (`secret_matches`: the comparison of
/// [`ClientAuthentication::secret_to_check`], `false` when there was none), public clients
/// must not present one. Every failure is `invalid_client`, without saying which check failed.
pub fn authenticate_client(
    auth: &ClientAuthentication,
    client: Option<&Client>,
    secret_matches: bool,
) -> Result<(), TokenError> {
    let failed = || invalid_client("client authentication failed");
    let client = client
        .filter(|c| c.id == auth.client_id)
        .ok_or_else(failed)?;
    match (&client.kind, &auth.credentials) {
        (
            ClientKind::Confidential { .. },
            PresentedCredentials::Basic { .. } | PresentedCredentials::Post { .. },
        ) if secret_matches => Ok(()),
        (ClientKind::Public, PresentedCredentials::None) => Ok(()),
        _ => Err(failed()),
    }
}

impl fmt::Debug for PresentedCredentials {
    /// Names the method only: the secret never reaches a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.method() {
            ClientAuthMethod::None => f.write_str("none"),
            method => write!(f, "{}(<redacted>)", method.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientSecretHash, GrantType, PkcePolicy, ScopeSet};
    use std::collections::BTreeSet;

    fn extract(header: Option<&str>, body: &str) -> Result<ClientAuthentication, TokenError> {
        ClientAuthentication::extract(
            header.map(str::as_bytes),
            &Params::parse(body.as_bytes()).unwrap(),
        )
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn basic_is_form_decoded() {
        let a = extract(Some(&basic("my%20app", "p%3Ass+w")), "").unwrap();
        assert_eq!(a.client_id, "my app");
        assert_eq!(
            a.credentials,
            PresentedCredentials::Basic {
                secret: "p:ss w".into()
            }
        );
        assert!(extract(Some(&basic("a", "b").replace("Basic", "bAsIc")), "").is_ok());
        // Malformed percent-encoding is unreadable, not passed through.
        for (id, secret) in [("a%2", "b"), ("a", "b%zz"), ("a%ff", "b")] {
            let e = extract(Some(&basic(id, secret)), "").unwrap_err();
            assert_eq!(e.code, TokenErrorCode::InvalidClient, "{id}:{secret}");
        }
    }

    #[test]
    fn methods_and_their_errors() {
        let code = |h: Option<&str>, b: &str| extract(h, b).unwrap_err().code;
        assert_eq!(
            code(Some(&basic("a", "b")), "client_secret=x"),
            TokenErrorCode::InvalidRequest
        );
        assert_eq!(
            code(Some(&basic("a", "b")), "client_id=z"),
            TokenErrorCode::InvalidRequest
        );
        assert_eq!(
            code(None, "client_secret=x"),
            TokenErrorCode::InvalidRequest
        );
        assert_eq!(code(None, ""), TokenErrorCode::InvalidClient);
        assert_eq!(code(Some("Bearer abc"), ""), TokenErrorCode::InvalidClient);
        assert_eq!(code(Some("Basic !!!"), ""), TokenErrorCode::InvalidClient);
        assert_eq!(code(Some("Basic"), ""), TokenErrorCode::InvalidClient);
        assert_eq!(
            code(None, "client_id=a&client_id=a"),
            TokenErrorCode::InvalidRequest
        );
        assert!(extract(Some(&basic("a", "b")), "client_id=a").is_ok());
        assert_eq!(
            extract(None, "client_id=a&client_secret=s")
                .unwrap()
                .credentials,
            PresentedCredentials::Post { secret: "s".into() }
        );
        assert_eq!(
            extract(None, "client_id=a").unwrap().credentials,
            PresentedCredentials::None
        );
    }

    #[test]
    fn debug_names_the_method_but_never_shows_the_secret() {
        let secret = "hunter2-very-secret";
        for (header, body) in [
            (Some(basic("app", secret)), String::new()),
            (None, format!("client_id=app&client_secret={secret}")),
        ] {
            let auth = extract(header.as_deref(), &body).unwrap();
            for debug in [format!("{auth:?}"), format!("{:?}", auth.credentials)] {
                assert!(!debug.contains(secret), "{debug}");
                assert!(debug.contains("<redacted>"), "{debug}");
            }
            assert!(format!("{auth:?}").contains("app"));
        }
        assert_eq!(
            format!(
                "{:?}",
                PresentedCredentials::Basic {
                    secret: secret.into()
                }
            ),
            "client_secret_basic(<redacted>)"
        );
        assert_eq!(
            format!(
                "{:?}",
                PresentedCredentials::Post {
                    secret: secret.into()
                }
            ),
            "client_secret_post(<redacted>)"
        );
        assert_eq!(format!("{:?}", PresentedCredentials::None), "none");
    }

    #[test]
    fn authentication() {
        let secret = "s".repeat(43);
        let confidential = Client {
            id: "c".into(),
            kind: ClientKind::Confidential {
                secret: ClientSecretHash::sha256_of_generated(&secret).unwrap(),
            },
            redirect_uris: vec![],
            allowed_scopes: ScopeSet::new(),
            default_scopes: ScopeSet::new(),
            grant_types: BTreeSet::from([GrantType::ClientCredentials]),
            pkce: PkcePolicy::Required,
            expires_at: None,
            oidc: Default::default(),
            first_party: false,
            dangerous_skip_consent_for_unverifiable_redirects: false,
            tokens: Default::default(),
        };
        let public = Client {
            id: "p".into(),
            kind: ClientKind::Public,
            ..confidential.clone()
        };
        let auth = |id: &str, c: PresentedCredentials| ClientAuthentication {
            client_id: id.into(),
            credentials: c,
        };
        // The caller's comparison, done inline here.
        let check = |a: &ClientAuthentication, c: Option<&Client>| {
            let matches = a
                .secret_to_check(c)
                .is_some_and(|(stored, presented)| stored.verify(presented));
            authenticate_client(a, c, matches)
        };
        for presented in [
            PresentedCredentials::Post {
                secret: secret.clone(),
            },
            PresentedCredentials::Basic {
                secret: secret.clone(),
            },
        ] {
            assert!(check(&auth("c", presented), Some(&confidential)).is_ok());
        }
        assert!(check(&auth("p", PresentedCredentials::None), Some(&public)).is_ok());
        for (a, c) in [
            (
                auth(
                    "c",
                    PresentedCredentials::Post {
                        secret: "wrong".into(),
                    },
                ),
                Some(&confidential),
            ),
            (auth("c", PresentedCredentials::None), Some(&confidential)),
            (
                auth("p", PresentedCredentials::Post { secret: "x".into() }),
                Some(&public),
            ),
            (auth("x", PresentedCredentials::None), None),
            (auth("x", PresentedCredentials::None), Some(&public)),
        ] {
            assert_eq!(
                check(&a, c).unwrap_err().code,
                TokenErrorCode::InvalidClient
            );
            // A match claimed by the caller does not override the other rules.
            if a.secret_to_check(c).is_none() {
                assert_eq!(
                    authenticate_client(&a, c, true).unwrap_err().code,
                    TokenErrorCode::InvalidClient
                );
            }
        }
        // Only a confidential client's presented secret is compared.
        let none = auth("c", PresentedCredentials::None);
        assert!(none.secret_to_check(Some(&confidential)).is_none());
        let to_public = auth("p", PresentedCredentials::Post { secret: "x".into() });
        assert!(to_public.secret_to_check(Some(&public)).is_none());
    }
}
