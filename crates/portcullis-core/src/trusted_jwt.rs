//! JWTs issued by others the host trusts (RFC 7519 §7.2): the issuers and keys it configures,
//! and the rules every such JWT is held to, whether a JWT bearer grant's assertion
//! (RFC 7523 §3) or a token exchange's subject or actor token (RFC 8693 §2.1).
//!
//! The issuer is read from the unverified `iss` only to pick its keys; nothing else is read
//! before the signature verifies with one of them, for one of its algorithms.

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::{Deserialize, Serialize};

use crate::client_assertion::{numeric_date, Audience, MAX_CLOCK_SKEW};
use crate::jose::{verify_compact, Algorithm, JwkSet};
use crate::time::UnixTime;

/// An issuer whose JWTs the host accepts: its `iss`, its public keys and the algorithms
/// they sign with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedIssuer {
    /// The `iss` its JWTs carry, compared exactly.
    pub issuer: String,
    /// Its public keys.
    pub keys: JwkSet,
    /// The algorithms accepted (asymmetric only; default every one of [`Algorithm::ALL`]).
    #[serde(default = "all_algorithms")]
    pub algorithms: Vec<Algorithm>,
}

fn all_algorithms() -> Vec<Algorithm> {
    Algorithm::ALL.to_vec()
}

impl TrustedIssuer {
    /// An issuer with `keys`, for every asymmetric algorithm.
    pub fn new(issuer: impl Into<String>, keys: JwkSet) -> Self {
        Self {
            issuer: issuer.into(),
            keys,
            algorithms: all_algorithms(),
        }
    }
}

/// The claims read from a verified JWT.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct JwtClaims {
    pub(crate) iss: Option<String>,
    pub(crate) sub: Option<String>,
    #[serde(default)]
    pub(crate) aud: Audience,
    #[serde(default, deserialize_with = "numeric_date")]
    pub(crate) exp: Option<UnixTime>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub(crate) iat: Option<UnixTime>,
    #[serde(default, deserialize_with = "numeric_date")]
    pub(crate) nbf: Option<UnixTime>,
    pub(crate) jti: Option<String>,
    /// `scope` (RFC 8693 §4.2), when the issuer grants scopes.
    pub(crate) scope: Option<String>,
    /// `act` (RFC 8693 §4.1): who acts for the subject.
    pub(crate) act: Option<serde_json::Value>,
    /// `auth_time` (OpenID Connect Core §2, RFC 9470 §6.2), read as sent: a value that is
    /// not a NumericDate refuses the JWT ([`verify_trusted_jwt`]), not the claims.
    pub(crate) auth_time: Option<serde_json::Value>,
}

/// Why a trusted JWT was refused: the text of the error the grant answers with.
pub(crate) type Refusal = &'static str;

/// A JWT from a trusted issuer whose signature verified and whose time window holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrustedJwt<'p> {
    pub(crate) issuer: &'p TrustedIssuer,
    pub(crate) claims: JwtClaims,
    /// Its `exp`, which is required.
    pub(crate) expires_at: UnixTime,
    /// When its subject logged in, as its `auth_time` tells; `None` without one: the token
    /// issued for it then has no `auth_time`, never the time of the grant.
    pub(crate) auth_time: Option<UnixTime>,
}

