//! The internal access tokens the gateway forwards: short-lived RFC 9068 JWTs it signs
//! itself, one per external token, cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use portcullis_core::{
    sign_compact, JoseError, JwkSet, SecretToken, SigningKey, TokenHash, UnixTime,
};
use portcullis_resource::TokenClaims;
use ring::rand::SystemRandom;
use serde::Serialize;

/// The `typ` of a JWT access token (RFC 9068 §2.1).
const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The claims of an internal token (RFC 9068 §2.2): who, for which client, with which
/// scope, and how the user signed in (RFC 9068 §2.2.1) — copied from the validated
/// external token — for the upstream only, by this gateway, briefly.
#[derive(Serialize)]
struct InternalClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    iat: UnixTime,
    exp: UnixTime,
    jti: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<UnixTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<&'a str>,
}

/// Why no internal token was minted.
#[derive(Debug, PartialEq, thiserror::Error)]
pub(crate) enum MintError {
    /// The introspected token names neither a subject nor a client: RFC 9068 §2.2 requires
    /// `sub`, and the gateway will not invent one.
    #[error("the token names no subject")]
    NoSubject,
    /// The internal token could not be signed.
    #[error("could not sign an internal token")]
    Signing(#[from] JoseError),
}

/// One cached internal token: the claims it was minted from (a token whose introspected
/// claims changed — a scope faded — gets a new one) and until when it is handed out.
struct Minted {
    from: TokenClaims,
    jwt: Arc<str>,
    reuse_until: UnixTime,
}

/// Mints internal tokens and keeps them per external token, keyed by the token's SHA-256
/// ([`TokenHash`]; never the token itself), at most `capacity` of them.
///
/// An internal token expires at the external token's `exp` or `lifetime` after it was
/// minted, whichever comes first, and is handed out only during the first half of its
/// life, so the upstream always receives one with time to spare. The cache adds no
/// revocation delay: each request's external token is validated first (the introspection
/// validator's verdict cache is what bounds the delay).
pub(crate) struct InternalTokens {
    issuer: String,
    audience: String,
    lifetime: Duration,
    key: SigningKey,
    rng: SystemRandom,
    capacity: usize,
    cache: Mutex<HashMap<TokenHash, Minted>>,
}

impl InternalTokens {
    pub(crate) fn new(
        issuer: String,
        audience: String,
        lifetime: Duration,
        key: SigningKey,
        capacity: usize,
    ) -> Self {
        Self {
            issuer,
            audience,
            lifetime,
            key,
            rng: SystemRandom::new(),
            capacity,
            cache: Mutex::default(),
        }
    }

    /// The public half of the signing key, for the upstream's key cache (RFC 7517).
    pub(crate) fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: vec![self.key.public_jwk()],
        }
    }

    /// The internal token for the external `token` with `claims` at `now`: the cached one
    /// while it may be handed out, else a fresh one.
    pub(crate) fn for_token(
        &self,
        token: &str,
        claims: &TokenClaims,
        now: UnixTime,
    ) -> Result<Arc<str>, MintError> {
        let key = TokenHash::of(token);
        if let Some(m) = self.cache().get(&key) {
            if now < m.reuse_until && m.from == *claims {
                return Ok(m.jwt.clone());
            }
        }
        let (jwt, exp) = self.mint(claims, now)?;
        let jwt: Arc<str> = jwt.into();
        let reuse_until = UnixTime::from_secs(now.secs() + now.seconds_until(exp) / 2);
        if self.capacity > 0 && now < reuse_until {
            let mut cache = self.cache();
            if cache.len() >= self.capacity && !cache.contains_key(&key) {
                cache.retain(|_, m| now < m.reuse_until);
                if cache.len() >= self.capacity {
                    drop_soonest(&mut cache);
                }
            }
            let minted = Minted {
                from: claims.clone(),
                jwt: jwt.clone(),
                reuse_until,
            };
            cache.insert(key, minted);
        }
        Ok(jwt)
    }

    /// A fresh internal token for `claims` and its `exp`.
    fn mint(&self, claims: &TokenClaims, now: UnixTime) -> Result<(String, UnixTime), MintError> {
        let jti = SecretToken::generate(&self.rng).map_err(|_| JoseError::SigningFailed)?;
        let exp = claims.expires_at.min(now.plus(self.lifetime));
        let client_id = claims.client_id.as_deref();
        // RFC 9068 §2.2: `sub` is required; a token without a user is its client's.
        let sub = claims
            .subject
            .as_deref()
            .or(client_id)
            .ok_or(MintError::NoSubject)?;
        let payload = InternalClaims {
            iss: &self.issuer,
            sub,
            aud: &self.audience,
            client_id,
            scope: claims.scope.as_str(),
            iat: now,
            exp,
            jti: jti.expose(),
            auth_time: claims.auth_time,
            acr: claims.acr.as_deref(),
        };
        let payload = serde_json::to_vec(&payload).map_err(|_| JoseError::SigningFailed)?;
        let jwt = sign_compact(&payload, Some(ACCESS_TOKEN_TYPE), &self.key, &self.rng)?;
        Ok((jwt, exp))
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<TokenHash, Minted>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many internal tokens are cached.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.cache().len()
    }
}

