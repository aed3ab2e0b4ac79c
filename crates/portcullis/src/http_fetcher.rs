//! The default [`Fetcher`] (feature `http-fetcher`): reqwest over rustls with ring, no
//! redirects, no proxy, bounded in time and size.

use async_trait::async_trait;
use portcullis_core::ClientKeys;

use crate::client_keys::{FetchError, Fetcher, FETCH_TIMEOUT};

/// Fetches with reqwest (rustls on ring, the system's root certificates): https, or http to
/// a loopback address; redirects are not followed (a redirect is an error), proxies from the
/// environment are ignored, the whole fetch is bounded by [`FETCH_TIMEOUT`], and the body is
/// read only up to the size asked for.
#[derive(Debug, Clone)]
pub struct ReqwestFetcher {
    client: reqwest::Client,
}

impl ReqwestFetcher {
    /// A fetcher with its own connection pool, each fetch bounded by [`FETCH_TIMEOUT`].
    pub fn new() -> Result<Self, FetchError> {
        Self::with_timeout(FETCH_TIMEOUT)
    }

    /// A fetcher whose fetches take at most `timeout` (the engine never waits longer than
    /// [`FETCH_TIMEOUT`] whatever this is).
    pub fn with_timeout(timeout: std::time::Duration) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| FetchError::Failed(Box::new(e)))?;
        Ok(Self { client })
    }
}

#[async_trait]
impl Fetcher for ReqwestFetcher {
    async fn fetch(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        if !ClientKeys::is_acceptable_uri(url) {
            return Err(FetchError::RefusedUrl);
        }
        let failed = |e: reqwest::Error| {
            if e.is_timeout() {
                FetchError::Timeout
            } else {
                FetchError::Failed(Box::new(e))
            }
        };
        let mut response = self.client.get(url).send().await.map_err(failed)?;
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
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > max_bytes {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