/// Verifies `token` as a JWT of one of `issuers`: the signature with that issuer's keys and
/// algorithms; `exp` present and after `now` (RFC 7519 §4.1.4, RFC 7523 §3 item 4); `nbf`
/// and `iat` at most `clock_skew` (capped at [`MAX_CLOCK_SKEW`]) ahead of `now`; `auth_time`,
/// when present, as [`login_time`] reads it.
pub(crate) fn verify_trusted_jwt<'p>(
    token: &str,
    issuers: &'p [TrustedIssuer],
    clock_skew: Duration,
    now: UnixTime,
) -> Result<TrustedJwt<'p>, Refusal> {
    let iss = unverified_issuer(token).ok_or("the JWT is malformed")?;
    let issuer = issuers
        .iter()
        .find(|t| t.issuer == iss)
        .ok_or("the JWT's issuer is not trusted")?;
    let verified = verify_compact(token, &issuer.keys.verifying_keys(), &issuer.algorithms)
        .map_err(|_| "the JWT's signature does not verify")?;
    let claims: JwtClaims =
        serde_json::from_slice(&verified.payload).map_err(|_| "the JWT's claims are malformed")?;
    let expires_at = claims.exp.ok_or("the JWT has no exp")?;
    if expires_at <= now {
        return Err("the JWT has expired");
    }
    let latest = now.plus(clock_skew.min(MAX_CLOCK_SKEW));
    if claims.nbf.is_some_and(|t| t > latest) || claims.iat.is_some_and(|t| t > latest) {
        return Err("the JWT is not valid yet");
    }
    let auth_time = login_time(&claims, latest, now)?;
    Ok(TrustedJwt {
        issuer,
        claims,
        expires_at,
        auth_time,
    })
}

/// The `auth_time` of verified `claims`: a NumericDate (else refused: a login time that
/// cannot be read is not taken for none), neither after the JWT's `iat` (the issuer cannot
/// vouch for a login after it spoke) nor after `latest` (now plus the clock skew), and
/// counted as `now` when within the skew, so no token claims a login later than its own
/// issue. There is no lower bound: an old login is exactly what `auth_time` tells, and a
/// resource server's `max_age` (RFC 9470 §3) judges it.
fn login_time(
    claims: &JwtClaims,
    latest: UnixTime,
    now: UnixTime,
) -> Result<Option<UnixTime>, Refusal> {
    let Some(value) = &claims.auth_time else {
        return Ok(None);
    };
    let auth_time = numeric_date(value)
        .ok()
        .flatten()
        .ok_or("the JWT's auth_time is not a NumericDate")?;
    if claims.iat.is_some_and(|iat| auth_time > iat) {
        return Err("the JWT's auth_time is after its iat");
    }
    if auth_time > latest {
        return Err("the JWT's auth_time is in the future");
    }
    Ok(Some(auth_time.min(now)))
}

