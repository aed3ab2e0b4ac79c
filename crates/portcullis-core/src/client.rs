//! Registered clients (RFC 6749 §2).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::client_auth::ClientAuthMethod;
use crate::client_certificate::CertificateSubject;
use crate::client_secret::ClientSecretHash;
use crate::client_secret_rotation::PreviousSecret;
use crate::jose::{Algorithm, JwkSet};
use crate::redirect_uri::RedirectUri;
use crate::registration::ClientRegistration;
use crate::request_object::ClientRequestObjects;
use crate::resources::TokenFormat;
use crate::response_type::ResponseType;
use crate::scope::ScopeSet;
use crate::sealed_secret::SealedClientSecret;
use crate::security_profile::{Fapi2Violation, SecurityProfile};
use crate::time::UnixTime;

/// Client types (RFC 6749 §2.1), one per authentication method, each with the material
/// that method checks (so a client's method and its credentials cannot disagree).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ClientKind {
    /// Can keep a secret: authenticates with `client_secret_basic` or `client_secret_post`.
    Confidential {
        /// The stored hash of the client secret.
        secret: ClientSecretHash,
        /// The secret the last rotation replaced, still accepted until its deadline
        /// ([`ClientKind::rotate_secret`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_secret: Option<PreviousSecret>,
        /// `client_secret_expires_at` (RFC 7591 §3.2.1): from then on `secret` is refused;
        /// `None` (the wire's `0`): never.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret_expires_at: Option<UnixTime>,
        /// The one secret method it may use (`token_endpoint_auth_method`); `None`: either.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        method: Option<SecretMethod>,
    },
    /// Cannot keep a secret (native and browser apps): identifies itself with `client_id`
    /// only, and must use PKCE (RFC 9700 §2.1.1).
    Public,
    /// `tls_client_auth` (RFC 8705 §2.1): authenticates with a certificate that chains to
    /// the host's client CA and carries `subject`.
    TlsClientAuth {
        /// The registered subject DN or SAN.
        subject: CertificateSubject,
    },
    /// `self_signed_tls_client_auth` (RFC 8705 §2.2): authenticates with a certificate
    /// (self-signed, say) whose public key is one of `keys`.
    SelfSignedTlsClientAuth {
        /// The registered public keys (`jwks`).
        keys: JwkSet,
    },
    /// `client_secret_jwt` (OpenID Connect Core §9): a JWT MACed with a shared secret, which
    /// the server keeps sealed under the host's key-encryption key.
    SecretJwt {
        /// The sealed secret.
        secret: SealedClientSecret,
    },
    /// `private_key_jwt` (OpenID Connect Core §9, RFC 7523 §2.2): a JWT signed with one of
    /// the client's private keys.
    PrivateKeyJwt {
        /// The client's public keys.
        keys: ClientKeys,
    },
}

/// The secret method a [`ClientKind::Confidential`] client is held to (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretMethod {
    /// `client_secret_basic`.
    Basic,
    /// `client_secret_post`.
    Post,
}

/// Where a `private_key_jwt` client's public keys are (OAuth 2.0 Dynamic Client
/// Registration §2: `jwks` or `jwks_uri`, never both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKeys {
    /// `jwks`: the keys themselves.
    Jwks(JwkSet),
    /// `jwks_uri`: an https URL (or loopback http) the engine fetches them from.
    JwksUri(String),
}

impl ClientKeys {
    /// Whether `uri` may be a `jwks_uri`: https, or http to a loopback address (for tests
    /// and local development), without credentials or fragment.
    pub fn is_acceptable_uri(uri: &str) -> bool {
        let Ok(url) = url::Url::parse(uri) else {
            return false;
        };
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        };
        let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
        scheme_ok
            && url.host().is_some()
            && url.username().is_empty()
            && url.password().is_none()
            && url.fragment().is_none()
    }
}

impl ClientKind {
    /// Whether a client of this kind may authenticate with `method` (its registered
    /// `token_endpoint_auth_method`, OAuth 2.0 Dynamic Client Registration §2): only its own.
    pub fn allows_method(&self, method: ClientAuthMethod) -> bool {
        match (self, method) {
            (Self::Confidential { method: m, .. }, ClientAuthMethod::ClientSecretBasic) => {
                m.is_none_or(|m| m == SecretMethod::Basic)
            }
            (Self::Confidential { method: m, .. }, ClientAuthMethod::ClientSecretPost) => {
                m.is_none_or(|m| m == SecretMethod::Post)
            }
            (Self::Public, ClientAuthMethod::None)
            | (Self::SecretJwt { .. }, ClientAuthMethod::ClientSecretJwt)
            | (Self::PrivateKeyJwt { .. }, ClientAuthMethod::PrivateKeyJwt) => true,
            (Self::TlsClientAuth { .. }, ClientAuthMethod::TlsClientAuth)
            | (Self::SelfSignedTlsClientAuth { .. }, ClientAuthMethod::SelfSignedTlsClientAuth) => {
                true
            }
            _ => false,
        }
    }

