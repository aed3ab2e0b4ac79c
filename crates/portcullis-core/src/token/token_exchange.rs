//! `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693): a client trades
//! a token it was given — this provider's access token or ID token, or a JWT from an issuer
//! the host trusts — for an access token, possibly for another audience, narrower, and
//! acting for the token's subject by impersonation or, with an `actor_token`, by delegation
//! (the `act` claim, §4.1).
//!
//! The engine resolves each presented token into an [`ExchangeParty`] (a store lookup for
//! access tokens; our keys for ID tokens; the trusted issuer's keys for JWTs), asks the
//! host's policy for the [`ExchangeMode`], and [`decide_token_exchange`] decides the rest.
//!
//! Error codes (§2.2.2): a malformed request, an invalid, expired, revoked or unacceptable
//! subject or actor token, a refusal by the host's policy and an unsupported token type are
//! all `invalid_request`, as the RFC requires; a target not allowed is `invalid_target`; a
//! scope beyond the subject token's is `invalid_scope`.

use std::fmt;

use serde_json::{Map, Value};

use super::TokenError;
use crate::client::Client;
use crate::error::{OAuthError, TokenErrorCode};
use crate::issuer::Issuer;
use crate::params::Params;
use crate::records::{AccessTokenRecord, Grant};
use crate::resources::{scopes_for_audience, Resource, TokenFormat};
use crate::scope::ScopeSet;
use crate::time::UnixTime;
use crate::trusted_jwt::{verify_trusted_jwt, JwtClaims, TrustedIssuer};

/// The token types of RFC 8693 §3 this server reads or issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// `urn:ietf:params:oauth:token-type:access_token`: an OAuth access token.
    AccessToken,
    /// `urn:ietf:params:oauth:token-type:id_token`: an OpenID Connect ID token.
    IdToken,
    /// `urn:ietf:params:oauth:token-type:jwt`: a JWT.
    Jwt,
}

impl TokenType {
    /// Parses a token type URI; `None` for one this server does not handle (refresh tokens,
    /// SAML assertions, anything else).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "urn:ietf:params:oauth:token-type:access_token" => Some(Self::AccessToken),
            "urn:ietf:params:oauth:token-type:id_token" => Some(Self::IdToken),
            "urn:ietf:params:oauth:token-type:jwt" => Some(Self::Jwt),
            _ => None,
        }
    }

    /// The URI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessToken => "urn:ietf:params:oauth:token-type:access_token",
            Self::IdToken => "urn:ietf:params:oauth:token-type:id_token",
            Self::Jwt => "urn:ietf:params:oauth:token-type:jwt",
        }
    }
}

/// A token exchange request (RFC 8693 §2.1). Its `Debug` output hides the tokens.
#[derive(Clone)]
pub struct TokenExchangeGrant {
    /// The token the new one acts for.
    pub subject_token: String,
    /// Its type.
    pub subject_token_type: TokenType,
    /// The token of the party that acts, and its type (delegation).
    pub actor_token: Option<(String, TokenType)>,
    /// The type of token asked for: an access token (of any format) or a JWT.
    pub requested_token_type: Option<TokenType>,
    /// The scope asked for.
    pub scope: Option<ScopeSet>,
    /// The logical names of the targets (`audience`, several allowed).
    pub audience: Vec<String>,
}

fn invalid_request(description: impl Into<std::borrow::Cow<'static, str>>) -> TokenError {
    OAuthError::new(TokenErrorCode::InvalidRequest, description)
}