/// The `iss` of a compact JWS, unverified: only to choose the keys.
fn unverified_issuer(token: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Iss {
        iss: String,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Iss>(&bytes).ok().map(|i| i.iss)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::jose::{sign_compact, SigningKey};
    use ring::rand::SystemRandom;
    use serde_json::{json, Value};

    pub(crate) const NOW: u64 = 1_700_000_000;
    pub(crate) const PARTNER: &str = "https://idp.partner.example";

    pub(crate) fn partner_key() -> SigningKey {
        SigningKey::generate("p1", Algorithm::ES256, &SystemRandom::new()).unwrap()
    }

    pub(crate) fn trusted(key: &SigningKey) -> Vec<TrustedIssuer> {
        vec![TrustedIssuer::new(
            PARTNER,
            JwkSet {
                keys: vec![key.public_jwk()],
            },
        )]
    }

    pub(crate) fn sign(key: &SigningKey, claims: &Value) -> String {
        sign_compact(
            claims.to_string().as_bytes(),
            Some("JWT"),
            key,
            &SystemRandom::new(),
        )
        .unwrap()
    }

    fn verify(token: &str, issuers: &[TrustedIssuer]) -> Result<UnixTime, Refusal> {
        verify_trusted_jwt(
            token,
            issuers,
            Duration::from_secs(10),
            UnixTime::from_secs(NOW),
        )
        .map(|t| t.expires_at)
    }

    /// The partner's claims for `u`, expiring in a minute, with `extra`.
    fn claims(extra: Value) -> Value {
        let mut c = json!({ "iss": PARTNER, "sub": "u", "exp": NOW + 60 });
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    }

    #[test]
    fn a_trusted_issuers_jwt_verifies_within_its_time_window() {
        let key = partner_key();
        let issuers = trusted(&key);
        let ok = |extra| verify(&sign(&key, &claims(extra)), &issuers);
        assert_eq!(ok(json!({})), Ok(UnixTime::from_secs(NOW + 60)));
        assert!(ok(json!({ "nbf": NOW + 10, "iat": NOW + 10 })).is_ok());
        assert_eq!(
            ok(json!({ "nbf": NOW + 11 })),
            Err("the JWT is not valid yet")
        );
        assert_eq!(
            ok(json!({ "iat": NOW + 11 })),
            Err("the JWT is not valid yet")
        );
        assert_eq!(ok(json!({ "exp": NOW })), Err("the JWT has expired"));
        assert_eq!(ok(json!({ "exp": NOW - 1 })), Err("the JWT has expired"));
        assert!(ok(json!({ "exp": NOW + 1 })).is_ok());
        let no_exp = json!({ "iss": PARTNER, "sub": "u" });
        assert_eq!(
            verify(&sign(&key, &no_exp), &issuers),
            Err("the JWT has no exp")
        );
    }

    #[test]
    fn other_issuers_keys_and_algorithms_are_refused() {
        let key = partner_key();
        let claims = json!({ "iss": PARTNER, "sub": "u", "exp": NOW + 60 });
        let token = sign(&key, &claims);
        // Someone else's key.
        assert_eq!(
            verify(&token, &trusted(&partner_key())),
            Err("the JWT's signature does not verify")
        );
        // An issuer not configured.
        let other = json!({ "iss": "https://evil.example", "sub": "u", "exp": NOW + 60 });
        assert_eq!(
            verify(&sign(&key, &other), &trusted(&key)),
            Err("the JWT's issuer is not trusted")
        );
        // An algorithm the issuer is not trusted with.
        let mut issuers = trusted(&key);
        issuers[0].algorithms = vec![Algorithm::RS256];
        assert_eq!(
            verify(&token, &issuers),
            Err("the JWT's signature does not verify")
        );
        assert_eq!(verify("a.b", &trusted(&key)), Err("the JWT is malformed"));
        assert_eq!(verify("", &[]), Err("the JWT is malformed"));
    }

    /// `auth_time` is the login's: absent is none; a NumericDate (fractions truncated) not
    /// after `iat`, nor beyond the skew ahead of now (within it: now); anything else refused.
    #[test]
    fn auth_time_is_the_logins_or_none_never_later_than_now() {
        let key = partner_key();
        let issuers = trusted(&key);
        let login = |extra: Value| {
            let token = sign(&key, &claims(extra));
            verify_trusted_jwt(
                &token,
                &issuers,
                Duration::from_secs(10),
                UnixTime::from_secs(NOW),
            )
            .map(|t| t.auth_time.map(UnixTime::secs))
        };
        assert_eq!(login(json!({})), Ok(None));
        assert_eq!(login(json!({ "auth_time": null })), Ok(None));
        assert_eq!(
            login(json!({ "auth_time": NOW - 300 })),
            Ok(Some(NOW - 300))
        );
        assert_eq!(login(json!({ "auth_time": 0 })), Ok(Some(0)));
        assert_eq!(login(json!({ "auth_time": 12.9 })), Ok(Some(12)));
        assert_eq!(
            login(json!({ "auth_time": NOW - 5, "iat": NOW - 5 })),
            Ok(Some(NOW - 5))
        );
        assert_eq!(
            login(json!({ "auth_time": NOW - 4, "iat": NOW - 5 })),
            Err("the JWT's auth_time is after its iat")
        );
        assert_eq!(
            login(json!({ "auth_time": NOW + 5, "iat": NOW + 10 })),
            Ok(Some(NOW))
        );
        assert_eq!(login(json!({ "auth_time": NOW })), Ok(Some(NOW)));
        assert_eq!(login(json!({ "auth_time": NOW + 10 })), Ok(Some(NOW)));
        assert_eq!(
            login(json!({ "auth_time": NOW + 11 })),
            Err("the JWT's auth_time is in the future")
        );
        for bad in [json!("1700000000"), json!(-1), json!(true), json!({})] {
            assert_eq!(
                login(json!({ "auth_time": bad })),
                Err("the JWT's auth_time is not a NumericDate")
            );
        }
    }
}
