//! Lifetimes and protocol policies: all configuration, nothing hard-coded in the flows.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::authorization_details::AuthorizationDetailsTypes;
use crate::client_assertion::ClientAssertionPolicy;
use crate::device_authorization::DeviceAuthorizationPolicy;
use crate::dpop::DpopPolicy;
use crate::jose::Algorithm;
use crate::pkce::CodeChallengeMethod;
use crate::pushed_request::PushedRequestPolicy;
use crate::request_object::RequestObjectPolicy;
use crate::resources::Resource;
use crate::security_profile::{SecurityProfile, FAPI2_ALGORITHMS};
use crate::token::{JwtBearerPolicy, TokenExchangePolicy};

/// How long each artefact lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifetimes {
    /// Authorization codes: short, single use (RFC 6749 §4.1.2 recommends at most 10 min).
    pub authorization_code: Duration,
    /// Access tokens.
    pub access_token: Duration,
    /// Refresh tokens (each rotation starts a new lifetime).
    pub refresh_token: Duration,
    /// How long a pending authorization may wait for the host's login and consent.
    pub interaction: Duration,
    /// ID tokens (OpenID Connect Core §2).
    pub id_token: Duration,
    /// Signed authorization responses (JARM §2.1: short, 10 minutes recommended).
    pub authorization_response: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            authorization_code: Duration::from_secs(60),
            access_token: Duration::from_secs(3600),
            refresh_token: Duration::from_secs(30 * 24 * 3600),
            interaction: Duration::from_secs(600),
            id_token: Duration::from_secs(3600),
            authorization_response: Duration::from_secs(600),
        }
    }
}

/// Protocol policy of one provider.
///
/// Built from [`Policy::default`] (safe defaults) by setting its public fields: a new field
/// never breaks a host's code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// Lifetimes.
    pub lifetimes: Lifetimes,
    /// Accept `code_challenge_method=plain` (RFC 7636 §4.2). Off by default: `plain` protects
    /// nothing once the authorization request leaks (RFC 9700 §2.1.1).
    pub dangerous_allow_plain_pkce: bool,
    /// Accept the implicit and hybrid response types (`token`, `id_token`, `code id_token`,
    /// …; OpenID Connect Core §3.2, §3.3) for clients that registered them: tokens then
    /// travel through the browser, where they leak (history, referrers, injected scripts)
    /// and can be replayed or injected (RFC 9700 §2.1.2: should not be used). Off by
    /// default; never under FAPI 2.0.
    pub dangerous_allow_implicit: bool,
    /// Accept the resource owner password credentials grant (RFC 6749 §4.3) for clients
    /// registered for it: the client sees the user's password, and no second factor,
    /// consent page or phishing-resistant login can take part (RFC 9700 §2.4: must not be
    /// used). Off by default; never under FAPI 2.0.
    pub dangerous_allow_password_grant: bool,
    /// Signing keys and their rotation.
    pub keys: KeyPolicy,
    /// The protected resources tokens may be issued for (RFC 8707).
    pub resources: Vec<Resource>,
    /// Scopes that live shorter than the grant (e.g. a powerful `payment` for 5 minutes
    /// while `read` lasts): power that fades with the age of the user's authentication. Each
    /// lifetime counts from the grant's `auth_time` — from issuance for a token without a
    /// user (client credentials) — so no refresh revives a faded scope; a new login does
    /// (see [`crate::live_scopes`]). An access token leaves out the scopes already faded; an
    /// opaque one reports only the scopes still valid; a JWT access token gets the shortest
    /// remaining lifetime of its scopes.
    pub scope_lifetimes: BTreeMap<String, Duration>,
    /// A scope that lets a bearer token's holder call the introspection endpoint (e.g. an API
    /// gateway), besides authenticated clients (RFC 7662 §2.1). `None`: clients only.
    pub introspection_scope: Option<String>,
    /// The rules of JWT client authentication (`private_key_jwt`, `client_secret_jwt`).
    pub client_assertions: ClientAssertionPolicy,
    /// The rules of DPoP proofs (RFC 9449).
    pub dpop: DpopPolicy,
    /// Pushed authorization requests (RFC 9126): whether every request must be pushed,
    /// and how long a pushed one lives.
    pub pushed_authorization_requests: PushedRequestPolicy,
    /// The rules of request objects (RFC 9101).
    pub request_objects: RequestObjectPolicy,
    /// The authorization details types accepted, with their validators (RFC 9396 §2);
    /// none by default.
    pub authorization_details: AuthorizationDetailsTypes,
    /// The security profile every client is held to at least: a client's own
    /// [`crate::Client::profile`] may be stricter, never weaker.
    pub profile: SecurityProfile,
    /// The issuers whose JWTs token exchange accepts as subject or actor tokens (RFC 8693).
    pub token_exchange: TokenExchangePolicy,
    /// The issuers whose assertions the JWT bearer grant accepts, and its time rules
    /// (RFC 7523 §2.1, §3).
    pub jwt_bearer: JwtBearerPolicy,
    /// The device authorization grant (RFC 8628): off until a verification page is named.
    pub device_authorization: DeviceAuthorizationPolicy,
}

