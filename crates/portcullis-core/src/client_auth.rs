//! Client authentication at the token endpoint (RFC 6749 §2.3): the credentials a request
//! presents, and the decision, which holds every client to its own method.

use std::fmt;

use base64::{engine::general_purpose::STANDARD, Engine};

use crate::client::{Client, ClientKind};
use crate::client_assertion::ClientAssertion;
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
    /// `private_key_jwt` or `client_secret_jwt`: a JWT assertion (RFC 7523 §2.2).
    Assertion(ClientAssertion),
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
    /// `private_key_jwt`: a JWT signed with the client's private key (OpenID Connect Core §9).
    PrivateKeyJwt,
    /// `client_secret_jwt`: a JWT MACed with the client's secret (OpenID Connect Core §9).
    ClientSecretJwt,
}

impl ClientAuthMethod {
    /// Every method, in the order discovery lists them.
    pub const ALL: [Self; 5] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::ClientSecretJwt,
        Self::PrivateKeyJwt,
        Self::None,
    ];

    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::ClientSecretJwt => "client_secret_jwt",
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
            Self::Assertion(a) => a.method(),
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
    /// or an unreadable `Authorization` header, is `invalid_client`. A client assertion
    /// (RFC 7523 §2.2) names its client in `sub`: a `client_id` beside it must be the same.
    pub fn extract(authorization: Option<&[u8]>, params: &Params) -> Result<Self, TokenError> {
        if params.is_repeated("client_id") || params.is_repeated("client_secret") {
            return Err(invalid_request(
                "client credentials were sent more than once",
            ));
        }
        let body_id = params.get("client_id");
        let body_secret = params.get("client_secret");
        if ClientAssertion::is_present(params) {
            if authorization.is_some() || body_secret.is_some() {
                return Err(invalid_request(
                    "more than one client authentication method",
                ));
            }
            let assertion = ClientAssertion::extract(params)?;
            if body_id.is_some_and(|b| b != assertion.client_id()) {
                return Err(invalid_request(
                    "client_id does not match the client assertion",
                ));
            }
            return Ok(Self {
                client_id: assertion.client_id().to_owned(),
                credentials: PresentedCredentials::Assertion(assertion),
            });
        }
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
                ClientKind::Confidential { secret: stored, .. },
                PresentedCredentials::Basic { secret } | PresentedCredentials::Post { secret },
            ) => Some((stored, secret)),
            _ => None,
        }
    }
}

impl ClientAuthentication {
    /// The assertion [`authenticate_client`] needs verified: `None` unless one was presented
    /// with the method `client` is registered for. The caller verifies its signature
    /// ([`ClientAssertion::verify_signature`] or [`ClientAssertion::verify_mac`]), applies
    /// the claim rules and spends its `jti`.
    pub fn assertion_to_check<'a>(
        &'a self,
        client: Option<&Client>,
    ) -> Option<&'a ClientAssertion> {
        match &self.credentials {
            PresentedCredentials::Assertion(a) if client?.kind.allows_method(a.method()) => Some(a),
            _ => None,
        }
    }
}

