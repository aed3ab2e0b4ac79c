//! JWT client authentication (RFC 7523 §2.2 and §3, OpenID Connect Core §9):
//! `private_key_jwt` and `client_secret_jwt`.
//!
//! A request carries `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
//! and `client_assertion`, a JWT whose `sub` names the client. [`ClientAssertion::extract`]
//! reads it (unverified: only to know which client to load); the engine verifies its
//! signature with the client's keys or MAC secret ([`ClientAssertion::verify_signature`],
//! [`ClientAssertion::verify_mac`]), and [`VerifiedAssertion::decide`] applies the claim
//! rules. The `jti` it returns is then recorded once in the replay cache until `exp`.
//!
//! Time rules: `exp` is required, must be after `now` and at most
//! [`ClientAssertionPolicy::max_lifetime`] ahead; `iat` and `nbf` may be up to
//! [`ClientAssertionPolicy::clock_skew`] in the future (default 10 s) for clocks that run
//! ahead. The skew is one threshold: beyond it an assertion is refused, and it can never be
//! set beyond [`MAX_CLOCK_SKEW`] (60 s), so anything more than 60 s ahead is always refused.

use std::fmt;
use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::Deserialize;

use crate::client::Client;
use crate::client_auth::ClientAuthMethod;
use crate::error::{OAuthError, TokenErrorCode};
use crate::jose::{
    verify_compact, verify_compact_hmac, Algorithm, JoseError, MacAlgorithm, VerifyingKey,
};
use crate::params::Params;
use crate::registration::AssertionAlgorithm;
use crate::request_object::is_request_object_type;
use crate::secret::TokenHash;
use crate::time::UnixTime;

type TokenError = OAuthError<TokenErrorCode>;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The most a host may let `iat`/`nbf` run ahead of the server's clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Longest `jti` accepted.
pub(crate) const MAX_JTI_LEN: usize = 256;

/// The rules JWT client assertions are held to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientAssertionPolicy {
    /// How far ahead of now `exp` may be (default 5 minutes): bounds how long the replay
    /// cache keeps a `jti`, and how long a stolen assertion is worth anything.
    pub max_lifetime: Duration,
    /// How far ahead of now `iat` and `nbf` may be (default 10 s; at most [`MAX_CLOCK_SKEW`],
    /// larger values count as that).
    pub clock_skew: Duration,
    /// Algorithms of `private_key_jwt` (asymmetric only; default all of [`Algorithm::ALL`]).
    pub private_key_jwt_algs: Vec<Algorithm>,
    /// Algorithms of `client_secret_jwt` (default all of [`MacAlgorithm::ALL`]).
    pub client_secret_jwt_algs: Vec<MacAlgorithm>,
}

impl Default for ClientAssertionPolicy {
    fn default() -> Self {
        Self {
            max_lifetime: Duration::from_secs(300),
            clock_skew: Duration::from_secs(10),
            private_key_jwt_algs: Algorithm::ALL.to_vec(),
            client_secret_jwt_algs: MacAlgorithm::ALL.to_vec(),
        }
    }
}

impl ClientAssertionPolicy {
    /// The algorithms `client`'s `private_key_jwt` assertions may be signed with: this
    /// policy's, narrowed to the `token_endpoint_auth_signing_alg` it registered, if any
    /// (OpenID Connect Dynamic Client Registration 1.0 §2: others MUST be rejected), and to
    /// what its security profile allows (FAPI 2.0 §5.4.1).
    pub fn private_key_jwt_algs_for(&self, client: &Client) -> Vec<Algorithm> {
        let registered = registered_alg(client);
        self.private_key_jwt_algs
            .iter()
            .copied()
            .filter(|a| registered.is_none_or(|r| r == AssertionAlgorithm::Signature(*a)))
            .filter(|a| client.profile.allows_algorithm(*a))
            .collect()
    }

    /// The algorithms `client`'s `client_secret_jwt` assertions may be MACed with: this
    /// policy's, narrowed to the `token_endpoint_auth_signing_alg` it registered, if any.
    pub fn client_secret_jwt_algs_for(&self, client: &Client) -> Vec<MacAlgorithm> {
        let registered = registered_alg(client);
        self.client_secret_jwt_algs
            .iter()
            .copied()
            .filter(|a| registered.is_none_or(|r| r == AssertionAlgorithm::Mac(*a)))
            .collect()
    }
}