    /// A confidential client with one secret, `secret`, that never expires.
    pub fn confidential(secret: ClientSecretHash) -> Self {
        Self::Confidential {
            secret,
            previous_secret: None,
            secret_expires_at: None,
            method: None,
        }
    }

    /// A confidential client with one secret, `secret`, that never expires, held to the
    /// secret method `method` (its `token_endpoint_auth_method`).
    pub fn confidential_with(secret: ClientSecretHash, method: SecretMethod) -> Self {
        Self::Confidential {
            secret,
            previous_secret: None,
            secret_expires_at: None,
            method: Some(method),
        }
    }
}

/// The grant types a client may use (RFC 6749 §4, §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    /// `authorization_code` (RFC 6749 §4.1).
    AuthorizationCode,
    /// `client_credentials` (RFC 6749 §4.4): confidential clients only.
    ClientCredentials,
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken,
    /// `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:token-exchange")]
    TokenExchange,
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:jwt-bearer")]
    JwtBearer,
    /// `password` (RFC 6749 §4.3): the client collects the user's password. Only with
    /// [`crate::Policy::dangerous_allow_password_grant`] (RFC 9700 §2.4: must not be used).
    Password,
    /// `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4): never by default.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
}

impl GrantType {
    /// Every grant type this server supports, in the order discovery lists them.
    pub const ALL: [Self; 7] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
        Self::TokenExchange,
        Self::JwtBearer,
        Self::Password,
        Self::DeviceCode,
    ];

    /// Parses a `grant_type` value; `None` for a type this server does not support.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "authorization_code" => Some(Self::AuthorizationCode),
            "client_credentials" => Some(Self::ClientCredentials),
            "refresh_token" => Some(Self::RefreshToken),
            "urn:ietf:params:oauth:grant-type:token-exchange" => Some(Self::TokenExchange),
            "urn:ietf:params:oauth:grant-type:jwt-bearer" => Some(Self::JwtBearer),
            "password" => Some(Self::Password),
            crate::device_authorization::DEVICE_CODE_GRANT_TYPE => Some(Self::DeviceCode),
            _ => None,
        }
    }

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
            Self::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
            Self::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
            Self::Password => "password",
            Self::DeviceCode => crate::device_authorization::DEVICE_CODE_GRANT_TYPE,
        }
    }
}

/// Whether a client must send a PKCE challenge (RFC 7636, RFC 9700 §2.1.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PkcePolicy {
    /// Every authorization request carries a challenge (the default, and the only choice
    /// for public clients).
    #[default]
    Required,
    /// A confidential client may omit PKCE. Weakens code-injection protection
    /// (RFC 9700 §4.5): opt in only for legacy clients that cannot send it.
    DangerousOptional,
}

/// Why a client registration is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A public client asked for `client_credentials` (RFC 6749 §4.4).
    #[error("client {0}: public clients cannot use client_credentials")]
    PublicClientCredentials(String),
    /// A public client tried to make PKCE optional (RFC 9700 §2.1.1).
    #[error("client {0}: PKCE cannot be optional for a public client")]
    PublicWithoutPkce(String),
    /// The default scopes include scopes the client may not use.
    #[error("client {0}: default scopes must be a subset of the allowed scopes")]
    DefaultScopesNotAllowed(String),
    /// `authorization_code` without any redirect URI.
    #[error("client {0}: authorization_code needs at least one redirect URI")]
    NoRedirectUri(String),
    /// A public client without refresh-token rotation (RFC 9700 §4.14.2).
    #[error("client {0}: refresh tokens of a public client must rotate")]
    PublicWithoutRotation(String),
    /// A refresh grace period that is empty, unbounded or without rotation.
    #[error("client {0}: a refresh grace period needs rotation, 1..=60 seconds and 1..=10 reuses")]
    InvalidRefreshGrace(String),
    /// A `tls_client_auth_subject_dn` that is not an RFC 4514 string (RFC 8705 §2.1.2).
    #[error("client {0}: the certificate subject DN is not an RFC 4514 string")]
    InvalidSubjectDn(String),
    /// A `self_signed_tls_client_auth` client without a usable public key (RFC 8705 §2.2).
    #[error("client {0}: no usable public key for self-signed certificates")]
    NoCertificateKeys(String),
    /// A `jwks_uri` that is neither https nor loopback http.
    #[error("client {0}: jwks_uri must be an https URL (or http on a loopback address)")]
    InvalidJwksUri(String),
    /// A request object's `request_uris` entry that is neither https nor loopback http.
    #[error("client {0}: request_uris must be https URLs (or http on a loopback address)")]
    InvalidRequestUri(String),
    /// A `backchannel_logout_uri` that is neither https nor loopback http, or has a fragment
    /// (Back-Channel Logout 1.0 §2.2).
    #[error("client {0}: backchannel_logout_uri must be an https URL (or http on a loopback address) without fragment")]
    InvalidBackchannelLogoutUri(String),
    /// Inline `jwks` without a single key usable for signatures.
    #[error("client {0}: jwks has no usable signature key")]
    NoUsableKey(String),
    /// A client held to a [`SecurityProfile`] it does not meet.
    #[error("client {0}: {1}")]
    Profile(String, Fapi2Violation),
}

