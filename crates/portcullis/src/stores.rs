//! The stores a provider uses: one per aggregate.

use std::sync::Arc;

use portcullis_store::{
    AccessTokenStore, ClientStore, CodeStore, DeviceAuthorizationStore, GrantStore, KeyStore,
    PushedRequestStore, RefreshTokenStore, ReplayCache,
};

/// The stores a provider uses, one per aggregate. Several providers may share the same
/// stores: every record carries its issuer.
///
/// Built with [`Stores::shared`] from one value that implements every trait (the memory,
/// SQLite and PostgreSQL stores do), then, where an aggregate lives elsewhere, the `with_*`
/// method that replaces its store: a new store in a later version never breaks a host's
/// code. The grant and token stores must share their state (see
/// `portcullis_store::GrantStore`: revocation composes across them).
#[derive(Clone)]
#[non_exhaustive]
pub struct Stores {
    /// Registered clients.
    pub clients: Arc<dyn ClientStore>,
    /// Authorization codes.
    pub codes: Arc<dyn CodeStore>,
    /// Grants and the token families under them (the units of revocation).
    pub grants: Arc<dyn GrantStore>,
    /// Access tokens.
    pub access_tokens: Arc<dyn AccessTokenStore>,
    /// Refresh tokens and their rotations.
    pub refresh_tokens: Arc<dyn RefreshTokenStore>,
    /// Signing keys.
    pub keys: Arc<dyn KeyStore>,
    /// Ids accepted once until they expire (interaction tickets; later JWT assertions, DPoP
    /// proofs and request objects, each under its own namespace).
    pub replays: Arc<dyn ReplayCache>,
    /// Pushed authorization requests (RFC 9126).
    pub pushed_requests: Arc<dyn PushedRequestStore>,
    /// Device authorizations (RFC 8628).
    pub device_authorizations: Arc<dyn DeviceAuthorizationStore>,
}

impl Stores {
    /// Uses one value that implements every store trait (e.g. `MemoryStore`).
    pub fn shared<S>(store: Arc<S>) -> Self
    where
        S: ClientStore
            + CodeStore
            + GrantStore
            + AccessTokenStore
            + RefreshTokenStore
            + KeyStore
            + ReplayCache
            + PushedRequestStore
            + DeviceAuthorizationStore,
    {
        Self {
            clients: store.clone(),
            codes: store.clone(),
            grants: store.clone(),
            access_tokens: store.clone(),
            refresh_tokens: store.clone(),
            keys: store.clone(),
            replays: store.clone(),
            pushed_requests: store.clone(),
            device_authorizations: store,
        }
    }

    /// Replaces [`Stores::clients`].
    pub fn with_clients(mut self, clients: Arc<dyn ClientStore>) -> Self {
        self.clients = clients;
        self
    }

    /// Replaces [`Stores::codes`].
    pub fn with_codes(mut self, codes: Arc<dyn CodeStore>) -> Self {
        self.codes = codes;
        self
    }

    /// Replaces [`Stores::grants`].
    pub fn with_grants(mut self, grants: Arc<dyn GrantStore>) -> Self {
        self.grants = grants;
        self
    }

    /// Replaces [`Stores::access_tokens`].
    pub fn with_access_tokens(mut self, access_tokens: Arc<dyn AccessTokenStore>) -> Self {
        self.access_tokens = access_tokens;
        self
    }

    /// Replaces [`Stores::refresh_tokens`].
    pub fn with_refresh_tokens(mut self, refresh_tokens: Arc<dyn RefreshTokenStore>) -> Self {
        self.refresh_tokens = refresh_tokens;
        self
    }

    /// Replaces [`Stores::keys`].
    pub fn with_keys(mut self, keys: Arc<dyn KeyStore>) -> Self {
        self.keys = keys;
        self
    }

    /// Replaces [`Stores::replays`].
    pub fn with_replays(mut self, replays: Arc<dyn ReplayCache>) -> Self {
        self.replays = replays;
        self
    }

    /// Replaces [`Stores::device_authorizations`].
    pub fn with_device_authorizations(
        mut self,
        devices: Arc<dyn DeviceAuthorizationStore>,
    ) -> Self {
        self.device_authorizations = devices;
        self
    }

    /// Replaces [`Stores::pushed_requests`].
    pub fn with_pushed_requests(mut self, pushed: Arc<dyn PushedRequestStore>) -> Self {
        self.pushed_requests = pushed;
        self
    }
}
