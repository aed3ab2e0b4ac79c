//! ID tokens (OpenID Connect Core 1.0 §2, §3.1.3.6, §3.3.2.11).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::digest::{digest, SHA256, SHA512};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::jose::{Algorithm, JoseError, UnsignedJws};
use crate::time::UnixTime;

/// Whether only the provider sets `name`: a host hook can never add or override it.
pub fn is_protocol_claim(name: &str) -> bool {
    matches!(
        name,
        "iss"
            | "sub"
            | "aud"
            | "exp"
            | "iat"
            | "nbf"
            | "jti"
            | "auth_time"
            | "nonce"
            | "acr"
            | "amr"
            | "azp"
            | "at_hash"
            | "c_hash"
            | "s_hash"
            | "sid"
            | "cnf"
            | "act"
            | "authorization_details"
            | "client_id"
            | "scope"
            | "typ"
            | "token_type"
            | "events"
            | "sub_jwk"
    )
}

/// The claims of an ID token.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject (public or pairwise).
    pub sub: String,
    /// Audience: the client.
    pub aud: String,
    /// Expiry.
    pub exp: UnixTime,
    /// Issue time.
    pub iat: UnixTime,
    /// When the user authenticated: when `max_age` was asked or the client requires it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<UnixTime>,
    /// The request's `nonce`, echoed exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Authentication context class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Authentication methods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// Authorized party: the client, present when the audience is the client (§2 allows it
    /// always; it names who the token was issued to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Access token hash (§3.3.2.11).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// Code hash (§3.3.2.11).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub c_hash: Option<String>,
    /// The session's id at this client (Back-Channel Logout 1.0 §2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// User claims and host claims, never protocol claims.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The left half of the hash of `value` that `alg` uses, base64url: `at_hash` and `c_hash`
/// (OpenID Connect Core §3.3.2.11). SHA-256 for RS256, PS256 and ES256; SHA-512 for EdDSA
/// with Ed25519 (as OpenID Foundation implementations agree).
pub fn half_hash(value: &str, alg: Algorithm) -> String {
    let d = match alg {
        Algorithm::EdDSA => digest(&SHA512, value.as_bytes()),
        _ => digest(&SHA256, value.as_bytes()),
    };
    let bytes = d.as_ref();
    URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}

/// Adds `claims` to `extra`, dropping every protocol claim. Returns the names dropped.
pub fn merge_extra_claims(
    extra: &mut Map<String, Value>,
    claims: Map<String, Value>,
) -> Vec<String> {
    let mut dropped = Vec::new();
    for (name, value) in claims {
        if is_protocol_claim(&name) {
            dropped.push(name);
        } else {
            extra.insert(name, value);
        }
    }
    dropped
}

impl IdTokenClaims {
    /// The claims as a JWT (`typ: JWT`) for the key `kid` signing with `alg`, to be signed.
    pub fn to_jws(&self, alg: Algorithm, kid: &str) -> Result<UnsignedJws, JoseError> {
        let payload = serde_json::to_vec(self).map_err(|_| JoseError::SigningFailed)?;
        UnsignedJws::new(alg, kid, Some("JWT"), &payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_example_from_openid_connect_core_a3() {
        // OpenID Connect Core 1.0 Appendix A.3/A.4 use this access token and at_hash (RS256).
        assert_eq!(
            half_hash(
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y",
                Algorithm::RS256
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn host_claims_cannot_override_protocol_claims() {
        let mut extra = Map::new();
        let mut hook = Map::new();
        hook.insert("iss".into(), "https://evil".into());
        hook.insert("nonce".into(), "x".into());
        hook.insert("tenant".into(), "blue".into());
        let dropped = merge_extra_claims(&mut extra, hook);
        assert_eq!(dropped, vec!["iss".to_owned(), "nonce".to_owned()]);
        assert_eq!(extra.len(), 1);
        let claims = IdTokenClaims {
            iss: "https://as".into(),
            sub: "s".into(),
            aud: "c".into(),
            exp: UnixTime::from_secs(2),
            iat: UnixTime::from_secs(1),
            auth_time: None,
            nonce: None,
            acr: None,
            amr: None,
            azp: None,
            at_hash: None,
            c_hash: None,
            sid: None,
            extra,
        };
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(json["iss"], "https://as");
        assert_eq!(json["tenant"], "blue");
        assert!(json.get("nonce").is_none());
    }
}
