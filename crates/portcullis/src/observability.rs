//! What an operator sees: a `tracing` span per request and per store call, and metrics
//! through the [`metrics`] facade (the host installs the recorder and exporter it wants).
//! docs/manual/observability.md lists every metric with its type, labels and meaning.
//!
//! Nothing secret is ever a field, a label or a message: no token, code, secret, assertion,
//! cookie, password, DPoP proof or `Authorization` header. Labels take values from fixed
//! sets only (endpoints, OAuth error codes, grant types, store operations), never client ids:
//! dynamic registration makes those unbounded.

use std::future::Future;
use std::time::Instant;

use bytes::Bytes;
use http::Response;
use portcullis_core::{GrantType, TokenResponse};
use tracing::field::Empty;
use tracing::Instrument;

use crate::authorize::AuthorizeOutcome;
use crate::logout::LogoutOutcome;

/// Counter: requests answered, by `endpoint` and `outcome` (`ok` or the OAuth error code).
pub const REQUESTS: &str = "portcullis_requests_total";
/// Histogram, seconds: time to answer a request, by `endpoint`.
pub const REQUEST_DURATION: &str = "portcullis_request_duration_seconds";
/// Histogram, seconds: time of a store call, by `operation`.
pub const STORE_DURATION: &str = "portcullis_store_call_duration_seconds";
/// Counter: store calls that failed, by `operation`.
pub const STORE_ERRORS: &str = "portcullis_store_errors_total";
/// Counter: tokens and codes issued, by `kind` (`access_token`, `refresh_token`,
/// `id_token`, `authorization_code`) and `grant_type`.
pub const TOKENS_ISSUED: &str = "portcullis_tokens_issued_total";
/// Counter: revocations asked for, by `kind` (`access_token`, `refresh_token`, `grant`).
pub const TOKENS_REVOKED: &str = "portcullis_tokens_revoked_total";
/// Counter: single-use credentials presented again, by `kind` (`authorization_code`,
/// `refresh_token`): each one revoked what was issued from it.
pub const REPLAYS: &str = "portcullis_replays_detected_total";
/// Counter: sign-in attempts refused by a [`LoginThrottle`](crate::throttle::LoginThrottle).
pub const THROTTLED: &str = "portcullis_throttled_attempts_total";

/// The OAuth error code a response answers with, attached by the function that builds the
/// error so the request's observer can read it without parsing the response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refused(pub(crate) &'static str);

/// Marks `response` as answering the OAuth error `code`.
pub(crate) fn refused(mut response: Response<Bytes>, code: &'static str) -> Response<Bytes> {
    response.extensions_mut().insert(Refused(code));
    response
}

/// What an endpoint answers, as an observer reads it.
pub(crate) trait Answer {
    /// `ok` or the OAuth error code, and the HTTP status if this is a response.
    fn outcome(&mut self) -> (&'static str, Option<u16>);
}

impl Answer for Response<Bytes> {
    fn outcome(&mut self) -> (&'static str, Option<u16>) {
        let status = self.status();
        let outcome = match self.extensions_mut().remove::<Refused>() {
            Some(Refused(code)) => code,
            None if status.is_client_error() || status.is_server_error() => "error",
            None => "ok",
        };
        (outcome, Some(status.as_u16()))
    }
}

impl Answer for AuthorizeOutcome {
    fn outcome(&mut self) -> (&'static str, Option<u16>) {
        match self {
            Self::Respond(r) => r.outcome(),
            Self::Pending(_) => ("ok", None),
        }
    }
}

impl Answer for LogoutOutcome {
    fn outcome(&mut self) -> (&'static str, Option<u16>) {
        match self {
            Self::Respond(r) => r.outcome(),
            Self::Pending(_) => ("ok", None),
        }
    }
}

/// Answers a request at `endpoint` with `answer` inside a `portcullis.request` span (fields
/// `endpoint`, `client_id` and `grant_type` once known, `outcome`, `status`), counting it
/// and its latency.
pub(crate) async fn request<A: Answer>(
    endpoint: &'static str,
    answer: impl Future<Output = A>,
) -> A {
    let span = tracing::info_span!(
        "portcullis.request",
        endpoint,
        client_id = Empty,
        grant_type = Empty,
        outcome = Empty,
        status = Empty,
    );
    let started = Instant::now();
    let mut answered = answer.instrument(span.clone()).await;
    let (outcome, status) = answered.outcome();
    span.record("outcome", outcome);
    if let Some(status) = status {
        span.record("status", status);
    }
    metrics::counter!(REQUESTS, "endpoint" => endpoint, "outcome" => outcome).increment(1);
    metrics::histogram!(REQUEST_DURATION, "endpoint" => endpoint).record(started.elapsed());
    answered
}

/// Records the authenticated or named client on the request's span.
pub(crate) fn client_id(id: &str) {
    tracing::Span::current().record("client_id", id);
}

/// Records the grant type on the request's span.
pub(crate) fn grant_type(grant: GrantType) {
    tracing::Span::current().record("grant_type", grant.as_str());
}

/// Counts the tokens of a token response issued under `grant`.
pub(crate) fn tokens_issued(grant: GrantType, response: &TokenResponse) {
    let grant = grant.as_str();
    let issued = |kind: &'static str| {
        metrics::counter!(TOKENS_ISSUED, "kind" => kind, "grant_type" => grant).increment(1);
    };
    issued("access_token");
    if response.refresh_token.is_some() {
        issued("refresh_token");
    }
    if response.id_token.is_some() {
        issued("id_token");
    }
}

/// Counts a token or code issued at the authorization endpoint (`grant_type`
/// `authorization_code` or `implicit`).
pub(crate) fn issued_at_authorization(kind: &'static str, grant_type: &'static str) {
    metrics::counter!(TOKENS_ISSUED, "kind" => kind, "grant_type" => grant_type).increment(1);
}

/// Counts a revocation of a token or grant of `kind`.
pub(crate) fn revoked(kind: &'static str) {
    metrics::counter!(TOKENS_REVOKED, "kind" => kind).increment(1);
}

/// Counts a single-use credential of `kind` presented again.
pub(crate) fn replayed(kind: &'static str) {
    metrics::counter!(REPLAYS, "kind" => kind).increment(1);
}

/// Counts a sign-in attempt the throttle refused.
pub(crate) fn throttled() {
    metrics::counter!(THROTTLED).increment(1);
}

/// Runs the store call `operation` inside a `portcullis.store` span (debug level; fields
/// `operation`, `outcome`), timing it and counting its failures.
pub(crate) async fn store_call<T, E>(
    operation: &'static str,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let span = tracing::debug_span!("portcullis.store", operation, outcome = Empty);
    let started = Instant::now();
    let result = call.instrument(span.clone()).await;
    metrics::histogram!(STORE_DURATION, "operation" => operation).record(started.elapsed());
    let outcome = match result {
        Ok(_) => "ok",
        Err(_) => {
            metrics::counter!(STORE_ERRORS, "operation" => operation).increment(1);
            "error"
        }
    };
    span.record("outcome", outcome);
    result
}
