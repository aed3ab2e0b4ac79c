//! The authorization server's signing keys (RFC 7517 JWK Set), found through its metadata
//! (RFC 8414, or OpenID Connect Discovery 1.0) or at a configured `jwks_uri`, and cached.
//!
//! **Caching.** Keys are fresh for the JWK Set answer's `Cache-Control: max-age` (RFC 9111
//! §5.2.2; `no-store`/`no-cache` count as zero), bounded below by [`MIN_KEYS_MAX_AGE`] and
//! above by [`MAX_KEYS_MAX_AGE`], [`DEFAULT_KEYS_MAX_AGE`] without one. A token signed by a
//! key the cached set lacks (the server rotated its keys) makes the set be fetched again —
//! but the authorization server is asked at most once per [`REFETCH_INTERVAL`], whatever
//! the reason, so that tokens with made-up `kid`s cannot turn into a flood of fetches. A
//! token whose key is unknown while a fetch is held back is [`TokenError::Unavailable`]
//! (a `503`: the keys are being refreshed), not `invalid_token`: right after a rotation, a
//! client must not throw away a valid token; once keys fetched at the token's time lack its
//! key, it is `invalid_token`.
//! Concurrent validations that need a fetch wait for one fetch and share its result —
//! except those that hold stale keys, which use them meanwhile.
//!
//! **Failures.** An unreachable or misbehaving authorization server with no keys cached yet
//! is [`TokenError::Unavailable`] (a `503`, not a verdict on the token). With keys cached,
//! they stay in use after they went stale, until a fetch succeeds (stale-if-error, as
//! RFC 5861 §4 describes it) — for at most [`MAX_STALE`] after their freshness ended, then
//! [`TokenError::Unavailable`] again: an outage of the authorization server does not take
//! the API down, but a key it withdrew meanwhile is not trusted forever.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, StatusCode};
use portcullis_core::{
    cache_control_max_age, verify_compact, Algorithm, ClientKeys, Issuer, JoseError, JwkSet,
    UnixTime, VerifiedJws, VerifyingKey,
};
use serde::Deserialize;

use crate::{HttpClient, TokenError, UpstreamError};

/// Shortest time fetched keys are trusted as fresh, whatever their `Cache-Control` says.
pub const MIN_KEYS_MAX_AGE: Duration = Duration::from_secs(60);
/// Longest time fetched keys are trusted as fresh, whatever their `Cache-Control` says: a
/// key the authorization server withdrew is dropped within it.
pub const MAX_KEYS_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// How long fetched keys are fresh when their answer has no `Cache-Control: max-age`.
pub const DEFAULT_KEYS_MAX_AGE: Duration = Duration::from_secs(300);
/// Longest time keys stay in use after their freshness ended, while they cannot be fetched
/// again (stale-if-error, RFC 5861 §4): beyond it, validations are
/// [`TokenError::Unavailable`] until a fetch succeeds.
pub const MAX_STALE: Duration = Duration::from_secs(24 * 3600);
/// Shortest time between two fetches from the authorization server.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Largest metadata document or JWK Set read.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// Where the keys are found.
#[derive(Debug, Clone)]
enum Source {
    /// Metadata documents, tried in order until one answers; its `jwks_uri` is used.
    Metadata(Vec<String>),
    /// A configured `jwks_uri`.
    JwksUri(String),
}

/// What the cache knows.
#[derive(Default)]
struct State {
    /// The keys of the last successful fetch.
    keys: Option<Arc<[VerifyingKey]>>,
    /// Until when they are fresh.
    fresh_until: UnixTime,
    /// When they were fetched.
    fetched_at: Option<UnixTime>,
    /// When the authorization server was last asked, whether it answered or not.
    last_attempt: Option<UnixTime>,
    /// The `jwks_uri` of the metadata, once read (forgotten when fetching from it fails).
    jwks_uri: Option<String>,
}

impl State {
    /// The cached keys, while fresh or stale for at most [`MAX_STALE`].
    fn usable(&self, now: UnixTime) -> Option<Arc<[VerifyingKey]>> {
        let usable = now < self.fresh_until.plus(MAX_STALE);
        self.keys.clone().filter(|_| usable)
    }
}