impl TokenExchangeGrant {
    /// Reads the parameters of §2.1 (`scope` is read by the caller): `subject_token` and
    /// `subject_token_type` required; `actor_token_type` exactly when `actor_token` is sent;
    /// token types this server reads (access token, ID token, JWT) and, asked for, an
    /// access token or a JWT. `invalid_request` otherwise.
    pub(crate) fn parse(params: &Params, scope: Option<ScopeSet>) -> Result<Self, TokenError> {
        let required = |name: &'static str| {
            params
                .get(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| invalid_request(format!("{name} is missing")))
        };
        let token_type = |name: &'static str| -> Result<Option<TokenType>, TokenError> {
            params
                .get(name)
                .map(|v| {
                    TokenType::parse(v)
                        .ok_or_else(|| invalid_request(format!("{name} is not supported")))
                })
                .transpose()
        };
        let subject_token = required("subject_token")?.to_owned();
        let subject_token_type = TokenType::parse(required("subject_token_type")?)
            .ok_or_else(|| invalid_request("subject_token_type is not supported"))?;
        let actor_token = match (params.get("actor_token"), token_type("actor_token_type")?) {
            // `Params` omits empty values (RFC 6749 §3.1): an empty `actor_token` is absent.
            (Some(token), Some(kind)) => Some((token.to_owned(), kind)),
            (None, None) => None,
            _ => {
                return Err(invalid_request(
                    "actor_token and actor_token_type go together",
                ))
            }
        };
        let requested_token_type = token_type("requested_token_type")?;
        if requested_token_type == Some(TokenType::IdToken) {
            return Err(invalid_request("requested_token_type is not supported"));
        }
        Ok(Self {
            subject_token,
            subject_token_type,
            actor_token,
            requested_token_type,
            scope,
            audience: params.all("audience").map(str::to_owned).collect(),
        })
    }
}

impl fmt::Debug for TokenExchangeGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenExchangeGrant")
            .field("subject_token", &"<redacted>")
            .field("subject_token_type", &self.subject_token_type)
            .field(
                "actor_token",
                &self.actor_token.as_ref().map(|(_, t)| ("<redacted>", t)),
            )
            .field("requested_token_type", &self.requested_token_type)
            .field("scope", &self.scope)
            .field("audience", &self.audience)
            .finish()
    }
}

/// Which presented token a refusal is about, for its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeRole {
    /// `subject_token`.
    Subject,
    /// `actor_token`.
    Actor,
}

impl ExchangeRole {
    /// `invalid_request` about this token (RFC 8693 §2.2.2).
    pub fn refused(self, why: &str) -> TokenError {
        let name = match self {
            Self::Subject => "subject_token",
            Self::Actor => "actor_token",
        };
        invalid_request(format!("{name}: {why}"))
    }
}

/// Whom a presented token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartySubject {
    /// A user, by the subject this provider knows them by.
    User(String),
    /// A client, by its `client_id` (its own token, as from client credentials).
    Client(String),
}

/// A presented token, verified: whom it speaks for and what it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeParty {
    /// Its issuer when it is not this provider.
    pub issuer: Option<String>,
    /// Whom it speaks for. For a foreign JWT, its `sub` as the issuer names them, until the
    /// host maps it ([`ExchangeParty::with_local_subject`]).
    pub subject: PartySubject,
    /// The scopes it carries; `None` when it names none (ID tokens, JWTs without `scope`).
    pub scopes: Option<ScopeSet>,
    /// Its `act` claim: who already acts for the subject (RFC 8693 §4.1).
    pub act: Option<Value>,
    /// When it expires: the exchanged token never outlives it.
    pub expires_at: UnixTime,
    /// When its user logged in, as it tells: an access token of ours its record's
    /// `auth_time`, a trusted issuer's JWT its `auth_time` claim; `None` otherwise (an ID
    /// token's is read by [`id_token_auth_time`]). The exchanged token carries it, and
    /// none without it: never the exchange's time (RFC 9470 §6.2).
    pub auth_time: Option<UnixTime>,
}

impl ExchangeParty {
    /// One of this provider's access tokens (opaque or JWT, found in the store by its hash,
    /// so a revoked one is not found): it must be live and issued to `client_id` or for it
    /// (`client_id` in its audience).
    pub fn from_access_token(
        record: &AccessTokenRecord,
        client_id: &str,
        role: ExchangeRole,
        now: UnixTime,
    ) -> Result<Self, TokenError> {
        if now >= record.expires_at {
            return Err(role.refused("the token is invalid or expired"));
        }
        if record.client_id != client_id && !record.audience.iter().any(|a| a == client_id) {
            return Err(role.refused("the token was not issued to or for this client"));
        }
        Ok(Self {
            issuer: None,
            subject: match &record.subject {
                Some(user) => PartySubject::User(user.clone()),
                None => PartySubject::Client(record.client_id.clone()),
            },
            scopes: Some(record.scopes_at(now)),
            act: record.act.clone(),
            expires_at: record.expires_at,
            auth_time: record.auth_time,
        })
    }

