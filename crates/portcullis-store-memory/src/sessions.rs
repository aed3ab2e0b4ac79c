//! [`SessionStore`]: sessions in a map of their own, behind a lock of their own (a sign-in
//! never waits for token traffic), swept like the other records.

use std::collections::HashSet;

use async_trait::async_trait;
use portcullis_core::{Issuer, SessionRecord, TokenHash, UnixTime};
use portcullis_store::{SessionStore, StoreError, StoreResult};

use crate::shards::ShardedMap;
use crate::sweep::{Expires, Swept};
use crate::{MemoryStore, SWEEP_BATCH, SWEEP_EVERY};

/// Who signed in where: (issuer, subject).
type Owner = (Issuer, String);

/// The sessions, and each subject's, for signing out everywhere.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    by_hash: Swept<TokenHash, SessionRecord>,
    by_owner: ShardedMap<Owner, HashSet<TokenHash>>,
    inserts_since_sweep: usize,
    /// The latest `created_at` an insert carried: what the sweep judges expiry against.
    latest_seen: UnixTime,
}

impl Expires for SessionRecord {
    fn expired(&self, now: UnixTime) -> bool {
        self.expires_at <= now
    }
}

fn owner(r: &SessionRecord) -> Owner {
    (r.issuer.clone(), r.subject.clone())
}

/// Takes a removed session off its owner's set, and the owner off when none is left.
fn unindex(by_owner: &mut ShardedMap<Owner, HashSet<TokenHash>>, r: &SessionRecord) {
    let key = owner(r);
    if let Some(hashes) = by_owner.get_mut(&key) {
        hashes.remove(&r.hash);
        if hashes.is_empty() {
            by_owner.remove(&key);
        }
    }
}

impl Sessions {
    pub(crate) fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Removes every session expired at `now`; returns how many went.
    pub(crate) fn purge(&mut self, now: UnixTime) -> u64 {
        let before = self.by_hash.len();
        let by_owner = &mut self.by_owner;
        self.by_hash.retain(|_, r| {
            let dead = r.expired(now);
            if dead {
                unindex(by_owner, r);
            }
            !dead
        });
        (before - self.by_hash.len()) as u64
    }

    /// Counts an insert; every [`SWEEP_EVERY`] inserts, examines the next [`SWEEP_BATCH`]
    /// sessions and removes the expired (see the crate docs).
    fn note_insert(&mut self, at: UnixTime) {
        self.latest_seen = self.latest_seen.max(at);
        self.inserts_since_sweep += 1;
        if self.inserts_since_sweep >= SWEEP_EVERY {
            self.inserts_since_sweep = 0;
            let (now, by_owner) = (self.latest_seen, &mut self.by_owner);
            self.by_hash.sweep(
                SWEEP_BATCH,
                |r| r.expired(now),
                |_, r| unindex(by_owner, &r),
            );
        }
    }

    fn remove(&mut self, hash: &TokenHash) {
        if let Some(r) = self.by_hash.remove(hash) {
            unindex(&mut self.by_owner, &r);
        }
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn insert_session(&self, record: &SessionRecord) -> StoreResult<()> {
        let mut s = self.sessions()?;
        if s.by_hash.contains_key(&record.hash) {
            return Err(StoreError::new("session already stored"));
        }
        s.by_hash.insert(record.hash, record.clone());
        s.by_owner
            .entry(owner(record))
            .or_default()
            .insert(record.hash);
        s.note_insert(record.created_at);
        Ok(())
    }

    async fn find_session(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<SessionRecord>> {
        let s = self.sessions()?;
        Ok(s.by_hash
            .get(hash)
            .filter(|r| r.issuer == *issuer && !r.expired(now))
            .cloned())
    }

    async fn delete_session(&self, issuer: &Issuer, hash: &TokenHash) -> StoreResult<bool> {
        let mut s = self.sessions()?;
        let found = s.by_hash.get(hash).is_some_and(|r| r.issuer == *issuer);
        if found {
            s.remove(hash);
        }
        Ok(found)
    }

    async fn delete_sessions_of_subject(&self, issuer: &Issuer, subject: &str) -> StoreResult<u64> {
        let mut s = self.sessions()?;
        let hashes = s
            .by_owner
            .remove(&(issuer.clone(), subject.to_owned()))
            .unwrap_or_default();
        for hash in &hashes {
            s.by_hash.remove(hash);
        }
        Ok(hashes.len() as u64)
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        Ok(self.sessions()?.purge(now))
    }
}
