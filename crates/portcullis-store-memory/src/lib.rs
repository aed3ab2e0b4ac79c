//! The embedded default store: everything in process memory behind one mutex.
//!
//! Suited to a single process and to tests; its records vanish with the process. Every
//! operation takes the lock once, so `consume_code` and `rotate_refresh_token` are atomic
//! by construction. Expired records are purged on demand ([`MemoryStore::purge_all`], or
//! each trait's `purge_expired`) and automatically: once the inserts since the last purge
//! reach the number of records that purge left, and at least [`AUTO_PURGE_EVERY`]. A purge
//! scans everything, so this keeps its cost per insert constant however many records are
//! live, while the store holds at most about twice as many records as were ever live at
//! once.
//!
//! Access tokens, the most numerous records, are kept compact (about 300 bytes each at
//! 10^6 live tokens).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use access::{AccessEntry, Shapes};
use async_trait::async_trait;
use portcullis_core::{
    AccessTokenRecord, Client, CodeRecord, FamilyId, Grant, GrantId, Issuer, KeyRecord,
    RefreshTokenRecord, TokenHash, UnixTime,
};
use portcullis_store::{
    ClientStore, CodeStore, ConsumeOutcome, KeyStore, RefreshState, RotateOutcome, RotationGrace,
    StoreError, StoreResult, TokenStore,
};

mod access;

/// Inserts between two automatic purges, at least (see the crate docs).
pub const AUTO_PURGE_EVERY: u64 = 1024;

/// In-memory implementation of every store trait.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    clients: HashMap<(Issuer, String), Client>,
    codes: HashMap<TokenHash, CodeEntry>,
    grants: HashMap<GrantId, Grant>,
    grants_by_owner: HashMap<(Issuer, String, String), Vec<GrantId>>,
    /// Revoked families (random, issuer-unique ids) and until when to remember them.
    revoked_families: HashMap<(Issuer, FamilyId), UnixTime>,
    access: HashMap<TokenHash, AccessEntry>,
    access_shapes: Shapes,
    refresh: HashMap<TokenHash, RefreshEntry>,
    /// Grace periods of rotated refresh tokens, by the rotated token's hash.
    graces: HashMap<TokenHash, GraceEntry>,
    keys: HashMap<(Issuer, String), KeyRecord>,
    inserts_since_purge: u64,
    /// Records the last purge left: the next automatic purge waits for as many inserts.
    left_by_last_purge: u64,
    latest_seen: UnixTime,
}

#[derive(Debug)]
struct CodeEntry {
    record: CodeRecord,
    consumed: bool,
}

#[derive(Debug)]
struct RefreshEntry {
    record: RefreshTokenRecord,
    rotated: bool,
}

#[derive(Debug)]
struct GraceEntry {
    grace: RotationGrace,
    successor: TokenHash,
    claims: u32,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> StoreResult<MutexGuard<'_, State>> {
        // A panic while holding the lock leaves the maps consistent (each operation mutates
        // them only at its end), but report it rather than guess.
        self.state
            .lock()
            .map_err(|_| StoreError::new("memory store lock poisoned"))
    }

    /// Purges every aggregate at once; returns how many records went.
    pub fn purge_all(&self, now: UnixTime) -> StoreResult<u64> {
        Ok(self.lock()?.purge(now))
    }

    /// How many records the store holds in all (for tests and metrics).
    pub fn len(&self) -> StoreResult<usize> {
        Ok(self.lock()?.len())
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> StoreResult<bool> {
        Ok(self.len()? == 0)
    }
}

impl State {
    fn len(&self) -> usize {
        self.clients.len()
            + self.codes.len()
            + self.grants.len()
            + self.revoked_families.len()
            + self.access.len()
            + self.refresh.len()
            + self.graces.len()
            + self.keys.len()
    }

    /// Counts an insert made at `at`, purging everything expired once the inserts since the
    /// last purge reach what it left, and at least [`AUTO_PURGE_EVERY`].
    fn note_insert(&mut self, at: UnixTime) {
        self.latest_seen = self.latest_seen.max(at);
        self.inserts_since_purge += 1;
        if self.inserts_since_purge >= self.left_by_last_purge.max(AUTO_PURGE_EVERY) {
            let now = self.latest_seen;
            self.purge(now);
        }
    }

