//! The configuration file (TOML): clients (with their OpenID Connect registration), users
//! (with their profile claims), lifetimes, signing keys, and the session and provider
//! secrets. Its schema is [`crate::schema`]'s; this module resolves it into the engine's
//! types.
//!
//! Secrets and passwords may be written in plain text; they are hashed with PBKDF2 as the
//! file is loaded and the plain text is dropped. `secret_hash` / `password_hash` take an
//! already-hashed value instead. See `demo.toml` for a complete file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};
use std::path::Path;
use std::time::Duration;

use portcullis::core::{
    check_claim_value, Client, ClientError, ClientKeys, ClientKind, ClientOidc,
    ClientRequestObjects, ClientRequests, ClientSecretHash, ClientTokens, KeyPolicy, Lifetimes,
    PushedRequestPolicy, RefreshGrace, RefreshPolicy, Resource, SecretMethod, SecurityProfile,
    SubjectType, MAX_PUSHED_REQUEST_LIFETIME,
};
use portcullis::tls::ServerTls;
use portcullis::{ClientIdMetadataDocuments, RegistrationPolicy, ServerLimits};
use portcullis_interaction::{HostSecrets, NamedKey, Secret32, TotpSecret};
use ring::rand::{SecureRandom, SystemRandom};

use crate::demo::DEMO_TOML;
use crate::schema::{
    FileClient, FileClientType, FileConfig, FileKeys, FilePostgres, FilePushedRequests,
    FileRefresh, FileResource, FileSecrets, FileSubjectType, FileUser,
};
use crate::store::{PostgresOptions, StoreSpec};
use crate::users::User;

/// PBKDF2 iterations used when `pbkdf2_iterations` is not set. Low enough to keep the token
/// endpoint fast in a demo; raise it for real deployments (OWASP suggests 600 000).
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 10_000;

/// A loaded configuration, with every secret already hashed.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) store: StoreSpec,
    /// `[postgres]`: the PostgreSQL store's pool and timeouts.
    pub(crate) postgres: PostgresOptions,
    pub(crate) clients: Vec<Client>,
    /// The clients' `name`s, by client id: what users see on the pages.
    pub(crate) client_names: BTreeMap<String, String>,
    pub(crate) users: Vec<User>,
    pub(crate) lifetimes: Lifetimes,
    pub(crate) keys: KeyPolicy,
    pub(crate) session_lifetime: Duration,
    /// `[secrets]` and `[session] key`.
    pub(crate) secrets: HostSecrets,
    pub(crate) pbkdf2_iterations: NonZeroU32,
    pub(crate) server_limits: ServerLimits,
    /// `[registration]`: who may register clients (closed without it).
    pub(crate) registration: RegistrationPolicy,
    /// `[client_id_metadata_documents]`: clients known by a URL (off without it).
    pub(crate) client_documents: ClientIdMetadataDocuments,
    /// HTTPS, with client certificates for mutual-TLS clients (`--tls-cert`).
    pub(crate) tls: Option<ServerTls>,
    /// `[dpop] require_nonce`.
    pub(crate) dpop_require_nonce: bool,
    /// `[pushed_authorization_requests]` (RFC 9126).
    pub(crate) pushed_requests: PushedRequestPolicy,
    /// `[device_authorization]` (RFC 8628): on, the codes' lifetime and the interval.
    pub(crate) device: Option<(Duration, Duration)>,
    /// `[[resources]]`: the protected resources tokens may be issued for (RFC 8707).
    pub(crate) resources: Vec<Resource>,
    /// `[scope_lifetimes]`: scopes that fade with the age of the login.
    pub(crate) scope_lifetimes: BTreeMap<String, Duration>,
    /// `authorization_details_types`: the sample types accepted (RFC 9396).
    pub(crate) authorization_details_types: BTreeSet<String>,
    /// `profile`: the security profile every client is held to.
    pub(crate) profile: SecurityProfile,
    /// `[[trusted_issuers]]` and `[token_exchange]`.
    pub(crate) trust: crate::trust::Trust,
    /// `fetch_request_uris_on_clients_behalf` (RFC 9101 §5.2): off by default.
    pub(crate) fetch_request_uris: bool,
    /// `client_cache_seconds`: how long a client read from the store is kept.
    pub(crate) client_cache: Duration,
    /// `dangerous_allow_implicit` and `dangerous_allow_password_grant`.
    pub(crate) dangerous_allow_implicit: bool,
    pub(crate) dangerous_allow_password_grant: bool,
    /// `[metrics] listen`: where the Prometheus endpoint listens (off without it).
    pub(crate) metrics_listen: Option<std::net::SocketAddr>,
}

impl Config {
    /// The demo configuration (`demo.toml`): the clients and user of [`crate::demo_banner`].
    pub fn demo() -> Self {
        // The demo file is fixed and covered by a unit test.
        Self::parse_named(DEMO_TOML, "demo.toml").expect("the demo configuration is valid")
    }

    /// This configuration with clients read from the store kept for `ttl` (zero: every
    /// lookup reads the store), as `client_cache_seconds` says.
    pub fn with_client_cache(mut self, ttl: Duration) -> Self {
        self.client_cache = ttl;
        self
    }

    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: origin.clone(),
            position: None,
            field: String::new(),
            message: format!("cannot read the file: {e}"),
        })?;
        Self::parse_named(&text, &origin)
    }

    /// Parses and checks configuration text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Self::parse_named(text, "config")
    }

    /// Where the provider keeps its state (`store`; default: memory).
    pub fn store(&self) -> &StoreSpec {
        &self.store
    }

    /// Runs the provider on `store` instead (what `--store` does).
    pub fn with_store(mut self, store: StoreSpec) -> Self {
        self.store = store;
        self
    }

    /// Serves within `limits` instead of the defaults (what `--header-timeout`,
    /// `--request-timeout`, `--idle-timeout` and `--max-connections` do).
    pub fn with_server_limits(mut self, limits: ServerLimits) -> Self {
        self.server_limits = limits;
        self
    }

    /// Serves HTTPS with `tls` (what `--tls-cert`, `--tls-key` and `--client-ca` do), and
    /// offers the mutual-TLS client authentication it supports.
    pub fn with_tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The registered clients.
    pub fn clients(&self) -> &[Client] {
        &self.clients
    }

    /// The usernames of the configured users.
    pub fn usernames(&self) -> impl Iterator<Item = &str> {
        self.users.iter().map(|u| u.username.as_str())
    }

    /// The signing-key policy (`[keys]`).
    pub fn key_policy(&self) -> &KeyPolicy {
        &self.keys
    }

    fn parse_named(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let toml_error = |field: String, e: toml::de::Error| ConfigError {
            origin: origin.to_owned(),
            position: e.span().map(|s| line_column(text, s.start)),
            field,
            message: e.message().trim_end().to_owned(),
        };
        let de = toml::Deserializer::parse(text).map_err(|e| toml_error(String::new(), e))?;
        let file: FileConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { String::new() } else { path };
            toml_error(field, e.into_inner())
        })?;
        file.resolve().map_err(|(field, message)| ConfigError {
            origin: origin.to_owned(),
            position: None,
            field,
            message,
        })
    }
}

