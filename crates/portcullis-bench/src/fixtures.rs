//! Token subjects and records built the way the engine builds them (`mint_access_token`).

use std::time::Duration;

use portcullis::core::{
    mint_access_token, AccessTokenRecord, Delegation, FamilyId, Grant, GrantId, Issuer, Lifetimes,
    OidcSession, ScopeSet, TokenSubject, UnixTime,
};
use ring::rand::SecureRandom;

/// The issuer of every benchmark record.
pub const ISSUER: &str = "https://auth.example.com";

/// The benchmarks' fixed "now": nothing expires while it is measured.
pub(crate) const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

/// Access-token lifetime: the engine's default (one hour).
pub(crate) const LIFETIME: Duration = Duration::from_secs(3600);

/// Clients the population is spread over.
const CLIENTS: u64 = 16;

/// One user's delegation to one client, in OpenID mode: what a token is minted for.
#[derive(Debug)]
pub struct Delegated {
    issuer: Issuer,
    client_id: String,
    subject: String,
    auth_time: UnixTime,
    scopes: ScopeSet,
    grant_id: GrantId,
    family_id: FamilyId,
    oidc: OidcSession,
}

impl Delegated {
    /// User `n`: a UUID-shaped subject (36 characters), one of 16 clients, scopes
    /// `openid profile email`, a fresh grant and token family, `amr: ["pwd"]`, signed in
    /// within the last hour (logins differ: `auth_time` is per token, not per shape).
    pub fn user(n: u64, rng: &dyn SecureRandom) -> Self {
        Self {
            issuer: Issuer::parse(ISSUER).expect("valid issuer"),
            client_id: format!("client-{:04}", n % CLIENTS),
            subject: format!(
                "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                n as u32,
                (n >> 32) as u16,
                n % 0x1000,
                (n / 7) % 0x1000,
                n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16
            ),
            auth_time: UnixTime::from_secs(NOW.secs() - n % 3600),
            scopes: ScopeSet::parse("openid profile email").expect("valid scopes"),
            grant_id: GrantId::generate(rng).expect("rng"),
            family_id: FamilyId::generate(rng).expect("rng"),
            oidc: OidcSession {
                nonce: None,
                acr: None,
                amr: Some(vec!["pwd".into()]),
                auth_time_required: false,
                claims: Default::default(),
                sid: None,
            },
        }
    }

    /// The grant the delegation's tokens live under, as saved at approval (it lives as long
    /// as a refresh token).
    pub fn grant(&self) -> Grant {
        Grant {
            id: self.grant_id.clone(),
            issuer: self.issuer.clone(),
            subject: self.subject.clone(),
            client_id: self.client_id.clone(),
            scopes: self.scopes.clone(),
            created_at: NOW,
            last_used_at: NOW,
            expires_at: NOW.plus(Lifetimes::default().refresh_token),
            revoked: false,
            sessions: Vec::new(),
        }
    }

    /// What the core mints a token for, as the engine's code exchange builds it.
    pub fn subject(&self) -> TokenSubject<'_> {
        TokenSubject {
            issuer: &self.issuer,
            client_id: &self.client_id,
            delegation: Some(Delegation {
                subject: &self.subject,
                auth_time: Some(self.auth_time),
                acr: self.oidc.acr.as_deref(),
                amr: self.oidc.amr.as_deref(),
                grant_id: &self.grant_id,
                family_id: &self.family_id,
            }),
            scopes: &self.scopes,
            audience: &[],
            oidc: Some(&self.oidc),
            confirmation: None,
            authorization_details: &[],
        }
    }
}

/// User `n`'s grant and the record of a fresh opaque access token under it, minted by the
/// core as the engine's code exchange mints it.
pub fn delegated_token(n: u64, rng: &dyn SecureRandom) -> (Grant, AccessTokenRecord) {
    let who = Delegated::user(n, rng);
    let minted = mint_access_token(&who.subject(), NOW, LIFETIME, rng).expect("rng");
    (who.grant(), minted.record)
}