/// Whether an authorization request needs the user's consent ([`Client::consent_rule`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentRule {
    /// Show the consent page (with `prompt=none`: `consent_required`).
    Ask,
    /// Approve without a page.
    Skip,
    /// Approve without a page only if a live grant already covers what is asked.
    AskUnlessConsented,
}

/// A registered client.
///
/// Built with [`Client::new`] and the `with_*` methods (its fields stay public to read and
/// to change): a new field never breaks a host's code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Client {
    /// `client_id` (RFC 6749 §2.2).
    pub id: String,
    /// Confidential (with its secret hash) or public.
    pub kind: ClientKind,
    /// Registered redirect URIs (RFC 6749 §3.1.2.2).
    pub redirect_uris: Vec<RedirectUri>,
    /// Scopes this client may request.
    pub allowed_scopes: ScopeSet,
    /// Scopes used when a request omits `scope` (RFC 6749 §3.3).
    pub default_scopes: ScopeSet,
    /// Grant types this client may use.
    pub grant_types: BTreeSet<GrantType>,
    /// PKCE requirement.
    pub pkce: PkcePolicy,
    /// When the registration lapses (e.g. a dynamically registered client), if ever.
    pub expires_at: Option<UnixTime>,
    /// OpenID Connect settings.
    #[serde(default)]
    pub oidc: ClientOidc,
    /// The provider's own application: users are not asked to consent to it (an explicit
    /// `prompt=consent` still asks).
    #[serde(default)]
    pub first_party: bool,
    /// How this client's tokens are issued.
    #[serde(default)]
    pub tokens: ClientTokens,
    /// How this client's authorization requests must arrive.
    #[serde(default)]
    pub requests: ClientRequests,
    /// Lets remembered consent (and [`Client::first_party`]) skip the user even for requests
    /// to a redirect URI that cannot prove the client's identity (a public client's loopback
    /// or private-use-scheme URI). Any local app can then obtain codes in the user's name
    /// without them noticing (RFC 8252 §8.6, RFC 6749 §10.2): only for hosts that verify the
    /// app some other way.
    #[serde(default)]
    pub dangerous_skip_consent_for_unverifiable_redirects: bool,
    /// Request objects (RFC 9101): whether they are required, and how signed.
    #[serde(default)]
    pub request_objects: ClientRequestObjects,
    /// What a dynamically registered client registered (RFC 7591, RFC 7592); `None` for a
    /// client the host registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration: Option<Box<ClientRegistration>>,
    /// The security profile this client is held to ([`Client::with_profile`]); a
    /// provider-wide [`crate::Policy::profile`] raises it.
    #[serde(default)]
    pub profile: SecurityProfile,
}

/// How a client's authorization requests must arrive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientRequests {
    /// Every authorization request must be pushed first (RFC 9126 §6, metadata
    /// `require_pushed_authorization_requests`), whatever the provider's policy says.
    pub require_pushed_authorization_requests: bool,
    /// The response types beyond `code` this client registered (metadata `response_types`):
    /// the implicit and hybrid ones, honoured only under
    /// [`crate::Policy::dangerous_allow_implicit`] (RFC 9700 §2.1.2). `code` comes with the
    /// `authorization_code` grant.
    pub response_types: BTreeSet<ResponseType>,
}

/// How a client's tokens are issued.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientTokens {
    /// Access tokens without a `resource` (RFC 8707): opaque, or JWT (RFC 9068) with the
    /// issuer as audience. A requested resource's own format wins.
    pub access_token_format: TokenFormat,
    /// Refresh tokens.
    pub refresh: RefreshPolicy,
    /// Every token request must carry a DPoP proof, and access tokens are DPoP-bound
    /// (RFC 9449 §5.2, metadata `dpop_bound_access_tokens`).
    pub dpop_bound_access_tokens: bool,
    /// Access tokens are bound to the TLS client certificate, and every token request must
    /// come over mutual TLS (RFC 8705 §3.4, metadata
    /// `tls_client_certificate_bound_access_tokens`).
    pub tls_client_certificate_bound_access_tokens: bool,
    /// This client's DPoP proofs must carry a server nonce (RFC 9449 §8), whatever
    /// `DpopPolicy::require_nonce` says.
    pub require_dpop_nonce: bool,
    /// The authorization details types this client may ask for (RFC 9396 §10, metadata
    /// `authorization_details_types`); `None`: every type the provider registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_details_types: Option<BTreeSet<String>>,
}

/// A client's refresh-token policy (RFC 6749 §6, RFC 9700 §4.14.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RefreshPolicy {
    /// Rotate on every use (with reuse detection). Public clients always rotate; FAPI 2.0
    /// clients do not, by default (FAPI 2.0 §5.3.2.1: only in extraordinary circumstances).
    pub rotate: bool,
    /// The longest a token family lives from the first authorization, however often it is
    /// refreshed; `None`: no bound beyond each token's own lifetime.
    pub absolute_lifetime_secs: Option<u64>,
    /// A refresh token unused this long expires; `None`: only its lifetime applies.
    pub idle_timeout_secs: Option<u64>,
    /// Concurrent refreshes: for a short while after a rotation, presenting the rotated token
    /// again answers with the same new token pair instead of counting as reuse. `None`: no
    /// grace, every reuse revokes the family (RFC 9700 §4.14.2).
    pub grace: Option<RefreshGrace>,
}

