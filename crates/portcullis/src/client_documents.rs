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

use crate::client_keys::{FetchError, FETCH_TIMEOUT};
use crate::provider::Provider;

/// How long a document that could not be fetched or was invalid is remembered as such.
pub const DOCUMENT_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Most documents cached (the cache starts over beyond it).
const MAX_CACHED_DOCUMENTS: usize = 10_000;

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

/// Clients by document URL, and the fetches in flight.
#[derive(Default)]
pub(crate) struct DocumentCache {
    entries: Mutex<HashMap<String, Cached>>,
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
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
}

/// A turn at fetching one URL: forgets the URL's lock when over, even when the lookup is
/// dropped halfway (the client went away), so that the locks in memory are the fetches in
/// flight.
struct Turn<'a> {
    cache: &'a DocumentCache,
    url: &'a str,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut gates = self
            .cache
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        gates.remove(self.url);
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
    pub(crate) async fn document_client(
        &self,
        client_id: &str,
        now: UnixTime,
    ) -> Option<Arc<Client>> {
        let inner = &self.inner;
        let rules = self.document_rules(inner.client_documents.rules_for(client_id)?);
        let cache = &inner.document_cache;
        if let Some(c) = cache.fresh(client_id, now) {
            return c.client;
        }
        let gate = cache.gate(client_id);
        let _locked = gate.lock().await;
        let _turn = Turn {
            cache,
            url: client_id,
        };
        // Another lookup may have fetched it meanwhile.
        if let Some(c) = cache.fresh(client_id, now) {
            return c.client;
        }
        let cached = match self.fetch_client_document(client_id, &rules).await {
            Ok((client, max_age)) => Cached {
                client: Some(Arc::new(client)),
                until: now.plus(max_age),
            },
            Err(e) => {
                tracing::warn!(%client_id, error = %e, "client ID metadata document refused");
                Cached {
                    client: None,
                    until: now.plus(DOCUMENT_RETRY_AFTER),
                }
            }
        };
        cache.put(client_id, cached.clone());
        cached.client
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