/// The `token_endpoint_auth_signing_alg` a dynamically registered client registered.
fn registered_alg(client: &Client) -> Option<AssertionAlgorithm> {
    client
        .registration
        .as_ref()
        .and_then(|r| r.metadata.token_endpoint_auth_signing_alg)
}

/// The claims read from an assertion (RFC 7523 §3).
#[derive(Clone, PartialEq, Eq, Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    #[serde(default)]
    aud: Audience,
    #[serde(default, deserialize_with = "numeric_date")]
    exp: Option<UnixTime>,
    #[serde(default, deserialize_with = "numeric_date")]
    iat: Option<UnixTime>,
    #[serde(default, deserialize_with = "numeric_date")]
    nbf: Option<UnixTime>,
    jti: Option<String>,
}

/// `aud`: one string or an array of them (RFC 7519 §4.1.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    #[default]
    Missing,
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub(crate) fn contains_any(&self, accepted: &[&str]) -> bool {
        match self {
            Self::Missing => false,
            Self::One(a) => accepted.contains(&a.as_str()),
            Self::Many(list) => list.iter().any(|a| accepted.contains(&a.as_str())),
        }
    }
}

/// A `NumericDate` (RFC 7519 §2): seconds, possibly fractional; negative or non-finite
/// values are refused.
pub(crate) fn numeric_date<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<UnixTime>, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    let secs = match (n.as_u64(), n.as_f64()) {
        (Some(s), _) => s,
        (None, Some(f)) if f.is_finite() && f >= 0.0 => f as u64,
        _ => return Err(serde::de::Error::custom("not a NumericDate")),
    };
    Ok(Some(UnixTime::from_secs(secs)))
}

/// A JWT client assertion as presented, not yet verified. Its `Debug` output is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientAssertion {
    token: String,
    client_id: String,
    method: ClientAuthMethod,
    claims: Claims,
}

fn invalid_client(description: &'static str) -> TokenError {
    OAuthError::new(TokenErrorCode::InvalidClient, description)
}

fn invalid_request(description: &'static str) -> TokenError {
    OAuthError::new(TokenErrorCode::InvalidRequest, description)
}

impl ClientAssertion {
    /// Whether the form carries a client assertion at all.
    pub fn is_present(params: &Params) -> bool {
        params.get("client_assertion").is_some() || params.get("client_assertion_type").is_some()
    }

    /// Reads `client_assertion_type` and `client_assertion` (RFC 7521 §4.2): each exactly
    /// once (`invalid_request` otherwise), the type the JWT bearer one and the assertion a
    /// JWT naming its client in `sub`, not typed as a request object
    /// (`oauth-authz-req+jwt`, RFC 9101 §10.8) (`invalid_client` otherwise). The method is
    /// `client_secret_jwt` for an HMAC `alg`, `private_key_jwt` for any other.
    pub fn extract(params: &Params) -> Result<Self, TokenError> {
        if params.is_repeated("client_assertion") || params.is_repeated("client_assertion_type") {
            return Err(invalid_request("client assertion parameters were repeated"));
        }
        let (Some(kind), Some(token)) = (
            params.get("client_assertion_type"),
            params.get("client_assertion"),
        ) else {
            return Err(invalid_request(
                "client_assertion and client_assertion_type go together",
            ));
        };
        if kind != JWT_BEARER_ASSERTION_TYPE {
            return Err(invalid_client("unsupported client_assertion_type"));
        }
        let unreadable = || invalid_client("the client assertion is not a readable JWT");
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(unreadable());
        };
        #[derive(Deserialize)]
        struct Header {
            alg: String,
            typ: Option<String>,
        }
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| unreadable());
        let header: Header = serde_json::from_slice(&decode(header)?).map_err(|_| unreadable())?;
        // RFC 9101 §10.8: a request object (which a client signs with the same key, `iss`
        // the client and `aud` the issuer) is never a client assertion.
        if header.typ.as_deref().is_some_and(is_request_object_type) {
            return Err(invalid_client("a request object is not a client assertion"));
        }
        let claims: Claims = serde_json::from_slice(&decode(payload)?).map_err(|_| unreadable())?;
        let client_id = claims
            .sub
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid_client("the client assertion has no sub"))?;
        let method = if MacAlgorithm::parse(&header.alg).is_some() {
            ClientAuthMethod::ClientSecretJwt
        } else {
            ClientAuthMethod::PrivateKeyJwt
        };
        Ok(Self {
            token: token.to_owned(),
            client_id,
            method,
            claims,
        })
    }

    /// The client it names (`sub`, RFC 7523 §3), unverified.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// `client_secret_jwt` (an HMAC `alg`) or `private_key_jwt` (any other).
    pub fn method(&self) -> ClientAuthMethod {
        self.method
    }

    /// Verifies a `private_key_jwt` signature with the client's `keys`, for the asymmetric
    /// algorithms `allowed`. [`JoseError::NoMatchingKey`] tells the engine its keys may be
    /// stale (a `kid` it does not know).
    pub fn verify_signature(
        &self,
        keys: &[VerifyingKey],
        allowed: &[Algorithm],
    ) -> Result<VerifiedAssertion<'_>, JoseError> {
        verify_compact(&self.token, keys, allowed)?;
        Ok(VerifiedAssertion(self))
    }

    /// Verifies a `client_secret_jwt` MAC with the client's `secret`, for the HMAC
    /// algorithms `allowed`.
    pub fn verify_mac(
        &self,
        secret: &[u8],
        allowed: &[MacAlgorithm],
    ) -> Result<VerifiedAssertion<'_>, JoseError> {
        verify_compact_hmac(&self.token, secret, allowed)?;
        Ok(VerifiedAssertion(self))
    }
}