/// A grace period after a refresh-token rotation, for clients whose concurrent requests
/// race with the same refresh token (e.g. several browser tabs). Every racer within the
/// period gets the one new token pair; afterwards (or past the count, or once the new
/// refresh token is used) the old token is reuse again and revokes its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshGrace {
    /// How long after the rotation, at most [`RefreshGrace::MAX_WINDOW_SECS`].
    pub window_secs: u64,
    /// How many racers may be answered, at most [`RefreshGrace::MAX_REUSES`].
    pub max_reuses: u32,
}

impl RefreshGrace {
    /// The longest grace window: enough for requests already in flight, not for a replay.
    pub const MAX_WINDOW_SECS: u64 = 60;
    /// The most racers answered within one window.
    pub const MAX_REUSES: u32 = 10;
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            rotate: true,
            absolute_lifetime_secs: None,
            idle_timeout_secs: None,
            grace: None,
        }
    }
}

/// How a client's users are identified to it (OpenID Connect Core §8).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum SubjectType {
    /// The same `sub` for every client.
    #[default]
    Public,
    /// A `sub` unique to the sector, so clients of different sectors cannot correlate users
    /// (§8.1).
    Pairwise {
        /// The sector identifier: the host of the client's redirect URIs, or of its
        /// `sector_identifier_uri`.
        sector_identifier: String,
    },
}

/// Why a pairwise client's sector cannot be known (OpenID Connect Core §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SectorError {
    /// The sector identifier is not a host name.
    #[error("the sector identifier must be a host name")]
    NotAHost,
    /// No sector identifier, and the redirect URIs do not share one host.
    #[error(
        "missing: a pairwise client whose redirect URIs do not share one host needs a sector \
         identifier"
    )]
    Missing,
}

impl SubjectType {
    /// The `subject_type` values (OpenID Connect Core §8), as registered and advertised.
    pub const NAMES: [&'static str; 2] = ["public", "pairwise"];

    /// The pairwise subject type of a client registered with `sector_identifier` (a host
    /// name), or without one: then its sector is the one host of its `redirect_uris`
    /// ([`SubjectType::pairwise_from_redirect_uris`]).
    pub fn pairwise(
        sector_identifier: Option<String>,
        redirect_uris: &[RedirectUri],
    ) -> Result<Self, SectorError> {
        match sector_identifier {
            Some(sector) if url::Host::parse(&sector).is_ok() => Ok(Self::Pairwise {
                sector_identifier: sector,
            }),
            Some(_) => Err(SectorError::NotAHost),
            None => Self::pairwise_from_redirect_uris(redirect_uris).ok_or(SectorError::Missing),
        }
    }

    /// The pairwise subject type of a client registered without a sector identifier: its
    /// sector is the one host of its redirect URIs (OpenID Connect Core §8.1). `None` when
    /// they name several hosts (or none): such a client needs a sector identifier.
    pub fn pairwise_from_redirect_uris(uris: &[RedirectUri]) -> Option<Self> {
        let hosts: BTreeSet<String> = uris
            .iter()
            .filter_map(|u| url::Url::parse(u.as_str()).ok())
            .filter_map(|u| u.host_str().map(str::to_owned))
            .collect();
        let mut hosts = hosts.into_iter();
        match (hosts.next(), hosts.next()) {
            (Some(sector_identifier), None) => Some(Self::Pairwise { sector_identifier }),
            _ => None,
        }
    }
}

/// A client's OpenID Connect registration (OpenID Connect Dynamic Client Registration §2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientOidc {
    /// `id_token_signed_response_alg`; the provider's default when absent.
    pub id_token_signed_response_alg: Option<Algorithm>,
    /// `subject_type`.
    pub subject_type: SubjectType,
    /// `require_auth_time`: every ID token carries `auth_time`.
    pub require_auth_time: bool,
    /// `post_logout_redirect_uris` (RP-Initiated Logout 1.0 §3.1).
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// `authorization_signed_response_alg` (JARM §3): when set, authorization responses are
    /// signed JWTs by default, with this algorithm.
    pub authorization_signed_response_alg: Option<Algorithm>,
    /// `backchannel_logout_uri` (Back-Channel Logout 1.0 §2.2): where logout tokens are
    /// POSTed; `https`, or `http` on a loopback address, without fragment.
    pub backchannel_logout_uri: Option<String>,
    /// `backchannel_logout_session_required` (§2.2): every logout token names the session
    /// (`sid`).
    pub backchannel_logout_session_required: bool,
}