/// Why a configuration was refused. Its message names the offending field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    origin: String,
    position: Option<(usize, usize)>,
    field: String,
    message: String,
}

impl ConfigError {
    /// The offending field as a path (`clients[0].redirect_uris[1]`), empty for a syntax
    /// error or an unreadable file.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong, without the file's content.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some((line, column)) = self.position {
            write!(f, ", line {line}, column {column}")?;
        }
        if !self.field.is_empty() {
            write!(f, ", field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// 1-based line and column of byte `offset`. The file's text itself is never echoed, so a
/// malformed secret does not end up in a log.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl FileKeys {
    fn resolve(self) -> Result<KeyPolicy, Invalid> {
        let d = Duration::from_secs;
        let policy = KeyPolicy {
            default_alg: self.default_alg,
            publish_ahead: d(self.publish_ahead_seconds),
            jwks_max_age: d(self.jwks_max_age_seconds),
            reload_every: d(self.reload_every_seconds),
            rotate_every: (self.rotate_every_seconds > 0).then(|| d(self.rotate_every_seconds)),
        };
        if !policy.publishes_ahead_of_caches() {
            return Err(invalid(
                "keys.publish_ahead_seconds",
                "must be longer than jwks_max_age_seconds + reload_every_seconds, so every \
                 cache knows a new key before it signs",
            ));
        }
        Ok(policy)
    }
}

impl FileSecrets {
    /// The secrets, with `[session] key`; the key-encryption keys checked.
    fn resolve(self, csrf_key: Option<Secret32>) -> Result<HostSecrets, Invalid> {
        let current = match (self.key_encryption_key, self.key_encryption_key_id) {
            (Some(key), Some(id)) => Some(NamedKey { id, key }),
            (None, None) if self.previous_key_encryption_keys.is_empty() => None,
            (None, None) => {
                return Err(invalid(
                    "secrets.key_encryption_key",
                    "required with previous_key_encryption_keys",
                ))
            }
            (Some(_), None) => {
                return Err(invalid(
                    "secrets.key_encryption_key_id",
                    "required with key_encryption_key: it names the key in what it seals",
                ))
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "secrets.key_encryption_key",
                    "required with key_encryption_key_id",
                ))
            }
        };
        let mut secrets = HostSecrets::default();
        secrets.interaction_key = self.interaction_key;
        secrets.subject_salt = self.subject_salt;
        secrets.csrf_key = csrf_key;
        secrets.key_encryption_key = current;
        secrets.previous_key_encryption_keys = self.previous_key_encryption_keys;
        secrets.dangerous_plaintext_signing_keys = self.dangerous_plaintext_signing_keys;
        secrets.dpop_nonce_key = self.dpop_nonce_key;
        secrets.sid_key = self.sid_key;
        secrets
            .key_encryption_keys()
            .map_err(|e| invalid("secrets.key_encryption_key_id", e.to_string()))?;
        Ok(secrets)
    }
}

impl FileRefresh {
    fn resolve(self) -> Result<RefreshPolicy, Invalid> {
        let grace = match (self.grace_seconds, self.grace_reuses) {
            (None, None) => None,
            (Some(window_secs), Some(max_reuses)) => Some(RefreshGrace {
                window_secs,
                max_reuses,
            }),
            _ => {
                return Err(invalid(
                    "refresh",
                    "grace_seconds and grace_reuses go together",
                ))
            }
        };
        Ok(RefreshPolicy {
            rotate: self.rotate,
            absolute_lifetime_secs: self.absolute_lifetime_seconds,
            idle_timeout_secs: self.idle_timeout_seconds,
            grace,
        })
    }
}

/// A field path (relative to the item) and what is wrong with it.
type Invalid = (String, String);

fn invalid(field: &str, message: impl Into<String>) -> Invalid {
    (field.to_owned(), message.into())
}

/// Hashes `plain` or takes `hashed`; exactly one must be given.
fn hash_one(
    plain: Option<String>,
    hashed: Option<ClientSecretHash>,
    names: [&str; 2],
    iterations: NonZeroU32,
    rng: &dyn SecureRandom,
) -> Result<ClientSecretHash, Invalid> {
    match (plain, hashed) {
        (Some(p), None) => ClientSecretHash::pbkdf2(&p, iterations, rng)
            .map_err(|e| invalid(names[0], e.to_string())),
        (None, Some(h)) => Ok(h),
        (Some(_), Some(_)) => Err(invalid(
            names[1],
            format!("give either `{}` or `{}`, not both", names[0], names[1]),
        )),
        (None, None) => Err(invalid(
            names[0],
            format!("missing: give `{}` or `{}`", names[0], names[1]),
        )),
    }
}

impl FileConfig {
    fn resolve(self) -> Result<Config, Invalid> {
        let rng = SystemRandom::new();
        let iterations = self.pbkdf2_iterations;
        let within =
            |prefix: String| move |(field, msg): Invalid| (format!("{prefix}.{field}"), msg);

        let mut clients = Vec::with_capacity(self.clients.len());
        let mut ids = BTreeSet::new();
        let mut client_names = BTreeMap::new();
        for (i, mut c) in self.clients.into_iter().enumerate() {
            c.profile = c.profile.max(self.profile);
            if let Some(name) = c.name.take() {
                if name.trim().is_empty() {
                    return Err(invalid(&format!("clients[{i}].name"), "must not be empty"));
                }
                client_names.insert(c.id.clone(), name);
            }
            let client = c
                .resolve(iterations, &rng)
                .map_err(within(format!("clients[{i}]")))?;
            if !ids.insert(client.id.clone()) {
                return Err(invalid(&format!("clients[{i}].id"), "duplicate client id"));
            }
            clients.push(client);
        }

        let mut users = Vec::with_capacity(self.users.len());
        let mut names = BTreeSet::new();
        for (i, u) in self.users.into_iter().enumerate() {
            let user = u
                .resolve(iterations, &rng)
                .map_err(within(format!("users[{i}]")))?;
            if !names.insert(user.username.clone()) {
                return Err(invalid(
                    &format!("users[{i}].username"),
                    "duplicate username",
                ));
            }
            users.push(user);
        }

        let registration = match self.registration {
            None => RegistrationPolicy::closed(),
            Some(r) => match r.initial_access_token {
                Some(t) if t.len() < 32 => Err(invalid(
                    "registration.initial_access_token",
                    "at least 32 characters",
                ))?,
                Some(t) => RegistrationPolicy::initial_access_tokens(r.scopes, [t]),
                None => RegistrationPolicy::open(r.scopes),
            },
        };
        let client_documents = match self.client_id_metadata_documents {
            None => ClientIdMetadataDocuments::disabled(),
            Some(d) => ClientIdMetadataDocuments::enabled(d.scopes).only_under(d.only_under),
        };
        let resources = self
            .resources
            .into_iter()
            .enumerate()
            .map(|(i, r)| r.resolve().map_err(within(format!("resources[{i}]"))))
            .collect::<Result<_, _>>()?;
        let known = |t: &String| crate::payment::KNOWN_TYPES.contains(&t.as_str());
        if let Some(t) = self.authorization_details_types.iter().find(|t| !known(t)) {
            return Err(invalid(
                "authorization_details_types",
                format!("unknown type {t}: this example knows payment_initiation"),
            ));
        }
        if let Some(i) = clients.iter().position(|c| {
            let mut types = c.tokens.authorization_details_types.iter().flatten();
            types.any(|t| !self.authorization_details_types.contains(t))
        }) {
            return Err(invalid(
                &format!("clients[{i}].authorization_details_types"),
                "a type not in the top-level authorization_details_types",
            ));
        }
        let l = self.lifetimes;
        let d = |n: NonZeroU64| Duration::from_secs(n.get());
        Ok(Config {
            store: self.store,
            postgres: self.postgres.resolve().map_err(within("postgres".into()))?,
            clients,
            client_names,
            users,
            lifetimes: Lifetimes {
                authorization_code: d(l.authorization_code),
                access_token: d(l.access_token),
                refresh_token: d(l.refresh_token),
                interaction: d(l.interaction),
                id_token: d(l.id_token),
                ..Lifetimes::default()
            },
            keys: self.keys.resolve()?,
            session_lifetime: d(self.session.lifetime),
            secrets: self.secrets.resolve(self.session.key)?,
            pbkdf2_iterations: iterations,
            server_limits: ServerLimits::default(),
            registration,
            client_documents,
            tls: None,
            dpop_require_nonce: self.dpop.require_nonce,
            pushed_requests: self
                .pushed_authorization_requests
                .resolve()
                .map_err(within("pushed_authorization_requests".into()))?,
            device: self.device_authorization.enabled.then(|| {
                let device = &self.device_authorization;
                (d(device.lifetime), d(device.interval))
            }),
            resources,
            scope_lifetimes: self
                .scope_lifetimes
                .into_iter()
                .map(|(scope, secs)| (scope, d(secs)))
                .collect(),
            authorization_details_types: self.authorization_details_types,
            profile: self.profile,
            trust: crate::trust::Trust {
                issuers: self.trusted_issuers,
                token_exchange: self.token_exchange.enabled,
            },
            fetch_request_uris: self.fetch_request_uris_on_clients_behalf,
            client_cache: Duration::from_secs(self.client_cache_seconds),
            dangerous_allow_implicit: self.dangerous_allow_implicit,
            dangerous_allow_password_grant: self.dangerous_allow_password_grant,
            metrics_listen: self.metrics.map(|m| m.listen),
        })
    }
}

