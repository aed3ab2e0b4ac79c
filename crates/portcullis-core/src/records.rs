//! What the stores keep. Secrets appear only as their [`TokenHash`].

use serde::{Deserialize, Serialize};

use crate::authorization_details::AuthorizationDetail;
use crate::ids::{FamilyId, GrantId};
use crate::issuer::Issuer;
use crate::oidc::OidcSession;
use crate::pkce::CodeChallenge;
use crate::scope::ScopeSet;
use crate::secret::TokenHash;
use crate::time::UnixTime;
use crate::token_binding::Confirmation;

/// An issued authorization code (RFC 6749 §4.1.2), bound to everything the token request
/// must repeat or prove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    /// Hash of the code.
    pub hash: TokenHash,
    /// The issuer that minted it.
    pub issuer: Issuer,
    /// The client it was issued to.
    pub client_id: String,
    /// `redirect_uri` as sent in the authorization request, if it was sent (RFC 6749 §4.1.3).
    pub redirect_uri: Option<String>,
    /// The PKCE challenge (RFC 7636 §4.4).
    pub code_challenge: Option<CodeChallenge>,
    /// Granted scopes.
    pub scopes: ScopeSet,
    /// Granted resources (RFC 8707).
    #[serde(default)]
    pub resources: Vec<String>,
    /// The resource owner.
    pub subject: String,
    /// When the resource owner authenticated.
    pub auth_time: UnixTime,
    /// The authentication context class that login reached (`acr`), as the host reported
    /// it, in either mode: the access tokens carry it (RFC 9068 §2.2.1, RFC 9470 §6).
    #[serde(default)]
    pub acr: Option<String>,
    /// The authentication methods of that login (`amr`, RFC 8176), likewise.
    #[serde(default)]
    pub amr: Option<Vec<String>>,
    /// The grant it belongs to.
    pub grant_id: GrantId,
    /// The token family its redemption starts.
    pub family_id: FamilyId,
    /// The OpenID Connect session, in OpenID mode.
    #[serde(default)]
    pub oidc: Option<OidcSession>,
    /// The DPoP key the code is bound to ahead (`dpop_jkt`, RFC 9449 §10): the token
    /// request must prove it.
    #[serde(default)]
    pub dpop_jkt: Option<String>,
    /// The authorization details approved (RFC 9396).
    #[serde(default)]
    pub authorization_details: Vec<AuthorizationDetail>,
    /// Issue time.
    pub issued_at: UnixTime,
    /// Expiry.
    pub expires_at: UnixTime,
}

/// What one subject gave one client: the unit a user revokes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Identifier.
    pub id: GrantId,
    /// The issuer.
    pub issuer: Issuer,
    /// The resource owner.
    pub subject: String,
    /// The client.
    pub client_id: String,
    /// Every scope consented to under this grant.
    pub scopes: ScopeSet,
    /// When it was first given.
    pub created_at: UnixTime,
    /// When a code or refresh token under it was last redeemed.
    pub last_used_at: UnixTime,
    /// When the last token under it expires: after this the grant is purged.
    pub expires_at: UnixTime,
    /// Revoked: every token under it is dead.
    pub revoked: bool,
    /// The sessions its codes were issued in, as `sid`s at this client, most recent last,
    /// at most [`crate::MAX_GRANT_SESSIONS`]: whom back-channel logout tells when a session
    /// ends (Back-Channel Logout 1.0 §2.7).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<String>,
}

