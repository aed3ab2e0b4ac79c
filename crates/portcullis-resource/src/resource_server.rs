//! The resource server: what it accepts, and the authentication of one request (RFC 6750,
//! RFC 9449 §7, RFC 8705 §3).

use std::sync::Arc;

use http::header::CACHE_CONTROL;
use http::request::Parts;
use http::{HeaderMap, HeaderValue};
use portcullis_core::{DpopNonces, DpopPolicy, Issuer, TokenScheme, UnixTime, VerifiedDpopProof};
use portcullis_store::{Clock, ReplayCache, SystemClock};
use url::Url;

use crate::authenticated::Authenticated;
use crate::challenge::ChallengeContext;
use crate::metadata::{MetadataLocation, ProtectedResourceMetadata};
use crate::presented_token::{presented_token, TokenLocations};
use crate::rejection::{Reason, Rejection, Unauthenticated, DPOP_NONCE};
use crate::sender_constraint::{check_binding, ConstraintError, DpopSettings};
use crate::{TokenError, TokenValidator};

/// A protected resource: validates the access token of each request with its
/// [`TokenValidator`], enforces the token's sender constraint, and describes itself in its
/// RFC 9728 metadata. Cheap to clone (shared).
#[derive(Clone)]
pub struct ResourceServer {
    inner: Arc<Inner>,
}

struct Inner {
    /// The resource identifier (RFC 9728 §1.2), also the replay cache's issuer.
    resource: Issuer,
    /// Scheme and authority of the resource: the `htu` of a proof is this and the path.
    origin: String,
    validator: Arc<dyn TokenValidator>,
    clock: Arc<dyn Clock>,
    locations: TokenLocations,
    dpop: Option<DpopSettings>,
    challenges: Arc<ChallengeContext>,
    metadata: ProtectedResourceMetadata,
    metadata_location: MetadataLocation,
}

impl std::fmt::Debug for ResourceServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceServer")
            .field("resource", &self.inner.resource)
            .field("locations", &self.inner.locations)
            .field("dpop", &self.inner.dpop)
            .finish_non_exhaustive()
    }
}

/// Why a [`ResourceServerBuilder`] could not build.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceServerError {
    /// The resource identifier is not an `https` URL without query or fragment (RFC 9728
    /// §1.2; `http` only for loopback hosts).
    #[error("the resource identifier must be an https URL without query or fragment")]
    InvalidResource,
    /// Neither the `Bearer` nor the `DPoP` scheme is accepted.
    #[error("a resource server must accept the Bearer or the DPoP scheme")]
    NoScheme,
    /// DPoP nonces were given, but the `DPoP` scheme is not accepted.
    #[error("DPoP nonces need the DPoP scheme")]
    NoncesWithoutDpop,
}

impl ResourceServer {
    /// A builder for the resource `resource` (its identifier, RFC 9728 §1.2: an `https` URL),
    /// validating tokens with `validator`.
    pub fn builder(
        resource: impl Into<String>,
        validator: Arc<dyn TokenValidator>,
    ) -> ResourceServerBuilder {
        ResourceServerBuilder {
            resource: resource.into(),
            validator,
            clock: Arc::new(SystemClock),
            realm: None,
            bearer: true,
            dpop: None,
            dpop_nonces: None,
            locations: TokenLocations::default(),
            metadata: ProtectedResourceMetadata::default(),
        }
    }

    /// The resource identifier.
    pub fn resource(&self) -> &str {
        self.inner.resource.as_str()
    }

    /// The RFC 9728 metadata document.
    pub fn metadata(&self) -> &ProtectedResourceMetadata {
        &self.inner.metadata
    }

    /// The URL of the metadata document (RFC 9728 §3.1), named by every challenge (§5.1).
    pub fn metadata_url(&self) -> &str {
        &self.inner.metadata_location.url
    }

    /// The paths the metadata document is served at (RFC 9728 §3.1): the well-known path
    /// followed by the resource's path, and the bare well-known path when it differs.
    pub fn metadata_paths(&self) -> impl Iterator<Item = &str> {
        self.inner
            .metadata_location
            .paths
            .iter()
            .map(String::as_str)
    }

