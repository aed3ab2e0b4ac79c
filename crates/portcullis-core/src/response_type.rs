//! What an authorization response carries and how it travels (RFC 6749 §3.1.1; OAuth 2.0
//! Multiple Response Type Encoding Practices §2.1, OAuth 2.0 Form Post Response Mode, JARM).

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::jose::Algorithm;

/// The `response_type` values this server knows: `code` (RFC 6749 §4.1.1), and, only with
/// [`crate::Policy::dangerous_allow_implicit`] and for clients that registered them, the
/// implicit (`token`, RFC 6749 §4.2.1; `id_token`, `id_token token`, OpenID Connect Core
/// §3.2.2.1) and hybrid (`code id_token`, `code token`, `code id_token token`, §3.3.2.1)
/// ones, which return tokens from the authorization endpoint (RFC 9700 §2.1.2).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[non_exhaustive]
pub enum ResponseType {
    /// `code` (RFC 6749 §4.1.1).
    #[default]
    #[serde(rename = "code")]
    Code,
    /// `token`: an access token in the fragment (RFC 6749 §4.2.1).
    #[serde(rename = "token")]
    Token,
    /// `id_token`: an ID token only (OpenID Connect Core §3.2.2.1).
    #[serde(rename = "id_token")]
    IdToken,
    /// `id_token token` (OpenID Connect Core §3.2.2.1).
    #[serde(rename = "id_token token")]
    IdTokenToken,
    /// `code id_token` (OpenID Connect Core §3.3.2.1).
    #[serde(rename = "code id_token")]
    CodeIdToken,
    /// `code token` (OpenID Connect Core §3.3.2.1).
    #[serde(rename = "code token")]
    CodeToken,
    /// `code id_token token` (OpenID Connect Core §3.3.2.1).
    #[serde(rename = "code id_token token")]
    CodeIdTokenToken,
}

impl ResponseType {
    /// Every known value.
    pub const ALL: [Self; 7] = [
        Self::Code,
        Self::Token,
        Self::IdToken,
        Self::IdTokenToken,
        Self::CodeIdToken,
        Self::CodeToken,
        Self::CodeIdTokenToken,
    ];

    /// The wire value, its words in the order OpenID Connect Core §3 writes them.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::Token => "token",
            Self::IdToken => "id_token",
            Self::IdTokenToken => "id_token token",
            Self::CodeIdToken => "code id_token",
            Self::CodeToken => "code token",
            Self::CodeIdTokenToken => "code id_token token",
        }
    }

    /// Parses a `response_type`: words separated by single spaces, in any order (RFC 6749
    /// §3.1.1), each of `code`, `token`, `id_token` at most once; `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        let (mut code, mut token, mut id_token) = (false, false, false);
        for word in value.split(' ') {
            let seen = match word {
                "code" => &mut code,
                "token" => &mut token,
                "id_token" => &mut id_token,
                _ => return None,
            };
            if *seen {
                return None;
            }
            *seen = true;
        }
        Self::ALL.into_iter().find(|t| {
            (t.has_code(), t.has_access_token(), t.has_id_token()) == (code, token, id_token)
        })
    }

    /// Whether an authorization code comes back.
    pub fn has_code(self) -> bool {
        matches!(
            self,
            Self::Code | Self::CodeIdToken | Self::CodeToken | Self::CodeIdTokenToken
        )
    }

    /// Whether an access token comes back from the authorization endpoint.
    pub fn has_access_token(self) -> bool {
        matches!(
            self,
            Self::Token | Self::IdTokenToken | Self::CodeToken | Self::CodeIdTokenToken
        )
    }

    /// Whether an ID token comes back from the authorization endpoint.
    pub fn has_id_token(self) -> bool {
        matches!(
            self,
            Self::IdToken | Self::IdTokenToken | Self::CodeIdToken | Self::CodeIdTokenToken
        )
    }

    /// Whether the response carries a token, which must never travel in a query (OAuth 2.0
    /// Multiple Response Type Encoding Practices §2.1, OpenID Connect Core §3.2.2.5).
    pub fn carries_tokens(self) -> bool {
        self.has_access_token() || self.has_id_token()
    }

    /// The default response mode: `query` for `code`, `fragment` for every type carrying
    /// a token (Multiple Response Type Encoding Practices §5; OpenID Connect Core §3.2.2.5,
    /// §3.3.2.5).
    pub fn default_mode(self) -> ResponseMode {
        if self.carries_tokens() {
            ResponseMode::Fragment
        } else {
            ResponseMode::Query
        }
    }
}

