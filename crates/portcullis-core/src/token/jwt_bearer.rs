//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1): a JWT from an
//! issuer the host trusts ([`JwtBearerPolicy::issuers`]) is the authorization grant.
//!
//! [`check_grant_assertion`] applies RFC 7523 §3: signed by the issuer's keys, `sub` present,
//! `aud` naming this server (its issuer or token endpoint), `exp` required, after `now` and
//! at most [`JwtBearerPolicy::max_lifetime`] ahead, `nbf`/`iat` within the clock skew, and a
//! `jti`, which the engine then spends once in the replay cache until `exp`; its `auth_time`,
//! if any, is the issued token's (RFC 9470 §6.2: never the grant's time). Every failure is
//! `invalid_grant` (§3.1), a non-numeric `auth_time` too. The host maps the issuer's `sub` to a local subject; scopes are
//! the client's, as for client credentials.

use std::fmt;
use std::time::Duration;

use super::client_credentials::decide_client_credentials;
use super::request::ClientCredentialsGrant;
use super::{invalid_grant, TokenError};
use crate::client::Client;
use crate::client_assertion::MAX_JTI_LEN;
use crate::resources::Resource;
use crate::scope::ScopeSet;
use crate::secret::TokenHash;
use crate::time::UnixTime;
use crate::trusted_jwt::{verify_trusted_jwt, TrustedIssuer};

/// The rules JWT bearer grants are held to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JwtBearerPolicy {
    /// The issuers whose assertions are accepted; none by default (the grant is off).
    pub issuers: Vec<TrustedIssuer>,
    /// How far ahead of now `exp` may be (default 1 hour): bounds how long a stolen
    /// assertion is worth anything and how long the replay cache keeps its `jti`.
    pub max_lifetime: Duration,
    /// How far ahead of now `iat` and `nbf` may be (default 10 s, at most
    /// [`crate::MAX_CLOCK_SKEW`]).
    pub clock_skew: Duration,
}

impl Default for JwtBearerPolicy {
    fn default() -> Self {
        Self {
            issuers: Vec::new(),
            max_lifetime: Duration::from_secs(3600),
            clock_skew: Duration::from_secs(10),
        }
    }
}

/// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1). Its `Debug`
/// output hides the assertion.
#[derive(Clone)]
pub struct JwtBearerGrant {
    /// The JWT.
    pub assertion: String,
    /// The scope asked for.
    pub scope: Option<ScopeSet>,
}

impl fmt::Debug for JwtBearerGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtBearerGrant")
            .field("assertion", &"<redacted>")
            .field("scope", &self.scope)
            .finish()
    }
}

/// An assertion that passed every rule: its `jti` must still be spent once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedGrantAssertion {
    /// Its issuer.
    pub issuer: String,
    /// Its subject, as the issuer names them (the host maps it to a local one).
    pub subject: String,
    /// The replay-cache id: SHA-256 over the issuer and the `jti`.
    pub replay_id: TokenHash,
    /// Until when the `jti` must stay spent: the assertion's `exp`.
    pub expires_at: UnixTime,
    /// When the subject logged in, as the assertion's `auth_time` tells (not after its
    /// `iat`, counted as now when within the clock skew ahead); `None` without one, and the
    /// access token then has no `auth_time` (RFC 9068 §2.2.1, RFC 9470 §6.2).
    pub auth_time: Option<UnixTime>,
}

/// Checks `grant`'s assertion against `policy` at a server whose accepted audiences are
/// `audiences` (its issuer and token endpoint), RFC 7523 §3: `invalid_grant` otherwise
/// (§3.1).
pub fn check_grant_assertion(
    grant: &JwtBearerGrant,
    policy: &JwtBearerPolicy,
    audiences: &[&str],
    now: UnixTime,
) -> Result<AcceptedGrantAssertion, TokenError> {
    let jwt = verify_trusted_jwt(&grant.assertion, &policy.issuers, policy.clock_skew, now)
        .map_err(invalid_grant)?;
    let c = &jwt.claims;
    let subject = c
        .sub
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid_grant("the assertion has no sub"))?;
    if !c.aud.contains_any(audiences) {
        return Err(invalid_grant(
            "the assertion's aud must be the issuer or the token endpoint",
        ));
    }
    if jwt.expires_at > now.plus(policy.max_lifetime) {
        return Err(invalid_grant(
            "the assertion's exp is too far in the future",
        ));
    }
    let jti = c
        .jti
        .as_deref()
        .filter(|j| (1..=MAX_JTI_LEN).contains(&j.len()))
        .ok_or_else(|| invalid_grant("the assertion needs a jti"))?;
    let issuer = jwt.issuer.issuer.clone();
    Ok(AcceptedGrantAssertion {
        replay_id: TokenHash::of_parts(&[issuer.as_bytes(), jti.as_bytes()]),
        issuer,
        subject,
        expires_at: jwt.expires_at,
        auth_time: jwt.auth_time,
    })
}

