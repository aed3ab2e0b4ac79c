//! Opaque access tokens, validated by asking the authorization server (RFC 7662), with JWT
//! responses (RFC 9701) as an option, and a bounded cache of its answers.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request, StatusCode, Uri};
use portcullis_core::{Algorithm, ClientKeys, Issuer, TokenHash, UnixTime};
use ring::rand::SystemRandom;
use url::form_urlencoded::Serializer;

use crate::introspection_response::{
    judge, read_json, read_jwt, JwtRules, TokenRules, JWT_RESPONSE_TYPE,
};
use crate::verdict_cache::{Verdict, VerdictCache};
use crate::{
    ClientCredentials, HttpClient, IssuerKeys, TokenClaims, TokenError, TokenValidator,
    UpstreamError, DEFAULT_ALGORITHMS, MAX_JWT_BYTES,
};

/// How to reach and trust an authorization server's introspection endpoint.
///
/// **Revocation delay.** An active token's claims are cached for at most
/// [`cache_max_age`](Self::cache_max_age) (default 60 s) and never past its `exp`: a token
/// revoked at the authorization server is still accepted here for up to that long. Lower it
/// for faster revocation, at the price of more introspection requests.
#[derive(Debug)]
#[non_exhaustive]
pub struct IntrospectionConfig {
    /// The authorization server's issuer. An active token's `iss`, when the response
    /// carries one, must be it; when it does not, it is assumed. It is also the `aud` of
    /// `private_key_jwt` assertions (RFC 7523 §3). (A JWT response's `iss` must be the
    /// issuer of its [`JwtResponses::keys`]: the same one.)
    pub issuer: Issuer,
    /// The introspection endpoint (RFC 7662 §2; the authorization server's metadata names
    /// it `introspection_endpoint`, RFC 8414 §2): `https` (`http` only to a loopback host),
    /// without credentials or fragment — otherwise no request is made (the token and this
    /// server's credentials would travel in clear) and every validation is
    /// [`TokenError::Unavailable`].
    pub endpoint: Uri,
    /// This resource's identifier (RFC 8707 §2, RFC 9728 §2): an active token whose
    /// response carries `aud` must name it.
    pub resource: String,
    /// How this resource server authenticates to the endpoint.
    pub credentials: ClientCredentials,
    /// Whether a token whose response carries no `aud` is refused (default `false`).
    /// RFC 7662 §2.2 makes `aud` optional, and an authorization server that answers
    /// `active` to this authenticated resource server has already judged it may see the
    /// token (Portcullis shows a token without audience only to its own client and to a
    /// designated introspector); set it where every token is audience-restricted.
    pub require_audience: bool,
    /// The longest an active token's claims are cached (default 60 s): the revocation delay.
    pub cache_max_age: Duration,
    /// How long a refusal (inactive, expired, for another resource…) is cached (default
    /// 5 s): a client retrying a bad token does not cost one request each time.
    pub negative_cache_age: Duration,
    /// How many verdicts are cached at most (default 10 000); when full, the one closest to
    /// its expiry is dropped first. `0` disables the cache.
    pub cache_capacity: usize,
    /// Signed JWT responses (RFC 9701): `None` (the default) asks for plain JSON.
    pub jwt_responses: Option<JwtResponses>,
}

impl IntrospectionConfig {
    /// A configuration with the defaults above.
    pub fn new(
        issuer: Issuer,
        endpoint: Uri,
        resource: impl Into<String>,
        credentials: ClientCredentials,
    ) -> Self {
        Self {
            issuer,
            endpoint,
            resource: resource.into(),
            credentials,
            require_audience: false,
            cache_max_age: Duration::from_secs(60),
            negative_cache_age: Duration::from_secs(5),
            cache_capacity: 10_000,
            jwt_responses: None,
        }
    }
}

