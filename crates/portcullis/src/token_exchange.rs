//! Token exchange (RFC 8693): each presented token is resolved into an `ExchangeParty` — an
//! access token of ours by its hash in the store (opaque or JWT: a revoked one is gone), an
//! ID token of ours by our published keys (subject or actor, under the user's live grant to
//! the client; as the subject, with its `auth_time`), a JWT of a trusted issuer by its keys
//! with its subject mapped by the host (and its `auth_time` claim, if any, the new token's) — the host's hook picks impersonation or delegation,
//! and the core decides the rest (`portcullis_core::decide_token_exchange`).

use async_trait::async_trait;
use portcullis_core::{
    decide_token_binding, decide_token_exchange, exchange_audience, format_for_audience,
    id_token_auth_time, verify_compact, AccessTokenRecord, Algorithm, AuthorizationDetail, Client,
    Confirmation, Delegation, ExchangeMode, ExchangeParty, ExchangeRole, FamilyId, Grant,
    HolderProof, OAuthError, PartySubject, ScopeSet, TokenErrorCode, TokenExchangeGrant, TokenHash,
    TokenResponse, TokenSubject, TokenType, UnixTime,
};

use crate::claims::ClaimsError;
use crate::client_endpoint::TokenEndpointError;
use crate::endpoint_error::Fault;
use crate::jwt_bearer::AssertedGrant;
use crate::provider::Provider;
use crate::token::Exchanged;

/// What the host's token exchange policy is asked about: the verified parties and the
/// request's target. Subjects are local (a trusted issuer's already mapped).
#[derive(Debug)]
#[non_exhaustive]
pub struct ExchangeFacts<'a> {
    /// The client asking.
    pub client_id: &'a str,
    /// The subject token's party.
    pub subject: &'a ExchangeParty,
    /// The actor token's party, when one was sent.
    pub actor: Option<&'a ExchangeParty>,
    /// The audience asked for (`resource` and `audience`); empty for none.
    pub audience: &'a [String],
    /// The scope asked for.
    pub scope: Option<&'a ScopeSet>,
}

/// The host's token exchange policy (RFC 8693 §1.1): which exchanges happen, and whether
/// the new token impersonates the subject or names the actor as acting for them.
#[async_trait]
pub trait TokenExchangeHook: Send + Sync + 'static {
    /// [`ExchangeMode::Impersonation`], [`ExchangeMode::Delegation`] (with an actor token),
    /// or `None` to refuse (`invalid_request`, RFC 8693 §2.2.2). Default: refuse.
    async fn decide(&self, facts: &ExchangeFacts<'_>) -> Result<Option<ExchangeMode>, ClaimsError> {
        let _ = facts;
        Ok(None)
    }
}

/// A presented token resolved, with its record when it is an access token of ours, and,
/// when it is an ID token of ours as the subject, the user's live grant to the client and
/// when they logged in.
struct Resolved {
    party: ExchangeParty,
    record: Option<AccessTokenRecord>,
    login: Option<(Grant, UnixTime)>,
}

impl Resolved {
    /// The key or certificate its access token is bound to (RFC 9449 §7.1, RFC 8705 §3).
    fn confirmation(&self) -> Option<Confirmation> {
        self.record.as_ref().and_then(|r| r.confirmation.clone())
    }
}

impl Provider {
    /// RFC 8693 §2: no refresh token (§2.2.1 makes it optional): the exchanged token lives
    /// no longer than the tokens it came from, and the client exchanges again while they
    /// live. The token is bound like any other (RFC 9449, RFC 8705), and a sender-constrained
    /// subject or actor token is exchanged only with its proof (RFC 9449 §7.1, RFC 8705 §3).
    pub(crate) async fn token_exchange(
        &self,
        client: &Client,
        g: TokenExchangeGrant,
        resources: Vec<String>,
        details: Option<Vec<AuthorizationDetail>>,
        presented: &HolderProof<'_>,
        now: UnixTime,
    ) -> Result<TokenResponse, TokenEndpointError> {
        let inner = &self.inner;
        let registry = &inner.policy.resources;
        if details.is_some() {
            return Err(OAuthError::new(
                TokenErrorCode::InvalidRequest,
                "authorization_details is not supported in a token exchange",
            )
            .into());
        }
        let audience = exchange_audience(resources, &g.audience, registry, &client.id)?;
        let subject = self
            .resolve(
                client,
                &g.subject_token,
                g.subject_token_type,
                ExchangeRole::Subject,
                now,
            )
            .await?;
        let actor = match &g.actor_token {
            Some((token, kind)) => Some(
                self.resolve(client, token, *kind, ExchangeRole::Actor, now)
                    .await?,
            ),
            None => None,
        };
        let actor_party = actor.as_ref().map(|a| &a.party);
        let mode = match &inner.token_exchange {
            Some(hook) => hook
                .decide(&ExchangeFacts {
                    client_id: &client.id,
                    subject: &subject.party,
                    actor: actor_party,
                    audience: &audience,
                    scope: g.scope.as_ref(),
                })
                .await
                .map_err(Fault::from)?,
            None => None,
        };
        let format = if audience.is_empty() {
            client.tokens.access_token_format
        } else {
            format_for_audience(&audience, registry)
        };
        let decision = decide_token_exchange(
            client,
            &g,
            &subject.party,
            actor_party,
            mode,
            &audience,
            format,
            registry,
        )?;
        let binding = decide_token_binding(client, presented, subject.confirmation().as_ref())?;
        if let Some(bound) = actor.as_ref().and_then(Resolved::confirmation) {
            decide_token_binding(client, presented, Some(&bound))?;
        }
        let lineage = subject
            .record
            .as_ref()
            .and_then(|r| Some((r, r.grant_id.as_ref()?, r.family_id.as_ref()?)));
        let asserted: Option<AssertedGrant>;
        let delegation = match (&subject.party.subject, lineage, subject.login) {
            (PartySubject::Client(_), _, _) => None,
            // A user's access token of ours: the new token lives under its grant and family,
            // and dies with them.
            (PartySubject::User(user), Some((r, grant_id, family_id)), _) => Some(Delegation {
                subject: user,
                auth_time: r.auth_time,
                acr: r.acr.as_deref(),
                amr: r.amr.as_deref(),
                grant_id,
                family_id,
            }),
            // An ID token of ours: under the user's live grant to the client, so revoking
            // it kills the new token; its login is the ID token's, never the exchange's.
            (PartySubject::User(_), None, Some((grant, auth_time))) => {
                asserted = Some(AssertedGrant {
                    grant,
                    family_id: FamilyId::generate(inner.rng.as_ref())?,
                });
                asserted.as_ref().map(|a| a.delegation(Some(auth_time)))
            }
            // A trusted issuer's JWT (or an access token of ours outside a grant): its
            // `auth_time` if it tells one, else none — never the exchange's time.
            (PartySubject::User(user), None, None) => {
                asserted = Some(
                    self.asserted_grant(client, user.clone(), &decision.scopes, now)
                        .await?,
                );
                asserted
                    .as_ref()
                    .map(|a| a.delegation(subject.party.auth_time))
            }
        };
        let to = TokenSubject {
            issuer: &inner.issuer,
            client_id: &client.id,
            delegation,
            scopes: &decision.scopes,
            audience: &audience,
            oidc: None,
            confirmation: binding.access.as_cnf(),
            authorization_details: &[],
        };
        let exchanged = Exchanged {
            act: decision.act.as_ref(),
            not_after: Some(decision.not_after),
        };
        let mut response = self
            .issue_access_token(client, &to, &exchanged, g.scope.as_ref(), now)
            .await?;
        response.issued_token_type = Some(decision.issued_token_type.as_str());
        Ok(response)
    }

