//! Maps split into [`SHARDS`] tables by a hash of the key, so that no insert waits on a
//! resize of the whole map.
//!
//! A hash table grows by doubling: it allocates a table twice the size and moves every entry
//! into it, all in the insert that crossed its capacity. In one table of 10^6 entries that is
//! tens of milliseconds, under the store's lock, while every request waits. Split into
//! [`SHARDS`] tables that each grow alone, a resize moves 1/[`SHARDS`] of the entries. The
//! memory per entry does not change: each table keeps the same load as one big table would.
//!
//! The tables are [`IndexMap`]s, which keep each key's hash beside it: a resize reads the
//! hashes from a dense vector instead of hashing every key again (for keys of several
//! strings, a cache miss or more each).

use std::hash::{BuildHasher, Hash};

use indexmap::map::{Entry, IndexMap};

/// How many tables a map is split into.
pub(crate) const SHARDS: usize = 128;

/// Picks a key's table: a hash of its own, independent of the tables' hashes (a shard's
/// keys then still spread over all of its table's buckets). A fast, randomly seeded hash:
/// the tables' own SipHash guards them against chosen keys; this one only spreads keys
/// over the tables. foldhash's `quality` variant, and the hash's high bits: the `fast`
/// variant's low bits left tables empty for one seed in eight.
#[derive(Debug, Default)]
pub(crate) struct ShardOf(foldhash::quality::SeedableRandomState);

impl ShardOf {
    /// The index of `key`'s table among `tables` (multiply-shift: the hash's high bits).
    pub(crate) fn index<K: Hash>(&self, key: &K, tables: usize) -> usize {
        ((u128::from(self.0.hash_one(key)) * tables as u128) >> 64) as usize
    }
}

/// `SHARDS` empty `T`s.
pub(crate) fn empty<T: Default>() -> Box<[T]> {
    (0..SHARDS).map(|_| T::default()).collect()
}

/// A map split into [`SHARDS`] tables, in no particular order.
#[derive(Debug)]
pub(crate) struct ShardedMap<K, V> {
    shards: Box<[IndexMap<K, V>]>,
    of: ShardOf,
}

impl<K, V> Default for ShardedMap<K, V> {
    fn default() -> Self {
        Self {
            shards: empty(),
            of: ShardOf::default(),
        }
    }
}

impl<K: Hash + Eq, V> ShardedMap<K, V> {
    fn shard(&self, key: &K) -> &IndexMap<K, V> {
        &self.shards[self.of.index(key, SHARDS)]
    }

    fn shard_mut(&mut self, key: &K) -> &mut IndexMap<K, V> {
        &mut self.shards[self.of.index(key, SHARDS)]
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.shard(key).get(key)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.shard_mut(key).get_mut(key)
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.shard(key).contains_key(key)
    }

    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.shard_mut(&key).insert(key, value)
    }

    pub(crate) fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        self.shard_mut(&key).entry(key)
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        self.shard_mut(key).swap_remove(key)
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        for shard in &mut self.shards {
            shard.retain(&mut keep);
        }
    }

    /// Every entry, table after table.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.shards.iter().flatten()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(IndexMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Consecutive keys spread over every table whatever the seed (with foldhash's `fast`
    /// variant and the low bits, one seed in eight left some empty).
    #[test]
    fn consecutive_keys_reach_every_table_under_any_seed() {
        for seed in 0..2_000u64 {
            let shared = Box::leak(Box::new(foldhash::SharedSeed::from_u64(seed)));
            let of = ShardOf(foldhash::quality::SeedableRandomState::with_seed(
                seed, shared,
            ));
            let mut hit = [false; SHARDS];
            for k in 0..16 * SHARDS as u32 {
                hit[of.index(&k, SHARDS)] = true;
            }
            assert!(hit.iter().all(|h| *h), "seed {seed}");
        }
    }

    /// Entries survive the tables' resizes, spread over every table, and go when removed.
    #[test]
    fn entries_survive_growth_and_spread_over_every_table() {
        let mut m = ShardedMap::default();
        let n = 64 * SHARDS as u32;
        for k in 0..n {
            assert_eq!(m.insert(k, k * 2), None);
        }
        assert_eq!(m.len(), n as usize);
        assert!((0..n).all(|k| m.get(&k) == Some(&(k * 2))));
        assert!(m.shards.iter().all(|s| !s.is_empty()));
        *m.entry(7).or_insert(0) += 1;
        assert_eq!(m.get(&7), Some(&15));
        m.retain(|k, _| k % 2 == 0);
        assert_eq!(m.len(), n as usize / 2);
        assert_eq!(m.remove(&8), Some(16));
        assert!(!m.contains_key(&8) && !m.contains_key(&7));
        assert_eq!(m.iter().count(), n as usize / 2 - 1);
    }
}