    /// One of this provider's ID tokens, its signature verified by the engine (`typ` its
    /// header's, `payload`): `iss` this provider, issued to `client_id` (`aud`), not
    /// expired. Only a client with public subjects may exchange them: a pairwise `sub`
    /// names no local user. Our other JWTs, signed by the same keys, are not ID tokens
    /// (RFC 8725 §2.8, §3.11): a `typ` other than `JWT` (an `at+jwt` access token, a
    /// `logout+jwt` logout token) or an `events` claim (a logout token, Back-Channel
    /// Logout 1.0 §2.4) is refused. Its scopes are those of the user's live grant to the
    /// client ([`ExchangeParty::under_grant`]).
    pub fn from_id_token(
        typ: Option<&str>,
        payload: &[u8],
        issuer: &Issuer,
        client: &Client,
        role: ExchangeRole,
        now: UnixTime,
    ) -> Result<Self, TokenError> {
        if client.oidc.subject_type != crate::client::SubjectType::Public {
            return Err(role.refused("ID tokens with pairwise subjects cannot be exchanged"));
        }
        if typ.is_some_and(|t| !t.eq_ignore_ascii_case("JWT")) {
            return Err(role.refused("the token is not an ID token"));
        }
        let payload: Map<String, Value> =
            serde_json::from_slice(payload).map_err(|_| role.refused("the token is malformed"))?;
        if payload.contains_key("events") {
            return Err(role.refused("the token is not an ID token"));
        }
        let claims: JwtClaims = serde_json::from_value(Value::Object(payload))
            .map_err(|_| role.refused("the token is malformed"))?;
        if claims.iss.as_deref() != Some(issuer.as_str()) {
            return Err(role.refused("the ID token is not this provider's"));
        }
        if !claims.aud.contains_any(&[client.id.as_str()]) {
            return Err(role.refused("the ID token was not issued to this client"));
        }
        let expires_at = claims
            .exp
            .filter(|exp| now < *exp)
            .ok_or_else(|| role.refused("the token is invalid or expired"))?;
        let sub = claims
            .sub
            .filter(|s| !s.is_empty())
            .ok_or_else(|| role.refused("the token has no sub"))?;
        Ok(Self {
            issuer: None,
            subject: PartySubject::User(sub),
            scopes: None,
            act: None,
            expires_at,
            auth_time: None,
        })
    }

    /// A JWT of one of the `trusted` issuers: signed by its keys, `exp` required and after
    /// `now`, `nbf`/`iat` within the skew, `sub` present, and `aud` naming one of
    /// `audiences`: this provider's issuer or token endpoint, never a client id, which
    /// the issuer may use for a client of its own (RFC 7519 §4.1.3, RFC 8725 §3.9). Its
    /// `scope`, `act` and `auth_time` claims are kept (a non-numeric `auth_time` refuses it). Without `scope` it limits nothing: the token's
    /// scopes are then the client's allowed ones that the exchange hook lets through.
    pub fn from_trusted_jwt(
        token: &str,
        trusted: &TokenExchangePolicy,
        audiences: &[&str],
        role: ExchangeRole,
        now: UnixTime,
    ) -> Result<Self, TokenError> {
        let jwt = verify_trusted_jwt(token, &trusted.issuers, trusted.clock_skew, now)
            .map_err(|why| role.refused(why))?;
        let c = jwt.claims;
        if !c.aud.contains_any(audiences) {
            return Err(role.refused("the JWT is not for this server"));
        }
        let sub = c
            .sub
            .filter(|s| !s.is_empty())
            .ok_or_else(|| role.refused("the token has no sub"))?;
        let scopes = c
            .scope
            .as_deref()
            .map(ScopeSet::parse)
            .transpose()
            .map_err(|_| role.refused("the JWT's scope is malformed"))?;
        Ok(Self {
            issuer: Some(jwt.issuer.issuer.clone()),
            subject: PartySubject::User(sub),
            scopes,
            act: c.act,
            expires_at: jwt.expires_at,
            auth_time: jwt.auth_time,
        })
    }

