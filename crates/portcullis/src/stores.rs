//! The stores a provider uses: one per aggregate.

use std::sync::Arc;

use portcullis_core::{AccessTokenRecord, RefreshTokenRecord, TokenHash};
use portcullis_store::{
    issue_in_sequence, rotate_in_sequence, AccessTokenStore, ClientStore, CodeStore,
    DeviceAuthorizationStore, GrantStore, GrantUse, KeyStore, PushedRequestStore,
    RefreshTokenStore, ReplayCache, RotateIssueOutcome, RotationGrace, StoreResult, TokenIssuance,
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
    /// The writes that issue a grant's tokens as one operation, used only while
    /// [`Stores::grants`], [`Stores::access_tokens`] and [`Stores::refresh_tokens`] are this
    /// one value (set by [`Stores::shared`]; checked again when the provider is built, so a
    /// store replaced by its `with_*` method or by assigning its field is never bypassed);
    /// else the engine makes the separate calls on those three.
    pub(crate) issuance: Option<Arc<dyn TokenIssuance>>,
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
            + TokenIssuance
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
            issuance: Some(store.clone()),
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

    /// [`Stores::issuance`] if the grant, access-token and refresh-token stores are still the
    /// value it came with (the same allocation); else `None`, and the separate calls.
    pub(crate) fn issuance_of_the_same_store(&self) -> Option<Arc<dyn TokenIssuance>> {
        let issuance = self.issuance.as_ref()?;
        let at = Arc::as_ptr(issuance).cast::<()>();
        let same = Arc::as_ptr(&self.grants).cast::<()>() == at
            && Arc::as_ptr(&self.access_tokens).cast::<()>() == at
            && Arc::as_ptr(&self.refresh_tokens).cast::<()>() == at;
        same.then(|| issuance.clone())
    }

    /// `TokenIssuance::issue_tokens` on [`Stores::issuance`], or as separate calls.
    pub(crate) async fn issue_tokens(
        &self,
        grant: &GrantUse<'_>,
        refresh: Option<&RefreshTokenRecord>,
        access: &AccessTokenRecord,
    ) -> StoreResult<bool> {
        match &self.issuance {
            Some(issuance) => issuance.issue_tokens(grant, refresh, access).await,
            None => {
                let (grants, access_tokens) = (&*self.grants, &*self.access_tokens);
                let refresh_tokens = &*self.refresh_tokens;
                issue_in_sequence(
                    grants,
                    access_tokens,
                    refresh_tokens,
                    grant,
                    refresh,
                    access,
                )
                .await
            }
        }
    }

    /// `TokenIssuance::rotate_and_issue` on [`Stores::issuance`], or as separate calls.
    pub(crate) async fn rotate_and_issue(
        &self,
        grant: &GrantUse<'_>,
        old: &TokenHash,
        successor: &RefreshTokenRecord,
        grace: Option<&RotationGrace>,
        access: &AccessTokenRecord,
    ) -> StoreResult<RotateIssueOutcome> {
        match &self.issuance {
            Some(issuance) => {
                let call = issuance.rotate_and_issue(grant, old, successor, grace, access);
                call.await
            }
            None => {
                let (grants, access_tokens) = (&*self.grants, &*self.access_tokens);
                let refresh_tokens = &*self.refresh_tokens;
                let call = rotate_in_sequence(
                    grants,
                    access_tokens,
                    refresh_tokens,
                    grant,
                    old,
                    successor,
                    grace,
                    access,
                );
                call.await
            }
        }
    }
}
