//! The embedded default store: everything in process memory behind one mutex.
//!
//! Suited to a single process and to tests; its records vanish with the process. Every
//! operation takes the lock once, so `consume_code`, `rotate_refresh_token` and
//! `check_and_insert` are atomic by construction.
//!
//! # Purging
//! Expired records are purged whole on demand ([`MemoryStore::purge_all`], or each trait's
//! `purge_expired`), and automatically by an incremental sweep that bounds the work of
//! every insert, however many records the store holds. The records that grow with traffic
//! (codes, grants, access and refresh tokens, rotation graces, revoked families,
//! replay-cache entries, pushed authorization requests, device authorizations) are kept in insertion-ordered maps, each with a cursor: every
//! [`SWEEP_EVERY`] inserts, a sweep step examines the next [`SWEEP_BATCH`] entries of each
//! map (2 per insert and map), removes the expired ones and comes round to the start at the
//! end. Expiry is judged against the latest time an insert has carried, never a clock. The
//! interned shapes of access tokens are swept alike. Clients and signing keys, few, are
//! purged whole once the steps since their last purge have examined, per map, as many
//! entries as they number (a pause in proportion to their number). Sessions live in a map
//! and behind a lock of their own, swept alike every [`SWEEP_EVERY`] session inserts.
//!
//! A round over a map of n entries examines each entry once. It takes n/2 inserts when the
//! map receives none of them, and up to n when it receives them all (entries appended
//! during a round are swept in that round, unless their table, see Growth, is already
//! done: then in the next); an expired record stays at most about one round. In a steady
//! state, as many records expire as are inserted and each stays dead half a round on
//! average, so a map holds about twice as many records as are live at once,
//! plus the up to [`SWEEP_EVERY`] inserted since the last step (2.0–2.1× in simulations
//! with fixed and with random lifetimes). That is an estimate, not a hard bound: records
//! expiring just after the cursor passed them stay a whole round.
//!
//! Access tokens, the most numerous records, are kept compact (about 310 bytes each at
//! 10^6 live tokens).
//!
//! # Growth
//! A hash table grows by doubling, moving every entry in the insert that crossed its
//! capacity: in a table of 10^6 entries, tens of milliseconds under the lock. So every map
//! that grows with traffic (the swept maps and the indices beside them: grants by owner,
//! device authorizations by user code, sessions by subject) is split into 128 tables by a
//! hash of the key, each growing alone: a resize moves 1/128 of the map, and reads the
//! stored hashes rather than hashing the keys again (`shards.rs`). A sweep round goes
//! through the tables in turn. Memory per entry is that of one table.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use access::{AccessEntry, Shapes};
use async_trait::async_trait;
use portcullis_core::{
    AccessTokenRecord, Client, CodeRecord, DeviceAuthorizationRecord, FamilyId, Grant, GrantId,
    Issuer, KeyRecord, PrivateKeyEnvelope, PushedRequestRecord, RefreshTokenRecord, TokenHash,
    UnixTime,
};
use portcullis_store::{
    AccessTokenStore, ClientStore, CodeStore, ConsumeOutcome, DeviceAuthorizationStore,
    DeviceInsertOutcome, GrantStore, KeyStore, PushedRequestStore, RefreshState, RefreshTokenStore,
    ReplayCache, ReplayNamespace, ReplayOutcome, RotateOutcome, RotationGrace, StoreError,
    StoreResult,
};

use shards::ShardedMap;
use sweep::{Expires, Swept};

mod access;
mod sessions;
mod shards;
mod sweep;

/// Inserts between two sweep steps (see the crate docs).
pub const SWEEP_EVERY: usize = 64;

/// Entries of each record map one sweep step examines, at most (see the crate docs).
pub const SWEEP_BATCH: usize = 128;

/// In-memory implementation of every store trait.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    sessions: Mutex<sessions::Sessions>,
}

/// Who holds a grant: issuer, subject, client.
type Owner = (Issuer, String, String);

