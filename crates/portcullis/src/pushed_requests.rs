//! Pushed authorization requests (RFC 9126): the PAR endpoint, and the `request_uri` it
//! hands out taken once at the authorization endpoint. The core decides
//! ([`portcullis_core::push_authorization_request`], `resolve_pushed_request`).

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use portcullis_core::{
    push_authorization_request, pushed_request_hash, resolve_pushed_request, AuthorizeErrorCode,
    AuthorizeRejection, OAuthError, Params, PushContext, PushRejection, PushedParams,
    TokenErrorCode, UnixTime,
};
use serde::Serialize;

use crate::client_endpoint::{ClientRequest, TokenEndpointError};
use crate::dpop::DpopCheck;
use crate::endpoint_error::EndpointError;
use crate::observability;
use crate::provider::Provider;
use crate::responses::{json, json_error};

/// The PAR endpoint's success response (RFC 9126 §2.2).
#[derive(Serialize)]
struct Pushed<'a> {
    request_uri: &'a str,
    expires_in: u64,
}

/// Why a push failed: as the token endpoint fails (client authentication, DPoP, the
/// server), or an authorization error of the request itself (RFC 9126 §2.3).
enum PushError {
    Client(TokenEndpointError),
    Request(EndpointError<AuthorizeErrorCode>),
}

impl From<TokenEndpointError> for PushError {
    fn from(e: TokenEndpointError) -> Self {
        Self::Client(e)
    }
}

impl Provider {
    /// The pushed authorization request endpoint (RFC 9126 §2): POST only, a form body, the
    /// client authenticated as at the token endpoint (every method, RFC 9126 §2.1), every
    /// authorization parameter validated now. `201 Created` with `request_uri` and
    /// `expires_in`; errors as JSON (RFC 9126 §2.3: `401 invalid_client` with a `Basic`
    /// challenge, 400 otherwise, `405` with `Allow` for another method). A DPoP proof binds
    /// the code to its key (RFC 9449 §10.1). Every response is uncached.
    pub async fn pushed_authorization_request(&self, req: Request<Bytes>) -> Response<Bytes> {
        observability::request(
            "pushed_authorization_request",
            self.pushed_authorization_request_answer(req),
        )
        .await
    }

    async fn pushed_authorization_request_answer(&self, req: Request<Bytes>) -> Response<Bytes> {
        let response = match self.push(&req).await {
            Ok(body) => json(StatusCode::CREATED, &body_of(&body)),
            Err(PushError::Client(e)) => self.client_error_response(e, &req),
            Err(PushError::Request(e)) => json_error(&e.into_oauth(), None),
        };
        self.with_dpop_nonce(&req, response)
    }

    async fn push(&self, req: &Request<Bytes>) -> Result<(String, u64), PushError> {
        let ClientRequest {
            client,
            params,
            now,
        } = self
            .authenticate_client_request(req, crate::paths::PAR)
            .await?;
        // The proof first: a client retrying with a server nonce (RFC 9449 §8) sends the same
        // request object again, whose `jti` must not be spent by the refused attempt.
        let proof = self
            .dpop_proof::<TokenErrorCode>(
                req,
                &DpopCheck {
                    path: crate::paths::PAR,
                    access_token: None,
                    client: &client,
                    now,
                },
            )
            .await?;
        // RFC 9126 §2.1: no request_uri in a push (and so nothing fetched for one).
        if params.contains("request_uri") {
            return Err(PushError::Request(
                OAuthError::new(
                    AuthorizeErrorCode::InvalidRequest,
                    "request_uri may not be pushed (RFC 9126 §2.1)",
                )
                .into(),
            ));
        }
        // RFC 9126 §3: a request object is verified at push time; only its parameters count.
        if params.contains("request") && params.get("client_id").is_none() {
            return Err(PushError::Request(
                OAuthError::new(
                    AuthorizeErrorCode::InvalidRequest,
                    "client_id is required with a request object (RFC 9101 §5)",
                )
                .into(),
            ));
        }
        let params = self
            .resolve_request_object(&params, Some(&client), now)
            .await
            .map_err(|rejection| {
                PushError::Request(
                    match rejection {
                        AuthorizeRejection::ErrorPage(e) => e,
                        AuthorizeRejection::Redirect(r) => r.error,
                    }
                    .into(),
                )
            })?;
        let inner = &self.inner;
        let context = PushContext {
            client: &client,
            dpop_proof_jkt: proof.as_ref().map(|p| p.jkt.as_str()),
            now,
        };
        let pushed = push_authorization_request(
            &params,
            &context,
            &inner.issuer,
            &inner.policy,
            inner.rng.as_ref(),
        )
        .map_err(|e| match e {
            PushRejection::Invalid(e) => PushError::Request(e.into()),
            PushRejection::DpopMismatch => PushError::Client(
                OAuthError::new(
                    TokenErrorCode::InvalidDpopProof,
                    "the DPoP proof's key is not dpop_jkt",
                )
                .into(),
            ),
            PushRejection::Random(e) => PushError::Client(e.into()),
        })?;
        inner
            .stores
            .pushed_requests
            .insert_pushed_request(&pushed.record)
            .await
            .map_err(|e| PushError::Client(e.into()))?;
        Ok((pushed.request_uri, pushed.expires_in))
    }

    /// The pushed request `params` name by `request_uri`, taken from the store (single use,
    /// whoever asks: a reference shown twice is spent by the first) and checked by the core:
    /// `Err` is for an error page (RFC 9126 §4).
    pub(crate) async fn take_pushed_request(
        &self,
        params: &Params,
        now: UnixTime,
    ) -> Result<PushedParams, EndpointError<AuthorizeErrorCode>> {
        let inner = &self.inner;
        let record = match params.get("request_uri").and_then(pushed_request_hash) {
            Some(hash) if !params.is_repeated("request_uri") => {
                inner
                    .stores
                    .pushed_requests
                    .consume_pushed_request(&inner.issuer, &hash, now)
                    .await?
            }
            _ => None,
        };
        Ok(resolve_pushed_request(
            params,
            record.as_ref(),
            &inner.issuer,
            now,
        )?)
    }
}

fn body_of((request_uri, expires_in): &(String, u64)) -> Pushed<'_> {
    Pushed {
        request_uri,
        expires_in: *expires_in,
    }
}
