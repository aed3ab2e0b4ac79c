//! Valid records with random hashes and ids, for the conformance checks and any store's own
//! tests.

use std::collections::BTreeMap;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use portcullis_core::{
    AccessTokenRecord, AcrClaim, Algorithm, AuthorizationDetail, ClaimsRequest, Client,
    ClientAuthMethod, ClientKind, ClientOidc, ClientRegistration, ClientSecretHash, CodeChallenge,
    CodeChallengeMethod, CodeRecord, Confirmation, DeviceAuthorizationRecord, DeviceStatus,
    FamilyId, Grant, GrantId, GrantType, Issuer, KeyRecord, MacAlgorithm, OidcSession,
    PrivateKeyEnvelope, PushedRequestRecord, RedirectUri, RefreshTokenRecord, RegistrationRequest,
    RegistrationRules, ScopeSet, SessionRecord, SubjectType, TokenFormat, TokenHash, UnixTime,
};

use crate::rng::SeededRng;

/// Builds records whose every field is set (so a round trip covers them all) and whose
/// secrets, hashes and ids come from a [`SeededRng`]: the same seed builds the same records.
///
/// Times are arguments: build them with a [`TestClock`](crate::TestClock).
#[derive(Debug)]
pub struct Fixtures {
    rng: SeededRng,
}

impl Fixtures {
    /// Records drawn from the stream of `seed`.
    pub fn new(seed: &[u8]) -> Self {
        Self {
            rng: SeededRng::new(seed),
        }
    }

    /// The generator behind the records.
    pub fn rng(&self) -> &SeededRng {
        &self.rng
    }

    /// The issuer the checks store records under.
    pub fn issuer() -> Issuer {
        issuer("https://a.conformance.example")
    }

    /// A second issuer sharing the store, which must never see the first one's records.
    pub fn other_issuer() -> Issuer {
        issuer("https://b.conformance.example/tenant")
    }

