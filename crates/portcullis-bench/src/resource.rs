//! A resource server validating JWT access tokens (`portcullis-resource`), its issuer's
//! keys fetched once and cached, as an API validates them after its first request.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use portcullis::core::{Issuer, Jwk, JwkSet, UnixTime};
use portcullis_resource::{
    HttpClient, IssuerKeys, JwtValidator, TokenClaims, TokenValidator, UpstreamError,
};
use tokio::runtime::Runtime;

/// Answers every request with the issuer's JWK Set.
struct Jwks(Bytes);

#[portcullis::async_trait]
impl HttpClient for Jwks {
    async fn send(&self, _: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        Ok(Response::new(self.0.clone()))
    }
}

/// A `JwtValidator` for tokens that `issuer` issues for itself (`aud` the issuer, as the
/// engine mints them without a `resource`), on a single-threaded runtime.
pub(crate) struct ResourceServer {
    validator: JwtValidator,
    runtime: Runtime,
}

impl ResourceServer {
    pub(crate) fn new(issuer: &str, keys: Vec<Jwk>) -> Self {
        let jwks = serde_json::to_vec(&JwkSet { keys }).expect("JWK Set");
        let keys = IssuerKeys::from_jwks_uri(
            Issuer::parse(issuer).expect("issuer"),
            format!("{issuer}/jwks"),
            Arc::new(Jwks(jwks.into())),
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        Self {
            validator: JwtValidator::new(Arc::new(keys), issuer),
            runtime,
        }
    }

    /// `token`'s claims at `now`.
    pub(crate) fn validate(&self, token: &str, now: UnixTime) -> TokenClaims {
        self.runtime
            .block_on(self.validator.validate(token, now))
            .expect("a valid access token")
    }
}
