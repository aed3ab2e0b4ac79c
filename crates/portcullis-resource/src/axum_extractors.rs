//! axum integration: [`Authenticated`] and [`RequireScope`] as extractors, behind the
//! [`ResourceServerLayer`](crate::ResourceServerLayer), and the refusals as responses.

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use crate::{Authenticated, Forbidden, Rejection, RequireScope, RequiredScope, Unauthenticated};

/// Without the layer no request is authenticated: a server fault, not the client's.
const NO_LAYER: (StatusCode, &str) = (
    StatusCode::INTERNAL_SERVER_ERROR,
    "the route is not behind the resource server's layer",
);

/// The request the layer authenticated, for handlers:
///
/// ```
/// use std::sync::Arc;
/// use axum::routing::{get, post};
/// use axum::Router;
/// use portcullis_resource::{
///     Authenticated, RequireScope, RequiredScope, ResourceServer, TokenValidator,
/// };
///
/// struct Payments;
/// impl RequiredScope for Payments {
///     const SCOPE: &'static str = "payments";
/// }
///
/// async fn me(auth: Authenticated) -> String {
///     auth.claims().subject.clone().unwrap_or_default()
/// }
///
/// async fn pay(auth: RequireScope<Payments>) -> &'static str {
///     "paid"
/// }
///
/// fn app(validator: Arc<dyn TokenValidator>) -> Router {
///     let server = ResourceServer::builder("https://api.example", validator)
///         .build()
///         .expect("an https resource identifier");
///     Router::new()
///         .route("/me", get(me))
///         .route("/pay", post(pay))
///         .route("/refund", post(me).route_layer(server.layer().require_scope("payments")))
///         .layer(server.layer())
/// }
/// ```
impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = (StatusCode, &'static str);

    /// The request the [`ResourceServerLayer`](crate::ResourceServerLayer) authenticated; 500
    /// if the route is not behind it.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Authenticated>()
            .cloned()
            .ok_or(NO_LAYER)
    }
}

impl<S: Send + Sync, T: RequiredScope> FromRequestParts<S> for RequireScope<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let authenticated = Authenticated::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        RequireScope::check(authenticated).map_err(IntoResponse::into_response)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.to_response().map(Into::into)
    }
}

impl IntoResponse for Unauthenticated {
    fn into_response(self) -> Response {
        self.to_response().map(Into::into)
    }
}

impl IntoResponse for Forbidden {
    fn into_response(self) -> Response {
        self.to_response().map(Into::into)
    }
}