#[derive(Debug, Default)]
struct State {
    /// By issuer, then by `client_id`: found without building a key, and handed out shared.
    clients: HashMap<Issuer, HashMap<String, Arc<Client>>>,
    codes: Swept<TokenHash, CodeEntry>,
    grants: Swept<GrantId, Grant>,
    grants_by_owner: ShardedMap<Owner, Vec<GrantId>>,
    /// Revoked families (random, issuer-unique ids) and until when to remember them.
    revoked_families: Swept<(Issuer, FamilyId), UnixTime>,
    access: Swept<TokenHash, AccessEntry>,
    access_shapes: Shapes,
    refresh: Swept<TokenHash, RefreshEntry>,
    /// Grace periods of rotated refresh tokens, by the rotated token's hash.
    graces: Swept<TokenHash, GraceEntry>,
    keys: HashMap<(Issuer, String), KeyRecord>,
    /// Replay-cache entries and until when each is live.
    replays: Swept<(Issuer, ReplayNamespace, TokenHash), UnixTime>,
    /// Pushed authorization requests not yet taken.
    pushed: Swept<TokenHash, PushedRequestRecord>,
    /// Device authorizations not yet taken, by device code hash.
    devices: Swept<TokenHash, DeviceAuthorizationRecord>,
    /// The device code hash of each user code hash in `devices`.
    device_user_codes: ShardedMap<TokenHash, TokenHash>,
    inserts_since_sweep: usize,
    /// Entries examined per map since clients and keys were last purged.
    swept_since_clients_and_keys: usize,
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

impl Expires for CodeEntry {
    fn expired(&self, now: UnixTime) -> bool {
        self.record.expires_at <= now
    }
}

impl Expires for PushedRequestRecord {
    fn expired(&self, now: UnixTime) -> bool {
        self.expires_at <= now
    }
}

impl Expires for DeviceAuthorizationRecord {
    fn expired(&self, now: UnixTime) -> bool {
        self.expires_at <= now
    }
}

impl Expires for RefreshEntry {
    fn expired(&self, now: UnixTime) -> bool {
        self.record.expires_at <= now
    }
}

impl Expires for GraceEntry {
    fn expired(&self, now: UnixTime) -> bool {
        self.grace.until <= now
    }
}

impl Expires for Grant {
    fn expired(&self, now: UnixTime) -> bool {
        self.expires_at <= now
    }
}

impl Expires for KeyRecord {
    fn expired(&self, now: UnixTime) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

impl Expires for Client {
    fn expired(&self, now: UnixTime) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
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

    fn sessions(&self) -> StoreResult<MutexGuard<'_, sessions::Sessions>> {
        self.sessions
            .lock()
            .map_err(|_| StoreError::new("memory store lock poisoned"))
    }

    /// Purges every aggregate at once; returns how many records went.
    pub fn purge_all(&self, now: UnixTime) -> StoreResult<u64> {
        let purged = self.lock()?.purge(now);
        Ok(purged + self.sessions()?.purge(now))
    }

    /// How many records the store holds in all (for tests and metrics).
    pub fn len(&self) -> StoreResult<usize> {
        let len = self.lock()?.len();
        Ok(len + self.sessions()?.len())
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> StoreResult<bool> {
        Ok(self.len()? == 0)
    }
}

impl State {
    fn len(&self) -> usize {
        self.clients_len()
            + self.codes.len()
            + self.grants.len()
            + self.revoked_families.len()
            + self.access.len()
            + self.refresh.len()
            + self.graces.len()
            + self.keys.len()
            + self.replays.len()
            + self.pushed.len()
            + self.devices.len()
    }

    fn clients_len(&self) -> usize {
        self.clients.values().map(HashMap::len).sum()
    }

    /// Counts an insert made at `at`; every [`SWEEP_EVERY`] inserts, takes a sweep step.
    fn note_insert(&mut self, at: UnixTime) {
        self.latest_seen = self.latest_seen.max(at);
        self.inserts_since_sweep += 1;
        if self.inserts_since_sweep >= SWEEP_EVERY {
            self.inserts_since_sweep = 0;
            self.sweep_step();
        }
    }

