//! Between actix-web's `http` 0.2 types and the engine's `http` 1 types: a copy of the
//! method, target, version, headers and status, nothing interpreted.

use actix_web::http::header::{
    HeaderMap as ActixHeaderMap, HeaderName as ActixName, HeaderValue as ActixValue,
};
use actix_web::http::{StatusCode as ActixStatus, Version as ActixVersion};
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, Uri, Version};
use portcullis::ClientCertificate;

/// The request's head in `http` 1 types, with the peer's address as a
/// [`std::net::SocketAddr`] extension and the client's certificate as a
/// [`ClientCertificate`] one (over TLS); `None` if actix accepted what `http` 1 refuses.
pub(crate) fn request_head(req: &HttpRequest) -> Option<http::request::Parts> {
    let builder = http::Request::builder()
        .method(Method::from_bytes(req.method().as_str().as_bytes()).ok()?)
        .uri(Uri::try_from(req.uri().to_string()).ok()?)
        .version(version(req.version()));
    let (mut head, ()) = builder.body(()).ok()?.into_parts();
    head.headers = from_actix(req.headers())?;
    if let Some(peer) = req.peer_addr() {
        head.extensions.insert(peer);
    }
    // From the TLS layer (`serve_tls`), never from a header.
    if let Some(certificate) = req.conn_data::<ClientCertificate>() {
        head.extensions.insert(certificate.clone());
    }
    Some(head)
}

fn version(v: ActixVersion) -> Version {
    match v {
        ActixVersion::HTTP_09 => Version::HTTP_09,
        ActixVersion::HTTP_10 => Version::HTTP_10,
        ActixVersion::HTTP_2 => Version::HTTP_2,
        ActixVersion::HTTP_3 => Version::HTTP_3,
        _ => Version::HTTP_11,
    }
}

/// Converts an engine response (or a host page) into an actix-web response.
pub fn into_response(r: http::Response<Bytes>) -> HttpResponse {
    let (head, body) = r.into_parts();
    let status =
        ActixStatus::from_u16(head.status.as_u16()).unwrap_or(ActixStatus::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::with_body(status, body);
    append_to_actix(&head.headers, response.headers_mut());
    response.map_into_boxed_body()
}

/// `headers` in `http` 1 types; `None` if one is not valid there (the two crates accept the
/// same names and values).
fn from_actix(headers: &ActixHeaderMap) -> Option<http::HeaderMap> {
    let mut converted = http::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        converted.append(
            HeaderName::from_bytes(name.as_str().as_bytes()).ok()?,
            HeaderValue::from_bytes(value.as_bytes()).ok()?,
        );
    }
    Some(converted)
}

fn append_to_actix(from: &http::HeaderMap, to: &mut ActixHeaderMap) {
    for (name, value) in from {
        // Every `http` 1 header is a valid `http` 0.2 one: nothing is skipped.
        if let (Ok(name), Ok(value)) = (
            ActixName::from_bytes(name.as_str().as_bytes()),
            ActixValue::from_bytes(value.as_bytes()),
        ) {
            to.append(name, value);
        }
    }
}

/// Applies `edit` to an actix-web response's headers as `http` 1 headers, e.g. in a
/// middleware adding a host's security headers to every response.
pub fn edit_headers(headers: &mut ActixHeaderMap, edit: impl FnOnce(&mut http::HeaderMap)) {
    if let Some(mut edited) = from_actix(headers) {
        edit(&mut edited);
        headers.clear();
        append_to_actix(&edited, headers);
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn the_request_head_is_copied_whole() {
        let peer: std::net::SocketAddr = "192.0.2.7:4567".parse().unwrap();
        let req = TestRequest::with_uri("/authorize?a=1&b=%20")
            .method(actix_web::http::Method::from_bytes(b"PROPFIND").unwrap())
            .version(ActixVersion::HTTP_10)
            .append_header(("cookie", "a=1"))
            .append_header(("cookie", "b=2"))
            .append_header(("x-odd", &b"caf\xc3\xa9"[..]))
            .peer_addr(peer)
            .to_http_request();
        let head = request_head(&req).unwrap();
        assert_eq!(head.method.as_str(), "PROPFIND");
        assert_eq!(head.uri, "/authorize?a=1&b=%20");
        assert_eq!(head.version, Version::HTTP_10);
        let cookies: Vec<_> = head.headers.get_all("cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(head.headers["x-odd"].as_bytes(), b"caf\xc3\xa9");
        assert_eq!(head.extensions.get::<std::net::SocketAddr>(), Some(&peer));
    }

    #[test]
    fn headers_are_edited_as_http_headers() {
        let mut response = HttpResponse::Ok()
            .append_header(("set-cookie", "a=1"))
            .append_header(("set-cookie", "b=2"))
            .append_header(("x-frame-options", "SAMEORIGIN"))
            .finish();
        edit_headers(response.headers_mut(), |h| {
            h.remove("x-frame-options");
            h.insert("cache-control", HeaderValue::from_static("no-store"));
        });
        let headers = response.headers();
        let cookies: Vec<_> = headers.get_all("set-cookie").collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert!(headers.get("x-frame-options").is_none());
        assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    }

    #[test]
    fn the_response_is_copied_whole() {
        let engine = http::Response::builder()
            .status(http::StatusCode::SEE_OTHER)
            .header("set-cookie", "a=1")
            .header("set-cookie", "b=2")
            .header("location", "https://rp.example/cb?code=x")
            .body(Bytes::from_static(b"body"))
            .unwrap();
        let response = into_response(engine);
        assert_eq!(response.status(), ActixStatus::SEE_OTHER);
        let cookies: Vec<_> = response.headers().get_all("set-cookie").collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(
            response.headers().get("location").unwrap(),
            "https://rp.example/cb?code=x"
        );
        let body = actix_web::rt::System::new()
            .block_on(actix_web::body::to_bytes(response.into_body()))
            .unwrap();
        assert_eq!(body, Bytes::from_static(b"body"));
    }
}
