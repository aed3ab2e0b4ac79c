//! `private_key_jwt` clients' public keys (RFC 7523 §2.2, OAuth 2.0 Dynamic Client
//! Registration §2): inline `jwks`, or a `jwks_uri` fetched through the host's [`Fetcher`].
//!
//! Parsed keys are cached per client, so an assertion is checked without parsing a JWK.
//! A `jwks_uri` is fetched when first needed, again after [`JWKS_MAX_AGE`], and when an
//! assertion names a `kid` the cached set lacks (the client rotated its keys) — but at most
//! once per [`REFETCH_INTERVAL`] per client, so that assertions with made-up `kid`s cannot
//! make the server fetch on every request. A fetch is bounded in size
//! ([`MAX_JWKS_BYTES`]) and time ([`FETCH_TIMEOUT`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use portcullis_core::{Client, ClientKeys, JoseError, JwkSet, UnixTime, VerifyingKey};

use crate::provider::Provider;

/// Longest JWK Set document accepted from a `jwks_uri`.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Longest a `jwks_uri` fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Shortest time between two fetches of one client's `jwks_uri`.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// How long fetched keys are trusted before they are fetched again.
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);
/// Most clients whose keys are cached (the cache starts over beyond it).
const MAX_CACHED_CLIENTS: usize = 10_000;

/// Why a document could not be fetched. Says what went wrong, never the document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL is not one the fetcher will call.
    #[error("refused URL")]
    RefusedUrl,
    /// The answer was larger than allowed.
    #[error("the document is larger than {0} bytes")]
    TooLarge(usize),
    /// The host resolves to no public address (loopback, private, link-local…): refused
    /// against server-side request forgery.
    #[error("refused address")]
    RefusedAddress,
    /// The fetch took longer than allowed.
    #[error("the fetch timed out")]
    Timeout,
    /// Anything else (connection, TLS, a status other than 200), with its source.
    #[error("fetch failed: {0}")]
    Failed(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Fetches documents the server needs from elsewhere (a client's `jwks_uri`, its client ID
/// metadata document, a request object at a `request_uri`): the engine
/// never does network I/O of its own. The host injects one with
/// [`ProviderBuilder::fetcher`](crate::ProviderBuilder::fetcher) (e.g. the `http-fetcher`
/// feature's `ReqwestFetcher`). The engine bounds each call by [`FETCH_TIMEOUT`] and checks
/// the size again.
#[async_trait]
pub trait Fetcher: Send + Sync + 'static {
    /// GETs `url` (https, or http on a loopback address), following no redirect, and returns
    /// its body: at most `max_bytes`, else [`FetchError::TooLarge`].
    async fn fetch(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, FetchError>;

    /// As [`fetch`](Fetcher::fetch), with how long the document may be cached (from its
    /// `Cache-Control`, see [`Fetched::max_age`]). By default: no caching information.
    async fn fetch_document(&self, url: &str, max_bytes: usize) -> Result<Fetched, FetchError> {
        Ok(Fetched::new(self.fetch(url, max_bytes).await?))
    }
}

/// A fetched document and what its answer said about caching it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fetched {
    /// The body.
    pub body: Vec<u8>,
    /// Its freshness lifetime (RFC 9111 §5.2.2: `max-age`, zero for `no-store` or
    /// `no-cache`; see `portcullis_core::cache_control_max_age`); `None` when the answer
    /// said nothing.
    pub max_age: Option<Duration>,
}

impl Fetched {
    /// `body`, without caching information.
    pub fn new(body: Vec<u8>) -> Self {
        Self {
            body,
            max_age: None,
        }
    }

    /// The same, fresh for `max_age`.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }
}

/// One client's parsed keys.
struct Entry {
    source: ClientKeys,
    keys: Arc<[VerifyingKey]>,
    fetched_at: UnixTime,
}

/// Parsed client keys, per client id.
#[derive(Default)]
pub(crate) struct ClientKeyCache {
    entries: Mutex<HashMap<String, Arc<Entry>>>,
}

impl ClientKeyCache {
    fn get(&self, client_id: &str) -> Option<Arc<Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(client_id)
            .cloned()
    }

    fn put(&self, client_id: &str, entry: Entry) -> Arc<[VerifyingKey]> {
        let keys = entry.keys.clone();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_CACHED_CLIENTS && !entries.contains_key(client_id) {
            entries.clear();
        }
        entries.insert(client_id.to_owned(), Arc::new(entry));
        keys
    }
}

