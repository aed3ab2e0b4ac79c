//! Record maps swept for dead entries a few at a time, so no insert pays for a full scan.

use std::hash::Hash;

use indexmap::IndexMap;
use portcullis_core::UnixTime;

use crate::shards::{self, ShardOf};

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

/// A record map swept a few entries at a time, split into [`SHARDS`] tables (see
/// [`crate::shards`]) that a round visits in turn.
///
/// Invariant: in a round, the tables before the current one are done and those after it
/// wait, their cursors at 0; in the current table, the entries before its cursor, and only
/// they, have been examined. A table left behind starts over at 0, for the next round: its
/// entries inserted meanwhile wait for that round. So a round examines every entry once,
/// and a dead entry stays at most about one round. Writes go through the methods here.
#[derive(Debug)]
pub(crate) struct Swept<K, V> {
    shards: Box<[Shard<K, V>]>,
    of: ShardOf,
    /// The table the sweep is in.
    current: usize,
    /// Entries in all the tables.
    len: usize,
}

/// One table of a [`Swept`] map: an [`IndexMap`] (a dense vector of entries, new ones
/// appended at its end, behind a small table of indices) with a cursor.
///
/// An insert appends after the cursor; an unexamined entry that a removal or a replacement
/// would leave before it is swapped with the last examined entry, and the cursor steps back
/// onto it.
#[derive(Debug)]
struct Shard<K, V> {
    map: IndexMap<K, V>,
    cursor: usize,
}

impl<K, V> Default for Shard<K, V> {
    fn default() -> Self {
        Self {
            map: IndexMap::default(),
            cursor: 0,
        }
    }
}

impl<K, V> Default for Swept<K, V> {
    fn default() -> Self {
        Self {
            shards: shards::empty(),
            of: ShardOf::default(),
            current: 0,
            len: 0,
        }
    }
}

impl<K: Hash + Eq, V> Swept<K, V> {
    fn shard(&self, key: &K) -> &IndexMap<K, V> {
        &self.shards[self.of.index(key, self.shards.len())].map
    }

    fn shard_mut(&mut self, key: &K) -> &mut Shard<K, V> {
        &mut self.shards[self.of.index(key, self.shards.len())]
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.shard(key).get(key)
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.shard(key).contains_key(key)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Inserts or replaces; a replaced value is unexamined wherever it sits.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        let shard = self.shard_mut(&key);
        let (i, old) = shard.map.insert_full(key, value);
        if old.is_some() {
            shard.unexamined_at(i);
        } else {
            self.len += 1;
        }
        old
    }

    /// The value under `key`, inserting `make()` first if there is none.
    pub(crate) fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let len = &mut self.len;
        let i = self.of.index(&key, self.shards.len());
        self.shards[i].map.entry(key).or_insert_with(|| {
            *len += 1;
            make()
        })
    }

    /// The value under `key`, to change in place: it keeps its place in the round, so the
    /// change must not make it die sooner.
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.shard_mut(key).map.get_mut(key)
    }

    /// Removes `key`'s entry (the last entry of its table takes its place).
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let removed = self.shard_mut(key).remove(key);
        self.len -= usize::from(removed.is_some());
        removed
    }

    /// Keeps the entries `keep` accepts, all examined at once; starts a new round.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        for shard in &mut self.shards {
            shard.map.retain(&mut keep);
            shard.cursor = 0;
        }
        self.current = 0;
        self.len = self.shards.iter().map(|s| s.map.len()).sum();
    }

    /// Examines up to `budget` entries from the cursor on, removing those `dead` condemns and
    /// handing each to `removed`. A removal brings the last entry of its table to the
    /// cursor, where it is examined next. Past a table's end the sweep goes on in the next
    /// one, and past the last table a new round starts at the first; the sweep stops where
    /// it started: it examines each entry at most once, whatever the budget.
    pub(crate) fn sweep(
        &mut self,
        mut budget: usize,
        mut dead: impl FnMut(&mut V) -> bool,
        mut removed: impl FnMut(K, V),
    ) {
        let (start, start_cursor) = (self.current, self.shards[self.current].cursor);
        let mut left_start = false;
        while budget > 0 && self.len > 0 {
            let came_round = left_start && self.current == start;
            let until = if came_round { start_cursor } else { usize::MAX };
            let shard = &mut self.shards[self.current];
            let before = shard.map.len();
            budget -= shard.sweep(until, budget, &mut dead, &mut removed);
            self.len -= before - shard.map.len();
            if came_round || shard.cursor < shard.map.len() {
                return;
            }
            shard.cursor = 0;
            self.current = (self.current + 1) % self.shards.len();
            left_start = true;
        }
    }
}

impl<K: Hash + Eq, V> Shard<K, V> {
    /// Removes `key`'s entry (the last entry takes its place).
    fn remove(&mut self, key: &K) -> Option<V> {
        let (i, _, value) = self.map.swap_remove_full(key)?;
        let len = self.map.len();
        // The entry now at `i` came from `len`; it is unexamined if that is the cursor or past.
        if i < len && len >= self.cursor {
            self.unexamined_at(i);
        }
        self.cursor = self.cursor.min(len);
        Some(value)
    }

