//! The signing keys one provider holds: a snapshot of the key store, reloaded by `keys`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use portcullis_core::{KeyRecord, UnixTime, VerifyingKey};

use crate::signer::JwsSigner;

/// Keys as last loaded from the store, and the host's signers.
pub(crate) struct KeySnapshot {
    /// When they were loaded.
    pub(crate) loaded_at: UnixTime,
    /// The key store's records.
    pub(crate) records: Vec<KeyRecord>,
    /// A signer for each stored key that opened, by `kid`.
    pub(crate) signers: HashMap<String, Arc<dyn JwsSigner>>,
    /// The public keys of the host's signers.
    pub(crate) host: Vec<VerifyingKey>,
}

impl KeySnapshot {
    /// The public keys in the JWKS at `now`: the host's signers', then the store's.
    pub(crate) fn published(&self, now: UnixTime) -> Vec<VerifyingKey> {
        let mut keys: Vec<&KeyRecord> = self
            .records
            .iter()
            .filter(|r| r.is_published(now))
            .collect();
        keys.sort_by(|a, b| (b.created_at, &b.kid).cmp(&(a.created_at, &a.kid)));
        let stored = keys
            .iter()
            .filter_map(|r| self.signers.get(&r.kid))
            .map(|k| k.verifying_key());
        self.host.iter().cloned().chain(stored).collect()
    }
}

/// The cache of one provider's keys.
#[derive(Default)]
pub(crate) struct KeyRing {
    snapshot: RwLock<Option<Arc<KeySnapshot>>>,
}

impl KeyRing {
    /// The snapshot, unless none was loaded yet or it was loaded `max_age` or longer before
    /// `now`.
    pub(crate) fn fresh(&self, now: UnixTime, max_age: Duration) -> Option<Arc<KeySnapshot>> {
        self.snapshot
            .read()
            .ok()
            .and_then(|s| s.clone())
            .filter(|s| now < s.loaded_at.plus(max_age))
    }

    /// Keeps `snapshot` as the current one.
    pub(crate) fn replace(&self, snapshot: Arc<KeySnapshot>) {
        if let Ok(mut slot) = self.snapshot.write() {
            *slot = Some(snapshot);
        }
    }
}