impl FilePostgres {
    /// The options, each within the store's bounds: at least one pooled connection, a wait
    /// for one, and an operation timeout of at least
    /// [`MIN_OPERATION_TIMEOUT`](portcullis_store_postgres::MIN_OPERATION_TIMEOUT) (the store
    /// would raise a shorter one; refused here instead).
    fn resolve(self) -> Result<PostgresOptions, Invalid> {
        if self.max_connections == Some(0) {
            return Err(invalid("max_connections", "must be at least 1"));
        }
        if self.wait_timeout_ms == Some(0) {
            return Err(invalid("wait_timeout_ms", "must be at least 1"));
        }
        let min = portcullis_store_postgres::MIN_OPERATION_TIMEOUT;
        let operation_timeout = self.operation_timeout_ms.map(Duration::from_millis);
        if operation_timeout.is_some_and(|t| t < min) {
            let min = min.as_millis();
            return Err(invalid(
                "operation_timeout_ms",
                format!("must be at least {min}"),
            ));
        }
        Ok(PostgresOptions {
            max_connections: self.max_connections,
            shared_connections: self.shared_connections,
            wait_timeout: self.wait_timeout_ms.map(Duration::from_millis),
            operation_timeout,
        })
    }
}

impl FilePushedRequests {
    fn resolve(self) -> Result<PushedRequestPolicy, Invalid> {
        let policy = PushedRequestPolicy {
            required: self.required,
            lifetime: Duration::from_secs(self.lifetime.get()),
        };
        if !policy.lifetime_is_valid() {
            let max = MAX_PUSHED_REQUEST_LIFETIME.as_secs();
            return Err(invalid("lifetime", format!("at most {max} seconds")));
        }
        Ok(policy)
    }
}

impl FileResource {
    fn resolve(self) -> Result<Resource, Invalid> {
        let absolute = url::Url::parse(&self.uri).is_ok_and(|u| u.fragment().is_none());
        if !absolute || self.uri.contains('#') {
            return Err(invalid("uri", "must be an absolute URI without a fragment"));
        }
        Ok(Resource {
            uri: self.uri,
            scopes: self.scopes,
            token_format: self.token_format,
            clients: self.clients,
        })
    }
}

impl FileClient {
    fn resolve(
        mut self,
        iterations: NonZeroU32,
        rng: &dyn SecureRandom,
    ) -> Result<Client, Invalid> {
        if self.id.is_empty() {
            return Err(invalid("id", "must not be empty"));
        }
        let keys = match (self.jwks.take(), self.jwks_uri.take()) {
            (Some(set), None) => Some(ClientKeys::Jwks(set)),
            (None, Some(uri)) => Some(ClientKeys::JwksUri(uri)),
            (None, None) => None,
            (Some(_), Some(_)) => return Err(invalid("jwks_uri", "give jwks or jwks_uri")),
        };
        let method = match self.token_endpoint_auth_method.as_deref() {
            None => None,
            Some("client_secret_basic") => Some(SecretMethod::Basic),
            Some("client_secret_post") => Some(SecretMethod::Post),
            Some("private_key_jwt") => {
                let keys = keys.ok_or_else(|| invalid("jwks", "private_key_jwt needs keys"))?;
                let has_secret = self.secret.is_some() || self.secret_hash.is_some();
                if has_secret || self.kind != FileClientType::Confidential {
                    return Err(invalid("secret", "a private_key_jwt client has no secret"));
                }
                return self.build(ClientKind::PrivateKeyJwt { keys });
            }
            Some(_) => return Err(invalid("token_endpoint_auth_method", "unsupported")),
        };
        let self_signed = self.kind == FileClientType::SelfSignedTlsClientAuth;
        if (keys.is_some() && !self_signed)
            || (method.is_some() && self.kind == FileClientType::Public)
        {
            return Err(invalid(
                "token_endpoint_auth_method",
                "does not fit the keys or type",
            ));
        }
        let kind = match self.kind {
            FileClientType::Confidential => ClientKind::Confidential {
                method,
                previous_secret: None,
                secret_expires_at: None,
                secret: hash_one(
                    self.secret.take(),
                    self.secret_hash.take(),
                    ["secret", "secret_hash"],
                    iterations,
                    rng,
                )?,
            },
            FileClientType::Public if self.secret.is_some() => {
                return Err(invalid("secret", "a public client has no secret"))
            }
            FileClientType::Public if self.secret_hash.is_some() => {
                return Err(invalid("secret_hash", "a public client has no secret"))
            }
            FileClientType::Public => ClientKind::Public,
            _ if self.secret.is_some() || self.secret_hash.is_some() => {
                return Err(invalid("secret", "a mutual-TLS client has no secret"))
            }
            FileClientType::TlsClientAuth => ClientKind::TlsClientAuth {
                subject: self
                    .subject
                    .take()
                    .ok_or_else(|| invalid("subject", "missing"))?,
            },
            FileClientType::SelfSignedTlsClientAuth => ClientKind::SelfSignedTlsClientAuth {
                keys: match keys {
                    Some(ClientKeys::Jwks(set)) => set,
                    _ => return Err(invalid("jwks", "missing")),
                },
            },
        };
        self.build(kind)
    }

