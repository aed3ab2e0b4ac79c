//! Token validation for APIs (resource servers) that accept access tokens from an OAuth 2.0
//! authorization server — Portcullis or any other that speaks the standards.
//!
//! A [`TokenValidator`] turns a presented access token into the [`TokenClaims`] it stands
//! for, or says why it is not valid ([`TokenError`]). Validators that must ask the
//! authorization server (its keys, its introspection endpoint) do so through an
//! [`HttpClient`], and read the time from an injected [`Clock`].
//!
//! This crate never depends on the engine (`portcullis`): an API needs no authorization
//! server inside it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod claims;
mod client_credentials;
mod http_client;
mod introspection;
mod introspection_response;
mod jwt;
pub mod keys;
mod token_error;
mod validator;
mod verdict_cache;

pub use claims::TokenClaims;
pub use client_credentials::ClientCredentials;
pub use http_client::HttpClient;
pub use introspection::{IntrospectionConfig, IntrospectionValidator, JwtResponses};
pub use jwt::{JwtValidator, DEFAULT_ALGORITHMS, DEFAULT_CLOCK_SKEW, MAX_JWT_BYTES};
pub use keys::IssuerKeys;
pub use portcullis_store::{Clock, ManualClock, SystemClock};
pub use token_error::{TokenError, UpstreamError};
pub use validator::TokenValidator;
