//! Records and clients for the token decisions' tests.

use crate::client::{Client, ClientKind, GrantType};
use crate::client_secret::ClientSecretHash;
use crate::ids::{FamilyId, GrantId};
use crate::issuer::Issuer;
use crate::oidc::OidcSession;
use crate::records::{CodeRecord, Grant, RefreshTokenRecord};
use crate::redirect_uri::RedirectUri;
use crate::resources::{Resource, TokenFormat};
use crate::scope::ScopeSet;
use crate::secret::TokenHash;
use crate::time::UnixTime;

pub(crate) const REDIRECT: &str = "https://app.example/cb";
pub(crate) const API: &str = "https://api.example";
pub(crate) const OTHER_API: &str = "https://other.example";

pub(crate) fn set(s: &str) -> ScopeSet {
    ScopeSet::parse(s).unwrap()
}

pub(crate) fn now() -> UnixTime {
    UnixTime::from_secs(1_000)
}

pub(crate) fn issuer() -> Issuer {
    Issuer::parse("https://as.example").unwrap()
}

/// `API` understands `read`, `OTHER_API` `write`.
pub(crate) fn registry() -> Vec<Resource> {
    let resource = |uri: &str, scopes: &str| Resource {
        uri: uri.to_owned(),
        scopes: set(scopes),
        token_format: TokenFormat::Opaque,
        clients: None,
    };
    vec![resource(API, "read"), resource(OTHER_API, "write")]
}

/// A confidential client `c` with `REDIRECT`, the code and refresh grants, rotating.
pub(crate) fn confidential_client() -> Client {
    let secret = ClientSecretHash::Sha256([7; 32]);
    Client::new("c", ClientKind::confidential(secret))
        .with_redirect_uris([RedirectUri::parse(REDIRECT).unwrap()])
        .with_grant_types([GrantType::AuthorizationCode, GrantType::RefreshToken])
}

pub(crate) fn session() -> OidcSession {
    OidcSession {
        nonce: None,
        acr: None,
        amr: None,
        auth_time_required: false,
        claims: Default::default(),
        sid: None,
    }
}

/// A code for `c`, issued at `now()`, unbound (no redirect URI, no challenge).
pub(crate) fn code_record() -> CodeRecord {
    CodeRecord {
        hash: TokenHash::of("code"),
        issuer: issuer(),
        client_id: "c".into(),
        redirect_uri: None,
        code_challenge: None,
        scopes: set("read"),
        resources: vec![],
        subject: "alice".into(),
        auth_time: UnixTime::from_secs(900),
        acr: None,
        amr: None,
        grant_id: GrantId::from_stored("g".into()),
        family_id: FamilyId::from_stored("f".into()),
        oidc: None,
        dpop_jkt: None,
        authorization_details: vec![],
        issued_at: now(),
        expires_at: UnixTime::from_secs(1_060),
    }
}

pub(crate) fn grant() -> Grant {
    Grant {
        id: GrantId::from_stored("g".into()),
        issuer: issuer(),
        subject: "alice".into(),
        client_id: "c".into(),
        scopes: set("read"),
        created_at: now(),
        last_used_at: now(),
        expires_at: UnixTime::from_secs(100_000),
        revoked: false,
        sessions: Vec::new(),
    }
}

/// A refresh token for `c`, the first of its family, issued at 500, expiring at 5,000.
pub(crate) fn refresh_record() -> RefreshTokenRecord {
    RefreshTokenRecord {
        hash: TokenHash::of("refresh"),
        issuer: issuer(),
        client_id: "c".into(),
        subject: "alice".into(),
        scopes: set("read"),
        resources: vec![],
        auth_time: Some(UnixTime::from_secs(400)),
        acr: None,
        amr: None,
        grant_id: GrantId::from_stored("g".into()),
        family_id: FamilyId::from_stored("f".into()),
        oidc: None,
        family_started_at: None,
        confirmation: None,
        authorization_details: vec![],
        issued_at: UnixTime::from_secs(500),
        expires_at: UnixTime::from_secs(5_000),
    }
}