    fn build(self, kind: ClientKind) -> Result<Client, Invalid> {
        let subject_type = match (self.subject_type, self.sector_identifier) {
            (FileSubjectType::Public, None) => SubjectType::Public,
            (FileSubjectType::Public, Some(_)) => {
                return Err(invalid(
                    "sector_identifier",
                    "only a client with subject_type = \"pairwise\" has a sector identifier",
                ))
            }
            (FileSubjectType::Pairwise, sector) => {
                SubjectType::pairwise(sector, &self.redirect_uris)
                    .map_err(|e| invalid("sector_identifier", e.to_string()))?
            }
        };
        let client = Client::new(self.id, kind)
            .with_redirect_uris(self.redirect_uris)
            .with_allowed_scopes(self.allowed_scopes)
            .with_default_scopes(self.default_scopes)
            .with_grant_types(self.grant_types)
            .with_pkce(self.pkce)
            .with_oidc(ClientOidc {
                id_token_signed_response_alg: self.id_token_signed_response_alg,
                subject_type,
                require_auth_time: self.require_auth_time,
                post_logout_redirect_uris: self.post_logout_redirect_uris,
                authorization_signed_response_alg: self.authorization_signed_response_alg,
                backchannel_logout_uri: self.backchannel_logout_uri,
                backchannel_logout_session_required: self.backchannel_logout_session_required,
            })
            .with_dangerous_skip_consent_for_unverifiable_redirects(
                self.dangerous_skip_consent_for_unverifiable_redirects,
            )
            .with_tokens(ClientTokens {
                refresh: self.refresh.resolve()?,
                dpop_bound_access_tokens: self.dpop_bound_access_tokens,
                tls_client_certificate_bound_access_tokens: self
                    .tls_client_certificate_bound_access_tokens,
                require_dpop_nonce: self.require_dpop_nonce,
                access_token_format: self.access_token_format,
                authorization_details_types: self.authorization_details_types,
            })
            .with_requests(ClientRequests {
                require_pushed_authorization_requests: self.require_pushed_authorization_requests,
                response_types: self.response_types,
            })
            .with_request_objects(ClientRequestObjects {
                require_signed: self.require_signed_request_object,
                request_uris: self.request_uris,
                ..ClientRequestObjects::default()
            })
            .with_profile(self.profile);
        client.validate().map_err(|e| {
            let field = match e {
                ClientError::PublicClientCredentials(_) => "grant_types",
                ClientError::PublicWithoutPkce(_) => "pkce",
                ClientError::DefaultScopesNotAllowed(_) => "default_scopes",
                ClientError::NoRedirectUri(_) => "redirect_uris",
                ClientError::PublicWithoutRotation(_) | ClientError::InvalidRefreshGrace(_) => {
                    "refresh"
                }
                ClientError::InvalidRequestUri(_) => "request_uris",
                // A contradiction a later version checks: named by its message alone.
                _ => "client",
            };
            invalid(field, e.to_string())
        })?;
        Ok(client)
    }
}

