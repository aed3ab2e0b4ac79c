//! Token introspection responses (RFC 7662 §2.2) and their JWT form (RFC 9701).

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::authorization_details::AuthorizationDetail;
use crate::error::{OAuthError, TokenErrorCode};
use crate::params::Params;
use crate::revocation::{token_param, token_type_hint, TokenKind};
use crate::time::UnixTime;
use crate::token_binding::Confirmation;

/// An introspection request (RFC 7662 §2.1), once the caller is authorized.
#[derive(Clone, PartialEq, Eq)]
pub struct IntrospectionRequest {
    /// The token to describe.
    pub token: String,
    /// `token_type_hint`; an unknown hint is ignored (RFC 7662 §2.1: the server may extend
    /// its search to other types).
    pub hint: Option<TokenKind>,
}

impl IntrospectionRequest {
    /// Reads `token` and `token_type_hint`: `invalid_request` for a repeated parameter or a
    /// missing token.
    pub fn parse(params: &Params) -> Result<Self, OAuthError<TokenErrorCode>> {
        Ok(Self {
            token: token_param(params)?.to_owned(),
            hint: token_type_hint(params),
        })
    }

    /// The order to look the token up in ([`TokenKind::lookup_order`]).
    pub fn lookup_order(&self) -> [TokenKind; 2] {
        TokenKind::lookup_order(self.hint)
    }
}

impl fmt::Debug for IntrospectionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionRequest")
            .field("token", &"<redacted>")
            .field("hint", &self.hint)
            .finish()
    }
}

/// What an introspection response says about an active token (RFC 7662 §2.2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveToken {
    /// Space-separated scopes.
    pub scope: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// The resource owner, as that client knows them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// `DPoP` for DPoP-bound access tokens (RFC 9449 §6.2), `Bearer` for other access
    /// tokens; absent for refresh tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// What the token is bound to (RFC 9449 §6.2, RFC 8705 §3.2); absent for a bearer token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// Expiry.
    pub exp: UnixTime,
    /// Issue time.
    pub iat: UnixTime,
    /// Not before (the issue time).
    pub nbf: UnixTime,
    /// Audience: the resources the token is for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aud: Vec<String>,
    /// Issuer.
    pub iss: String,
    /// Token identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// When the user authenticated for the token (RFC 9470 §6.2); absent for a client's own
    /// token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<UnixTime>,
    /// The authentication context class that authentication satisfied (RFC 9470 §6.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Its authentication methods (RFC 8176): an extension member (RFC 7662 §2.2), as a JWT
    /// access token carries them (RFC 9068 §2.2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The token's authorization details (RFC 9396 §9.2); absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<AuthorizationDetail>,
    /// Host claims; never protocol claims.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An introspection response. An inactive token is only `{"active": false}`: whether it
/// was unknown, expired, revoked or malformed is never said (RFC 7662 §2.2, §4).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Introspection {
    /// Whether the token is active.
    pub active: bool,
    /// The details of an active token.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub token: Option<ActiveToken>,
}

impl Introspection {
    /// `{"active": false}`.
    pub fn inactive() -> Self {
        Self {
            active: false,
            token: None,
        }
    }

    /// An active token.
    pub fn active(token: ActiveToken) -> Self {
        Self {
            active: true,
            token: Some(token),
        }
    }
}

/// Who asks an introspection endpoint (RFC 7662 §2.1: the caller must be authorized).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Introspector<'a> {
    /// A confidential client that authenticated (a resource server, or the token's client).
    /// Public clients cannot authenticate and are refused before this point.
    Client(&'a str),
    /// The holder of an access token with the policy's introspection scope (a gateway the
    /// deployment trusts to introspect every token), issued to this client.
    Designated(&'a str),
}

impl Introspector<'_> {
    /// The caller's client id.
    pub fn client_id(&self) -> &str {
        match self {
            Self::Client(id) | Self::Designated(id) => id,
        }
    }
}

/// Whether `caller` may learn about an access token issued to `token_client` for
/// `audience` (RFC 7662 §4: a token's details are for its client and its resources only).
/// A token without an audience is shown only to its own client and to a designated
/// introspector, never to another client.
pub fn may_introspect_access_token(
    caller: Introspector<'_>,
    token_client: &str,
    audience: &[String],
) -> bool {
    let id = caller.client_id();
    id == token_client
        || audience.iter().any(|a| a == id)
        || (audience.is_empty() && matches!(caller, Introspector::Designated(_)))
}

/// Whether `caller` may learn about a refresh token issued to `token_client`: only that
/// client, designated introspector or not (RFC 7662 §4: a refresh token is its client's own
/// business).
pub fn may_introspect_refresh_token(caller: Introspector<'_>, token_client: &str) -> bool {
    caller.client_id() == token_client
}

