//! `grant_type=refresh_token` (RFC 6749 §6): the family rules (absolute lifetime, idle
//! timeout), narrowing, and rotation (RFC 9700 §4.14.2).
//!
//! The engine finds the presented token and settles its state (a rotated token is reuse or
//! within its grace period, a revoked one `invalid_grant`); for an active one, the core
//! decides in two steps around the one store read a rule may need:
//! [`check_refresh_token`], then — with the grant's last use when
//! [`RefreshCheck::needs_grant_last_use`] — [`RefreshCheck::decide`].

use std::time::Duration;

use ring::rand::SecureRandom;

use super::openid::id_token_session;
use super::response::{mint_refresh_token, Delegation, MintedToken, TokenSubject};
use super::{invalid_grant, invalid_target, TokenError};
use crate::client::Client;
use crate::error::{OAuthError, TokenErrorCode};
use crate::issuer::Issuer;
use crate::oidc::OidcSession;
use crate::records::RefreshTokenRecord;
use crate::resources::{narrow_resources, scopes_for_audience, Resource};
use crate::scope::ScopeSet;
use crate::secret::RandomError;
use crate::time::UnixTime;

/// An active refresh token that passed the checks needing no store read.
#[derive(Debug)]
pub struct RefreshCheck<'a> {
    token: &'a RefreshTokenRecord,
    rotate: bool,
    family_started_at: UnixTime,
    family_ends_at: Option<UnixTime>,
    idle_timeout: Option<Duration>,
    now: UnixTime,
}

/// Checks an active refresh token `token`, presented by `client` at `now`: issued to that
/// client, unexpired, and its family within the client's absolute lifetime, counted from
/// the family's first refresh token. Every refusal is `invalid_grant`.
pub fn check_refresh_token<'a>(
    token: &'a RefreshTokenRecord,
    client: &Client,
    now: UnixTime,
) -> Result<RefreshCheck<'a>, TokenError> {
    if token.client_id != client.id {
        return Err(invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    if now >= token.expires_at {
        return Err(invalid_grant("the refresh token has expired"));
    }
    let policy = &client.tokens.refresh;
    let family_started_at = token.family_started_at.unwrap_or(token.issued_at);
    let family_ends_at = policy
        .absolute_lifetime_secs
        .map(|s| family_started_at.plus(Duration::from_secs(s)));
    if family_ends_at.is_some_and(|end| now >= end) {
        return Err(invalid_grant(
            "the refresh token family has reached its lifetime",
        ));
    }
    Ok(RefreshCheck {
        token,
        // Public clients always rotate (RFC 9700 §4.14.2).
        rotate: policy.rotate || client.is_public(),
        family_started_at,
        family_ends_at,
        idle_timeout: policy.idle_timeout_secs.map(Duration::from_secs),
        now,
    })
}

impl<'a> RefreshCheck<'a> {
    /// Whether [`RefreshCheck::decide`] needs the grant's `last_used_at`: a non-rotating
    /// token under an idle timeout was last used when its grant was. A rotating token was
    /// last used when it was issued.
    pub fn needs_grant_last_use(&self) -> bool {
        self.idle_timeout.is_some() && !self.rotate
    }

    /// Decides the refresh: the idle timeout (`grant_last_used_at`: the grant's
    /// `last_used_at` when [`RefreshCheck::needs_grant_last_use`], `None` if the grant is
    /// gone or was not read), then the narrowing of the scope (`invalid_scope` if
    /// `requested_scope` widens it, RFC 6749 §6) and of the resources (`invalid_target` if
    /// one was not granted, RFC 8707 §2.2), checked against the `registry`.
    pub fn decide(
        self,
        grant_last_used_at: Option<UnixTime>,
        requested_scope: Option<&'a ScopeSet>,
        requested_resources: Vec<String>,
        registry: &[Resource],
    ) -> Result<RefreshDecision<'a>, TokenError> {
        let token = self.token;
        if let Some(idle) = self.idle_timeout {
            let last_use = if self.rotate {
                token.issued_at
            } else {
                grant_last_used_at.unwrap_or(token.issued_at)
            };
            if self.now >= last_use.plus(idle) {
                return Err(invalid_grant("the refresh token expired unused"));
            }
        }
        let asked = narrowed_scopes(token, requested_scope)?;
        let audience =
            narrow_resources(requested_resources, &token.resources).map_err(invalid_target)?;
        let access_scopes = scopes_for_audience(&asked, &audience, registry);
        // OpenID Connect Core §12.2: a new ID token with the same sub and original auth_time.
        let id_token = id_token_session(token.oidc.as_ref(), &access_scopes);
        Ok(RefreshDecision {
            token,
            rotate: self.rotate,
            family_started_at: self.family_started_at,
            family_ends_at: self.family_ends_at,
            audience,
            access_scopes,
            response_scope: requested_scope.unwrap_or(&token.scopes),
            id_token,
        })
    }
}