impl Policy {
    /// Whether a code challenge may use `method`: `S256` always, `plain` only with
    /// [`Policy::dangerous_allow_plain_pkce`] (RFC 9700 §2.1.1) and never under FAPI 2.0.
    pub fn allows_challenge_method(&self, method: CodeChallengeMethod) -> bool {
        method == CodeChallengeMethod::S256
            || (self.dangerous_allow_plain_pkce && self.profile.allows_challenge_method(method))
    }

    /// Whether the implicit and hybrid response types may be used at all:
    /// [`Policy::dangerous_allow_implicit`], never under FAPI 2.0 (§5.3.2.2: `code` only).
    pub fn allows_implicit(&self) -> bool {
        self.dangerous_allow_implicit && !self.profile.is_fapi2()
    }

    /// Whether the password grant may be used at all:
    /// [`Policy::dangerous_allow_password_grant`], never under FAPI 2.0.
    pub fn allows_password_grant(&self) -> bool {
        self.dangerous_allow_password_grant && !self.profile.is_fapi2()
    }

    /// The FAPI 2.0 Security Profile for every client: [`Policy::profile`] set, ID tokens,
    /// JWT access tokens and introspection responses signed with ES256, and client
    /// assertions and DPoP proofs held to PS256, ES256 and EdDSA (FAPI 2.0 §5.4.1);
    /// authorization codes live at most 60 s (§5.3.2.1). Everything else default.
    pub fn fapi2() -> Self {
        let mut policy = Self {
            profile: SecurityProfile::Fapi2,
            ..Self::default()
        };
        policy.keys.default_alg = Algorithm::ES256;
        policy.lifetimes.authorization_code =
            SecurityProfile::Fapi2.code_lifetime(policy.lifetimes.authorization_code);
        policy.client_assertions.private_key_jwt_algs = FAPI2_ALGORITHMS.to_vec();
        policy.client_assertions.client_secret_jwt_algs = Vec::new();
        policy.dpop.algorithms = FAPI2_ALGORITHMS.to_vec();
        policy.pushed_authorization_requests.required = true;
        policy.request_objects.algs = FAPI2_ALGORITHMS.to_vec();
        policy
    }
}

/// Signing algorithms and the key rotation schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPolicy {
    /// The default algorithm of ID tokens; a client may ask for another
    /// (`id_token_signed_response_alg`). RS256 is always available (OpenID Connect Core §15.1).
    pub default_alg: Algorithm,
    /// How long a new key is published before it signs: longer than `jwks_max_age` plus
    /// `reload_every`, so every cache and every process knows it first.
    pub publish_ahead: Duration,
    /// `Cache-Control: max-age` of the JWKS.
    pub jwks_max_age: Duration,
    /// How often a process reloads the keys from the store (rotation across processes).
    pub reload_every: Duration,
    /// Rotate each algorithm's key this often; `None` rotates only on request.
    pub rotate_every: Option<Duration>,
}

impl Default for KeyPolicy {
    fn default() -> Self {
        Self {
            default_alg: Algorithm::RS256,
            publish_ahead: Duration::from_secs(15 * 60),
            jwks_max_age: Duration::from_secs(5 * 60),
            reload_every: Duration::from_secs(60),
            rotate_every: Some(Duration::from_secs(90 * 24 * 3600)),
        }
    }
}

impl KeyPolicy {
    /// Whether a new key is published long enough before it signs: longer than
    /// `jwks_max_age` plus `reload_every`, so that every cache and every process knows it
    /// first (a token signed by a key its verifier cannot find fails).
    pub fn publishes_ahead_of_caches(&self) -> bool {
        self.publish_ahead > self.jwks_max_age.saturating_add(self.reload_every)
    }
}

impl Lifetimes {
    /// The longest any token this policy issues can live: how long a revocation marker must
    /// be remembered to outlive every token it covers.
    pub fn longest_token(&self) -> Duration {
        self.access_token
            .max(self.refresh_token)
            .max(self.authorization_code)
            .max(self.id_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_token_lifetime_is_the_longest_of_all() {
        let mut lifetimes = Lifetimes::default();
        let longest = |l: &Lifetimes| l.longest_token().as_secs();
        lifetimes.refresh_token = Duration::from_secs(1);
        lifetimes.access_token = Duration::from_secs(2);
        lifetimes.authorization_code = Duration::from_secs(3);
        lifetimes.id_token = Duration::from_secs(4);
        assert_eq!(longest(&lifetimes), 4);
        lifetimes.authorization_code = Duration::from_secs(5);
        assert_eq!(longest(&lifetimes), 5);
        lifetimes.access_token = Duration::from_secs(6);
        assert_eq!(longest(&lifetimes), 6);
        lifetimes.refresh_token = Duration::from_secs(7);
        assert_eq!(longest(&lifetimes), 7);
    }

    #[test]
    fn a_key_is_published_longer_than_caches_and_reloads_keep_it() {
        let mut keys = KeyPolicy::default();
        assert!(keys.publishes_ahead_of_caches());
        keys.publish_ahead = keys.jwks_max_age + keys.reload_every;
        assert!(!keys.publishes_ahead_of_caches(), "equal is too short");
        keys.publish_ahead += Duration::from_secs(1);
        assert!(keys.publishes_ahead_of_caches());
        keys.jwks_max_age = Duration::MAX;
        assert!(!keys.publishes_ahead_of_caches(), "no overflow");
    }
}