impl Provider {
    /// The verifying keys of `client` (whose keys are `source`), from the cache when it can.
    /// `unknown_kid`: the cached keys lacked an assertion's key, so a `jwks_uri` is fetched
    /// again if the last fetch is older than [`REFETCH_INTERVAL`]. `None` when nothing new
    /// could be had.
    pub(crate) async fn client_verifying_keys(
        &self,
        client: &Client,
        source: &ClientKeys,
        now: UnixTime,
        unknown_kid: bool,
    ) -> Option<Arc<[VerifyingKey]>> {
        let cache = &self.inner.client_keys;
        let cached = cache.get(&client.id).filter(|e| e.source == *source);
        let uri = match source {
            ClientKeys::Jwks(set) => {
                if let Some(e) = cached {
                    return (!unknown_kid).then(|| e.keys.clone());
                }
                let entry = Entry {
                    source: source.clone(),
                    keys: set.verifying_keys().into(),
                    fetched_at: now,
                };
                return Some(cache.put(&client.id, entry));
            }
            ClientKeys::JwksUri(uri) => uri,
        };
        if let Some(e) = &cached {
            let fresh = now < e.fetched_at.plus(JWKS_MAX_AGE);
            if !unknown_kid && fresh {
                return Some(e.keys.clone());
            }
            if now < e.fetched_at.plus(REFETCH_INTERVAL) {
                return None;
            }
        }
        let keys: Arc<[VerifyingKey]> = match self.fetch_jwks(uri).await {
            Ok(set) => set.verifying_keys().into(),
            Err(e) => {
                tracing::warn!(client_id = %client.id, error = %e, "client jwks_uri fetch failed");
                // Remembered as empty: the next attempt waits for REFETCH_INTERVAL too.
                Vec::new().into()
            }
        };
        let entry = Entry {
            source: source.clone(),
            keys,
            fetched_at: now,
        };
        Some(cache.put(&client.id, entry))
    }

    /// Runs `verify` (a JWS check) with `client`'s keys (`source`), and once more with
    /// fresh ones when it names a `kid` they lack ([`JoseError::NoMatchingKey`]).
    pub(crate) async fn verify_with_client_keys<T>(
        &self,
        client: &Client,
        source: &ClientKeys,
        now: UnixTime,
        verify: impl Fn(&[VerifyingKey]) -> Result<T, JoseError>,
    ) -> Result<T, JoseError> {
        let mut unknown_kid = false;
        loop {
            let Some(keys) = self
                .client_verifying_keys(client, source, now, unknown_kid)
                .await
            else {
                return Err(JoseError::NoMatchingKey);
            };
            match verify(&keys) {
                Err(JoseError::NoMatchingKey) if !unknown_kid => unknown_kid = true,
                outcome => return outcome,
            }
        }
    }

    async fn fetch_jwks(&self, uri: &str) -> Result<JwkSet, FetchError> {
        let body = self.fetch_bounded(uri, MAX_JWKS_BYTES).await?;
        JwkSet::parse(&body).map_err(|e| FetchError::Failed(Box::new(e)))
    }

    /// The document at `uri` (https, or http on loopback) through the host's fetcher: at
    /// most `max_bytes`, within [`FETCH_TIMEOUT`] (both checked here whatever the fetcher
    /// does). Without a fetcher: [`FetchError::RefusedUrl`].
    pub(crate) async fn fetch_bounded(
        &self,
        uri: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, FetchError> {
        if !ClientKeys::is_acceptable_uri(uri) {
            return Err(FetchError::RefusedUrl);
        }
        let fetcher = self.inner.fetcher.as_ref().ok_or(FetchError::RefusedUrl)?;
        let body = tokio::time::timeout(FETCH_TIMEOUT, fetcher.fetch(uri, max_bytes))
            .await
            .map_err(|_| FetchError::Timeout)??;
        if body.len() > max_bytes {
            return Err(FetchError::TooLarge(max_bytes));
        }
        Ok(body)
    }
}
