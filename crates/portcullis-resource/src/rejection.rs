//! Why a request was refused, as distinct types: [`Unauthenticated`] (who are you? 401, or
//! 400 for a malformed request), [`Forbidden`] (you may not: 403) and, when the authorization
//! server could not be asked, [`Rejection::Unavailable`] (503). Each renders the response
//! its RFC prescribes.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderName, HeaderValue, Response, StatusCode};
use portcullis_core::TokenScheme;
use serde::Serialize;

use crate::challenge::{ChallengeContext, ChallengeParams};
use crate::UpstreamError;

/// The response header carrying the server's DPoP nonce (RFC 9449 §8.1, §9).
pub(crate) const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// Why a request is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reason {
    /// No access token: a challenge without an error code (RFC 6750 §3.1).
    NoToken,
    /// `invalid_request` (400, RFC 6750 §3.1).
    InvalidRequest(&'static str),
    /// `invalid_token` (401, RFC 6750 §3.1).
    InvalidToken(&'static str),
    /// `invalid_dpop_proof` (401, RFC 9449 §7.1).
    InvalidDpopProof(&'static str),
    /// `use_dpop_nonce` (401, RFC 9449 §9).
    UseDpopNonce,
    /// `insufficient_user_authentication` (401, RFC 9470 §3): the login behind the token is
    /// not strong or fresh enough.
    InsufficientUserAuthentication {
        /// The acceptable `acr` values, space-separated.
        acr_values: Option<String>,
        /// The largest acceptable age of the login, in seconds.
        max_age: Option<u64>,
    },
}

/// The request is not authenticated: 401 with `WWW-Authenticate` challenges (RFC 6750 §3,
/// RFC 9449 §7.1, RFC 9470 §3), or 400 `invalid_request` for a malformed one (RFC 6750
/// §3.1). Every challenge carries `resource_metadata` (RFC 9728 §5.1).
#[derive(Debug, Clone)]
pub struct Unauthenticated {
    reason: Reason,
    scheme: Option<TokenScheme>,
    dpop_nonce: Option<String>,
    context: Arc<ChallengeContext>,
}

impl Unauthenticated {
    pub(crate) fn new(
        reason: Reason,
        scheme: Option<TokenScheme>,
        context: Arc<ChallengeContext>,
    ) -> Self {
        Self {
            reason,
            scheme,
            dpop_nonce: None,
            context,
        }
    }

    /// The same refusal handing out the server's current DPoP nonce (RFC 9449 §8.1, §9).
    pub(crate) fn with_dpop_nonce(mut self, nonce: Option<String>) -> Self {
        self.dpop_nonce = nonce;
        self
    }

    /// The OAuth error code; `None` when the request carried no token.
    pub fn error_code(&self) -> Option<&'static str> {
        Some(match self.reason {
            Reason::NoToken => return None,
            Reason::InvalidRequest(_) => "invalid_request",
            Reason::InvalidToken(_) => "invalid_token",
            Reason::InvalidDpopProof(_) => "invalid_dpop_proof",
            Reason::UseDpopNonce => "use_dpop_nonce",
            Reason::InsufficientUserAuthentication { .. } => "insufficient_user_authentication",
        })
    }

    /// The `error_description`: fixed text, never the token.
    pub fn description(&self) -> Option<&'static str> {
        Some(match self.reason {
            Reason::NoToken => return None,
            Reason::InvalidRequest(d) | Reason::InvalidToken(d) | Reason::InvalidDpopProof(d) => d,
            Reason::UseDpopNonce => "the DPoP proof must carry the server's nonce",
            Reason::InsufficientUserAuthentication { .. } => {
                "a stronger or more recent authentication is required"
            }
        })
    }

    /// 400 for `invalid_request`, else 401 (RFC 6750 §3.1, RFC 9449 §7.1, RFC 9470 §3).
    pub fn status(&self) -> StatusCode {
        match self.reason {
            Reason::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The response: the status, a challenge per accepted scheme (RFC 9110 §11.6.1), the
    /// error in the challenge of the scheme the token came with or is bound to, or in every
    /// one when that is ambiguous (RFC 9449 §7.2); `DPoP-Nonce` when the server has nonces
    /// (RFC 9449 §9); `Cache-Control: no-store`; and a JSON body with the error (none when
    /// no token was sent).
    pub fn to_response(&self) -> Response<Bytes> {
        let (acr_values, max_age) = match &self.reason {
            Reason::InsufficientUserAuthentication {
                acr_values,
                max_age,
            } => (acr_values.as_deref(), *max_age),
            _ => (None, None),
        };
        let params = ChallengeParams {
            error: self.error_code(),
            description: self.description(),
            acr_values,
            max_age,
            ..Default::default()
        };
        let erring = self.context.schemes(self.scheme);
        let accepted = self.context.schemes(None);
        let bare = ChallengeParams::default();
        let mut response = error_response(self.status(), self.error_code(), self.description());
        let headers = response.headers_mut();
        for scheme in &accepted {
            let params = if erring.contains(scheme) {
                &params
            } else {
                &bare
            };
            append(
                headers,
                WWW_AUTHENTICATE,
                &self.context.render(*scheme, params),
            );
        }
        if let Some(nonce) = self.dpop_nonce.as_deref() {
            if accepted.contains(&TokenScheme::Dpop) {
                append(headers, DPOP_NONCE, nonce);
            }
        }
        response
    }
}

/// The token is valid but does not allow the request: 403 `insufficient_scope` with the
/// scope needed (RFC 6750 §3.1).
#[derive(Debug, Clone)]
pub struct Forbidden {
    scope: String,
    scheme: TokenScheme,
    context: Arc<ChallengeContext>,
}

impl Forbidden {
    pub(crate) fn new(scope: String, scheme: TokenScheme, context: Arc<ChallengeContext>) -> Self {
        Self {
            scope,
            scheme,
            context,
        }
    }

    /// The scopes the request needs, space-separated.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The response: 403 with a challenge of the token's scheme naming `insufficient_scope`
    /// and `scope` (RFC 6750 §3), `Cache-Control: no-store`, and a JSON error body.
    pub fn to_response(&self) -> Response<Bytes> {
        const CODE: &str = "insufficient_scope";
        const DESCRIPTION: &str = "the access token does not carry the scope this request needs";
        let params = ChallengeParams {
            error: Some(CODE),
            description: Some(DESCRIPTION),
            scope: Some(&self.scope),
            ..Default::default()
        };
        let mut response = error_response(StatusCode::FORBIDDEN, Some(CODE), Some(DESCRIPTION));
        for scheme in self.context.schemes(Some(self.scheme)) {
            let challenge = self.context.render(scheme, &params);
            append(response.headers_mut(), WWW_AUTHENTICATE, &challenge);
        }
        response
    }
}

/// A refused request, whichever the reason: what a framework integration answers with.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    /// Not authenticated (401, or 400 for a malformed request).
    #[error("not authenticated: {}", .0.error_code().unwrap_or("no access token"))]
    Unauthenticated(Unauthenticated),
    /// Authenticated, not allowed (403).
    #[error("forbidden: insufficient_scope")]
    Forbidden(Forbidden),
    /// The token could not be checked: the authorization server, its keys, its introspection
    /// endpoint or the DPoP replay cache failed. No verdict on the token: 503, no challenge.
    /// The source is for the host's logs.
    #[error("the access token could not be checked")]
    Unavailable(#[source] UpstreamError),
}

impl Rejection {
    /// The HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated(u) => u.status(),
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The response to send (see [`Unauthenticated::to_response`], [`Forbidden::to_response`]);
    /// 503 with `temporarily_unavailable` and no challenge when the token could not be checked.
    pub fn to_response(&self) -> Response<Bytes> {
        match self {
            Self::Unauthenticated(u) => u.to_response(),
            Self::Forbidden(f) => f.to_response(),
            Self::Unavailable(_) => error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                Some("temporarily_unavailable"),
                Some("the access token could not be checked; retry later"),
            ),
        }
    }
}

impl From<Unauthenticated> for Rejection {
    fn from(u: Unauthenticated) -> Self {
        Self::Unauthenticated(u)
    }
}

impl From<Forbidden> for Rejection {
    fn from(f: Forbidden) -> Self {
        Self::Forbidden(f)
    }
}

impl From<UpstreamError> for Rejection {
    fn from(e: UpstreamError) -> Self {
        Self::Unavailable(e)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: Option<&'a str>,
}

/// `status`, uncached, with a JSON error body when there is an error code.
fn error_response(
    status: StatusCode,
    error: Option<&str>,
    error_description: Option<&str>,
) -> Response<Bytes> {
    let body = error
        .and_then(|error| {
            serde_json::to_vec(&ErrorBody {
                error,
                error_description,
            })
            .ok()
        })
        .map(Bytes::from);
    let mut response = Response::new(body.clone().unwrap_or_default());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if body.is_some() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    response
}

/// Appends a header whose value was built from fixed text, configuration and quoted-strings
/// (always a valid value; one that is not is left out rather than sent broken).
fn append(headers: &mut http::HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.append(name, value);
    }
}
