//! User accounts: passwords kept only as PBKDF2 hashes, checked by the kit's
//! [`PasswordCheck`] (constant time, on the engine's blocking pool, a decoy for unknown
//! users); the directory of the kit's login pages ([`UserDirectory`]); profile claims
//! handed to the engine ([`UserClaims`]).

use std::collections::HashMap;
use std::num::NonZeroU32;

use portcullis::core::{ClientSecretHash, RandomError};
use portcullis::store::StoreError;
use portcullis::{
    async_trait, BlockingPool, ClaimsError, PasswordAuthenticator, PasswordLogin, UserClaims,
};
use portcullis_interaction::{PasswordCheck, TotpSecret, UserDirectory};
use ring::rand::SecureRandom;
use serde_json::{Map, Value};

/// A configured user.
#[derive(Debug, Clone)]
pub(crate) struct User {
    /// The sign-in name, also the subject of the tokens issued for this user.
    pub(crate) username: String,
    /// The password's PBKDF2 hash.
    pub(crate) password: ClientSecretHash,
    /// The second factor, if enrolled: a sign-in with a code from it reaches `MFA_ACR`.
    pub(crate) totp: Option<TotpSecret>,
    /// Profile claims under their OpenID Connect names (`name`, `email`, `address`, …),
    /// already checked against their types.
    pub(crate) claims: Map<String, Value>,
}

/// The user directory.
pub(crate) struct Users {
    by_name: HashMap<String, User>,
    /// On the provider's pool, so one bound covers client secrets and passwords.
    passwords: PasswordCheck,
}

impl Users {
    pub(crate) fn new(
        users: Vec<User>,
        iterations: NonZeroU32,
        rng: &dyn SecureRandom,
        blocking: BlockingPool,
    ) -> Result<Self, RandomError> {
        let passwords = PasswordCheck::new(iterations, rng, blocking)?;
        let by_name = users.into_iter().map(|u| (u.username.clone(), u)).collect();
        Ok(Self { by_name, passwords })
    }
}

/// The username is the subject; the greeting is the `name` claim, else the username.
#[async_trait]
impl UserDirectory for Users {
    async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<String>, StoreError> {
        let hash = self.by_name.get(username).map(|u| &u.password);
        let valid = self.passwords.verify(hash, password).await;
        Ok(valid.then(|| username.to_owned()))
    }

    async fn display_name(&self, subject: &str) -> Result<Option<String>, StoreError> {
        let user = self.by_name.get(subject);
        let name = user.map(|u| {
            u.claims
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(subject)
        });
        Ok(name.map(str::to_owned))
    }

    async fn totp_secret(&self, subject: &str) -> Result<Option<TotpSecret>, StoreError> {
        Ok(self.by_name.get(subject).and_then(|u| u.totp.clone()))
    }
}

/// The password grant's check (RFC 6749 §4.3), on the engine's blocking pool: the same
/// hashes and decoy as the login form; the username is the subject.
impl PasswordAuthenticator for Users {
    fn authenticate(&self, username: &str, password: &str) -> Option<PasswordLogin> {
        let hash = self.by_name.get(username).map(|u| &u.password);
        let valid = self.passwords.verify_blocking(hash, password);
        valid.then(|| PasswordLogin::new(username))
    }
}

/// The engine asks for a user's claims by subject, the username here, and releases only
/// those the grant's scopes and `claims` request allow (OpenID Connect Core §5.4, §5.5).
#[async_trait]
impl UserClaims for Users {
    async fn claims(&self, subject: &str) -> Result<Map<String, Value>, ClaimsError> {
        // A user removed from the configuration has no claims left; `sub` is the engine's.
        let user = self.by_name.get(subject);
        Ok(user.map(|u| u.claims.clone()).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use std::future::{poll_fn, Future};
    use std::num::NonZeroUsize;
    use std::pin::{pin, Pin};
    use std::sync::mpsc;
    use std::task::Poll;

    /// A directory with one user, bob (password `builder`), checking passwords on `pool`.
    fn bob_on(claims: Map<String, Value>, pool: BlockingPool) -> Users {
        let rng = SystemRandom::new();
        let it = NonZeroU32::new(1000).unwrap();
        let user = User {
            username: "bob".into(),
            password: ClientSecretHash::pbkdf2("builder", it, &rng).unwrap(),
            totp: None,
            claims,
        };
        Users::new(vec![user], it, &rng, pool).unwrap()
    }

    fn bob(claims: Map<String, Value>) -> Users {
        bob_on(claims, BlockingPool::default())
    }

    #[tokio::test]
    async fn passwords_are_checked() {
        let users = bob(Map::new());
        let bob = Some("bob".to_owned());
        assert_eq!(
            UserDirectory::authenticate(&users, "bob", "builder")
                .await
                .unwrap(),
            bob
        );
        assert_eq!(
            UserDirectory::authenticate(&users, "bob", "Builder")
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            UserDirectory::authenticate(&users, "eve", "builder")
                .await
                .unwrap(),
            None
        );
        assert_eq!(users.display_name("bob").await.unwrap(), bob);
        // The password grant's check: the same hashes.
        let grant = |name: &str, password: &str| {
            PasswordAuthenticator::authenticate(&users, name, password).map(|l| l.subject)
        };
        assert_eq!(grant("bob", "builder"), bob);
        assert_eq!(grant("bob", "Builder"), None);
        assert_eq!(grant("eve", "builder"), None);
        assert_eq!(users.display_name("eve").await.unwrap(), None);
    }

    /// Polls `fut` once: whether it finished at once.
    async fn finished_at_once<F: Future>(mut fut: Pin<&mut F>) -> bool {
        poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_ready())).await
    }

    #[tokio::test]
    async fn passwords_are_checked_on_the_blocking_pool() {
        let pool = BlockingPool::new(NonZeroUsize::MIN);
        let users = bob_on(Map::new(), pool.clone());
        // The pool's only place is taken until `release` is dropped.
        let (release, released) = mpsc::channel::<()>();
        let (started, running) = tokio::sync::oneshot::channel();
        let holder = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(move || {
                    started.send(()).unwrap();
                    let _ = released.recv();
                })
                .await
            }
        });
        running.await.unwrap();
        // Known and unknown users alike wait for the pool.
        let mut known = pin!(UserDirectory::authenticate(&users, "bob", "builder"));
        let mut unknown = pin!(UserDirectory::authenticate(&users, "eve", "builder"));
        assert!(!finished_at_once(known.as_mut()).await, "PBKDF2 ran inline");
        assert!(
            !finished_at_once(unknown.as_mut()).await,
            "PBKDF2 ran inline"
        );
        drop(release);
        holder.await.unwrap().unwrap();
        assert!(known.await.unwrap().is_some());
        assert!(unknown.await.unwrap().is_none());
    }

    #[tokio::test]
    async fn claims_by_subject() {
        let claims: Map<String, Value> =
            serde_json::from_str(r#"{"name":"Bob","email_verified":true}"#).unwrap();
        let users = bob(claims.clone());
        let bob = users.display_name("bob").await.unwrap();
        assert_eq!(bob.as_deref(), Some("Bob"));
        assert_eq!(users.claims("bob").await.unwrap(), claims);
        assert!(users.claims("eve").await.unwrap().is_empty());
    }
}