    fn purge(&mut self, now: UnixTime) -> u64 {
        let purged = self.purge_clients(now)
            + self.purge_codes(now)
            + self.purge_tokens(now)
            + self.purge_keys(now);
        self.inserts_since_purge = 0;
        self.left_by_last_purge = self.len() as u64;
        purged
    }

    fn purge_keys(&mut self, now: UnixTime) -> u64 {
        let before = self.keys.len();
        self.keys
            .retain(|_, k| k.expires_at.is_none_or(|e| e > now));
        (before - self.keys.len()) as u64
    }

    fn purge_clients(&mut self, now: UnixTime) -> u64 {
        let before = self.clients.len();
        self.clients
            .retain(|_, c| c.expires_at.is_none_or(|e| e > now));
        (before - self.clients.len()) as u64
    }

    fn purge_codes(&mut self, now: UnixTime) -> u64 {
        let before = self.codes.len();
        self.codes.retain(|_, c| c.record.expires_at > now);
        (before - self.codes.len()) as u64
    }

    fn purge_tokens(&mut self, now: UnixTime) -> u64 {
        let before = self.access.len()
            + self.refresh.len()
            + self.graces.len()
            + self.grants.len()
            + self.revoked_families.len();
        self.access.retain(|_, t| t.expires_at > now);
        self.access_shapes.prune();
        self.refresh.retain(|_, t| t.record.expires_at > now);
        self.revoked_families.retain(|_, until| *until > now);
        self.graces.retain(|_, g| g.grace.until > now);
        let grants = &mut self.grants;
        grants.retain(|_, g| g.expires_at > now);
        self.grants_by_owner.retain(|_, ids| {
            ids.retain(|id| grants.contains_key(id));
            !ids.is_empty()
        });
        let after = self.access.len()
            + self.refresh.len()
            + self.graces.len()
            + self.grants.len()
            + self.revoked_families.len();
        (before - after) as u64
    }

    /// Whether a token under `grant` and `family` is dead through either.
    fn revoked_via(
        &self,
        issuer: &Issuer,
        grant: Option<&GrantId>,
        family: Option<&FamilyId>,
    ) -> bool {
        family.is_some_and(|f| {
            self.revoked_families
                .contains_key(&(issuer.clone(), f.clone()))
        }) || grant.is_some_and(|g| self.grants.get(g).is_none_or(|g| g.revoked))
    }
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn find_client(
        &self,
        issuer: &Issuer,
        client_id: &str,
        now: UnixTime,
    ) -> StoreResult<Option<Client>> {
        let s = self.lock()?;
        Ok(s.clients
            .get(&(issuer.clone(), client_id.to_owned()))
            .filter(|c| c.expires_at.is_none_or(|e| e > now))
            .cloned())
    }

    async fn save_client(&self, issuer: &Issuer, client: &Client) -> StoreResult<()> {
        self.lock()?
            .clients
            .insert((issuer.clone(), client.id.clone()), client.clone());
        Ok(())
    }

    async fn delete_client(&self, issuer: &Issuer, client_id: &str) -> StoreResult<bool> {
        Ok(self
            .lock()?
            .clients
            .remove(&(issuer.clone(), client_id.to_owned()))
            .is_some())
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        Ok(self.lock()?.purge_clients(now))
    }
}

#[async_trait]
impl CodeStore for MemoryStore {
    async fn insert_code(&self, record: &CodeRecord) -> StoreResult<()> {
        let mut s = self.lock()?;
        s.codes.insert(
            record.hash,
            CodeEntry {
                record: record.clone(),
                consumed: false,
            },
        );
        s.note_insert(record.issued_at);
        Ok(())
    }

