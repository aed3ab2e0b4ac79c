//! Client-secret rotation and expiry: a confidential client may hold two secrets during a
//! rollover window (the new one and the one it replaced), and a secret may expire
//! (`client_secret_expires_at`, RFC 7591 §3.2.1).

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::client::ClientKind;
use crate::client_secret::ClientSecretHash;
use crate::time::UnixTime;

/// The longest rollover a rotation may grant the replaced secret: 30 days.
pub const MAX_SECRET_ROLLOVER: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// A secret replaced by a rotation, still accepted until `valid_until` (exclusive), so that
/// the client's deployments can move to the new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSecret {
    /// The replaced secret's hash.
    pub hash: ClientSecretHash,
    /// From then on it is refused.
    pub valid_until: UnixTime,
}

/// Why a client's secret could not be rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretRotationError {
    /// A public client has no secret to rotate.
    #[error("only a confidential client has a secret to rotate")]
    NotConfidential,
    /// The rollover exceeds [`MAX_SECRET_ROLLOVER`].
    #[error("the rollover may be at most 30 days")]
    RolloverTooLong,
    /// The new secret's expiry is not after now.
    #[error("the new secret's expiry must be in the future")]
    ExpiryNotInFuture,
}

impl ClientKind {
    /// Replaces a confidential client's secret by `new_secret` at `now`. The replaced secret
    /// stays valid for `rollover` (zero: refused at once), never beyond its own expiry; a
    /// secret an earlier rotation left valid is dropped, so at most two are ever accepted.
    /// The new secret expires at `expires_at` (`None`: never).
    pub fn rotate_secret(
        &mut self,
        new_secret: ClientSecretHash,
        rollover: Duration,
        expires_at: Option<UnixTime>,
        now: UnixTime,
    ) -> Result<(), SecretRotationError> {
        let Self::Confidential {
            secret,
            previous_secret,
            secret_expires_at,
            ..
        } = self
        else {
            return Err(SecretRotationError::NotConfidential);
        };
        if rollover > MAX_SECRET_ROLLOVER {
            return Err(SecretRotationError::RolloverTooLong);
        }
        if expires_at.is_some_and(|t| t <= now) {
            return Err(SecretRotationError::ExpiryNotInFuture);
        }
        let deadline = now.plus(rollover);
        let valid_until = secret_expires_at.map_or(deadline, |t| t.min(deadline));
        let replaced = std::mem::replace(secret, new_secret);
        *previous_secret = (valid_until > now).then_some(PreviousSecret {
            hash: replaced,
            valid_until,
        });
        *secret_expires_at = expires_at;
        Ok(())
    }

    /// When the current secret expires (`client_secret_expires_at`, RFC 7591 §3.2.1):
    /// `None` for never, and for a client without a secret.
    pub fn secret_expires_at(&self) -> Option<UnixTime> {
        match self {
            Self::Confidential {
                secret_expires_at, ..
            } => *secret_expires_at,
            _ => None,
        }
    }

    /// The stored secrets accepted at `now` (RFC 6749 §2.3.1): the current one unless it
    /// expired (RFC 7591 §3.2.1), and the previous one within its rollover. Empty for a
    /// public client.
    pub fn secrets_accepted_at(
        &self,
        now: UnixTime,
    ) -> (Option<&ClientSecretHash>, Option<&ClientSecretHash>) {
        match self {
            Self::Confidential {
                secret,
                previous_secret,
                secret_expires_at,
                ..
            } => (
                secret_expires_at.is_none_or(|t| now < t).then_some(secret),
                previous_secret
                    .as_ref()
                    .filter(|p| now < p.valid_until)
                    .map(|p| &p.hash),
            ),
            _ => (None, None),
        }
    }
}

/// A presented secret and the stored hashes it may match ([`ClientKind::secrets_accepted_at`]),
/// for the caller to compare ([`SecretCheck::verify`]), off its async workers when a hash
/// [is stretched](SecretCheck::is_stretched). [`SecretCheck::into_owned`] moves it to another
/// thread. Its `Debug` shows no secret.
#[derive(Clone)]
pub struct SecretCheck<'a> {
    presented: Cow<'a, str>,
    current: Option<Cow<'a, ClientSecretHash>>,
    previous: Option<Cow<'a, ClientSecretHash>>,
}

impl fmt::Debug for SecretCheck<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretCheck")
            .field("current", &self.current)
            .field("previous", &self.previous)
            .finish_non_exhaustive()
    }
}