impl fmt::Debug for ClientAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientAssertion({}, <redacted>)", self.client_id)
    }
}

/// An assertion whose signature verified: its claims may now be judged.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedAssertion<'a>(&'a ClientAssertion);

/// An assertion that passed every claim rule: its `jti` must still be spent once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptedAssertion {
    /// The replay-cache id: SHA-256 over the client and the `jti`.
    pub replay_id: TokenHash,
    /// Until when the `jti` must stay spent: the assertion's `exp`.
    pub expires_at: UnixTime,
}

impl VerifiedAssertion<'_> {
    /// Whether `aud` is exactly `issuer`, as a string: all FAPI 2.0 §5.3.2.1 accepts.
    pub fn audience_is_exactly(&self, issuer: &str) -> bool {
        matches!(&self.0.claims.aud, Audience::One(a) if a == issuer)
    }

    /// Applies RFC 7523 §3's rules for `client_id` at an endpoint whose accepted audiences
    /// are `audiences` (the issuer and the endpoint's URL): `iss` = `sub` = `client_id`;
    /// `aud` (a string or an array) names one of them; `exp` present, after `now` and at
    /// most `max_lifetime` ahead; `iat` and `nbf` at most `clock_skew` ahead; `jti` present.
    /// Every failure is `invalid_client`.
    pub fn decide(
        &self,
        client_id: &str,
        audiences: &[&str],
        policy: &ClientAssertionPolicy,
        now: UnixTime,
    ) -> Result<AcceptedAssertion, TokenError> {
        let c = &self.0.claims;
        if c.sub.as_deref() != Some(client_id) || c.iss.as_deref() != Some(client_id) {
            return Err(invalid_client(
                "the client assertion's iss and sub must be the client_id",
            ));
        }
        if !c.aud.contains_any(audiences) {
            return Err(invalid_client(
                "the client assertion's aud must be the issuer or the endpoint",
            ));
        }
        let exp = c
            .exp
            .ok_or_else(|| invalid_client("the client assertion has no exp"))?;
        if exp <= now {
            return Err(invalid_client("the client assertion has expired"));
        }
        if exp > now.plus(policy.max_lifetime) {
            return Err(invalid_client(
                "the client assertion's exp is too far in the future",
            ));
        }
        let latest = now.plus(policy.clock_skew.min(MAX_CLOCK_SKEW));
        if c.iat.is_some_and(|t| t > latest) || c.nbf.is_some_and(|t| t > latest) {
            return Err(invalid_client(
                "the client assertion's iat or nbf is in the future",
            ));
        }
        let jti = c
            .jti
            .as_deref()
            .filter(|j| (1..=MAX_JTI_LEN).contains(&j.len()))
            .ok_or_else(|| invalid_client("the client assertion needs a jti"))?;
        Ok(AcceptedAssertion {
            replay_id: TokenHash::of_parts(&[client_id.as_bytes(), jti.as_bytes()]),
            expires_at: exp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{sign_compact, SigningKey};
    use ring::rand::SystemRandom;
    use serde_json::{json, Value};

    const NOW: u64 = 1_700_000_000;
    const ISSUER: &str = "https://as.example";
    const TOKEN_URL: &str = "https://as.example/token";
    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn es256() -> SigningKey {
        SigningKey::generate("k1", Algorithm::ES256, &SystemRandom::new()).unwrap()
    }

    fn claims() -> Value {
        json!({
            "iss": "app", "sub": "app", "aud": ISSUER,
            "exp": NOW + 60, "iat": NOW, "jti": "j1",
        })
    }

    fn signed(key: &SigningKey, claims: &Value) -> String {
        sign_compact(
            claims.to_string().as_bytes(),
            Some("JWT"),
            key,
            &SystemRandom::new(),
        )
        .unwrap()
    }

    fn maced(alg: &str, claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(json!({ "alg": alg }).to_string());
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{payload}");
        let mac = MacAlgorithm::parse(alg)
            .unwrap_or(MacAlgorithm::HS256)
            .sign(SECRET, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac))
    }

    fn form(token: &str) -> Params {
        let body = format!(
            "client_assertion_type={}&client_assertion={token}",
            urlencode(JWT_BEARER_ASSERTION_TYPE)
        );
        Params::parse(body.as_bytes()).unwrap()
    }

    fn urlencode(s: &str) -> String {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    }

    fn decide_claims(claims: &Value) -> Result<AcceptedAssertion, TokenError> {
        let key = es256();
        let assertion = ClientAssertion::extract(&form(&signed(&key, claims)))?;
        let verified = assertion
            .verify_signature(&[key.verifying_key()], &Algorithm::ALL)
            .unwrap();
        verified.decide(
            "app",
            &[ISSUER, TOKEN_URL],
            &ClientAssertionPolicy::default(),
            UnixTime::from_secs(NOW),
        )
    }

    /// FAPI 2.0 §5.3.2.1: only the issuer, as a string; and FAPI algorithms only.
    #[test]
    fn fapi2_audience_is_exactly_the_issuer_and_algorithms_are_narrowed() {
        let key = es256();
        for (aud, exact) in [
            (json!(ISSUER), true),
            (json!([ISSUER]), false),
            (json!(TOKEN_URL), false),
            (json!("https://as.example/"), false),
            (Value::Null, false),
        ] {
            let token = signed(&key, &with("aud", aud.clone()));
            let assertion = ClientAssertion::extract(&form(&token)).unwrap();
            let verified = assertion
                .verify_signature(&[key.verifying_key()], &Algorithm::ALL)
                .unwrap();
            assert_eq!(verified.audience_is_exactly(ISSUER), exact, "{aud}");
        }
        let fapi =
            Client::new("k", crate::ClientKind::Public).with_profile(crate::SecurityProfile::Fapi2);
        assert_eq!(
            ClientAssertionPolicy::default().private_key_jwt_algs_for(&fapi),
            crate::FAPI2_ALGORITHMS
        );
    }

    fn refused(claims: &Value, description: &str) {
        let e = decide_claims(claims).unwrap_err();
        assert_eq!(e.code, TokenErrorCode::InvalidClient, "{claims}");
        assert_eq!(e.description, description, "{claims}");
    }

    fn with(field: &str, value: Value) -> Value {
        let mut c = claims();
        if value.is_null() {
            c.as_object_mut().unwrap().remove(field);
        } else {
            c[field] = value;
        }
        c
    }

    #[test]
    fn a_good_assertion_is_accepted_with_its_jti_and_exp() {
        let accepted = decide_claims(&claims()).unwrap();
        assert_eq!(accepted.expires_at, UnixTime::from_secs(NOW + 60));
        assert_eq!(
            accepted.replay_id,
            TokenHash::of_parts(&[b"app".as_slice(), b"j1".as_slice()])
        );
        // The endpoint URL, or an array naming either, are audiences too.
        for aud in [json!(TOKEN_URL), json!(["x", ISSUER]), json!([TOKEN_URL])] {
            assert!(decide_claims(&with("aud", aud.clone())).is_ok(), "{aud}");
        }
        // Fractional dates, and no iat at all, are fine.
        assert!(decide_claims(&with("exp", json!(NOW as f64 + 30.5))).is_ok());
        assert!(decide_claims(&with("iat", Value::Null)).is_ok());
    }

    #[test]
    fn iss_and_sub_must_be_the_client() {
        let d = "the client assertion's iss and sub must be the client_id";
        refused(&with("iss", json!("other")), d);
        refused(&with("iss", Value::Null), d);
        let mut c = claims();
        c["iss"] = json!("other");
        c["sub"] = json!("other");
        refused(&c, d);
    }

    #[test]
    fn aud_must_be_the_issuer_or_the_endpoint() {
        let d = "the client assertion's aud must be the issuer or the endpoint";
        for aud in [
            json!("https://as.example/introspect"),
            json!(["https://evil.example"]),
            json!([]),
            Value::Null,
        ] {
            refused(&with("aud", aud), d);
        }
    }

    #[test]
    fn exp_is_required_in_the_future_and_bounded() {
        refused(&with("exp", Value::Null), "the client assertion has no exp");
        refused(&with("exp", json!(NOW)), "the client assertion has expired");
        refused(
            &with("exp", json!(NOW - 1)),
            "the client assertion has expired",
        );
        assert!(decide_claims(&with("exp", json!(NOW + 1))).is_ok());
        assert!(decide_claims(&with("exp", json!(NOW + 300))).is_ok());
        refused(
            &with("exp", json!(NOW + 301)),
            "the client assertion's exp is too far in the future",
        );
    }

    #[test]
    fn iat_and_nbf_may_run_ahead_by_the_skew_only() {
        let d = "the client assertion's iat or nbf is in the future";
        for field in ["iat", "nbf"] {
            assert!(
                decide_claims(&with(field, json!(NOW + 10))).is_ok(),
                "{field}"
            );
            refused(&with(field, json!(NOW + 11)), d);
            refused(&with(field, json!(NOW + 61)), d);
        }
        // A host may widen the skew up to 60 s, never beyond.
        let key = es256();
        let check = |skew: u64, ahead: u64| {
            let token = signed(&key, &with("nbf", json!(NOW + ahead)));
            let assertion = ClientAssertion::extract(&form(&token)).unwrap();
            let policy = ClientAssertionPolicy {
                clock_skew: Duration::from_secs(skew),
                ..ClientAssertionPolicy::default()
            };
            assertion
                .verify_signature(&[key.verifying_key()], &Algorithm::ALL)
                .unwrap()
                .decide("app", &[ISSUER], &policy, UnixTime::from_secs(NOW))
                .is_ok()
        };
        assert!(check(60, 60));
        assert!(!check(600, 61));
        assert!(!check(30, 31));
    }

    #[test]
    fn jti_is_required() {
        let d = "the client assertion needs a jti";
        refused(&with("jti", Value::Null), d);
        refused(&with("jti", json!("")), d);
        refused(&with("jti", json!("x".repeat(257))), d);
        assert!(decide_claims(&with("jti", json!("x".repeat(256)))).is_ok());
    }

    #[test]
    fn extraction_errors() {
        let parse = |body: &str| ClientAssertion::extract(&Params::parse(body.as_bytes()).unwrap());
        let err = |body: &str| {
            let e = parse(body).unwrap_err();
            format!("{:?}: {}", e.code, e.description)
        };
        let ty = urlencode(JWT_BEARER_ASSERTION_TYPE);
        let token = signed(&es256(), &claims());
        assert!(parse(&format!(
            "client_assertion_type={ty}&client_assertion={token}"
        ))
        .is_ok());
        assert_eq!(
            err(&format!("client_assertion_type={ty}")),
            "InvalidRequest: client_assertion and client_assertion_type go together"
        );
        assert_eq!(
            err(&format!("client_assertion={token}")),
            "InvalidRequest: client_assertion and client_assertion_type go together"
        );
        assert_eq!(
            err(&format!(
                "client_assertion_type={ty}&client_assertion={token}&client_assertion={token}"
            )),
            "InvalidRequest: client assertion parameters were repeated"
        );
        assert_eq!(
            err(&format!(
                "client_assertion_type={ty}&client_assertion_type={ty}&client_assertion={token}"
            )),
            "InvalidRequest: client assertion parameters were repeated"
        );
        assert_eq!(
            err(&format!(
                "client_assertion_type=saml&client_assertion={token}"
            )),
            "InvalidClient: unsupported client_assertion_type"
        );
        let unreadable = "InvalidClient: the client assertion is not a readable JWT";
        for bad in [
            "abc",
            "a.b",
            "a.b.c.d",
            "!.!.!",
            "e30.bm90anNvbg.c2ln",
            "e30.e30",
        ] {
            assert_eq!(
                err(&format!(
                    "client_assertion_type={ty}&client_assertion={bad}"
                )),
                unreadable,
                "{bad}"
            );
        }
        let no_sub = signed(&es256(), &with("sub", Value::Null));
        assert_eq!(
            err(&format!(
                "client_assertion_type={ty}&client_assertion={no_sub}"
            )),
            "InvalidClient: the client assertion has no sub"
        );
        let empty_sub = signed(&es256(), &with("sub", json!("")));
        assert_eq!(
            err(&format!(
                "client_assertion_type={ty}&client_assertion={empty_sub}"
            )),
            "InvalidClient: the client assertion has no sub"
        );
        let bad_date = signed(&es256(), &with("exp", json!(-5)));
        assert_eq!(
            err(&format!(
                "client_assertion_type={ty}&client_assertion={bad_date}"
            )),
            unreadable
        );
        let text_date = signed(&es256(), &with("exp", json!("soon")));
        assert_eq!(
            err(&format!(
                "client_assertion_type={ty}&client_assertion={text_date}"
            )),
            unreadable
        );
    }

    #[test]
    fn the_method_follows_the_algorithm_family() {
        let a = ClientAssertion::extract(&form(&signed(&es256(), &claims()))).unwrap();
        assert_eq!(a.method(), ClientAuthMethod::PrivateKeyJwt);
        assert_eq!(a.client_id(), "app");
        for alg in ["HS256", "HS384", "HS512"] {
            let a = ClientAssertion::extract(&form(&maced(alg, &claims()))).unwrap();
            assert_eq!(a.method(), ClientAuthMethod::ClientSecretJwt, "{alg}");
            assert!(a.verify_mac(SECRET, &MacAlgorithm::ALL).is_ok(), "{alg}");
            assert_eq!(
                a.verify_mac(b"another secret of thirty-two bytes", &MacAlgorithm::ALL)
                    .unwrap_err(),
                JoseError::InvalidSignature
            );
            // An algorithm the policy does not allow is refused before the secret is used.
            let others: Vec<_> = MacAlgorithm::ALL
                .into_iter()
                .filter(|m| m.as_str() != alg)
                .collect();
            assert_eq!(
                a.verify_mac(SECRET, &others).unwrap_err(),
                JoseError::AlgorithmNotAllowed
            );
        }
        let none = ClientAssertion::extract(&form(&maced("none", &claims()))).unwrap();
        assert_eq!(none.method(), ClientAuthMethod::PrivateKeyJwt);
        assert_eq!(
            none.verify_signature(&[es256().verifying_key()], &Algorithm::ALL)
                .unwrap_err(),
            JoseError::AlgorithmNotAllowed
        );
        assert_eq!(
            none.verify_mac(SECRET, &MacAlgorithm::ALL).unwrap_err(),
            JoseError::AlgorithmNotAllowed
        );
    }

    /// An HS256 assertion MACed with a client's public key bytes never verifies as a
    /// signature: the asymmetric path refuses HMAC algorithms outright.
    #[test]
    fn hmac_keyed_with_a_public_key_is_refused() {
        let key = es256();
        let public = serde_json::to_vec(&key.public_jwk()).unwrap();
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","kid":"k1"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
        let input = format!("{header}.{payload}");
        let mac = MacAlgorithm::HS256.sign(&public, input.as_bytes());
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac));
        let a = ClientAssertion::extract(&form(&token)).unwrap();
        assert_eq!(a.method(), ClientAuthMethod::ClientSecretJwt);
        assert_eq!(
            a.verify_signature(&[key.verifying_key()], &Algorithm::ALL)
                .unwrap_err(),
            JoseError::AlgorithmNotAllowed
        );
    }

    #[test]
    fn debug_hides_the_assertion() {
        let token = signed(&es256(), &claims());
        let a = ClientAssertion::extract(&form(&token)).unwrap();
        let debug = format!("{a:?}");
        assert_eq!(debug, "ClientAssertion(app, <redacted>)");
    }

    #[test]
    fn the_default_policy() {
        let p = ClientAssertionPolicy::default();
        assert_eq!(p.max_lifetime, Duration::from_secs(300));
        assert_eq!(p.clock_skew, Duration::from_secs(10));
        assert_eq!(p.private_key_jwt_algs, Algorithm::ALL);
        assert_eq!(p.client_secret_jwt_algs, MacAlgorithm::ALL);
    }

    /// OpenID Connect Dynamic Client Registration 1.0 §2: a registered
    /// `token_endpoint_auth_signing_alg` is the only one accepted; without one, the policy's.
    #[test]
    fn a_registered_signing_alg_narrows_the_policy() {
        use crate::client::{Client, ClientKind};
        use crate::registration::{ClientMetadata, ClientRegistration};
        let policy = ClientAssertionPolicy {
            private_key_jwt_algs: vec![Algorithm::ES256, Algorithm::RS256],
            client_secret_jwt_algs: vec![MacAlgorithm::HS256, MacAlgorithm::HS384],
            ..ClientAssertionPolicy::default()
        };
        let registered = |alg: Option<&str>| {
            let mut c = Client::new("app", ClientKind::Public);
            let mut metadata = json!({"token_endpoint_auth_method": "none",
                "grant_types": [], "response_types": [], "application_type": "web",
                "scope": "", "subject_type": "public"});
            if let Some(alg) = alg {
                metadata["token_endpoint_auth_signing_alg"] = json!(alg);
            }
            let metadata: ClientMetadata = serde_json::from_value(metadata).unwrap();
            c.registration = Some(Box::new(ClientRegistration::new(
                metadata,
                TokenHash::of("t"),
                UnixTime::from_secs(1),
            )));
            c
        };
        let host = Client::new("app", ClientKind::Public);
        for client in [&host, &registered(None)] {
            assert_eq!(
                policy.private_key_jwt_algs_for(client),
                policy.private_key_jwt_algs
            );
            assert_eq!(
                policy.client_secret_jwt_algs_for(client),
                policy.client_secret_jwt_algs
            );
        }
        let es = registered(Some("ES256"));
        assert_eq!(policy.private_key_jwt_algs_for(&es), [Algorithm::ES256]);
        assert!(policy.client_secret_jwt_algs_for(&es).is_empty());
        let hs = registered(Some("HS384"));
        assert_eq!(
            policy.client_secret_jwt_algs_for(&hs),
            [MacAlgorithm::HS384]
        );
        assert!(policy.private_key_jwt_algs_for(&hs).is_empty());
        // One the policy no longer allows: none.
        let ps = registered(Some("PS256"));
        assert!(policy.private_key_jwt_algs_for(&ps).is_empty());
    }

    /// RFC 9101 §10.8: a JWT typed as a request object is refused before any key is
    /// looked up, signed or MACed; other types (none, `JWT`, RFC 7523bis's
    /// `client-authentication+jwt`) are read.
    #[test]
    fn a_request_object_is_not_an_assertion() {
        let refused = "a request object is not a client assertion";
        for typ in [
            "oauth-authz-req+jwt",
            "application/oauth-authz-req+jwt",
            "OAUTH-AUTHZ-REQ+JWT",
        ] {
            let token = sign_compact(
                claims().to_string().as_bytes(),
                Some(typ),
                &es256(),
                &SystemRandom::new(),
            )
            .unwrap();
            let e = ClientAssertion::extract(&form(&token)).unwrap_err();
            assert_eq!(e.code, TokenErrorCode::InvalidClient, "{typ}");
            assert_eq!(e.description, refused);
            let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": typ}).to_string());
            let maced = format!(
                "{header}.{}.c2ln",
                URL_SAFE_NO_PAD.encode(claims().to_string())
            );
            let e = ClientAssertion::extract(&form(&maced)).unwrap_err();
            assert_eq!(e.description, refused);
        }
        for typ in [None, Some("JWT"), Some("client-authentication+jwt")] {
            let token = sign_compact(
                claims().to_string().as_bytes(),
                typ,
                &es256(),
                &SystemRandom::new(),
            )
            .unwrap();
            assert!(ClientAssertion::extract(&form(&token)).is_ok(), "{typ:?}");
        }
    }
}