impl Client {
    /// A client `id` of `kind` that may do nothing yet: no redirect URI, no scope, no grant
    /// type (it fails closed until given them), PKCE required, no expiry, the default
    /// OpenID Connect and token settings, not first party.
    pub fn new(id: impl Into<String>, kind: ClientKind) -> Self {
        Self {
            id: id.into(),
            kind,
            redirect_uris: Vec::new(),
            allowed_scopes: ScopeSet::default(),
            default_scopes: ScopeSet::default(),
            grant_types: BTreeSet::new(),
            pkce: PkcePolicy::Required,
            expires_at: None,
            oidc: ClientOidc::default(),
            first_party: false,
            tokens: ClientTokens::default(),
            requests: ClientRequests::default(),
            dangerous_skip_consent_for_unverifiable_redirects: false,
            request_objects: ClientRequestObjects::default(),
            registration: None,
            profile: SecurityProfile::Standard,
        }
    }

    /// Holds this client to `profile`, with that profile's defaults: for
    /// [`SecurityProfile::Fapi2`], refresh tokens that do not rotate (FAPI 2.0 §5.3.2.1; a
    /// host may turn rotation back on for extraordinary circumstances) and pushed
    /// authorization requests required (§5.3.2.2).
    pub fn with_profile(mut self, profile: SecurityProfile) -> Self {
        self.profile = profile;
        if profile.is_fapi2() {
            self.tokens.refresh.rotate = false;
            self.requests.require_pushed_authorization_requests = true;
        }
        self
    }

    /// Sets [`Client::redirect_uris`].
    pub fn with_redirect_uris(mut self, uris: impl IntoIterator<Item = RedirectUri>) -> Self {
        self.redirect_uris = uris.into_iter().collect();
        self
    }

    /// Sets [`Client::allowed_scopes`].
    pub fn with_allowed_scopes(mut self, scopes: ScopeSet) -> Self {
        self.allowed_scopes = scopes;
        self
    }

    /// Sets [`Client::default_scopes`].
    pub fn with_default_scopes(mut self, scopes: ScopeSet) -> Self {
        self.default_scopes = scopes;
        self
    }

    /// Sets [`Client::grant_types`].
    pub fn with_grant_types(mut self, grants: impl IntoIterator<Item = GrantType>) -> Self {
        self.grant_types = grants.into_iter().collect();
        self
    }

    /// Sets [`Client::pkce`].
    pub fn with_pkce(mut self, pkce: PkcePolicy) -> Self {
        self.pkce = pkce;
        self
    }

    /// Sets [`Client::expires_at`].
    pub fn with_expires_at(mut self, expires_at: Option<UnixTime>) -> Self {
        self.expires_at = expires_at;
        self
    }

    /// Sets [`Client::oidc`].
    pub fn with_oidc(mut self, oidc: ClientOidc) -> Self {
        self.oidc = oidc;
        self
    }

    /// Sets [`Client::first_party`].
    pub fn with_first_party(mut self, first_party: bool) -> Self {
        self.first_party = first_party;
        self
    }

    /// Sets [`Client::tokens`].
    pub fn with_tokens(mut self, tokens: ClientTokens) -> Self {
        self.tokens = tokens;
        self
    }

    /// Sets [`Client::requests`].
    pub fn with_requests(mut self, requests: ClientRequests) -> Self {
        self.requests = requests;
        self
    }

    /// Sets [`Client::dangerous_skip_consent_for_unverifiable_redirects`]: read its warning.
    pub fn with_dangerous_skip_consent_for_unverifiable_redirects(mut self, skip: bool) -> Self {
        self.dangerous_skip_consent_for_unverifiable_redirects = skip;
        self
    }

    /// Sets [`Client::request_objects`].
    pub fn with_request_objects(mut self, request_objects: ClientRequestObjects) -> Self {
        self.request_objects = request_objects;
        self
    }

    /// Checks the registration for contradictions.
    pub fn validate(&self) -> Result<(), ClientError> {
        self.profile
            .check(self)
            .map_err(|v| ClientError::Profile(self.id.clone(), v))?;
        let public = self.kind == ClientKind::Public;
        if public && self.grant_types.contains(&GrantType::ClientCredentials) {
            return Err(ClientError::PublicClientCredentials(self.id.clone()));
        }
        if public && self.pkce == PkcePolicy::DangerousOptional {
            return Err(ClientError::PublicWithoutPkce(self.id.clone()));
        }
        if !self.default_scopes.is_subset(&self.allowed_scopes) {
            return Err(ClientError::DefaultScopesNotAllowed(self.id.clone()));
        }
        if self.grant_types.contains(&GrantType::AuthorizationCode) && self.redirect_uris.is_empty()
        {
            return Err(ClientError::NoRedirectUri(self.id.clone()));
        }
        if public && !self.tokens.refresh.rotate {
            return Err(ClientError::PublicWithoutRotation(self.id.clone()));
        }
        match &self.kind {
            ClientKind::PrivateKeyJwt {
                keys: ClientKeys::JwksUri(uri),
            } if !ClientKeys::is_acceptable_uri(uri) => {
                return Err(ClientError::InvalidJwksUri(self.id.clone()));
            }
            ClientKind::PrivateKeyJwt {
                keys: ClientKeys::Jwks(set),
            } if set.verifying_keys().is_empty() => {
                return Err(ClientError::NoUsableKey(self.id.clone()));
            }
            _ => {}
        }
        if !self
            .request_objects
            .request_uris
            .iter()
            .all(|u| ClientKeys::is_acceptable_uri(u))
        {
            return Err(ClientError::InvalidRequestUri(self.id.clone()));
        }
        if let Some(uri) = &self.oidc.backchannel_logout_uri {
            if !crate::backchannel_logout::is_backchannel_logout_uri(uri) {
                return Err(ClientError::InvalidBackchannelLogoutUri(self.id.clone()));
            }
        }
        if let Some(g) = self.tokens.refresh.grace {
            let bounded = (1..=RefreshGrace::MAX_WINDOW_SECS).contains(&g.window_secs)
                && (1..=RefreshGrace::MAX_REUSES).contains(&g.max_reuses);
            if !bounded || !self.tokens.refresh.rotate {
                return Err(ClientError::InvalidRefreshGrace(self.id.clone()));
            }
        }
        crate::client_certificate::check_registration(self)
    }

    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Whether the client is public.
    pub fn is_public(&self) -> bool {
        self.kind == ClientKind::Public
    }

