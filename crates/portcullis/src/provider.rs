//! The provider: one issuer's configuration, stores, clock and randomness.

use std::sync::Arc;
use std::time::Duration;

use portcullis_core::{
    Algorithm, Client, ClientCertificateAuth, ClientError, ClientKeys, ClientKind,
    ClientSecretSealError, DpopNonces, InteractionKey, Issuer, JwtClientSecret, KeyEncryptionKeys,
    Policy, RandomError, ScopeSet, SealedClientSecret, UnixTime,
};
use portcullis_store::StoreError;
use ring::rand::{SecureRandom, SystemRandom};

use crate::backchannel::BackchannelLogout;
use crate::blocking::BlockingPool;
use crate::claims::{NoUserClaims, UserClaims};
use crate::client_cache::{self, ClientCache};
use crate::client_documents::{ClientIdMetadataDocuments, DocumentCache};
use crate::client_keys::{ClientKeyCache, Fetcher};
use crate::jwt_bearer::SubjectMapper;
use crate::key_ring::KeyRing;
use crate::password_grant::{PasswordAuthenticator, PasswordGrantSetup};
use crate::registration::RegistrationPolicy;
use crate::signer::JwsSigner;
use crate::stores::Stores;
use crate::throttle::LoginThrottle;
use crate::token_exchange::TokenExchangeHook;
use portcullis_store::{Clock, SystemClock};

/// Why a provider could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No stores were given.
    #[error("the provider needs stores")]
    NoStores,
    /// The random number generator failed while generating the interaction key.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// A new key would sign before every cache and process knows it: `publish_ahead` must
    /// exceed `jwks_max_age + reload_every`.
    #[error("keys.publish_ahead must exceed keys.jwks_max_age + keys.reload_every")]
    KeyPublishTooShort,
    /// The key store persists the private signing keys, and no key-encryption key was given
    /// to seal them (nor `dangerous_plaintext_signing_keys`).
    #[error(
        "the key store keeps the private signing keys beyond the process: set a \
         key-encryption key (ProviderBuilder::key_encryption_keys) to seal them"
    )]
    NoKeyEncryptionKey,
    /// Two signers were given for one algorithm.
    #[error("two signers for {0}")]
    DuplicateSigner(Algorithm),
    /// Client ID metadata documents are enabled without a fetcher to fetch them
    /// ([`ProviderBuilder::fetcher`]).
    #[error("client ID metadata documents need a fetcher (ProviderBuilder::fetcher)")]
    ClientDocumentsWithoutFetcher,
    /// A client ID metadata document prefix is not an `https` URL ending in `/`.
    #[error("client ID metadata document prefix {0:?} is not an https URL ending in /")]
    ClientDocumentPrefix(String),
    /// `mtls_endpoint_aliases` are set while no client certificates reach the provider
    /// ([`ProviderBuilder::client_certificate_auth`]).
    #[error("mtls_endpoint_aliases need client certificates (client_certificate_auth)")]
    MtlsAliasesWithoutClientCertificates,
    /// The lifetime of pushed authorization requests is zero or longer than
    /// [`portcullis_core::MAX_PUSHED_REQUEST_LIFETIME`] (RFC 9126 §2.2: short-lived).
    #[error("pushed_authorization_requests.lifetime must be between 1 and 600 seconds")]
    PushedRequestLifetime,
    /// Request objects by `request_uri` are to be fetched without a fetcher to fetch them
    /// ([`ProviderBuilder::fetcher`]).
    #[error("fetching request_uris on clients' behalf needs a fetcher (ProviderBuilder::fetcher)")]
    RequestUrisWithoutFetcher,
}

/// Why a client could not be registered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// The registration contradicts itself.
    #[error(transparent)]
    Invalid(#[from] ClientError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A client has this `client_id` already ([`Provider::add_client`]).
    #[error("a client with this client_id exists")]
    Exists,
    /// The random number generator failed while generating a secret.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// A `private_key_jwt` client with a `jwks_uri`, and no fetcher to fetch it
    /// ([`ProviderBuilder::fetcher`]).
    #[error("client {0}: a jwks_uri needs a fetcher (ProviderBuilder::fetcher)")]
    NoFetcher(String),
    /// A `client_secret_jwt` client whose sealed secret does not open here (no
    /// key-encryption key, or sealed for another client or issuer).
    #[error("client {0}: {1}")]
    Secret(String, ClientSecretSealError),
}