/// The `response_mode` values this server supports for `response_type=code`: `query` (the
/// default), `fragment` (Multiple Response Type Encoding Practices §2.1, §5), `form_post`
/// (OAuth 2.0 Form Post Response Mode §2) and the JWT Secured Authorization Response Modes
/// (JARM §2.3): `jwt`, `query.jwt`, `fragment.jwt`, `form_post.jwt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseMode {
    /// `query`: the response parameters in the redirect URI's query.
    Query,
    /// `fragment`: the response parameters in the redirect URI's fragment.
    Fragment,
    /// `form_post`: the response parameters POSTed by an auto-submitting form.
    FormPost,
    /// `jwt`: a signed `response`, in the default transport of the response type (for
    /// `code`, the query: JARM §2.3.4).
    Jwt,
    /// `query.jwt`: a signed `response` in the query (JARM §2.3.1).
    QueryJwt,
    /// `fragment.jwt`: a signed `response` in the fragment (JARM §2.3.2).
    FragmentJwt,
    /// `form_post.jwt`: a signed `response` POSTed by an auto-submitting form (JARM §2.3.3).
    FormPostJwt,
}

impl ResponseMode {
    /// Every supported value.
    pub const ALL: [Self; 7] = [
        Self::Query,
        Self::Fragment,
        Self::FormPost,
        Self::Jwt,
        Self::QueryJwt,
        Self::FragmentJwt,
        Self::FormPostJwt,
    ];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Fragment => "fragment",
            Self::FormPost => "form_post",
            Self::Jwt => "jwt",
            Self::QueryJwt => "query.jwt",
            Self::FragmentJwt => "fragment.jwt",
            Self::FormPostJwt => "form_post.jwt",
        }
    }

    /// Parses a `response_mode`; `None` for one this server does not support.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == value)
    }

    /// How a response in this mode travels for `response_type=code`.
    pub fn transport(self) -> ResponseTransport {
        self.transport_for(ResponseType::Code)
    }

    /// How a response of `response_type` in this mode travels: `jwt` is `query.jwt` for
    /// `code` and `fragment.jwt` for the types carrying tokens (JARM §2.3.4).
    pub fn transport_for(self, response_type: ResponseType) -> ResponseTransport {
        match self {
            Self::Jwt if response_type.carries_tokens() => ResponseTransport::Fragment,
            Self::Query | Self::Jwt | Self::QueryJwt => ResponseTransport::Query,
            Self::Fragment | Self::FragmentJwt => ResponseTransport::Fragment,
            Self::FormPost | Self::FormPostJwt => ResponseTransport::FormPost,
        }
    }

    /// Whether a response of `response_type` may travel in this mode: never a token in a
    /// query (Multiple Response Type Encoding Practices §2.1, OpenID Connect Core §3.2.2.5),
    /// nor in an unencrypted `query.jwt` (JARM §2.3.1).
    pub fn allowed_for(self, response_type: ResponseType) -> bool {
        !(response_type.carries_tokens()
            && self.transport_for(response_type) == ResponseTransport::Query)
    }

    /// Whether the response is a signed JWT (JARM §2).
    pub fn is_jwt(self) -> bool {
        matches!(
            self,
            Self::Jwt | Self::QueryJwt | Self::FragmentJwt | Self::FormPostJwt
        )
    }
}

/// Where the user agent carries the response parameters to the redirect URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ResponseTransport {
    /// In the query of a `303` redirect (RFC 6749 §4.1.2).
    #[default]
    Query,
    /// In the fragment of a `303` redirect (Multiple Response Type Encoding Practices §2.1).
    Fragment,
    /// In the body of a POST that an auto-submitting HTML form sends (OAuth 2.0 Form Post
    /// Response Mode §2).
    FormPost,
}

/// How one authorization response is delivered: its transport, and the algorithm it is
/// signed with when it is a JWT (JARM §2). Decided from the request's `response_mode` and
/// the client ([`ResponseDelivery::for_request`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ResponseDelivery {
    /// The transport.
    pub transport: ResponseTransport,
    /// The signing algorithm of a JWT response; `None` for plain parameters.
    pub jwt_alg: Option<Algorithm>,
}

