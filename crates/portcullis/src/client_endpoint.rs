//! What the endpoints a client calls directly have in common (token, introspection,
//! revocation): POSTed forms, client authentication (RFC 6749 §2.3, §3.2.1) and JSON errors
//! (RFC 6749 §5.2).

use std::sync::Arc;

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{Method, Request, Response, StatusCode};
use portcullis_core::{Client, ClientAuthentication, OAuthError, Params, TokenErrorCode, UnixTime};

use crate::authorize::is_form;
use crate::endpoint_error::EndpointError;
use crate::observability;
use crate::provider::Provider;
use crate::responses::json_error;

/// Why a request to the token, introspection or revocation endpoint failed: an error of
/// RFC 6749 §5.2.
pub(crate) type TokenEndpointError = EndpointError<TokenErrorCode>;

fn invalid_request(description: &'static str) -> TokenEndpointError {
    OAuthError::new(TokenErrorCode::InvalidRequest, description).into()
}

/// An authenticated client's request.
pub(crate) struct ClientRequest {
    pub(crate) client: Arc<Client>,
    pub(crate) params: Params,
    pub(crate) now: UnixTime,
}

impl Provider {
    /// Reads a POSTed form and authenticates the client that sent it: `client_secret_basic`,
    /// `client_secret_post`, `client_secret_jwt`, `private_key_jwt`, `none` (public clients)
    /// or mutual TLS (RFC 8705 §2), one method only, the one the client is registered for.
    /// `path` is the endpoint's, an audience a client assertion may name (RFC 7523 §3).
    pub(crate) async fn authenticate_client_request(
        &self,
        req: &Request<Bytes>,
        path: &str,
    ) -> Result<ClientRequest, TokenEndpointError> {
        if *req.method() != Method::POST {
            return Err(invalid_request("this endpoint accepts POST only"));
        }
        if !is_form(req) {
            return Err(invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let params =
            Params::parse(req.body()).map_err(|_| invalid_request("malformed form body"))?;
        let mut headers = req.headers().get_all(AUTHORIZATION).iter();
        let authorization = headers.next().map(|v| v.as_bytes());
        if headers.next().is_some() {
            return Err(invalid_request("more than one Authorization header"));
        }
        let auth = ClientAuthentication::extract(authorization, &params)?;
        let inner = &self.inner;
        let now = inner.clock.now();
        let client = self.find_client(&auth.client_id, now).await?;
        // PBKDF2 on the blocking pool, never on this async worker (a SHA-256 at once). During
        // a rollover both secrets are compared, in one job: a rotation's new secret is a
        // SHA-256 one, so at most one of them is stretched.
        let proven = if let Some(check) = auth.secret_to_check(client.as_deref(), now) {
            if check.is_stretched() {
                let check = check.into_owned();
                let verified = inner.blocking.run(move || check.verify()).await;
                verified.unwrap_or(false)
            } else {
                check.verify()
            }
        } else if let (Some(assertion), Some(c)) = (
            auth.assertion_to_check(client.as_deref()),
            client.as_deref(),
        ) {
            self.check_client_assertion(c, assertion, path, now).await?
        } else {
            false
        };
        self.authenticate(&auth, client.as_deref(), proven, now, req)?;
        if let Some(c) = client.as_deref() {
            observability::client_id(&c.id);
        }
        if client
            .as_deref()
            .is_some_and(|c| !c.profile.allows_client_kind(&c.kind))
        {
            // FAPI 2.0 §5.3.2.1: a client held to it authenticates with private_key_jwt or
            // mutual TLS only (one registered otherwise before the profile applied).
            return Err(OAuthError::new(
                TokenErrorCode::InvalidClient,
                "FAPI 2.0 clients authenticate with private_key_jwt or mutual TLS",
            )
            .into());
        }
        match client {
            Some(client) => Ok(ClientRequest {
                client,
                params,
                now,
            }),
            None => Err(OAuthError::new(
                TokenErrorCode::InvalidClient,
                "client authentication failed",
            )
            .into()),
        }
    }

    /// The JSON error response (RFC 6749 §5.2), uncached, with a `Basic` challenge on 401
    /// and `405` + `Allow` for a method other than POST.
    pub(crate) fn client_error_response(
        &self,
        error: TokenEndpointError,
        req: &Request<Bytes>,
    ) -> Response<Bytes> {
        let error = error.into_oauth();
        // RFC 6749 §5.2: a 401 after HTTP Basic names that scheme; RFC 7235 §3.1 wants a
        // challenge on every 401, and Basic is what a client should use here.
        let challenge = (error.code == TokenErrorCode::InvalidClient)
            .then(|| format!("Basic realm=\"{}\"", self.inner.issuer));
        let mut r = json_error(&error, challenge.as_deref());
        if *req.method() != Method::POST {
            *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            r.headers_mut()
                .insert(http::header::ALLOW, http::HeaderValue::from_static("POST"));
        }
        r
    }
}