/// A refresh may narrow the scope but never widen it (RFC 6749 §6).
fn narrowed_scopes(
    token: &RefreshTokenRecord,
    requested: Option<&ScopeSet>,
) -> Result<ScopeSet, TokenError> {
    match requested {
        None => Ok(token.scopes.clone()),
        Some(r) if r.is_subset(&token.scopes) => Ok(r.clone()),
        Some(_) => Err(OAuthError::new(
            TokenErrorCode::InvalidScope,
            "the requested scope exceeds the original grant",
        )),
    }
}

/// What a granted refresh issues: an access token, an ID token in OpenID mode, and — when
/// rotating — a successor refresh token that replaces the presented one.
#[derive(Debug)]
pub struct RefreshDecision<'a> {
    token: &'a RefreshTokenRecord,
    family_started_at: UnixTime,
    family_ends_at: Option<UnixTime>,
    /// Whether the presented token is replaced by a successor (the client's policy; public
    /// clients always rotate). Otherwise it stays valid and no refresh token is returned.
    pub rotate: bool,
    /// The access token's audience: the resources asked for, some of those granted, or all
    /// of them (RFC 8707 §2.2).
    pub audience: Vec<String>,
    /// The access token's scopes: the requested (or granted) ones its audience understands.
    pub access_scopes: ScopeSet,
    /// What the response's `scope` is compared with (RFC 6749 §5.1): the scope asked for, or
    /// the token's.
    pub response_scope: &'a ScopeSet,
    /// The session of the ID token to issue, in OpenID mode.
    pub id_token: Option<&'a OidcSession>,
}