impl FileUser {
    fn resolve(self, iterations: NonZeroU32, rng: &dyn SecureRandom) -> Result<User, Invalid> {
        if self.username.is_empty() {
            return Err(invalid("username", "must not be empty"));
        }
        let password = hash_one(
            self.password,
            self.password_hash,
            ["password", "password_hash"],
            iterations,
            rng,
        )?;
        for (name, value) in &self.claims {
            check_claim_value(name, value).map_err(|m| (format!("claims.{name}"), m))?;
        }
        let totp = self.totp_secret.as_deref().map(TotpSecret::from_base32);
        let totp = totp
            .transpose()
            .map_err(|e| invalid("totp_secret", e.to_string()))?;
        Ok(User {
            username: self.username,
            password,
            totp,
            claims: self.claims,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis::core::{Algorithm, TokenFormat};
    use portcullis_store_postgres::PostgresConfig;

    const GOOD: &str = r#"
pbkdf2_iterations = 1000

[lifetimes]
authorization_code = 30
access_token = 600

[session]
lifetime = 120
key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

[[clients]]
id = "web"
type = "confidential"
secret = "s3cret"
redirect_uris = ["https://app.example/cb"]
allowed_scopes = "read write"
default_scopes = "read"
grant_types = ["authorization_code", "refresh_token"]

[[clients]]
id = "cli"
type = "public"
redirect_uris = ["http://127.0.0.1/cb"]
allowed_scopes = "read"
grant_types = ["authorization_code"]

[[users]]
username = "bob"
password = "builder"
claims = { name = "Bob", email = "bob@example.com" }
"#;

    fn err(text: &str) -> ConfigError {
        Config::parse(text).expect_err("config should be refused")
    }

    #[test]
    fn postgres_options_are_read_within_the_stores_bounds() {
        assert_eq!(
            Config::parse(GOOD).unwrap().postgres,
            PostgresOptions::default()
        );
        let with = |table: &str| format!("{GOOD}\n[postgres]\n{table}\n");
        let c = Config::parse(&with(
            "max_connections = 4\nshared_connections = 0\n\
             wait_timeout_ms = 250\noperation_timeout_ms = 1500",
        ))
        .unwrap();
        let options = c.postgres;
        assert_eq!(
            options,
            PostgresOptions {
                max_connections: Some(4),
                shared_connections: Some(0),
                wait_timeout: Some(Duration::from_millis(250)),
                operation_timeout: Some(Duration::from_millis(1500)),
            }
        );
        let url = "postgres://u@localhost/db";
        let applied = options.apply(PostgresConfig::from_url(url).unwrap());
        let shown = format!("{applied:?}");
        for field in [
            "max_connections: 4",
            "shared_connections: 0",
            "wait_timeout: 250ms",
            "operation_timeout: 1.5s",
        ] {
            assert!(shown.contains(field), "{shown}");
        }
        for (table, field, message) in [
            ("max_connections = 0", "max_connections", "at least 1"),
            ("wait_timeout_ms = 0", "wait_timeout_ms", "at least 1"),
            (
                "operation_timeout_ms = 99",
                "operation_timeout_ms",
                "at least 100",
            ),
            ("pool = 3", "", "unknown field `pool`"),
            ("max_connections = -1", "", "invalid value"),
        ] {
            let e = err(&with(table));
            assert!(e.field().starts_with("postgres"), "{table}: {e}");
            assert!(e.field().ends_with(field), "{table}: {e}");
            assert!(e.message().contains(message), "{table}: {e}");
        }
    }

    #[test]
    fn good_file_is_loaded_and_secrets_hashed() {
        let c = Config::parse(GOOD).unwrap();
        assert_eq!(c.clients.len(), 2);
        let ClientKind::Confidential { secret, .. } = &c.clients[0].kind else {
            panic!("web is confidential")
        };
        assert!(secret.verify("s3cret"));
        assert!(!secret.to_string().contains("s3cret"));
        assert!(c.clients[1].is_public());
        assert_eq!(c.clients[0].default_scopes.to_string(), "read");
        assert_eq!(c.lifetimes.authorization_code, Duration::from_secs(30));
        assert_eq!(c.lifetimes.access_token, Duration::from_secs(600));
        assert_eq!(
            c.lifetimes.refresh_token,
            Lifetimes::default().refresh_token
        );
        assert_eq!(c.session_lifetime, Duration::from_secs(120));
        assert_eq!(c.secrets.csrf_key.as_ref().map(|k| k.0), Some([0; 32]));
        let c = Config::parse(&format!("store = \"sqlite:p.db\"\n{GOOD}")).unwrap();
        assert_eq!(c.store(), &StoreSpec::Sqlite("p.db".into()));
        assert_eq!(c.users[0].claims["email"], "bob@example.com");
        assert!(c.users[0].password.verify("builder"));
        assert!(!format!("{c:?}").contains("builder"));
    }

    /// `[registration]`: off without it, open without a token, a short token refused.
    #[test]
    fn registration_is_configured() {
        assert!(!Config::parse("").unwrap().registration.is_enabled());
        let open = Config::parse("[registration]\nscopes = \"openid read\"").unwrap();
        assert!(open.registration.is_enabled());
        let token = format!(
            "[registration]\nscopes = \"read\"\ninitial_access_token = \"{}\"",
            "t".repeat(32)
        );
        let with_token = Config::parse(&token).unwrap();
        assert!(!format!("{with_token:?}").contains(&"t".repeat(32)));
        let short = err("[registration]\nscopes = \"read\"\ninitial_access_token = \"short\"");
        assert_eq!(short.field, "registration.initial_access_token");
    }

    /// `[client_id_metadata_documents]`: off without it.
    #[test]
    fn client_id_metadata_documents_are_configured() {
        assert!(!Config::parse("").unwrap().client_documents.is_enabled());
        let on = Config::parse(
            "[client_id_metadata_documents]\nscopes = \"openid\"\nonly_under = [\"https://apps.example/\"]",
        )
        .unwrap();
        assert!(on.client_documents.is_enabled());
    }

    /// The Prometheus endpoint: off by default, on at `[metrics] listen`.
    #[test]
    fn metrics_are_served_only_where_configured() {
        assert_eq!(Config::parse(GOOD).unwrap().metrics_listen, None);
        let on = Config::parse(&format!("{GOOD}\n[metrics]\nlisten = \"127.0.0.1:9464\"")).unwrap();
        assert_eq!(on.metrics_listen, Some(([127, 0, 0, 1], 9464).into()));
        let e = err(&format!("{GOOD}\n[metrics]\nlisten = \"localhost\""));
        assert_eq!(e.field(), "metrics.listen");
    }

    /// Token binding per client (RFC 9449 §5.2, §8; RFC 8705 §3.4), `[dpop] require_nonce`
    /// and `[secrets] dpop_nonce_key`: off, and unset, by default.
    #[test]
    fn dpop_and_certificate_binding_are_configured() {
        let c = Config::parse(GOOD).unwrap();
        assert_eq!(c.clients[0].tokens, ClientTokens::default());
        assert!(!c.dpop_require_nonce && c.secrets.dpop_nonce_key.is_none());
        let bound = GOOD.replace(
            "id = \"cli\"",
            "id = \"cli\"\ndpop_bound_access_tokens = true\nrequire_dpop_nonce = true\n\
             tls_client_certificate_bound_access_tokens = true",
        );
        let key = "[secrets]\ndpop_nonce_key = \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\"";
        let c = Config::parse(&format!("{bound}\n[dpop]\nrequire_nonce = true\n{key}")).unwrap();
        let tokens = &c.clients[1].tokens;
        assert!(tokens.dpop_bound_access_tokens && tokens.require_dpop_nonce);
        assert!(!c.clients[1].request_objects.require_signed);
        let jar = GOOD.replace(
            "id = \"cli\"",
            "id = \"cli\"\nrequire_signed_request_object = true",
        );
        assert!(
            Config::parse(&jar).unwrap().clients[1]
                .request_objects
                .require_signed
        );
        assert!(tokens.tls_client_certificate_bound_access_tokens);
        assert!(c.dpop_require_nonce);
        assert_eq!(c.secrets.dpop_nonce_key.map(|k| k.0), Some([1; 32]));
        assert!(c.secrets.sid_key.is_none());
        let sid = "[secrets]\nsid_key = \"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI\"";
        let c = Config::parse(&format!("{GOOD}\n{sid}")).unwrap();
        assert_eq!(c.secrets.sid_key.map(|k| k.0), Some([2; 32]));
        let e = err(&format!("{GOOD}\n[dpop]\nrequire_nonce = \"yes\""));
        assert_eq!(e.field(), "dpop.require_nonce");
    }

    /// `fetch_request_uris_on_clients_behalf` (RFC 9101 §5.2): off by default; a client's
    /// `request_uris` are https (or loopback http) URLs.
    #[test]
    fn request_uris_are_fetched_only_when_configured() {
        assert!(!Config::parse(GOOD).unwrap().fetch_request_uris);
        let on = format!("fetch_request_uris_on_clients_behalf = true\n{GOOD}");
        assert!(Config::parse(&on).unwrap().fetch_request_uris);
        let uris = GOOD.replace(
            "id = \"cli\"",
            "id = \"cli\"\nrequest_uris = [\"https://cli.example/r/1\"]",
        );
        assert_eq!(
            Config::parse(&uris).unwrap().clients[1]
                .request_objects
                .request_uris,
            ["https://cli.example/r/1"]
        );
        let http = uris.replace("https://cli.example", "http://cli.example");
        assert_eq!(err(&http).field(), "clients[1].request_uris");
    }

    /// `[pushed_authorization_requests]` and the per-client requirement (RFC 9126 §5, §6):
    /// off and 60 s by default; a lifetime over 600 s is refused.
    #[test]
    fn pushed_authorization_requests_are_configured() {
        let c = Config::parse(GOOD).unwrap();
        assert_eq!(c.pushed_requests, PushedRequestPolicy::default());
        assert_eq!(c.clients[0].requests, ClientRequests::default());
        let strict = GOOD.replace(
            "id = \"cli\"",
            "id = \"cli\"\nrequire_pushed_authorization_requests = true",
        );
        let on = "[pushed_authorization_requests]\nrequired = true\nlifetime = 600";
        let c = Config::parse(&format!("{strict}\n{on}")).unwrap();
        assert!(c.pushed_requests.required);
        assert_eq!(c.pushed_requests.lifetime, Duration::from_secs(600));
        assert!(c.clients[1].requests.require_pushed_authorization_requests);
        let e = err(&format!(
            "{GOOD}\n[pushed_authorization_requests]\nlifetime = 601"
        ));
        assert_eq!(e.field(), "pushed_authorization_requests.lifetime");
    }

    /// RFC 9396: the sample types by name, and a client limited to some of them.
    #[test]
    fn authorization_details_types_are_configured() {
        let c = Config::parse(GOOD).unwrap();
        assert!(c.authorization_details_types.is_empty());
        assert_eq!(c.clients[1].tokens.authorization_details_types, None);
        let limited = GOOD.replace(
            "id = \"cli\"",
            "id = \"cli\"\nauthorization_details_types = [\"payment_initiation\"]",
        );
        let top = "authorization_details_types = [\"payment_initiation\"]\n";
        let c = Config::parse(&format!("{top}{limited}")).unwrap();
        assert_eq!(
            c.authorization_details_types,
            BTreeSet::from(["payment_initiation".to_owned()])
        );
        assert_eq!(
            c.clients[1].tokens.authorization_details_types,
            Some(BTreeSet::from(["payment_initiation".to_owned()]))
        );
        let e = err(&format!("authorization_details_types = [\"x\"]\n{GOOD}"));
        assert_eq!(e.field(), "authorization_details_types");
        let e = err(&limited);
        assert_eq!(e.field(), "clients[1].authorization_details_types");
    }

    #[test]
    fn resources_scope_lifetimes_and_token_formats_are_configured() {
        let c = Config::parse(GOOD).unwrap();
        assert!(c.resources.is_empty() && c.scope_lifetimes.is_empty());
        let jwt = GOOD.replace(
            "id = \"cli\"",
            "id = \"cli\"\naccess_token_format = \"jwt\"",
        );
        let extra = "[scope_lifetimes]\npayment = 300\n\n[[resources]]\n\
                     uri = \"https://api.example\"\nscopes = \"read payment\"\n\
                     token_format = \"jwt\"\nclients = [\"web\"]";
        let c = Config::parse(&format!("{jwt}\n{extra}")).unwrap();
        assert_eq!(c.clients[0].tokens.access_token_format, TokenFormat::Opaque);
        assert_eq!(c.clients[1].tokens.access_token_format, TokenFormat::Jwt);
        assert_eq!(c.scope_lifetimes["payment"], Duration::from_secs(300));
        let r = &c.resources[0];
        assert_eq!(r.uri, "https://api.example");
        assert_eq!(r.scopes.to_string(), "payment read");
        assert_eq!(r.token_format, TokenFormat::Jwt);
        assert_eq!(r.clients, Some(BTreeSet::from(["web".to_owned()])));
        for uri in ["api.example", "https://api.example/#top"] {
            let e = err(&format!(
                "{GOOD}\n[[resources]]\nuri = \"{uri}\"\nscopes = \"read\""
            ));
            assert_eq!(e.field(), "resources[0].uri", "{uri}");
        }
        let e = err(&format!("{GOOD}\n[scope_lifetimes]\npayment = 0"));
        assert_eq!(e.field(), "scope_lifetimes.payment");
    }

    #[test]
    fn empty_file_is_valid() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.store(), &StoreSpec::Memory);
        assert!(c.clients.is_empty());
        assert_eq!(c.pbkdf2_iterations.get(), DEFAULT_PBKDF2_ITERATIONS);
        assert_eq!(c.lifetimes, Lifetimes::default());
    }

    #[test]
    fn demo_file_is_valid() {
        let c = Config::demo();
        assert_eq!(c.clients.len(), 3);
        assert_eq!(c.usernames().collect::<Vec<_>>(), ["alice"]);
    }

    #[test]
    fn malformed_values_name_the_field() {
        let e = err(&GOOD.replace("access_token = 600", "access_token = \"soon\""));
        assert_eq!(e.field(), "lifetimes.access_token");
        assert!(e.to_string().contains("lifetimes.access_token"), "{e}");
        assert!(e.to_string().contains("line 6, column 16"), "{e}");

        let e = err(&GOOD.replace("https://app.example/cb", "http://app.example/cb"));
        assert_eq!(e.field(), "clients[0].redirect_uris[0]");

        let e = err(&GOOD.replace("\"refresh_token\"]", "\"implicit\"]"));
        assert_eq!(e.field(), "clients[0].grant_types[1]");

        let e = err(&GOOD.replace("authorization_code = 30", "authorization_code = 0"));
        assert_eq!(e.field(), "lifetimes.authorization_code");

        let e = err(&format!("store = \"postgres://db\"\n{GOOD}"));
        assert_eq!(e.field(), "store");
        assert!(
            e.message()
                .contains("`memory`, `sqlite:PATH` or `postgres:URL`"),
            "{e}"
        );

        let e = err(&GOOD.replace("key = \"AAAA", "key = \"AA"));
        assert_eq!(e.field(), "session.key");
        assert!(
            !e.to_string().contains("AAAA"),
            "the value is not echoed: {e}"
        );
    }

    #[test]
    fn missing_and_inconsistent_fields_are_named() {
        let e = err(&GOOD.replace("allowed_scopes = \"read\"\n", ""));
        assert_eq!(e.field(), "clients[1]");
        assert!(e.message().contains("allowed_scopes"), "{e}");

        let e = err(&GOOD.replace("secret = \"s3cret\"", ""));
        assert_eq!(e.field(), "clients[0].secret");

        let e = err(&GOOD.replace("default_scopes = \"read\"", "default_scopes = \"admin\""));
        assert_eq!(e.field(), "clients[0].default_scopes");

        let e = err(&GOOD.replace("id = \"cli\"", "id = \"web\""));
        assert_eq!(e.field(), "clients[1].id");

        let e = err(&GOOD.replace("id = \"cli\"", "id = \"cli\"\nname = \" \""));
        assert_eq!(e.field(), "clients[1].name");
        let named = Config::parse(&GOOD.replace("id = \"cli\"", "id = \"cli\"\nname = \"CLI\""));
        let names = named.unwrap().client_names;
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            [("cli".into(), "CLI".into())]
        );

        let e = err(&GOOD.replace(
            "grant_types = [\"authorization_code\"]",
            "grant_types = [\"client_credentials\"]",
        ));
        assert_eq!(e.field(), "clients[1].grant_types");

        let e = err(&GOOD.replace("password = \"builder\"", "password_hash = \"md5$x\""));
        assert_eq!(e.field(), "users[0].password_hash");

        // A TOTP secret is base32 of at least 16 bytes.
        let with_totp = |secret: &str| {
            GOOD.replace(
                "password = \"builder\"",
                &format!("password = \"builder\"\ntotp_secret = \"{secret}\""),
            )
        };
        let c = Config::parse(&with_totp("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")).unwrap();
        assert!(c.users[0].totp.is_some());
        assert!(Config::parse(GOOD).unwrap().users[0].totp.is_none());
        for bad in ["JBSWY3DPEHPK3PXP", "not base32!"] {
            let e = err(&with_totp(bad));
            assert_eq!(e.field(), "users[0].totp_secret", "{bad}");
        }
    }