/// Asks for JWT introspection responses (RFC 9701 §4: `Accept:
/// application/token-introspection+jwt`) and accepts only those: `typ`
/// `token-introspection+jwt`, signed by one of the issuer's [`keys`](Self::keys) (fetched
/// and cached as [`IssuerKeys`] does), `iss` that issuer, `aud` this resource server's
/// client id, `iat` at most [`max_age`](Self::max_age) old and not ahead of this server's
/// clock by more than [`DEFAULT_CLOCK_SKEW`](crate::DEFAULT_CLOCK_SKEW).
///
/// Off by default: not every authorization server supports it (its metadata lists
/// `introspection_signing_alg_values_supported`, RFC 9701 §7), and over TLS to the
/// authorization server a plain response is already authentic. Once on, an unsigned or
/// badly signed answer makes the validator [`TokenError::Unavailable`], never a fallback to
/// JSON: a signature asked for and missing is a fault to see, not to hide.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JwtResponses {
    /// The authorization server's signing keys, shared with the [`JwtValidator`](crate::JwtValidator)
    /// of the same issuer if there is one.
    pub keys: Arc<IssuerKeys>,
    /// The algorithms it may sign with (default [`DEFAULT_ALGORITHMS`]; never `none`).
    pub algorithms: Vec<Algorithm>,
    /// How old a response's `iat` may be (default 60 s).
    pub max_age: Duration,
}

impl JwtResponses {
    /// JWT responses verified with `keys`, with the defaults above.
    pub fn new(keys: Arc<IssuerKeys>) -> Self {
        Self {
            keys,
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            max_age: Duration::from_secs(60),
        }
    }
}

/// Validates opaque access tokens by introspection (RFC 7662 §2): POSTs the token to the
/// authorization server's endpoint, authenticated with this resource server's
/// [`ClientCredentials`], and reads the answer.
///
/// A token longer than [`MAX_JWT_BYTES`] is [`TokenError::Invalid`] without a request (no
/// access token needs more; a client cannot make the authorization server read megabytes).
/// `active: false`, a token of another issuer, for another resource, without `exp` or
/// expired are [`TokenError::Invalid`]; a failed request, an error status, an answer that
/// is not a valid introspection response, and a `401`/`403` (this resource server's own
/// credentials were refused: a configuration fault to log, not the client's) are
/// [`TokenError::Unavailable`] and never cached.
///
/// Verdicts are cached per token, keyed by its SHA-256 ([`TokenHash`], never the token
/// itself), on the `now` the caller passes: see [`IntrospectionConfig`] for the bounds.
/// Concurrent validations of one token not in the cache make one request: the first asks,
/// the others wait for its cached answer (as [`IssuerKeys`] shares one key fetch); after a
/// failed request, which is not cached, the next waiter asks in turn.
///
/// ```
/// use std::sync::Arc;
/// use portcullis_core::Issuer;
/// use portcullis_resource::{
///     ClientCredentials, HttpClient, IntrospectionConfig, IntrospectionValidator,
/// };
///
/// fn validator(http: Arc<dyn HttpClient>, secret: String) -> IntrospectionValidator {
///     let issuer = Issuer::parse("https://as.example").expect("an issuer");
///     let endpoint = "https://as.example/introspect".parse().expect("a URL");
///     let api = "https://api.example/";
///     let credentials = ClientCredentials::SecretBasic {
///         client_id: api.into(),
///         secret,
///     };
///     let config = IntrospectionConfig::new(issuer, endpoint, api, credentials);
///     IntrospectionValidator::new(config, http)
/// }
/// ```
pub struct IntrospectionValidator {
    config: IntrospectionConfig,
    http: Arc<dyn HttpClient>,
    cache: Mutex<VerdictCache>,
    /// One lock per token being introspected, so that concurrent misses make one request.
    in_flight: Mutex<HashMap<TokenHash, Arc<tokio::sync::Mutex<()>>>>,
    rng: SystemRandom,
}