/// An issued access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenRecord {
    /// Hash of the token.
    pub hash: TokenHash,
    /// Its unique identifier (`jti`, RFC 7519 §4.1.7), also for JWT access tokens.
    pub jti: String,
    /// The resources it is for (`aud`, RFC 8707); empty when not restricted.
    #[serde(default)]
    pub audience: Vec<String>,
    /// The issuer.
    pub issuer: Issuer,
    /// The client it was issued to.
    pub client_id: String,
    /// The resource owner; `None` for `client_credentials`.
    pub subject: Option<String>,
    /// Scopes.
    pub scopes: ScopeSet,
    /// When scopes that live shorter than the token expire (see `Policy::scope_lifetimes`,
    /// [`crate::live_scopes`]).
    #[serde(default)]
    pub scope_expiry: std::collections::BTreeMap<String, UnixTime>,
    /// The grant, for user-delegated tokens.
    pub grant_id: Option<GrantId>,
    /// The token family, for user-delegated tokens.
    pub family_id: Option<FamilyId>,
    /// Claims asked for at UserInfo with the `claims` parameter (OpenID Connect Core §5.5).
    #[serde(default)]
    pub userinfo_claims: Vec<String>,
    /// The key or certificate its holder must prove (`cnf`, RFC 9449 §6, RFC 8705 §3);
    /// `None` for a bearer token.
    #[serde(default)]
    pub confirmation: Option<Confirmation>,
    /// When the resource owner authenticated (`auth_time`, RFC 9068 §2.2.1, RFC 9470 §6):
    /// the login's, kept across refreshes; `None` for `client_credentials`.
    #[serde(default)]
    pub auth_time: Option<UnixTime>,
    /// The authentication context class that login reached (`acr`), as the host reported
    /// it.
    #[serde(default)]
    pub acr: Option<String>,
    /// The authentication methods of that login (`amr`, RFC 8176), likewise.
    #[serde(default)]
    pub amr: Option<Vec<String>>,
    /// The authorization details it carries (RFC 9396 §9).
    #[serde(default)]
    pub authorization_details: Vec<AuthorizationDetail>,
    /// Who acts for the subject (`act`, RFC 8693 §4.1), for a token issued by token
    /// exchange with delegation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<serde_json::Value>,
    /// Issue time.
    pub issued_at: UnixTime,
    /// Expiry.
    pub expires_at: UnixTime,
}

impl CodeRecord {
    /// What redeeming the code must prove (RFC 9449 §10): the DPoP key of `dpop_jkt`, if the
    /// authorization request bound it ahead.
    pub fn confirmation(&self) -> Option<Confirmation> {
        self.dpop_jkt.as_ref().map(|jkt| Confirmation {
            jkt: Some(jkt.clone()),
            x5t_s256: None,
        })
    }
}

impl AccessTokenRecord {
    /// The scopes still valid at `now`: a scope with its own shorter lifetime drops out when
    /// that expires, while the others stay until the token does.
    pub fn scopes_at(&self, now: UnixTime) -> ScopeSet {
        if self.scope_expiry.is_empty() {
            return self.scopes.clone();
        }
        let live = self
            .scopes
            .iter()
            .filter(|s| self.scope_expiry.get(*s).is_none_or(|e| now < *e));
        ScopeSet::from_tokens(live).unwrap_or_default()
    }
}

/// An issued refresh token (RFC 6749 §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshTokenRecord {
    /// Hash of the token.
    pub hash: TokenHash,
    /// The issuer.
    pub issuer: Issuer,
    /// The client it was issued to.
    pub client_id: String,
    /// The resource owner.
    pub subject: String,
    /// The scopes of the grant; a refresh may narrow but never widen them.
    pub scopes: ScopeSet,
    /// The resources of the grant; a refresh may narrow to some of them (RFC 8707 §2.2).
    #[serde(default)]
    pub resources: Vec<String>,
    /// When the resource owner authenticated; `None` when that is unknown (the grants that
    /// issue refresh tokens all know it; the type follows [`crate::Delegation`]).
    pub auth_time: Option<UnixTime>,
    /// The `acr` of that login, kept for the access tokens of every refresh (a record
    /// stored before it kept it has it only in `oidc`).
    #[serde(default)]
    pub acr: Option<String>,
    /// The `amr` of that login (RFC 8176), likewise.
    #[serde(default)]
    pub amr: Option<Vec<String>>,
    /// The grant.
    pub grant_id: GrantId,
    /// The token family.
    pub family_id: FamilyId,
    /// The OpenID Connect session, for ID tokens on refresh (`nonce` removed).
    #[serde(default)]
    pub oidc: Option<OidcSession>,
    /// When the family's first refresh token was issued (for an absolute family lifetime);
    /// `None` means this token is the first.
    #[serde(default)]
    pub family_started_at: Option<UnixTime>,
    /// The key or certificate a public client must prove to redeem it (RFC 9449 §5,
    /// RFC 8705 §4); `None` when unbound.
    #[serde(default)]
    pub confirmation: Option<Confirmation>,
    /// The authorization details of the grant; a refresh may narrow but never widen them
    /// (RFC 9396 §6.2).
    #[serde(default)]
    pub authorization_details: Vec<AuthorizationDetail>,
    /// Issue time.
    pub issued_at: UnixTime,
    /// Expiry.
    pub expires_at: UnixTime,
}

