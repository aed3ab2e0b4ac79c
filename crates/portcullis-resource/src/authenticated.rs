//! An authenticated request, and the guards a route applies to it: the scope it needs
//! (RFC 6750 §3.1) and how strong or recent the user's login must be (RFC 9470).

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use portcullis_core::{TokenScheme, UnixTime};

use crate::challenge::ChallengeContext;
use crate::rejection::{Forbidden, Reason, Unauthenticated};
use crate::TokenClaims;

/// A request whose access token is valid for this resource and whose sender proved what the
/// token is bound to.
#[derive(Debug, Clone)]
pub struct Authenticated {
    claims: TokenClaims,
    scheme: TokenScheme,
    at: UnixTime,
    response_headers: HeaderMap,
    context: Arc<ChallengeContext>,
}

impl Authenticated {
    pub(crate) fn new(
        claims: TokenClaims,
        scheme: TokenScheme,
        at: UnixTime,
        response_headers: HeaderMap,
        context: Arc<ChallengeContext>,
    ) -> Self {
        Self {
            claims,
            scheme,
            at,
            response_headers,
            context,
        }
    }

    /// Whether `challenges` is the challenge context of the server that authenticated this
    /// request: each built [`crate::ResourceServer`] has its own (shared by its clones), so
    /// a nested layer or extractor reuses only its own server's authentication.
    #[cfg(any(feature = "tower", feature = "actix"))]
    pub(crate) fn made_with(&self, challenges: &Arc<ChallengeContext>) -> bool {
        Arc::ptr_eq(&self.context, challenges)
    }

    /// The token's claims.
    pub fn claims(&self) -> &TokenClaims {
        &self.claims
    }

    /// The token's claims, owned.
    pub fn into_claims(self) -> TokenClaims {
        self.claims
    }

    /// The scheme the token came with: `DPoP` for a DPoP-bound token, else `Bearer`.
    pub fn scheme(&self) -> TokenScheme {
        self.scheme
    }

    /// When the request was authenticated (the clock's time).
    pub fn authenticated_at(&self) -> UnixTime {
        self.at
    }

    /// Headers the response to this request should carry (the tower layer adds them, unless
    /// the service set them; with the actix-web extractors, the handler copies them): a fresh `DPoP-Nonce` after a DPoP proof when the server has
    /// nonces (RFC 9449 §9), `Cache-Control: private` for a token from the query string
    /// (RFC 6750 §2.3).
    pub fn response_headers(&self) -> &HeaderMap {
        &self.response_headers
    }

    /// Requires every scope of `scopes` (space-separated): [`Forbidden`] (403
    /// `insufficient_scope`, naming `scopes`, RFC 6750 §3.1) if the token lacks one.
    pub fn require_scope(&self, scopes: &str) -> Result<(), Forbidden> {
        if scopes
            .split(' ')
            .filter(|s| !s.is_empty())
            .all(|s| self.claims.scope.contains(s))
        {
            return Ok(());
        }
        Err(Forbidden::new(
            scopes.to_owned(),
            self.scheme,
            self.context.clone(),
        ))
    }

    /// The refusal of a token that is valid but will not do for this request after all
    /// (say, a gateway that needs a subject the token does not name): 401 `invalid_token`
    /// with `description` (fixed text, never the token) in the challenge of the token's
    /// scheme, beside the others the server accepts, as every refusal of this server is
    /// rendered (RFC 6750 §3.1, RFC 9449 §7.1 with `algs`, RFC 9728 §5.1).
    pub fn invalid_token(&self, description: &'static str) -> Unauthenticated {
        Unauthenticated::new(
            Reason::InvalidToken(description),
            Some(self.scheme),
            self.context.clone(),
        )
    }

    /// Requires a login of one of `acr_values` (any when empty) no older than `max_age`
    /// (RFC 9470 §3, from the token's `acr` and `auth_time`, RFC 9470 §6.1): a token without
    /// `acr` when values are required, or without `auth_time` when an age is, does not meet
    /// it. Otherwise [`Unauthenticated`] with `insufficient_user_authentication` (401), naming
    /// `acr_values` and `max_age` so the client can ask the authorization server for such a
    /// login.
    pub fn require_authentication(
        &self,
        acr_values: &[&str],
        max_age: Option<Duration>,
    ) -> Result<(), Unauthenticated> {
        let acr_met = acr_values.is_empty()
            || self
                .claims
                .acr
                .as_deref()
                .is_some_and(|acr| acr_values.contains(&acr));
        let fresh = max_age.is_none_or(|max_age| {
            self.claims
                .auth_time
                .is_some_and(|at| self.at <= at.plus(max_age))
        });
        if acr_met && fresh {
            return Ok(());
        }
        let reason = Reason::InsufficientUserAuthentication {
            acr_values: (!acr_values.is_empty()).then(|| acr_values.join(" ")),
            max_age: max_age.map(|a| a.as_secs()),
        };
        Err(Unauthenticated::new(
            reason,
            Some(self.scheme),
            self.context.clone(),
        ))
    }
}
