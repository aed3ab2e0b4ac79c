//! An [`HttpClient`] on reqwest (feature `reqwest`): rustls on ring, the system's root
//! certificates.

use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::{Request, Response};

use crate::{HttpClient, UpstreamError};

/// How long a request may take, from connecting to the last byte, unless configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest response body read unless configured.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// Sends the validators' requests with reqwest. Redirects are not followed (a redirect is
/// returned as the answer, which the validators refuse), proxies from the environment are
/// ignored, each request is bounded in time (connection, answer and body together), and a
/// body is read only up to a bound (beyond: an error).
///
/// The authorization server's URLs come from the host's configuration, not from clients:
/// unlike the engine's fetcher of clients' documents, this client connects to private and
/// loopback addresses too.
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
    max_body_bytes: usize,
}

impl ReqwestClient {
    /// A client bounded by [`DEFAULT_TIMEOUT`] and [`DEFAULT_MAX_BODY_BYTES`].
    pub fn new() -> Result<Self, UpstreamError> {
        Self::with_limits(DEFAULT_TIMEOUT, DEFAULT_MAX_BODY_BYTES)
    }

    /// A client whose requests take at most `timeout` and read at most `max_body_bytes`.
    pub fn with_limits(timeout: Duration, max_body_bytes: usize) -> Result<Self, UpstreamError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| UpstreamError::new("the HTTP client could not be built").with_source(e))?;
        Ok(Self {
            client,
            max_body_bytes,
        })
    }
}

fn failed(e: reqwest::Error) -> UpstreamError {
    let context = if e.is_timeout() {
        "the authorization server did not answer in time"
    } else {
        "the authorization server could not be reached"
    };
    UpstreamError::new(context).with_source(e)
}

#[async_trait]
impl HttpClient for ReqwestClient {
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        let request = reqwest::Request::try_from(request)
            .map_err(|e| UpstreamError::new("the request is invalid").with_source(e))?;
        let mut response = self.client.execute(request).await.map_err(failed)?;
        let too_large = || UpstreamError::new("the authorization server's answer is too large");
        if response
            .content_length()
            .is_some_and(|n| n > self.max_body_bytes as u64)
        {
            return Err(too_large());
        }
        let mut answer = Response::builder().status(response.status());
        if let Some(headers) = answer.headers_mut() {
            *headers = std::mem::take(response.headers_mut());
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        answer
            .body(body.freeze())
            .map_err(|e| UpstreamError::new("the answer is invalid").with_source(e))
    }
}
