//! The host's part of the authorization and logout endpoints.
//!
//! TEMPORARY (issue 14, point 3): this trait has the shape of the engine's coming
//! `portcullis::Interaction` (`http` types in and out). When that lands, this file becomes
//! `pub use portcullis::Interaction;` and nothing else in the adapter changes.

use bytes::Bytes;
use portcullis::{PendingAuthorization, PendingLogout};

/// What the host does when the authorization endpoint needs the user, and at RP-initiated
/// logout.
#[portcullis::async_trait]
pub trait Interaction: Send + Sync + 'static {
    /// Starts the host's login and consent for `pending`. `request` is the authorization
    /// request's head, for the host's cookies and headers.
    async fn begin(
        &self,
        pending: PendingAuthorization,
        request: http::request::Parts,
    ) -> http::Response<Bytes>;

    /// Handles a valid RP-initiated logout: ends the host's session for the user (asking
    /// first when [`PendingLogout::needs_confirmation`]) and answers with
    /// [`Provider::finish_logout`](portcullis::Provider::finish_logout).
    async fn end_session(
        &self,
        pending: PendingLogout,
        request: http::request::Parts,
    ) -> http::Response<Bytes>;
}