    /// Whether `path` is where the metadata document is served (RFC 9728 §3.1: the
    /// well-known path followed by the resource's path; also the bare well-known path).
    pub fn is_metadata_path(&self, path: &str) -> bool {
        self.inner.metadata_location.serves(path)
    }

    /// The request's [`Authenticated`] extension when this server (or a clone of it) made
    /// it: one made by another server (an outer layer for another audience, without
    /// `require_dpop`...) proves nothing here.
    #[cfg(any(feature = "tower", feature = "actix"))]
    pub(crate) fn own_authentication<'a>(
        &self,
        extension: Option<&'a Authenticated>,
    ) -> Option<&'a Authenticated> {
        extension.filter(|a| a.made_with(&self.inner.challenges))
    }

    /// Authenticates a request from its `parts` (and its body when the caller read it, for
    /// a form-body token when [allowed](ResourceServerBuilder::allow_form_body_token)):
    /// 1. exactly one access token: the `Authorization` header (`Bearer` or `DPoP`), or
    ///    where allowed the form body or the query; more than one, a repeated header or a
    ///    malformed one is `invalid_request` (400, RFC 6750 §3.1); none is a 401 challenge
    ///    without an error code;
    /// 2. the scheme accepted, and with `DPoP` one valid proof for this request and token
    ///    (RFC 9449 §4.3, §7.1: `htm`, `htu` the resource's origin and the request's path,
    ///    `ath`, the server's nonce when configured); a request path with dot segments
    ///    (`.`, `..`, raw or `%2e`) is `invalid_request` (400) with `DPoP`;
    /// 3. the token valid for the [`TokenValidator`] (`invalid_token`; 503 when it cannot
    ///    tell);
    /// 4. its binding proven: a DPoP-bound token with the `DPoP` scheme and its key, a
    ///    certificate-bound one over TLS with its certificate (RFC 8705 §3);
    /// 5. the proof's `jti` spent once (one replay-cache call, RFC 9449 §11.1).
    ///
    /// The [`Authenticated`] request names the headers its response should carry
    /// ([`Authenticated::response_headers`]).
    pub async fn authenticate(
        &self,
        parts: &Parts,
        form_body: Option<&[u8]>,
    ) -> Result<Authenticated, Rejection> {
        let inner = &self.inner;
        let refuse = |reason, scheme| self.unauthenticated(reason, scheme);
        let presented = match presented_token(parts, form_body, inner.locations) {
            Ok(Some(presented)) => presented,
            Ok(None) => return Err(refuse(Reason::NoToken, None)),
            Err(e) => return Err(refuse(Reason::InvalidRequest(e.description), e.scheme)),
        };
        let scheme = presented.scheme;
        let token = presented.token.as_str();
        let now = inner.clock.now();
        let proof = self.scheme_proof(parts, scheme, token, now)?;
        let claims = match inner.validator.validate(token, now).await {
            Ok(claims) => claims,
            Err(TokenError::Invalid(description)) => {
                return Err(refuse(Reason::InvalidToken(description), Some(scheme)))
            }
            Err(TokenError::Unavailable(e)) => return Err(Rejection::Unavailable(e)),
        };
        let confirmation = claims.confirmation.as_ref();
        // RFC 9449 §7.1: a DPoP-bound token is challenged with the DPoP scheme, however sent.
        let challenge_scheme = if confirmation.is_some_and(|c| c.jkt.is_some()) {
            TokenScheme::Dpop
        } else {
            scheme
        };
        check_binding(parts, scheme, confirmation, proof.as_ref())
            .map_err(|r| refuse(r, Some(challenge_scheme)))?;
        if let (Some(proof), Some(dpop)) = (&proof, &inner.dpop) {
            match dpop.spend(&inner.resource, proof, now).await {
                Ok(()) => {}
                Err(ConstraintError::Refused(r)) => return Err(refuse(r, Some(scheme))),
                Err(ConstraintError::Unavailable(e)) => return Err(Rejection::Unavailable(e)),
            }
        }
        let response_headers = self.response_headers(proof.is_some(), presented.from_query);
        Ok(Authenticated::new(
            claims,
            scheme,
            now,
            response_headers,
            inner.challenges.clone(),
        ))
    }

    /// The scheme checked against the configuration, and with `DPoP` the request's proof for
    /// `token` (its `jti` not spent yet).
    fn scheme_proof(
        &self,
        parts: &Parts,
        scheme: TokenScheme,
        token: &str,
        now: UnixTime,
    ) -> Result<Option<VerifiedDpopProof>, Rejection> {
        let inner = &self.inner;
        match (scheme, &inner.dpop) {
            (TokenScheme::Dpop, Some(_)) if has_dot_segment(parts.uri.path()) => Err(self
                .unauthenticated(
                    Reason::InvalidRequest("the request path has dot segments"),
                    Some(scheme),
                )),
            (TokenScheme::Dpop, Some(dpop)) => {
                let htu = format!("{}{}", inner.origin, parts.uri.path());
                dpop.verify(parts, &htu, token, now)
                    .map(Some)
                    .map_err(|r| self.unauthenticated(r, Some(scheme)))
            }
            (TokenScheme::Dpop, None) => Err(self.unauthenticated(
                Reason::InvalidToken("this resource does not accept the DPoP scheme"),
                None,
            )),
            (TokenScheme::Bearer, _) if !inner.challenges.bearer => Err(self.unauthenticated(
                Reason::InvalidToken("this resource accepts only DPoP-bound tokens"),
                None,
            )),
            (TokenScheme::Bearer, _) => Ok(None),
        }
    }

    /// The headers of the response to an authenticated request: a fresh `DPoP-Nonce` after
    /// a proof (RFC 9449 §9), `Cache-Control: private` after a query token (RFC 6750 §2.3).
    fn response_headers(&self, with_proof: bool, from_query: bool) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let nonce = with_proof.then(|| self.current_dpop_nonce()).flatten();
        if let Some(value) = nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
            headers.insert(DPOP_NONCE, value);
        }
        if from_query {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
        }
        headers
    }

    /// The DPoP nonce to hand out now, when the server has nonces (RFC 9449 §9).
    fn current_dpop_nonce(&self) -> Option<String> {
        let inner = &self.inner;
        let nonces = inner.dpop.as_ref()?.nonces.as_ref()?;
        Some(nonces.current(inner.clock.now()))
    }

    /// A refusal challenged with `scheme` (every accepted one when `None`), handing out the
    /// current DPoP nonce when the server has nonces.
    fn unauthenticated(&self, reason: Reason, scheme: Option<TokenScheme>) -> Rejection {
        Unauthenticated::new(reason, scheme, self.inner.challenges.clone())
            .with_dpop_nonce(self.current_dpop_nonce())
            .into()
    }
}

