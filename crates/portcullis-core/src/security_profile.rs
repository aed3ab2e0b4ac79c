//! Security profiles: presets of per-client policies. The one profile besides the standard
//! rules is the FAPI 2.0 Security Profile (OpenID Foundation, 2025; "FAPI 2.0" below), whose
//! authorization-server clauses (§5.3.2, §5.4) a [`SecurityProfile::Fapi2`] client is held to.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::client::{Client, ClientKind, GrantType, PkcePolicy};
use crate::client_auth::ClientAuthMethod;
use crate::jose::Algorithm;
use crate::pkce::CodeChallengeMethod;
use crate::registration::AssertionAlgorithm;

/// The security profile a client is held to. Ordered: a provider-wide profile
/// ([`crate::Policy::profile`]) is a floor every client is raised to.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SecurityProfile {
    /// The standard rules (safe defaults, per-client choices).
    #[default]
    Standard,
    /// The FAPI 2.0 Security Profile.
    #[serde(rename = "fapi2")]
    Fapi2,
}

/// The signing algorithms FAPI 2.0 §5.4.1 allows (PS256, ES256, EdDSA with Ed25519); never
/// RSASSA-PKCS1-v1_5 (RS256) or `none`.
pub const FAPI2_ALGORITHMS: [Algorithm; 3] = [Algorithm::PS256, Algorithm::ES256, Algorithm::EdDSA];

/// The longest an authorization code of a FAPI 2.0 client lives (FAPI 2.0 §5.3.2.1).
pub const FAPI2_MAX_CODE_LIFETIME: Duration = Duration::from_secs(60);

/// Why a client cannot be held to FAPI 2.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Fapi2Violation {
    /// FAPI 2.0 §5.3.2.1: confidential clients only, authenticated by `private_key_jwt` or
    /// mutual TLS.
    #[error("FAPI 2.0 clients authenticate with private_key_jwt, tls_client_auth or self_signed_tls_client_auth")]
    AuthMethod,
    /// FAPI 2.0 §5.3.2.2: PKCE with S256, always.
    #[error("FAPI 2.0 clients cannot make PKCE optional")]
    OptionalPkce,
    /// FAPI 2.0 §5.4.1: PS256, ES256 or EdDSA only.
    #[error("FAPI 2.0 signing algorithms are PS256, ES256 and EdDSA")]
    SigningAlgorithm,
    /// FAPI 2.0 §5.3.2.1: the resource owner password credentials grant is rejected.
    #[error("FAPI 2.0 clients cannot use the password grant")]
    PasswordGrant,
}

impl SecurityProfile {
    /// Whether this is [`SecurityProfile::Fapi2`].
    pub fn is_fapi2(self) -> bool {
        self == Self::Fapi2
    }

    /// Whether a client of this profile may authenticate with `method` (FAPI 2.0
    /// §5.3.2.1: `private_key_jwt`, `tls_client_auth`, `self_signed_tls_client_auth`).
    pub fn allows_auth_method(self, method: ClientAuthMethod) -> bool {
        !self.is_fapi2()
            || matches!(
                method,
                ClientAuthMethod::PrivateKeyJwt
                    | ClientAuthMethod::TlsClientAuth
                    | ClientAuthMethod::SelfSignedTlsClientAuth
            )
    }

    /// Whether a client of `kind` may be held to this profile: under FAPI 2.0, only a
    /// confidential client of a method [`SecurityProfile::allows_auth_method`] allows.
    pub fn allows_client_kind(self, kind: &ClientKind) -> bool {
        !self.is_fapi2()
            || matches!(
                kind,
                ClientKind::PrivateKeyJwt { .. }
                    | ClientKind::TlsClientAuth { .. }
                    | ClientKind::SelfSignedTlsClientAuth { .. }
            )
    }

    /// Whether a JWS of this profile may use `alg` (FAPI 2.0 §5.4.1).
    pub fn allows_algorithm(self, alg: Algorithm) -> bool {
        !self.is_fapi2() || FAPI2_ALGORITHMS.contains(&alg)
    }

    /// Whether a code challenge of this profile may use `method` (FAPI 2.0 §5.3.2.2: S256).
    pub fn allows_challenge_method(self, method: CodeChallengeMethod) -> bool {
        !self.is_fapi2() || method == CodeChallengeMethod::S256
    }