pub(crate) struct Inner {
    pub(crate) issuer: Issuer,
    pub(crate) policy: Policy,
    pub(crate) stores: Stores,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: Arc<dyn SecureRandom + Send + Sync>,
    pub(crate) blocking: BlockingPool,
    pub(crate) interaction_key: InteractionKey,
    pub(crate) keys: KeyRing,
    pub(crate) claims: Arc<dyn UserClaims>,
    pub(crate) subject_salt: [u8; 32],
    /// Keys the `sid`s of ID tokens and logout tokens (`ProviderBuilder::sid_key`).
    pub(crate) sid_key: [u8; 32],
    /// Seal the private keys in the key store.
    pub(crate) keks: Option<KeyEncryptionKeys>,
    /// The host's signers, at most one per algorithm.
    pub(crate) host_signers: Vec<Arc<dyn JwsSigner>>,
    /// The host's scopes that discovery lists besides OpenID Connect's.
    pub(crate) advertised_scopes: ScopeSet,
    /// Who may register clients (RFC 7591).
    pub(crate) registration: RegistrationPolicy,
    /// The mutual-TLS client authentication methods offered (RFC 8705 §2).
    pub(crate) client_certificates: ClientCertificateAuth,
    /// Fetches `private_key_jwt` clients' `jwks_uri`s.
    pub(crate) fetcher: Option<Arc<dyn Fetcher>>,
    /// Fetch request objects at clients' registered `request_uris` (RFC 9101 §5.2).
    pub(crate) fetch_request_uris: bool,
    /// `private_key_jwt` clients' parsed keys.
    pub(crate) client_keys: ClientKeyCache,
    /// Which clients may identify themselves by a client ID metadata document.
    pub(crate) client_documents: ClientIdMetadataDocuments,
    /// The clients fetched documents describe.
    pub(crate) document_cache: DocumentCache,
    /// The server's DPoP nonces (RFC 9449 §8, §9).
    pub(crate) dpop_nonces: DpopNonces,
    /// The base URL of the host name that asks for client certificates (RFC 8705 §5).
    pub(crate) mtls_aliases: Option<Issuer>,
    /// The host's token exchange policy (RFC 8693); `None`: the grant is off.
    pub(crate) token_exchange: Option<Arc<dyn TokenExchangeHook>>,
    /// Maps trusted issuers' subjects to local ones (JWT bearer grant, token exchange).
    pub(crate) subject_mapper: Option<Arc<dyn SubjectMapper>>,
    /// Delivers logout tokens (Back-Channel Logout 1.0).
    pub(crate) backchannel_logout: Option<BackchannelLogout>,
    /// The password grant's authenticator and throttle (RFC 6749 §4.3).
    pub(crate) password_grant: Option<PasswordGrantSetup>,
    /// The clients read from the store, kept for a bounded time.
    pub(crate) client_cache: ClientCache,
}

/// An OAuth 2.0 authorization server for one issuer. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Provider {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.inner.issuer)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Provider`].
pub struct ProviderBuilder {
    issuer: Issuer,
    policy: Policy,
    stores: Option<Stores>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn SecureRandom + Send + Sync>,
    blocking: BlockingPool,
    interaction_key: Option<[u8; 32]>,
    dpop_nonce_key: Option<[u8; 32]>,
    claims: Arc<dyn UserClaims>,
    subject_salt: Option<[u8; 32]>,
    sid_key: Option<[u8; 32]>,
    keks: Option<KeyEncryptionKeys>,
    dangerous_plaintext_signing_keys: bool,
    host_signers: Vec<Arc<dyn JwsSigner>>,
    advertised_scopes: ScopeSet,
    registration: RegistrationPolicy,
    client_certificates: ClientCertificateAuth,
    fetcher: Option<Arc<dyn Fetcher>>,
    fetch_request_uris: bool,
    client_documents: ClientIdMetadataDocuments,
    mtls_aliases: Option<Issuer>,
    token_exchange: Option<Arc<dyn TokenExchangeHook>>,
    subject_mapper: Option<Arc<dyn SubjectMapper>>,
    backchannel_logout: Option<BackchannelLogout>,
    password_grant: Option<PasswordGrantSetup>,
    client_cache: (Duration, usize),
}

