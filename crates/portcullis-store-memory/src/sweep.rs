//! Record maps swept for dead entries a few at a time, so no insert pays for a full scan.

use std::hash::Hash;
use std::ops::Deref;

use indexmap::IndexMap;
use portcullis_core::UnixTime;

/// A record with an end of life.
pub(crate) trait Expires {
    /// Whether the record is dead at `now`.
    fn expired(&self, now: UnixTime) -> bool;
}

/// A remember-until time (a revoked family's) is dead once reached.
impl Expires for UnixTime {
    fn expired(&self, now: UnixTime) -> bool {
        *self <= now
    }
}

/// An [`IndexMap`] with a sweep cursor that comes round: a dense vector of entries (new ones
/// appended at its end) behind a small table of indices.
///
/// Invariant: the entries before the cursor, and only they, have been examined in the
/// current round. An insert appends after the cursor; an unexamined entry that a removal
/// or a replacement would leave before it is swapped with the last examined entry, and the
/// cursor steps back onto it. So a round examines every entry once, and a dead entry stays at most about
/// one round. Reads go through `Deref`; writes through the methods here.
#[derive(Debug)]
pub(crate) struct Swept<K, V> {
    map: IndexMap<K, V>,
    cursor: usize,
}

impl<K, V> Default for Swept<K, V> {
    fn default() -> Self {
        Self {
            map: IndexMap::default(),
            cursor: 0,
        }
    }
}

impl<K, V> Deref for Swept<K, V> {
    type Target = IndexMap<K, V>;

    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl<K: Hash + Eq, V> Swept<K, V> {
    /// Inserts or replaces; a replaced value is unexamined wherever it sits.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        let (i, old) = self.map.insert_full(key, value);
        if old.is_some() {
            self.unexamined_at(i);
        }
        old
    }

    /// The value under `key`, inserting `make()` first if there is none.
    pub(crate) fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        self.map.entry(key).or_insert_with(make)
    }

    /// The value under `key`, to change in place: it keeps its place in the round, so the
    /// change must not make it die sooner.
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    /// Removes `key`'s entry (the last entry takes its place).
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let (i, _, value) = self.map.swap_remove_full(key)?;
        let len = self.map.len();
        // The entry now at `i` came from `len`; it is unexamined if that is the cursor or past.
        if i < len && len >= self.cursor {
            self.unexamined_at(i);
        }
        self.cursor = self.cursor.min(len);
        Some(value)
    }

    /// Keeps the entries `keep` accepts, all examined at once; starts a new round.
    pub(crate) fn retain(&mut self, keep: impl FnMut(&K, &mut V) -> bool) {
        self.map.retain(keep);
        self.cursor = 0;
    }

    /// Examines up to `budget` entries from the cursor on, removing those `dead` condemns and
    /// handing each to `removed`. A removal brings the last entry to the cursor, where it is
    /// examined next. Past the end a new round starts at 0, and the sweep stops where it
    /// started: it examines each entry at most once, whatever the budget.
    pub(crate) fn sweep(
        &mut self,
        budget: usize,
        mut dead: impl FnMut(&mut V) -> bool,
        mut removed: impl FnMut(K, V),
    ) {
        let (start, mut wrapped) = (self.cursor, false);
        for _ in 0..budget {
            if self.cursor >= self.map.len() {
                if wrapped {
                    return;
                }
                (self.cursor, wrapped) = (0, true);
            }
            if wrapped && self.cursor >= start {
                return;
            }
            let Some((_, value)) = self.map.get_index_mut(self.cursor) else {
                return;
            };
            if dead(value) {
                if let Some((k, v)) = self.map.swap_remove_index(self.cursor) {
                    removed(k, v);
                }
            } else {
                self.cursor += 1;
            }
        }
    }

    /// Moves the unexamined entry at `i`, if before the cursor, under the cursor stepped back.
    fn unexamined_at(&mut self, i: usize) {
        if i < self.cursor {
            self.cursor -= 1;
            self.map.swap_indices(i, self.cursor);
        }
    }
}

impl<K: Hash + Eq, V: Expires> Swept<K, V> {
    /// [`Swept::sweep`], removing the entries expired at `now`.
    pub(crate) fn sweep_expired(&mut self, budget: usize, now: UnixTime) {
        self.sweep(budget, |v| v.expired(now), |_, _| {});
    }

    /// Removes every entry expired at `now`; returns how many went.
    pub(crate) fn purge(&mut self, now: UnixTime) -> u64 {
        let before = self.map.len();
        self.retain(|_, v| !v.expired(now));
        (before - self.map.len()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    fn sweep(m: &mut Swept<u32, UnixTime>, budget: usize, now: u64) -> Vec<u32> {
        let mut gone = Vec::new();
        m.sweep(budget, |t| t.expired(at(now)), |k, _| gone.push(k));
        gone
    }

    #[test]
    fn a_sweep_examines_at_most_its_budget_and_comes_round() {
        let mut m = Swept::default();
        for k in 0..10 {
            m.insert(k, at(5));
        }
        assert!(sweep(&mut m, 4, 4).is_empty());
        assert_eq!(m.cursor, 4);
        assert_eq!(sweep(&mut m, 3, 5).len(), 3);
        assert_eq!((m.len(), m.cursor), (7, 4));
        // A large budget comes round to where it started, examining each entry once.
        let mut examined = 0;
        m.sweep(
            100,
            |_| {
                examined += 1;
                false
            },
            |_, _| {},
        );
        assert_eq!((examined, m.cursor), (7, 4));
        // Everything left is dead: round the end and back to the start.
        assert_eq!(sweep(&mut m, 100, 5).len(), 7);
        assert!(m.is_empty());
    }

    #[test]
    fn an_entry_moved_behind_the_cursor_is_still_examined_this_round() {
        let mut m = Swept::default();
        for k in 0..6 {
            m.insert(k, at(10));
        }
        m.insert(6, at(1));
        assert!(sweep(&mut m, 4, 1).is_empty());
        // Removing 1 would move the dead 6 behind the cursor, out of this round.
        assert_eq!(m.remove(&1), Some(at(10)));
        assert_eq!(sweep(&mut m, 1, 1), [6]);
        // A value replaced behind the cursor is unexamined too.
        m.insert(0, at(1));
        assert_eq!(sweep(&mut m, 1, 1), [0]);
    }
}
