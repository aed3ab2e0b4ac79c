//! The configuration file's schema (TOML, through serde): what may be written, with its
//! defaults. [`crate::config`] resolves it into the engine's types, checking what serde
//! cannot. Unknown keys are refused everywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::num::{NonZeroU32, NonZeroU64};

use portcullis::core::{
    Algorithm, CertificateSubject, ClientSecretHash, GrantType, JwkSet, KeyPolicy, Lifetimes,
    PkcePolicy, PushedRequestPolicy, RedirectUri, RefreshPolicy, ResponseType, ScopeSet,
    SecurityProfile, TokenFormat,
};
use portcullis_interaction::{NamedKey, Secret32};
use serde::Deserialize;

use crate::config::DEFAULT_PBKDF2_ITERATIONS;
use crate::store::StoreSpec;

/// Default session lifetime: 8 hours.
const DEFAULT_SESSION_SECS: u64 = 8 * 3600;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    #[serde(default)]
    pub(crate) store: StoreSpec,
    /// `[postgres]`: the PostgreSQL store's pool and timeouts.
    #[serde(default)]
    pub(crate) postgres: FilePostgres,
    #[serde(default = "default_iterations")]
    pub(crate) pbkdf2_iterations: NonZeroU32,
    #[serde(default)]
    pub(crate) lifetimes: FileLifetimes,
    #[serde(default)]
    pub(crate) session: FileSession,
    #[serde(default)]
    pub(crate) keys: FileKeys,
    #[serde(default)]
    pub(crate) secrets: FileSecrets,
    #[serde(default)]
    pub(crate) clients: Vec<FileClient>,
    #[serde(default)]
    pub(crate) users: Vec<FileUser>,
    pub(crate) registration: Option<FileRegistration>,
    pub(crate) client_id_metadata_documents: Option<FileClientDocuments>,
    #[serde(default)]
    pub(crate) dpop: FileDpop,
    #[serde(default)]
    pub(crate) pushed_authorization_requests: FilePushedRequests,
    #[serde(default)]
    pub(crate) device_authorization: FileDevice,
    #[serde(default)]
    pub(crate) resources: Vec<FileResource>,
    /// Seconds each listed scope lives, counted from the user's login (`Policy::scope_lifetimes`).
    #[serde(default)]
    pub(crate) scope_lifetimes: BTreeMap<String, NonZeroU64>,
    /// The authorization details types accepted (RFC 9396): `payment_initiation`.
    #[serde(default)]
    pub(crate) authorization_details_types: BTreeSet<String>,
    /// The security profile every client is held to: `"fapi2"` for `Policy::fapi2()`.
    #[serde(default)]
    pub(crate) profile: SecurityProfile,
    /// Issuers whose JWTs are trusted (JWT bearer grant, token exchange).
    #[serde(default)]
    pub(crate) trusted_issuers: Vec<crate::trust::FileTrustedIssuer>,
    /// Token exchange (RFC 8693): off by default.
    #[serde(default)]
    pub(crate) token_exchange: crate::trust::FileTokenExchange,
    /// Fetch request objects at clients' registered `request_uris` (RFC 9101 §5.2; off).
    #[serde(default)]
    pub(crate) fetch_request_uris_on_clients_behalf: bool,
    /// How long a client read from the store is kept (`ProviderBuilder::client_cache`): a
    /// client changed on another node is seen within it. `0`: not kept.
    #[serde(default = "default_client_cache_seconds")]
    pub(crate) client_cache_seconds: u64,
    /// The implicit and hybrid response types for clients that list them in
    /// `response_types` (`Policy::dangerous_allow_implicit`, RFC 9700 §2.1.2).
    #[serde(default)]
    pub(crate) dangerous_allow_implicit: bool,
    /// The password grant for clients that list `password` in `grant_types`, checked
    /// against `[[users]]` (`Policy::dangerous_allow_password_grant`, RFC 9700 §2.4).
    #[serde(default)]
    pub(crate) dangerous_allow_password_grant: bool,
    /// The Prometheus endpoint: off without it.
    pub(crate) metrics: Option<FileMetrics>,
}