    /// Resolves a presented token of `kind` (RFC 8693 §3) for `client`; every refusal is
    /// `invalid_request` (§2.2.2).
    async fn resolve(
        &self,
        client: &Client,
        token: &str,
        kind: TokenType,
        role: ExchangeRole,
        now: UnixTime,
    ) -> Result<Resolved, TokenEndpointError> {
        let inner = &self.inner;
        let ours = inner
            .stores
            .access_tokens
            .find_access_token(&inner.issuer, &TokenHash::of(token))
            .await?;
        match (kind, ours) {
            (TokenType::AccessToken | TokenType::Jwt, Some(record)) => Ok(Resolved {
                party: ExchangeParty::from_access_token(&record, &client.id, role, now)?,
                record: Some(record),
                login: None,
            }),
            (TokenType::AccessToken, None) => {
                Err(role.refused("the token is invalid or expired").into())
            }
            (TokenType::IdToken, _) => {
                let keys = self.key_snapshot(now, false).await?;
                let verified = verify_compact(token, &keys.published(now), &Algorithm::ALL)
                    .map_err(|_| role.refused("the token is invalid or expired"))?;
                let party = ExchangeParty::from_id_token(
                    verified.header.typ.as_deref(),
                    &verified.payload,
                    &inner.issuer,
                    client,
                    role,
                    now,
                )?;
                // Subject or actor, an ID token counts only under the user's live grant to
                // the client: a revoked grant's old ID token acts for no one.
                let (PartySubject::User(user) | PartySubject::Client(user)) = &party.subject;
                let auth_time = match role {
                    ExchangeRole::Subject => {
                        Some(id_token_auth_time(&verified.payload, role, now)?)
                    }
                    ExchangeRole::Actor => None,
                };
                let grants = inner
                    .stores
                    .grants
                    .grants_for(&inner.issuer, user, &client.id)
                    .await?;
                let (party, grant) = party.under_grant(grants, role, now)?;
                Ok(Resolved {
                    party,
                    record: None,
                    login: auth_time.map(|t| (grant, t)),
                })
            }
            (TokenType::Jwt, None) => {
                let token_endpoint = inner.issuer.endpoint(crate::paths::TOKEN);
                let audiences = [inner.issuer.as_str(), token_endpoint.as_str()];
                let party = ExchangeParty::from_trusted_jwt(
                    token,
                    &inner.policy.token_exchange,
                    &audiences,
                    role,
                    now,
                )?;
                Ok(Resolved {
                    party: self.mapped(client, party, role).await?,
                    record: None,
                    login: None,
                })
            }
        }
    }

    /// A trusted issuer's subject token with its local subject (the host's mapper); an
    /// actor keeps its issuer's naming, which its `act` claim states with `iss`.
    async fn mapped(
        &self,
        client: &Client,
        party: ExchangeParty,
        role: ExchangeRole,
    ) -> Result<ExchangeParty, TokenEndpointError> {
        let (ExchangeRole::Subject, Some(issuer), PartySubject::User(sub)) =
            (role, &party.issuer, &party.subject)
        else {
            return Ok(party);
        };
        match self.local_subject(issuer, sub, &client.id).await? {
            Some(local) => Ok(party.with_local_subject(local)),
            None => Err(role.refused("the token's subject is not known here").into()),
        }
    }
}
