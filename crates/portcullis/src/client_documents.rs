//! Clients known by a client ID metadata document
//! (draft-ietf-oauth-client-id-metadata-document): a `client_id` that is an `https` URL,
//! no client of that id being registered, is looked up by fetching the document at the URL
//! through the host's [`Fetcher`](crate::Fetcher) — when the host's [`ClientIdMetadataDocuments`] policy
//! allows it — and the client it describes
//! ([`client_from_metadata_document`](portcullis_core::client_from_metadata_document)) is
//! used like a registered one.
//!
//! Each URL is fetched at most once per its cache lifetime (its `Cache-Control` within
//! [`MIN_DOCUMENT_AGE`](portcullis_core::MIN_DOCUMENT_AGE) …
//! [`MAX_DOCUMENT_AGE`](portcullis_core::MAX_DOCUMENT_AGE)); a failure is remembered for
//! [`DOCUMENT_RETRY_AFTER`], so requests naming a broken or hostile URL cannot make the
//! server fetch on each. Concurrent lookups of one URL share one fetch. A fetch is bounded
//! in size ([`MAX_DOCUMENT_BYTES`](portcullis_core::MAX_DOCUMENT_BYTES)) and time
//! ([`FETCH_TIMEOUT`]); the fetcher refuses private addresses (`ReqwestFetcher` does).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_core::{
    client_from_metadata_document, document_max_age, is_client_id_url, Client, ClientAuthMethod,
    RegistrationRules, ScopeSet, UnixTime, MAX_DOCUMENT_BYTES,
};
use tokio::sync::Semaphore;

use crate::client_keys::{FetchError, FETCH_TIMEOUT};
use crate::provider::Provider;

/// How long a document that could not be fetched or was invalid is remembered as such.
pub const DOCUMENT_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Most documents cached (the cache starts over beyond it).
const MAX_CACHED_DOCUMENTS: usize = 10_000;
/// Most documents fetched at once, whatever the URLs: requests naming many URLs cannot tie
/// up more of the fetcher (and of the threads resolving host names) than this.
pub const MAX_CONCURRENT_FETCHES: usize = 16;

/// Whether, and for which URLs, clients may identify themselves by a client ID metadata
/// document. Off by default; enabling it needs a [fetcher](crate::ProviderBuilder::fetcher)
/// and makes discovery say `client_id_metadata_document_supported`.
#[derive(Debug, Clone, Default)]
pub struct ClientIdMetadataDocuments {
    rules: Option<RegistrationRules>,
    prefixes: Vec<String>,
}

impl ClientIdMetadataDocuments {
    /// Off: a `client_id` is only ever a registered client's.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Any client identifier URL may name a client, which may be granted at most `scopes`
    /// (its document's `scope`, or all of them without one).
    pub fn enabled(scopes: ScopeSet) -> Self {
        Self {
            rules: Some(RegistrationRules::new(scopes)),
            prefixes: Vec::new(),
        }
    }

    /// Only URLs starting with one of `prefixes` (each an `https` URL ending in `/`, e.g.
    /// `https://apps.example/`, checked when the provider is built).
    pub fn only_under<I, S>(mut self, prefixes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.prefixes = prefixes.into_iter().map(Into::into).collect();
        self
    }

    /// Whether clients may use documents at all.
    pub fn is_enabled(&self) -> bool {
        self.rules.is_some()
    }

    /// The first prefix that is not an `https` URL ending in `/`.
    pub(crate) fn invalid_prefix(&self) -> Option<&str> {
        self.prefixes
            .iter()
            .find(|p| {
                !p.ends_with('/')
                    || !url::Url::parse(p).is_ok_and(|u| u.scheme() == "https" && u.as_str() == *p)
            })
            .map(String::as_str)
    }

    /// The rules for `client_id`'s document when it may be fetched.
    fn rules_for(&self, client_id: &str) -> Option<&RegistrationRules> {
        let under = self.prefixes.is_empty()
            || self
                .prefixes
                .iter()
                .any(|p| client_id.starts_with(p.as_str()));
        self.rules
            .as_ref()
            .filter(|_| under && is_client_id_url(client_id))
    }
}

/// What a fetch of one URL gave, until when.
#[derive(Clone)]
struct Cached {
    client: Option<Arc<Client>>,
    until: UnixTime,
}

/// Clients by document URL, the fetches in flight, and the bound on how many run at once.
pub(crate) struct DocumentCache {
    entries: Mutex<HashMap<String, Cached>>,
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    fetches: Arc<Semaphore>,
}

impl Default for DocumentCache {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
            in_flight: Mutex::default(),
            fetches: Arc::new(Semaphore::new(MAX_CONCURRENT_FETCHES)),
        }
    }
}