    /// An ID token's party under the user's live grant to the client, chosen among
    /// `grants` (theirs to the client): not revoked, not expired, the most recently used.
    /// It carries the grant's scopes, and lives no longer than the grant. None live (the
    /// user revoked it): `invalid_request` (RFC 8693 §2.2.2) — an old ID token never
    /// revives a grant.
    pub fn under_grant(
        self,
        grants: Vec<Grant>,
        role: ExchangeRole,
        now: UnixTime,
    ) -> Result<(Self, Grant), TokenError> {
        let grant = grants
            .into_iter()
            .filter(|g| !g.revoked && now < g.expires_at)
            .max_by_key(|g| g.last_used_at)
            .ok_or_else(|| role.refused("the user has no live grant to this client"))?;
        let party = Self {
            scopes: Some(grant.scopes.clone()),
            expires_at: self.expires_at.min(grant.expires_at),
            ..self
        };
        Ok((party, grant))
    }

    /// The party with the local subject the host mapped its foreign `sub` to.
    pub fn with_local_subject(self, subject: String) -> Self {
        Self {
            subject: PartySubject::User(subject),
            ..self
        }
    }

    /// The subject its `act` claim names (RFC 8693 §4.1): `sub`, and `iss` for a token of
    /// another issuer.
    fn as_actor(&self, prior: Option<&Value>) -> Value {
        let mut act = Map::new();
        let sub = match &self.subject {
            PartySubject::User(s) | PartySubject::Client(s) => s,
        };
        act.insert("sub".into(), Value::String(sub.clone()));
        if let Some(iss) = &self.issuer {
            act.insert("iss".into(), Value::String(iss.clone()));
        }
        if let Some(prior) = prior {
            act.insert("act".into(), prior.clone());
        }
        Value::Object(act)
    }
}

/// When the user of an ID token of ours logged in: its `auth_time` (`payload` verified by
/// the engine), which the exchanged token carries on — its step-up evidence (RFC 9470 §6.2)
/// and the instant scope lifetimes count from. Never the exchange's time: that would pass
/// an old login for a fresh one. An ID token without `auth_time` tells nothing of the login,
/// and is refused (`invalid_request`, RFC 8693 §2.2.2): a client that exchanges ID tokens
/// registers `require_auth_time` (OpenID Connect Dynamic Client Registration 1.0 §2). A
/// login after `now` counts as `now`.
pub fn id_token_auth_time(
    payload: &[u8],
    role: ExchangeRole,
    now: UnixTime,
) -> Result<UnixTime, TokenError> {
    #[derive(serde::Deserialize)]
    struct Login {
        #[serde(default, deserialize_with = "crate::client_assertion::numeric_date")]
        auth_time: Option<UnixTime>,
    }
    let login: Login =
        serde_json::from_slice(payload).map_err(|_| role.refused("the token is malformed"))?;
    login
        .auth_time
        .map(|t| t.min(now))
        .ok_or_else(|| role.refused("the ID token has no auth_time"))
}

/// How the issued token acts for the subject (RFC 8693 §1.1), as the host's policy decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeMode {
    /// The token is the subject's: no new actor is named.
    Impersonation,
    /// The token names the actor token's party as acting for the subject (`act`).
    Delegation,
}

/// The issuers whose JWTs may be exchanged (RFC 8693 §2.1: `urn:ietf:params:oauth:token-type:jwt`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenExchangePolicy {
    /// The issuers trusted; none by default (only this provider's tokens).
    pub issuers: Vec<TrustedIssuer>,
    /// How far ahead of now `iat` and `nbf` may be (default 10 s, at most
    /// [`crate::MAX_CLOCK_SKEW`]).
    pub clock_skew: std::time::Duration,
}

impl Default for TokenExchangePolicy {
    fn default() -> Self {
        Self {
            issuers: Vec::new(),
            clock_skew: std::time::Duration::from_secs(10),
        }
    }
}

