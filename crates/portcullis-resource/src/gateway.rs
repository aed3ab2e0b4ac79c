//! The edge rules of a gateway (a reverse proxy) in front of an API: what every gateway that
//! validates tokens at the edge and forwards requests inside must do, on `http` types.
//!
//! - [`is_forwardable_target`]: only origin-form request targets (RFC 9112 §3.2.1; the path
//!   and query of an absolute-form one) are forwarded, never `OPTIONS *` nor `CONNECT`, nor a
//!   path with dot segments that a hop removing them (RFC 3986 §5.2.4) would take out of the
//!   upstream's path prefix.
//! - [`strip_request_headers`]: the client's credentials (`Authorization`,
//!   `Proxy-Authorization`, `DPoP`: proven at the edge, meant for it only), the hop-by-hop
//!   headers (RFC 9110 §7.6.1) and the headers an upstream trusts from its proxy
//!   (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`, client certificates; RFC 7239 §8) never
//!   pass; the gateway sets its own ([`forwarded_for`], RFC 7239 §4).
//! - [`strip_hop_by_hop`] on the upstream's answer too.
//! - [`rewrite_resource_metadata`]: the upstream's challenges (403 `insufficient_scope`,
//!   RFC 9470 step-up) name the gateway's RFC 9728 document, the resource the client calls.

use std::net::SocketAddr;

use http::header::{
    HeaderName, AUTHORIZATION, CONNECTION, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER,
    TRANSFER_ENCODING, UPGRADE, WWW_AUTHENTICATE,
};
use http::{HeaderMap, HeaderValue, Uri};

/// The client's proof of possession (RFC 9449 §4.1): meant for the edge only.
const DPOP: HeaderName = HeaderName::from_static("dpop");
/// Headers a client could forge to pass for another peer, scheme or host, or for a TLS
/// client certificate: upstreams commonly trust them from their proxy (RFC 7239 §8).
pub const PROXY_SET_HEADERS: [&str; 10] = [
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

/// Whether a request target may be forwarded: origin-form (RFC 9112 §3.2.1), or
/// absolute-form, which a server must accept (RFC 9112 §3.2.2; forward only its path and
/// query) — not `OPTIONS *` (asterisk-form) nor `CONNECT host:port` (authority-form) — and
/// no `.` or `..` segment, raw or percent-encoded in any case, nor one hidden behind an
/// encoded slash or a backslash. Refuse the others with 400 before authentication.
pub fn is_forwardable_target(uri: &Uri) -> bool {
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

/// Removes from a request's headers what must not reach the upstream: the hop-by-hop
/// headers ([`strip_hop_by_hop`]), the client's credentials (`Authorization`,
/// `Proxy-Authorization`, `DPoP`) and the [`PROXY_SET_HEADERS`]. The gateway then sets its
/// own `Authorization` and [`forwarded_for`].
pub fn strip_request_headers(headers: &mut HeaderMap) {
    strip_hop_by_hop(headers);
    for name in PROXY_SET_HEADERS {
        headers.remove(name);
    }
    for name in [AUTHORIZATION, PROXY_AUTHORIZATION, DPOP] {
        headers.remove(name);
    }
}

/// Removes the hop-by-hop headers (RFC 9110 §7.6.1): those the `Connection` header names,
/// and the standard ones.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
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

/// The gateway's `Forwarded` header for a client at `peer` over `proto` (`http` or
/// `https`; RFC 7239 §4, §6: an address with a port is a quoted string, an IPv6 one in
/// brackets).
pub fn forwarded_for(peer: SocketAddr, proto: &str) -> HeaderValue {
    HeaderValue::try_from(format!("for=\"{peer}\";proto={proto}"))
        .unwrap_or_else(|_| HeaderValue::from_static("for=unknown"))
}

/// Points the upstream's challenges at the gateway: each `resource_metadata` parameter of
/// a `WWW-Authenticate` header (RFC 9728 §5.1) becomes `metadata_url`, the document of
/// the resource the client actually calls — the upstream's names a resource the client
/// cannot reach, and its 403 `insufficient_scope` or step-up challenge (RFC 6750 §3.1,
/// RFC 9470 §3) should send the client back to the gateway's authorization servers.
pub fn rewrite_resource_metadata(headers: &mut HeaderMap, metadata_url: &str) {
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
            ("proxy-connection", "keep-alive"),
            ("proxy-authenticate", "Basic"),
            ("te", "trailers"),
            ("trailer", "x-t"),
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

    /// The client's credentials and every header it could forge for the upstream go; the
    /// rest of the request stays.
    #[test]
    fn a_request_keeps_neither_credentials_nor_proxy_headers() {
        let mut h = HeaderMap::new();
        for name in PROXY_SET_HEADERS {
            h.append(name, HeaderValue::from_static("forged"));
        }
        for (name, value) in [
            ("authorization", "DPoP t"),
            ("proxy-authorization", "Basic x"),
            ("dpop", "proof"),
            ("connection", "x-hop"),
            ("x-hop", "1"),
            ("accept", "application/json"),
            ("x-request-id", "r1"),
        ] {
            h.append(name, HeaderValue::from_static(value));
        }
        strip_request_headers(&mut h);
        let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["accept", "x-request-id"]);
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
        let at = |peer: &str, proto| forwarded_for(peer.parse().unwrap(), proto);
        assert_eq!(
            at("192.0.2.1:4711", "http"),
            "for=\"192.0.2.1:4711\";proto=http"
        );
        assert_eq!(
            at("[2001:db8::1]:80", "https"),
            "for=\"[2001:db8::1]:80\";proto=https"
        );
        assert_eq!(at("192.0.2.1:1", "bad\nproto"), "for=unknown");
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
        h.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="x", resource_metadata="unterminated"#),
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
                r#"Bearer realm="x", resource_metadata="unterminated"#,
            ]
        );
        let mut none = HeaderMap::new();
        rewrite_resource_metadata(&mut none, "https://gw/m");
        assert!(none.is_empty());
    }
}