impl ProviderBuilder {
    /// Keeps the clients read from the store for `ttl` (whole seconds), for at most
    /// `capacity` client ids, so that most requests read no client from the store. **A
    /// client changed on another node (through the shared store) is seen here within
    /// `ttl`**: a client deleted there, or whose secret was rotated there, still works here
    /// for up to `ttl`. Every node sharing a store should use the same `ttl`, the bound the
    /// deployment documents. A change made through this provider (registration management,
    /// [`Provider::register_client`], the client administration) is seen by this provider
    /// at once, and a registration stops working at its expiry either way. A zero `ttl` or
    /// `capacity` keeps nothing: every lookup reads the store. Default: 10 s, 10 000 ids.
    pub fn client_cache(mut self, ttl: Duration, capacity: usize) -> Self {
        self.client_cache = (ttl, capacity);
        self
    }

    /// Delivers logout tokens to the clients that registered a `backchannel_logout_uri`
    /// (OpenID Connect Back-Channel Logout 1.0) as `delivery` says; discovery then
    /// advertises `backchannel_logout_supported`. Default: none delivered, and clients
    /// cannot register a `backchannel_logout_uri`.
    pub fn backchannel_logout(mut self, delivery: BackchannelLogout) -> Self {
        self.backchannel_logout = Some(delivery);
        self
    }

    /// Enables token exchange (RFC 8693) for the clients registered for it, with `hook`
    /// deciding each exchange (impersonation, delegation, or refusal). Subject tokens are
    /// this provider's access and ID tokens, and JWTs of the issuers in
    /// [`Policy::token_exchange`](portcullis_core::Policy::token_exchange), whose subjects
    /// the [subject mapper](ProviderBuilder::subject_mapper) maps. Default: off.
    pub fn token_exchange(mut self, hook: Arc<dyn TokenExchangeHook>) -> Self {
        self.token_exchange = Some(hook);
        self
    }

    /// Sets how the subjects of trusted issuers' JWTs map to local subjects. With issuers
    /// in [`Policy::jwt_bearer`](portcullis_core::Policy::jwt_bearer), it enables the JWT
    /// bearer grant (RFC 7523 §2.1) for the clients registered for it. Default: none (no
    /// foreign subject is known).
    pub fn subject_mapper(mut self, mapper: Arc<dyn SubjectMapper>) -> Self {
        self.subject_mapper = Some(mapper);
        self
    }

    /// Lets clients identify themselves by a client ID metadata document
    /// (draft-ietf-oauth-client-id-metadata-document) as `policy` says: a `client_id` that
    /// is an `https` URL names the client its document describes (see
    /// [`ClientIdMetadataDocuments`]). Default: disabled. Needs a
    /// [fetcher](ProviderBuilder::fetcher).
    pub fn client_id_metadata_documents(mut self, policy: ClientIdMetadataDocuments) -> Self {
        self.client_documents = policy;
        self
    }

    /// Offers mutual-TLS client authentication (RFC 8705 §2) as far as the TLS layer in
    /// front of the provider supports it (with the `tls` feature, `ServerTls` says): the
    /// adapters then hand each request the client's certificate as a
    /// [`ClientCertificate`](portcullis_core::ClientCertificate) extension. Default:
    /// [`ClientCertificateAuth::Disabled`], neither method listed nor accepted.
    pub fn client_certificate_auth(mut self, offered: ClientCertificateAuth) -> Self {
        self.client_certificates = offered;
        self
    }