/// The claims of a JWT introspection response (RFC 9701 §5).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntrospectionJwtClaims<'a> {
    /// The provider.
    pub iss: &'a str,
    /// The caller that asked.
    pub aud: &'a str,
    /// When the response was made.
    pub iat: UnixTime,
    /// The introspection response itself.
    pub token_introspection: &'a Introspection,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_its_client_may_introspect_a_refresh_token() {
        assert!(may_introspect_refresh_token(Introspector::Client("c"), "c"));
        assert!(may_introspect_refresh_token(
            Introspector::Designated("c"),
            "c"
        ));
        assert!(!may_introspect_refresh_token(
            Introspector::Client("rs"),
            "c"
        ));
        assert!(!may_introspect_refresh_token(
            Introspector::Designated("gw"),
            "c"
        ));
    }

    #[test]
    fn an_introspection_request_needs_one_token_and_ignores_unknown_hints() {
        let parse =
            |body: &str| IntrospectionRequest::parse(&Params::parse(body.as_bytes()).unwrap());
        let refusal = |body: &str| {
            let e = parse(body).unwrap_err();
            (e.code, e.description.into_owned())
        };
        let invalid = |d: &str| (TokenErrorCode::InvalidRequest, d.to_owned());
        assert_eq!(refusal(""), invalid("token is missing"));
        assert_eq!(
            refusal("token=a&token_type_hint=x&token_type_hint=y"),
            invalid("a parameter was sent more than once")
        );
        let order = |body: &str| parse(body).unwrap().lookup_order();
        use TokenKind::{Access, Refresh};
        assert_eq!(order("token=a"), [Access, Refresh]);
        assert_eq!(order("token=a&token_type_hint=id_token"), [Access, Refresh]);
        assert_eq!(
            order("token=a&token_type_hint=access_token"),
            [Access, Refresh]
        );
        assert_eq!(
            order("token=a&token_type_hint=refresh_token"),
            [Refresh, Access]
        );
        let r = parse("token=sekrit").unwrap();
        assert_eq!((r.token.as_str(), r.hint), ("sekrit", None));
        let dbg = format!("{r:?}");
        assert!(!dbg.contains("sekrit"));
        assert!(
            dbg.contains("IntrospectionRequest") && dbg.contains("<redacted>"),
            "{dbg}"
        );
    }

    #[test]
    fn only_the_tokens_client_its_audience_or_a_designated_caller_may_see_it() {
        let aud = vec!["https://api.example".to_owned()];
        let none: Vec<String> = vec![];
        use Introspector::{Client, Designated};
        for caller in [Client("web"), Designated("web")] {
            assert!(may_introspect_access_token(caller, "web", &none));
            assert!(may_introspect_access_token(caller, "web", &aud));
        }
        assert!(!may_introspect_access_token(Client("other"), "web", &none));
        assert!(may_introspect_access_token(Designated("gw"), "web", &none));
        assert!(may_introspect_access_token(
            Client("https://api.example"),
            "web",
            &aud
        ));
        assert!(!may_introspect_access_token(Client("other"), "web", &aud));
        assert!(!may_introspect_access_token(Designated("gw"), "web", &aud));
    }

    #[test]
    fn inactive_says_nothing_else() {
        assert_eq!(
            serde_json::to_string(&Introspection::inactive()).unwrap(),
            r#"{"active":false}"#
        );
    }

    #[test]
    fn active_carries_the_rfc7662_members() {
        let t = ActiveToken {
            scope: "read".into(),
            client_id: "c".into(),
            sub: Some("alice".into()),
            token_type: Some("Bearer"),
            cnf: None,
            exp: UnixTime::from_secs(20),
            iat: UnixTime::from_secs(10),
            nbf: UnixTime::from_secs(10),
            aud: vec![],
            iss: "https://as".into(),
            jti: Some("j".into()),
            auth_time: None,
            acr: None,
            amr: None,
            authorization_details: vec![],
            extra: Map::new(),
        };
        let v = serde_json::to_value(Introspection::active(t.clone())).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"active": true, "scope": "read", "client_id": "c", "sub": "alice",
                "token_type": "Bearer", "exp": 20, "iat": 10, "nbf": 10, "iss": "https://as", "jti": "j"})
        );
        // RFC 9470 §6.2: the user's authentication, when the token has one.
        let t = ActiveToken {
            auth_time: Some(UnixTime::from_secs(5)),
            acr: Some("urn:example:loa:2".into()),
            amr: Some(vec!["pwd".into()]),
            authorization_details: vec![AuthorizationDetail::from_json(
                serde_json::json!({"type": "account_information", "actions": ["read"]}),
            )
            .unwrap()],
            ..t
        };
        let v = serde_json::to_value(Introspection::active(t)).unwrap();
        assert_eq!(
            (&v["auth_time"], &v["acr"], &v["amr"]),
            (
                &serde_json::json!(5),
                &serde_json::json!("urn:example:loa:2"),
                &serde_json::json!(["pwd"])
            )
        );
        // RFC 9396 §9.2.
        assert_eq!(
            v["authorization_details"],
            serde_json::json!([{"type": "account_information", "actions": ["read"]}])
        );
    }
}