/// The scopes of the access token: as for client credentials, those asked for (or the
/// client's default), all allowed for the client, else `invalid_scope`; then those the
/// `audience` understands.
pub fn decide_jwt_bearer_scopes(
    client: &Client,
    grant: &JwtBearerGrant,
    audience: &[String],
    registry: &[Resource],
) -> Result<ScopeSet, TokenError> {
    let as_client = ClientCredentialsGrant {
        scope: grant.scope.clone(),
    };
    decide_client_credentials(client, &as_client, audience, registry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{OAuthError, TokenErrorCode};
    use crate::token::test_support::{confidential_client, set};
    use crate::trusted_jwt::tests::{partner_key, sign, trusted, NOW, PARTNER};
    use serde_json::{json, Value};

    const ISSUER: &str = "https://as.example";
    const TOKEN_URL: &str = "https://as.example/token";

    fn claims() -> Value {
        json!({
            "iss": PARTNER, "sub": "partner-alice", "aud": TOKEN_URL,
            "exp": NOW + 3600, "iat": NOW, "jti": "a1",
        })
    }

    fn with(changes: Value) -> Value {
        let mut c = claims();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    }

    fn check(claims: &Value) -> Result<AcceptedGrantAssertion, TokenError> {
        let key = partner_key();
        let policy = JwtBearerPolicy {
            issuers: trusted(&key),
            ..JwtBearerPolicy::default()
        };
        let grant = JwtBearerGrant {
            assertion: sign(&key, claims),
            scope: None,
        };
        check_grant_assertion(
            &grant,
            &policy,
            &[ISSUER, TOKEN_URL],
            UnixTime::from_secs(NOW),
        )
    }

    fn refused(description: &str) -> Result<AcceptedGrantAssertion, TokenError> {
        Err(OAuthError::new(
            TokenErrorCode::InvalidGrant,
            description.to_owned(),
        ))
    }

    #[test]
    fn a_valid_assertion_is_accepted_with_its_replay_id() {
        let accepted = check(&claims()).unwrap();
        assert_eq!(accepted.issuer, PARTNER);
        assert_eq!(accepted.subject, "partner-alice");
        assert_eq!(accepted.expires_at, UnixTime::from_secs(NOW + 3600));
        assert_eq!(
            accepted.replay_id,
            TokenHash::of_parts(&[PARTNER.as_bytes(), b"a1"])
        );
        // The issuer alone is an audience too, in an array.
        assert!(check(&with(json!({ "aud": ["x", ISSUER] }))).is_ok());
    }

    #[test]
    fn every_rule_refuses_with_invalid_grant() {
        assert_eq!(
            check(&with(json!({ "sub": null }))),
            refused("the assertion has no sub")
        );
        assert_eq!(
            check(&with(json!({ "sub": "" }))),
            refused("the assertion has no sub")
        );
        let wrong_aud = refused("the assertion's aud must be the issuer or the token endpoint");
        assert_eq!(check(&with(json!({ "aud": null }))), wrong_aud);
        assert_eq!(
            check(&with(json!({ "aud": "https://other.example" }))),
            wrong_aud
        );
        assert_eq!(
            check(&with(json!({ "exp": NOW + 3601 }))),
            refused("the assertion's exp is too far in the future")
        );
        assert_eq!(
            check(&with(json!({ "exp": null }))),
            refused("the JWT has no exp")
        );
        assert_eq!(
            check(&with(json!({ "exp": NOW }))),
            refused("the JWT has expired")
        );
        assert_eq!(
            check(&with(json!({ "nbf": NOW + 11 }))),
            refused("the JWT is not valid yet")
        );
        let no_jti = refused("the assertion needs a jti");
        assert_eq!(check(&with(json!({ "jti": null }))), no_jti);
        assert_eq!(check(&with(json!({ "jti": "" }))), no_jti);
        let long = "j".repeat(MAX_JTI_LEN + 1);
        assert_eq!(check(&with(json!({ "jti": long }))), no_jti);
        let longest = "j".repeat(MAX_JTI_LEN);
        assert!(check(&with(json!({ "jti": longest }))).is_ok());
    }

    #[test]
    fn scopes_are_the_clients() {
        let client = confidential_client()
            .with_allowed_scopes(set("read write"))
            .with_default_scopes(set("read"));
        let grant = |scope: Option<&str>| JwtBearerGrant {
            assertion: String::new(),
            scope: scope.map(set),
        };
        assert_eq!(
            decide_jwt_bearer_scopes(&client, &grant(None), &[], &[]),
            Ok(set("read"))
        );
        assert_eq!(
            decide_jwt_bearer_scopes(&client, &grant(Some("admin")), &[], &[])
                .unwrap_err()
                .code,
            TokenErrorCode::InvalidScope
        );
        let dbg = format!(
            "{:?}",
            JwtBearerGrant {
                assertion: "sekrit".into(),
                scope: None
            }
        );
        assert_eq!(
            dbg,
            "JwtBearerGrant { assertion: \"<redacted>\", scope: None }"
        );
    }
}