    /// Publishes `mtls_endpoint_aliases` (RFC 8705 §5): `base` (an `https` URL like an
    /// issuer's) names a host on which the TLS layer asks for client certificates and which
    /// serves the same routes, so that clients using certificates call the token,
    /// introspection, revocation, UserInfo and registration endpoints there while other
    /// clients see no certificate request. A DPoP proof sent to that host names its URLs
    /// (RFC 9449 §4.3). Needs [client certificates](ProviderBuilder::client_certificate_auth).
    pub fn mtls_endpoint_aliases(mut self, base: Issuer) -> Self {
        self.mtls_aliases = Some(base);
        self
    }

    /// Sets how `private_key_jwt` clients' `jwks_uri`s are fetched (the `http-fetcher`
    /// feature's `ReqwestFetcher`, or the host's own). Without one, clients with a
    /// `jwks_uri` cannot be registered; clients with inline `jwks` need none.
    pub fn fetcher(mut self, fetcher: Arc<dyn Fetcher>) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    /// Lets clients send request objects by reference (RFC 9101 §5.2): an authorization
    /// request's `request_uri` (other than a pushed request's `urn:`) is then a URL this
    /// server GETs on the client's behalf, through the [fetcher](ProviderBuilder::fetcher)
    /// (required; the build fails without one), and verifies as a `request` (§6.2). Only a
    /// URL the client registered in its `request_uris` is fetched, exactly as registered
    /// (§10.4.1), at most 64 KiB within the fetcher's timeout; the default fetcher refuses
    /// private, loopback and link-local addresses, so a client cannot make this server
    /// call its own network. Discovery then says `request_uri_parameter_supported` and
    /// `require_request_uri_registration`. Default: off (`request_uri_not_supported`);
    /// pushed requests (RFC 9126) need none of this.
    pub fn fetch_request_uris_on_clients_behalf(mut self) -> Self {
        self.fetch_request_uris = true;
        self
    }

    /// Sets the key-encryption keys that seal the private signing keys in the key store
    /// (AES-256-GCM; the current one seals, every one opens what it sealed). Required when
    /// the key store [persists](portcullis_store::KeyStore::persists). Keys stored in
    /// plaintext, or under a previous KEK, are re-sealed under the current one when loaded.
    pub fn key_encryption_keys(mut self, keks: KeyEncryptionKeys) -> Self {
        self.keks = Some(keks);
        self
    }

    /// Lets a key store that persists keep the private signing keys in plaintext, without
    /// a key-encryption key: anyone who reads the store (a backup, a dump) can then sign
    /// tokens as this issuer. For hosts that protect the store otherwise (an encrypted
    /// database with its own key management).
    pub fn dangerous_plaintext_signing_keys(mut self) -> Self {
        self.dangerous_plaintext_signing_keys = true;
        self
    }

    /// Signs everything of `signer`'s algorithm with it (a key in a KMS or an HSM, say) and
    /// publishes its public key in the JWKS; no key of that algorithm is kept in the key
    /// store. One signer per algorithm. When the host's signers cover every algorithm, no
    /// private key ever reaches the key store, and no key-encryption key is needed.
    pub fn signer(mut self, signer: Arc<dyn JwsSigner>) -> Self {
        self.host_signers.push(signer);
        self
    }

    /// Sets where user claims come from (default: none, so only `sub` is released).
    pub fn claims(mut self, claims: Arc<dyn UserClaims>) -> Self {
        self.claims = claims;
        self
    }

    /// Sets the secret salt of pairwise subject identifiers (OpenID Connect Core §8.1). They
    /// must stay stable: set it in any deployment whose store outlives the process. By
    /// default each provider draws its own.
    pub fn subject_salt(mut self, salt: [u8; 32]) -> Self {
        self.subject_salt = Some(salt);
        self
    }

    /// Sets the key of the session ids (`sid`) in ID tokens and logout tokens (Back-Channel
    /// Logout 1.0 §2.1), which must stay stable as the sessions they name. By default it is
    /// derived from the subject salt (HKDF-SHA256, a key of its own): stable wherever that
    /// one is.
    pub fn sid_key(mut self, key: [u8; 32]) -> Self {
        self.sid_key = Some(key);
        self
    }

