//! Minting access and refresh tokens, and the successful token response (RFC 6749 §5.1).

use std::fmt;
use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::rand::SecureRandom;
use serde::Serialize;

use crate::authorization_details::AuthorizationDetail;
use crate::ids::{random_id, FamilyId, GrantId};
use crate::issuer::Issuer;
use crate::jose::{Algorithm, JoseError, SigningKey, UnsignedJws};
use crate::oidc::OidcSession;
use crate::records::{AccessTokenRecord, RefreshTokenRecord};
use crate::scope::ScopeSet;
use crate::secret::{RandomError, SecretToken, TokenHash};
use crate::time::UnixTime;
use crate::token_binding::{token_type, Confirmation};

/// A freshly minted token: the secret for the client and the record for the store.
#[derive(Debug)]
pub struct MintedToken<R> {
    /// The opaque token (256 random bits, base64url).
    pub secret: SecretToken,
    /// What to store, keyed by the secret's hash.
    pub record: R,
}

/// Who a token is for and what it allows.
#[derive(Debug, Clone, Copy)]
pub struct TokenSubject<'a> {
    /// The issuer.
    pub issuer: &'a Issuer,
    /// The client.
    pub client_id: &'a str,
    /// The resource owner, and the grant and family of a user-delegated token.
    pub delegation: Option<Delegation<'a>>,
    /// Scopes.
    pub scopes: &'a ScopeSet,
    /// The resources the token is for (`aud`, RFC 8707); empty when not restricted.
    pub audience: &'a [String],
    /// The OpenID Connect session of a delegation in OpenID mode.
    pub oidc: Option<&'a OidcSession>,
    /// What the access token is bound to (`cnf`, RFC 9449 §6, RFC 8705 §3); `None` for a
    /// bearer token.
    pub confirmation: Option<&'a Confirmation>,
    /// The authorization details (RFC 9396); empty when none.
    pub authorization_details: &'a [AuthorizationDetail],
}

/// The user side of a delegated token.
#[derive(Debug, Clone, Copy)]
pub struct Delegation<'a> {
    /// The resource owner.
    pub subject: &'a str,
    /// When they authenticated; `None` when unknown (an assertion or a trusted issuer's JWT
    /// without `auth_time`): the tokens then carry none, never the grant's time, which a
    /// resource server would take for a fresh login (RFC 9470 §6.2, RFC 9068 §2.2.1).
    pub auth_time: Option<UnixTime>,
    /// The authentication context class that login reached (`acr`), in either mode.
    pub acr: Option<&'a str>,
    /// The authentication methods of that login (`amr`, RFC 8176), in either mode.
    pub amr: Option<&'a [String]>,
    /// Their grant to the client.
    pub grant_id: &'a GrantId,
    /// The token family.
    pub family_id: &'a FamilyId,
}

/// Mints an opaque access token valid from `now` for `lifetime`.
///
/// Its `jti` is the left half of the token's SHA-256, base64url (what `at_hash` is for it,
/// OpenID Connect Core §3.3.2.11): as unique as the token, telling nothing of it, and it
/// spares a second draw from `rng`, a system call that would cost as much as the rest of
/// the mint.
pub fn mint_access_token(
    to: &TokenSubject<'_>,
    now: UnixTime,
    lifetime: Duration,
    rng: &dyn SecureRandom,
) -> Result<MintedToken<AccessTokenRecord>, RandomError> {
    let secret = SecretToken::generate(rng)?;
    let hash = secret.hash();
    let jti = URL_SAFE_NO_PAD.encode(&hash.as_bytes()[..16]);
    let record = access_record(to, hash, jti, now, now.plus(lifetime));
    Ok(MintedToken { secret, record })
}

/// The stored record of an access token (opaque or JWT) for `to`, under its `hash`.
fn access_record(
    to: &TokenSubject<'_>,
    hash: TokenHash,
    jti: String,
    now: UnixTime,
    expires_at: UnixTime,
) -> AccessTokenRecord {
    AccessTokenRecord {
        hash,
        jti,
        audience: to.audience.to_vec(),
        issuer: to.issuer.clone(),
        client_id: to.client_id.to_owned(),
        subject: to.delegation.map(|d| d.subject.to_owned()),
        scopes: to.scopes.clone(),
        scope_expiry: Default::default(),
        grant_id: to.delegation.map(|d| d.grant_id.clone()),
        family_id: to.delegation.map(|d| d.family_id.clone()),
        userinfo_claims: to
            .oidc
            .map(|o| o.claims.userinfo.clone())
            .unwrap_or_default(),
        confirmation: to.confirmation.cloned(),
        auth_time: to.delegation.and_then(|d| d.auth_time),
        acr: to.delegation.and_then(|d| d.acr.map(str::to_owned)),
        amr: to.delegation.and_then(|d| d.amr.map(<[String]>::to_vec)),
        authorization_details: to.authorization_details.to_vec(),
        act: None,
        issued_at: now,
        expires_at,
    }
}