    #[test]
    fn refresh_policies_are_loaded_and_checked() {
        let web = |table: &str| oidc(&format!("[clients.refresh]\n{table}"), "");
        let c = Config::parse(&web(
            "rotate = false\nabsolute_lifetime_seconds = 900\nidle_timeout_seconds = 300",
        ))
        .unwrap();
        let want = RefreshPolicy {
            rotate: false,
            absolute_lifetime_secs: Some(900),
            idle_timeout_secs: Some(300),
            grace: None,
        };
        assert_eq!(c.clients[0].tokens.refresh, want);
        assert_eq!(c.clients[1].tokens.refresh, RefreshPolicy::default());
        let c = Config::parse(&web("grace_seconds = 10\ngrace_reuses = 3")).unwrap();
        let grace = RefreshGrace {
            window_secs: 10,
            max_reuses: 3,
        };
        assert_eq!(c.clients[0].tokens.refresh.grace, Some(grace));
        for bad in [
            "grace_seconds = 10",
            "grace_seconds = 61\ngrace_reuses = 1",
            "grace_seconds = 10\ngrace_reuses = 0",
            "rotate = false\ngrace_seconds = 10\ngrace_reuses = 1",
        ] {
            assert_eq!(err(&web(bad)).field(), "clients[0].refresh", "{bad}");
        }
        let public_keeps = GOOD.replace(
            "grant_types = [\"authorization_code\"]",
            "grant_types = [\"authorization_code\"]\n[clients.refresh]\nrotate = false",
        );
        assert_eq!(err(&public_keeps).field(), "clients[1].refresh");
    }