/// Authenticates the client the store returned for `auth.client_id` (RFC 6749 §3.2.1): each
/// client only with its own method ([`ClientKind::allows_method`]: a `private_key_jwt`
/// client never with a secret, a secret client never with an assertion); a secret or an
/// assertion must have been proven (`proven`: the caller's check of
/// [`ClientAuthentication::secret_to_check`] or [`ClientAuthentication::assertion_to_check`],
/// `false` when there was none); public clients present nothing. Every failure is
/// `invalid_client`, without saying which check failed.
pub fn authenticate_client(
    auth: &ClientAuthentication,
    client: Option<&Client>,
    proven: bool,
) -> Result<(), TokenError> {
    let failed = || invalid_client("client authentication failed");
    let client = client
        .filter(|c| c.id == auth.client_id)
        .ok_or_else(failed)?;
    if !client.kind.allows_method(auth.credentials.method()) {
        return Err(failed());
    }
    match auth.credentials {
        PresentedCredentials::None => Ok(()),
        _ if proven => Ok(()),
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
                method: None,
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

    fn kinds() -> Vec<(ClientKind, &'static [ClientAuthMethod])> {
        use crate::{ClientKeys, JwkSet, SecretMethod};
        let secret = ClientSecretHash::Sha256([1; 32]);
        let sealed: crate::SealedClientSecret = serde_json::from_str("\"UENTMQ==\"").unwrap();
        vec![
            (
                ClientKind::Confidential {
                    secret: secret.clone(),
                    method: None,
                },
                &[
                    ClientAuthMethod::ClientSecretBasic,
                    ClientAuthMethod::ClientSecretPost,
                ],
            ),
            (
                ClientKind::Confidential {
                    secret: secret.clone(),
                    method: Some(SecretMethod::Basic),
                },
                &[ClientAuthMethod::ClientSecretBasic],
            ),
            (
                ClientKind::Confidential {
                    secret,
                    method: Some(SecretMethod::Post),
                },
                &[ClientAuthMethod::ClientSecretPost],
            ),
            (ClientKind::Public, &[ClientAuthMethod::None]),
            (
                ClientKind::SecretJwt { secret: sealed },
                &[ClientAuthMethod::ClientSecretJwt],
            ),
            (
                ClientKind::PrivateKeyJwt {
                    keys: ClientKeys::Jwks(JwkSet::default()),
                },
                &[ClientAuthMethod::PrivateKeyJwt],
            ),
        ]
    }

    fn assertion(alg: &str) -> PresentedCredentials {
        let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let token = format!(
            "{}.{}.c2ln",
            b64(&format!(r#"{{"alg":"{alg}"}}"#)),
            b64(r#"{"iss":"c","sub":"c"}"#)
        );
        let body = format!(
            "client_assertion_type={}&client_assertion={token}",
            crate::JWT_BEARER_ASSERTION_TYPE.replace(':', "%3A")
        );
        extract(None, &body).unwrap().credentials
    }

    /// Point 4 of issue 15: a client authenticates with its own method only, whatever else
    /// it presents, even when the caller claims the proof held.
    #[test]
    fn each_client_kind_allows_only_its_own_method() {
        let presented = [
            PresentedCredentials::Basic { secret: "s".into() },
            PresentedCredentials::Post { secret: "s".into() },
            PresentedCredentials::None,
            assertion("ES256"),
            assertion("HS256"),
        ];
        for (kind, allowed) in kinds() {
            for method in ClientAuthMethod::ALL {
                assert_eq!(
                    kind.allows_method(method),
                    allowed.contains(&method),
                    "{kind:?} {method:?}"
                );
            }
            let client = Client::new("c", kind.clone());
            for credentials in presented.clone() {
                let method = credentials.method();
                let auth = ClientAuthentication {
                    client_id: "c".into(),
                    credentials,
                };
                let ok = allowed.contains(&method);
                for proven in [true, false] {
                    let result = authenticate_client(&auth, Some(&client), proven);
                    let expect_ok = ok && (proven || method == ClientAuthMethod::None);
                    match result {
                        Ok(()) => assert!(expect_ok, "{kind:?} {method:?} {proven}"),
                        Err(e) => {
                            assert!(!expect_ok, "{kind:?} {method:?} {proven}");
                            assert_eq!(e.code, TokenErrorCode::InvalidClient);
                            assert_eq!(e.code.status(), 401);
                        }
                    }
                }
                assert_eq!(
                    auth.assertion_to_check(Some(&client)).is_some(),
                    ok && matches!(auth.credentials, PresentedCredentials::Assertion(_)),
                    "{kind:?} {method:?}"
                );
                assert!(auth.assertion_to_check(None).is_none());
            }
        }
    }

    #[test]
    fn an_assertion_is_one_method_among_others() {
        let ty = crate::JWT_BEARER_ASSERTION_TYPE.replace(':', "%3A");
        let PresentedCredentials::Assertion(a) = assertion("ES256") else {
            panic!("an assertion")
        };
        let body = format!(
            "client_assertion_type={ty}&client_assertion={}",
            a_token(&a)
        );
        let code = |h: Option<&str>, b: &str| extract(h, b).unwrap_err();
        let e = code(Some(&basic("c", "s")), &body);
        assert_eq!(
            format!("{:?}: {}", e.code, e.description),
            "InvalidRequest: more than one client authentication method"
        );
        let e = code(None, &format!("{body}&client_secret=s"));
        assert_eq!(e.code, TokenErrorCode::InvalidRequest);
        let e = code(None, &format!("{body}&client_id=other"));
        assert_eq!(
            format!("{:?}: {}", e.code, e.description),
            "InvalidRequest: client_id does not match the client assertion"
        );
        let same = extract(None, &format!("{body}&client_id=c")).unwrap();
        assert_eq!(same.client_id, "c");
        assert_eq!(same.credentials.method(), ClientAuthMethod::PrivateKeyJwt);
        assert_eq!(
            format!("{:?}", same.credentials),
            "private_key_jwt(<redacted>)"
        );
        // A bare type without an assertion is not silently ignored.
        let e = code(None, &format!("client_id=c&client_assertion_type={ty}"));
        assert_eq!(e.code, TokenErrorCode::InvalidRequest);
    }

    fn a_token(a: &ClientAssertion) -> String {
        let debug = format!("{a:?}");
        assert!(!debug.contains('.'), "{debug}");
        let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"ES256"}"#),
            b64(r#"{"iss":"c","sub":"c"}"#)
        )
    }

    #[test]
    fn method_names() {
        let names: Vec<_> = ClientAuthMethod::ALL.iter().map(|m| m.as_str()).collect();
        assert_eq!(
            names,
            [
                "client_secret_basic",
                "client_secret_post",
                "client_secret_jwt",
                "private_key_jwt",
                "none"
            ]
        );
    }
}