/// The algorithm of a client's JWT responses when it registered none (JARM §3: RS256, which
/// this provider can always sign with).
pub const DEFAULT_JARM_ALG: Algorithm = Algorithm::RS256;

impl ResponseDelivery {
    /// The client's default: a JWT in the query when it registered
    /// `authorization_signed_response_alg` (JARM §3), else plain query parameters
    /// (Multiple Response Type Encoding Practices §5, the default of `code`).
    pub fn default_for(client: &Client) -> Self {
        Self::for_request(ResponseMode::Query, client)
    }

    /// The delivery of a request that asked for `mode`; a JWT is signed with the client's
    /// `authorization_signed_response_alg`, or [`DEFAULT_JARM_ALG`]. A client that registered
    /// the algorithm gets every response signed, whatever mode it asks for (JARM §3: "the
    /// response will be signed"): a request cannot strip the signature.
    pub fn for_request(mode: ResponseMode, client: &Client) -> Self {
        Self::for_response(mode, ResponseType::Code, client)
    }

    /// The client's default for `response_type` ([`ResponseType::default_mode`]), signed as
    /// [`ResponseDelivery::for_request`] says.
    pub fn default_for_type(response_type: ResponseType, client: &Client) -> Self {
        Self::for_response(response_type.default_mode(), response_type, client)
    }

