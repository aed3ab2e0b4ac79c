//! Client authentication at the token endpoint (RFC 6749 §2.3): the credentials a request
//! presents, and the decision, which holds every client to its own method.

use std::fmt;

use base64::{engine::general_purpose::STANDARD, Engine};

use crate::client::{Client, ClientKind};
use crate::client_assertion::ClientAssertion;
use crate::client_secret_rotation::SecretCheck;
use crate::error::{OAuthError, TokenErrorCode};
use crate::params::Params;
use crate::time::UnixTime;

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
    /// `tls_client_auth`: a certificate of the host's client CA (RFC 8705 §2.1).
    TlsClientAuth,
    /// `self_signed_tls_client_auth`: a certificate with a registered key (RFC 8705 §2.2).
    SelfSignedTlsClientAuth,
    /// `private_key_jwt`: a JWT signed with the client's private key (OpenID Connect Core §9).
    PrivateKeyJwt,
    /// `client_secret_jwt`: a JWT MACed with the client's secret (OpenID Connect Core §9).
    ClientSecretJwt,
}

impl ClientAuthMethod {
    /// Every method, in the order discovery lists them.
    pub const ALL: [Self; 7] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::ClientSecretJwt,
        Self::PrivateKeyJwt,
        Self::TlsClientAuth,
        Self::SelfSignedTlsClientAuth,
        Self::None,
    ];

    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
            Self::TlsClientAuth => "tls_client_auth",
            Self::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
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
    /// What [`authenticate_client`] needs compared at `now`: the presented secret against
    /// the client's secrets accepted then (the current one unless expired, the previous one
    /// within its rollover: [`ClientKind::secrets_accepted_at`]). `None` unless `client` is
    /// confidential, a secret was presented and one is accepted. The caller compares them
    /// ([`SecretCheck::verify`]), off its async workers when the check
    /// [is stretched](SecretCheck::is_stretched).
    pub fn secret_to_check<'a>(
        &'a self,
        client: Option<&'a Client>,
        now: UnixTime,
    ) -> Option<SecretCheck<'a>> {
        match (&client?.kind, &self.credentials) {
            (
                kind @ ClientKind::Confidential { .. },
                PresentedCredentials::Basic { secret } | PresentedCredentials::Post { secret },
            ) => SecretCheck::new(secret, kind, now),
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
/// `false` when there was none; a secret past `client_secret_expires_at` or its
/// rollover is refused at `now`, RFC 7591 §3.2.1); public clients present nothing. Every failure is
/// `invalid_client`, without saying which check failed.
pub fn authenticate_client(
    auth: &ClientAuthentication,
    client: Option<&Client>,
    proven: bool,
    now: UnixTime,
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
        PresentedCredentials::Basic { .. } | PresentedCredentials::Post { .. }
            if proven && client.kind.secrets_accepted_at(now) != (None, None) =>
        {
            Ok(())
        }
        PresentedCredentials::Assertion(_) if proven => Ok(()),
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
            kind: ClientKind::confidential(ClientSecretHash::sha256_of_generated(&secret).unwrap()),
            redirect_uris: vec![],
            allowed_scopes: ScopeSet::new(),
            default_scopes: ScopeSet::new(),
            grant_types: BTreeSet::from([GrantType::ClientCredentials]),
            pkce: PkcePolicy::Required,
            expires_at: None,
            oidc: Default::default(),
            first_party: false,
            dangerous_skip_consent_for_unverifiable_redirects: false,
            request_objects: Default::default(),
            registration: None,
            profile: Default::default(),
            tokens: Default::default(),
            requests: Default::default(),
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
            let matches = a.secret_to_check(c, NOW).is_some_and(|c| c.verify());
            authenticate_client(a, c, matches, NOW)
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
            if a.secret_to_check(c, NOW).is_none() {
                assert_eq!(
                    authenticate_client(&a, c, true, NOW).unwrap_err().code,
                    TokenErrorCode::InvalidClient
                );
            }
        }
        // Only a confidential client's presented secret is compared.
        let none = auth("c", PresentedCredentials::None);
        assert!(none.secret_to_check(Some(&confidential), NOW).is_none());
        let to_public = auth("p", PresentedCredentials::Post { secret: "x".into() });
        assert!(to_public.secret_to_check(Some(&public), NOW).is_none());
    }

    const NOW: UnixTime = UnixTime::from_secs(1_000);

    /// RFC 7591 §3.2.1 and a rotation's rollover: the current secret until it expires, the
    /// previous one until its deadline, each presented by Basic or by the form; afterwards
    /// `invalid_client`, even when the caller claims a match.
    #[test]
    fn rotated_and_expiring_secrets() {
        let (old, new) = ("o".repeat(43), "n".repeat(43));
        let hash = |s: &str| ClientSecretHash::sha256_of_generated(s).unwrap();
        let mut client = Client::new("c", ClientKind::confidential(hash(&old)));
        let rollover = std::time::Duration::from_secs(50);
        let expiry = Some(NOW.plus(rollover * 4));
        client
            .kind
            .rotate_secret(hash(&new), rollover, expiry, NOW)
            .unwrap();
        let outcome = |secret: &str, at: u64| {
            let at = NOW.plus(std::time::Duration::from_secs(at));
            let mut codes = vec![];
            for credentials in [
                PresentedCredentials::Basic {
                    secret: secret.into(),
                },
                PresentedCredentials::Post {
                    secret: secret.into(),
                },
            ] {
                let a = ClientAuthentication {
                    client_id: "c".into(),
                    credentials,
                };
                let check = a.secret_to_check(Some(&client), at);
                let matches = check.as_ref().is_some_and(SecretCheck::verify);
                let result = authenticate_client(&a, Some(&client), matches, at);
                codes.push(result.map_err(|e| e.code));
                // Once nothing is accepted, nothing is compared and no claim passes.
                if check.is_none() {
                    let claimed = authenticate_client(&a, Some(&client), true, at);
                    assert_eq!(claimed.unwrap_err().code, TokenErrorCode::InvalidClient);
                }
            }
            assert_eq!(codes[0], codes[1], "{secret} at +{at:?}");
            codes[0]
        };
        let refused = Err(TokenErrorCode::InvalidClient);
        for at in [0, 49] {
            assert_eq!(outcome(&old, at), Ok(()), "old at +{at}s");
            assert_eq!(outcome(&new, at), Ok(()), "new at +{at}s");
        }
        assert_eq!(outcome(&old, 50), refused, "old after the rollover");
        assert_eq!(outcome(&new, 50), Ok(()));
        assert_eq!(outcome(&new, 199), Ok(()));
        assert_eq!(outcome(&new, 200), refused, "new at its expiry");
        assert_eq!(outcome("wrong", 0), refused);
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
                    previous_secret: None,
                    secret_expires_at: None,
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
                    previous_secret: None,
                    secret_expires_at: None,
                },
                &[ClientAuthMethod::ClientSecretBasic],
            ),
            (
                ClientKind::Confidential {
                    secret,
                    method: Some(SecretMethod::Post),
                    previous_secret: None,
                    secret_expires_at: None,
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
                    let result = authenticate_client(&auth, Some(&client), proven, NOW);
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
                "tls_client_auth",
                "self_signed_tls_client_auth",
                "none"
            ]
        );
    }
}
