//! Identifiers of grants and token families. They are not secrets: they name records.

use std::fmt;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};

use crate::secret::RandomError;

/// A fresh random identifier: 128 bits, base64url. Unique, not secret.
pub fn random_id(rng: &dyn SecureRandom) -> Result<String, RandomError> {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes).map_err(|_| RandomError)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

macro_rules! random_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh random identifier (128 bits).
            pub fn generate(rng: &dyn SecureRandom) -> Result<Self, RandomError> {
                random_id(rng).map(Self)
            }

            /// Wraps an identifier read back from a store.
            pub fn from_stored(value: String) -> Self {
                Self(value)
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

random_id!(
    /// Identifies a grant: what one subject gave one client.
    GrantId
);
random_id!(
    /// Identifies a token family: the tokens descending from one code redemption.
    /// Reuse of a code or of a rotated refresh token revokes the whole family.
    FamilyId
);