impl DocumentCache {
    fn fresh(&self, url: &str, now: UnixTime) -> Option<Cached> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(url).filter(|c| now < c.until).cloned()
    }

    fn put(&self, url: &str, cached: Cached) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_CACHED_DOCUMENTS && !entries.contains_key(url) {
            entries.clear();
        }
        entries.insert(url.to_owned(), cached);
    }

    /// The lock that one URL's fetches take in turn.
    fn gate(&self, url: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        gates.entry(url.to_owned()).or_default().clone()
    }

    /// Forgets `url`'s lock if it is still `gate` (a later lookup may have made another).
    fn release(&self, url: &str, gate: &Arc<tokio::sync::Mutex<()>>) {
        let mut gates = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if gates.get(url).is_some_and(|g| Arc::ptr_eq(g, gate)) {
            gates.remove(url);
        }
    }
}

/// Why a document gave no client (logged, never shown to the client).
#[derive(Debug, thiserror::Error)]
enum DocumentError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{0}")]
    Invalid(String),
}

impl Provider {
    /// The client a client ID metadata document at `client_id` describes, when the policy
    /// lets it be fetched; from the cache when it can.
    ///
    /// The fetch runs in a task of its own that caches its outcome, so a lookup dropped
    /// halfway (the client went away) still counts against the URL's cache lifetime. At most
    /// [`MAX_CONCURRENT_FETCHES`] fetches run at once: beyond them a lookup finds no client
    /// and caches nothing.
    pub(crate) async fn document_client(
        &self,
        client_id: &str,
        now: UnixTime,
    ) -> Option<Arc<Client>> {
        let inner = &self.inner;
        let rules = self.document_rules(inner.client_documents.rules_for(client_id)?);
        if let Some(c) = inner.document_cache.fresh(client_id, now) {
            return c.client;
        }
        let Ok(permit) = inner.document_cache.fetches.clone().try_acquire_owned() else {
            tracing::warn!(%client_id, "client ID metadata document not fetched: too many fetches");
            return None;
        };
        let (provider, url) = (self.clone(), client_id.to_owned());
        let lookup = tokio::spawn(async move {
            let _permit = permit;
            let cache = &provider.inner.document_cache;
            let gate = cache.gate(&url);
            let locked = gate.lock().await;
            // Another lookup may have fetched it meanwhile.
            let cached = match cache.fresh(&url, now) {
                Some(c) => c,
                None => {
                    let cached = provider.fetch_and_judge(&url, &rules, now).await;
                    cache.put(&url, cached.clone());
                    cached
                }
            };
            drop(locked);
            cache.release(&url, &gate);
            cached.client
        });
        lookup.await.ok().flatten()
    }

    /// Whether `client_id` may be a client known by its metadata document: documents are
    /// on and it is a client identifier URL. Such a client's redirect URIs are vouched for
    /// by nobody, so errors before the user has seen it are shown, not redirected (RFC 9700
    /// §4.11.2). Decided from the id alone, never from the cache (which a flood of URLs can
    /// empty): a registered client whose id is such a URL is treated alike while documents
    /// are on — pages instead of redirects, the safe side.
    pub(crate) fn is_document_client(&self, client_id: &str) -> bool {
        self.inner.client_documents.is_enabled() && is_client_id_url(client_id)
    }

    /// The client `url`'s document describes, cached until when; a failure logged and
    /// remembered for [`DOCUMENT_RETRY_AFTER`].
    async fn fetch_and_judge(&self, url: &str, rules: &RegistrationRules, now: UnixTime) -> Cached {
        match self.fetch_client_document(url, rules).await {
            Ok((client, max_age)) => Cached {
                client: Some(Arc::new(client)),
                until: now.plus(max_age),
            },
            Err(e) => {
                tracing::warn!(client_id = %url, error = %e, "client ID metadata document refused");
                Cached {
                    client: None,
                    until: now.plus(DOCUMENT_RETRY_AFTER),
                }
            }
        }
    }

    /// `rules` with the methods a document may name that discovery advertises (`none`,
    /// `private_key_jwt`) and its algorithms: the same source as registration's.
    fn document_rules(&self, rules: &RegistrationRules) -> RegistrationRules {
        let methods = self
            .enabled_client_auth_methods()
            .into_iter()
            .filter(|m| matches!(m, ClientAuthMethod::None | ClientAuthMethod::PrivateKeyJwt))
            .collect();
        let algs = self
            .inner
            .policy
            .client_assertions
            .private_key_jwt_algs
            .clone();
        rules
            .clone()
            .with_auth_methods(methods, algs, Vec::new(), true)
            .with_mutual_tls(self.offers_mutual_tls())
            .with_backchannel_logout(self.backchannel_logout_supported())
            .with_authorization_details_types(self.inner.policy.authorization_details.names())
    }

    async fn fetch_client_document(
        &self,
        url: &str,
        rules: &RegistrationRules,
    ) -> Result<(Client, Duration), DocumentError> {
        let fetcher = self.inner.fetcher.as_ref().ok_or(FetchError::RefusedUrl)?;
        let fetched = tokio::time::timeout(
            FETCH_TIMEOUT,
            fetcher.fetch_document(url, MAX_DOCUMENT_BYTES),
        )
        .await
        .map_err(|_| FetchError::Timeout)??;
        let client = client_from_metadata_document(url, &fetched.body, rules)
            .map_err(|e| DocumentError::Invalid(e.description.into_owned()))?;
        Ok((client, document_max_age(fetched.max_age)))
    }
}
