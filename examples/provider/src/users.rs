//! User accounts: passwords kept only as PBKDF2 hashes, checked in constant time; profile
//! claims handed to the engine through [`UserClaims`].

use std::collections::HashMap;
use std::num::NonZeroU32;

use portcullis::core::{ClientSecretHash, RandomError};
use portcullis::{async_trait, ClaimsError, UserClaims};
use ring::rand::SecureRandom;
use serde_json::{Map, Value};

/// A configured user.
#[derive(Debug, Clone)]
pub(crate) struct User {
    /// The sign-in name, also the subject of the tokens issued for this user.
    pub(crate) username: String,
    /// The password's PBKDF2 hash.
    pub(crate) password: ClientSecretHash,
    /// Profile claims under their OpenID Connect names (`name`, `email`, `address`, …),
    /// already checked against their types.
    pub(crate) claims: Map<String, Value>,
}

impl User {
    /// The name to greet the user with.
    pub(crate) fn display_name(&self) -> &str {
        self.claims
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(&self.username)
    }
}

/// The user directory.
pub(crate) struct Users {
    by_name: HashMap<String, User>,
    /// Checked when the username is unknown, so that answer takes as long as a wrong
    /// password and does not reveal which usernames exist (RFC 6819 §5.1.4.2.2 spirit).
    decoy: ClientSecretHash,
}

impl Users {
    pub(crate) fn new(
        users: Vec<User>,
        iterations: NonZeroU32,
        rng: &dyn SecureRandom,
    ) -> Result<Self, RandomError> {
        let mut seed = [0u8; 16];
        rng.fill(&mut seed).map_err(|_| RandomError)?;
        let decoy = ClientSecretHash::pbkdf2(&format!("{seed:?}"), iterations, rng)?;
        let by_name = users.into_iter().map(|u| (u.username.clone(), u)).collect();
        Ok(Self { by_name, decoy })
    }

    /// The user named `username`.
    pub(crate) fn get(&self, username: &str) -> Option<&User> {
        self.by_name.get(username)
    }

    /// The user, if `password` is theirs.
    pub(crate) fn authenticate(&self, username: &str, password: &str) -> Option<&User> {
        match self.by_name.get(username) {
            Some(user) => user.password.verify(password).then_some(user),
            None => {
                let _ = self.decoy.verify(password);
                None
            }
        }
    }
}

/// The engine asks for a user's claims by subject, the username here, and releases only
/// those the grant's scopes and `claims` request allow (OpenID Connect Core §5.4, §5.5).
#[async_trait]
impl UserClaims for Users {
    async fn claims(&self, subject: &str) -> Result<Map<String, Value>, ClaimsError> {
        // A user removed from the configuration has no claims left; `sub` is the engine's.
        Ok(self
            .get(subject)
            .map(|u| u.claims.clone())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    /// A directory with one user, bob (password `builder`).
    fn bob(claims: Map<String, Value>) -> Users {
        let rng = SystemRandom::new();
        let it = NonZeroU32::new(1000).unwrap();
        let user = User {
            username: "bob".into(),
            password: ClientSecretHash::pbkdf2("builder", it, &rng).unwrap(),
            claims,
        };
        Users::new(vec![user], it, &rng).unwrap()
    }

    #[test]
    fn passwords_are_checked() {
        let users = bob(Map::new());
        assert!(users.authenticate("bob", "builder").is_some());
        assert!(users.authenticate("bob", "Builder").is_none());
        assert!(users.authenticate("eve", "builder").is_none());
        assert_eq!(users.get("bob").unwrap().display_name(), "bob");
    }

    #[tokio::test]
    async fn claims_by_subject() {
        let claims: Map<String, Value> =
            serde_json::from_str(r#"{"name":"Bob","email_verified":true}"#).unwrap();
        let users = bob(claims.clone());
        assert_eq!(users.get("bob").unwrap().display_name(), "Bob");
        assert_eq!(users.claims("bob").await.unwrap(), claims);
        assert!(users.claims("eve").await.unwrap().is_empty());
    }
}
