//! A tower [`Layer`] protecting every request of the services it wraps: it answers the RFC
//! 9728 metadata document, authenticates each other request (the token from the
//! `Authorization` header, or the query when [allowed]), puts the [`Authenticated`] request
//! in the request's extensions, applies the route's guards, answers refusals with their
//! challenges, and adds [`Authenticated::response_headers`] to the service's response.
//!
//! A form-body token (RFC 6750 §2.2) needs the body, which a layer does not read: call
//! [`ResourceServer::authenticate`] with it instead. For browser clients, put the CORS layer
//! outside this one (preflight requests carry no token), and have it expose
//! `WWW-Authenticate` and `DPoP-Nonce` (RFC 9449 §7.1).
//!
//! The layer must see the path the client used: a DPoP proof's `htu` (RFC 9449 §4.3) and
//! the metadata paths (RFC 9728 §3.1) are matched against the request's path, so put it
//! outside an axum `Router::nest` (or any layer) that strips a path prefix.
//!
//! [allowed]: crate::ResourceServerBuilder::dangerous_allow_query_token

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use tower::{Layer, Service};

use crate::{Authenticated, Rejection, ResourceServer};

/// What a route requires of an authenticated request.
#[derive(Debug, Clone, Default)]
struct RouteGuard {
    /// Scopes, space-separated (RFC 6750 §3.1).
    scope: Option<String>,
    /// Acceptable `acr` values and the largest age of the login (RFC 9470).
    acr_values: Vec<String>,
    max_age: Option<Duration>,
}

impl RouteGuard {
    /// The login first, then the scope: a scope that faded with the age of the login (an
    /// authorization server's scope lifetimes) comes back with a new login, which the 401
    /// asks for (RFC 9470 §3); a 403 would leave the client nothing to do.
    fn check(&self, authenticated: &Authenticated) -> Result<(), Rejection> {
        if !self.acr_values.is_empty() || self.max_age.is_some() {
            let acr_values: Vec<&str> = self.acr_values.iter().map(String::as_str).collect();
            authenticated.require_authentication(&acr_values, self.max_age)?;
        }
        if let Some(scope) = &self.scope {
            authenticated.require_scope(scope)?;
        }
        Ok(())
    }
}

/// The layer of a [`ResourceServer`] ([`ResourceServer::layer`]), with the guards of the
/// routes it wraps.
///
/// Layers nest: an inner layer (e.g. axum's `route_layer` for one route's scope) reuses the
/// [`Authenticated`] request an outer layer of the same [`ResourceServer`] (or a clone) put
/// in the extensions, so a request is authenticated, and its DPoP proof spent, once. An
/// inner layer of another server authenticates the request again with its own rules
/// (audience, `require_dpop`...) and replaces the extension.
#[derive(Debug, Clone)]
pub struct ResourceServerLayer {
    server: ResourceServer,
    guard: Arc<RouteGuard>,
}

impl ResourceServer {
    /// A tower layer authenticating every request with this resource server.
    pub fn layer(&self) -> ResourceServerLayer {
        ResourceServerLayer {
            server: self.clone(),
            guard: Arc::default(),
        }
    }
}

impl ResourceServerLayer {
    /// Also requires every scope of `scopes` (space-separated): 403 `insufficient_scope`
    /// otherwise ([`Authenticated::require_scope`]).
    pub fn require_scope(mut self, scopes: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.guard).scope = Some(scopes.into());
        self
    }

    /// Also requires a login of one of `acr_values` (any when empty) no older than `max_age`:
    /// 401 `insufficient_user_authentication` otherwise
    /// ([`Authenticated::require_authentication`], RFC 9470 §3). Checked before the scope, so
    /// a scope that faded with the login's age is answered with the step-up that restores it.
    pub fn require_authentication<I, S>(mut self, acr_values: I, max_age: Option<Duration>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let guard = Arc::make_mut(&mut self.guard);
        guard.acr_values = acr_values.into_iter().map(Into::into).collect();
        guard.max_age = max_age;
        self
    }
}

impl<S> Layer<S> for ResourceServerLayer {
    type Service = ResourceServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ResourceServerService {
            inner,
            server: self.server.clone(),
            guard: self.guard.clone(),
        }
    }
}

/// The service of a [`ResourceServerLayer`].
#[derive(Debug, Clone)]
pub struct ResourceServerService<S> {
    inner: S,
    server: ResourceServer,
    guard: Arc<RouteGuard>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for ResourceServerService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<Bytes>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // The clone is the one that is not ready yet; the ready one serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let server = self.server.clone();
        let guard = self.guard.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            if matches!(parts.method, Method::GET | Method::HEAD)
                && server.is_metadata_path(parts.uri.path())
            {
                return Ok(server.metadata().to_response().map(ResBody::from));
            }
            let outer = server.own_authentication(parts.extensions.get::<Authenticated>());
            let authenticated = match outer {
                Some(outer) => outer.clone(),
                None => match server.authenticate(&parts, None).await {
                    Ok(a) => a,
                    Err(rejection) => return Ok(rejection.to_response().map(ResBody::from)),
                },
            };
            if let Err(rejection) = guard.check(&authenticated) {
                return Ok(rejection.to_response().map(ResBody::from));
            }
            let response_headers = authenticated.response_headers().clone();
            parts.extensions.insert(authenticated);
            let mut response = inner.call(Request::from_parts(parts, body)).await?;
            for (name, value) in &response_headers {
                if !response.headers().contains_key(name) {
                    response.headers_mut().insert(name, value.clone());
                }
            }
            Ok(response)
        })
    }
}