impl<'a> RefreshDecision<'a> {
    /// The user side of the tokens: the presented token's subject, grant and family.
    pub fn delegation(&self) -> Delegation<'a> {
        let token = self.token;
        Delegation {
            subject: &token.subject,
            auth_time: token.auth_time,
            // A token stored before it kept its login's acr and amr has them only in oidc.
            acr: (token.acr.as_deref()).or(token.oidc.as_ref().and_then(|o| o.acr.as_deref())),
            amr: (token.amr.as_deref()).or(token.oidc.as_ref().and_then(|o| o.amr.as_deref())),
            grant_id: &token.grant_id,
            family_id: &token.family_id,
        }
    }

    /// Who the successor refresh token is for: the presented token's scope and resources
    /// (RFC 6749 §6: the new refresh token keeps the scope of the old one).
    pub fn successor_subject<'s>(&'s self, issuer: &'s Issuer) -> TokenSubject<'s> {
        let token = self.token;
        TokenSubject {
            issuer,
            client_id: &token.client_id,
            delegation: Some(self.delegation()),
            scopes: &token.scopes,
            audience: &token.resources,
            oidc: token.oidc.as_ref(),
            confirmation: None,
            authorization_details: &token.authorization_details,
        }
    }

    /// Who the access token is for: [`RefreshDecision::audience`] and
    /// [`RefreshDecision::access_scopes`].
    pub fn access_subject<'s>(&'s self, issuer: &'s Issuer) -> TokenSubject<'s> {
        TokenSubject {
            scopes: &self.access_scopes,
            audience: &self.audience,
            ..self.successor_subject(issuer)
        }
    }

    /// Mints the successor refresh token at `now` for `lifetime`, in the same family, when
    /// the token rotates ([`RefreshDecision::rotate`]; else `None`): it remembers when the
    /// family started and expires by the family's end at the latest.
    pub fn mint_successor(
        &self,
        issuer: &Issuer,
        now: UnixTime,
        lifetime: Duration,
        rng: &dyn SecureRandom,
    ) -> Result<Option<MintedToken<RefreshTokenRecord>>, RandomError> {
        if !self.rotate {
            return Ok(None);
        }
        let mut successor = mint_refresh_token(
            &self.successor_subject(issuer),
            &self.delegation(),
            now,
            lifetime,
            rng,
        )?;
        successor.record.family_started_at = Some(self.family_started_at);
        if let Some(end) = self.family_ends_at {
            successor.record.expires_at = successor.record.expires_at.min(end);
        }
        Ok(Some(successor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientKind, RefreshPolicy};
    use crate::token::test_support::*;
    use ring::rand::SystemRandom;

    fn with_policy(client: Client, policy: RefreshPolicy) -> Client {
        let mut tokens = client.tokens.clone();
        tokens.refresh = policy;
        client.with_tokens(tokens)
    }

    fn policy(rotate: bool, absolute: Option<u64>, idle: Option<u64>) -> RefreshPolicy {
        RefreshPolicy {
            rotate,
            absolute_lifetime_secs: absolute,
            idle_timeout_secs: idle,
            grace: None,
        }
    }

    fn at(secs: u64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    /// The refusal of a check, or of the decision after it (with the grant last used at
    /// `last_use`).
    fn refusal(
        token: &RefreshTokenRecord,
        client: &Client,
        now: UnixTime,
        last_use: Option<UnixTime>,
        scope: Option<&ScopeSet>,
        resources: Vec<String>,
    ) -> Option<(TokenErrorCode, String)> {
        let decided = check_refresh_token(token, client, now)
            .and_then(|c| c.decide(last_use, scope, resources, &registry()));
        decided.err().map(|e| (e.code, e.description.into_owned()))
    }

    fn invalid_grant(description: &str) -> Option<(TokenErrorCode, String)> {
        Some((TokenErrorCode::InvalidGrant, description.to_owned()))
    }

    #[test]
    fn the_token_must_be_the_clients_and_unexpired() {
        let client = confidential_client();
        let token = refresh_record();
        let mut other = refresh_record();
        other.client_id = "other".into();
        assert_eq!(
            refusal(&other, &client, now(), None, None, vec![]),
            invalid_grant("the refresh token was issued to another client")
        );
        assert_eq!(
            refusal(&token, &client, token.expires_at, None, None, vec![]),
            invalid_grant("the refresh token has expired")
        );
        let just_before = at(token.expires_at.secs() - 1);
        assert_eq!(
            refusal(&token, &client, just_before, None, None, vec![]),
            None
        );
    }

    #[test]
    fn the_family_ends_at_its_absolute_lifetime_from_its_first_token() {
        let client = with_policy(confidential_client(), policy(true, Some(100), None));
        let mut token = refresh_record();
        token.issued_at = at(1_000);
        token.expires_at = at(10_000);
        let ended = invalid_grant("the refresh token family has reached its lifetime");
        // The first token of its family: counted from its issue.
        assert_eq!(
            refusal(&token, &client, at(1_099), None, None, vec![]),
            None
        );
        assert_eq!(
            refusal(&token, &client, at(1_100), None, None, vec![]),
            ended
        );
        // A successor: counted from the family's start.
        token.family_started_at = Some(at(950));
        assert_eq!(
            refusal(&token, &client, at(1_049), None, None, vec![]),
            None
        );
        assert_eq!(
            refusal(&token, &client, at(1_050), None, None, vec![]),
            ended
        );
    }

    #[test]
    fn the_idle_timeout_counts_from_the_last_use() {
        let mut token = refresh_record();
        token.issued_at = at(1_000);
        token.expires_at = at(10_000);
        let unused = invalid_grant("the refresh token expired unused");
        // Rotating: the token was last used when it was issued; the grant is not read.
        let rotating = with_policy(confidential_client(), policy(true, None, Some(60)));
        let check = check_refresh_token(&token, &rotating, at(1_059)).unwrap();
        assert!(!check.needs_grant_last_use());
        assert_eq!(
            refusal(&token, &rotating, at(1_059), Some(at(2_000)), None, vec![]),
            None
        );
        assert_eq!(
            refusal(&token, &rotating, at(1_060), Some(at(2_000)), None, vec![]),
            unused
        );
        // Not rotating: last used when the grant was, else when issued.
        let reusable = with_policy(confidential_client(), policy(false, None, Some(60)));
        assert!(check_refresh_token(&token, &reusable, at(1_000))
            .unwrap()
            .needs_grant_last_use());
        assert_eq!(
            refusal(&token, &reusable, at(1_559), Some(at(1_500)), None, vec![]),
            None
        );
        assert_eq!(
            refusal(&token, &reusable, at(1_560), Some(at(1_500)), None, vec![]),
            unused
        );
        assert_eq!(
            refusal(&token, &reusable, at(1_059), None, None, vec![]),
            None
        );
        assert_eq!(
            refusal(&token, &reusable, at(1_060), None, None, vec![]),
            unused
        );
        // Without an idle timeout, nothing to read.
        let plain = with_policy(confidential_client(), policy(false, None, None));
        let check = check_refresh_token(&token, &plain, at(9_000)).unwrap();
        assert!(!check.needs_grant_last_use());
        assert_eq!(
            refusal(&token, &plain, at(9_000), Some(at(1_000)), None, vec![]),
            None
        );
    }

    #[test]
    fn public_clients_always_rotate() {
        let token = refresh_record();
        let decide = |client: &Client| {
            check_refresh_token(&token, client, now())
                .unwrap()
                .decide(None, None, vec![], &[])
                .unwrap()
                .rotate
        };
        assert!(decide(&with_policy(
            confidential_client(),
            policy(true, None, None)
        )));
        assert!(!decide(&with_policy(
            confidential_client(),
            policy(false, None, None)
        )));
        let public = Client::new("c", ClientKind::Public);
        assert!(decide(&with_policy(
            public.clone(),
            policy(false, None, None)
        )));
        // Public, so rotating: the idle timeout needs no grant.
        let check = check_refresh_token(
            &token,
            &with_policy(public, policy(false, None, Some(60))),
            now(),
        )
        .unwrap();
        assert!(!check.needs_grant_last_use());
    }

    #[test]
    fn a_refresh_narrows_but_never_widens() {
        let client = confidential_client();
        let mut token = refresh_record();
        token.scopes = set("read write");
        token.resources = vec![API.into(), OTHER_API.into()];
        assert_eq!(
            refusal(
                &token,
                &client,
                now(),
                None,
                Some(&set("read admin")),
                vec![]
            ),
            Some((
                TokenErrorCode::InvalidScope,
                "the requested scope exceeds the original grant".to_owned()
            ))
        );
        assert_eq!(
            refusal(
                &token,
                &client,
                now(),
                None,
                None,
                vec!["https://x.example".into()]
            ),
            Some((
                TokenErrorCode::InvalidTarget,
                "resource was not granted".to_owned()
            ))
        );
        let read = set("read");
        let registry = registry();
        let decision = check_refresh_token(&token, &client, now())
            .unwrap()
            .decide(None, Some(&read), vec![OTHER_API.into()], &registry)
            .unwrap();
        assert_eq!(decision.audience, vec![OTHER_API.to_owned()]);
        // `read` is not understood by the other API.
        assert_eq!(decision.access_scopes, ScopeSet::new());
        assert_eq!(decision.response_scope, &read);
        let all = check_refresh_token(&token, &client, now())
            .unwrap()
            .decide(None, None, vec![], &registry)
            .unwrap();
        assert_eq!(all.audience, token.resources);
        assert_eq!(all.access_scopes, token.scopes);
        assert_eq!(all.response_scope, &token.scopes);
        let issuer = issuer();
        let access = all.access_subject(&issuer);
        assert_eq!(access.scopes, &token.scopes);
        let narrowed = decision.access_subject(&issuer);
        assert_eq!(
            (narrowed.scopes, narrowed.audience),
            (&ScopeSet::new(), &[OTHER_API.to_owned()][..])
        );
        let successor = decision.successor_subject(&issuer);
        assert_eq!(
            (successor.scopes, successor.audience),
            (&token.scopes, &token.resources[..])
        );
        assert_eq!(successor.client_id, token.client_id);
        let d = successor.delegation.unwrap();
        assert_eq!(
            (d.subject, d.grant_id, d.family_id, d.auth_time),
            (
                token.subject.as_str(),
                &token.grant_id,
                &token.family_id,
                token.auth_time
            )
        );
    }

    /// The access tokens of a refresh carry the login's `acr` and `amr` (RFC 9470 §6), with
    /// or without OpenID Connect; a token stored before it kept them has them in `oidc`.
    #[test]
    fn a_refresh_keeps_the_login_acr_and_amr() {
        let client = confidential_client();
        let login = |token: &RefreshTokenRecord| {
            let decision = check_refresh_token(token, &client, now())
                .unwrap()
                .decide(None, None, vec![], &[])
                .unwrap();
            let d = decision.delegation();
            (d.acr.map(str::to_owned), d.amr.map(<[String]>::to_vec))
        };
        let mfa = (
            Some("urn:example:mfa".to_owned()),
            Some(vec!["pwd".to_owned(), "otp".to_owned()]),
        );
        let plain = RefreshTokenRecord {
            acr: mfa.0.clone(),
            amr: mfa.1.clone(),
            ..refresh_record()
        };
        assert_eq!(login(&plain), mfa);
        let stored_before = RefreshTokenRecord {
            oidc: Some(OidcSession {
                acr: mfa.0.clone(),
                amr: mfa.1.clone(),
                ..session()
            }),
            ..refresh_record()
        };
        assert_eq!(login(&stored_before), mfa);
        assert_eq!(login(&refresh_record()), (None, None));
    }

    #[test]
    fn an_id_token_needs_openid_in_the_new_scope() {
        let client = confidential_client();
        let mut token = refresh_record();
        token.scopes = set("openid read");
        token.oidc = Some(session());
        let id_token = |scope: Option<&ScopeSet>| {
            check_refresh_token(&token, &client, now())
                .unwrap()
                .decide(None, scope, vec![], &[])
                .unwrap()
                .id_token
                .is_some()
        };
        assert!(id_token(None));
        assert!(!id_token(Some(&set("read"))));
    }

    #[test]
    fn the_successor_keeps_the_family_and_ends_with_it() {
        let client = with_policy(confidential_client(), policy(true, Some(100), None));
        let mut token = refresh_record();
        token.issued_at = at(1_000);
        token.expires_at = at(10_000);
        let decision = check_refresh_token(&token, &client, at(1_010))
            .unwrap()
            .decide(None, None, vec![], &[])
            .unwrap();
        let issuer = issuer();
        let rng = SystemRandom::new();
        let mint = |lifetime| {
            decision
                .mint_successor(&issuer, at(1_010), Duration::from_secs(lifetime), &rng)
                .unwrap()
                .unwrap()
                .record
        };
        let short = mint(30);
        assert_eq!(short.family_started_at, Some(at(1_000)));
        assert_eq!((short.issued_at, short.expires_at), (at(1_010), at(1_040)));
        assert_eq!(short.family_id, token.family_id);
        assert_eq!(short.scopes, token.scopes);
        assert_eq!(mint(3_600).expires_at, at(1_100));
        // Without an absolute lifetime, the successor's own.
        let unbounded = check_refresh_token(&token, &confidential_client(), at(1_010))
            .unwrap()
            .decide(None, None, vec![], &[])
            .unwrap();
        let record = unbounded
            .mint_successor(&issuer, at(1_010), Duration::from_secs(3_600), &rng)
            .unwrap()
            .unwrap()
            .record;
        assert_eq!(record.expires_at, at(4_610));
        assert_eq!(record.family_started_at, Some(at(1_000)));
        // A token that does not rotate has no successor.
        let kept = with_policy(confidential_client(), policy(false, None, None));
        let kept = check_refresh_token(&token, &kept, at(1_010))
            .unwrap()
            .decide(None, None, vec![], &[])
            .unwrap();
        assert!(!kept.rotate);
        let none = kept.mint_successor(&issuer, at(1_010), Duration::from_secs(3_600), &rng);
        assert!(none.unwrap().is_none());
    }
}