/// The PostgreSQL store's pool and timeouts (`[postgres]`), each the store's default when
/// left out (`portcullis_store_postgres::PostgresConfig`); used with a `postgres:` store
/// only.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilePostgres {
    /// Pooled connections at most (default 16).
    pub(crate) max_connections: Option<usize>,
    /// Long-lived pipelined connections beside the pool (default one per core, at most 8;
    /// `0`: none).
    pub(crate) shared_connections: Option<usize>,
    /// Milliseconds a call waits for a connection (default 10 000, capped at the
    /// operation timeout).
    pub(crate) wait_timeout_ms: Option<u64>,
    /// Milliseconds one store operation may take once it holds a connection (default
    /// 5 000, at least 100).
    pub(crate) operation_timeout_ms: Option<u64>,
}

/// The metrics in Prometheus text format (`[metrics]`), at `GET /metrics` on a listener of
/// their own, `listen`: unauthenticated, so a loopback or private address.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileMetrics {
    pub(crate) listen: std::net::SocketAddr,
}

/// A protected resource (`[[resources]]`, RFC 8707): a token asked for it with `resource`
/// carries it as `aud`, only its scopes, in its format.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileResource {
    /// Its identifier: an absolute URI without fragment.
    pub(crate) uri: String,
    /// The scopes that mean something to it.
    pub(crate) scopes: ScopeSet,
    /// `opaque` (the default) or `jwt` (RFC 9068).
    #[serde(default)]
    pub(crate) token_format: TokenFormat,
    /// The clients that may ask for it; every client when absent.
    pub(crate) clients: Option<BTreeSet<String>>,
}

/// DPoP (`[dpop]`, RFC 9449): every proof must carry a server nonce if `require_nonce`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct FileDpop {
    pub(crate) require_nonce: bool,
}

/// The device authorization grant (`[device_authorization]`, RFC 8628): off unless
/// `enabled`; how long the codes live and the polling interval, in seconds.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct FileDevice {
    pub(crate) enabled: bool,
    pub(crate) lifetime: NonZeroU64,
    pub(crate) interval: NonZeroU64,
}

impl Default for FileDevice {
    fn default() -> Self {
        Self {
            enabled: false,
            lifetime: secs(600),
            interval: secs(5),
        }
    }
}

/// Pushed authorization requests (`[pushed_authorization_requests]`, RFC 9126): whether every
/// authorization request must be pushed, and how long a pushed one lives (seconds, at most
/// 600).
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct FilePushedRequests {
    pub(crate) required: bool,
    pub(crate) lifetime: NonZeroU64,
}

impl Default for FilePushedRequests {
    fn default() -> Self {
        let policy = PushedRequestPolicy::default();
        Self {
            required: policy.required,
            lifetime: secs(policy.lifetime.as_secs()),
        }
    }
}

/// Clients known by a client ID metadata document (`[client_id_metadata_documents]`,
/// draft-ietf-oauth-client-id-metadata-document): off without it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileClientDocuments {
    /// The scopes such a client may ask for.
    pub(crate) scopes: ScopeSet,
    /// Only client_id URLs under these `https://…/` prefixes (any, when empty).
    #[serde(default)]
    pub(crate) only_under: Vec<String>,
}

/// Dynamic client registration (`[registration]`, RFC 7591 and RFC 7592): off without it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileRegistration {
    /// The scopes a registered client may ask for.
    pub(crate) scopes: ScopeSet,
    /// The Bearer token a caller must present to register (at least 32 characters);
    /// without it, anyone may register.
    pub(crate) initial_access_token: Option<String>,
}

pub(crate) fn default_iterations() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_PBKDF2_ITERATIONS).unwrap_or(NonZeroU32::MIN)
}

pub(crate) fn secs(n: u64) -> NonZeroU64 {
    NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN)
}

/// Lifetimes in seconds; every one is optional.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct FileLifetimes {
    pub(crate) authorization_code: NonZeroU64,
    pub(crate) access_token: NonZeroU64,
    pub(crate) refresh_token: NonZeroU64,
    pub(crate) interaction: NonZeroU64,
    pub(crate) id_token: NonZeroU64,
}

impl Default for FileLifetimes {
    fn default() -> Self {
        let d = Lifetimes::default();
        Self {
            authorization_code: secs(d.authorization_code.as_secs()),
            access_token: secs(d.access_token.as_secs()),
            refresh_token: secs(d.refresh_token.as_secs()),
            interaction: secs(d.interaction.as_secs()),
            id_token: secs(d.id_token.as_secs()),
        }
    }
}

