//! The introspection validator's memory of recent verdicts, per token.

use std::collections::{BTreeSet, HashMap};

use portcullis_core::{TokenHash, UnixTime};

use crate::TokenClaims;

/// What the authorization server said about a token: its claims, or why it is not valid.
pub(crate) type Verdict = Result<TokenClaims, &'static str>;

/// Verdicts keyed by the token's hash (never the token), each kept until its own expiry,
/// at most `capacity` of them. When full, the entry that would expire soonest goes first:
/// a flood of unknown tokens (short negative entries) displaces its own kind before the
/// valid tokens' longer entries. Expired entries are dropped on every insert; there is
/// no background task.
#[derive(Debug)]
pub(crate) struct VerdictCache {
    capacity: usize,
    entries: HashMap<TokenHash, (UnixTime, Verdict)>,
    by_expiry: BTreeSet<(UnixTime, TokenHash)>,
}

impl VerdictCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: HashMap::new(),
            by_expiry: BTreeSet::new(),
        }
    }

    /// The verdict on `token`, if one is kept and has not expired at `now`.
    pub(crate) fn get(&self, token: &TokenHash, now: UnixTime) -> Option<&Verdict> {
        self.entries
            .get(token)
            .filter(|(until, _)| now < *until)
            .map(|(_, verdict)| verdict)
    }

    /// Keeps `verdict` on `token` until `until` (not at all if that is not after `now`).
    pub(crate) fn insert(
        &mut self,
        token: TokenHash,
        verdict: Verdict,
        until: UnixTime,
        now: UnixTime,
    ) {
        if self.capacity == 0 || until <= now {
            return;
        }
        self.remove(&token);
        while let Some(&(expiry, hash)) = self.by_expiry.first() {
            if expiry > now && self.entries.len() < self.capacity {
                break;
            }
            self.remove(&hash);
        }
        self.entries.insert(token, (until, verdict));
        self.by_expiry.insert((until, token));
    }

    fn remove(&mut self, token: &TokenHash) {
        if let Some((until, _)) = self.entries.remove(token) {
            self.by_expiry.remove(&(until, *token));
        }
    }

    /// How many verdicts are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    fn h(n: u8) -> TokenHash {
        TokenHash::from_bytes([n; 32])
    }

    #[test]
    fn the_soonest_to_expire_goes_first_and_expired_ones_are_dropped() {
        let mut c = VerdictCache::new(2);
        c.insert(h(1), Err("a"), t(160), t(100));
        c.insert(h(2), Err("b"), t(105), t(100));
        c.insert(h(3), Err("c"), t(110), t(100));
        assert_eq!(c.len(), 2);
        assert!(c.get(&h(2), t(100)).is_none());
        assert_eq!(c.get(&h(1), t(100)), Some(&Err("a")));
        assert_eq!(c.get(&h(3), t(109)), Some(&Err("c")));
        assert!(c.get(&h(3), t(110)).is_none());
        // At 110 the third has expired: inserting drops it rather than the first.
        c.insert(h(4), Err("d"), t(115), t(110));
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(&h(1), t(110)), Some(&Err("a")));
        // Re-inserting a token replaces its entry.
        c.insert(h(4), Err("e"), t(120), t(110));
        assert_eq!((c.len(), c.get(&h(4), t(116))), (2, Some(&Err("e"))));
        // Nothing is kept past now, nor with no room at all.
        c.insert(h(5), Err("f"), t(110), t(110));
        assert!(c.get(&h(5), t(109)).is_none());
        let mut none = VerdictCache::new(0);
        none.insert(h(1), Err("a"), t(160), t(100));
        assert_eq!(none.len(), 0);
    }
}
