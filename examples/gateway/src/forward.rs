//! Forwarding an authenticated request to the upstream API, and its answer back: the
//! client's credentials, the hop-by-hop headers and those it could forge for the upstream
//! stay at the gateway (`portcullis_resource::gateway`).

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, FORWARDED, HOST};
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use portcullis_resource::gateway::{forwarded_for, strip_hop_by_hop, strip_request_headers};

/// Why a request was not forwarded, or its answer not had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ForwardError {
    /// The request body exceeds the bound (413).
    #[error("the request body is too large")]
    TooLarge,
    /// The request body could not be read (400).
    #[error("the request body could not be read")]
    BadBody,
    /// The upstream could not be reached or broke the exchange (502).
    #[error("the upstream API could not be reached")]
    Unreachable,
    /// The upstream did not answer in time (504).
    #[error("the upstream API did not answer in time")]
    Timeout,
}

impl ForwardError {
    /// The answer to the client: a status and a short text, never the upstream's error.
    pub(crate) fn to_response(&self) -> Response<Body> {
        let status = match self {
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadBody => StatusCode::BAD_REQUEST,
            Self::Unreachable => StatusCode::BAD_GATEWAY,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
        };
        let mut response = Response::new(Body::from(self.to_string()));
        *response.status_mut() = status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

/// Sends requests to one upstream over a pool of HTTP/1.1 connections.
#[derive(Clone)]
pub(crate) struct Upstream {
    client: Client<HttpConnector, Full<Bytes>>,
    /// The upstream's scheme and authority, and a path prefix without trailing `/`.
    base: Uri,
    max_body_bytes: usize,
    timeout: Duration,
}

impl Upstream {
    pub(crate) fn new(base: Uri, max_body_bytes: usize, timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Self {
            client,
            base,
            max_body_bytes,
            timeout,
        }
    }

    /// Forwards `request` with `Authorization: Bearer <internal>` in place of the client's
    /// credentials; returns the upstream's answer, its body streamed.
    pub(crate) async fn forward(
        &self,
        request: Request<Body>,
        internal: &str,
    ) -> Result<Response<Body>, ForwardError> {
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, self.max_body_bytes).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(ForwardError::TooLarge)
            }
            Err(_) => return Err(ForwardError::BadBody),
        };
        let mut headers = parts.headers;
        strip_request_headers(&mut headers);
        if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            headers.insert(FORWARDED, forwarded_for(*peer, "http"));
        }
        for name in [HOST, CONTENT_LENGTH] {
            headers.remove(name);
        }
        let bearer = HeaderValue::try_from(format!("Bearer {internal}"))
            .map_err(|_| ForwardError::Unreachable)?;
        headers.insert(AUTHORIZATION, sensitive(bearer));
        let mut outgoing = Request::new(Full::new(body));
        *outgoing.method_mut() = parts.method;
        *outgoing.uri_mut() = self.uri(parts.uri.path_and_query())?;
        *outgoing.headers_mut() = headers;
        let sent = tokio::time::timeout(self.timeout, self.client.request(outgoing)).await;
        let response = match sent {
            Ok(Ok(response)) => response,
            Ok(Err(_)) => return Err(ForwardError::Unreachable),
            Err(_) => return Err(ForwardError::Timeout),
        };
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, Body::new(body)))
    }

    /// The upstream URI of a request for `path_and_query`.
    fn uri(&self, path_and_query: Option<&PathAndQuery>) -> Result<Uri, ForwardError> {
        let prefix = self.base.path().trim_end_matches('/');
        let rest = path_and_query.map_or("/", PathAndQuery::as_str);
        let mut parts = self.base.clone().into_parts();
        parts.path_and_query = Some(
            format!("{prefix}{rest}")
                .parse()
                .map_err(|_| ForwardError::Unreachable)?,
        );
        Uri::from_parts(parts).map_err(|_| ForwardError::Unreachable)
    }
}

fn sensitive(mut value: HeaderValue) -> HeaderValue {
    value.set_sensitive(true);
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_go_under_the_upstream_prefix() {
        let at = |base: &str, pq: &str| {
            let u = Upstream::new(base.parse().unwrap(), 1, Duration::from_secs(1));
            u.uri(Some(&pq.parse().unwrap())).unwrap().to_string()
        };
        assert_eq!(at("http://api:8080", "/a?b=1"), "http://api:8080/a?b=1");
        assert_eq!(at("http://api:8080/v1/", "/a"), "http://api:8080/v1/a");
    }
}