/// Whether `path` has a `.` or `..` segment, raw or percent-encoded (`%2e`, any case). A
/// proof's `htu` is compared after removing dot segments (RFC 3986 §5.2.4), so a proof for
/// `/b` would verify at `/a/../b` — a path a router may serve as another resource; RFC 9449
/// §4.3 item 9 compares the request's URI, so such a DPoP request is refused.
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    })
}

/// Configures a [`ResourceServer`]. By default: the `Bearer` scheme only, the token only in
/// the `Authorization` header, the system clock, no realm.
#[must_use]
pub struct ResourceServerBuilder {
    resource: String,
    validator: Arc<dyn TokenValidator>,
    clock: Arc<dyn Clock>,
    realm: Option<String>,
    bearer: bool,
    dpop: Option<DpopSettings>,
    dpop_nonces: Option<DpopNonces>,
    locations: TokenLocations,
    metadata: ProtectedResourceMetadata,
}

impl ResourceServerBuilder {
    /// The clock (tests inject a `ManualClock`).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The `realm` of challenges (RFC 6750 §3).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Accepts the `DPoP` scheme (RFC 9449 §7): proofs held to `policy`'s algorithms, age
    /// and skew, each `jti` spent once in `replays` (shared by every instance of the API).
    /// `policy`'s nonce settings are the authorization server's: here a nonce is required
    /// exactly when [`ResourceServerBuilder::dpop_nonces`] is given.
    pub fn dpop(mut self, policy: DpopPolicy, replays: Arc<dyn ReplayCache>) -> Self {
        self.dpop = Some(DpopSettings {
            policy,
            replays,
            nonces: None,
        });
        self
    }

    /// Requires every DPoP proof to carry a nonce of `nonces` (RFC 9449 §9), handed out in
    /// the `DPoP-Nonce` header of refusals and of responses to DPoP requests. Needs
    /// [`ResourceServerBuilder::dpop`].
    pub fn dpop_nonces(mut self, nonces: DpopNonces) -> Self {
        self.dpop_nonces = Some(nonces);
        self
    }

