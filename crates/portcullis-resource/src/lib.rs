//! Token validation for APIs (resource servers) that accept access tokens from an OAuth 2.0
//! authorization server — Portcullis or any other that speaks the standards.
//!
//! A [`TokenValidator`] turns a presented access token into the [`TokenClaims`] it stands
//! for, or says why it is not valid ([`TokenError`]). Validators that must ask the
//! authorization server (its keys, its introspection endpoint) do so through an
//! [`HttpClient`], and read the time from an injected [`Clock`].
//!
//! A [`ResourceServer`] puts them to work on requests: it reads the one access token of a
//! request (RFC 6750 §2), has it validated, checks what the token is bound to (DPoP, RFC 9449
//! §7; the TLS client certificate, RFC 8705 §3) and answers with an [`Authenticated`] request
//! or a [`Rejection`] whose response carries the challenges of RFC 6750 §3, RFC 9449 §7.1,
//! RFC 9470 §3 and RFC 9728 §5.1. Authentication ([`Unauthenticated`], 401) and authorization
//! ([`Forbidden`], 403) are distinct types. It also publishes the resource's RFC 9728
//! metadata ([`ProtectedResourceMetadata`]).
//!
//! A gateway in front of an API (validating tokens at the edge, forwarding inside) applies
//! the edge rules of the [`gateway`] module: which request targets it forwards, which
//! headers never pass, and whose metadata the upstream's challenges name.
//!
//! Features: `tower` (a `Layer` authenticating every request and serving the metadata),
//! `axum` (extractors: the authenticated request, a route's required scope) and `actix`
//! (the same for actix-web).
//!
//! **Where the layer goes.** A DPoP proof's `htu` and the metadata document's paths are
//! matched against the request's path as the layer sees it: put the layer outside any
//! axum `Router::nest` (or other middleware) that strips a path prefix, or an inner layer
//! sees `/items` where the client signed `/api/items`. **actix-web** extractors do not add
//! [`Authenticated::response_headers`] (a fresh `DPoP-Nonce`, RFC 9449 §9;
//! `Cache-Control: private` after a query token, RFC 6750 §2.3) to the response: the
//! handler copies them itself.
//!
//! This crate never depends on the engine (`portcullis`): an API needs no authorization
//! server inside it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "actix")]
mod actix_extractors;
mod authenticated;
#[cfg(feature = "axum")]
mod axum_extractors;
mod challenge;
mod claims;
mod client_credentials;
pub mod gateway;
mod http_client;
mod introspection;
mod introspection_response;
mod jws_type;
mod jwt;
pub mod keys;
#[cfg(feature = "tower")]
mod layer;
mod metadata;
mod presented_token;
mod rejection;
#[cfg(any(feature = "axum", feature = "actix"))]
mod required_scope;
#[cfg(feature = "reqwest")]
mod reqwest_client;
mod resource_server;
mod sender_constraint;
mod token_error;
mod validator;
mod verdict_cache;

#[cfg(feature = "actix")]
pub use actix_extractors::protected_resource_metadata;
pub use authenticated::Authenticated;
pub use claims::TokenClaims;
pub use client_credentials::ClientCredentials;
pub use http_client::HttpClient;
pub use introspection::{IntrospectionConfig, IntrospectionValidator, JwtResponses};
pub use jwt::{JwtValidator, DEFAULT_ALGORITHMS, DEFAULT_CLOCK_SKEW, MAX_JWT_BYTES};
pub use keys::IssuerKeys;
#[cfg(feature = "tower")]
pub use layer::{ResourceServerLayer, ResourceServerService};
pub use metadata::{ProtectedResourceMetadata, WELL_KNOWN_PATH};
pub use portcullis_core::TokenScheme;
pub use portcullis_store::{Clock, ManualClock, SystemClock};
pub use rejection::{Forbidden, Rejection, Unauthenticated};
#[cfg(any(feature = "axum", feature = "actix"))]
pub use required_scope::{RequireScope, RequiredScope};
#[cfg(feature = "reqwest")]
pub use reqwest_client::{ReqwestClient, DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT};
pub use resource_server::{ResourceServer, ResourceServerBuilder, ResourceServerError};
pub use token_error::{TokenError, UpstreamError};
pub use validator::TokenValidator;
