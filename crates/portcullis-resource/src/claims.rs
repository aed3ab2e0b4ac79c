//! What a valid access token says: the claims of a JWT access token (RFC 9068 §2.2) or the
//! members of an active introspection response (RFC 7662 §2.2), which share their names.

use portcullis_core::{Confirmation, ScopeSet, UnixTime};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A validated access token's claims.
///
/// Read from JSON by their registered names (RFC 7519 §4.1, RFC 9068 §2.2, RFC 7662 §2.2,
/// RFC 7800 §3.1); `aud` may be one string or an array (RFC 7519 §4.1.3). A token without
/// `iss` or `exp` is not accepted: an API cannot tell whose it is or how long it lives.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TokenClaims {
    /// `iss`: the authorization server that issued it.
    #[serde(rename = "iss")]
    pub issuer: String,
    /// `sub`: the resource owner, or the client for a client-credentials token.
    #[serde(rename = "sub", default)]
    pub subject: Option<String>,
    /// `client_id`: the client the token was issued to.
    #[serde(default)]
    pub client_id: Option<String>,
    /// `aud`: the resources the token is meant for.
    #[serde(rename = "aud", default, deserialize_with = "one_or_many")]
    pub audience: Vec<String>,
    /// `scope`: what the token allows.
    #[serde(default)]
    pub scope: ScopeSet,
    /// `exp`: when it expires.
    #[serde(rename = "exp")]
    pub expires_at: UnixTime,
    /// `iat`: when it was issued.
    #[serde(rename = "iat", default)]
    pub issued_at: Option<UnixTime>,
    /// `nbf`: not before.
    #[serde(rename = "nbf", default)]
    pub not_before: Option<UnixTime>,
    /// `auth_time`: when the user last authenticated (RFC 9068 §2.2.1, RFC 9470 §6.1).
    #[serde(default)]
    pub auth_time: Option<UnixTime>,
    /// `acr`: the authentication context class of that authentication (RFC 9470 §6.1).
    #[serde(default)]
    pub acr: Option<String>,
    /// `cnf`: the key or certificate the token's holder must prove (RFC 7800 §3.1,
    /// RFC 9449 §6, RFC 8705 §3). `None` (or empty) for a bearer token. A `cnf` naming
    /// another confirmation method (`jwk`, `kid`, `jku`…) is refused when read (RFC 7800
    /// §3): its holder could not be held to it here, and it must not pass as a bearer token.
    #[serde(rename = "cnf", default, deserialize_with = "supported_confirmation")]
    pub confirmation: Option<Confirmation>,
    /// `jti`: the token's identifier.
    #[serde(rename = "jti", default)]
    pub token_id: Option<String>,
    /// Every other claim or member, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The confirmation members a resource server can check: `jkt` (RFC 9449 §6.1) and
/// `x5t#S256` (RFC 8705 §3.1).
const SUPPORTED_CONFIRMATION: [&str; 2] = ["jkt", "x5t#S256"];

/// Whether a `cnf` claim (RFC 7800 §3.1) names only confirmation methods this crate checks.
pub(crate) fn is_supported_confirmation(cnf: &Value) -> bool {
    cnf.as_object().is_some_and(|m| {
        m.keys()
            .all(|k| SUPPORTED_CONFIRMATION.contains(&k.as_str()))
    })
}

/// `cnf`, refused when it names a confirmation method this crate cannot check.
fn supported_confirmation<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Confirmation>, D::Error> {
    let cnf = Value::deserialize(d)?;
    if !is_supported_confirmation(&cnf) {
        return Err(serde::de::Error::custom(
            "cnf names a confirmation method this resource cannot check",
        ));
    }
    serde_json::from_value(cnf).map_err(serde::de::Error::custom)
}

/// `aud` as one string or an array of strings (RFC 7519 §4.1.3).
pub(crate) fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: Value) -> Result<TokenClaims, serde_json::Error> {
        serde_json::from_value(json)
    }

    #[test]
    fn reads_the_registered_claims_and_keeps_the_others() {
        let c = claims(serde_json::json!({
            "iss": "https://as.example", "sub": "alice", "client_id": "app",
            "aud": "https://api.example", "scope": "write read", "exp": 2000, "iat": 1000,
            "nbf": 1000, "auth_time": 900, "acr": "mfa", "jti": "t1",
            "cnf": {"jkt": "abc"}, "tenant": "t-7"
        }))
        .unwrap();
        assert_eq!(c.issuer, "https://as.example");
        assert_eq!(c.subject.as_deref(), Some("alice"));
        assert_eq!(c.client_id.as_deref(), Some("app"));
        assert_eq!(c.audience, ["https://api.example"]);
        assert!(c.scope.contains("read") && c.scope.contains("write"));
        assert_eq!(c.expires_at, UnixTime::from_secs(2000));
        assert_eq!(c.issued_at, Some(UnixTime::from_secs(1000)));
        assert_eq!(c.not_before, Some(UnixTime::from_secs(1000)));
        assert_eq!(c.auth_time, Some(UnixTime::from_secs(900)));
        assert_eq!(c.acr.as_deref(), Some("mfa"));
        assert_eq!(c.token_id.as_deref(), Some("t1"));
        assert_eq!(c.confirmation.unwrap().jkt.as_deref(), Some("abc"));
        assert_eq!(c.extra.get("tenant"), Some(&Value::from("t-7")));
        assert!(!c.extra.contains_key("iss"));
    }

    #[test]
    fn audience_may_be_an_array() {
        let c = claims(serde_json::json!({"iss": "i", "exp": 1, "aud": ["a", "b"]})).unwrap();
        assert_eq!(c.audience, ["a", "b"]);
    }

    #[test]
    fn a_confirmation_method_that_cannot_be_checked_is_refused() {
        let with = |cnf: Value| claims(serde_json::json!({"iss": "i", "exp": 1, "cnf": cnf}));
        let both = with(serde_json::json!({"jkt": "a", "x5t#S256": "b"})).unwrap();
        let cnf = both.confirmation.unwrap();
        assert_eq!(
            (cnf.jkt.as_deref(), cnf.x5t_s256.as_deref()),
            (Some("a"), Some("b"))
        );
        // RFC 7800 §3.2–3.5: a key, an encrypted key, a key id, a key set URL.
        for other in ["jwk", "jwe", "kid", "jku"] {
            assert!(with(serde_json::json!({ other: "x" })).is_err(), "{other}");
            assert!(
                with(serde_json::json!({"jkt": "a", other: "x"})).is_err(),
                "{other}"
            );
        }
        assert!(with(serde_json::json!("jkt")).is_err());
    }

    #[test]
    fn issuer_and_expiry_are_required() {
        assert!(claims(serde_json::json!({"exp": 1})).is_err());
        assert!(claims(serde_json::json!({"iss": "i"})).is_err());
    }
}