    async fn consume_code(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<ConsumeOutcome> {
        let mut s = self.lock()?;
        let Some(entry) = s.codes.get_mut(hash) else {
            return Ok(ConsumeOutcome::Missing);
        };
        if entry.record.issuer != *issuer || entry.record.expires_at <= now {
            return Ok(ConsumeOutcome::Missing);
        }
        if entry.consumed {
            return Ok(ConsumeOutcome::AlreadyConsumed {
                grant_id: entry.record.grant_id.clone(),
                family_id: entry.record.family_id.clone(),
            });
        }
        entry.consumed = true;
        Ok(ConsumeOutcome::Consumed(Box::new(entry.record.clone())))
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        Ok(self.lock()?.purge_codes(now))
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn save_grant(&self, grant: &Grant) -> StoreResult<()> {
        let mut s = self.lock()?;
        let owner = (
            grant.issuer.clone(),
            grant.subject.clone(),
            grant.client_id.clone(),
        );
        let mut grant = grant.clone();
        // A revoked grant stays revoked, whatever a racing `save_grant` carries.
        grant.revoked |= s.grants.get(&grant.id).is_some_and(|g| g.revoked);
        if s.grants.insert(grant.id.clone(), grant.clone()).is_none() {
            s.grants_by_owner
                .entry(owner)
                .or_default()
                .push(grant.id.clone());
            s.note_insert(grant.created_at);
        }
        Ok(())
    }

    async fn find_grant(&self, issuer: &Issuer, id: &GrantId) -> StoreResult<Option<Grant>> {
        let s = self.lock()?;
        Ok(s.grants.get(id).filter(|g| g.issuer == *issuer).cloned())
    }

    async fn grants_for(
        &self,
        issuer: &Issuer,
        subject: &str,
        client_id: &str,
    ) -> StoreResult<Vec<Grant>> {
        let s = self.lock()?;
        let key = (issuer.clone(), subject.to_owned(), client_id.to_owned());
        Ok(s.grants_by_owner
            .get(&key)
            .into_iter()
            .flatten()
            .filter_map(|id| s.grants.get(id).cloned())
            .collect())
    }

    async fn grants_of_subject(&self, issuer: &Issuer, subject: &str) -> StoreResult<Vec<Grant>> {
        let s = self.lock()?;
        Ok(s.grants_by_owner
            .iter()
            .filter(|((i, sub, _), _)| i == issuer && sub == subject)
            .flat_map(|(_, ids)| ids.iter().filter_map(|id| s.grants.get(id).cloned()))
            .collect())
    }

    async fn revoke_access_token(&self, issuer: &Issuer, hash: &TokenHash) -> StoreResult<bool> {
        let mut s = self.lock()?;
        let found = s.access.get(hash).is_some_and(|t| t.issuer() == issuer);
        if found {
            s.access.remove(hash);
        }
        Ok(found)
    }

    async fn revoke_grant(&self, issuer: &Issuer, id: &GrantId) -> StoreResult<bool> {
        let mut s = self.lock()?;
        match s.grants.get_mut(id).filter(|g| g.issuer == *issuer) {
            Some(g) => {
                g.revoked = true;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn revoke_family(
        &self,
        issuer: &Issuer,
        family_id: &FamilyId,
        until: UnixTime,
    ) -> StoreResult<()> {
        let mut s = self.lock()?;
        let entry = s
            .revoked_families
            .entry((issuer.clone(), family_id.clone()))
            .or_insert(until);
        *entry = (*entry).max(until);
        Ok(())
    }

    async fn insert_access_token(&self, record: &AccessTokenRecord) -> StoreResult<()> {
        let mut s = self.lock()?;
        let entry = AccessEntry::new(record, &mut s.access_shapes)?;
        s.access.insert(record.hash, entry);
        s.note_insert(record.issued_at);
        Ok(())
    }

    async fn find_access_token(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
    ) -> StoreResult<Option<AccessTokenRecord>> {
        let s = self.lock()?;
        Ok(s.access
            .get(hash)
            .filter(|t| t.issuer() == issuer)
            .map(|t| t.record(*hash))
            .filter(|t| !s.revoked_via(issuer, t.grant_id.as_ref(), t.family_id.as_ref())))
    }

    async fn insert_refresh_token(&self, record: &RefreshTokenRecord) -> StoreResult<()> {
        let mut s = self.lock()?;
        s.refresh.insert(
            record.hash,
            RefreshEntry {
                record: record.clone(),
                rotated: false,
            },
        );
        s.note_insert(record.issued_at);
        Ok(())
    }

    async fn find_refresh_token(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
    ) -> StoreResult<Option<(RefreshTokenRecord, RefreshState)>> {
        let s = self.lock()?;
        Ok(s.refresh
            .get(hash)
            .filter(|t| t.record.issuer == *issuer)
            .map(|t| {
                let r = &t.record;
                let state = if s.revoked_via(issuer, Some(&r.grant_id), Some(&r.family_id)) {
                    RefreshState::Revoked
                } else if t.rotated {
                    RefreshState::Rotated
                } else {
                    RefreshState::Active
                };
                (r.clone(), state)
            }))
    }

    async fn rotate_refresh_token(
        &self,
        issuer: &Issuer,
        old: &TokenHash,
        successor: &RefreshTokenRecord,
        grace: Option<&RotationGrace>,
    ) -> StoreResult<RotateOutcome> {
        let mut s = self.lock()?;
        let (family, grant, rotated) = match s.refresh.get(old) {
            Some(t) if t.record.issuer == *issuer => (
                t.record.family_id.clone(),
                t.record.grant_id.clone(),
                t.rotated,
            ),
            _ => return Ok(RotateOutcome::Missing),
        };
        if rotated || s.revoked_via(issuer, Some(&grant), Some(&family)) {
            return Ok(RotateOutcome::AlreadyRotated { family_id: family });
        }
        if let Some(t) = s.refresh.get_mut(old) {
            t.rotated = true;
        }
        s.refresh.insert(
            successor.hash,
            RefreshEntry {
                record: successor.clone(),
                rotated: false,
            },
        );
        if let Some(grace) = grace {
            let entry = GraceEntry {
                grace: grace.clone(),
                successor: successor.hash,
                claims: 0,
            };
            s.graces.insert(*old, entry);
        }
        s.note_insert(successor.issued_at);
        Ok(RotateOutcome::Rotated)
    }

    async fn claim_rotation_grace(
        &self,
        issuer: &Issuer,
        old: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<String>> {
        let mut s = self.lock()?;
        let successor_current = |s: &State, hash: &TokenHash| {
            s.refresh.get(hash).is_some_and(|t| {
                let r = &t.record;
                r.issuer == *issuer
                    && !t.rotated
                    && !s.revoked_via(issuer, Some(&r.grant_id), Some(&r.family_id))
            })
        };
        let open = match s.graces.get(old) {
            Some(g) => {
                now < g.grace.until
                    && g.claims < g.grace.max_claims
                    && successor_current(&s, &g.successor)
            }
            None => false,
        };
        if !open {
            return Ok(None);
        }
        Ok(s.graces.get_mut(old).map(|g| {
            g.claims += 1;
            g.grace.sealed_answer.clone()
        }))
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        Ok(self.lock()?.purge_tokens(now))
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn insert_key(&self, key: &KeyRecord) -> StoreResult<()> {
        self.lock()?
            .keys
            .insert((key.issuer.clone(), key.kid.clone()), key.clone());
        Ok(())
    }

    async fn keys(&self, issuer: &Issuer) -> StoreResult<Vec<KeyRecord>> {
        let s = self.lock()?;
        Ok(s.keys
            .values()
            .filter(|k| k.issuer == *issuer)
            .cloned()
            .collect())
    }

    async fn retire_key(
        &self,
        issuer: &Issuer,
        kid: &str,
        retires_at: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<bool> {
        let mut s = self.lock()?;
        match s.keys.get_mut(&(issuer.clone(), kid.to_owned())) {
            Some(k) => {
                k.retires_at = Some(k.retires_at.map_or(retires_at, |r| r.min(retires_at)));
                k.expires_at = Some(k.expires_at.map_or(expires_at, |e| e.min(expires_at)));
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        Ok(self.lock()?.purge_keys(now))
    }
}
