//! The provider's signing keys: loaded from the key store, reloaded periodically so a
//! rotation made by any process reaches every process, created on first use, rotated on
//! request or on schedule. Private keys are sealed under the host's key-encryption key
//! before they reach the store, and re-sealed under the current one when loaded; an
//! algorithm the host's own [`JwsSigner`] serves keeps no key in the store at all.

use std::collections::HashMap;
use std::sync::Arc;

use portcullis_core::{
    active_key, pending_key, plan_rotation, Algorithm, JoseError, KeyBinding, KeyRecord,
    KeySealError, PrivateKeyDer, PrivateKeyEnvelope, SigningKey, UnixTime,
};
use portcullis_store::StoreError;

use crate::key_ring::KeySnapshot;
use crate::keygen::generate_pkcs8_on;
use crate::provider::Provider;
use crate::signer::{JwsSigner, RingSigner, SignError};

/// Why a signing key could not be had, or could not sign. Never shows key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Key generation failed.
    #[error("key generation failed: {0}")]
    Generate(#[from] JoseError),
    /// A stored private key does not open (no, or a wrong, key-encryption key; an altered
    /// record), or sealing failed.
    #[error(transparent)]
    Seal(#[from] KeySealError),
    /// The signer failed.
    #[error(transparent)]
    Signer(#[from] SignError),
    /// The host's signer serves this algorithm: its keys rotate there.
    #[error("{0} keys are the host's signer's: rotate them there")]
    HostSigner(Algorithm),
}

impl Provider {
    /// The keys, reloaded from the store when older than `reload_every` (or when `force`).
    pub(crate) async fn key_snapshot(
        &self,
        now: UnixTime,
        force: bool,
    ) -> Result<Arc<KeySnapshot>, KeyError> {
        let inner = &self.inner;
        let fresh = (!force)
            .then(|| inner.keys.fresh(now, inner.policy.keys.reload_every))
            .flatten();
        if let Some(s) = fresh {
            return Ok(s);
        }
        let mut records = inner.stores.keys.keys(&inner.issuer).await?;
        self.reseal(&mut records).await?;
        let snapshot = Arc::new(self.load(records, now)?);
        inner.keys.replace(snapshot.clone());
        Ok(snapshot)
    }

    /// Loads the signing keys from the store now, sealing under the current key-encryption
    /// key those stored in plaintext or under a previous one. Fails if a stored key does not
    /// open (no, or a wrong, key-encryption key): call it at start to refuse to run rather
    /// than fail at the first token. (Without it, the same happens on first use.)
    pub async fn load_signing_keys(&self) -> Result<(), KeyError> {
        self.key_snapshot(self.inner.clock.now(), true)
            .await
            .map(drop)
    }

    /// Seals, under the current key-encryption key, every key stored in plaintext (written
    /// before sealing, or without a KEK) or under a previous KEK. Of processes doing it at
    /// once, one writes (`KeyStore::reseal_key` is a compare-and-swap).
    async fn reseal(&self, records: &mut [KeyRecord]) -> Result<(), KeyError> {
        let inner = &self.inner;
        let Some(keks) = &inner.keks else {
            return Ok(());
        };
        for r in records
            .iter_mut()
            .filter(|r| r.private_key.needs_resealing(keks))
        {
            let der = r.private_key.open(r.binding(), Some(keks))?;
            let sealed = PrivateKeyEnvelope::seal(&der, r.binding(), keks, inner.rng.as_ref())?;
            let keys = &inner.stores.keys;
            if keys
                .reseal_key(&inner.issuer, &r.kid, &r.private_key, &sealed)
                .await?
            {
                tracing::info!(kid = %r.kid, kek = keks.current().id(), "sealed a signing key");
                r.private_key = sealed;
            }
        }
        Ok(())
    }

    /// Opens every stored key. One that does not open fails the load: a wrong or missing
    /// key-encryption key is a configuration error, said once, clearly.
    fn load(&self, records: Vec<KeyRecord>, now: UnixTime) -> Result<KeySnapshot, KeyError> {
        let inner = &self.inner;
        let mut signers: HashMap<String, Arc<dyn JwsSigner>> = HashMap::new();
        for r in &records {
            let der = r.private_key.open(r.binding(), inner.keks.as_ref())?;
            match SigningKey::from_pkcs8(r.kid.clone(), r.alg, der.expose(), inner.rng.as_ref()) {
                Ok(k) => {
                    signers.insert(
                        r.kid.clone(),
                        Arc::new(RingSigner::new(k, inner.rng.clone())),
                    );
                }
                Err(e) => {
                    tracing::error!(kid = %r.kid, error = %e, "unusable signing key in store")
                }
            }
        }
        Ok(KeySnapshot {
            loaded_at: now,
            records,
            signers,
            host: inner
                .host_signers
                .iter()
                .map(|s| s.verifying_key())
                .collect(),
        })
    }

    /// The host's signer for `alg`, if it gave one.
    fn host_signer(&self, alg: Algorithm) -> Option<&Arc<dyn JwsSigner>> {
        self.inner.host_signers.iter().find(|s| s.alg() == alg)
    }

    /// The key that signs for `alg` now: the host's signer for it if it gave one; else the
    /// store's, creating the first one if there is none, and starting a scheduled rotation
    /// when the current one is due.
    pub(crate) async fn signer(
        &self,
        alg: Algorithm,
        now: UnixTime,
    ) -> Result<Arc<dyn JwsSigner>, KeyError> {
        if let Some(host) = self.host_signer(alg) {
            return Ok(host.clone());
        }
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
    /// `reload_every`. Returns the new key's `kid`; [`KeyError::HostSigner`] for an
    /// algorithm the host's signer serves.
    pub async fn rotate_signing_key(&self, alg: Algorithm) -> Result<String, KeyError> {
        if self.host_signer(alg).is_some() {
            return Err(KeyError::HostSigner(alg));
        }
        let now = self.inner.clock.now();
        self.rotate_signing_key_at(alg, now).await
    }

    async fn rotate_signing_key_at(
        &self,
        alg: Algorithm,
        now: UnixTime,
    ) -> Result<String, KeyError> {
        // The stored keys must open before a new one joins them (a wrong key-encryption key
        // adds nothing to the store).
        self.key_snapshot(now, true).await?;
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
        let private_key = self.envelope(
            &PrivateKeyDer::new(der),
            KeyBinding {
                issuer: &self.inner.issuer,
                kid: &kid,
                alg,
            },
        )?;
        Ok(KeyRecord {
            issuer: self.inner.issuer.clone(),
            kid,
            alg,
            private_key,
            created_at: now,
            activates_at,
            retires_at: None,
            expires_at: None,
        })
    }

    /// A new private key as stored: sealed under the current key-encryption key; plaintext
    /// only without one (a memory store, or `dangerous_plaintext_signing_keys`).
    fn envelope(
        &self,
        der: &PrivateKeyDer,
        binding: KeyBinding<'_>,
    ) -> Result<PrivateKeyEnvelope, KeyError> {
        Ok(match &self.inner.keks {
            Some(keks) => PrivateKeyEnvelope::seal(der, binding, keks, self.inner.rng.as_ref())?,
            None => PrivateKeyEnvelope::plaintext(der),
        })
    }
}
