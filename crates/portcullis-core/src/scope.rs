//! Scopes (RFC 6749 §3.3) and their negotiation.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a `scope` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// A scope token with a character outside NQCHAR, or an empty token (RFC 6749 §3.3).
    #[error("malformed scope")]
    Malformed,
    /// A scope this client may not ask for (or that this server does not know).
    #[error("scope not allowed: {0}")]
    NotAllowed(String),
}

/// A set of scope tokens: order-free and without duplicates (RFC 6749 §3.3).
///
/// Kept in its canonical wire form (sorted, without duplicates, space-delimited) behind an
/// `Arc`: records, responses and clients all carry scopes, and a copy costs a reference
/// count. The empty set holds nothing.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(Option<Arc<str>>);

impl ScopeSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a space-delimited `scope` value. Each token is `1*NQCHAR`, i.e. printable ASCII
    /// but `"` and `\` (RFC 6749 §3.3); tokens are separated by exactly one space.
    pub fn parse(value: &str) -> Result<Self, ScopeError> {
        let mut canonical = true;
        let mut previous: Option<&str> = None;
        for token in value.split(' ') {
            check_token(token)?;
            canonical &= previous.is_none_or(|p| p < token);
            previous = Some(token);
        }
        if canonical {
            return Ok(Self(Some(value.into())));
        }
        Ok(Self::from_unsorted(value.split(' ').collect()))
    }

    /// Builds a set from tokens, validating each.
    pub fn from_tokens<I, S>(tokens: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let tokens: Vec<String> = tokens.into_iter().map(Into::into).collect();
        for token in &tokens {
            check_token(token)?;
        }
        Ok(Self::from_unsorted(
            tokens.iter().map(String::as_str).collect(),
        ))
    }

    /// The set of valid `tokens`, in any order and maybe repeated.
    fn from_unsorted(mut tokens: Vec<&str>) -> Self {
        tokens.sort_unstable();
        tokens.dedup();
        Self::from_sorted(tokens.into_iter())
    }

    /// The set of valid `tokens`, already sorted and without duplicates.
    fn from_sorted<'a>(mut tokens: impl Iterator<Item = &'a str>) -> Self {
        let Some(first) = tokens.next() else {
            return Self::new();
        };
        let mut canonical = String::from(first);
        for token in tokens {
            canonical.push(' ');
            canonical.push_str(token);
        }
        Self(Some(canonical.into()))
    }

    /// Whether the set holds `scope`.
    pub fn contains(&self, scope: &str) -> bool {
        self.iter().any(|s| s == scope)
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.first_missing_from(other).is_none()
    }

    /// The scopes in both sets.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        if self == other {
            return self.clone();
        }
        Self::from_sorted(self.iter().filter(|s| other.contains(s)))
    }

    /// The scopes in either set.
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        if other.is_subset(self) {
            return self.clone();
        }
        Self::from_unsorted(self.iter().chain(other.iter()).collect())
    }

    /// The first scope of `self` not in `other`.
    pub fn first_missing_from<'a>(&'a self, other: &ScopeSet) -> Option<&'a str> {
        self.iter().find(|s| !other.contains(s))
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The scope tokens, in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.as_deref().into_iter().flat_map(|s| s.split(' '))
    }

    /// The space-delimited wire form (empty for the empty set).
    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or_default()
    }
}

/// `1*NQCHAR` (RFC 6749 §3.3).
fn check_token(token: &str) -> Result<(), ScopeError> {
    if token.is_empty() || !token.bytes().all(is_nqchar) {
        return Err(ScopeError::Malformed);
    }
    Ok(())
}

fn is_nqchar(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

impl fmt::Display for ScopeSet {
    /// The space-delimited wire form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ScopeSet").field(&self.as_str()).finish()
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
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
    fn debug_shows_the_canonical_scope() {
        assert_eq!(format!("{:?}", set("b a")), r#"ScopeSet("a b")"#);
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
        /// The canonical string behaves as the set it stands for: parsing any order with
        /// repeats, membership, subsets, intersection and union agree with a `BTreeSet`.
        #[test]
        fn behaves_as_a_sorted_set(
            a in proptest::collection::vec("[a-c]{1,2}", 0..6),
            b in proptest::collection::vec("[a-c]{1,2}", 0..6),
        ) {
            use std::collections::BTreeSet;
            let (ma, mb): (BTreeSet<_>, BTreeSet<_>) =
                (a.iter().cloned().collect(), b.iter().cloned().collect());
            let parse = |v: &Vec<String>| if v.is_empty() {
                ScopeSet::new()
            } else {
                ScopeSet::parse(&v.join(" ")).unwrap()
            };
            let (sa, sb) = (parse(&a), parse(&b));
            let items = |s: &ScopeSet| s.iter().map(str::to_owned).collect::<Vec<_>>();
            prop_assert_eq!(items(&sa), ma.iter().cloned().collect::<Vec<_>>());
            prop_assert_eq!(&sa, &ScopeSet::from_tokens(ma.clone()).unwrap());
            prop_assert_eq!(sa.is_empty(), ma.is_empty());
            prop_assert_eq!(sa.is_subset(&sb), ma.is_subset(&mb));
            prop_assert_eq!(
                items(&sa.intersection(&sb)),
                ma.intersection(&mb).cloned().collect::<Vec<_>>()
            );
            prop_assert_eq!(
                items(&sa.union(&sb)),
                ma.union(&mb).cloned().collect::<Vec<_>>()
            );
            for t in ["a", "b", "ab", "cc", "d"] {
                prop_assert_eq!(sa.contains(t), ma.contains(t));
            }
            if !sa.is_empty() {
                prop_assert_eq!(ScopeSet::parse(&sa.to_string()).unwrap(), sa.clone());
            }
        }

        /// Negotiation then consent never grants more than requested ∩ allowed ∩ consented.
        #[test]
        fn never_grants_more_than_requested_allowed_and_consented(
            requested in proptest::collection::btree_set("[a-e]", 0..5),
            allowed in proptest::collection::btree_set("[a-e]", 0..5),
            consented in proptest::collection::btree_set("[a-e]", 0..5),
        ) {
            let requested = ScopeSet::from_tokens(requested).unwrap();
            let allowed = ScopeSet::from_tokens(allowed).unwrap();
            let consented = ScopeSet::from_tokens(consented).unwrap();
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