    /// The algorithm that signs for a client of this profile: the one it `registered`, else
    /// the provider's `default` if this profile allows it, else ES256.
    pub fn signing_alg(self, registered: Option<Algorithm>, default: Algorithm) -> Algorithm {
        // A client raised to the profile after it registered another algorithm still gets
        // one the profile allows.
        match registered.filter(|a| self.allows_algorithm(*a)) {
            Some(alg) => alg,
            None if self.allows_algorithm(default) => default,
            None => Algorithm::ES256,
        }
    }

    /// How long a code of this profile lives: the `configured` lifetime, at most
    /// [`FAPI2_MAX_CODE_LIFETIME`] for FAPI 2.0.
    pub fn code_lifetime(self, configured: Duration) -> Duration {
        if self.is_fapi2() {
            configured.min(FAPI2_MAX_CODE_LIFETIME)
        } else {
            configured
        }
    }

    /// Checks that `client` may be held to this profile (the registration-time clauses of
    /// FAPI 2.0 §5.3.2 and §5.4.1).
    pub fn check(self, client: &Client) -> Result<(), Fapi2Violation> {
        if !self.is_fapi2() {
            return Ok(());
        }
        if !self.allows_client_kind(&client.kind) {
            return Err(Fapi2Violation::AuthMethod);
        }
        if client.pkce == PkcePolicy::DangerousOptional {
            return Err(Fapi2Violation::OptionalPkce);
        }
        if client.allows_grant(GrantType::Password) {
            return Err(Fapi2Violation::PasswordGrant);
        }
        let assertion_alg = client
            .registration
            .as_ref()
            .and_then(|r| r.metadata.token_endpoint_auth_signing_alg);
        let registered = [
            client.oidc.id_token_signed_response_alg,
            client.oidc.authorization_signed_response_alg,
            client.request_objects.signing_alg,
        ];
        let algs_ok = registered
            .into_iter()
            .flatten()
            .all(|a| self.allows_algorithm(a))
            && !client.request_objects.dangerous_allow_unsigned
            && assertion_alg.is_none_or(|a| match a {
                AssertionAlgorithm::Signature(a) => self.allows_algorithm(a),
                AssertionAlgorithm::Mac(_) => false,
            });
        if !algs_ok {
            return Err(Fapi2Violation::SigningAlgorithm);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAPI: SecurityProfile = SecurityProfile::Fapi2;
    const STANDARD: SecurityProfile = SecurityProfile::Standard;

    #[test]
    fn the_profiles_are_named_and_ordered() {
        assert_eq!(serde_json::to_value(FAPI).unwrap(), "fapi2");
        assert_eq!(serde_json::to_value(STANDARD).unwrap(), "standard");
        assert_eq!(STANDARD.max(FAPI), FAPI);
        assert_eq!(SecurityProfile::default(), STANDARD);
    }

    #[test]
    fn fapi2_narrows_methods_algorithms_and_pkce() {
        for m in ClientAuthMethod::ALL {
            assert!(STANDARD.allows_auth_method(m), "{m:?}");
            let fapi = matches!(
                m,
                ClientAuthMethod::PrivateKeyJwt
                    | ClientAuthMethod::TlsClientAuth
                    | ClientAuthMethod::SelfSignedTlsClientAuth
            );
            assert_eq!(FAPI.allows_auth_method(m), fapi, "{m:?}");
        }
        for a in Algorithm::ALL {
            assert!(STANDARD.allows_algorithm(a), "{a:?}");
            assert_eq!(FAPI.allows_algorithm(a), a != Algorithm::RS256, "{a:?}");
        }
        assert!(STANDARD.allows_challenge_method(CodeChallengeMethod::Plain));
        assert!(!FAPI.allows_challenge_method(CodeChallengeMethod::Plain));
        assert!(FAPI.allows_challenge_method(CodeChallengeMethod::S256));
    }

    #[test]
    fn fapi2_signs_with_an_allowed_algorithm() {
        let rs = Algorithm::RS256;
        let ps = Algorithm::PS256;
        assert_eq!(STANDARD.signing_alg(None, rs), rs);
        assert_eq!(FAPI.signing_alg(None, rs), Algorithm::ES256);
        assert_eq!(FAPI.signing_alg(None, ps), ps);
        assert_eq!(
            FAPI.signing_alg(Some(Algorithm::EdDSA), ps),
            Algorithm::EdDSA
        );
        assert_eq!(STANDARD.signing_alg(Some(ps), rs), ps);
        assert_eq!(FAPI.signing_alg(Some(rs), ps), ps);
        assert_eq!(STANDARD.signing_alg(Some(rs), ps), rs);
    }

    fn fapi_client() -> Client {
        let key =
            crate::SigningKey::generate("k", Algorithm::ES256, &ring::rand::SystemRandom::new())
                .unwrap();
        let keys = crate::ClientKeys::Jwks(crate::JwkSet {
            keys: vec![key.public_jwk()],
        });
        Client::new("f", ClientKind::PrivateKeyJwt { keys }).with_profile(FAPI)
    }

    /// FAPI 2.0 §5.3.2.1: sender-constrained access tokens only.
    #[test]
    fn fapi2_tokens_are_sender_constrained() {
        use crate::{decide_token_binding, HolderProof, TokenErrorCode};
        let fapi = fapi_client();
        let none = HolderProof::default();
        let e = decide_token_binding(&fapi, &none, None).unwrap_err();
        assert_eq!(e.code, TokenErrorCode::InvalidRequest);
        let standard = Client {
            profile: STANDARD,
            ..fapi.clone()
        };
        assert!(decide_token_binding(&standard, &none, None)
            .unwrap()
            .access
            .is_empty());
        let cert = HolderProof {
            certificate_thumbprint: Some("x5t"),
            ..HolderProof::default()
        };
        let bound = decide_token_binding(&fapi, &cert, None).unwrap().access;
        assert_eq!((bound.x5t_s256.as_deref(), bound.jkt), (Some("x5t"), None));
        assert!(decide_token_binding(&standard, &cert, None)
            .unwrap()
            .access
            .is_empty());
        let both = HolderProof {
            dpop_jkt: Some("jkt"),
            certificate_thumbprint: Some("x5t"),
        };
        let bound = decide_token_binding(&fapi, &both, None).unwrap().access;
        assert_eq!((bound.jkt.as_deref(), bound.x5t_s256), (Some("jkt"), None));
        let dpop = HolderProof {
            dpop_jkt: Some("jkt"),
            certificate_thumbprint: None,
        };
        assert_eq!(
            decide_token_binding(&fapi, &dpop, None)
                .unwrap()
                .access
                .jkt
                .as_deref(),
            Some("jkt")
        );
    }

    /// The preset turns rotation off; `check` names what a client breaks, first of all.
    #[test]
    fn fapi2_clients_are_checked() {
        use crate::client::ClientError;
        let fapi = fapi_client();
        assert!(!fapi.tokens.refresh.rotate);
        assert!(
            Client::new("s", ClientKind::Public)
                .with_profile(STANDARD)
                .tokens
                .refresh
                .rotate
        );
        assert_eq!(fapi.validate(), Ok(()));
        let public = Client::new("p", ClientKind::Public).with_profile(FAPI);
        assert_eq!(
            public.validate(),
            Err(ClientError::Profile("p".into(), Fapi2Violation::AuthMethod))
        );
        let mut optional = fapi.clone();
        optional.pkce = PkcePolicy::DangerousOptional;
        assert_eq!(FAPI.check(&optional), Err(Fapi2Violation::OptionalPkce));
        assert_eq!(STANDARD.check(&optional), Ok(()));
        let password = fapi
            .clone()
            .with_grant_types(vec![GrantType::AuthorizationCode, GrantType::Password]);
        assert_eq!(FAPI.check(&password), Err(Fapi2Violation::PasswordGrant));
        assert_eq!(STANDARD.check(&password), Ok(()));
        let mut rs = fapi.clone();
        rs.oidc.id_token_signed_response_alg = Some(Algorithm::RS256);
        assert_eq!(FAPI.check(&rs), Err(Fapi2Violation::SigningAlgorithm));
        rs.oidc.id_token_signed_response_alg = Some(Algorithm::PS256);
        assert_eq!(FAPI.check(&rs), Ok(()));
        for kind in [
            ClientKind::TlsClientAuth {
                subject: crate::CertificateSubject::SanDns("c.example".into()),
            },
            ClientKind::SelfSignedTlsClientAuth {
                keys: crate::JwkSet::default(),
            },
        ] {
            assert!(FAPI.allows_client_kind(&kind));
        }
        let secret = crate::ClientSecretHash::Sha256([1; 32]);
        assert!(!FAPI.allows_client_kind(&ClientKind::confidential(secret.clone())));
        assert!(STANDARD.allows_client_kind(&ClientKind::confidential(secret)));
    }

    /// `Policy::fapi2()` and `plain` PKCE under it.
    #[test]
    fn the_fapi2_policy() {
        let mut p = crate::Policy::fapi2();
        assert_eq!(p.profile, FAPI);
        assert_eq!(p.keys.default_alg, Algorithm::ES256);
        assert_eq!(p.lifetimes.authorization_code, FAPI2_MAX_CODE_LIFETIME);
        assert_eq!(p.client_assertions.private_key_jwt_algs, FAPI2_ALGORITHMS);
        assert!(p.client_assertions.client_secret_jwt_algs.is_empty());
        assert_eq!(p.dpop.algorithms, FAPI2_ALGORITHMS);
        assert!(p.allows_challenge_method(CodeChallengeMethod::S256));
        p.dangerous_allow_plain_pkce = true;
        assert!(!p.allows_challenge_method(CodeChallengeMethod::Plain));
        p.profile = STANDARD;
        assert!(p.allows_challenge_method(CodeChallengeMethod::Plain));
        p.dangerous_allow_plain_pkce = false;
        assert!(!p.allows_challenge_method(CodeChallengeMethod::Plain));
    }

    #[test]
    fn fapi2_codes_live_at_most_a_minute() {
        let long = Duration::from_secs(600);
        let short = Duration::from_secs(30);
        assert_eq!(STANDARD.code_lifetime(long), long);
        assert_eq!(FAPI.code_lifetime(long), FAPI2_MAX_CODE_LIFETIME);
        assert_eq!(FAPI.code_lifetime(short), short);
        assert_eq!(
            FAPI.code_lifetime(FAPI2_MAX_CODE_LIFETIME),
            FAPI2_MAX_CODE_LIFETIME
        );
    }

    /// FAPI 2.0 §5.4.1: every algorithm a FAPI client registered is checked — JARM
    /// responses, request objects (never unsigned) and client assertions (never HMAC).
    #[test]
    fn fapi2_checks_every_registered_algorithm() {
        use crate::jose::MacAlgorithm;
        use crate::registration::{ClientMetadata, ClientRegistration};
        let fapi = fapi_client();
        let refused = Err(Fapi2Violation::SigningAlgorithm);
        let mut jarm = fapi.clone();
        jarm.oidc.authorization_signed_response_alg = Some(Algorithm::RS256);
        assert_eq!(FAPI.check(&jarm), refused);
        jarm.oidc.authorization_signed_response_alg = Some(Algorithm::ES256);
        assert_eq!(FAPI.check(&jarm), Ok(()));
        let mut objects = fapi.clone();
        objects.request_objects.signing_alg = Some(Algorithm::RS256);
        assert_eq!(FAPI.check(&objects), refused);
        objects.request_objects.signing_alg = Some(Algorithm::EdDSA);
        assert_eq!(FAPI.check(&objects), Ok(()));
        objects.request_objects.dangerous_allow_unsigned = true;
        assert_eq!(FAPI.check(&objects), refused);
        assert_eq!(STANDARD.check(&objects), Ok(()));
        let registered = |alg: &str| {
            let metadata: ClientMetadata = serde_json::from_value(serde_json::json!({
                "token_endpoint_auth_method": "private_key_jwt",
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "application_type": "web",
                "scope": "openid",
                "subject_type": "public",
                "token_endpoint_auth_signing_alg": alg,
            }))
            .unwrap();
            let mut c = fapi.clone();
            c.registration = Some(Box::new(ClientRegistration::new(
                metadata,
                crate::secret::TokenHash::of("rat"),
                crate::time::UnixTime::from_secs(0),
            )));
            c
        };
        let hs = registered("HS256");
        assert_eq!(
            hs.registration
                .as_ref()
                .unwrap()
                .metadata
                .token_endpoint_auth_signing_alg,
            Some(AssertionAlgorithm::Mac(MacAlgorithm::HS256))
        );
        assert_eq!(FAPI.check(&hs), refused);
        assert_eq!(FAPI.check(&registered("RS256")), refused);
        assert_eq!(FAPI.check(&registered("PS256")), Ok(()));
    }
}