    /// Examines the next [`SWEEP_BATCH`] entries of each record map, removing the expired.
    fn sweep_step(&mut self) {
        let (now, n) = (self.latest_seen, SWEEP_BATCH);
        self.codes.sweep_expired(n, now);
        let by_owner = &mut self.grants_by_owner;
        self.grants
            .sweep(n, |g| g.expired(now), |_, g| unindex_grant(by_owner, &g));
        self.revoked_families.sweep_expired(n, now);
        self.access.sweep_expired(n, now);
        self.access_shapes.prune_some(n);
        self.refresh.sweep_expired(n, now);
        self.graces.sweep_expired(n, now);
        self.replays.sweep_expired(n, now);
        self.pushed.sweep_expired(n, now);
        let user_codes = &mut self.device_user_codes;
        self.devices.sweep(
            n,
            |d| d.expired(now),
            |_, d| {
                user_codes.remove(&d.user_code_hash);
            },
        );
        self.swept_since_clients_and_keys += n;
        if self.swept_since_clients_and_keys >= self.clients_len() + self.keys.len() {
            self.swept_since_clients_and_keys = 0;
            self.purge_clients(now);
            self.purge_keys(now);
        }
    }

    fn purge(&mut self, now: UnixTime) -> u64 {
        self.purge_clients(now)
            + self.codes.purge(now)
            + self.purge_grants(now)
            + self.purge_access(now)
            + self.purge_refresh(now)
            + self.purge_keys(now)
            + self.replays.purge(now)
            + self.pushed.purge(now)
            + self.purge_devices(now)
    }

    fn purge_devices(&mut self, now: UnixTime) -> u64 {
        let purged = self.devices.purge(now);
        let devices = &self.devices;
        self.device_user_codes
            .retain(|_, device| devices.contains_key(device));
        purged
    }

    /// The device authorization of `issuer` with the user code `user_code_hash`.
    fn device_by_user_code(
        &mut self,
        issuer: &Issuer,
        user_code_hash: &TokenHash,
    ) -> Option<&mut DeviceAuthorizationRecord> {
        let hash = self.device_user_codes.get(user_code_hash)?;
        self.devices.get_mut(hash).filter(|d| d.issuer == *issuer)
    }

    fn purge_keys(&mut self, now: UnixTime) -> u64 {
        let before = self.keys.len();
        self.keys.retain(|_, k| !k.expired(now));
        (before - self.keys.len()) as u64
    }

    fn purge_clients(&mut self, now: UnixTime) -> u64 {
        let mut purged = 0;
        self.clients.retain(|_, of_issuer| {
            let before = of_issuer.len();
            of_issuer.retain(|_, c| !c.expired(now));
            purged += (before - of_issuer.len()) as u64;
            !of_issuer.is_empty()
        });
        purged
    }

    fn purge_grants(&mut self, now: UnixTime) -> u64 {
        let purged = self.revoked_families.purge(now) + self.grants.purge(now);
        let grants = &self.grants;
        self.grants_by_owner.retain(|_, ids| {
            ids.retain(|id| grants.contains_key(id));
            !ids.is_empty()
        });
        purged
    }

    fn purge_access(&mut self, now: UnixTime) -> u64 {
        let purged = self.access.purge(now);
        self.access_shapes.prune();
        purged
    }

