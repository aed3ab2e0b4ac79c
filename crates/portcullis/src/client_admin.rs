//! The host's administration of its clients: add one with a generated secret, list them,
//! rotate a secret (RFC 7591 §3.2.1's `client_secret_expires_at` included), remove one.

use std::sync::Arc;
use std::time::Duration;

use portcullis_core::{
    Client, ClientKind, ClientSecretHash, RandomError, SecretRotationError, SecretToken, UnixTime,
};
use portcullis_store::StoreError;

use crate::provider::{Provider, RegisterError};

/// What [`Provider::rotate_client_secret`] gives the host: the new secret, to hand to the
/// client once (only its hash is stored; its `Debug` shows nothing), and how long the replaced
/// one still works.
#[derive(Debug)]
#[non_exhaustive]
pub struct RotatedSecret {
    /// The new secret.
    pub secret: SecretToken,
    /// Until when (exclusive) the replaced secret is still accepted; `None`: not at all.
    pub previous_valid_until: Option<UnixTime>,
    /// When the new secret expires; `None`: never.
    pub expires_at: Option<UnixTime>,
}

/// Why a client's secret was not rotated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotateSecretError {
    /// No client of this issuer has that id (or its registration expired).
    #[error("no such client")]
    UnknownClient,
    /// The client has no secret, or the rollover or expiry is out of bounds.
    #[error(transparent)]
    Invalid(#[from] SecretRotationError),
    /// The client changed (another rotation, an update) between reading and storing it:
    /// nothing was stored, and the secret it has is the other writer's. Rotate again if
    /// still needed.
    #[error("the client changed during the rotation; nothing was stored")]
    Conflict,
    /// The random number generator failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Provider {
    /// Registers a new client of this issuer, after checking it is consistent; refused with
    /// [`RegisterError::Exists`], nothing stored, if a client (even an expired one not yet
    /// purged) has its id. Unlike [`Provider::register_client`], never replaces one.
    pub async fn add_client(&self, client: &Client) -> Result<(), RegisterError> {
        client.validate()?;
        let inner = &self.inner;
        let clients = &inner.stores.clients;
        let added = clients.replace_client(&inner.issuer, None, client).await;
        inner.client_cache.invalidate(&client.id);
        match added? {
            true => Ok(()),
            false => Err(RegisterError::Exists),
        }
    }

    /// [`Provider::add_client`] as a confidential client whose secret is generated here: 256
    /// bits from the provider's random source, returned once, stored only as its SHA-256
    /// hash. Whatever `client.kind` was, it becomes [`ClientKind::confidential`].
    pub async fn add_client_with_secret(
        &self,
        mut client: Client,
    ) -> Result<SecretToken, RegisterError> {
        let (secret, hash) = ClientSecretHash::generate(&*self.inner.rng)?;
        client.kind = ClientKind::confidential(hash);
        self.add_client(&client).await?;
        Ok(secret)
    }

    /// Every client of this issuer whose registration has not expired, by `client_id`.
    pub async fn list_clients(&self) -> Result<Vec<Arc<Client>>, StoreError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        inner.stores.clients.list_clients(&inner.issuer, now).await
    }

    /// Gives the confidential client `client_id` a new generated secret, expiring at
    /// `expires_at` (`None`: never), and keeps its current one valid for `rollover` (at most
    /// [`portcullis_core::MAX_SECRET_ROLLOVER`]; zero: refused at once; a secret an earlier
    /// rotation kept is dropped): [`portcullis_core::ClientKind::rotate_secret`].
    ///
    /// A compare-and-swap on the stored client: of rotations racing on one client (from any
    /// process sharing the store) one stores its secret and the others fail with
    /// [`RotateSecretError::Conflict`], so every secret returned is one the store accepts.
    pub async fn rotate_client_secret(
        &self,
        client_id: &str,
        rollover: Duration,
        expires_at: Option<UnixTime>,
    ) -> Result<RotatedSecret, RotateSecretError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let clients = &inner.stores.clients;
        let current = clients.find_client(&inner.issuer, client_id, now).await?;
        let current = current.ok_or(RotateSecretError::UnknownClient)?;
        let (secret, hash) = ClientSecretHash::generate(&*self.inner.rng)?;
        let mut rotated = Client::clone(&current);
        rotated
            .kind
            .rotate_secret(hash, rollover, expires_at, now)?;
        let previous_valid_until = match &rotated.kind {
            ClientKind::Confidential {
                previous_secret, ..
            } => previous_secret.as_ref().map(|p| p.valid_until),
            _ => None,
        };
        let replaced = clients
            .replace_client(&inner.issuer, Some(&current), &rotated)
            .await;
        inner.client_cache.invalidate(client_id);
        if !replaced? {
            return Err(RotateSecretError::Conflict);
        }
        Ok(RotatedSecret {
            secret,
            previous_valid_until,
            expires_at,
        })
    }

    /// Deletes the client `client_id` of this issuer, revoking first every grant it holds,
    /// so that every code, access and refresh token issued to it under a grant dies with it
    /// ([`GrantStore::revoke_grants_of_client`](portcullis_store::GrantStore::revoke_grants_of_client));
    /// its `client_credentials` tokens die with the record (no token of an unknown client is
    /// active). Self-contained (JWT) access tokens stay valid until they expire, as after any
    /// revocation. `false` if there was no such client.
    pub async fn remove_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let inner = &self.inner;
        inner
            .stores
            .grants
            .revoke_grants_of_client(&inner.issuer, client_id)
            .await?;
        let deleted = inner
            .stores
            .clients
            .delete_client(&inner.issuer, client_id)
            .await;
        inner.client_cache.invalidate(client_id);
        deleted
    }
}