    /// The registered URI that `requested` matches, if any (RFC 6749 §3.1.2.3): exactly
    /// (RFC 9700 §4.1.3), or for a public client (a native app) also a loopback URI on
    /// another port (RFC 8252 §7.3).
    pub fn find_redirect_uri(&self, requested: &str) -> Option<&RedirectUri> {
        let public = self.is_public();
        self.redirect_uris.iter().find(|r| {
            if public {
                r.matches_for_native_app(requested)
            } else {
                r.matches(requested)
            }
        })
    }

    /// Whether an authorization request of this client to `redirect_uri` must show the user
    /// a consent (or confirmation) page. Always with `prompt=consent`; for a public client
    /// whose redirect URI cannot prove who receives the code (loopback, private-use scheme),
    /// always — neither a remembered consent nor first-party status counts — unless the
    /// client opted out with [`Client::dangerous_skip_consent_for_unverifiable_redirects`]
    /// (RFC 8252 §8.6, RFC 6749 §10.2); otherwise never for a first-party client, and for the
    /// others only when the user has not consented to what is asked.
    pub fn consent_rule(&self, redirect_uri: &str, prompt_consent: bool) -> ConsentRule {
        let identified = !self.is_public()
            || self
                .find_redirect_uri(redirect_uri)
                .is_some_and(RedirectUri::identifies_client);
        if prompt_consent || !(identified || self.dangerous_skip_consent_for_unverifiable_redirects)
        {
            ConsentRule::Ask
        } else if self.first_party {
            ConsentRule::Skip
        } else {
            ConsentRule::AskUnlessConsented
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grant_type_and_subject_type_has_one_name() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::parse(g.as_str()), Some(g));
        }
        let names: BTreeSet<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
        assert_eq!(names.len(), GrantType::ALL.len());
        // A stored client names each grant type as the wire does.
        for g in GrantType::ALL {
            assert_eq!(serde_json::to_value(g).unwrap(), g.as_str());
        }
        let tag = |t: SubjectType| serde_json::to_value(t).unwrap()["type"].clone();
        let pairwise = SubjectType::Pairwise {
            sector_identifier: "a.example".into(),
        };
        assert_eq!(
            [tag(SubjectType::Public), tag(pairwise)],
            SubjectType::NAMES.map(serde_json::Value::from)
        );
    }

    #[test]
    fn a_pairwise_sector_is_the_one_host_of_the_redirect_uris() {
        let uris = |list: &[&str]| -> Vec<RedirectUri> {
            list.iter()
                .map(|u| RedirectUri::parse(u).unwrap())
                .collect()
        };
        let pairwise = |host: &str| SubjectType::Pairwise {
            sector_identifier: host.to_owned(),
        };
        let same = uris(&["https://rp.example/a", "https://rp.example:8443/b"]);
        assert_eq!(
            SubjectType::pairwise_from_redirect_uris(&same),
            Some(pairwise("rp.example"))
        );
        let two = uris(&["https://a.example/cb", "https://b.example/cb"]);
        assert_eq!(SubjectType::pairwise_from_redirect_uris(&two), None);
        assert_eq!(SubjectType::pairwise_from_redirect_uris(&[]), None);
        let app = uris(&["com.example.app:/cb"]);
        assert_eq!(SubjectType::pairwise_from_redirect_uris(&app), None);

        // With a sector identifier, it wins; it must be a host name.
        let sector = |s: &str| SubjectType::pairwise(Some(s.into()), &two);
        assert_eq!(sector("sector.example"), Ok(pairwise("sector.example")));
        assert_eq!(sector("a b"), Err(SectorError::NotAHost));
        assert_eq!(
            SubjectType::pairwise(None, &same),
            Ok(pairwise("rp.example"))
        );
        assert_eq!(SubjectType::pairwise(None, &two), Err(SectorError::Missing));
    }
    use crate::client_secret::ClientSecretHash;

    fn client(kind: ClientKind, uris: &[&str]) -> Client {
        Client {
            id: "app".into(),
            kind,
            redirect_uris: uris
                .iter()
                .map(|u| RedirectUri::parse(u).unwrap())
                .collect(),
            allowed_scopes: ScopeSet::parse("read").unwrap(),
            default_scopes: ScopeSet::default(),
            grant_types: [GrantType::AuthorizationCode].into(),
            pkce: PkcePolicy::Required,
            expires_at: None,
            oidc: ClientOidc::default(),
            first_party: false,
            dangerous_skip_consent_for_unverifiable_redirects: false,
            tokens: ClientTokens::default(),
            requests: ClientRequests::default(),
            request_objects: Default::default(),
            registration: None,
            profile: SecurityProfile::Standard,
        }
    }

    fn confidential(uris: &[&str]) -> Client {
        let secret = ClientSecretHash::sha256_of_generated(&"s".repeat(43)).unwrap();
        client(ClientKind::confidential(secret), uris)
    }

    /// A new client fails closed: it may use no grant type and no redirect URI, requires
    /// PKCE and is not first party; the `with_*` methods set what they name.
    #[test]
    fn a_new_client_may_do_nothing_until_told() {
        let bare = Client::new("app", ClientKind::Public);
        for grant in [
            GrantType::AuthorizationCode,
            GrantType::ClientCredentials,
            GrantType::RefreshToken,
        ] {
            assert!(!bare.allows_grant(grant), "{grant:?}");
        }
        assert_eq!(bare.find_redirect_uri(HTTPS), None);
        assert!(bare.allowed_scopes.is_empty());
        assert_eq!(bare.pkce, PkcePolicy::Required);
        assert!(!bare.first_party && !bare.dangerous_skip_consent_for_unverifiable_redirects);
        assert_eq!(bare.expires_at, None);
        assert_eq!(bare.validate(), Ok(()));

        let built = Client::new("app", ClientKind::Public)
            .with_redirect_uris([RedirectUri::parse(LOOPBACK).unwrap()])
            .with_allowed_scopes(ScopeSet::parse("read").unwrap())
            .with_default_scopes(ScopeSet::default())
            .with_grant_types([GrantType::AuthorizationCode])
            .with_pkce(PkcePolicy::Required)
            .with_expires_at(None)
            .with_oidc(ClientOidc::default())
            .with_first_party(false)
            .with_tokens(ClientTokens::default())
            .with_dangerous_skip_consent_for_unverifiable_redirects(false);
        assert_eq!(built, client(ClientKind::Public, &[LOOPBACK]));
        let opted = Client::new("app", ClientKind::Public)
            .with_first_party(true)
            .with_expires_at(Some(UnixTime::from_secs(5)))
            .with_pkce(PkcePolicy::DangerousOptional)
            .with_dangerous_skip_consent_for_unverifiable_redirects(true);
        assert!(opted.first_party && opted.dangerous_skip_consent_for_unverifiable_redirects);
        assert_eq!(opted.expires_at, Some(UnixTime::from_secs(5)));
        assert_eq!(opted.pkce, PkcePolicy::DangerousOptional);
    }

    const LOOPBACK: &str = "http://127.0.0.1/cb";
    const PRIVATE_USE: &str = "com.example.app:/cb";
    const HTTPS: &str = "https://app.example/cb";

    /// RFC 9700 §4.1.3: confidential clients match exactly; RFC 8252 §7.3 lets only native
    /// apps (public clients) vary a loopback port.
    #[test]
    fn only_public_clients_vary_the_loopback_port() {
        let web = confidential(&["http://127.0.0.1:9000/cb"]);
        assert!(web.find_redirect_uri("http://127.0.0.1:9000/cb").is_some());
        assert!(web.find_redirect_uri("http://127.0.0.1:4444/cb").is_none());
        let native = client(ClientKind::Public, &["http://127.0.0.1:9000/cb"]);
        assert!(native
            .find_redirect_uri("http://127.0.0.1:4444/cb")
            .is_some());
        assert!(native
            .find_redirect_uri("http://127.0.0.1:4444/other")
            .is_none());
    }

    /// RFC 8252 §8.6, RFC 6749 §10.2: no automatic approval when the redirect URI cannot
    /// prove who gets the code.
    #[test]
    fn unverifiable_redirects_always_ask() {
        for uri in [LOOPBACK, "http://127.0.0.1:5555/cb", PRIVATE_USE] {
            let mut c = client(ClientKind::Public, &[LOOPBACK, PRIVATE_USE, HTTPS]);
            assert_eq!(c.consent_rule(uri, false), ConsentRule::Ask, "{uri}");
            c.first_party = true;
            assert_eq!(
                c.consent_rule(uri, false),
                ConsentRule::Ask,
                "first party: {uri}"
            );
            c.dangerous_skip_consent_for_unverifiable_redirects = true;
            assert_eq!(
                c.consent_rule(uri, false),
                ConsentRule::Skip,
                "opted out: {uri}"
            );
            assert_eq!(
                c.consent_rule(uri, true),
                ConsentRule::Ask,
                "prompt=consent: {uri}"
            );
        }
        // An unregistered URI never counts as identified.
        let c = client(ClientKind::Public, &[HTTPS]);
        assert_eq!(
            c.consent_rule("https://evil.example/cb", false),
            ConsentRule::Ask
        );
    }

    #[test]
    fn identified_clients_skip_when_consented_or_first_party() {
        for c in [
            client(ClientKind::Public, &[HTTPS]),
            confidential(&[LOOPBACK]),
            confidential(&[PRIVATE_USE]),
        ] {
            let uri = c.redirect_uris[0].as_str().to_owned();
            let rule = c.consent_rule(&uri, false);
            assert_eq!(rule, ConsentRule::AskUnlessConsented, "{uri}");
            assert_eq!(c.consent_rule(&uri, true), ConsentRule::Ask, "{uri}");
            let first_party = Client {
                first_party: true,
                ..c.clone()
            };
            assert_eq!(
                first_party.consent_rule(&uri, false),
                ConsentRule::Skip,
                "{uri}"
            );
            assert_eq!(
                first_party.consent_rule(&uri, true),
                ConsentRule::Ask,
                "{uri}"
            );
        }
    }

    #[test]
    fn jwt_clients_need_usable_keys_at_an_acceptable_uri() {
        let with = |keys: ClientKeys| Client::new("k", ClientKind::PrivateKeyJwt { keys });
        for (uri, ok) in [
            ("https://rp.example/jwks", true),
            ("http://127.0.0.1:9/jwks", true),
            ("http://[::1]/jwks", true),
            ("http://localhost/jwks", true),
            ("http://rp.example/jwks", false),
            ("http://127.0.0.1.rp.example/jwks", false),
            ("https://u:p@rp.example/jwks", false),
            ("https://u@rp.example/jwks", false),
            ("https://rp.example/jwks#k", false),
            ("ftp://rp.example/jwks", false),
            ("file:///etc/jwks", false),
            ("not a url", false),
        ] {
            assert_eq!(ClientKeys::is_acceptable_uri(uri), ok, "{uri}");
            let result = with(ClientKeys::JwksUri(uri.into())).validate();
            if ok {
                assert_eq!(result, Ok(()), "{uri}");
            } else {
                assert_eq!(
                    result,
                    Err(ClientError::InvalidJwksUri("k".into())),
                    "{uri}"
                );
            }
        }
        assert_eq!(
            with(ClientKeys::Jwks(JwkSet::default())).validate(),
            Err(ClientError::NoUsableKey("k".into()))
        );
        // request_uris follow the same rule (the fetcher then refuses private addresses).
        let fetched = |uris: &[&str]| {
            Client::new("k", ClientKind::Public)
                .with_request_objects(crate::ClientRequestObjects {
                    request_uris: uris.iter().map(|u| u.to_string()).collect(),
                    ..Default::default()
                })
                .validate()
        };
        assert_eq!(fetched(&["https://rp.example/r", "http://[::1]/r"]), Ok(()));
        assert_eq!(
            fetched(&["https://rp.example/r", "http://rp.example/r"]),
            Err(ClientError::InvalidRequestUri("k".into()))
        );
        let key =
            crate::SigningKey::generate("a", Algorithm::ES256, &ring::rand::SystemRandom::new())
                .unwrap();
        let set = JwkSet {
            keys: vec![key.public_jwk()],
        };
        assert_eq!(with(ClientKeys::Jwks(set)).validate(), Ok(()));
        // A JWT client is confidential: it may use client_credentials.
        assert!(!with(ClientKeys::JwksUri("https://rp.example/j".into())).is_public());
    }

    /// Clients stored before `method` existed still read, as either-secret-method clients.
    #[test]
    fn kinds_are_stored_with_their_method() {
        let stored = r#"{"type":"confidential","secret":"sha256$AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"}"#;
        let kind: ClientKind = serde_json::from_str(stored).unwrap();
        assert!(matches!(
            kind,
            ClientKind::Confidential { method: None, .. }
        ));
        assert_eq!(serde_json::to_string(&kind).unwrap(), stored);
        let basic = ClientKind::Confidential {
            secret: ClientSecretHash::Sha256([1; 32]),
            method: Some(SecretMethod::Basic),
            previous_secret: None,
            secret_expires_at: None,
        };
        let json = serde_json::to_value(&basic).unwrap();
        assert_eq!(json["method"], "basic");
        assert_eq!(serde_json::from_value::<ClientKind>(json).unwrap(), basic);
        let uri = ClientKind::PrivateKeyJwt {
            keys: ClientKeys::JwksUri("https://rp.example/j".into()),
        };
        let json = serde_json::to_value(&uri).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "private_key_jwt", "keys": {"jwks_uri": "https://rp.example/j"}})
        );
        assert_eq!(serde_json::from_value::<ClientKind>(json).unwrap(), uri);
    }
}
