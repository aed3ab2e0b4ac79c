//! Issuing ID tokens (OpenID Connect Core §2, §3.1.3.3, §12.2).

use portcullis_core::{
    half_hash, merge_extra_claims, pairwise_subject, release_id_token_claims, verify_compact,
    Algorithm, Client, IdTokenClaims, OidcSession, ScopeSet, SubjectType, UnixTime,
};

use crate::endpoint_error::Fault;
use crate::keys::KeyError;
use crate::provider::Provider;
use crate::signer::sign_jws;

/// What an ID token is about.
pub(crate) struct IdTokenFor<'a> {
    pub(crate) client: &'a Client,
    pub(crate) subject: &'a str,
    /// `None` only when the login time is unknown, as for no grant that issues ID tokens.
    pub(crate) auth_time: Option<UnixTime>,
    pub(crate) scopes: &'a ScopeSet,
    pub(crate) session: &'a OidcSession,
    /// The access token issued with it, for `at_hash`.
    pub(crate) access_token: Option<&'a str>,
    /// The code issued with it, for `c_hash`. Neither this nor an access token (only
    /// `response_type=id_token`): the ID token carries the claims of the granted scopes
    /// (OpenID Connect Core §5.4).
    pub(crate) code: Option<&'a str>,
}

impl Provider {
    /// The `sub` a client sees for a user: the local subject, or its pairwise form (§8.1).
    pub fn subject_for(&self, client: &Client, local_subject: &str) -> String {
        match &client.oidc.subject_type {
            SubjectType::Public => local_subject.to_owned(),
            SubjectType::Pairwise { sector_identifier } => {
                pairwise_subject(sector_identifier, local_subject, &self.inner.subject_salt)
            }
        }
    }

    /// The algorithm of `client`'s ID tokens (and logout tokens): its registered one, or
    /// the provider's default, as its profile allows.
    pub(crate) fn id_token_alg(&self, client: &Client) -> Algorithm {
        client.profile.signing_alg(
            client.oidc.id_token_signed_response_alg,
            self.inner.policy.keys.default_alg,
        )
    }

    /// Signs an ID token with the client's algorithm (or the provider's default). Fails only
    /// by the server's fault (the keys or the host's claims).
    pub(crate) async fn issue_id_token(
        &self,
        t: &IdTokenFor<'_>,
        now: UnixTime,
    ) -> Result<String, Fault> {
        let inner = &self.inner;
        let alg = self.id_token_alg(t.client);
        let key = self.signer(alg, now).await?;
        // An access token results when one comes with the ID token or its code will be
        // redeemed for one; only `response_type=id_token` has neither (§5.4).
        let access_token_results = t.access_token.is_some() || t.code.is_some();
        let by_name = &t.session.claims.id_token;
        let mut extra = serde_json::Map::new();
        if !by_name.is_empty() || !access_token_results {
            let all = inner.claims.claims(t.subject).await?;
            extra = release_id_token_claims(&all, t.scopes, by_name, access_token_results);
        }
        let hook = inner
            .claims
            .id_token_claims(t.subject, &t.client.id, t.scopes)
            .await?;
        let dropped = merge_extra_claims(&mut extra, hook);
        if !dropped.is_empty() {
            tracing::warn!(?dropped, "host ID token claims may not set protocol claims");
        }
        let claims = IdTokenClaims {
            iss: inner.issuer.to_string(),
            sub: self.subject_for(t.client, t.subject),
            aud: t.client.id.clone(),
            exp: now.plus(inner.policy.lifetimes.id_token),
            iat: now,
            auth_time: t.auth_time.filter(|_| t.session.auth_time_required),
            nonce: t.session.nonce.clone(),
            acr: t.session.acr.clone(),
            amr: t.session.amr.clone(),
            azp: Some(t.client.id.clone()),
            at_hash: t.access_token.map(|a| half_hash(a, alg)),
            c_hash: t.code.map(|c| half_hash(c, alg)),
            sid: t.session.sid.clone(),
            extra,
        };
        let unsigned = claims.to_jws(alg, key.kid()).map_err(KeyError::from)?;
        Ok(sign_jws(key.as_ref(), unsigned)
            .await
            .map_err(KeyError::from)?)
    }
}

/// The claims of an `id_token_hint` this provider signed.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct HintClaims {
    iss: String,
    /// The subject, as the audience client sees it.
    pub(crate) sub: String,
    /// The client it was issued to (ours always have a single audience).
    pub(crate) aud: String,
}

impl Provider {
    /// The claims of `hint` if it is an ID token this provider signed with a published key.
    /// An expired one still counts: a hint is not a credential (OpenID Connect Core
    /// §3.1.2.1, RP-Initiated Logout 1.0 §2).
    pub(crate) async fn verified_id_token_hint(
        &self,
        hint: &str,
        now: UnixTime,
    ) -> Option<HintClaims> {
        let keys = self.key_snapshot(now, false).await.ok()?;
        let verified = verify_compact(hint, &keys.published(now), &Algorithm::ALL).ok()?;
        let claims: HintClaims = serde_json::from_slice(&verified.payload).ok()?;
        (claims.iss == self.inner.issuer.as_str()).then_some(claims)
    }
}