    /// Lists `scopes` in discovery's `scopes_supported` (RFC 8414 §2, OpenID Connect
    /// Discovery 1.0 §3) besides the OpenID Connect scopes it always lists (`openid`,
    /// `profile`, `email`, `address`, `phone`, `offline_access`): the host's own scopes, e.g.
    /// every scope its clients may ask for. Listing is all it does: what a client may get is
    /// its `allowed_scopes`.
    pub fn advertise_scopes(mut self, scopes: ScopeSet) -> Self {
        self.advertised_scopes = scopes;
        self
    }

    /// Lets clients register themselves (RFC 7591) and manage their registration (RFC 7592)
    /// as `policy` says (default: closed).
    pub fn registration(mut self, policy: RegistrationPolicy) -> Self {
        self.registration = policy;
        self
    }

    /// Sets the protocol policy (lifetimes, PKCE options).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the stores (required).
    pub fn stores(mut self, stores: Stores) -> Self {
        self.stores = Some(stores);
        self
    }

    /// Sets the clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the random number generator (default: ring's `SystemRandom`).
    pub fn rng(mut self, rng: Arc<dyn SecureRandom + Send + Sync>) -> Self {
        self.rng = rng;
        self
    }

    /// Sets the pool on which client secrets stored as PBKDF2 hashes are checked and RSA
    /// signing keys generated, off the async workers (default: [`BlockingPool::default`], as
    /// many at once as the machine has cores). Give the host's own password checks the same
    /// pool, so that one bound covers both.
    pub fn blocking_pool(mut self, pool: BlockingPool) -> Self {
        self.blocking = pool;
        self
    }

    /// Lets the password grant (RFC 6749 §4.3) check users' credentials with
    /// `authenticator`, each attempt throttled by `throttle` (give it the login form's, so
    /// that guesses count across both). The grant still needs
    /// `Policy::dangerous_allow_password_grant` and clients registered for it; read that
    /// field's warning (RFC 9700 §2.4).
    pub fn password_authenticator(
        mut self,
        authenticator: Arc<dyn PasswordAuthenticator>,
        throttle: LoginThrottle,
    ) -> Self {
        self.password_grant = Some(PasswordGrantSetup {
            authenticator,
            throttle,
        });
        self
    }

    /// Sets the key sealing pending authorizations. Every process of one issuer behind a
    /// load balancer needs the same key; by default each provider draws its own.
    pub fn interaction_key(mut self, key: [u8; 32]) -> Self {
        self.interaction_key = Some(key);
        self
    }

    /// Sets the key of the server's DPoP nonces (RFC 9449 §8, §9). Every process of one
    /// issuer behind a load balancer needs the same key, or a nonce one hands out fails at
    /// the others; by default each provider draws its own.
    pub fn dpop_nonce_key(mut self, key: [u8; 32]) -> Self {
        self.dpop_nonce_key = Some(key);
        self
    }