/// Mints an opaque refresh token for a delegation, valid from `now` for `lifetime`.
pub fn mint_refresh_token(
    to: &TokenSubject<'_>,
    delegation: &Delegation<'_>,
    now: UnixTime,
    lifetime: Duration,
    rng: &dyn SecureRandom,
) -> Result<MintedToken<RefreshTokenRecord>, RandomError> {
    let secret = SecretToken::generate(rng)?;
    let record = RefreshTokenRecord {
        hash: secret.hash(),
        issuer: to.issuer.clone(),
        client_id: to.client_id.to_owned(),
        subject: delegation.subject.to_owned(),
        scopes: to.scopes.clone(),
        resources: to.audience.to_vec(),
        auth_time: delegation.auth_time,
        acr: delegation.acr.map(str::to_owned),
        amr: delegation.amr.map(<[String]>::to_vec),
        grant_id: delegation.grant_id.clone(),
        family_id: delegation.family_id.clone(),
        // The nonce belongs to the first ID token only (OpenID Connect Core §12.2).
        oidc: to.oidc.map(|o| OidcSession {
            nonce: None,
            ..o.clone()
        }),
        family_started_at: None,
        confirmation: None,
        authorization_details: to.authorization_details.to_vec(),
        issued_at: now,
        expires_at: now.plus(lifetime),
    };
    Ok(MintedToken { secret, record })
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `DPoP` for a DPoP-bound access token (RFC 9449 §5), else `Bearer` (RFC 6750).
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The refresh token, when one is issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scope, sent when it differs from what was requested (RFC 6749 §5.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The ID token, in OpenID mode (OpenID Connect Core §3.1.3.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The authorization details of the access token (RFC 9396 §7), when it has some.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorization_details: Vec<AuthorizationDetail>,
    /// The type of the token issued by a token exchange (RFC 8693 §2.2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
}

impl TokenResponse {
    /// The response for `access`, with `refresh` if issued: of `token_type` `DPoP` when the
    /// access token is DPoP-bound, else `Bearer`. `scope` is included when `granted` differs
    /// from `requested` (or nothing was requested).
    pub fn new(
        access: &MintedToken<AccessTokenRecord>,
        refresh: Option<&MintedToken<RefreshTokenRecord>>,
        requested: Option<&ScopeSet>,
        now: UnixTime,
    ) -> Self {
        let granted = &access.record.scopes;
        Self {
            access_token: access.secret.expose().to_owned(),
            token_type: token_type(access.record.confirmation.as_ref()),
            expires_in: now.seconds_until(access.record.expires_at),
            refresh_token: refresh.map(|r| r.secret.expose().to_owned()),
            scope: (requested != Some(granted)).then(|| granted.to_string()),
            id_token: None,
            authorization_details: access.record.authorization_details.clone(),
            issued_token_type: None,
        }
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// The claims of a JWT access token (RFC 9068 §2.2).
#[derive(Debug, Serialize)]
struct JwtAccessTokenClaims<'a> {
    iss: &'a str,
    exp: UnixTime,
    aud: &'a [String],
    sub: &'a str,
    client_id: &'a str,
    iat: UnixTime,
    jti: &'a str,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<UnixTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    acr: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    amr: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<&'a Confirmation>,
    /// RFC 9396 §9.1.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    authorization_details: &'a [AuthorizationDetail],
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

/// A JWT access token (RFC 9068) waiting for its signature; see [`prepare_jwt_access_token`].
#[derive(Debug)]
pub struct UnsignedJwtAccessToken {
    jws: UnsignedJws,
    record: AccessTokenRecord,
}

impl UnsignedJwtAccessToken {
    /// The bytes to sign.
    pub fn signing_input(&self) -> &[u8] {
        self.jws.signing_input()
    }

    /// The token with `signature`, and its record, stored under the hash of the whole JWT.
    pub fn with_signature(self, signature: &[u8]) -> MintedToken<AccessTokenRecord> {
        let secret = SecretToken::signed(self.jws.with_signature(signature));
        let record = AccessTokenRecord {
            hash: secret.hash(),
            ..self.record
        };
        MintedToken { secret, record }
    }
}

/// Prepares a JWT access token (RFC 9068) for the key `kid` signing with `alg`: `typ:
/// at+jwt`, expiring at `expires_at`. `sub` is the resource owner, or the client itself for
/// client credentials (§2.2). Its record keeps its `jti`, so introspection and revocation
/// work as for opaque tokens. `extra` must hold no protocol claim (see
/// [`crate::merge_extra_claims`]).
pub fn prepare_jwt_access_token(
    to: &TokenSubject<'_>,
    now: UnixTime,
    expires_at: UnixTime,
    extra: serde_json::Map<String, serde_json::Value>,
    alg: Algorithm,
    kid: &str,
    rng: &dyn SecureRandom,
) -> Result<UnsignedJwtAccessToken, JoseError> {
    let jti = random_id(rng).map_err(|_| JoseError::SigningFailed)?;
    // The hash is the signed JWT's: set by `with_signature`.
    let record = access_record(to, TokenHash::from_bytes([0; 32]), jti, now, expires_at);
    let claims = JwtAccessTokenClaims {
        iss: to.issuer.as_str(),
        exp: expires_at,
        aud: to.audience,
        sub: to.delegation.map_or(to.client_id, |d| d.subject),
        client_id: to.client_id,
        iat: now,
        jti: &record.jti,
        scope: to.scopes.to_string(),
        // The record's, so introspection tells of the same login (RFC 9470 §6).
        auth_time: record.auth_time,
        acr: record.acr.as_deref(),
        amr: record.amr.as_deref(),
        cnf: to.confirmation,
        authorization_details: to.authorization_details,
        extra,
    };
    let payload = serde_json::to_vec(&claims).map_err(|_| JoseError::SigningFailed)?;
    let jws = UnsignedJws::new(alg, kid, Some("at+jwt"), &payload)?;
    Ok(UnsignedJwtAccessToken { jws, record })
}

/// Mints a JWT access token signed by `key` in the process (see
/// [`prepare_jwt_access_token`]).
pub fn mint_jwt_access_token(
    to: &TokenSubject<'_>,
    now: UnixTime,
    expires_at: UnixTime,
    extra: serde_json::Map<String, serde_json::Value>,
    key: &SigningKey,
    rng: &dyn SecureRandom,
) -> Result<MintedToken<AccessTokenRecord>, JoseError> {
    let unsigned = prepare_jwt_access_token(to, now, expires_at, extra, key.alg(), key.kid(), rng)?;
    let signature = key.sign(unsigned.signing_input(), rng)?;
    Ok(unsigned.with_signature(&signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id_token::half_hash;
    use ring::rand::SystemRandom;

    /// What the tests' token subjects borrow: client `c`'s scope `read`, and the grant and
    /// family of alice, who signed in at 900.
    struct Parts {
        issuer: Issuer,
        scopes: ScopeSet,
        grant: GrantId,
        family: FamilyId,
        amr: Vec<String>,
    }

    impl Parts {
        fn new() -> Self {
            Self {
                issuer: Issuer::parse("https://as.example").unwrap(),
                scopes: ScopeSet::parse("read").unwrap(),
                grant: GrantId::from_stored("g".into()),
                family: FamilyId::from_stored("f".into()),
                amr: vec!["pwd".into(), "otp".into()],
            }
        }

        /// The client's own token.
        fn client(&self) -> TokenSubject<'_> {
            TokenSubject {
                issuer: &self.issuer,
                client_id: "c",
                delegation: None,
                scopes: &self.scopes,
                audience: &[],
                oidc: None,
                confirmation: None,
                authorization_details: &[],
            }
        }

        fn alice(&self) -> Delegation<'_> {
            Delegation {
                subject: "alice",
                auth_time: Some(UnixTime::from_secs(900)),
                acr: Some("urn:example:loa:2"),
                amr: Some(&self.amr),
                grant_id: &self.grant,
                family_id: &self.family,
            }
        }

        /// Alice's token, in OpenID mode with `oidc`.
        fn user<'a>(&'a self, oidc: &'a OidcSession) -> TokenSubject<'a> {
            TokenSubject {
                delegation: Some(self.alice()),
                oidc: Some(oidc),
                ..self.client()
            }
        }
    }

    /// A JWT access token for `to`, issued at 1,000, expiring at 2,000, unsigned.
    fn jwt(to: &TokenSubject<'_>, rng: &dyn SecureRandom) -> UnsignedJwtAccessToken {
        let (now, exp) = (UnixTime::from_secs(1_000), UnixTime::from_secs(2_000));
        prepare_jwt_access_token(to, now, exp, Default::default(), Algorithm::ES256, "k", rng)
            .unwrap()
    }

    #[test]
    fn an_opaque_token_jti_is_its_at_hash() {
        let parts = Parts::new();
        let to = parts.client();
        let rng = SystemRandom::new();
        let mint = || mint_access_token(&to, UnixTime::from_secs(0), Duration::ZERO, &rng);
        let (a, b) = (mint().unwrap(), mint().unwrap());
        assert_eq!(a.record.jti, half_hash(a.secret.expose(), Algorithm::RS256));
        assert_eq!(a.record.hash, a.secret.hash());
        assert_ne!(a.record.jti, b.record.jti);
    }

    /// A JWT access token's record sits under the whole JWT's hash, what a resource server
    /// presents; a refresh token's OpenID session drops the nonce (OpenID Connect Core
    /// §12.2); a token response's `Debug` shows no token.
    #[test]
    fn records_sit_under_what_is_presented_and_responses_hide_their_tokens() {
        let parts = Parts::new();
        let oidc = OidcSession {
            nonce: Some("n".into()),
            ..crate::token::test_support::session()
        };
        let to = parts.user(&oidc);
        let (rng, now) = (SystemRandom::new(), UnixTime::from_secs(1_000));
        let signed = jwt(&to, &rng).with_signature(b"signature");
        assert_eq!(signed.record.hash, signed.secret.hash());
        let refresh = mint_refresh_token(&to, &parts.alice(), now, Duration::ZERO, &rng).unwrap();
        assert_eq!(
            refresh.record.oidc.as_ref().map(|o| o.nonce.as_deref()),
            Some(None)
        );
        let opaque = mint_access_token(&to, now, Duration::ZERO, &rng).unwrap();
        let response = TokenResponse::new(&opaque, Some(&refresh), None, now);
        let debug = format!("{response:?}");
        assert!(debug.starts_with("TokenResponse"), "{debug}");
        for secret in [opaque.secret.expose(), refresh.secret.expose()] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    /// A delegated token's record keeps its login's `auth_time`, `acr` and `amr`, opaque or
    /// JWT, and the JWT carries the same (RFC 9068 §2.2.1, RFC 9470 §6), with or without
    /// OpenID Connect; so does its refresh token, for the next ones; a client's own token has
    /// none of them.
    #[test]
    fn the_record_and_the_jwt_tell_of_the_same_login() {
        let parts = Parts::new();
        let client = parts.client();
        let user = TokenSubject {
            delegation: Some(parts.alice()),
            ..parts.client()
        };
        let (rng, now) = (SystemRandom::new(), UnixTime::from_secs(1_000));
        let with_claims = |to: &TokenSubject<'_>| {
            let t = jwt(to, &rng);
            let payload = t.signing_input().split(|b| *b == b'.').nth(1).unwrap();
            let claims: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
            (t.record, claims)
        };
        let login = |r: &AccessTokenRecord| (r.auth_time, r.acr.clone(), r.amr.clone());
        let alice = (
            Some(UnixTime::from_secs(900)),
            Some("urn:example:loa:2".to_owned()),
            Some(vec!["pwd".to_owned(), "otp".to_owned()]),
        );
        let opaque = mint_access_token(&user, now, Duration::ZERO, &rng).unwrap();
        assert_eq!(login(&opaque.record), alice);
        let refresh = mint_refresh_token(&user, &parts.alice(), now, Duration::ZERO, &rng);
        let refresh = refresh.unwrap().record;
        assert_eq!((refresh.auth_time, refresh.acr, refresh.amr), alice);
        let (record, claims) = with_claims(&user);
        assert_eq!(login(&record), alice);
        assert_eq!(
            (&claims["auth_time"], &claims["acr"], &claims["amr"]),
            (
                &serde_json::json!(900),
                &serde_json::json!("urn:example:loa:2"),
                &serde_json::json!(["pwd", "otp"])
            )
        );
        let none = (None, None, None);
        let service = mint_access_token(&client, now, Duration::ZERO, &rng).unwrap();
        assert_eq!(login(&service.record), none);
        let (record, claims) = with_claims(&client);
        assert_eq!(login(&record), none);
        for claim in ["auth_time", "acr", "amr"] {
            assert!(claims.get(claim).is_none(), "{claim}: {claims}");
        }
    }
}
