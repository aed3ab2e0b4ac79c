//! Why a validator did not accept a token.

/// Why a [`TokenValidator`](crate::TokenValidator) did not accept a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token is not valid for this resource — malformed, badly signed, expired,
    /// revoked, for another audience…: `401` with `invalid_token` (RFC 6750 §3.1). The
    /// description is fixed text, safe to send to the client.
    #[error("{0}")]
    Invalid(&'static str),
    /// The validator could not decide: the authorization server, its keys or its
    /// introspection endpoint could not be reached or answered wrongly. Not the client's
    /// fault, and not a verdict on the token: `503`.
    #[error(transparent)]
    Unavailable(#[from] UpstreamError),
}

/// The authorization server could not be reached, or answered what it must not. The source
/// is kept for the host's logs; the client only learns that the service is unavailable.
#[derive(Debug, thiserror::Error)]
#[error("{context}")]
pub struct UpstreamError {
    context: &'static str,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl UpstreamError {
    /// An upstream failure described by `context` (fixed text: what was being done).
    pub fn new(context: &'static str) -> Self {
        Self {
            context,
            source: None,
        }
    }

    /// The same failure, caused by `source`.
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }
}
