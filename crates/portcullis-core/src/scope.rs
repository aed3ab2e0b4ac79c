//! Scopes (RFC 6749 §3.3) and their negotiation.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a `scope` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// A scope token with a character outside NQCHAR, or an empty token (RFC 6749 §3.3).
    #[error("malformed scope")]
    Malformed,
    /// A scope this client may not ask for (or that this server does not know).
    #[error("scope not allowed: {0}")]
    NotAllowed(String),
}

/// A set of scope tokens: order-free and without duplicates (RFC 6749 §3.3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a space-delimited `scope` value. Each token is `1*NQCHAR`, i.e. printable ASCII
    /// but `"` and `\` (RFC 6749 §3.3); tokens are separated by exactly one space.
    pub fn parse(value: &str) -> Result<Self, ScopeError> {
        let mut set = BTreeSet::new();
        for token in value.split(' ') {
            if token.is_empty() || !token.bytes().all(is_nqchar) {
                return Err(ScopeError::Malformed);
            }
            set.insert(token.to_owned());
        }
        Ok(Self(set))
    }

    /// Builds a set from tokens, validating each.
    pub fn from_tokens<I, S>(tokens: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut set = BTreeSet::new();
        for token in tokens {
            let token = token.into();
            if token.is_empty() || !token.bytes().all(is_nqchar) {
                return Err(ScopeError::Malformed);
            }
            set.insert(token);
        }
        Ok(Self(set))
    }

    /// Whether the set holds `scope`.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The scopes in both sets.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.intersection(&other.0).cloned().collect())
    }

    /// The scopes in either set.
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.union(&other.0).cloned().collect())
    }

    /// The first scope of `self` not in `other`.
    pub fn first_missing_from<'a>(&'a self, other: &ScopeSet) -> Option<&'a str> {
        self.0
            .iter()
            .find(|s| !other.0.contains(*s))
            .map(String::as_str)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scope tokens, in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

fn is_nqchar(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

impl fmt::Display for ScopeSet {
    /// The space-delimited wire form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Ok(ScopeSet::new());
        }
        ScopeSet::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Decides the scopes of a request: what was asked (or the client's default when `scope` was
/// omitted, RFC 6749 §3.3), refused as `invalid_scope` if any of it is not allowed for the
/// client. Narrowing to what the user consents to happens at approval, by intersection.
pub fn negotiate_scopes(
    requested: Option<&ScopeSet>,
    allowed: &ScopeSet,
    default: &ScopeSet,
) -> Result<ScopeSet, ScopeError> {
    let asked = requested.unwrap_or(default);
    match asked.first_missing_from(allowed) {
        Some(s) => Err(ScopeError::NotAllowed(s.to_owned())),
        None => Ok(asked.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(s: &str) -> ScopeSet {
        ScopeSet::parse(s).unwrap()
    }

    #[test]
    fn parses_and_prints_in_canonical_order() {
        assert_eq!(set("b a b").to_string(), "a b");
    }

    #[test]
    fn refuses_malformed_tokens() {
        for bad in ["", " a", "a  b", "a\"", "a\\b", "a\tb", "é"] {
            assert_eq!(ScopeSet::parse(bad), Err(ScopeError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn default_applies_when_omitted_and_disallowed_is_refused() {
        let allowed = set("read write");
        let default = set("read");
        assert_eq!(negotiate_scopes(None, &allowed, &default).unwrap(), default);
        assert_eq!(
            negotiate_scopes(Some(&set("read admin")), &allowed, &default),
            Err(ScopeError::NotAllowed("admin".into()))
        );
    }

    proptest! {
        /// Negotiation then consent never grants more than requested ∩ allowed ∩ consented.
        #[test]
        fn never_grants_more_than_requested_allowed_and_consented(
            requested in proptest::collection::btree_set("[a-e]", 0..5),
            allowed in proptest::collection::btree_set("[a-e]", 0..5),
            consented in proptest::collection::btree_set("[a-e]", 0..5),
        ) {
            let requested = ScopeSet(requested);
            let allowed = ScopeSet(allowed);
            let consented = ScopeSet(consented);
            if let Ok(asked) = negotiate_scopes(Some(&requested), &allowed, &ScopeSet::new()) {
                let granted = asked.intersection(&consented);
                prop_assert!(granted.is_subset(&requested));
                prop_assert!(granted.is_subset(&allowed));
                prop_assert!(granted.is_subset(&consented));
            } else {
                prop_assert!(!requested.is_subset(&allowed));
            }
        }
    }
}