    /// Refuses bearer tokens: only DPoP-bound tokens with the `DPoP` scheme
    /// (`dpop_bound_access_tokens_required`, RFC 9728 §2). Only with
    /// [`ResourceServerBuilder::dpop`].
    pub fn require_dpop(mut self) -> Self {
        self.bearer = false;
        self
    }

    /// Also takes a token from a form-encoded body's `access_token` (RFC 6750 §2.2), when the
    /// caller passes the body to [`ResourceServer::authenticate`].
    pub fn allow_form_body_token(mut self) -> Self {
        self.locations.form_body = true;
        self
    }

    /// Also takes a token from the query string's `access_token` (RFC 6750 §2.3). Dangerous:
    /// URLs end up in logs, histories and `Referer` headers (RFC 6750 §5.3); only for clients
    /// that can do nothing else.
    pub fn dangerous_allow_query_token(mut self) -> Self {
        self.locations.query = true;
        self
    }

    /// An authorization server whose tokens this resource accepts, by its issuer identifier
    /// (`authorization_servers`, RFC 9728 §2).
    pub fn authorization_server(mut self, issuer: &Issuer) -> Self {
        self.metadata
            .authorization_servers
            .push(issuer.as_str().to_owned());
        self
    }

    /// The scopes a client may request for this resource (`scopes_supported`).
    pub fn scopes_supported<I: IntoIterator<Item = S>, S: Into<String>>(mut self, s: I) -> Self {
        self.metadata.scopes_supported = s.into_iter().map(Into::into).collect();
        self
    }

    /// A human-readable name (`resource_name`).
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.metadata.resource_name = Some(name.into());
        self
    }

    /// A page for developers (`resource_documentation`).
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.metadata.resource_documentation = Some(url.into());
        self
    }

    /// The resource's own public keys (`jwks_uri`).
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.metadata.jwks_uri = Some(url.into());
        self
    }

    /// Announces support for certificate-bound tokens
    /// (`tls_client_certificate_bound_access_tokens`, RFC 8705 §3). Such tokens are checked
    /// whatever this says, against the `ClientCertificate` extension the TLS server puts on
    /// each request.
    pub fn tls_client_certificate_bound_access_tokens(mut self) -> Self {
        self.metadata.tls_client_certificate_bound_access_tokens = true;
        self
    }

    /// The resource server.
    pub fn build(self) -> Result<ResourceServer, ResourceServerError> {
        let resource =
            Issuer::parse(&self.resource).map_err(|_| ResourceServerError::InvalidResource)?;
        let url =
            Url::parse(resource.as_str()).map_err(|_| ResourceServerError::InvalidResource)?;
        let mut dpop = self.dpop;
        if !self.bearer && dpop.is_none() {
            return Err(ResourceServerError::NoScheme);
        }
        if let Some(nonces) = self.dpop_nonces {
            dpop.as_mut()
                .ok_or(ResourceServerError::NoncesWithoutDpop)?
                .nonces = Some(nonces);
        }
        let metadata_location = MetadataLocation::of(&url);
        let dpop_algorithms = dpop.as_ref().map(|d| d.policy.algorithms.clone());
        let mut metadata = self.metadata;
        metadata.resource = resource.as_str().to_owned();
        metadata.bearer_methods_supported = self
            .locations
            .bearer_methods()
            .into_iter()
            .map(str::to_owned)
            .collect();
        metadata.dpop_signing_alg_values_supported = dpop_algorithms
            .iter()
            .flatten()
            .map(|a| a.as_str().to_owned())
            .collect();
        metadata.dpop_bound_access_tokens_required = !self.bearer;
        let challenges = ChallengeContext {
            realm: self.realm,
            resource_metadata: metadata_location.url.clone(),
            bearer: self.bearer,
            dpop_algorithms,
        };
        Ok(ResourceServer {
            inner: Arc::new(Inner {
                origin: url.origin().ascii_serialization(),
                resource,
                validator: self.validator,
                clock: self.clock,
                locations: self.locations,
                dpop,
                challenges: Arc::new(challenges),
                metadata,
                metadata_location,
            }),
        })
    }
}