    /// A random 128-bit identifier, base64url (like `portcullis_core::random_id`).
    pub fn id(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.rng.bytes::<16>())
    }

    /// The hash of a fresh random 256-bit bearer secret.
    pub fn token_hash(&self) -> TokenHash {
        TokenHash::of(&URL_SAFE_NO_PAD.encode(self.rng.bytes::<32>()))
    }

    /// A fresh grant id.
    pub fn grant_id(&self) -> GrantId {
        GrantId::from_stored(self.id())
    }

    /// A fresh token-family id.
    pub fn family_id(&self) -> FamilyId {
        FamilyId::from_stored(self.id())
    }

    /// A confidential client with a random id, a hashed generated secret, a redirect URI and
    /// every grant type; no expiry.
    pub fn client(&self) -> Client {
        let secret = URL_SAFE_NO_PAD.encode(self.rng.bytes::<32>());
        let uri = |u: &str| RedirectUri::parse(u).expect("fixture redirect URI");
        let kind = ClientKind::confidential(
            ClientSecretHash::sha256_of_generated(&secret).expect("a 43-character secret"),
        );
        let mut client = Client::new(format!("client-{}", self.id()), kind)
            .with_redirect_uris([
                uri("https://client.example/cb"),
                uri("http://127.0.0.1/native"),
            ])
            .with_allowed_scopes(scopes("openid profile email offline_access"))
            .with_default_scopes(scopes("openid"))
            .with_grant_types([
                GrantType::AuthorizationCode,
                GrantType::ClientCredentials,
                GrantType::RefreshToken,
            ])
            .with_oidc(ClientOidc {
                id_token_signed_response_alg: Some(Algorithm::ES256),
                subject_type: SubjectType::Pairwise {
                    sector_identifier: "client.example".into(),
                },
                require_auth_time: true,
                post_logout_redirect_uris: vec![uri("https://client.example/bye")],
                authorization_signed_response_alg: None,
                backchannel_logout_uri: Some("https://client.example/backchannel".into()),
                backchannel_logout_session_required: true,
            })
            .with_first_party(true);
        // Away from the defaults, so that a round trip shows they were stored.
        client.tokens.access_token_format = TokenFormat::Jwt;
        client.tokens.refresh.absolute_lifetime_secs = Some(30 * 86_400);
        client.tokens.refresh.idle_timeout_secs = Some(86_400);
        client
    }

    /// A dynamically registered client (RFC 7591) with a random id, of the metadata `body`
    /// (JSON; every authentication method allowed, scope `read`), kept with its registration;
    /// its kind needs no secret (a key, JWT or mutual-TLS method, or `none`).
    pub fn registered_client(&self, body: &[u8]) -> Client {
        let rules = RegistrationRules::new(scopes("read")).with_auth_methods(
            ClientAuthMethod::ALL.to_vec(),
            Algorithm::ALL.to_vec(),
            MacAlgorithm::ALL.to_vec(),
            true,
        );
        let metadata = RegistrationRequest::parse(body, &rules)
            .expect("fixture metadata")
            .metadata;
        let kind = metadata
            .client_kind(None)
            .expect("a method without a secret");
        let token = TokenHash::of(&self.id());
        let registration = ClientRegistration::new(metadata.clone(), token, UnixTime::from_secs(1));
        metadata
            .to_client(format!("client-{}", self.id()), kind, registration)
            .expect("fixture client")
    }

    /// A live grant of `subject` to `client_id` at `issuer`, from `created_at` to `expires_at`.
    pub fn grant(
        &self,
        issuer: &Issuer,
        subject: &str,
        client_id: &str,
        created_at: UnixTime,
        expires_at: UnixTime,
    ) -> Grant {
        Grant {
            id: self.grant_id(),
            issuer: issuer.clone(),
            subject: subject.into(),
            client_id: client_id.into(),
            scopes: scopes("openid profile offline_access"),
            created_at,
            last_used_at: created_at,
            expires_at,
            revoked: false,
            sessions: vec![self.id()],
        }
    }

    /// An authorization code under `grant`, starting `family`, with PKCE, a redirect URI,
    /// resources, an OpenID Connect session and a DPoP key bound ahead; its user
    /// authenticated 20 s before it was issued (so a round trip tells the two times apart).
    pub fn code(
        &self,
        grant: &Grant,
        family: &FamilyId,
        issued_at: UnixTime,
        expires_at: UnixTime,
    ) -> CodeRecord {
        let challenge = URL_SAFE_NO_PAD.encode(self.rng.bytes::<32>());
        CodeRecord {
            hash: self.token_hash(),
            issuer: grant.issuer.clone(),
            client_id: grant.client_id.clone(),
            redirect_uri: Some("https://client.example/cb".into()),
            code_challenge: Some(
                CodeChallenge::new(CodeChallengeMethod::S256, &challenge)
                    .expect("43 base64url characters"),
            ),
            scopes: grant.scopes.clone(),
            resources: vec!["https://api.example/".into()],
            subject: grant.subject.clone(),
            auth_time: UnixTime::from_secs(issued_at.secs().saturating_sub(20)),
            acr: Some("urn:example:loa:2".into()),
            amr: Some(vec!["pwd".into(), "otp".into()]),
            grant_id: grant.id.clone(),
            family_id: family.clone(),
            oidc: Some(self.oidc_session()),
            dpop_jkt: Some(self.thumbprint()),
            authorization_details: self.authorization_details(),
            issued_at,
            expires_at,
        }
    }

    /// Authorization details (RFC 9396 §2): a payment with a nested amount and an account
    /// read, with members of every JSON kind, the second's amount drawn at random (so a
    /// round trip tells records apart).
    pub fn authorization_details(&self) -> Vec<AuthorizationDetail> {
        let cents = u64::from(u16::from_le_bytes(self.rng.bytes::<2>()));
        [
            serde_json::json!({
                "type": "payment_initiation",
                "actions": ["initiate", "status"],
                "locations": ["https://bank.example/payments"],
                "instructedAmount": {"currency": "EUR", "amount": format!("{}.{:02}", cents / 100, cents % 100)},
                "creditorName": "Merchant A",
                "recurring": false,
                "fee": null,
            }),
            serde_json::json!({
                "type": "account_information",
                "identifier": "acc-42",
                "privileges": ["read"],
                "datatypes": ["balances"],
                "limit": 1.5,
            }),
        ]
        .into_iter()
        .map(|v| AuthorizationDetail::from_json(v).expect("well-shaped"))
        .collect()
    }

    /// A random SHA-256 thumbprint, base64url (a DPoP key's or a certificate's).
    fn thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.rng.bytes::<32>())
    }

    /// A confirmation naming a DPoP key and, with `certificate`, a TLS certificate.
    pub fn confirmation(&self, certificate: bool) -> Confirmation {
        Confirmation {
            jkt: Some(self.thumbprint()),
            x5t_s256: certificate.then(|| self.thumbprint()),
        }
    }

    /// A user-delegated access token under `grant` and `family`, bound to a DPoP key and a
    /// certificate; its user authenticated 45 s before the grant was given, reaching
    /// `urn:example:loa:2` with a password and a one-time code (a round trip tells
    /// `auth_time` apart from the other times).
    pub fn access_token(
        &self,
        grant: &Grant,
        family: &FamilyId,
        issued_at: UnixTime,
        expires_at: UnixTime,
    ) -> AccessTokenRecord {
        AccessTokenRecord {
            subject: Some(grant.subject.clone()),
            scopes: grant.scopes.clone(),
            grant_id: Some(grant.id.clone()),
            family_id: Some(family.clone()),
            userinfo_claims: vec!["email".into()],
            scope_expiry: BTreeMap::from([("profile".into(), issued_at)]),
            confirmation: Some(self.confirmation(true)),
            auth_time: Some(UnixTime::from_secs(
                grant.created_at.secs().saturating_sub(45),
            )),
            acr: Some("urn:example:loa:2".into()),
            amr: Some(vec!["pwd".into(), "otp".into()]),
            authorization_details: self.authorization_details(),
            // Delegated by token exchange (RFC 8693 §4.1): a nested chain of actors.
            act: Some(serde_json::json!({ "sub": "agent", "act": { "sub": "gateway" } })),
            ..self.client_access_token(&grant.issuer, &grant.client_id, issued_at, expires_at)
        }
    }

    /// A `client_credentials` access token (RFC 6749 §4.4): no subject, grant, family or
    /// login.
    pub fn client_access_token(
        &self,
        issuer: &Issuer,
        client_id: &str,
        issued_at: UnixTime,
        expires_at: UnixTime,
    ) -> AccessTokenRecord {
        AccessTokenRecord {
            hash: self.token_hash(),
            jti: self.id(),
            audience: vec!["https://api.example/".into()],
            issuer: issuer.clone(),
            client_id: client_id.into(),
            subject: None,
            scopes: scopes("read"),
            scope_expiry: BTreeMap::new(),
            grant_id: None,
            family_id: None,
            userinfo_claims: Vec::new(),
            confirmation: None,
            auth_time: None,
            acr: None,
            amr: None,
            authorization_details: Vec::new(),
            act: None,
            issued_at,
            expires_at,
        }
    }

    /// A refresh token under `grant` and `family`, bound to a DPoP key; its user
    /// authenticated 45 s before the grant was given (so a round trip tells `auth_time`,
    /// which scope lifetimes count from, apart from the other times).
    pub fn refresh_token(
        &self,
        grant: &Grant,
        family: &FamilyId,
        issued_at: UnixTime,
        expires_at: UnixTime,
    ) -> RefreshTokenRecord {
        RefreshTokenRecord {
            hash: self.token_hash(),
            issuer: grant.issuer.clone(),
            client_id: grant.client_id.clone(),
            subject: grant.subject.clone(),
            scopes: grant.scopes.clone(),
            resources: vec!["https://api.example/".into()],
            auth_time: Some(UnixTime::from_secs(
                grant.created_at.secs().saturating_sub(45),
            )),
            acr: Some("urn:example:loa:2".into()),
            amr: Some(vec!["pwd".into(), "otp".into()]),
            grant_id: grant.id.clone(),
            family_id: family.clone(),
            oidc: Some(OidcSession {
                nonce: None,
                ..self.oidc_session()
            }),
            family_started_at: Some(grant.created_at),
            confirmation: Some(self.confirmation(false)),
            authorization_details: self.authorization_details(),
            issued_at,
            expires_at,
        }
    }

    /// A signing key of `issuer` created and active at `created_at`, not retired. Its
    /// "private key" is [`Fixtures::envelope`]: enough for a store, useless for signing.
    pub fn key(&self, issuer: &Issuer, alg: Algorithm, created_at: UnixTime) -> KeyRecord {
        KeyRecord {
            issuer: issuer.clone(),
            kid: self.id(),
            alg,
            private_key: self.envelope(),
            created_at,
            activates_at: created_at,
            retires_at: None,
            expires_at: None,
        }
    }

    /// A session of `subject` at `issuer` from `created_at` to `expires_at`, authenticated
    /// 30 s before it began (so a round trip tells the two times apart).
    pub fn session(
        &self,
        issuer: &Issuer,
        subject: &str,
        created_at: UnixTime,
        expires_at: UnixTime,
    ) -> SessionRecord {
        SessionRecord {
            hash: self.token_hash(),
            issuer: issuer.clone(),
            subject: subject.into(),
            auth_time: UnixTime::from_secs(created_at.secs().saturating_sub(30)),
            acr: Some("urn:example:loa:2".into()),
            amr: Some(vec!["pwd".into(), "otp".into()]),
            created_at,
            expires_at,
        }
    }

    /// A request `client_id` pushed to `issuer` at `issued_at`, live until `expires_at`, with
    /// every field set (a DPoP binding and a few parameters).
    pub fn pushed_request(
        &self,
        issuer: &Issuer,
        client_id: &str,
        issued_at: UnixTime,
        expires_at: UnixTime,
    ) -> PushedRequestRecord {
        PushedRequestRecord {
            hash: self.token_hash(),
            issuer: issuer.clone(),
            client_id: client_id.into(),
            params: vec![
                ("client_id".into(), client_id.into()),
                ("response_type".into(), "code".into()),
                ("state".into(), self.id()),
                ("scope".into(), "openid read".into()),
            ],
            dpop_jkt: Some(URL_SAFE_NO_PAD.encode(self.rng.bytes::<32>())),
            issued_at,
            expires_at,
        }
    }

    /// A device authorization of `client_id` at `issuer`, issued at `issued_at`, live until
    /// `expires_at`, pending and never polled, with every other field set.
    pub fn device_authorization(
        &self,
        issuer: &Issuer,
        client_id: &str,
        issued_at: UnixTime,
        expires_at: UnixTime,
    ) -> DeviceAuthorizationRecord {
        DeviceAuthorizationRecord {
            hash: self.token_hash(),
            user_code_hash: self.token_hash(),
            issuer: issuer.clone(),
            client_id: client_id.into(),
            scopes: ScopeSet::parse("openid read").expect("valid scopes"),
            resources: vec!["https://api.example/".into()],
            interval: 5,
            last_polled_at: None,
            status: DeviceStatus::Pending,
            issued_at,
            expires_at,
        }
    }

    /// What approving `device` stores: a code record under its device code's hash, of a
    /// grant of `subject`, every field set.
    pub fn device_approval(&self, device: &DeviceAuthorizationRecord, subject: &str) -> CodeRecord {
        let grant = self.grant(
            &device.issuer,
            subject,
            &device.client_id,
            device.issued_at,
            device.expires_at,
        );
        CodeRecord {
            hash: device.hash,
            redirect_uri: None,
            code_challenge: None,
            dpop_jkt: None,
            ..self.code(
                &grant,
                &self.family_id(),
                device.issued_at,
                device.expires_at,
            )
        }
    }

    /// A stored private key as a store sees it: 48 random bytes, opaque.
    pub fn envelope(&self) -> PrivateKeyEnvelope {
        PrivateKeyEnvelope::from_bytes(self.rng.bytes::<48>().to_vec())
    }

    fn oidc_session(&self) -> OidcSession {
        OidcSession {
            nonce: Some(self.id()),
            acr: Some("urn:example:loa:2".into()),
            amr: Some(vec!["pwd".into(), "otp".into()]),
            auth_time_required: true,
            claims: ClaimsRequest {
                userinfo: vec!["email".into()],
                id_token: vec!["name".into()],
                id_token_acr: Some(AcrClaim {
                    essential: true,
                    values: vec!["urn:example:loa:2".into()],
                }),
            },
            sid: Some(self.id()),
        }
    }
}

fn issuer(url: &str) -> Issuer {
    Issuer::parse(url).expect("fixture issuer")
}

fn scopes(list: &str) -> ScopeSet {
    ScopeSet::parse(list).expect("fixture scopes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_valid_distinct_and_reproducible() {
        let (f, g) = (Fixtures::new(b"x"), Fixtures::new(b"x"));
        let c = f.client();
        c.validate().unwrap();
        assert_eq!(c, g.client());
        assert_ne!(f.token_hash(), f.token_hash());
        let t = UnixTime::from_secs(10);
        let grant = f.grant(&Fixtures::issuer(), "alice", &c.id, t, t);
        let code = f.code(&grant, &f.family_id(), t, t);
        assert_eq!(code.grant_id, grant.id);
        assert_ne!(Fixtures::issuer(), Fixtures::other_issuer());
    }
}
