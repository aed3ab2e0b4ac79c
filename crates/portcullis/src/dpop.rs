//! DPoP at the provider's own endpoints (RFC 9449): the `DPoP` header read, the proof checked
//! by the core ([`portcullis_core::DpopProof::verify`]), its `jti` spent once in the replay
//! cache, and server nonces handed out in the `DPoP-Nonce` header (§8, §9).

use bytes::Bytes;
use http::header::HOST;
use http::{HeaderName, HeaderValue, Request, Response};
use portcullis_core::{
    BearerErrorCode, Client, DpopError, DpopProof, DpopRequest, Issuer, OAuthError, TokenErrorCode,
    TokenHash, UnixTime, VerifiedDpopProof,
};
use portcullis_store::{ReplayNamespace, ReplayOutcome};
use url::Url;

use crate::endpoint_error::EndpointError;
use crate::provider::Provider;

/// The request header carrying a proof (RFC 9449 §4.1).
pub(crate) const DPOP: HeaderName = HeaderName::from_static("dpop");

/// The response header carrying the server's nonce (RFC 9449 §8.1).
const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// Spent proofs: the hash of the proof key's thumbprint and the `jti` (RFC 9449 §11.1).
const SPENT_PROOFS: ReplayNamespace = ReplayNamespace::new("dpop_proof");

/// The two DPoP error codes of an endpoint's error vocabulary.
pub(crate) trait DpopErrorCode: Sized {
    /// `invalid_dpop_proof`.
    const INVALID_PROOF: Self;
    /// `use_dpop_nonce`.
    const USE_NONCE: Self;
}

impl DpopErrorCode for TokenErrorCode {
    const INVALID_PROOF: Self = Self::InvalidDpopProof;
    const USE_NONCE: Self = Self::UseDpopNonce;
}

impl DpopErrorCode for BearerErrorCode {
    const INVALID_PROOF: Self = Self::InvalidDpopProof;
    const USE_NONCE: Self = Self::UseDpopNonce;
}

fn refused<C: DpopErrorCode>(e: DpopError) -> EndpointError<C> {
    let code = match e {
        DpopError::UseNonce => C::USE_NONCE,
        _ => C::INVALID_PROOF,
    };
    OAuthError::new(code, e.to_string()).into()
}

fn invalid<C: DpopErrorCode>(description: &'static str) -> EndpointError<C> {
    OAuthError::new(C::INVALID_PROOF, description).into()
}

/// What a request to `path` presented with a DPoP proof: the checked proof, to bind or
/// compare with a token's `cnf.jkt`.
pub(crate) struct DpopCheck<'a> {
    /// The endpoint's path, whose URL the proof's `htu` must name.
    pub(crate) path: &'a str,
    /// The access token sent with the proof (a protected resource), whose hash `ath` must be.
    pub(crate) access_token: Option<&'a str>,
    /// The client whose proof it is: its profile narrows the policy's algorithms (FAPI 2.0
    /// §5.4.1), and it may require a server nonce besides the policy's rule.
    pub(crate) client: &'a Client,
    /// The time of the request.
    pub(crate) now: UnixTime,
}

impl Provider {
    /// The request's DPoP proof, checked (RFC 9449 §4.3) by the policy's rules held to the
    /// client's profile ([`portcullis_core::DpopPolicy::for_profile`]): none without a `DPoP`
    /// header; `invalid_dpop_proof` for more than one header, an invalid proof (an algorithm
    /// the policy or the client's profile does not allow, say) or a replayed one;
    /// `use_dpop_nonce` when a nonce is required and the proof lacks the current one.
    pub(crate) async fn dpop_proof<C: DpopErrorCode>(
        &self,
        req: &Request<Bytes>,
        check: &DpopCheck<'_>,
    ) -> Result<Option<VerifiedDpopProof>, EndpointError<C>> {
        let mut values = req.headers().get_all(DPOP).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(invalid("more than one DPoP header"));
        }
        let proof = value
            .to_str()
            .map_err(|_| invalid("the DPoP header is not a JWT"))?;
        let inner = &self.inner;
        let policy = inner.policy.dpop.for_profile(check.client.profile);
        let uri = self.endpoint_reached(req, check.path);
        let request = DpopRequest {
            method: req.method().as_str(),
            uri: &uri,
            access_token: check.access_token,
            nonce: (policy.require_nonce || check.client.tokens.require_dpop_nonce)
                .then_some(&inner.dpop_nonces),
        };
        let verified = DpopProof::verify(proof, &request, &policy, check.now).map_err(refused)?;
        let id = TokenHash::of_parts(&[verified.jkt.as_bytes(), verified.jti.as_bytes()]);
        match inner
            .stores
            .replays
            .check_and_insert(
                &inner.issuer,
                SPENT_PROOFS,
                &id,
                verified.replay_until,
                check.now,
            )
            .await?
        {
            ReplayOutcome::Fresh => Ok(Some(verified)),
            ReplayOutcome::Replayed => Err(invalid("the DPoP proof was used before")),
        }
    }

    /// The URL of the endpoint at `path` as `req` reached it (RFC 9449 §4.3 item 9): below
    /// the [mTLS alias](crate::ProviderBuilder::mtls_endpoint_aliases) when the request's
    /// authority (HTTP/2) or `Host` is the alias's host and port, else below the issuer.
    fn endpoint_reached(&self, req: &Request<Bytes>, path: &str) -> String {
        match &self.inner.mtls_aliases {
            Some(alias) if sent_to(req, alias) => alias.endpoint(path),
            _ => self.inner.issuer.endpoint(path),
        }
    }

    /// Adds the current server nonce to the response of a request that sent a DPoP proof
    /// (RFC 9449 §8.2: a server may hand out a fresh nonce on any response), so a client
    /// always holds one it can use.
    pub(crate) fn with_dpop_nonce(
        &self,
        req: &Request<Bytes>,
        mut response: Response<Bytes>,
    ) -> Response<Bytes> {
        if req.headers().contains_key(DPOP) {
            let nonce = self.inner.dpop_nonces.current(self.inner.clock.now());
            if let Ok(value) = HeaderValue::from_str(&nonce) {
                response.headers_mut().insert(DPOP_NONCE, value);
            }
        }
        response
    }
}

/// Whether `req` was sent to `base`'s host and port, as its authority (HTTP/2, absolute
/// form) or its `Host` header names them.
fn sent_to(req: &Request<Bytes>, base: &Issuer) -> bool {
    let authority = match req.uri().authority() {
        Some(a) => Some(a.as_str()),
        None => req.headers().get(HOST).and_then(|h| h.to_str().ok()),
    };
    let (Ok(base), Some(authority)) = (Url::parse(base.as_str()), authority) else {
        return false;
    };
    Url::parse(&format!("{}://{authority}", base.scheme())).is_ok_and(|sent| {
        sent.host() == base.host() && sent.port_or_known_default() == base.port_or_known_default()
    })
}