    /// Examines up to `budget` entries from the cursor, short of `until` and of the end, as
    /// [`Swept::sweep`] does; returns how many it examined.
    fn sweep(
        &mut self,
        until: usize,
        budget: usize,
        dead: &mut impl FnMut(&mut V) -> bool,
        removed: &mut impl FnMut(K, V),
    ) -> usize {
        let mut examined = 0;
        while examined < budget && self.cursor < until {
            let Some((_, value)) = self.map.get_index_mut(self.cursor) else {
                break;
            };
            examined += 1;
            if dead(value) {
                if let Some((k, v)) = self.map.swap_remove_index(self.cursor) {
                    removed(k, v);
                }
            } else {
                self.cursor += 1;
            }
        }
        examined
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
        let before = self.len();
        self.retain(|_, v| !v.expired(now));
        (before - self.len()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shards::SHARDS;

    fn at(secs: u64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    /// One table: the cursor's rules alone.
    fn one_table() -> Swept<u32, UnixTime> {
        Swept {
            shards: vec![Shard::default()].into_boxed_slice(),
            of: ShardOf::default(),
            current: 0,
            len: 0,
        }
    }

    fn sweep(m: &mut Swept<u32, UnixTime>, budget: usize, now: u64) -> Vec<u32> {
        let mut gone = Vec::new();
        m.sweep(budget, |t| t.expired(at(now)), |k, _| gone.push(k));
        gone
    }

    /// The keys a sweep of `budget` examines, removing none.
    fn examined(m: &mut Swept<u32, u32>, budget: usize) -> Vec<u32> {
        let mut seen = Vec::new();
        m.sweep(
            budget,
            |v| {
                seen.push(*v);
                false
            },
            |_, _| {},
        );
        seen
    }

    #[test]
    fn a_sweep_examines_at_most_its_budget_and_comes_round() {
        let mut m = one_table();
        for k in 0..10 {
            m.insert(k, at(5));
        }
        assert!(sweep(&mut m, 4, 4).is_empty());
        assert_eq!(m.shards[0].cursor, 4);
        assert_eq!(sweep(&mut m, 3, 5).len(), 3);
        assert_eq!((m.len(), m.shards[0].cursor), (7, 4));
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
        assert_eq!((examined, m.shards[0].cursor), (7, 4));
        // Everything left is dead: round the end and back to the start.
        assert_eq!(sweep(&mut m, 100, 5).len(), 7);
        assert!(m.is_empty());
    }

    #[test]
    fn an_entry_moved_behind_the_cursor_is_still_examined_this_round() {
        let mut m = one_table();
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

    /// Entries survive every table's resizes, and spread over all the tables.
    #[test]
    fn entries_survive_growth_across_the_tables() {
        let mut m = Swept::default();
        let n = 64 * SHARDS as u32;
        for k in 0..n {
            assert_eq!(m.insert(k, k + 1), None);
        }
        assert_eq!(m.len(), n as usize);
        assert!((0..n).all(|k| m.get(&k) == Some(&(k + 1))));
        assert!(m.shards.iter().all(|s| !s.map.is_empty()));
        *m.get_or_insert_with(n, || 0) += 1;
        assert_eq!(m.remove(&0), Some(1));
        assert!(!m.contains_key(&0) && m.get(&n) == Some(&1));
    }

    /// Rounds go through every table: each entry examined once a round, whatever the
    /// budgets, and a sweep with budget to spare stops where it started.
    #[test]
    fn a_round_examines_every_entry_of_every_table_once() {
        let mut m = Swept::default();
        let n = 10 * SHARDS as u32;
        for k in 0..n {
            m.insert(k, k);
        }
        // Sweep in uneven steps, part way into a table.
        let mut seen = examined(&mut m, 7);
        while seen.len() + 13 < n as usize {
            seen.extend(examined(&mut m, 13));
        }
        let rest = n as usize - seen.len();
        seen.extend(examined(&mut m, rest));
        seen.sort_unstable();
        assert_eq!(seen, (0..n).collect::<Vec<_>>());
        // A budget larger than the map, from the middle of a table: each entry once.
        examined(&mut m, 5);
        let mut all = examined(&mut m, 10 * n as usize);
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
    }

    /// A sweep removes dead entries from every table, and an entry inserted in a table
    /// the round has left is examined in the next round.
    #[test]
    fn dead_entries_go_from_every_table() {
        let mut m = Swept::default();
        let n = 10 * SHARDS as u32;
        for k in 0..n {
            m.insert(k, at(u64::from(k % 2) * 100));
        }
        let mut gone = sweep(&mut m, n as usize, 1);
        gone.sort_unstable();
        assert_eq!(gone, (0..n).step_by(2).collect::<Vec<_>>());
        assert_eq!(m.len(), n as usize / 2);
        // Half a round, then a dead entry in every table: the next full round takes them.
        sweep(&mut m, n as usize / 4, 1);
        for k in n..n + 4 * SHARDS as u32 {
            m.insert(k, at(0));
        }
        let budget = 2 * m.len();
        assert_eq!(sweep(&mut m, budget, 1).len(), 4 * SHARDS);
        assert_eq!(m.len(), n as usize / 2);
    }
}
