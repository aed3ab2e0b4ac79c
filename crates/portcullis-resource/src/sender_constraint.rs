//! Sender-constrained access tokens at a protected resource: the request proves the key of a
//! DPoP-bound token (RFC 9449 §7.1) or comes over TLS with the certificate of a
//! certificate-bound one (RFC 8705 §3). The proof's checks are the core's
//! ([`DpopProof::verify`]); this module reads the request and spends the proof's `jti`.

use std::sync::Arc;

use http::request::Parts;
use http::HeaderName;
use portcullis_core::{
    certificate_thumbprint, constant_time_eq, ClientCertificate, Confirmation, DpopError,
    DpopNonces, DpopPolicy, DpopProof, DpopRequest, Issuer, TokenHash, TokenScheme, UnixTime,
    VerifiedDpopProof,
};
use portcullis_store::{ReplayCache, ReplayNamespace, ReplayOutcome};

use crate::rejection::Reason;
use crate::UpstreamError;

/// The request header carrying a proof (RFC 9449 §4.1).
const DPOP: HeaderName = HeaderName::from_static("dpop");

/// Proofs spent at this resource server: the hash of the proof key's thumbprint and the
/// `jti` (RFC 9449 §11.1), under the resource identifier.
const SPENT_PROOFS: ReplayNamespace = ReplayNamespace::new("resource_dpop_proof");

/// How a resource server accepts the `DPoP` scheme.
pub(crate) struct DpopSettings {
    pub(crate) policy: DpopPolicy,
    pub(crate) replays: Arc<dyn ReplayCache>,
    /// When set, every proof must carry one of these nonces (RFC 9449 §9).
    pub(crate) nonces: Option<DpopNonces>,
}

impl std::fmt::Debug for DpopSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopSettings")
            .field("policy", &self.policy)
            .field("nonces", &self.nonces)
            .finish_non_exhaustive()
    }
}

/// Why a sender constraint was not met.
#[derive(Debug)]
pub(crate) enum ConstraintError {
    /// The request does not prove what the token is bound to.
    Refused(Reason),
    /// The replay cache could not be asked.
    Unavailable(UpstreamError),
}

impl From<Reason> for ConstraintError {
    fn from(reason: Reason) -> Self {
        Self::Refused(reason)
    }
}

impl DpopSettings {
    /// The request's one DPoP proof, checked for the request at `htu` and `token` (RFC 9449
    /// §4.3, §7.1): `invalid_dpop_proof` without exactly one `DPoP` header or for a proof the
    /// core refuses; `use_dpop_nonce` when the server's nonce is missing. Its `jti` is not
    /// spent yet ([`DpopSettings::spend`]).
    pub(crate) fn verify(
        &self,
        parts: &Parts,
        htu: &str,
        token: &str,
        now: UnixTime,
    ) -> Result<VerifiedDpopProof, Reason> {
        let mut values = parts.headers.get_all(DPOP).iter();
        let value = values.next().ok_or(Reason::InvalidDpopProof(
            "the DPoP scheme needs a DPoP proof",
        ))?;
        if values.next().is_some() {
            return Err(Reason::InvalidDpopProof("more than one DPoP header"));
        }
        let proof = value
            .to_str()
            .map_err(|_| Reason::InvalidDpopProof("the DPoP header is not a JWT"))?;
        let request = DpopRequest {
            method: parts.method.as_str(),
            uri: htu,
            access_token: Some(token),
            nonce: self.nonces.as_ref(),
        };
        DpopProof::verify(proof, &request, &self.policy, now).map_err(|e| match e {
            DpopError::UseNonce => Reason::UseDpopNonce,
            e => Reason::InvalidDpopProof(proof_error(e)),
        })
    }