    /// `GOOD` with OpenID Connect settings: `web` as a pairwise ES256 client.
    fn oidc(web_settings: &str, rest: &str) -> String {
        let text = GOOD.replace(
            "grant_types = [\"authorization_code\", \"refresh_token\"]\n",
            &format!("grant_types = [\"authorization_code\", \"refresh_token\"]\n{web_settings}\n"),
        );
        format!("{text}\n{rest}")
    }

    const WEB_OIDC: &str = r#"id_token_signed_response_alg = "ES256"
subject_type = "pairwise"
require_auth_time = true
post_logout_redirect_uris = ["https://app.example/bye", "http://127.0.0.1:7000/bye"]"#;

    const KEYS: &str = r#"[keys]
default_alg = "EdDSA"
publish_ahead_seconds = 120
jwks_max_age_seconds = 60
reload_every_seconds = 10
rotate_every_seconds = 0
[secrets]
interaction_key = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"
subject_salt = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI""#;

    #[test]
    fn openid_connect_settings_are_loaded() {
        let c = Config::parse(&oidc(WEB_OIDC, KEYS)).unwrap();
        let web = &c.clients[0].oidc;
        assert_eq!(web.id_token_signed_response_alg, Some(Algorithm::ES256));
        // Without sector_identifier, the one host of the redirect URIs.
        let sector = "app.example".to_owned();
        assert_eq!(
            web.subject_type,
            SubjectType::Pairwise {
                sector_identifier: sector
            }
        );
        assert!(web.require_auth_time);
        let uris: Vec<_> = web
            .post_logout_redirect_uris
            .iter()
            .map(|u| u.as_str())
            .collect();
        assert_eq!(
            uris,
            ["https://app.example/bye", "http://127.0.0.1:7000/bye"]
        );
        assert_eq!(c.clients[1].oidc, ClientOidc::default());
        let keys = c.key_policy();
        assert_eq!(keys.default_alg, Algorithm::EdDSA);
        assert_eq!(keys.publish_ahead, Duration::from_secs(120));
        assert_eq!(keys.jwks_max_age, Duration::from_secs(60));
        assert_eq!(keys.reload_every, Duration::from_secs(10));
        assert_eq!(keys.rotate_every, None);
        assert_eq!(
            c.secrets.interaction_key.as_ref().map(|k| k.0),
            Some([1; 32])
        );
        assert_eq!(c.secrets.subject_salt.as_ref().map(|k| k.0), Some([2; 32]));

        let explicit = WEB_OIDC.replace(
            "require_auth_time",
            "sector_identifier = \"sector.example\"\nrequire_auth_time",
        );
        let c = Config::parse(&oidc(&explicit, "")).unwrap();
        let sector = "sector.example".to_owned();
        assert_eq!(
            c.clients[0].oidc.subject_type,
            SubjectType::Pairwise {
                sector_identifier: sector
            }
        );
        assert_eq!(c.key_policy(), &KeyPolicy::default());
    }

    #[test]
    fn key_encryption_keys_are_loaded_with_their_ids_and_checked() {
        let k = |b: &str| match b {
            "A" => "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE".to_owned(),
            _ => "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI".to_owned(),
        };
        let secrets = format!(
            "[secrets]\nkey_encryption_key = \"{}\"\nkey_encryption_key_id = \"2025\"\n\
             previous_key_encryption_keys = [{{ id = \"2024\", key = \"{}\" }}]\n",
            k("A"),
            k("B")
        );
        let c = Config::parse(&oidc(WEB_OIDC, &secrets)).unwrap();
        let keks = c.secrets.key_encryption_keys().unwrap().unwrap();
        assert_eq!(keks.current().id(), "2025");
        assert!(!c.secrets.dangerous_plaintext_signing_keys);
        assert!(!format!("{c:?}").contains(&k("A")), "never shown");

        let dangerous = "[secrets]\ndangerous_plaintext_signing_keys = true\n";
        let c = Config::parse(&oidc(WEB_OIDC, dangerous)).unwrap();
        let plain = &c.secrets;
        assert!(plain.dangerous_plaintext_signing_keys && plain.key_encryption_key.is_none());

        let cases = [
            (
                format!("[secrets]\nkey_encryption_key = \"{}\"\n", k("A")),
                "secrets.key_encryption_key_id",
            ),
            (
                "[secrets]\nkey_encryption_key_id = \"x\"\n".to_owned(),
                "secrets.key_encryption_key",
            ),
            (
                secrets.replace("\"2024\"", "\"2025\""),
                "secrets.key_encryption_key_id",
            ),
            (
                secrets.replace("id = \"2025\"", "id = \"a b\""),
                "secrets.key_encryption_key_id",
            ),
            (
                secrets.replace(&k("A"), "AAAA"),
                "secrets.key_encryption_key",
            ),
        ];
        for (text, field) in cases {
            let e = Config::parse(&oidc(WEB_OIDC, &text)).unwrap_err();
            assert_eq!(e.field(), field, "{e}");
            assert!(!e.to_string().contains(&k("B")), "{e}");
        }
    }

    #[test]
    fn user_claims_are_typed_json() {
        let text = GOOD.replace(
            "claims = { name = \"Bob\", email = \"bob@example.com\" }",
            "[users.claims]\nname = \"Bob\"\nemail_verified = true\nupdated_at = 1700000000\n\
             nickname = \"bob\"\nfavourite = 7\n\
             [users.claims.address]\nlocality = \"Oxford\"\ncountry = \"GB\"",
        );
        let c = Config::parse(&text).unwrap();
        let expected = serde_json::json!({
            "name": "Bob",
            "email_verified": true,
            "updated_at": 1700000000,
            "nickname": "bob",
            "favourite": 7,
            "address": { "locality": "Oxford", "country": "GB" },
        });
        assert_eq!(
            serde_json::Value::Object(c.users[0].claims.clone()),
            expected
        );
    }