    /// Builds the provider.
    pub fn build(self) -> Result<Provider, BuildError> {
        let stores = self.stores.ok_or(BuildError::NoStores)?;
        if !self.policy.keys.publishes_ahead_of_caches() {
            return Err(BuildError::KeyPublishTooShort);
        }
        if !self
            .policy
            .pushed_authorization_requests
            .lifetime_is_valid()
        {
            return Err(BuildError::PushedRequestLifetime);
        }
        for (i, s) in self.host_signers.iter().enumerate() {
            if self.host_signers[..i].iter().any(|o| o.alg() == s.alg()) {
                return Err(BuildError::DuplicateSigner(s.alg()));
            }
        }
        let every_alg_is_the_hosts = Algorithm::ALL
            .iter()
            .all(|a| self.host_signers.iter().any(|s| s.alg() == *a));
        if stores.keys.persists()
            && self.keks.is_none()
            && !self.dangerous_plaintext_signing_keys
            && !every_alg_is_the_hosts
        {
            return Err(BuildError::NoKeyEncryptionKey);
        }
        if self.client_documents.is_enabled() && self.fetcher.is_none() {
            return Err(BuildError::ClientDocumentsWithoutFetcher);
        }
        if self.fetch_request_uris && self.fetcher.is_none() {
            return Err(BuildError::RequestUrisWithoutFetcher);
        }
        if let Some(p) = self.client_documents.invalid_prefix() {
            return Err(BuildError::ClientDocumentPrefix(p.to_owned()));
        }
        if self.mtls_aliases.is_some()
            && self.client_certificates == ClientCertificateAuth::Disabled
        {
            return Err(BuildError::MtlsAliasesWithoutClientCertificates);
        }
        let interaction_key = match self.interaction_key {
            Some(k) => InteractionKey::from_bytes(&k),
            None => InteractionKey::generate(self.rng.as_ref())?,
        };
        let dpop_nonce_key = given_or_drawn(self.dpop_nonce_key, self.rng.as_ref())?;
        let dpop_nonces = DpopNonces::new(&dpop_nonce_key, self.policy.dpop.nonce_period);
        let subject_salt = given_or_drawn(self.subject_salt, self.rng.as_ref())?;
        let sid_key = self
            .sid_key
            .unwrap_or_else(|| crate::backchannel::derived_sid_key(&subject_salt));
        Ok(Provider {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                policy: self.policy,
                stores: stores.instrumented(),
                clock: self.clock,
                rng: self.rng,
                blocking: self.blocking,
                interaction_key,
                keys: KeyRing::default(),
                claims: self.claims,
                subject_salt,
                sid_key,
                keks: self.keks,
                host_signers: self.host_signers,
                advertised_scopes: self.advertised_scopes,
                registration: self.registration,
                client_certificates: self.client_certificates,
                fetcher: self.fetcher,
                fetch_request_uris: self.fetch_request_uris,
                client_keys: ClientKeyCache::default(),
                client_documents: self.client_documents,
                document_cache: DocumentCache::default(),
                dpop_nonces,
                mtls_aliases: self.mtls_aliases,
                token_exchange: self.token_exchange,
                subject_mapper: self.subject_mapper,
                backchannel_logout: self.backchannel_logout,
                password_grant: self.password_grant,
                client_cache: ClientCache::new(self.client_cache.0, self.client_cache.1),
            }),
        })
    }
}

/// The host's 256-bit secret, or a random one for this process only.
fn given_or_drawn(
    given: Option<[u8; 32]>,
    rng: &dyn SecureRandom,
) -> Result<[u8; 32], RandomError> {
    match given {
        Some(k) => Ok(k),
        None => {
            let mut k = [0u8; 32];
            rng.fill(&mut k).map_err(|_| RandomError)?;
            Ok(k)
        }
    }
}