/// A signed-in browser: the server-side half of a session cookie. The cookie holds a random
/// 256-bit id; the store keeps only its hash, so a copy of the store opens no session
/// (RFC 6819 §5.1.4.1.3). Deleting the record ends the session, whatever copies of the
/// cookie exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Hash of the session id.
    pub hash: TokenHash,
    /// The issuer.
    pub issuer: Issuer,
    /// Who signed in.
    pub subject: String,
    /// When they authenticated (OpenID Connect Core §2 `auth_time`).
    pub auth_time: UnixTime,
    /// The authentication context class that sign-in reached (`acr`), if the host tracks it.
    #[serde(default)]
    pub acr: Option<String>,
    /// The authentication methods of that sign-in (`amr`, RFC 8176), if the host tracks them.
    #[serde(default)]
    pub amr: Option<Vec<String>>,
    /// When the session began.
    pub created_at: UnixTime,
    /// When it ends, whatever happens in between.
    pub expires_at: UnixTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scope with its own lifetime drops out when that ends, the others stay
    /// (`Policy::scope_lifetimes`).
    #[test]
    fn a_scope_with_its_own_lifetime_drops_out_at_its_end() {
        let fading = AccessTokenRecord {
            scope_expiry: [("pay".to_owned(), UnixTime::from_secs(1_500))].into(),
            ..record()
        };
        let at = |secs| fading.scopes_at(UnixTime::from_secs(secs)).to_string();
        assert_eq!(at(1_499), "pay read");
        assert_eq!(at(1_500), "read");
        let plain = record();
        assert_eq!(plain.scopes_at(UnixTime::from_secs(1_999)), plain.scopes);
    }

    /// A user's token for `pay read`, issued at 1,000 for a login at 900.
    fn record() -> AccessTokenRecord {
        AccessTokenRecord {
            hash: TokenHash::of("t"),
            jti: "j".into(),
            audience: vec![],
            issuer: Issuer::parse("https://as.example").unwrap(),
            client_id: "c".into(),
            subject: Some("alice".into()),
            scopes: ScopeSet::parse("pay read").unwrap(),
            scope_expiry: Default::default(),
            grant_id: None,
            family_id: None,
            userinfo_claims: vec![],
            confirmation: None,
            auth_time: Some(UnixTime::from_secs(900)),
            acr: Some("urn:example:loa:2".into()),
            amr: Some(vec!["pwd".into()]),
            authorization_details: vec![],
            act: None,
            issued_at: UnixTime::from_secs(1_000),
            expires_at: UnixTime::from_secs(2_000),
        }
    }

    /// An access-token record stored before it kept its login (no `auth_time`, `acr` or
    /// `amr`) still reads, with none; one that has them comes back with them.
    #[test]
    fn access_token_records_read_with_or_without_their_login() {
        let record = record();
        let mut json = serde_json::to_value(&record).unwrap();
        let back: AccessTokenRecord = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, record);
        for member in ["auth_time", "acr", "amr"] {
            json.as_object_mut().unwrap().remove(member).unwrap();
        }
        let before: AccessTokenRecord = serde_json::from_value(json).unwrap();
        let none = AccessTokenRecord {
            auth_time: None,
            acr: None,
            amr: None,
            ..record
        };
        assert_eq!(before, none);
    }
}