    #[test]
    fn malformed_openid_connect_settings_name_the_field() {
        let cases = [
            (
                oidc(WEB_OIDC, &KEYS.replace("\"EdDSA\"", "\"HS256\"")),
                "keys.default_alg",
            ),
            (
                oidc(WEB_OIDC, &KEYS.replace("= 120", "= 70")),
                "keys.publish_ahead_seconds",
            ),
            (
                oidc(WEB_OIDC, &KEYS.replace("\"AgICAg", "\"AgI")),
                "secrets.subject_salt",
            ),
            (
                oidc(&WEB_OIDC.replace("\"ES256\"", "\"none\""), ""),
                "clients[0].id_token_signed_response_alg",
            ),
            (
                oidc(&WEB_OIDC.replace("\"pairwise\"", "\"secret\""), ""),
                "clients[0].subject_type",
            ),
            (
                oidc(
                    &WEB_OIDC.replace(
                        "\"pairwise\"",
                        "\"public\"\nsector_identifier = \"x.example\"",
                    ),
                    "",
                ),
                "clients[0].sector_identifier",
            ),
            (
                oidc(
                    &WEB_OIDC.replace(
                        "require_auth_time",
                        "sector_identifier = \"a b\"\nrequire_auth_time",
                    ),
                    "",
                ),
                "clients[0].sector_identifier",
            ),
            (
                oidc(WEB_OIDC, "").replace(
                    "[\"https://app.example/cb\"]",
                    "[\"https://app.example/cb\", \"https://other.example/cb\"]",
                ),
                "clients[0].sector_identifier",
            ),
            (
                oidc(
                    &WEB_OIDC.replace("https://app.example/bye", "http://app.example/bye"),
                    "",
                ),
                "clients[0].post_logout_redirect_uris[0]",
            ),
            (
                oidc(
                    &WEB_OIDC.replace("require_auth_time = true", "require_auth_time = 1"),
                    "",
                ),
                "clients[0].require_auth_time",
            ),
        ];
        for (text, field) in cases {
            assert_eq!(err(&text).field(), field, "{text}");
        }
        let e = err(&oidc(WEB_OIDC, &KEYS.replace("= 120", "= 70")));
        assert!(e.message().contains("jwks_max_age_seconds"), "{e}");
        let e = err(&oidc(WEB_OIDC, &KEYS.replace("\"AgICAg", "\"AgI")));
        assert!(
            !e.to_string().contains("AgI"),
            "the value is not echoed: {e}"
        );
    }

    #[test]
    fn mistyped_user_claims_name_the_field() {
        let claims = |c: &str| {
            GOOD.replace(
                "claims = { name = \"Bob\", email = \"bob@example.com\" }",
                &format!("claims = {{ {c} }}"),
            )
        };
        for (text, field, message) in [
            (
                "email_verified = \"yes\"",
                "email_verified",
                "must be a boolean",
            ),
            ("email = true", "email", "must be a string"),
            ("updated_at = \"today\"", "updated_at", "must be a number"),
            ("sub = \"root\"", "sub", "cannot be set"),
            (
                "address = \"Oxford\"",
                "address",
                "must be an object of strings",
            ),
            (
                "address = { town = \"Oxford\" }",
                "address",
                "not an address member",
            ),
            ("nickname = { a = \"b\" }", "nickname", "must be a string"),
        ] {
            let e = err(&claims(text));
            assert_eq!(e.field(), format!("users[0].claims.{field}"), "{text}");
            assert!(e.message().contains(message), "{text}: {e}");
        }
        let e = err(&claims("born = 1865-11-26"));
        assert_eq!(e.field(), "users[0].claims.born");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = err(&GOOD.replace("[session]", "[session]\ncolour = \"blue\""));
        assert!(e.to_string().contains("colour"), "{e}");
        let e = err(&format!("listn = 1\n{GOOD}"));
        assert!(e.to_string().contains("listn"), "{e}");
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = err("[lifetimes\n");
        assert!(e.to_string().starts_with("config, line 1"), "{e}");
    }

    /// `profile = "fapi2"`, per client or for every client: the FAPI 2.0 preset, which a
    /// secret client cannot meet.
    #[test]
    fn clients_may_be_held_to_fapi2() {
        let fapi = "[[clients]]\nid = \"bank\"\ntype = \"confidential\"\n\
             token_endpoint_auth_method = \"private_key_jwt\"\n\
             jwks = { keys = [{ kty = \"OKP\", crv = \"Ed25519\", x = \"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\" }] }\n\
             redirect_uris = [\"https://bank.example/cb\"]\nallowed_scopes = \"read\"\n\
             grant_types = [\"authorization_code\", \"refresh_token\"]\nprofile = \"fapi2\"\n";
        let c = Config::parse(&format!("{GOOD}\n{fapi}")).unwrap();
        let bank = &c.clients[2];
        assert_eq!(bank.profile, SecurityProfile::Fapi2);
        assert!(!bank.tokens.refresh.rotate);
        assert_eq!(c.clients[0].profile, SecurityProfile::Standard);
        assert_eq!(c.profile, SecurityProfile::Standard);
        // Provider-wide, the secret client `web` of GOOD is refused.
        let e = err(&format!("profile = \"fapi2\"\n{GOOD}"));
        assert_eq!(e.field(), "clients[0].client", "{e}");
        let c = Config::parse(&format!("profile = \"fapi2\"\n{fapi}")).unwrap();
        assert_eq!(c.profile, SecurityProfile::Fapi2);
        assert_eq!(c.clients[0].profile, SecurityProfile::Fapi2);
    }

    /// `token_endpoint_auth_method`: a secret method held to one, or private_key_jwt with
    /// `jwks` or `jwks_uri` and no secret.
    #[test]
    fn clients_declare_their_authentication_method() {
        let client = |extra: &str| {
            format!(
                "[[clients]]\nid = \"svc\"\ntype = \"confidential\"\nallowed_scopes = \"read\"\n\
                 grant_types = [\"client_credentials\"]\n{extra}\n"
            )
        };
        let jwks = r#"jwks = { keys = [{ kty = "OKP", crv = "Ed25519", x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" }] }"#;
        let c = Config::parse(&client(&format!(
            "token_endpoint_auth_method = \"private_key_jwt\"\n{jwks}"
        )))
        .unwrap();
        assert!(matches!(
            &c.clients[0].kind,
            ClientKind::PrivateKeyJwt { keys: ClientKeys::Jwks(set) } if set.keys.len() == 1
        ));
        let c = Config::parse(&client(
            "token_endpoint_auth_method = \"private_key_jwt\"\njwks_uri = \"https://rp.example/jwks\"",
        ))
        .unwrap();
        assert_eq!(
            c.clients[0].kind,
            ClientKind::PrivateKeyJwt {
                keys: ClientKeys::JwksUri("https://rp.example/jwks".into())
            }
        );
        let c = Config::parse(&client(
            "secret = \"s\"\ntoken_endpoint_auth_method = \"client_secret_post\"",
        ))
        .unwrap();
        assert!(matches!(
            c.clients[0].kind,
            ClientKind::Confidential {
                method: Some(SecretMethod::Post),
                ..
            }
        ));
        for (extra, field) in [
            ("token_endpoint_auth_method = \"private_key_jwt\"", "jwks"),
            (
                &format!("secret = \"s\"\ntoken_endpoint_auth_method = \"private_key_jwt\"\n{jwks}"),
                "secret",
            ),
            (&format!("secret = \"s\"\n{jwks}"), "token_endpoint_auth_method"),
            ("secret = \"s\"\ntoken_endpoint_auth_method = \"tls_client_auth\"", "token_endpoint_auth_method"),
            (
                "token_endpoint_auth_method = \"private_key_jwt\"\njwks_uri = \"http://rp.example/j\"",
                "client",
            ),
        ] {
            let e = err(&client(extra)).to_string();
            assert!(e.contains(&format!("clients[0].{field}")), "{extra}: {e}");
        }
    }
}
