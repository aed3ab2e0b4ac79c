//! Issuers the example trusts (`[[trusted_issuers]]`) and token exchange (`[token_exchange]`):
//! their keys go to the engine's policy, their subjects map to configured users, and the
//! exchange policy is the simplest: impersonation, or delegation when an actor token is
//! sent. Both grants are off unless configured, and each client still opts in with
//! `grant_types`.

use std::collections::BTreeMap;

use portcullis::core::{ExchangeMode, JwkSet, Policy, TrustedIssuer};
use portcullis::{async_trait, ClaimsError, ExchangeFacts, SubjectMapper, TokenExchangeHook};
use serde::Deserialize;

/// `[[trusted_issuers]]`: an issuer whose JWTs are accepted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileTrustedIssuer {
    /// Its `iss`.
    pub(crate) issuer: String,
    /// Its public keys.
    pub(crate) jwks: JwkSet,
    /// Its subjects (`sub`) and the usernames they are here; anyone else is refused.
    #[serde(default)]
    pub(crate) subjects: BTreeMap<String, String>,
    /// Its assertions are authorization grants (RFC 7523 §2.1).
    #[serde(default)]
    pub(crate) jwt_bearer: bool,
    /// Its JWTs may be exchanged (RFC 8693); needs `[token_exchange] enabled`.
    #[serde(default)]
    pub(crate) token_exchange: bool,
}

/// `[token_exchange]`: RFC 8693, off by default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct FileTokenExchange {
    pub(crate) enabled: bool,
}

/// The trusted issuers, as configured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Trust {
    pub(crate) issuers: Vec<FileTrustedIssuer>,
    pub(crate) token_exchange: bool,
}

impl Trust {
    /// Puts the issuers' keys into `policy`, each for the grants it is trusted for.
    pub(crate) fn configure(&self, policy: &mut Policy) {
        let trusted = |i: &FileTrustedIssuer| TrustedIssuer::new(i.issuer.clone(), i.jwks.clone());
        policy.jwt_bearer.issuers = self
            .issuers
            .iter()
            .filter(|i| i.jwt_bearer)
            .map(trusted)
            .collect();
        policy.token_exchange.issuers = self
            .issuers
            .iter()
            .filter(|i| i.token_exchange)
            .map(trusted)
            .collect();
    }
}

#[async_trait]
impl SubjectMapper for Trust {
    async fn local_subject(
        &self,
        issuer: &str,
        subject: &str,
        _client_id: &str,
    ) -> Result<Option<String>, ClaimsError> {
        Ok(self
            .issuers
            .iter()
            .find(|i| i.issuer == issuer)
            .and_then(|i| i.subjects.get(subject).cloned()))
    }
}

/// Impersonation without an actor token, delegation with one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActorDecides;

#[async_trait]
impl TokenExchangeHook for ActorDecides {
    async fn decide(&self, facts: &ExchangeFacts<'_>) -> Result<Option<ExchangeMode>, ClaimsError> {
        Ok(Some(if facts.actor.is_some() {
            ExchangeMode::Delegation
        } else {
            ExchangeMode::Impersonation
        }))
    }
}
