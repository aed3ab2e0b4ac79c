//! The host's half of the endpoints that need the user, framework-free: every adapter calls
//! the same trait.

use bytes::Bytes;
use http::request::Parts;
use http::Response;

use crate::authorize::PendingAuthorization;
use crate::logout::PendingLogout;

/// What the host does when an endpoint needs the user: the login and consent pages of the
/// authorization endpoint, the confirmation of a logout. An adapter (e.g. `portcullis-axum`)
/// calls it with the request's head and sends back its response.
#[async_trait::async_trait]
pub trait Interaction: Send + Sync + 'static {
    /// Starts the host's login and consent for `pending`. `request` is the authorization
    /// request's head, for the host's cookies and headers. Ask
    /// [`PendingAuthorization::next_step`] what to do.
    async fn begin(&self, pending: PendingAuthorization, request: Parts) -> Response<Bytes>;

    /// Handles a valid RP-initiated logout: ends the host's session for the user (asking
    /// first unless [`PendingLogout::ends_without_asking`]) and answers with
    /// [`Provider::finish_logout`](crate::Provider::finish_logout).
    async fn end_session(&self, pending: PendingLogout, request: Parts) -> Response<Bytes>;
}
