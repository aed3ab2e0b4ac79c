//! Checking a user's password: against its PBKDF2 hash, in constant time, on the engine's
//! bounded blocking pool (never on an async worker), and against a decoy when the user is
//! unknown, so that this answer takes as long as a wrong password and does not reveal which
//! usernames exist (RFC 6819 §5.1.4.2.2). Throttle the attempt first ([`LoginThrottle`]).
//!
//! [`LoginThrottle`]: crate::LoginThrottle

use std::fmt;
use std::num::NonZeroU32;

use portcullis::core::{ClientSecretHash, RandomError};
use portcullis::BlockingPool;
use ring::rand::SecureRandom;

/// Checks passwords on a blocking pool, with a decoy for unknown users.
#[derive(Clone)]
pub struct PasswordCheck {
    decoy: ClientSecretHash,
    pool: BlockingPool,
}

impl fmt::Debug for PasswordCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordCheck").finish_non_exhaustive()
    }
}

impl PasswordCheck {
    /// Checks passwords on `pool` (share the provider's, so one bound covers client secrets
    /// and passwords); the decoy is a hash of a random password with `iterations`, the
    /// iterations of the real hashes.
    pub fn new(
        iterations: NonZeroU32,
        rng: &dyn SecureRandom,
        pool: BlockingPool,
    ) -> Result<Self, RandomError> {
        let mut seed = [0u8; 16];
        rng.fill(&mut seed).map_err(|_| RandomError)?;
        let decoy = ClientSecretHash::pbkdf2(&format!("{seed:?}"), iterations, rng)?;
        Ok(Self { decoy, pool })
    }

    /// Whether `password` matches `hash`, the user's (`None` for an unknown user: then the
    /// decoy is checked, and the answer is `false`).
    pub async fn verify(&self, hash: Option<&ClientSecretHash>, password: &str) -> bool {
        match hash {
            Some(hash) => self.pool.verify_secret(hash, password).await,
            None => {
                let _ = self.pool.verify_secret(&self.decoy, password).await;
                false
            }
        }
    }
}

impl PasswordCheck {
    /// [`PasswordCheck::verify`] on the calling thread, for a caller already off the async
    /// workers (the engine runs a `PasswordAuthenticator` on its blocking pool).
    pub fn verify_blocking(&self, hash: Option<&ClientSecretHash>, password: &str) -> bool {
        match hash {
            Some(hash) => hash.verify(password),
            None => {
                let _ = self.decoy.verify(password);
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    #[tokio::test]
    async fn only_the_right_password_of_a_known_user_passes() {
        let rng = SystemRandom::new();
        let it = NonZeroU32::new(1000).unwrap();
        let check = PasswordCheck::new(it, &rng, BlockingPool::default()).unwrap();
        let hash = ClientSecretHash::pbkdf2("builder", it, &rng).unwrap();
        assert!(check.verify(Some(&hash), "builder").await);
        assert!(!check.verify(Some(&hash), "Builder").await);
        assert!(!check.verify(None, "builder").await);
        assert!(check.verify_blocking(Some(&hash), "builder"));
        assert!(!check.verify_blocking(Some(&hash), "Builder"));
        assert!(!check.verify_blocking(None, "builder"));
        assert_eq!(format!("{check:?}"), "PasswordCheck { .. }");
    }
}
