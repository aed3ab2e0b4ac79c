//! The signing-key lifecycle (which key signs, which keys are published), decided from the
//! stored records and the time.
//!
//! A key is *published* (in the JWKS) from its creation until `expires_at`; it *signs* from
//! `activates_at` until `retires_at`. Rotation creates the next key with `activates_at` in
//! the future — published before it signs anything, so relying parties that cache the JWKS
//! know it in time — and retires the current key at that moment, keeping it published
//! until every token it signed has expired.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::issuer::Issuer;
use crate::jose::Algorithm;
use crate::key_encryption::{KeyBinding, PrivateKeyEnvelope};
use crate::time::UnixTime;

/// A signing key as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The issuer whose key it is.
    pub issuer: Issuer,
    /// Key id.
    pub kid: String,
    /// The one algorithm it signs with.
    pub alg: Algorithm,
    /// The private key, sealed under a key-encryption key (or, without one, plaintext; see
    /// [`PrivateKeyEnvelope`]).
    pub private_key: PrivateKeyEnvelope,
    /// Created and published.
    pub created_at: UnixTime,
    /// From when it signs.
    pub activates_at: UnixTime,
    /// From when it no longer signs, once a successor exists.
    pub retires_at: Option<UnixTime>,
    /// From when it is no longer published: after every token it signed has expired.
    pub expires_at: Option<UnixTime>,
}

impl KeyRecord {
    /// What its private key's seal binds: its issuer, `kid` and algorithm.
    pub fn binding(&self) -> KeyBinding<'_> {
        KeyBinding {
            issuer: &self.issuer,
            kid: &self.kid,
            alg: self.alg,
        }
    }

    /// Retires it at `retires_at` and unpublishes it at `expires_at`, unless an earlier
    /// time is already set: a key never comes back (`KeyStore::retire_key`).
    pub fn retire(&mut self, retires_at: UnixTime, expires_at: UnixTime) {
        self.retires_at = Some(self.retires_at.map_or(retires_at, |r| r.min(retires_at)));
        self.expires_at = Some(self.expires_at.map_or(expires_at, |e| e.min(expires_at)));
    }

    /// Replaces its private key by `new` if it is still `old`; whether it did
    /// (`KeyStore::reseal_key`, a compare-and-swap).
    pub fn reseal(&mut self, old: &PrivateKeyEnvelope, new: &PrivateKeyEnvelope) -> bool {
        let swap = self.private_key == *old;
        if swap {
            self.private_key = new.clone();
        }
        swap
    }

    /// Whether it signs at `now`.
    pub fn is_active(&self, now: UnixTime) -> bool {
        self.activates_at <= now && self.retires_at.is_none_or(|r| now < r)
    }

    /// Whether it is in the JWKS at `now`.
    pub fn is_published(&self, now: UnixTime) -> bool {
        self.created_at <= now && self.expires_at.is_none_or(|e| now < e)
    }
}

/// The key that signs for `alg` at `now`: the most recently activated active one.
pub fn active_key(keys: &[KeyRecord], alg: Algorithm, now: UnixTime) -> Option<&KeyRecord> {
    keys.iter()
        .filter(|k| k.alg == alg && k.is_active(now))
        .max_by(|a, b| (a.activates_at, &a.kid).cmp(&(b.activates_at, &b.kid)))
}

/// Whether a key for `alg` was created but does not sign yet (a rotation is under way).
pub fn pending_key(keys: &[KeyRecord], alg: Algorithm, now: UnixTime) -> Option<&KeyRecord> {
    keys.iter().find(|k| k.alg == alg && k.activates_at > now)
}

/// How a rotation is timed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// When the new key starts signing (and the current ones retire).
    pub activates_at: UnixTime,
    /// When the retired keys leave the JWKS.
    pub retired_expire_at: UnixTime,
}

/// Plans a rotation at `now`: the new key signs after `publish_ahead` (longer than any
/// JWKS cache, RFC 7517 consumers refetch on an unknown `kid`), and the keys it replaces stay
/// published for `longest_signed` more (the longest lifetime of anything they sign).
pub fn plan_rotation(now: UnixTime, publish_ahead: Duration, longest_signed: Duration) -> Rotation {
    let activates_at = now.plus(publish_ahead);
    Rotation {
        activates_at,
        retired_expire_at: activates_at.plus(longest_signed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key_encryption::PrivateKeyDer;

    fn key(
        kid: &str,
        created: u64,
        activates: u64,
        retires: Option<u64>,
        expires: Option<u64>,
    ) -> KeyRecord {
        KeyRecord {
            issuer: Issuer::parse("https://as.example").unwrap(),
            kid: kid.into(),
            alg: Algorithm::ES256,
            private_key: PrivateKeyEnvelope::plaintext(&PrivateKeyDer::new(vec![0x30, 2, 3])),
            created_at: UnixTime::from_secs(created),
            activates_at: UnixTime::from_secs(activates),
            retires_at: retires.map(UnixTime::from_secs),
            expires_at: expires.map(UnixTime::from_secs),
        }
    }

    #[test]
    fn a_rotated_key_is_published_before_it_signs_and_after_it_retires() {
        let r = plan_rotation(
            UnixTime::from_secs(100),
            Duration::from_secs(50),
            Duration::from_secs(30),
        );
        assert_eq!(
            r,
            Rotation {
                activates_at: UnixTime::from_secs(150),
                retired_expire_at: UnixTime::from_secs(180)
            }
        );
        let keys = [
            key("old", 0, 0, Some(150), Some(180)),
            key("new", 100, 150, None, None),
        ];
        let at = |t| UnixTime::from_secs(t);
        assert_eq!(
            active_key(&keys, Algorithm::ES256, at(120)).unwrap().kid,
            "old"
        );
        assert!(keys[1].is_published(at(120)));
        assert_eq!(
            pending_key(&keys, Algorithm::ES256, at(120)).unwrap().kid,
            "new"
        );
        assert_eq!(
            active_key(&keys, Algorithm::ES256, at(150)).unwrap().kid,
            "new"
        );
        assert!(keys[0].is_published(at(179)));
        assert!(!keys[0].is_published(at(180)));
        assert!(active_key(&keys, Algorithm::EdDSA, at(150)).is_none());
        assert!(!format!("{:?}", keys[0]).contains("[48, 2, 3]"));
    }
}