    /// [`ResponseDelivery::for_request`] for a response of `response_type`.
    pub fn for_response(mode: ResponseMode, response_type: ResponseType, client: &Client) -> Self {
        let registered = client.oidc.authorization_signed_response_alg;
        // A profile's client (FAPI 2.0: PS256, ES256 or EdDSA) never gets RS256.
        let alg = client.profile.signing_alg(registered, DEFAULT_JARM_ALG);
        Self {
            transport: mode.transport_for(response_type),
            jwt_alg: (mode.is_jwt() || registered.is_some()).then_some(alg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_types_in_any_order_and_the_modes() {
        for t in ResponseType::ALL {
            assert_eq!(ResponseType::parse(t.as_str()), Some(t));
        }
        assert_eq!(
            ResponseType::parse("token id_token code"),
            Some(ResponseType::CodeIdTokenToken)
        );
        assert_eq!(
            ResponseType::parse("id_token code"),
            Some(ResponseType::CodeIdToken)
        );
        assert_eq!(
            ResponseType::parse("token code"),
            Some(ResponseType::CodeToken)
        );
        assert_eq!(
            ResponseType::parse("token id_token"),
            Some(ResponseType::IdTokenToken)
        );
        for other in [
            "Code",
            "",
            " ",
            "code ",
            " code",
            "code  token",
            "code code",
            "token token",
            "none",
            "code none",
            "id_token id_token",
            "code\ttoken",
            "code+token",
        ] {
            assert_eq!(ResponseType::parse(other), None, "{other}");
        }
        for mode in ResponseMode::ALL {
            assert_eq!(ResponseMode::parse(mode.as_str()), Some(mode));
        }
        for other in ["web_message", "Query", "query.JWT", "jwt.query", ""] {
            assert_eq!(ResponseMode::parse(other), None, "{other}");
        }
    }

    /// What each type returns, and where by default.
    #[test]
    fn each_type_says_what_it_returns() {
        use ResponseType as R;
        let expected = [
            (R::Code, true, false, false),
            (R::Token, false, true, false),
            (R::IdToken, false, false, true),
            (R::IdTokenToken, false, true, true),
            (R::CodeIdToken, true, false, true),
            (R::CodeToken, true, true, false),
            (R::CodeIdTokenToken, true, true, true),
        ];
        for (t, code, token, id_token) in expected {
            assert_eq!(
                (t.has_code(), t.has_access_token(), t.has_id_token()),
                (code, token, id_token),
                "{t:?}"
            );
            assert_eq!(t.carries_tokens(), token || id_token, "{t:?}");
            let default = if t == R::Code {
                ResponseMode::Query
            } else {
                ResponseMode::Fragment
            };
            assert_eq!(t.default_mode(), default, "{t:?}");
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                serde_json::Value::String(t.as_str().into())
            );
        }
        assert_eq!(R::default(), R::Code);
    }

    /// JARM §2.3.4: `jwt` is `fragment.jwt` for types carrying tokens; a token never
    /// travels in a query, signed or not (Multiple Response Type Encoding Practices §2.1,
    /// JARM §2.3.1).
    #[test]
    fn tokens_never_travel_in_a_query() {
        use ResponseMode as M;
        use ResponseTransport as T;
        for t in ResponseType::ALL {
            for mode in M::ALL {
                let query = mode.transport_for(t) == T::Query;
                assert_eq!(
                    mode.allowed_for(t),
                    !(query && t.carries_tokens()),
                    "{t:?} {mode:?}"
                );
            }
            let jwt = if t == ResponseType::Code {
                T::Query
            } else {
                T::Fragment
            };
            assert_eq!(M::Jwt.transport_for(t), jwt, "{t:?}");
            assert_eq!(M::QueryJwt.transport_for(t), T::Query);
            assert_eq!(M::FormPostJwt.transport_for(t), T::FormPost);
        }
        assert!(M::Query.allowed_for(ResponseType::Code));
        assert!(!M::Query.allowed_for(ResponseType::IdToken));
        assert!(!M::QueryJwt.allowed_for(ResponseType::CodeToken));
        assert!(M::FormPost.allowed_for(ResponseType::Token));
        assert!(M::Jwt.allowed_for(ResponseType::Token));
        let client = Client::new("app", crate::client::ClientKind::Public);
        assert_eq!(
            ResponseDelivery::default_for_type(ResponseType::IdToken, &client),
            ResponseDelivery {
                transport: T::Fragment,
                jwt_alg: None
            }
        );
        assert_eq!(
            ResponseDelivery::for_response(M::Jwt, ResponseType::Token, &client),
            ResponseDelivery {
                transport: T::Fragment,
                jwt_alg: Some(Algorithm::RS256)
            }
        );
    }

    /// JARM §2.3: `jwt` is `query.jwt` for `code`; each `.jwt` mode travels like its plain
    /// one.
    #[test]
    fn each_mode_has_its_transport_and_signing() {
        use ResponseMode as M;
        use ResponseTransport as T;
        let expected = [
            (M::Query, T::Query, false),
            (M::Fragment, T::Fragment, false),
            (M::FormPost, T::FormPost, false),
            (M::Jwt, T::Query, true),
            (M::QueryJwt, T::Query, true),
            (M::FragmentJwt, T::Fragment, true),
            (M::FormPostJwt, T::FormPost, true),
        ];
        for (mode, transport, jwt) in expected {
            assert_eq!(mode.transport(), transport, "{mode:?}");
            assert_eq!(mode.is_jwt(), jwt, "{mode:?}");
        }
    }

    /// FAPI 2.0 §5.4.1: a FAPI client's JARM responses are never signed with the RS256
    /// default.
    #[test]
    fn a_fapi2_client_never_gets_rs256_responses() {
        let client = Client::new("app", crate::client::ClientKind::Public)
            .with_profile(crate::SecurityProfile::Fapi2);
        let alg = ResponseDelivery::for_request(ResponseMode::Jwt, &client).jwt_alg;
        assert_eq!(alg, Some(Algorithm::ES256));
    }

    /// JARM §3: a client that registered `authorization_signed_response_alg` gets JWTs by
    /// default, signed with it; a JWT mode asked for by another client is signed with RS256.
    #[test]
    fn the_client_decides_the_default_and_the_algorithm() {
        let mut client = Client::new("app", crate::client::ClientKind::Public);
        assert_eq!(
            ResponseDelivery::default_for(&client),
            ResponseDelivery::default()
        );
        assert_eq!(
            ResponseDelivery::for_request(ResponseMode::FormPostJwt, &client),
            ResponseDelivery {
                transport: ResponseTransport::FormPost,
                jwt_alg: Some(Algorithm::RS256)
            }
        );
        client.oidc.authorization_signed_response_alg = Some(Algorithm::ES256);
        assert_eq!(
            ResponseDelivery::default_for(&client),
            ResponseDelivery {
                transport: ResponseTransport::Query,
                jwt_alg: Some(Algorithm::ES256)
            }
        );
        assert_eq!(
            ResponseDelivery::for_request(ResponseMode::Jwt, &client).jwt_alg,
            Some(Algorithm::ES256)
        );
        // Asking for a plain mode does not strip the signature (JARM §3).
        assert_eq!(
            ResponseDelivery::for_request(ResponseMode::Fragment, &client),
            ResponseDelivery {
                transport: ResponseTransport::Fragment,
                jwt_alg: Some(Algorithm::ES256)
            }
        );
    }
}