impl<'a> SecretCheck<'a> {
    /// `presented` against the secrets `kind` accepts at `now`; `None` when it accepts none
    /// (a public client, or every secret expired): nothing to compare, authentication fails.
    pub fn new(presented: &'a str, kind: &'a ClientKind, now: UnixTime) -> Option<Self> {
        match kind.secrets_accepted_at(now) {
            (None, None) => None,
            (current, previous) => Some(Self {
                presented: Cow::Borrowed(presented),
                current: current.map(Cow::Borrowed),
                previous: previous.map(Cow::Borrowed),
            }),
        }
    }

    /// Whether comparing costs a deliberate key stretch (a PBKDF2 hash), which a server runs
    /// off its async workers.
    pub fn is_stretched(&self) -> bool {
        [&self.current, &self.previous]
            .into_iter()
            .flatten()
            .any(|h| h.is_stretched())
    }

    /// Whether the presented secret matches an accepted one. Each accepted hash is compared,
    /// in constant time, whichever matches: the time taken does not say which one did.
    pub fn verify(&self) -> bool {
        let presented = self.presented.as_ref();
        let current = self.current.as_ref().is_some_and(|h| h.verify(presented));
        let previous = self.previous.as_ref().is_some_and(|h| h.verify(presented));
        current | previous
    }

