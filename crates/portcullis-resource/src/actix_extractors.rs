//! actix-web integration: [`Authenticated`] and [`RequireScope`] as extractors, refusals as
//! error responses, and the RFC 9728 document as a handler. The [`ResourceServer`] is the
//! app's data (`App::new().app_data(server.clone())`); a request is authenticated once
//! however many extractors ask (its DPoP proof is spent once) — once per server: an
//! authentication by another `ResourceServer` (another scope's app data) is not reused.
//!
//! Unlike the tower layer, the extractors do not add [`Authenticated::response_headers`]
//! to the response (an extractor has no hold on it): the handler copies them.
//!
//! actix-web speaks `http` 0.2: the request's head is copied into `http` 1 types (method,
//! target, headers, and the `ClientCertificate` the TLS layer put on the connection), and a
//! response back.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderName as ActixName, HeaderValue as ActixValue};
use actix_web::http::StatusCode as ActixStatus;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, Uri};
use portcullis_core::ClientCertificate;

use crate::{Authenticated, Rejection, RequireScope, RequiredScope, ResourceServer};

/// A boxed extractor future (actix-web runs them on one thread).
type Extracting<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

/// Refusals of the extractors when the app is misconfigured: no [`ResourceServer`] data, or
/// a request head `http` 1 refuses.
fn server_fault(message: &'static str) -> actix_web::Error {
    actix_web::error::ErrorInternalServerError(message)
}

impl FromRequest for Authenticated {
    type Error = actix_web::Error;
    type Future = Extracting<Self>;

    /// The request authenticated by the app's [`ResourceServer`] (the token from the
    /// `Authorization` header, or the query when allowed).
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let server = req
                .app_data::<ResourceServer>()
                .cloned()
                .ok_or_else(|| server_fault("no ResourceServer in the app data"))?;
            if let Some(done) = server.own_authentication(req.extensions().get()) {
                return Ok(done.clone());
            }
            let parts = request_head(&req).ok_or_else(|| server_fault("unreadable request"))?;
            let authenticated = server.authenticate(&parts, None).await?;
            req.extensions_mut().insert(authenticated.clone());
            Ok(authenticated)
        })
    }
}

impl<T: RequiredScope> FromRequest for RequireScope<T> {
    type Error = actix_web::Error;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let authenticated = Authenticated::from_request(req, payload);
        Box::pin(async move {
            RequireScope::check(authenticated.await?).map_err(|f| Rejection::from(f).into())
        })
    }
}

impl ResponseError for Rejection {
    fn status_code(&self) -> ActixStatus {
        ActixStatus::from_u16(self.status().as_u16()).unwrap_or(ActixStatus::UNAUTHORIZED)
    }

    fn error_response(&self) -> HttpResponse {
        into_actix(self.to_response())
    }
}

/// The RFC 9728 document of the app's [`ResourceServer`], a handler to route at each of
/// [`ResourceServer::metadata_paths`]; 500 without a `ResourceServer` in the app data.
pub async fn protected_resource_metadata(req: HttpRequest) -> HttpResponse {
    match req.app_data::<ResourceServer>() {
        Some(server) => into_actix(server.metadata().to_response()),
        None => HttpResponse::InternalServerError().finish(),
    }
}

/// The request's head in `http` 1 types, with the TLS client certificate (from the
/// connection, never a header) as an extension; `None` if `http` 1 refuses a part.
fn request_head(req: &HttpRequest) -> Option<http::request::Parts> {
    let (mut head, ()) = http::Request::builder()
        .method(Method::from_bytes(req.method().as_str().as_bytes()).ok()?)
        .uri(Uri::try_from(req.uri().to_string()).ok()?)
        .body(())
        .ok()?
        .into_parts();
    for (name, value) in req.headers() {
        head.headers.append(
            HeaderName::from_bytes(name.as_str().as_bytes()).ok()?,
            HeaderValue::from_bytes(value.as_bytes()).ok()?,
        );
    }
    if let Some(certificate) = req.conn_data::<ClientCertificate>() {
        head.extensions.insert(certificate.clone());
    }
    Some(head)
}

/// An `http` 1 response as an actix-web one.
fn into_actix(response: http::Response<Bytes>) -> HttpResponse {
    let (head, body) = response.into_parts();
    let status =
        ActixStatus::from_u16(head.status.as_u16()).unwrap_or(ActixStatus::INTERNAL_SERVER_ERROR);
    let mut out = HttpResponse::with_body(status, body);
    for (name, value) in &head.headers {
        if let (Ok(name), Ok(value)) = (
            ActixName::from_bytes(name.as_str().as_bytes()),
            ActixValue::from_bytes(value.as_bytes()),
        ) {
            out.headers_mut().append(name, value);
        }
    }
    out.map_into_boxed_body()
}