/// Signing keys and their rotation (`[keys]`); every field is optional.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct FileKeys {
    /// The ID token algorithm of clients that do not choose one.
    pub(crate) default_alg: Algorithm,
    /// How long a new key is in the JWKS before it signs.
    pub(crate) publish_ahead_seconds: u64,
    /// `Cache-Control: max-age` of the JWKS.
    pub(crate) jwks_max_age_seconds: u64,
    /// How often the keys are reloaded from the store.
    pub(crate) reload_every_seconds: u64,
    /// Rotate each key this often; 0 rotates only on request.
    pub(crate) rotate_every_seconds: u64,
}

impl Default for FileKeys {
    fn default() -> Self {
        let d = KeyPolicy::default();
        Self {
            default_alg: d.default_alg,
            publish_ahead_seconds: d.publish_ahead.as_secs(),
            jwks_max_age_seconds: d.jwks_max_age.as_secs(),
            reload_every_seconds: d.reload_every.as_secs(),
            rotate_every_seconds: d.rotate_every.map_or(0, |r| r.as_secs()),
        }
    }
}

/// Provider secrets (`[secrets]`). When absent: kept in the secrets file beside an SQLite
/// store, random at every start with the memory store; required with a postgres store.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct FileSecrets {
    /// Seals pending authorizations and logouts: the same in every process of one issuer.
    pub(crate) interaction_key: Option<Secret32>,
    /// Salts pairwise subject identifiers: must stay the same for them to stay stable.
    pub(crate) subject_salt: Option<Secret32>,
    /// Seals the private signing keys in the store; with `key_encryption_key_id`.
    pub(crate) key_encryption_key: Option<Secret32>,
    /// Names it in every key it seals, so it can be rotated.
    pub(crate) key_encryption_key_id: Option<String>,
    /// Earlier key-encryption keys (`{ id, key }`), still opening what they sealed.
    pub(crate) previous_key_encryption_keys: Vec<NamedKey>,
    /// Keeps the private signing keys in plaintext on a store that persists.
    pub(crate) dangerous_plaintext_signing_keys: bool,
    /// Keys the DPoP nonces; derived from `interaction_key` when absent.
    pub(crate) dpop_nonce_key: Option<Secret32>,
    /// Keys the session ids (`sid`); derived from `subject_salt` when absent.
    pub(crate) sid_key: Option<Secret32>,
}

#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct FileSession {
    /// Seconds a sign-in lasts.
    pub(crate) lifetime: NonZeroU64,
    /// Fixed key of the CSRF tokens (base64url, 32 bytes). When absent: kept in the secrets
    /// file beside an SQLite store, random at each start with the memory store; required
    /// with postgres.
    pub(crate) key: Option<Secret32>,
}

impl Default for FileSession {
    fn default() -> Self {
        Self {
            lifetime: secs(DEFAULT_SESSION_SECS),
            key: None,
        }
    }
}

