//! Store scaling: issuance (inserting an access token) and introspection (finding one)
//! with a given number of live tokens, each under its own live grant.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis::core::{mint_access_token, Issuer, TokenHash};
use portcullis::store::{AccessTokenStore, GrantStore};
use portcullis_store_memory::MemoryStore;
use portcullis_store_sqlite::SqliteStore;
use ring::rand::{SecureRandom, SystemRandom};
use rusqlite::{params, Connection};
use tempfile::TempDir;
use tokio::runtime::Runtime;

use crate::fixtures::{delegated_token, Delegated, ISSUER, LIFETIME, NOW};

/// Lookups of one round step through the live tokens by this stride (a prime, so every
/// token is reached).
const STRIDE: usize = 7919;

/// The stores measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// `portcullis-store-memory`.
    Memory,
    /// `portcullis-store-sqlite`, on a database file in a temporary directory.
    Sqlite,
}

impl StoreKind {
    /// The store's name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Sqlite => "sqlite",
        }
    }
}

/// A token store holding a given number of live access tokens, and users to issue more to.
pub struct ScaledStore {
    rt: Runtime,
    rng: SystemRandom,
    tokens: Arc<dyn AccessTokenStore>,
    issuer: Issuer,
    live: Vec<TokenHash>,
    fresh: Vec<Delegated>,
    /// The hashes of a round's tokens, kept between rounds: the inserts' allocations are
    /// then the store's alone.
    issued: Vec<TokenHash>,
    cursor: usize,
    _dir: Option<TempDir>,
}

impl ScaledStore {
    /// A `kind` store holding `live` access tokens, each with its grant, and `fresh` users
    /// that each [`ScaledStore::insert_round`] issues a token to.
    ///
    /// The memory store is filled through its API. The SQLite store is filled directly, in
    /// one transaction (see `bulk_fill`), then read back through the store.
    pub fn new(kind: StoreKind, live: usize, fresh: usize) -> Self {
        let rng = SystemRandom::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let (tokens, hashes, dir): (Arc<dyn AccessTokenStore>, _, _) = match kind {
            StoreKind::Memory => {
                let store = Arc::new(MemoryStore::new());
                let hashes = rt.block_on(async {
                    let mut hashes = Vec::with_capacity(live);
                    for n in 0..live as u64 {
                        let (grant, token) = delegated_token(n, &rng);
                        store.save_grant(&grant).await.expect("grant saved");
                        store.insert_access_token(&token).await.expect("inserted");
                        hashes.push(token.hash);
                    }
                    hashes
                });
                (store, hashes, None)
            }
            StoreKind::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let path = dir.path().join("bench.db");
                let store = SqliteStore::open(&path).expect("database opened");
                let hashes = bulk_fill(&path, live, &rng);
                (Arc::new(store), hashes, Some(dir))
            }
        };
        let fresh: Vec<Delegated> = (live..live + fresh)
            .map(|n| Delegated::user(n as u64, &rng))
            .collect();
        let mut scaled = Self {
            rt,
            rng,
            tokens,
            issuer: Issuer::parse(ISSUER).expect("issuer"),
            live: hashes,
            issued: Vec::with_capacity(fresh.len()),
            fresh,
            cursor: 0,
            _dir: dir,
        };
        // Every lookup asserts it finds a live token: this proves the fill is readable.
        scaled.find_round(1);
        scaled
    }

    /// How many tokens one [`ScaledStore::insert_round`] inserts.
    pub fn fresh_len(&self) -> usize {
        self.fresh.len()
    }

    /// Mints a token for each fresh user and inserts it, as the engine issues one. Then
    /// revokes them (not timed), which brings the store back to its live count. Returns the
    /// time the issuance took (mint and insert) and the inserts' share of it.
    pub fn insert_round(&mut self) -> IssueTimes {
        let issued = &mut self.issued;
        self.rt.block_on(async {
            let mut took = IssueTimes::default();
            for who in &self.fresh {
                let start = Instant::now();
                let token = mint_access_token(&who.subject(), NOW, LIFETIME, &self.rng)
                    .expect("rng")
                    .record;
                let minted = Instant::now();
                self.tokens
                    .insert_access_token(&token)
                    .await
                    .expect("inserted");
                let end = Instant::now();
                took.issue += end - start;
                took.insert += end - minted;
                issued.push(token.hash);
            }
            for hash in issued.drain(..) {
                let gone = self
                    .tokens
                    .revoke_access_token(&self.issuer, &hash)
                    .await
                    .expect("revoked");
                assert!(gone, "inserted token found again");
            }
            took
        })
    }

    /// Looks up `n` live tokens spread over the store (as introspection does); returns the
    /// time taken.
    pub fn find_round(&mut self, n: u64) -> Duration {
        let picks: Vec<TokenHash> = (0..n)
            .map(|_| {
                self.cursor = (self.cursor + STRIDE) % self.live.len();
                self.live[self.cursor]
            })
            .collect();
        self.rt.block_on(async {
            let start = Instant::now();
            for hash in &picks {
                let found = self
                    .tokens
                    .find_access_token(&self.issuer, hash)
                    .await
                    .expect("looked up");
                assert!(black_box(found).is_some(), "live token not found");
            }
            start.elapsed()
        })
    }
}