/// Drops the entry that would stop being handed out first.
fn drop_soonest(cache: &mut HashMap<TokenHash, Minted>) {
    let soonest = cache
        .iter()
        .min_by_key(|(_, m)| m.reuse_until)
        .map(|(k, _)| *k);
    if let Some(k) = soonest {
        cache.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use portcullis_core::{verify_compact, Algorithm};
    use serde_json::{json, Value};

    use super::*;

    fn tokens(capacity: usize) -> InternalTokens {
        let key = SigningKey::generate("gw", Algorithm::ES256, &SystemRandom::new()).unwrap();
        InternalTokens::new(
            "https://gw.example".into(),
            "https://api.internal".into(),
            Duration::from_secs(60),
            key,
            capacity,
        )
    }

    fn claims(exp: u64, scope: &str) -> TokenClaims {
        serde_json::from_value(json!({
            "iss": "https://as.example", "sub": "alice", "client_id": "app", "scope": scope,
            "exp": exp, "auth_time": 900, "acr": "mfa", "aud": "https://gw.example",
            "cnf": {"jkt": "abc"}
        }))
        .unwrap()
    }

    fn payload(t: &InternalTokens, jwt: &str) -> Value {
        let keys = t.jwks().verifying_keys();
        let verified = verify_compact(jwt, &keys, &[Algorithm::ES256]).unwrap();
        assert_eq!(verified.header.typ.as_deref(), Some("at+jwt"));
        serde_json::from_slice(&verified.payload).unwrap()
    }

    #[test]
    fn copies_who_and_what_and_lives_briefly() {
        let t = tokens(10);
        let now = UnixTime::from_secs(1000);
        let jwt = t
            .for_token("opaque", &claims(5000, "read write"), now)
            .unwrap();
        let p = payload(&t, &jwt);
        assert_eq!(p["iss"], "https://gw.example");
        assert_eq!(p["aud"], "https://api.internal");
        assert_eq!(
            (p["sub"].as_str(), p["client_id"].as_str()),
            (Some("alice"), Some("app"))
        );
        assert_eq!(p["scope"], "read write");
        assert_eq!(
            (p["auth_time"].as_u64(), p["acr"].as_str()),
            (Some(900), Some("mfa"))
        );
        assert_eq!(
            (p["iat"].as_u64(), p["exp"].as_u64()),
            (Some(1000), Some(1060))
        );
        assert!(p["jti"].as_str().is_some_and(|j| j.len() >= 32));
        // The binding was enforced at the edge: the upstream cannot check it.
        assert!(p.get("cnf").is_none());
        // Never past the external token's exp.
        let jwt = t.for_token("short", &claims(1010, "read"), now).unwrap();
        assert_eq!(payload(&t, &jwt)["exp"].as_u64(), Some(1010));
    }

    #[test]
    fn reused_for_half_its_life_and_while_the_claims_hold() {
        let t = tokens(10);
        let c = claims(5000, "read write");
        let first = t
            .for_token("opaque", &c, UnixTime::from_secs(1000))
            .unwrap();
        let again = t
            .for_token("opaque", &c, UnixTime::from_secs(1029))
            .unwrap();
        assert_eq!(first, again);
        let later = t
            .for_token("opaque", &c, UnixTime::from_secs(1030))
            .unwrap();
        assert_ne!(first, later);
        // A scope faded: a new token with the narrower scope.
        let faded = t
            .for_token("opaque", &claims(5000, "read"), UnixTime::from_secs(1031))
            .unwrap();
        assert_eq!(payload(&t, &faded)["scope"], "read");
        // Another external token, another internal one.
        let other = t.for_token("other", &c, UnixTime::from_secs(1031)).unwrap();
        assert_ne!(other, faded);
    }

    #[test]
    fn no_subject_no_token_and_a_past_exp_is_not_reused() {
        let t = tokens(10);
        let mut c = claims(5000, "read");
        c.subject = None;
        let jwt = t.for_token("app", &c, UnixTime::from_secs(1000)).unwrap();
        assert_eq!(payload(&t, &jwt)["sub"], "app");
        c.client_id = None;
        assert_eq!(
            t.for_token("nobody", &c, UnixTime::from_secs(1000)),
            Err(MintError::NoSubject)
        );
        // An exp already past (the clocks disagree): minted, never cached, no underflow.
        let late = claims(990, "read");
        t.for_token("late", &late, UnixTime::from_secs(1000))
            .unwrap();
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn the_cache_is_bounded() {
        let t = tokens(2);
        let c = claims(5000, "read");
        for (i, token) in ["a", "b", "c"].iter().enumerate() {
            t.for_token(token, &c, UnixTime::from_secs(1000 + i as u64))
                .unwrap();
        }
        assert_eq!(t.len(), 2);
        // "a" (the soonest to stop being reused) went: a new token for it.
        let b = t.for_token("b", &c, UnixTime::from_secs(1003)).unwrap();
        assert_eq!(t.for_token("b", &c, UnixTime::from_secs(1004)).unwrap(), b);
        assert_eq!(
            tokens(0)
                .for_token("a", &c, UnixTime::from_secs(1))
                .map(|_| ()),
            Ok(())
        );
        assert_eq!(tokens(0).len(), 0);
    }
}