/// The token's audience (RFC 8693 §2.1): the `resource` values (already checked against
/// the registry), then the `audience` names, each the URI of a resource registered for
/// `client_id`, else `invalid_target` (§2.2.2).
pub fn exchange_audience(
    mut resources: Vec<String>,
    audience: &[String],
    registry: &[Resource],
    client_id: &str,
) -> Result<Vec<String>, TokenError> {
    for name in audience {
        let known = registry
            .iter()
            .any(|r| r.uri == *name && r.clients.as_ref().is_none_or(|c| c.contains(client_id)));
        if !known {
            return Err(OAuthError::new(
                TokenErrorCode::InvalidTarget,
                "audience is unknown or not allowed for this client",
            ));
        }
        if !resources.contains(name) {
            resources.push(name.clone());
        }
    }
    Ok(resources)
}

/// What the exchange issues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeDecision {
    /// The scopes.
    pub scopes: ScopeSet,
    /// The `act` claim: the new actor over the subject token's chain, or the subject
    /// token's own chain, which an exchange never drops.
    pub act: Option<Value>,
    /// The `issued_token_type` (§2.2.1).
    pub issued_token_type: TokenType,
    /// The latest the token may expire: no later than the tokens it came from.
    pub not_after: UnixTime,
}

/// Decides the exchange for `client` (RFC 8693 §2): `mode` is the host policy's answer
/// (`None`: refused, `invalid_request`); delegation needs an actor token. A client's own
/// token is exchanged only by that client. A JWT is issued only where access tokens for
/// the `audience` (or, without one, the client's) are JWTs (`format`); otherwise
/// `invalid_request`. The scopes are those asked for (by default all the subject token
/// carries), within the subject token's and the client's allowed scopes, else
/// `invalid_scope`; then those the `audience` understands.
#[allow(clippy::too_many_arguments)]
pub fn decide_token_exchange(
    client: &Client,
    grant: &TokenExchangeGrant,
    subject: &ExchangeParty,
    actor: Option<&ExchangeParty>,
    mode: Option<ExchangeMode>,
    audience: &[String],
    format: TokenFormat,
    registry: &[Resource],
) -> Result<ExchangeDecision, TokenError> {
    let mode = mode.ok_or_else(|| invalid_request("the token exchange is not allowed"))?;
    if matches!(&subject.subject, PartySubject::Client(c) if *c != client.id) {
        return Err(ExchangeRole::Subject.refused("a client's own token is exchanged only by it"));
    }
    let act = match (mode, actor) {
        (ExchangeMode::Delegation, Some(actor)) => Some(actor.as_actor(subject.act.as_ref())),
        (ExchangeMode::Delegation, None) => {
            return Err(invalid_request("delegation needs an actor_token"))
        }
        (ExchangeMode::Impersonation, _) => subject.act.clone(),
    };
    let issued_token_type = match grant.requested_token_type {
        Some(TokenType::Jwt) if format != TokenFormat::Jwt => {
            return Err(invalid_request(
                "a JWT is not issued for this audience or client",
            ))
        }
        Some(TokenType::Jwt) => TokenType::Jwt,
        _ => TokenType::AccessToken,
    };
    let allowed = match &subject.scopes {
        Some(carried) => carried.intersection(&client.allowed_scopes),
        None => client.allowed_scopes.clone(),
    };
    let asked = match (&grant.scope, &subject.scopes) {
        (Some(asked), _) => asked.clone(),
        (None, Some(_)) => allowed.clone(),
        (None, None) => client.default_scopes.clone(),
    };
    if let Some(beyond) = asked.first_missing_from(&allowed) {
        return Err(OAuthError::new(
            TokenErrorCode::InvalidScope,
            format!("scope {beyond} is beyond the subject token or the client"),
        ));
    }
    let not_after = actor.map_or(subject.expires_at, |a| a.expires_at.min(subject.expires_at));
    Ok(ExchangeDecision {
        scopes: scopes_for_audience(&asked, audience, registry),
        act,
        issued_token_type,
        not_after,
    })
}

#[cfg(test)]
mod tests;
