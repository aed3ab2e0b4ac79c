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
mod http_client;
mod jws_type;
mod jwt;
pub mod keys;
#[cfg(feature = "reqwest")]
mod reqwest_client;
mod token_error;
mod validator;

pub use claims::TokenClaims;
pub use http_client::HttpClient;
pub use jws_type::is_jws_type;
pub use jwt::{JwtValidator, DEFAULT_ALGORITHMS, DEFAULT_CLOCK_SKEW, MAX_JWT_BYTES};
pub use keys::IssuerKeys;
pub use portcullis_store::{Clock, ManualClock, SystemClock};
#[cfg(feature = "reqwest")]
pub use reqwest_client::{ReqwestClient, DEFAULT_MAX_BODY_BYTES, DEFAULT_TIMEOUT};
pub use token_error::{TokenError, UpstreamError};
pub use validator::TokenValidator;
