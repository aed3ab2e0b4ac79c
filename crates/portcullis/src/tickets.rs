//! Interaction tickets are answered once: a pending authorization is approved, denied or
//! found to need interaction once, and a pending logout finished once, until the ticket
//! expires. A replayed form (same ticket, same CSRF token, same cookies) gets an error page,
//! never a second code or redirect.
//!
//! The answered tickets are kept in the [`ReplayCache`](portcullis_store::ReplayCache), by
//! the SHA-256 of the ticket (never the ticket). A ticket's text is canonical — strict
//! base64url of an authenticated ciphertext (`portcullis_core::open_payload`) — so one
//! pending request has exactly one accepted spelling, hence one hash.

use bytes::Bytes;
use http::Response;
use portcullis_core::{AuthorizeErrorCode, OAuthError, TokenHash, UnixTime};
use portcullis_store::{ReplayNamespace, ReplayOutcome};

use crate::provider::Provider;
use crate::responses::error_page;

/// The namespace of answered tickets, authorization and logout alike (tickets are random:
/// the two kinds never share one).
const ANSWERED_TICKETS: ReplayNamespace = ReplayNamespace::new("interaction_ticket");

impl Provider {
    /// Records `ticket` (live until `expires_at`) as answered. `Err` holds the response when
    /// it may not be answered: 400 `invalid_request` with `replayed` when it was answered
    /// before, 503 `temporarily_unavailable` when the store failed.
    pub(crate) async fn spend_ticket(
        &self,
        ticket: &str,
        expires_at: UnixTime,
        now: UnixTime,
        replayed: &'static str,
    ) -> Result<(), Response<Bytes>> {
        let inner = &self.inner;
        let outcome = inner
            .stores
            .replays
            .check_and_insert(
                &inner.issuer,
                ANSWERED_TICKETS,
                &TokenHash::of(ticket),
                expires_at,
                now,
            )
            .await;
        match outcome {
            Ok(ReplayOutcome::Fresh) => Ok(()),
            Ok(ReplayOutcome::Replayed) => Err(error_page(OAuthError::new(
                AuthorizeErrorCode::InvalidRequest,
                replayed,
            ))),
            Err(e) => Err(error_page(e)),
        }
    }
}