impl IntrospectionValidator {
    /// A validator asking through `http`.
    pub fn new(config: IntrospectionConfig, http: Arc<dyn HttpClient>) -> Self {
        Self {
            cache: Mutex::new(VerdictCache::new(config.cache_capacity)),
            in_flight: Mutex::new(HashMap::new()),
            config,
            http,
            rng: SystemRandom::new(),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, VerdictCache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn in_flight(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<TokenHash, Arc<tokio::sync::Mutex<()>>>> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The lock of the token hashed `key`, shared by every validation of it in flight.
    fn gate(&self, key: TokenHash) -> Gate<'_> {
        let lock = self.in_flight().entry(key).or_default().clone();
        Gate {
            owner: self,
            key,
            lock,
        }
    }

    /// The cached verdict on the token hashed `key`, or a fresh one, cached.
    async fn verdict(
        &self,
        token: &str,
        key: &TokenHash,
        now: UnixTime,
    ) -> Result<Verdict, UpstreamError> {
        if let Some(verdict) = self.cache().get(key, now) {
            return Ok(verdict.clone());
        }
        let verdict = self.introspect(token, now).await?;
        let c = &self.config;
        let until = match &verdict {
            Ok(claims) => claims.expires_at.min(now.plus(c.cache_max_age)),
            Err(_) => now.plus(c.negative_cache_age),
        };
        self.cache().insert(*key, verdict.clone(), until, now);
        Ok(verdict)
    }

    /// The introspection request for `token` (RFC 7662 §2.1), authenticated.
    fn request(&self, token: &str, now: UnixTime) -> Result<Request<Bytes>, UpstreamError> {
        let c = &self.config;
        let mut form = Serializer::new(String::new());
        form.append_pair("token", token)
            .append_pair("token_type_hint", "access_token");
        let authorization =
            c.credentials
                .authenticate(&mut form, c.issuer.as_str(), now, &self.rng)?;
        let accept = match c.jwt_responses {
            Some(_) => JWT_RESPONSE_TYPE,
            None => "application/json",
        };
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(c.endpoint.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, accept);
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        request.body(Bytes::from(form.finish())).map_err(|e| {
            UpstreamError::new("could not build the introspection request").with_source(e)
        })
    }

    /// Asks the authorization server about `token`.
    async fn introspect(&self, token: &str, now: UnixTime) -> Result<Verdict, UpstreamError> {
        let c = &self.config;
        if !ClientKeys::is_acceptable_uri(&c.endpoint.to_string()) {
            return Err(UpstreamError::new("the introspection endpoint is refused"));
        }
        let request = self.request(token, now)?;
        let response = self.http.send(request).await?;
        let context = match response.status() {
            StatusCode::OK => None,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Some("the authorization server refused this resource server's credentials")
            }
            _ => Some("the introspection endpoint answered with an error status"),
        };
        if let Some(context) = context {
            let status = format!("status {}", response.status());
            return Err(UpstreamError::new(context).with_source(status));
        }
        let body = response.body();
        let answer = match &c.jwt_responses {
            None => read_json(body)?,
            Some(jwt) => {
                let rules = JwtRules {
                    keys: &jwt.keys,
                    algorithms: &jwt.algorithms,
                    client_id: c.credentials.client_id(),
                    max_age: jwt.max_age,
                };
                read_jwt(body, &rules, now).await?
            }
        };
        let rules = TokenRules {
            issuer: c.issuer.as_str(),
            resource: &c.resource,
            require_audience: c.require_audience,
        };
        judge(answer, &rules, now)
    }
}

#[async_trait]
impl TokenValidator for IntrospectionValidator {
    async fn validate(&self, token: &str, now: UnixTime) -> Result<TokenClaims, TokenError> {
        if token.len() > MAX_JWT_BYTES {
            return Err(TokenError::Invalid("the token is too long"));
        }
        let key = TokenHash::of(token);
        if let Some(verdict) = self.cache().get(&key, now) {
            return verdict.clone().map_err(TokenError::Invalid);
        }
        // A miss: one validation of the token at a time asks; the others find its answer.
        let gate = self.gate(key);
        let held = gate.lock.lock().await;
        let verdict = self.verdict(token, &key, now).await;
        drop(held);
        drop(gate);
        verdict?.map_err(TokenError::Invalid)
    }
}

/// A validation's share of a token's lock: dropped (answered, or cancelled), it takes the
/// lock out of the map when no other validation holds or awaits it (every share is made
/// under the map's lock).
struct Gate<'a> {
    owner: &'a IntrospectionValidator,
    key: TokenHash,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl Drop for Gate<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.owner.in_flight();
        if Arc::strong_count(&self.lock) == 2 {
            in_flight.remove(&self.key);
        }
    }
}

impl fmt::Debug for IntrospectionValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionValidator")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
