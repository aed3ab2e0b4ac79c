//! Checks a JWT client assertion (RFC 7523 §3, OpenID Connect Core §9) for a client
//! registered for its method: the signature with the client's keys (`private_key_jwt`) or
//! sealed secret (`client_secret_jwt`), the core's claim rules, then the `jti` spent once in
//! the replay cache until the assertion's `exp`.

use portcullis_core::{
    AcceptedAssertion, Client, ClientAssertion, ClientKind, OAuthError, TokenErrorCode, UnixTime,
    VerifiedAssertion,
};
use portcullis_store::{ReplayNamespace, ReplayOutcome};

use crate::client_endpoint::TokenEndpointError;
use crate::endpoint_error::Fault;
use crate::provider::Provider;

/// The namespace of spent assertion `jti`s (per client: the id hashes both).
const SPENT_ASSERTIONS: ReplayNamespace = ReplayNamespace::new("client_assertion");

impl Provider {
    /// Whether `assertion` proves `client` at the endpoint `path`: `Ok(false)` when its
    /// signature does not verify; `Err` with the rule it broke (`invalid_client`) or a
    /// fault (the store, or a secret that does not open).
    pub(crate) async fn check_client_assertion(
        &self,
        client: &Client,
        assertion: &ClientAssertion,
        path: &str,
        now: UnixTime,
    ) -> Result<bool, TokenEndpointError> {
        let inner = &self.inner;
        let policy = &inner.policy.client_assertions;
        let accepted = match &client.kind {
            ClientKind::PrivateKeyJwt { keys } => {
                let algs = policy.private_key_jwt_algs_for(client);
                let verified = self
                    .verify_with_client_keys(client, keys, now, |k| {
                        assertion.verify_signature(k, &algs)
                    })
                    .await;
                match verified {
                    Ok(verified) => self.decide(client, verified, path, now)?,
                    Err(_) => return Ok(false),
                }
            }
            ClientKind::SecretJwt { secret } => {
                let secret = secret
                    .open(&inner.issuer, &client.id, inner.keks.as_ref())
                    .map_err(Fault::from)?;
                let algs = policy.client_secret_jwt_algs_for(client);
                match assertion.verify_mac(secret.expose().as_bytes(), &algs) {
                    Ok(verified) => self.decide(client, verified, path, now)?,
                    Err(_) => return Ok(false),
                }
            }
            _ => return Ok(false),
        };
        let outcome = inner
            .stores
            .replays
            .check_and_insert(
                &inner.issuer,
                SPENT_ASSERTIONS,
                &accepted.replay_id,
                accepted.expires_at,
                now,
            )
            .await?;
        match outcome {
            ReplayOutcome::Fresh => Ok(true),
            ReplayOutcome::Replayed => Err(OAuthError::new(
                TokenErrorCode::InvalidClient,
                "the client assertion was used before",
            )
            .into()),
        }
    }

    fn decide(
        &self,
        client: &Client,
        verified: VerifiedAssertion<'_>,
        path: &str,
        now: UnixTime,
    ) -> Result<AcceptedAssertion, TokenEndpointError> {
        let issuer = &self.inner.issuer;
        // FAPI 2.0 §5.3.2.1: only the issuer identifier, as a string.
        if client.profile.is_fapi2() && !verified.audience_is_exactly(issuer.as_str()) {
            return Err(OAuthError::new(
                TokenErrorCode::InvalidClient,
                "FAPI 2.0: the client assertion's aud must be the issuer identifier, as a string",
            )
            .into());
        }
        // The issuer, the endpoint's own URL, or the token endpoint's URL at every endpoint
        // a client authenticates to: RFC 7523 §3 names the token endpoint's URL as an
        // audience, and RFC 9126 §2 (PAR) and the other endpoints that take the token
        // endpoint's client authentication accept it too.
        let endpoint = issuer.endpoint(path);
        let token_endpoint = issuer.endpoint(crate::paths::TOKEN);
        let audiences = [issuer.as_str(), endpoint.as_str(), token_endpoint.as_str()];
        Ok(verified.decide(
            &client.id,
            &audiences,
            &self.inner.policy.client_assertions,
            now,
        )?)
    }
}
