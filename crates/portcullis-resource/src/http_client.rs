//! How validators reach the authorization server.

use async_trait::async_trait;
use bytes::Bytes;
use http::{Request, Response};

use crate::UpstreamError;

/// Sends a validator's requests to the authorization server: discovery (RFC 8414), its
/// keys (RFC 7517) and introspection (RFC 7662). Injected, so that a host chooses its
/// HTTP stack and tests answer in process.
///
/// An implementation must not follow redirects, must bound each request in time, and must
/// read a response body only up to a bound it documents.
#[async_trait]
pub trait HttpClient: Send + Sync + 'static {
    /// Sends `request` and returns the response with its body read.
    async fn send(&self, request: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError>;
}
