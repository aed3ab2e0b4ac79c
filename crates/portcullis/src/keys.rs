//! The provider's signing keys: loaded from the key store, reloaded periodically so a
//! rotation made by any process reaches every process, created on first use, rotated on
//! request or on schedule.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use portcullis_core::{
    active_key, pending_key, plan_rotation, Algorithm, JoseError, KeyRecord, PrivateKeyDer,
    SigningKey, UnixTime, VerifyingKey,
};
use portcullis_store::StoreError;
use ring::rand::SecureRandom;

use crate::keygen::generate_pkcs8_on;
use crate::provider::Provider;

/// Why a signing key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Key generation failed.
    #[error("key generation failed: {0}")]
    Generate(#[from] JoseError),
}

/// Keys as last loaded from the store.
pub(crate) struct KeySnapshot {
    loaded_at: UnixTime,
    records: Vec<KeyRecord>,
    signers: HashMap<String, Arc<SigningKey>>,
}

impl KeySnapshot {
    /// The public keys in the JWKS at `now`.
    pub(crate) fn published(&self, now: UnixTime) -> Vec<VerifyingKey> {
        let mut keys: Vec<&KeyRecord> = self
            .records
            .iter()
            .filter(|r| r.is_published(now))
            .collect();
        keys.sort_by(|a, b| (b.created_at, &b.kid).cmp(&(a.created_at, &a.kid)));
        keys.iter()
            .filter_map(|r| self.signers.get(&r.kid))
            .map(|k| k.verifying_key())
            .collect()
    }
}

/// The cache of one provider's keys.
#[derive(Default)]
pub(crate) struct KeyRing {
    snapshot: RwLock<Option<Arc<KeySnapshot>>>,
}

fn load(records: Vec<KeyRecord>, now: UnixTime, rng: &dyn SecureRandom) -> KeySnapshot {
    let mut signers = HashMap::new();
    for r in &records {
        match SigningKey::from_pkcs8(r.kid.clone(), r.alg, r.private_key.expose(), rng) {
            Ok(k) => {
                signers.insert(r.kid.clone(), Arc::new(k));
            }
            Err(e) => tracing::error!(kid = %r.kid, error = %e, "unusable signing key in store"),
        }
    }
    KeySnapshot {
        loaded_at: now,
        records,
        signers,
    }
}

impl Provider {
    /// The keys, reloaded from the store when older than `reload_every` (or when `force`).
    pub(crate) async fn key_snapshot(
        &self,
        now: UnixTime,
        force: bool,
    ) -> Result<Arc<KeySnapshot>, StoreError> {
        let inner = &self.inner;
        let fresh = inner
            .keys
            .snapshot
            .read()
            .ok()
            .and_then(|s| s.clone())
            .filter(|s| !force && now < s.loaded_at.plus(inner.policy.keys.reload_every));
        if let Some(s) = fresh {
            return Ok(s);
        }
        let records = inner.stores.keys.keys(&inner.issuer).await?;
        let snapshot = Arc::new(load(records, now, inner.rng.as_ref()));
        if let Ok(mut slot) = inner.keys.snapshot.write() {
            *slot = Some(snapshot.clone());
        }
        Ok(snapshot)
    }

    /// The key that signs for `alg` now: creating the first one if there is none, and
    /// starting a scheduled rotation when the current one is due.
    pub(crate) async fn signer(
        &self,
        alg: Algorithm,
        now: UnixTime,
    ) -> Result<Arc<SigningKey>, KeyError> {
        let mut snapshot = self.key_snapshot(now, false).await?;
        if active_key(&snapshot.records, alg, now).is_none() {
            snapshot = self.key_snapshot(now, true).await?;
        }
        let current = match active_key(&snapshot.records, alg, now) {
            Some(r) => r.clone(),
            None => {
                // No key yet: the JWKS was never served (it creates a key for every algorithm),
                // so nobody can have cached one without this key, and it signs at once.
                let record = self.new_key_record(alg, now, now).await?;
                self.inner.stores.keys.insert_key(&record).await?;
                tracing::info!(kid = %record.kid, %alg, "created the first signing key");
                snapshot = self.key_snapshot(now, true).await?;
                record
            }
        };
        if let Some(every) = self.inner.policy.keys.rotate_every {
            let due = now >= current.activates_at.plus(every);
            if due && pending_key(&snapshot.records, alg, now).is_none() {
                self.rotate_signing_key_at(alg, now).await?;
            }
        }
        snapshot
            .signers
            .get(&current.kid)
            .cloned()
            .ok_or(KeyError::Generate(JoseError::InvalidKey(
                "stored key unusable",
            )))
    }

    /// Starts a rotation of the `alg` key now: the new key is published at once and signs
    /// after `publish_ahead`; the keys it replaces retire then and leave the JWKS once every
    /// token they signed has expired. Reaches every process sharing the key store within
    /// `reload_every`. Returns the new key's `kid`.
    pub async fn rotate_signing_key(&self, alg: Algorithm) -> Result<String, KeyError> {
        let now = self.inner.clock.now();
        self.rotate_signing_key_at(alg, now).await
    }

    async fn rotate_signing_key_at(
        &self,
        alg: Algorithm,
        now: UnixTime,
    ) -> Result<String, KeyError> {
        let inner = &self.inner;
        let policy = &inner.policy;
        let plan = plan_rotation(
            now,
            policy.keys.publish_ahead,
            policy.lifetimes.longest_token(),
        );
        let record = self.new_key_record(alg, now, plan.activates_at).await?;
        inner.stores.keys.insert_key(&record).await?;
        let existing = inner.stores.keys.keys(&inner.issuer).await?;
        for old in existing
            .iter()
            .filter(|k| k.alg == alg && k.kid != record.kid && k.activates_at < plan.activates_at)
        {
            inner
                .stores
                .keys
                .retire_key(
                    &inner.issuer,
                    &old.kid,
                    plan.activates_at,
                    plan.retired_expire_at,
                )
                .await?;
        }
        self.key_snapshot(now, true).await?;
        tracing::info!(kid = %record.kid, %alg, "signing key rotation started");
        Ok(record.kid)
    }

    async fn new_key_record(
        &self,
        alg: Algorithm,
        now: UnixTime,
        activates_at: UnixTime,
    ) -> Result<KeyRecord, KeyError> {
        let rng = self.inner.rng.as_ref();
        let der = generate_pkcs8_on(&self.inner.blocking, alg, self.inner.rng.clone()).await?;
        let kid = SigningKey::from_pkcs8("new", alg, &der, rng)?
            .public_jwk()
            .thumbprint()?;
        Ok(KeyRecord {
            issuer: self.inner.issuer.clone(),
            kid,
            alg,
            private_key: PrivateKeyDer::new(der),
            created_at: now,
            activates_at,
            retires_at: None,
            expires_at: None,
        })
    }
}
