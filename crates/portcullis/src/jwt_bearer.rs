//! The JWT bearer grant (RFC 7523 §2.1): the core checks the assertion
//! (`portcullis_core::check_grant_assertion`), the replay cache spends its `jti` once, the
//! host maps its subject, and the token is the user's under a grant of its own, with the
//! assertion's `auth_time` if it has one and none otherwise — never the grant's time, which
//! a resource server would take for a fresh login (RFC 9470 §6.2).

use async_trait::async_trait;
use portcullis_core::{
    check_grant_assertion, decide_jwt_bearer_scopes, decide_token_binding, Client, Delegation,
    FamilyId, Grant, GrantId, HolderProof, JwtBearerGrant, OAuthError, ScopeSet, TokenErrorCode,
    TokenResponse, TokenSubject, UnixTime,
};
use portcullis_store::{ReplayNamespace, ReplayOutcome};

use crate::claims::ClaimsError;
use crate::client_endpoint::TokenEndpointError;
use crate::endpoint_error::Fault;
use crate::provider::Provider;
use crate::token::Exchanged;

/// The namespace of spent grant assertion `jti`s (per issuer: the id hashes both).
const SPENT_GRANT_ASSERTIONS: ReplayNamespace = ReplayNamespace::new("jwt_bearer_grant");

/// Maps the subjects of the issuers the host trusts to its own users: the JWT bearer
/// grant's assertions and token exchange's foreign JWTs name users as their issuer knows
/// them, and only the host knows who that is here.
#[async_trait]
pub trait SubjectMapper: Send + Sync + 'static {
    /// The local subject for `subject` as `issuer` names them, for a token to `client_id`;
    /// `None` when there is none (the request is refused).
    async fn local_subject(
        &self,
        issuer: &str,
        subject: &str,
        client_id: &str,
    ) -> Result<Option<String>, ClaimsError>;
}

/// A user's grant to a client made by an assertion or an exchanged token: the grant the
/// issued token lives under, so that revoking the user's grants revokes it too.
pub(crate) struct AssertedGrant {
    pub(crate) grant: Grant,
    pub(crate) family_id: FamilyId,
}

impl AssertedGrant {
    pub(crate) fn delegation(&self, auth_time: Option<UnixTime>) -> Delegation<'_> {
        Delegation {
            subject: &self.grant.subject,
            auth_time,
            acr: None,
            amr: None,
            grant_id: &self.grant.id,
            family_id: &self.family_id,
        }
    }
}

impl Provider {
    /// Whether the JWT bearer grant works here: a subject mapper and a trusted issuer.
    pub(crate) fn offers_jwt_bearer(&self) -> bool {
        self.inner.subject_mapper.is_some() && !self.inner.policy.jwt_bearer.issuers.is_empty()
    }

    /// The local subject `mapper` gives `subject` of `issuer`, if any.
    pub(crate) async fn local_subject(
        &self,
        issuer: &str,
        subject: &str,
        client_id: &str,
    ) -> Result<Option<String>, TokenEndpointError> {
        match &self.inner.subject_mapper {
            Some(mapper) => Ok(mapper
                .local_subject(issuer, subject, client_id)
                .await
                .map_err(Fault::from)?),
            None => Ok(None),
        }
    }

    /// Saves a new grant of `subject` to `client` for `scopes`, living as long as the
    /// access token.
    pub(crate) async fn asserted_grant(
        &self,
        client: &Client,
        subject: String,
        scopes: &ScopeSet,
        now: UnixTime,
    ) -> Result<AssertedGrant, TokenEndpointError> {
        let inner = &self.inner;
        let rng = inner.rng.as_ref();
        let grant = Grant {
            id: GrantId::generate(rng)?,
            issuer: inner.issuer.clone(),
            subject,
            client_id: client.id.clone(),
            scopes: scopes.clone(),
            created_at: now,
            last_used_at: now,
            expires_at: now.plus(inner.policy.lifetimes.access_token),
            revoked: false,
            sessions: Vec::new(),
        };
        inner.stores.grants.save_grant(&grant).await?;
        Ok(AssertedGrant {
            grant,
            family_id: FamilyId::generate(rng)?,
        })
    }

    /// RFC 7523 §2.1, §3: every refusal of the assertion is `invalid_grant` (§3.1), an
    /// assertion used before too; no refresh token (the client asserts again).
    pub(crate) async fn jwt_bearer(
        &self,
        client: &Client,
        g: JwtBearerGrant,
        audience: Vec<String>,
        presented: &HolderProof<'_>,
        now: UnixTime,
    ) -> Result<TokenResponse, TokenEndpointError> {
        let inner = &self.inner;
        let token_endpoint = inner.issuer.endpoint(crate::paths::TOKEN);
        let accepted = check_grant_assertion(
            &g,
            &inner.policy.jwt_bearer,
            &[inner.issuer.as_str(), token_endpoint.as_str()],
            now,
        )?;
        let scopes = decide_jwt_bearer_scopes(client, &g, &audience, &inner.policy.resources)?;
        let binding = decide_token_binding(client, presented, None)?;
        let outcome = inner
            .stores
            .replays
            .check_and_insert(
                &inner.issuer,
                SPENT_GRANT_ASSERTIONS,
                &accepted.replay_id,
                accepted.expires_at,
                now,
            )
            .await?;
        if let ReplayOutcome::Replayed = outcome {
            return Err(invalid_grant("the assertion was used before").into());
        }
        let Some(subject) = self
            .local_subject(&accepted.issuer, &accepted.subject, &client.id)
            .await?
        else {
            return Err(invalid_grant("the assertion's subject is not known here").into());
        };
        let asserted = self.asserted_grant(client, subject, &scopes, now).await?;
        let to = TokenSubject {
            issuer: &inner.issuer,
            client_id: &client.id,
            delegation: Some(asserted.delegation(accepted.auth_time)),
            scopes: &scopes,
            audience: &audience,
            oidc: None,
            confirmation: binding.access.as_cnf(),
            authorization_details: &[],
        };
        self.issue_access_token(client, &to, &Exchanged::default(), g.scope.as_ref(), now)
            .await
    }
}

fn invalid_grant(description: &'static str) -> OAuthError<TokenErrorCode> {
    OAuthError::new(TokenErrorCode::InvalidGrant, description)
}