/// Time spent issuing tokens in one [`ScaledStore::insert_round`].
#[derive(Debug, Clone, Copy, Default)]
pub struct IssueTimes {
    /// Minting and inserting (what issuance costs beside HTTP).
    pub issue: Duration,
    /// Inserting alone.
    pub insert: Duration,
}

/// Writes `live` grants and access tokens straight into the SQLite database at `path`, in
/// one transaction. Through the store each insert is its own durable transaction (an fsync
/// each), which would take far too long for 10^6 rows. The rows are those the store's own
/// statements write (`grants.rs`, `tokens.rs` of `portcullis-store-sqlite`, schema 1);
/// [`ScaledStore::new`] proves it by reading them back through the store.
fn bulk_fill(path: &Path, live: usize, rng: &dyn SecureRandom) -> Vec<TokenHash> {
    let mut conn = Connection::open(path).expect("database opened");
    // No fsync, and a page cache (1 GiB) that holds the B-trees: rows arrive in random key
    // order, and with SQLite's default 2 MiB cache the fill takes minutes.
    conn.pragma_update(None, "synchronous", "OFF")
        .expect("pragma");
    conn.pragma_update(None, "cache_size", -1_048_576)
        .expect("pragma");
    let tx = conn.transaction().expect("transaction");
    let mut hashes = Vec::with_capacity(live);
    {
        let mut grants = tx
            .prepare(
                "INSERT INTO grants (issuer, id, subject, client_id, expires_at, revoked, record) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .expect("statement");
        let mut tokens = tx
            .prepare(
                "INSERT INTO access_tokens (hash, issuer, grant_id, family_id, expires_at, \
                 record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .expect("statement");
        for n in 0..live as u64 {
            let (g, t) = delegated_token(n, rng);
            grants
                .execute(params![
                    g.issuer.as_str(),
                    g.id.as_str(),
                    g.subject,
                    g.client_id,
                    g.expires_at.secs_i64(),
                    g.revoked,
                    serde_json::to_string(&g).expect("JSON")
                ])
                .expect("grant row");
            tokens
                .execute(params![
                    &t.hash.as_bytes()[..],
                    t.issuer.as_str(),
                    t.grant_id.as_ref().map(|g| g.as_str()),
                    t.family_id.as_ref().map(|f| f.as_str()),
                    t.expires_at.secs_i64(),
                    serde_json::to_string(&t).expect("JSON")
                ])
                .expect("token row");
            hashes.push(t.hash);
        }
    }
    tx.commit().expect("committed");
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    hashes
}
