//! The default [`Fetcher`] (feature `http-fetcher`): reqwest over rustls with ring, no
//! redirects, no proxy, bounded in time and size, public addresses only.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portcullis_core::{cache_control_max_age, is_public_address, ClientKeys};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::sync::Semaphore;

use crate::client_keys::{FetchError, Fetched, Fetcher, FETCH_TIMEOUT};

/// Fetches with reqwest (rustls on ring, the system's root certificates): https, or http to
/// a loopback address; redirects are not followed (a redirect is an error), proxies from the
/// environment are ignored, the whole fetch is bounded by [`FETCH_TIMEOUT`], and the body is
/// read only up to the size asked for.
///
/// Against server-side request forgery, it connects to public addresses only
/// ([`is_public_address`]): a URL whose host is a loopback, private, link-local… address is
/// refused ([`FetchError::RefusedAddress`]), and a host name resolves to its public
/// addresses only (none: refused), checked when connecting, so that a name that resolves
/// to an internal address later (DNS rebinding) gains nothing.
/// [`dangerous_allow_private_addresses`](Self::dangerous_allow_private_addresses) lifts
/// this, for development and tests.
#[derive(Debug, Clone)]
pub struct ReqwestFetcher {
    client: reqwest::Client,
    allow_private: bool,
}

impl ReqwestFetcher {
    /// A fetcher with its own connection pool, each fetch bounded by [`FETCH_TIMEOUT`].
    pub fn new() -> Result<Self, FetchError> {
        Self::with_timeout(FETCH_TIMEOUT)
    }

    /// A fetcher whose fetches take at most `timeout` (the engine never waits longer than
    /// [`FETCH_TIMEOUT`] whatever this is).
    pub fn with_timeout(timeout: Duration) -> Result<Self, FetchError> {
        Self::build(timeout, false)
    }

    /// A fetcher that also connects to loopback, private and link-local addresses: a
    /// client's `jwks_uri` or metadata document URL can then reach this server's own
    /// network. For development and tests on loopback only.
    pub fn dangerous_allow_private_addresses(timeout: Duration) -> Result<Self, FetchError> {
        Self::build(timeout, true)
    }

    fn build(timeout: Duration, allow_private: bool) -> Result<Self, FetchError> {
        let resolver = BoundedResolver {
            public_only: !allow_private,
            lookups: Arc::new(Semaphore::new(MAX_CONCURRENT_LOOKUPS)),
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .dns_resolver(Arc::new(resolver))
            .build()
            .map_err(|e| FetchError::Failed(Box::new(e)))?;
        Ok(Self {
            client,
            allow_private,
        })
    }

    /// Whether `url` names an address literally that is not public.
    fn names_private_address(url: &str) -> bool {
        let host = url::Url::parse(url).ok().and_then(|u| match u.host()? {
            url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
            url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
            url::Host::Domain(_) => None,
        });
        host.is_some_and(|a| !is_public_address(a))
    }
}

/// Most host names being resolved at once. The system's resolver blocks a thread per
/// lookup and outlives a fetch that timed out; the bound keeps names that resolve slowly
/// (an attacker's name server) from taking the runtime's blocking threads, which the stores
/// and password hashing share.
const MAX_CONCURRENT_LOOKUPS: usize = 8;

/// Resolves with the system's resolver, at most [`MAX_CONCURRENT_LOOKUPS`] names at once
/// (beyond: refused), keeping public addresses only unless told otherwise.
struct BoundedResolver {
    public_only: bool,
    lookups: Arc<Semaphore>,
}

/// A host name resolved to no public address.
#[derive(Debug, thiserror::Error)]
#[error("the host has no public address")]
struct NoPublicAddress;

/// Too many host names were being resolved.
#[derive(Debug, thiserror::Error)]
#[error("too many host names are being resolved")]
struct TooManyLookups;

impl Resolve for BoundedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (public_only, lookups) = (self.public_only, self.lookups.clone());
        Box::pin(async move {
            let permit = lookups.try_acquire_owned().map_err(|_| TooManyLookups)?;
            let host = name.as_str().to_owned();
            // The permit is held until the lookup returns, however long after the fetch.
            let found = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                (host.as_str(), 0).to_socket_addrs()
            })
            .await
            .map_err(std::io::Error::other)??;
            let kept: Vec<SocketAddr> = found
                .filter(|a| !public_only || is_public_address(a.ip()))
                .collect();
            if kept.is_empty() {
                return Err(NoPublicAddress.into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

/// The [`FetchError`] of a reqwest error.
fn fetch_error(e: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        // Possibly wrapped in an io::Error, whose `source` skips what it wraps.
        let wrapped = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|inner| inner.is::<NoPublicAddress>());
        if s.is::<NoPublicAddress>() || wrapped {
            return FetchError::RefusedAddress;
        }
        source = s.source();
    }
    if e.is_timeout() {
        FetchError::Timeout
    } else {
        FetchError::Failed(Box::new(e))
    }
}

#[async_trait]
impl Fetcher for ReqwestFetcher {
    async fn fetch(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        Ok(self.fetch_document(url, max_bytes).await?.body)
    }

    async fn fetch_document(&self, url: &str, max_bytes: usize) -> Result<Fetched, FetchError> {
        if !ClientKeys::is_acceptable_uri(url) {
            return Err(FetchError::RefusedUrl);
        }
        if !self.allow_private && Self::names_private_address(url) {
            return Err(FetchError::RefusedAddress);
        }
        let mut response = self.client.get(url).send().await.map_err(fetch_error)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Failed(
                format!("status {}", response.status()).into(),
            ));
        }
        let too_large = FetchError::TooLarge(max_bytes);
        if response
            .content_length()
            .is_some_and(|n| n > max_bytes as u64)
        {
            return Err(too_large);
        }
        let max_age = response
            .headers()
            .get_all(reqwest::header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(cache_control_max_age)
            .min();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fetch_error)? {
            if body.len() + chunk.len() > max_bytes {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        let fetched = Fetched::new(body);
        Ok(match max_age {
            Some(age) => fetched.with_max_age(age),
            None => fetched,
        })
    }
}

/// Logout tokens (Back-Channel Logout 1.0 §2.5) go out under the rules of the fetches:
/// https (or http on loopback), public addresses only unless
/// [`dangerous_allow_private_addresses`](ReqwestFetcher::dangerous_allow_private_addresses),
/// no redirect followed (a `3xx` is the answer, and is not retried), bounded in time.
#[async_trait]
impl crate::backchannel::LogoutSender for ReqwestFetcher {
    async fn send_logout_token(&self, uri: &str, logout_token: &str) -> Result<u16, FetchError> {
        if !ClientKeys::is_acceptable_uri(uri) {
            return Err(FetchError::RefusedUrl);
        }
        if !self.allow_private && Self::names_private_address(uri) {
            return Err(FetchError::RefusedAddress);
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("logout_token", logout_token)
            .finish();
        let response = self
            .client
            .post(uri)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .map_err(fetch_error)?;
        Ok(response.status().as_u16())
    }
}
