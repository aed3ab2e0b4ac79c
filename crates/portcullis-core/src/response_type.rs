//! What an authorization response carries and how it travels (RFC 6749 §3.1.1; OAuth 2.0
//! Multiple Response Type Encoding Practices §2.1, OAuth 2.0 Form Post Response Mode, JARM).

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::jose::Algorithm;

/// The `response_type` values this server supports: the authorization code flow only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseType {
    /// `code` (RFC 6749 §4.1.1).
    Code,
}

impl ResponseType {
    /// Every supported value.
    pub const ALL: [Self; 1] = [Self::Code];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
        }
    }

    /// Parses a `response_type`; `None` for one this server does not support.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == value)
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
        match self {
            Self::Query | Self::Jwt | Self::QueryJwt => ResponseTransport::Query,
            Self::Fragment | Self::FragmentJwt => ResponseTransport::Fragment,
            Self::FormPost | Self::FormPostJwt => ResponseTransport::FormPost,
        }
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
        let registered = client.oidc.authorization_signed_response_alg;
        // A profile's client (FAPI 2.0: PS256, ES256 or EdDSA) never gets RS256.
        let alg = client.profile.signing_alg(registered, DEFAULT_JARM_ALG);
        Self {
            transport: mode.transport(),
            jwt_alg: (mode.is_jwt() || registered.is_some()).then_some(alg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_code_and_its_modes() {
        assert_eq!(ResponseType::parse("code"), Some(ResponseType::Code));
        for other in ["token", "id_token", "code id_token", "Code", ""] {
            assert_eq!(ResponseType::parse(other), None, "{other}");
        }
        for mode in ResponseMode::ALL {
            assert_eq!(ResponseMode::parse(mode.as_str()), Some(mode));
        }
        for other in ["web_message", "Query", "query.JWT", "jwt.query", ""] {
            assert_eq!(ResponseMode::parse(other), None, "{other}");
        }
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
