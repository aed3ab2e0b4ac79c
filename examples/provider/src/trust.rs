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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const PARTNER: &str = "[[trusted_issuers]]\nissuer = \"https://idp.partner.example\"\n\
        jwks = { keys = [{ kty = \"EC\", crv = \"P-256\", kid = \"p1\", \
        x = \"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\", \
        y = \"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\" }] }\n\
        subjects = { \"partner-alice\" = \"alice\" }\njwt_bearer = true\n";

    #[tokio::test]
    async fn trusted_issuers_and_token_exchange_are_off_unless_configured() {
        let off = Config::parse("").unwrap();
        assert!(off.trust.issuers.is_empty() && !off.trust.token_exchange);
        let on = Config::parse(&format!("{PARTNER}\n[token_exchange]\nenabled = true\n")).unwrap();
        assert!(on.trust.token_exchange);
        let mut policy = Policy::default();
        on.trust.configure(&mut policy);
        assert_eq!(policy.jwt_bearer.issuers.len(), 1);
        assert!(
            policy.token_exchange.issuers.is_empty(),
            "not trusted for it"
        );
        let mapped = |sub| {
            on.trust
                .local_subject("https://idp.partner.example", sub, "c")
        };
        assert_eq!(
            mapped("partner-alice").await.unwrap().as_deref(),
            Some("alice")
        );
        assert_eq!(mapped("mallory").await.unwrap(), None);
        let other = on
            .trust
            .local_subject("https://other.example", "partner-alice", "c");
        assert_eq!(other.await.unwrap(), None);
        let e = Config::parse("[token_exchange]\nenabled = \"yes\"\n").unwrap_err();
        assert_eq!(e.field(), "token_exchange.enabled");
    }
}
