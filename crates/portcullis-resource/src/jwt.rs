//! JWT access tokens (RFC 9068), validated by the resource as RFC 9068 §4 says.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portcullis_core::{Algorithm, UnixTime};

use crate::jws_type::is_jws_type;
use crate::{IssuerKeys, TokenClaims, TokenError, TokenValidator};

/// Longest token read, JWT or opaque (introspected): longer ones are refused before any
/// parsing or request. Access tokens are carried in an HTTP header, which servers commonly
/// bound to 8 KiB.
pub const MAX_JWT_BYTES: usize = 8 * 1024;
/// The clock skew tolerated on `exp`, `nbf` and `iat` unless configured.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(60);
/// The algorithms accepted unless configured.
pub const DEFAULT_ALGORITHMS: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// Validates JWT access tokens (RFC 9068 §4) issued by one authorization server for this
/// resource:
///
/// - at most [`MAX_JWT_BYTES`], a compact JWS (encrypted tokens are not accepted);
/// - `alg` among the configured algorithms ([`DEFAULT_ALGORITHMS`]; `none` and HMAC can
///   never be: [`Algorithm`] has neither);
/// - signed by one of the issuer's keys ([`IssuerKeys`]): the one named by `kid`, or without
///   a `kid` the only key of the issuer that fits `alg` (several: refused);
/// - `typ` `at+jwt` (or `application/at+jwt`, compared as RFC 7515 §4.1.9 says: without
///   regard to case, the `application/` prefix optional) — so that an ID token or any other
///   JWT of the same issuer is not taken for an access token (RFC 9068 §2.1);
/// - `iss` exactly the issuer; `aud` (a string or an array) containing this resource's
///   identifier;
/// - `exp` not passed, `nbf` reached and `iat` not in the future, each with the configured
///   clock skew ([`DEFAULT_CLOCK_SKEW`]).
///
/// Every refusal is [`TokenError::Invalid`] with fixed text, which never repeats the token;
/// keys that cannot be had are [`TokenError::Unavailable`].
///
/// ```
/// use std::sync::Arc;
/// use portcullis_core::Issuer;
/// use portcullis_resource::{HttpClient, IssuerKeys, JwtValidator};
///
/// fn validator(http: Arc<dyn HttpClient>) -> JwtValidator {
///     let issuer = Issuer::parse("https://as.example").expect("an issuer");
///     let keys = Arc::new(IssuerKeys::discover(issuer, http));
///     JwtValidator::new(keys, "https://api.example/")
/// }
/// ```
#[derive(Debug, Clone)]
pub struct JwtValidator {
    keys: Arc<IssuerKeys>,
    audience: String,
    algorithms: Vec<Algorithm>,
    skew: Duration,
}

impl JwtValidator {
    /// Validates the tokens of `keys`' issuer meant for `audience`: this resource's
    /// identifier, as the authorization server puts it in `aud` (its resource indicator,
    /// RFC 8707 §2).
    pub fn new(keys: Arc<IssuerKeys>, audience: impl Into<String>) -> Self {
        Self {
            keys,
            audience: audience.into(),
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            skew: DEFAULT_CLOCK_SKEW,
        }
    }

    /// Accepts only `algorithms`.
    pub fn with_algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Tolerates `skew` between this resource's clock and the authorization server's.
    pub fn with_clock_skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// The issuer's keys this validator verifies with.
    pub fn keys(&self) -> &Arc<IssuerKeys> {
        &self.keys
    }

    /// What the verified payload says, checked.
    fn check_claims(&self, payload: &[u8], now: UnixTime) -> Result<TokenClaims, TokenError> {
        let claims: TokenClaims = serde_json::from_slice(payload)
            .map_err(|_| TokenError::Invalid("the token's claims are malformed"))?;
        if claims.issuer != self.keys.issuer().as_str() {
            return Err(TokenError::Invalid(
                "the token was issued by another authorization server",
            ));
        }
        if !claims.audience.contains(&self.audience) {
            return Err(TokenError::Invalid(
                "the token is not meant for this resource",
            ));
        }
        let late = now.secs().saturating_sub(self.skew.as_secs());
        let early = now.plus(self.skew);
        if claims.expires_at.secs() <= late {
            return Err(TokenError::Invalid("the token has expired"));
        }
        if claims.not_before.is_some_and(|nbf| nbf > early) {
            return Err(TokenError::Invalid("the token is not valid yet"));
        }
        if claims.issued_at.is_some_and(|iat| iat > early) {
            return Err(TokenError::Invalid("the token was issued in the future"));
        }
        Ok(claims)
    }
}

#[async_trait]
impl TokenValidator for JwtValidator {
    async fn validate(&self, token: &str, now: UnixTime) -> Result<TokenClaims, TokenError> {
        if token.len() > MAX_JWT_BYTES {
            return Err(TokenError::Invalid("the token is too long"));
        }
        let verified = self.keys.verify(token, &self.algorithms, now).await?;
        if !is_jws_type(verified.header.typ.as_deref(), "application/at+jwt") {
            return Err(TokenError::Invalid("the token is not a JWT access token"));
        }
        self.check_claims(&verified.payload, now)
    }
}