    /// Spends `proof`'s `jti` under `resource` (RFC 9449 §11.1): one replay-cache call;
    /// `invalid_dpop_proof` if it was spent before.
    pub(crate) async fn spend(
        &self,
        resource: &Issuer,
        proof: &VerifiedDpopProof,
        now: UnixTime,
    ) -> Result<(), ConstraintError> {
        let id = TokenHash::of_parts(&[proof.jkt.as_bytes(), proof.jti.as_bytes()]);
        let outcome = self
            .replays
            .check_and_insert(resource, SPENT_PROOFS, &id, proof.replay_until, now)
            .await
            .map_err(|e| {
                ConstraintError::Unavailable(
                    UpstreamError::new("the DPoP replay cache failed").with_source(e),
                )
            })?;
        match outcome {
            ReplayOutcome::Fresh => Ok(()),
            ReplayOutcome::Replayed => {
                Err(Reason::InvalidDpopProof("the DPoP proof was used before").into())
            }
        }
    }
}

/// The core's message for a refused proof (fixed text, never the proof).
fn proof_error(e: DpopError) -> &'static str {
    match e {
        DpopError::TooLong => "the DPoP proof is too long",
        DpopError::WrongType => "the DPoP proof's typ must be dpop+jwt",
        DpopError::AlgorithmNotAllowed => "the DPoP proof's algorithm is not allowed",
        DpopError::InvalidKey => "the DPoP proof's jwk is not a usable public key",
        DpopError::PrivateKey => "the DPoP proof's jwk contains a private key",
        DpopError::InvalidSignature => "the DPoP proof's signature is invalid",
        DpopError::InvalidJti => "the DPoP proof needs a jti",
        DpopError::WrongMethod => "the DPoP proof's htm does not match the request",
        DpopError::WrongUri => "the DPoP proof's htu does not match the request",
        DpopError::IssuedAt => "the DPoP proof's iat is missing or outside the accepted window",
        DpopError::AccessTokenHash => "the DPoP proof's ath does not match the access token",
        _ => "the DPoP proof is not a well-formed JWT",
    }
}

/// Whether the request proves the binding of its token, `invalid_token` if not:
/// * a DPoP-bound token (`cnf.jkt`) comes with the `DPoP` scheme (RFC 9449 §7.2: a protected
///   resource accepting both schemes rejects a DPoP-bound token sent as a bearer token) and
///   a proof of that key (§4.3 item 12, §7.1);
/// * the `DPoP` scheme comes with a DPoP-bound token: a bearer token is bound to no key the
///   proof could match (§7.1);
/// * a certificate-bound token (`cnf."x5t#S256"`) comes over a TLS connection whose client
///   certificate has that thumbprint (RFC 8705 §3).
pub(crate) fn check_binding(
    parts: &Parts,
    scheme: TokenScheme,
    confirmation: Option<&Confirmation>,
    proof: Option<&VerifiedDpopProof>,
) -> Result<(), Reason> {
    let jkt = confirmation.and_then(|c| c.jkt.as_deref());
    match (scheme, jkt, proof) {
        (TokenScheme::Bearer, None, _) => {}
        (TokenScheme::Bearer, Some(_), _) => {
            return Err(Reason::InvalidToken(
                "the access token is DPoP-bound: present it with the DPoP scheme and a proof",
            ))
        }
        (TokenScheme::Dpop, None, _) => {
            return Err(Reason::InvalidToken(
                "the access token is not DPoP-bound: present it with the Bearer scheme",
            ))
        }
        (TokenScheme::Dpop, Some(jkt), Some(proof))
            if constant_time_eq(jkt.as_bytes(), proof.jkt.as_bytes()) => {}
        (TokenScheme::Dpop, Some(_), _) => {
            return Err(Reason::InvalidToken(
                "the DPoP proof's key is not the one the access token is bound to",
            ))
        }
    }
    if let Some(x5t) = confirmation.and_then(|c| c.x5t_s256.as_deref()) {
        let presented = parts
            .extensions
            .get::<ClientCertificate>()
            .map(|c| certificate_thumbprint(c.der()));
        if !presented.is_some_and(|p| constant_time_eq(p.as_bytes(), x5t.as_bytes())) {
            return Err(Reason::InvalidToken(
                "the request does not come with the TLS client certificate the access token is bound to",
            ));
        }
    }
    Ok(())
}