/// An issuer's signing keys, cached: see the [module documentation](self) for when they are
/// fetched and what happens when the authorization server cannot be reached.
///
/// Share one per issuer (in an [`Arc`]) between the validators that verify its JWTs: JWT
/// access tokens (RFC 9068) and JWT introspection responses (RFC 9701).
pub struct IssuerKeys {
    issuer: Issuer,
    source: Source,
    http: Arc<dyn HttpClient>,
    state: Mutex<State>,
    /// Held while fetching, so that concurrent misses make one fetch.
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for IssuerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKeys")
            .field("issuer", &self.issuer)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl IssuerKeys {
    /// The keys of `issuer`, found through its authorization server metadata (RFC 8414 §3:
    /// `/.well-known/oauth-authorization-server` inserted before the issuer's path), or,
    /// when that cannot be had, its OpenID Provider metadata (OpenID Connect Discovery 1.0
    /// §4: `/.well-known/openid-configuration` appended to the issuer).
    pub fn discover(issuer: Issuer, http: Arc<dyn HttpClient>) -> Self {
        let urls = vec![oauth_metadata_url(&issuer), openid_metadata_url(&issuer)];
        Self::new(issuer, Source::Metadata(urls), http)
    }

    /// The keys of `issuer`, found through its OpenID Provider metadata only (OpenID
    /// Connect Discovery 1.0 §4).
    pub fn discover_openid(issuer: Issuer, http: Arc<dyn HttpClient>) -> Self {
        let urls = vec![openid_metadata_url(&issuer)];
        Self::new(issuer, Source::Metadata(urls), http)
    }

    /// The keys of `issuer` at `jwks_uri`, without discovery. Like a discovered one, it
    /// must be `https` (`http` only to a loopback host), without credentials or fragment:
    /// otherwise no fetch is made and every verification is [`TokenError::Unavailable`].
    pub fn from_jwks_uri(
        issuer: Issuer,
        jwks_uri: impl Into<String>,
        http: Arc<dyn HttpClient>,
    ) -> Self {
        Self::new(issuer, Source::JwksUri(jwks_uri.into()), http)
    }

    fn new(issuer: Issuer, source: Source, http: Arc<dyn HttpClient>) -> Self {
        Self {
            issuer,
            source,
            http,
            state: Mutex::default(),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// The issuer these keys sign for.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// Verifies the compact JWS `token` with the issuer's keys, accepting only the
    /// algorithms in `allowed` (`none` and HMAC never: [`Algorithm`] has neither).
    ///
    /// The key is chosen as `portcullis_core::verify_compact` does: by the header's `kid`;
    /// without a `kid`, the one key that fits the algorithm (none or several: refused).
    /// When no cached key matches, the keys are fetched again (at most once per
    /// [`REFETCH_INTERVAL`]) and the token verified once more; when they cannot be fetched
    /// again yet (held back, or failing) and were not fetched at `now`, the token is
    /// [`TokenError::Unavailable`] (its key may be a new one). When no keys can be had, a
    /// token whose header is refused anyway (malformed, `alg` not allowed, `crit`) is
    /// [`TokenError::Invalid`], any other [`TokenError::Unavailable`].
    ///
    /// What the token says (its `typ`, its claims) is the caller's to check.
    pub async fn verify(
        &self,
        token: &str,
        allowed: &[Algorithm],
        now: UnixTime,
    ) -> Result<VerifiedJws, TokenError> {
        let keys = match self.keys(now).await {
            Ok(keys) => keys,
            // Without keys, what is no acceptable JWS is still refused as such (a `401`).
            Err(unavailable) => match verify_compact(token, &[], allowed) {
                Err(JoseError::NoMatchingKey) | Ok(_) => return Err(unavailable),
                Err(e) => return Err(invalid(e)),
            },
        };
        match verify_compact(token, &keys, allowed) {
            Err(JoseError::NoMatchingKey) => {
                let again = self.refetch(now).await?;
                if Arc::ptr_eq(&again, &keys) {
                    if self.state().fetched_at == Some(now) {
                        return Err(invalid(JoseError::NoMatchingKey));
                    }
                    return Err(UpstreamError::new(
                        "the token's signing key is unknown; the keys are being refreshed",
                    )
                    .into());
                }
                verify_compact(token, &again, allowed).map_err(invalid)
            }
            verified => verified.map_err(invalid),
        }
    }

    /// The issuer's keys at `now`: the cached ones while fresh, else fetched. Stale keys are
    /// returned when the fetch fails or was just made, and while another validation fetches
    /// — for at most [`MAX_STALE`].
    pub async fn keys(&self, now: UnixTime) -> Result<Arc<[VerifyingKey]>, TokenError> {
        let stale = {
            let state = self.state();
            match &state.keys {
                Some(keys) if now < state.fresh_until => return Ok(keys.clone()),
                _ => state.usable(now),
            }
        };
        let fetching = match (stale, self.fetching.try_lock()) {
            (_, Ok(fetching)) => fetching,
            (Some(stale), Err(_)) => return Ok(stale),
            (None, Err(_)) => self.fetching.lock().await,
        };
        self.fetch_unless_recent(now, fetching).await
    }

    /// Fetches the keys again (waiting for a fetch under way) unless the authorization
    /// server was asked less than [`REFETCH_INTERVAL`] ago; returns the keys then cached.
    async fn refetch(&self, now: UnixTime) -> Result<Arc<[VerifyingKey]>, TokenError> {
        let fetching = self.fetching.lock().await;
        self.fetch_unless_recent(now, fetching).await
    }

    /// [`refetch`](Self::refetch), the fetch lock held.
    async fn fetch_unless_recent(
        &self,
        now: UnixTime,
        _fetching: tokio::sync::MutexGuard<'_, ()>,
    ) -> Result<Arc<[VerifyingKey]>, TokenError> {
        let recently = {
            let state = self.state();
            state
                .last_attempt
                .is_some_and(|at| now < at.plus(REFETCH_INTERVAL))
        };
        if !recently {
            self.state().last_attempt = Some(now);
            let fetched = self.fetch().await;
            let mut state = self.state();
            match fetched {
                Ok((keys, max_age)) => {
                    let max_age = max_age
                        .unwrap_or(DEFAULT_KEYS_MAX_AGE)
                        .clamp(MIN_KEYS_MAX_AGE, MAX_KEYS_MAX_AGE);
                    state.keys = Some(keys.into());
                    state.fresh_until = now.plus(max_age);
                    state.fetched_at = Some(now);
                }
                Err(e) if state.usable(now).is_none() => return Err(e.into()),
                // Stale-if-error: the cached keys stay in use, for at most MAX_STALE.
                Err(_) => {}
            }
        }
        self.state().usable(now).ok_or_else(|| {
            UpstreamError::new("the authorization server's keys are unavailable").into()
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fetches the JWK Set (after the metadata, when its `jwks_uri` is not known yet).
    async fn fetch(&self) -> Result<(Vec<VerifyingKey>, Option<Duration>), UpstreamError> {
        let jwks_uri = match &self.source {
            Source::JwksUri(uri) if ClientKeys::is_acceptable_uri(uri) => uri.clone(),
            Source::JwksUri(_) => return Err(UpstreamError::new("the jwks_uri is refused")),
            Source::Metadata(urls) => {
                let known = self.state().jwks_uri.clone();
                match known {
                    Some(uri) => uri,
                    None => self.discover_jwks_uri(urls).await?,
                }
            }
        };
        let fetched = self.get(&jwks_uri).await;
        if fetched.is_err() {
            self.state().jwks_uri = None;
        }
        let (body, max_age) = fetched?;
        let set = JwkSet::parse(&body)
            .map_err(|e| UpstreamError::new("the JWK Set is malformed").with_source(e))?;
        self.state().jwks_uri = matches!(self.source, Source::Metadata(_)).then_some(jwks_uri);
        Ok((set.verifying_keys(), max_age))
    }

    /// The `jwks_uri` of the first metadata document of `urls` that can be had, whose
    /// `issuer` is this issuer exactly (RFC 8414 §3.3).
    async fn discover_jwks_uri(&self, urls: &[String]) -> Result<String, UpstreamError> {
        #[derive(Deserialize)]
        struct Metadata {
            issuer: String,
            jwks_uri: Option<String>,
        }
        let mut failure = UpstreamError::new("no metadata document to read");
        for url in urls {
            let metadata = match self.get(url).await {
                Ok((body, _)) => serde_json::from_slice::<Metadata>(&body).map_err(|e| {
                    UpstreamError::new("the metadata document is malformed").with_source(e)
                }),
                Err(e) => Err(e),
            };
            match metadata {
                Ok(m) if m.issuer != self.issuer.as_str() => {
                    failure = UpstreamError::new("the metadata document names another issuer");
                }
                Ok(m) => match m.jwks_uri {
                    Some(uri) if ClientKeys::is_acceptable_uri(&uri) => return Ok(uri),
                    Some(_) => failure = UpstreamError::new("the metadata's jwks_uri is refused"),
                    None => failure = UpstreamError::new("the metadata has no jwks_uri"),
                },
                Err(e) => failure = e,
            }
        }
        Err(failure)
    }

    /// GETs `url`: its body (200 only, at most [`MAX_DOCUMENT_BYTES`]) and its
    /// `Cache-Control` freshness lifetime.
    async fn get(&self, url: &str) -> Result<(Bytes, Option<Duration>), UpstreamError> {
        let request = Request::get(url)
            .header(header::ACCEPT, "application/json")
            .body(Bytes::new())
            .map_err(|e| UpstreamError::new("a fetch URL is invalid").with_source(e))?;
        let response = self.http.send(request).await?;
        if response.status() != StatusCode::OK {
            return Err(
                UpstreamError::new("the authorization server answered an error")
                    .with_source(format!("status {}", response.status())),
            );
        }
        if response.body().len() > MAX_DOCUMENT_BYTES {
            return Err(UpstreamError::new("the document is too large"));
        }
        let max_age = response
            .headers()
            .get_all(header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(cache_control_max_age)
            .min();
        Ok((response.into_body(), max_age))
    }
}

/// The RFC 8414 §3.1 metadata URL: the well-known suffix between the host and the
/// issuer's path (its trailing `/` removed).
fn oauth_metadata_url(issuer: &Issuer) -> String {
    let value = issuer.as_str().trim_end_matches('/');
    // An issuer is an absolute URL: its path starts at the first `/` after `scheme://`.
    let after_scheme = value.find("://").map_or(0, |i| i + 3);
    let (origin, path) = match value[after_scheme..].find('/') {
        Some(i) => value.split_at(after_scheme + i),
        None => (value, ""),
    };
    format!("{origin}/.well-known/oauth-authorization-server{path}")
}

/// The OpenID Connect Discovery 1.0 §4 metadata URL: the well-known suffix appended to the
/// issuer (its trailing `/` removed).
fn openid_metadata_url(issuer: &Issuer) -> String {
    issuer.endpoint("/.well-known/openid-configuration")
}

/// A verification failure, as fixed text for the client (RFC 6750 §3.1 `invalid_token`).
fn invalid(e: JoseError) -> TokenError {
    TokenError::Invalid(match e {
        JoseError::Malformed => "the token is malformed",
        JoseError::AlgorithmNotAllowed => "the token's algorithm is not accepted",
        JoseError::UnsupportedCritical => "the token has an unsupported critical header",
        JoseError::NoMatchingKey => "the token's signing key is unknown",
        JoseError::KeyMismatch => "the token's key does not fit its algorithm",
        _ => "the token's signature is invalid",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_urls_follow_rfc_8414_and_openid_discovery() {
        let at = |i: &str| {
            let issuer = Issuer::parse(i).unwrap();
            (oauth_metadata_url(&issuer), openid_metadata_url(&issuer))
        };
        assert_eq!(
            at("https://as.example"),
            (
                "https://as.example/.well-known/oauth-authorization-server".into(),
                "https://as.example/.well-known/openid-configuration".into()
            )
        );
        assert_eq!(
            at("https://as.example/tenant/a/"),
            (
                "https://as.example/.well-known/oauth-authorization-server/tenant/a".into(),
                "https://as.example/tenant/a/.well-known/openid-configuration".into()
            )
        );
        assert_eq!(
            at("http://127.0.0.1:8080/t").0,
            "http://127.0.0.1:8080/.well-known/oauth-authorization-server/t"
        );
    }
}
