//! The one error shape of every endpoint: the caller's fault, an OAuth error with the
//! endpoint's code, or the server's fault, answered `temporarily_unavailable` with its source
//! logged here, once, and never shown.

use http::StatusCode;
use portcullis_core::{
    AuthorizeErrorCode, BearerErrorCode, ClientSecretSealError, OAuthError, RandomError,
    TokenErrorCode,
};
use portcullis_store::StoreError;

use crate::claims::ClaimsError;
use crate::keys::KeyError;

/// The OAuth error codes of an endpoint: token (RFC 6749 §5.2, also introspection and
/// revocation), authorization (§4.1.2.1, also the end-session page) or bearer (RFC 6750 §3.1).
pub(crate) trait ErrorCode: Copy {
    /// The code of a server fault: `temporarily_unavailable` (RFC 6749 §4.1.2.1).
    const UNAVAILABLE: Self;

    /// The `error` value on the wire.
    fn wire(self) -> &'static str;

    /// The HTTP status of a response carrying this code directly (not in a redirect).
    fn http_status(self) -> StatusCode;
}

/// A status from a code's number: the codes only know valid ones.
fn status_of(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
}

impl ErrorCode for TokenErrorCode {
    const UNAVAILABLE: Self = Self::TemporarilyUnavailable;

    fn wire(self) -> &'static str {
        self.as_str()
    }

    fn http_status(self) -> StatusCode {
        status_of(self.status())
    }
}

impl ErrorCode for BearerErrorCode {
    const UNAVAILABLE: Self = Self::TemporarilyUnavailable;

    fn wire(self) -> &'static str {
        self.as_str()
    }

    fn http_status(self) -> StatusCode {
        status_of(self.status())
    }
}

impl ErrorCode for AuthorizeErrorCode {
    const UNAVAILABLE: Self = Self::TemporarilyUnavailable;

    fn wire(self) -> &'static str {
        self.as_str()
    }

    /// On an error page (an error that must not be redirected, §4.1.2.1): 503 for a server
    /// fault, else 400.
    fn http_status(self) -> StatusCode {
        match self {
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// Why an endpoint did not do what it was asked.
#[derive(Debug)]
pub(crate) enum EndpointError<C> {
    /// The caller's fault: answered with this error.
    Refused(OAuthError<C>),
    /// The server's fault.
    Fault(Fault),
}

impl<C: ErrorCode> EndpointError<C> {
    /// The error the caller gets: its own, or for a fault (reported here) the endpoint's
    /// `temporarily_unavailable`.
    pub(crate) fn into_oauth(self) -> OAuthError<C> {
        match self {
            Self::Refused(e) => e,
            Self::Fault(f) => {
                f.report();
                OAuthError::new(C::UNAVAILABLE, "the server is temporarily unavailable")
            }
        }
    }
}

impl<C> From<OAuthError<C>> for EndpointError<C> {
    fn from(e: OAuthError<C>) -> Self {
        Self::Refused(e)
    }
}

/// A fault of the server, never of the caller.
#[derive(Debug)]
pub(crate) enum Fault {
    /// A store failed.
    Store(StoreError),
    /// No signing key could be had, or it could not sign.
    Key(KeyError),
    /// The host's claims source failed.
    Claims(ClaimsError),
    /// The random number generator failed.
    Random,
    /// A `client_secret_jwt` client's sealed secret did not open.
    ClientSecret(ClientSecretSealError),
}

impl Fault {
    /// Logs the fault with its source for the operator. The errors carry no secret: stores
    /// and key errors never show tokens or key material.
    pub(crate) fn report(&self) {
        let (what, error): (&str, &dyn std::error::Error) = match self {
            Self::Store(e) => ("store failure", e),
            Self::Key(e) => ("signing key failure", e),
            Self::Claims(e) => ("claims source failure", e),
            Self::Random => ("random number generator failure", &RandomError),
            Self::ClientSecret(e) => ("client secret failure", e),
        };
        tracing::error!(error = %error, source = ?error.source(), "{what}");
    }
}

/// `From` each fault's source, into a [`Fault`] and into an [`EndpointError`] (for `?`).
macro_rules! faults {
    ($($source:ty: $e:pat => $fault:expr,)*) => {$(
        impl From<$source> for Fault {
            fn from($e: $source) -> Self {
                $fault
            }
        }

        impl<C> From<$source> for EndpointError<C> {
            fn from(e: $source) -> Self {
                Self::Fault(e.into())
            }
        }
    )*};
}

faults! {
    StoreError: e => Fault::Store(e),
    KeyError: e => Fault::Key(e),
    ClaimsError: e => Fault::Claims(e),
    RandomError: _ => Fault::Random,
    ClientSecretSealError: e => Fault::ClientSecret(e),
}

impl<C> From<Fault> for EndpointError<C> {
    fn from(f: Fault) -> Self {
        Self::Fault(f)
    }
}