impl Provider {
    /// Starts configuring a provider for `issuer`.
    pub fn builder(issuer: Issuer) -> ProviderBuilder {
        ProviderBuilder {
            issuer,
            policy: Policy::default(),
            stores: None,
            clock: Arc::new(SystemClock),
            rng: Arc::new(SystemRandom::new()),
            blocking: BlockingPool::default(),
            interaction_key: None,
            dpop_nonce_key: None,
            claims: Arc::new(NoUserClaims),
            subject_salt: None,
            sid_key: None,
            keks: None,
            dangerous_plaintext_signing_keys: false,
            host_signers: Vec::new(),
            advertised_scopes: ScopeSet::new(),
            registration: RegistrationPolicy::closed(),
            client_certificates: ClientCertificateAuth::Disabled,
            fetcher: None,
            fetch_request_uris: false,
            client_documents: ClientIdMetadataDocuments::disabled(),
            mtls_aliases: None,
            token_exchange: None,
            subject_mapper: None,
            backchannel_logout: None,
            password_grant: None,
            client_cache: (client_cache::DEFAULT_TTL, client_cache::DEFAULT_CAPACITY),
        }
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &Issuer {
        &self.inner.issuer
    }

    /// The protocol policy.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Removes every expired record of every store (codes, tokens, grants, revocation
    /// markers, clients, retired keys, replay-cache entries, pushed requests, device
    /// authorizations); returns how
    /// many went. Run it
    /// periodically: stores other than the memory store do not purge on their own.
    ///
    /// A store that fails is logged and skipped: the others are purged all the same, and
    /// the first failure is returned at the end.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        let stores = &self.inner.stores;
        let now = self.inner.clock.now();
        let purges = [
            ("codes", stores.codes.purge_expired(now)),
            ("access_tokens", stores.access_tokens.purge_expired(now)),
            ("refresh_tokens", stores.refresh_tokens.purge_expired(now)),
            ("grants", stores.grants.purge_expired(now)),
            ("clients", stores.clients.purge_expired(now)),
            ("keys", stores.keys.purge_expired(now)),
            ("replays", stores.replays.purge_expired(now)),
            ("pushed_requests", stores.pushed_requests.purge_expired(now)),
            (
                "device_authorizations",
                stores.device_authorizations.purge_expired(now),
            ),
        ];
        let mut total = 0;
        let mut first_error = None;
        for (store, purge) in purges {
            match purge.await {
                Ok(n) => total += n,
                Err(e) => {
                    tracing::warn!(store, error = %e, "purging expired records failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(total), Err)
    }

    /// The client `client_id`, if any: registered (and not expired), or described by its
    /// client ID metadata document when [enabled](ProviderBuilder::client_id_metadata_documents).
    pub async fn client(&self, client_id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        self.find_client(client_id, self.inner.clock.now()).await
    }

    /// The client `client_id` at `now`: the registered one (through the
    /// [client cache](ProviderBuilder::client_cache)), else the one its client ID metadata
    /// document describes (when the policy allows fetching it). Every endpoint looks
    /// clients up here.
    pub(crate) async fn find_client(
        &self,
        client_id: &str,
        now: UnixTime,
    ) -> Result<Option<Arc<Client>>, StoreError> {
        let inner = &self.inner;
        let load = || {
            inner
                .stores
                .clients
                .find_client(&inner.issuer, client_id, now)
        };
        let stored = inner.client_cache.get(client_id, now, load).await?;
        let found = match stored {
            Some(c) => Some(c),
            None => self.document_client(client_id, now).await,
        };
        Ok(found.map(|c| self.raised_to_profile(c)))
    }

    /// `client` held to at least the policy's profile (FAPI 2.0 for every client, say).
    fn raised_to_profile(&self, client: Arc<Client>) -> Arc<Client> {
        let floor = self.inner.policy.profile;
        if client.profile >= floor {
            return client;
        }
        let mut raised = Client::clone(&client);
        raised.profile = floor;
        Arc::new(raised)
    }

    /// Seals a `client_secret_jwt` secret for `client_id` under the current key-encryption
    /// key ([`ClientKind::SecretJwt`]); fails without a key-encryption key.
    pub fn seal_client_secret(
        &self,
        client_id: &str,
        secret: &JwtClientSecret,
    ) -> Result<SealedClientSecret, ClientSecretSealError> {
        let inner = &self.inner;
        let keks = inner.keks.as_ref().ok_or(ClientSecretSealError::NoKek)?;
        SealedClientSecret::seal(secret, &inner.issuer, client_id, keks, inner.rng.as_ref())
    }

    /// Registers (or replaces) a client of this issuer, after checking it is consistent and
    /// that this provider can authenticate it: a `jwks_uri` needs a
    /// [fetcher](ProviderBuilder::fetcher), a `client_secret_jwt` secret must open under
    /// this provider's key-encryption keys.
    pub async fn register_client(&self, client: &Client) -> Result<(), RegisterError> {
        let mut raised = client.clone();
        raised.profile = client.profile.max(self.inner.policy.profile);
        raised.validate()?;
        let inner = &self.inner;
        match &client.kind {
            ClientKind::PrivateKeyJwt {
                keys: ClientKeys::JwksUri(_),
            } if inner.fetcher.is_none() => {
                return Err(RegisterError::NoFetcher(client.id.clone()));
            }
            ClientKind::SecretJwt { secret } => {
                secret
                    .open(&inner.issuer, &client.id, inner.keks.as_ref())
                    .map_err(|e| RegisterError::Secret(client.id.clone(), e))?;
            }
            _ => {}
        }
        let saved = inner
            .stores
            .clients
            .save_client(&inner.issuer, client)
            .await;
        inner.client_cache.invalidate(&client.id);
        saved?;
        Ok(())
    }
}