#[derive(Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FileClientType {
    Confidential,
    Public,
    /// Mutual TLS with a certificate of the client CA (RFC 8705 §2.1): needs `subject`.
    TlsClientAuth,
    /// Mutual TLS with a certificate of a registered key (RFC 8705 §2.2): needs `jwks`.
    SelfSignedTlsClientAuth,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileClient {
    pub(crate) id: String,
    /// Shown to users on the sign-in, consent and account pages, with the id.
    pub(crate) name: Option<String>,
    #[serde(rename = "type")]
    pub(crate) kind: FileClientType,
    pub(crate) secret: Option<String>,
    pub(crate) secret_hash: Option<ClientSecretHash>,
    /// E.g. `{ tls_client_auth_san_dns = "client.example" }` (RFC 8705 §2.1.2).
    pub(crate) subject: Option<CertificateSubject>,
    /// `client_secret_basic`, `client_secret_post` or `private_key_jwt` (with `jwks` or
    /// `jwks_uri`); by default a confidential client may use either secret method.
    pub(crate) token_endpoint_auth_method: Option<String>,
    pub(crate) jwks: Option<JwkSet>,
    pub(crate) jwks_uri: Option<String>,
    #[serde(default)]
    pub(crate) redirect_uris: Vec<RedirectUri>,
    pub(crate) allowed_scopes: ScopeSet,
    #[serde(default)]
    pub(crate) default_scopes: ScopeSet,
    pub(crate) grant_types: BTreeSet<GrantType>,
    #[serde(default)]
    pub(crate) pkce: PkcePolicy,
    // OpenID Connect registration (OpenID Connect Dynamic Client Registration §2).
    pub(crate) id_token_signed_response_alg: Option<Algorithm>,
    /// JARM §3: authorization responses signed by default, with this algorithm.
    pub(crate) authorization_signed_response_alg: Option<Algorithm>,
    #[serde(default)]
    pub(crate) subject_type: FileSubjectType,
    pub(crate) sector_identifier: Option<String>,
    #[serde(default)]
    pub(crate) require_auth_time: bool,
    #[serde(default)]
    pub(crate) post_logout_redirect_uris: Vec<RedirectUri>,
    /// Where logout tokens go (Back-Channel Logout 1.0 §2.2).
    #[serde(default)]
    pub(crate) backchannel_logout_uri: Option<String>,
    #[serde(default)]
    pub(crate) backchannel_logout_session_required: bool,
    #[serde(default)]
    pub(crate) refresh: FileRefresh,
    /// Remembered consent skips the user even at a loopback or private-use redirect URI
    /// (RFC 8252 §8.6): see `Client::dangerous_skip_consent_for_unverifiable_redirects`.
    #[serde(default)]
    pub(crate) dangerous_skip_consent_for_unverifiable_redirects: bool,
    /// Token binding (`ClientTokens`): RFC 9449 §5.2, RFC 8705 §3.4, RFC 9449 §8.
    #[serde(default)]
    pub(crate) dpop_bound_access_tokens: bool,
    #[serde(default)]
    pub(crate) tls_client_certificate_bound_access_tokens: bool,
    #[serde(default)]
    pub(crate) require_dpop_nonce: bool,
    /// Every authorization request must be pushed first (RFC 9126 §6).
    #[serde(default)]
    pub(crate) require_pushed_authorization_requests: bool,
    /// The implicit and hybrid response types it may use (`"code id_token"`, …), honoured
    /// only with `dangerous_allow_implicit`.
    #[serde(default)]
    pub(crate) response_types: BTreeSet<ResponseType>,
    /// Access tokens without a `resource`: `opaque` (the default) or `jwt` (RFC 9068).
    #[serde(default)]
    pub(crate) access_token_format: TokenFormat,
    /// Every authorization request comes as a signed request object (RFC 9101 §10.5).
    #[serde(default)]
    pub(crate) require_signed_request_object: bool,
    /// The `https` URLs of its request objects the provider may fetch (RFC 9101 §5.2),
    /// when `fetch_request_uris_on_clients_behalf` is on.
    #[serde(default)]
    pub(crate) request_uris: Vec<String>,
    /// The authorization details types it may ask for (RFC 9396 §10); all when absent.
    pub(crate) authorization_details_types: Option<BTreeSet<String>>,
    /// `"fapi2"`: the FAPI 2.0 preset (`Client::with_profile`; no refresh rotation).
    #[serde(default)]
    pub(crate) profile: SecurityProfile,
}

/// A client's `[clients.refresh]` table: its refresh-token policy (RFC 9700 §4.14.2).
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct FileRefresh {
    pub(crate) rotate: bool,
    pub(crate) absolute_lifetime_seconds: Option<u64>,
    pub(crate) idle_timeout_seconds: Option<u64>,
    pub(crate) grace_seconds: Option<u64>,
    pub(crate) grace_reuses: Option<u32>,
}

impl Default for FileRefresh {
    fn default() -> Self {
        let policy = RefreshPolicy::default();
        Self {
            rotate: policy.rotate,
            absolute_lifetime_seconds: policy.absolute_lifetime_secs,
            idle_timeout_seconds: policy.idle_timeout_secs,
            grace_seconds: None,
            grace_reuses: None,
        }
    }
}

#[derive(Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FileSubjectType {
    #[default]
    Public,
    Pairwise,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileUser {
    pub(crate) username: String,
    pub(crate) password: Option<String>,
    pub(crate) password_hash: Option<ClientSecretHash>,
    /// The TOTP secret in base32 (RFC 6238, RFC 4648 §6), as authenticator apps take it.
    pub(crate) totp_secret: Option<String>,
    /// Checked against the claims' types as the file is loaded.
    #[serde(default)]
    pub(crate) claims: serde_json::Map<String, serde_json::Value>,
}

/// The engine's default client cache staleness.
fn default_client_cache_seconds() -> u64 {
    10
}
