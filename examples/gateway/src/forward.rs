//! Forwarding an authenticated request to the upstream API, and its answer back: the
//! client's credentials and the hop-by-hop headers stay at the gateway (RFC 9110 §7.6.1).

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::header::{
    HeaderName, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, FORWARDED, HOST, PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE, WWW_AUTHENTICATE,
};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The client's proof of possession (RFC 9449 §4.1): meant for the gateway only.
const DPOP: HeaderName = HeaderName::from_static("dpop");
/// Headers a client could forge to pass for another peer, scheme or host, or for a TLS
/// client certificate: upstreams commonly trust them from their proxy (RFC 7239 §8), so
/// the client's never pass; the gateway sets its own `Forwarded` (RFC 7239 §4).
const FORGEABLE: [&str; 10] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "x-ssl-client-cert",
    "x-client-cert",
    "x-forwarded-client-cert",
    "ssl-client-cert",
    "client-cert",
];
/// Hop-by-hop headers besides those the `Connection` header names (RFC 9110 §7.6.1; the
/// obsolete `Keep-Alive` and `Proxy-Connection` too).
const HOP_BY_HOP: [&str; 2] = ["keep-alive", "proxy-connection"];

/// Whether a request target may be forwarded: origin-form only (RFC 9112 §3.2.1), or
/// absolute-form, which a server must accept (RFC 9112 §3.2.2; only its path and query are
/// forwarded) — not `OPTIONS *` (asterisk-form) nor `CONNECT host:port` (authority-form) —
/// and no `.` or `..` segment, raw or percent-encoded in any case, nor one hidden behind an
/// encoded slash or a backslash: a hop that removes dot segments (RFC 3986 §5.2.4) would
/// otherwise take `/../admin` out of the upstream's path prefix.
pub(crate) fn is_forwardable_target(uri: &Uri) -> bool {
    let path = uri.path();
    if !path.starts_with('/') {
        return false;
    }
    let path = path
        .to_ascii_lowercase()
        .replace("%2e", ".")
        .replace("%2f", "/")
        .replace("%5c", "/")
        .replace('\\', "/");
    !path
        .split('/')
        .any(|segment| segment == "." || segment == "..")
}

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
        strip_hop_by_hop(&mut headers);
        for name in FORGEABLE {
            headers.remove(name);
        }
        if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            headers.insert(FORWARDED, forwarded_for(*peer));
        }
        for name in [
            AUTHORIZATION,
            PROXY_AUTHORIZATION,
            DPOP,
            HOST,
            CONTENT_LENGTH,
        ] {
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

/// The gateway's `Forwarded` header for a client at `peer` (RFC 7239 §4, §6: an address
/// with a port is a quoted string, an IPv6 one in brackets).
fn forwarded_for(peer: SocketAddr) -> HeaderValue {
    HeaderValue::try_from(format!("for=\"{peer}\";proto=http"))
        .unwrap_or_else(|_| HeaderValue::from_static("for=unknown;proto=http"))
}

/// Points the upstream's challenges at the gateway: each `resource_metadata` parameter of
/// a `WWW-Authenticate` header (RFC 9728 §5.1) becomes `metadata_url`, the document of
/// the resource the client actually calls — the upstream's names a resource the client
/// cannot reach, and its 403 `insufficient_scope` or step-up challenge (RFC 6750 §3.1,
/// RFC 9470 §3) should send the client back to the gateway's authorization servers.
pub(crate) fn rewrite_resource_metadata(headers: &mut HeaderMap, metadata_url: &str) {
    const PARAM: &str = "resource_metadata=\"";
    let rewritten: Vec<HeaderValue> = headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|value| {
            let Ok(text) = value.to_str() else {
                return value.clone();
            };
            let mut out = String::with_capacity(text.len());
            let mut rest = text;
            while let Some(at) = rest.find(PARAM) {
                let (before, after) = rest.split_at(at + PARAM.len());
                let Some(end) = after.find('"') else { break };
                out.push_str(before);
                out.push_str(metadata_url);
                rest = &after[end..];
            }
            out.push_str(rest);
            HeaderValue::try_from(out).unwrap_or_else(|_| value.clone())
        })
        .collect();
    if rewritten.is_empty() {
        return;
    }
    headers.remove(WWW_AUTHENTICATE);
    for value in rewritten {
        headers.append(WWW_AUTHENTICATE, value);
    }
}

fn sensitive(mut value: HeaderValue) -> HeaderValue {
    value.set_sensitive(true);
    value
}

/// Removes the hop-by-hop headers (RFC 9110 §7.6.1): those the `Connection` header names,
/// and the standard ones.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        CONNECTION,
        PROXY_AUTHENTICATE,
        TE,
        TRAILER,
        TRANSFER_ENCODING,
        UPGRADE,
    ] {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_go_and_the_others_stay() {
        let mut h = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("x-end", "2"),
            ("accept", "application/json"),
        ] {
            h.append(name, HeaderValue::from_static(value));
        }
        strip_hop_by_hop(&mut h);
        let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["accept", "x-end"]);
    }

    #[test]
    fn only_origin_form_targets_without_dot_segments_are_forwarded() {
        let ok = |target: &str| is_forwardable_target(&target.parse().unwrap());
        for good in [
            "/",
            "/items?page=2",
            "/a.b/..c/.well-known/x",
            "/a/...",
            "http://gw/items",
        ] {
            assert!(ok(good), "{good}");
        }
        for bad in [
            "*",
            "gw:443",
            "/../admin",
            "/items/..",
            "/a/./b",
            "/%2e%2e/admin",
            "/%2E%2e/admin",
            "/.%2E/admin",
            "/%2e/admin",
            "/..%2fadmin",
            "/..%2Fadmin",
            "/..%5cadmin",
            "/..\\admin",
            "http://gw/../admin",
        ] {
            assert!(!ok(bad), "{bad}");
        }
    }

    #[test]
    fn the_forwarded_header_quotes_the_peer() {
        let at = |peer: &str| forwarded_for(peer.parse().unwrap());
        assert_eq!(at("192.0.2.1:4711"), "for=\"192.0.2.1:4711\";proto=http");
        assert_eq!(
            at("[2001:db8::1]:80"),
            "for=\"[2001:db8::1]:80\";proto=http"
        );
    }

    #[test]
    fn challenges_name_the_gateways_metadata() {
        let mut h = HeaderMap::new();
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(
                r#"Bearer error="insufficient_scope", scope="admin", resource_metadata="http://api/.well-known/oauth-protected-resource""#,
            ),
        );
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"DPoP algs="ES256", resource_metadata="http://api/m""#),
        );
        rewrite_resource_metadata(&mut h, "https://gw/m");
        let all: Vec<&str> = h
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            all,
            [
                r#"Bearer error="insufficient_scope", scope="admin", resource_metadata="https://gw/m""#,
                r#"DPoP algs="ES256", resource_metadata="https://gw/m""#,
            ]
        );
    }

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