    /// The same check, owning what it borrowed.
    pub fn into_owned(self) -> SecretCheck<'static> {
        SecretCheck {
            presented: Cow::Owned(self.presented.into_owned()),
            current: self.current.map(|h| Cow::Owned(h.into_owned())),
            previous: self.previous.map(|h| Cow::Owned(h.into_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use ring::rand::SystemRandom;

    use super::*;

    const NOW: UnixTime = UnixTime::from_secs(1_000);

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn sha(secret: &str) -> ClientSecretHash {
        ClientSecretHash::sha256_of_generated(&secret.repeat(43)).unwrap()
    }

    fn rotated(kind: &ClientKind, to: &str, rollover: u64, expires: Option<u64>) -> ClientKind {
        let mut kind = kind.clone();
        let expires = expires.map(|s| NOW.plus(secs(s)));
        kind.rotate_secret(sha(to), secs(rollover), expires, NOW)
            .unwrap();
        kind
    }

    fn accepted(
        kind: &ClientKind,
        at: u64,
    ) -> (Option<ClientSecretHash>, Option<ClientSecretHash>) {
        let (current, previous) = kind.secrets_accepted_at(NOW.plus(secs(at)));
        (current.cloned(), previous.cloned())
    }

    #[test]
    fn the_replaced_secret_lasts_the_rollover_and_no_longer_than_its_expiry() {
        let a = ClientKind::confidential(sha("a"));
        let b = rotated(&a, "b", 60, None);
        assert_eq!(
            b,
            ClientKind::Confidential {
                secret: sha("b"),
                previous_secret: Some(PreviousSecret {
                    hash: sha("a"),
                    valid_until: NOW.plus(secs(60)),
                }),
                secret_expires_at: None,
                method: None,
            }
        );
        assert_eq!(accepted(&b, 59), (Some(sha("b")), Some(sha("a"))));
        assert_eq!(accepted(&b, 60), (Some(sha("b")), None));
        // A rollover of zero refuses the old secret at once.
        assert_eq!(
            accepted(&rotated(&a, "b", 0, None), 0),
            (Some(sha("b")), None)
        );
        // The old secret's own expiry bounds its rollover.
        let expiring = rotated(&a, "b", 0, Some(30));
        let c = rotated(&expiring, "c", 60, Some(1_000));
        assert_eq!(accepted(&c, 29), (Some(sha("c")), Some(sha("b"))));
        assert_eq!(accepted(&c, 30), (Some(sha("c")), None));
        assert_eq!(accepted(&c, 999), (Some(sha("c")), None));
        assert_eq!(accepted(&c, 1_000), (None, None), "expired");
        assert_eq!(c.secret_expires_at(), Some(NOW.plus(secs(1_000))));
        assert_eq!(b.secret_expires_at(), None);
        assert_eq!(ClientKind::Public.secret_expires_at(), None);
        // At most two: a second rotation drops the first one's rollover.
        let d = rotated(&b, "d", 60, None);
        assert_eq!(accepted(&d, 0), (Some(sha("d")), Some(sha("b"))));
    }

    #[test]
    fn a_secret_that_has_expired_is_not_carried_over() {
        let mut kind = ClientKind::Confidential {
            secret: sha("a"),
            previous_secret: None,
            secret_expires_at: Some(NOW),
            method: None,
        };
        assert_eq!(accepted(&kind, 0), (None, None));
        kind.rotate_secret(sha("b"), secs(60), None, NOW).unwrap();
        assert_eq!(accepted(&kind, 0), (Some(sha("b")), None));
    }

    #[test]
    fn rotation_refusals() {
        let a = ClientKind::confidential(sha("a"));
        let rotate = |kind: &ClientKind, rollover: Duration, expires: Option<UnixTime>| {
            let mut kind = kind.clone();
            kind.rotate_secret(sha("b"), rollover, expires, NOW)
                .map(|()| kind)
        };
        assert_eq!(
            rotate(&ClientKind::Public, secs(0), None),
            Err(SecretRotationError::NotConfidential)
        );
        assert_eq!(MAX_SECRET_ROLLOVER, secs(2_592_000), "30 days");
        let too_long = MAX_SECRET_ROLLOVER + secs(1);
        assert_eq!(
            rotate(&a, too_long, None),
            Err(SecretRotationError::RolloverTooLong)
        );
        let longest = rotate(&a, MAX_SECRET_ROLLOVER, None).unwrap();
        let until = NOW.plus(MAX_SECRET_ROLLOVER);
        assert!(matches!(longest, ClientKind::Confidential {
            previous_secret: Some(PreviousSecret { valid_until, .. }), ..
        } if valid_until == until));
        for past in [NOW, UnixTime::from_secs(1)] {
            assert_eq!(
                rotate(&a, secs(0), Some(past)),
                Err(SecretRotationError::ExpiryNotInFuture)
            );
        }
        let soon = NOW.plus(secs(1));
        assert!(rotate(&a, secs(0), Some(soon)).is_ok());
    }

    #[test]
    fn stored_clients_without_rotation_fields_still_load() {
        let hash = sha("a");
        let stored = format!(r#"{{"type":"confidential","secret":"{hash}"}}"#);
        let kind: ClientKind = serde_json::from_str(&stored).unwrap();
        assert_eq!(kind, ClientKind::confidential(hash));
        assert_eq!(serde_json::to_string(&kind).unwrap(), stored);
        let b = rotated(&kind, "b", 60, Some(600));
        let text = serde_json::to_string(&b).unwrap();
        assert_eq!(serde_json::from_str::<ClientKind>(&text).unwrap(), b);
    }

    #[test]
    fn a_check_compares_every_accepted_secret() {
        let (a, b) = ("a".repeat(43), "b".repeat(43));
        let rng = SystemRandom::new();
        let stretched = ClientSecretHash::pbkdf2(&a, NonZeroU32::new(100).unwrap(), &rng).unwrap();
        let mut kind = ClientKind::confidential(stretched);
        let check = |kind: &ClientKind, presented: &str, at: u64| {
            SecretCheck::new(presented, kind, NOW.plus(secs(at))).map(|c| {
                assert!(!format!("{c:?}").contains(presented), "{c:?}");
                let owned = c.clone().into_owned();
                assert_eq!(owned.verify(), c.verify());
                (c.verify(), c.is_stretched())
            })
        };
        assert_eq!(check(&kind, &a, 0), Some((true, true)));
        kind.rotate_secret(sha("b"), secs(60), None, NOW).unwrap();
        assert_eq!(check(&kind, &a, 0), Some((true, true)), "previous");
        assert_eq!(check(&kind, &b, 0), Some((true, true)), "current");
        assert_eq!(check(&kind, "wrong", 0), Some((false, true)));
        assert_eq!(check(&kind, &a, 60), Some((false, false)), "rolled over");
        assert_eq!(check(&kind, &b, 60), Some((true, false)));
        assert_eq!(check(&ClientKind::Public, &a, 0), None);
        kind.rotate_secret(sha("c"), secs(0), Some(NOW.plus(secs(5))), NOW)
            .unwrap();
        assert_eq!(check(&kind, &b, 0), Some((false, false)));
        assert_eq!(check(&kind, &"c".repeat(43), 5), None, "expired");
    }

    /// A check names what it compares (the hashes' kinds) but never the presented secret.
    #[test]
    fn debug_shows_no_secret() {
        let presented = "p".repeat(43);
        let kind = ClientKind::confidential(sha(&presented));
        let check = SecretCheck::new(&presented, &kind, NOW).unwrap();
        let debug = format!("{check:?}");
        assert!(debug.starts_with("SecretCheck { current: Some("), "{debug}");
        assert!(!debug.contains(&presented), "{debug}");
    }
}