    fn purge_refresh(&mut self, now: UnixTime) -> u64 {
        self.refresh.purge(now) + self.graces.purge(now)
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

/// Takes a removed grant's id off its owner's list, and the owner off when none is left.
fn unindex_grant(by_owner: &mut ShardedMap<Owner, Vec<GrantId>>, grant: &Grant) {
    let owner = (
        grant.issuer.clone(),
        grant.subject.clone(),
        grant.client_id.clone(),
    );
    if let Some(ids) = by_owner.get_mut(&owner) {
        ids.retain(|id| *id != grant.id);
        if ids.is_empty() {
            by_owner.remove(&owner);
        }
    }
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn find_client(
        &self,
        issuer: &Issuer,
        client_id: &str,
        now: UnixTime,
    ) -> StoreResult<Option<Arc<Client>>> {
        let s = self.lock()?;
        Ok(s.clients
            .get(issuer)
            .and_then(|of_issuer| of_issuer.get(client_id))
            .filter(|c| !c.expired(now))
            .cloned())
    }

    async fn save_client(&self, issuer: &Issuer, client: &Client) -> StoreResult<()> {
        self.lock()?
            .clients
            .entry(issuer.clone())
            .or_default()
            .insert(client.id.clone(), Arc::new(client.clone()));
        Ok(())
    }

    async fn delete_client(&self, issuer: &Issuer, client_id: &str) -> StoreResult<bool> {
        let mut s = self.lock()?;
        let Some(of_issuer) = s.clients.get_mut(issuer) else {
            return Ok(false);
        };
        let deleted = of_issuer.remove(client_id).is_some();
        if of_issuer.is_empty() {
            s.clients.remove(issuer);
        }
        Ok(deleted)
    }

    async fn list_clients(&self, issuer: &Issuer, now: UnixTime) -> StoreResult<Vec<Arc<Client>>> {
        let s = self.lock()?;
        let mut clients: Vec<Arc<Client>> = s
            .clients
            .get(issuer)
            .into_iter()
            .flat_map(HashMap::values)
            .filter(|c| !c.expired(now))
            .cloned()
            .collect();
        clients.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(clients)
    }

    /// Compares and swaps under the store's one lock.
    async fn replace_client(
        &self,
        issuer: &Issuer,
        current: Option<&Client>,
        replacement: &Client,
    ) -> StoreResult<bool> {
        let mut s = self.lock()?;
        let stored = s.clients.get(issuer).and_then(|of| of.get(&replacement.id));
        if stored.map(|c| &**c) != current {
            return Ok(false);
        }
        s.clients
            .entry(issuer.clone())
            .or_default()
            .insert(replacement.id.clone(), Arc::new(replacement.clone()));
        Ok(true)
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
        if entry.record.issuer != *issuer || entry.expired(now) {
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
        Ok(self.lock()?.codes.purge(now))
    }
}

/// Taking a pushed request removes it, under the store's one lock.
#[async_trait]
impl PushedRequestStore for MemoryStore {
    async fn insert_pushed_request(&self, record: &PushedRequestRecord) -> StoreResult<()> {
        let mut s = self.lock()?;
        s.pushed.insert(record.hash, record.clone());
        s.note_insert(record.issued_at);
        Ok(())
    }

    async fn consume_pushed_request(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<PushedRequestRecord>> {
        let mut s = self.lock()?;
        let live = s
            .pushed
            .get(hash)
            .is_some_and(|r| r.issuer == *issuer && !r.expired(now));
        Ok(if live { s.pushed.remove(hash) } else { None })
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        Ok(self.lock()?.pushed.purge(now))
    }
}

/// Every step under the store's one lock; taking an authorization removes it.
#[async_trait]
impl DeviceAuthorizationStore for MemoryStore {
    async fn insert_device_authorization(
        &self,
        record: &DeviceAuthorizationRecord,
    ) -> StoreResult<DeviceInsertOutcome> {
        let mut s = self.lock()?;
        if s.devices.contains_key(&record.hash) {
            return Err(StoreError::new("device authorization already stored"));
        }
        if s.device_user_codes.contains_key(&record.user_code_hash) {
            return Ok(DeviceInsertOutcome::UserCodeTaken);
        }
        s.devices.insert(record.hash, record.clone());
        s.device_user_codes
            .insert(record.user_code_hash, record.hash);
        s.note_insert(record.issued_at);
        Ok(DeviceInsertOutcome::Inserted)
    }

    async fn find_device_authorization_by_user_code(
        &self,
        issuer: &Issuer,
        user_code_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        let mut s = self.lock()?;
        Ok(s.device_by_user_code(issuer, user_code_hash)
            .filter(|d| d.awaits_user(now))
            .cloned())
    }

    async fn answer_device_authorization(
        &self,
        issuer: &Issuer,
        user_code_hash: &TokenHash,
        approval: Option<&CodeRecord>,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let mut s = self.lock()?;
        let Some(d) = s.device_by_user_code(issuer, user_code_hash) else {
            return Ok(false);
        };
        let Some(answered) = d.answered(approval, now) else {
            return Ok(false);
        };
        *d = answered;
        Ok(true)
    }

    async fn poll_device_authorization(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        let mut s = self.lock()?;
        let Some(d) = s.devices.get_mut(hash).filter(|d| d.issuer == *issuer) else {
            return Ok(None);
        };
        let before = d.clone();
        if !d.expired(now) {
            *d = before.polled(now);
        }
        Ok(Some(before))
    }

    async fn take_device_authorization(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        let mut s = self.lock()?;
        let approved = s
            .devices
            .get(hash)
            .is_some_and(|d| d.issuer == *issuer && d.may_be_taken(now));
        if !approved {
            return Ok(None);
        }
        let taken = s.devices.remove(hash);
        if let Some(d) = &taken {
            s.device_user_codes.remove(&d.user_code_hash);
        }
        Ok(taken)
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        Ok(self.lock()?.purge_devices(now))
    }
}

#[async_trait]
impl GrantStore for MemoryStore {
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

    async fn touch_grant(
        &self,
        issuer: &Issuer,
        id: &GrantId,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<bool> {
        let mut s = self.lock()?;
        let Some(grant) = s
            .grants
            .get_mut(id)
            .filter(|g| g.issuer == *issuer && !g.revoked)
        else {
            return Ok(false);
        };
        grant.last_used_at = now;
        grant.expires_at = grant.expires_at.max(expires_at);
        Ok(true)
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

    async fn revoke_grants_of_client(&self, issuer: &Issuer, client_id: &str) -> StoreResult<u64> {
        let mut s = self.lock()?;
        let mut revoked = 0;
        s.grants.retain(|_, g| {
            if g.issuer == *issuer && g.client_id == client_id && !g.revoked {
                g.revoked = true;
                revoked += 1;
            }
            true
        });
        Ok(revoked)
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
            .get_or_insert_with((issuer.clone(), family_id.clone()), || until);
        *entry = (*entry).max(until);
        Ok(())
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        Ok(self.lock()?.purge_grants(now))
    }
}

#[async_trait]
impl AccessTokenStore for MemoryStore {
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

    async fn revoke_access_token(&self, issuer: &Issuer, hash: &TokenHash) -> StoreResult<bool> {
        let mut s = self.lock()?;
        let found = s.access.get(hash).is_some_and(|t| t.issuer() == issuer);
        if found {
            s.access.remove(hash);
        }
        Ok(found)
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        Ok(self.lock()?.purge_access(now))
    }
}

#[async_trait]
impl RefreshTokenStore for MemoryStore {
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
        Ok(self.lock()?.purge_refresh(now))
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
    /// Keys live in this process only.
    fn persists(&self) -> bool {
        false
    }

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
                k.retire(retires_at, expires_at);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn reseal_key(
        &self,
        issuer: &Issuer,
        kid: &str,
        old: &PrivateKeyEnvelope,
        new: &PrivateKeyEnvelope,
    ) -> StoreResult<bool> {
        let mut s = self.lock()?;
        Ok(s.keys
            .get_mut(&(issuer.clone(), kid.to_owned()))
            .is_some_and(|k| k.reseal(old, new)))
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        Ok(self.lock()?.purge_keys(now))
    }
}

#[async_trait]
impl ReplayCache for MemoryStore {
    async fn check_and_insert(
        &self,
        issuer: &Issuer,
        namespace: ReplayNamespace,
        id: &TokenHash,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<ReplayOutcome> {
        let mut s = self.lock()?;
        let key = (issuer.clone(), namespace, *id);
        if expires_at <= now || s.replays.get(&key).is_some_and(|e| !e.expired(now)) {
            return Ok(ReplayOutcome::Replayed);
        }
        s.replays.insert(key, expires_at);
        s.note_insert(now);
        Ok(ReplayOutcome::Fresh)
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        Ok(self.lock()?.replays.purge(now))
    }
}

/// The trait's defaults: each call is one step under its table's lock, in the order the
/// defaults give, and nothing outlives the process that a crash could leave half-written.
impl portcullis_store::TokenIssuance for MemoryStore {}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_testkit::{Fixtures, TestClock};

    #[tokio::test]
    async fn a_swept_grant_leaves_no_owner_behind() {
        let (s, f, c) = (
            MemoryStore::new(),
            Fixtures::new(b"owners"),
            TestClock::default(),
        );
        let issuer = Fixtures::issuer();
        let (dead, live) = (
            f.grant(&issuer, "alice", "c", c.at(0), c.at(10)),
            f.grant(&issuer, "bob", "c", c.at(0), c.at(2000)),
        );
        s.save_grant(&dead).await.unwrap();
        s.save_grant(&live).await.unwrap();
        // The insert that completes SWEEP_EVERY takes a step.
        for _ in 2..SWEEP_EVERY {
            let token = f.client_access_token(&issuer, "c", c.at(1000), c.at(2000));
            s.insert_access_token(&token).await.unwrap();
        }
        let state = s.lock().unwrap();
        assert!(!state.grants.contains_key(&dead.id));
        let owners: Vec<_> = state.grants_by_owner.iter().map(|(o, _)| o).collect();
        assert_eq!(owners, [&(issuer, "bob".to_owned(), "c".to_owned())]);
    }
}
