//! Storage traits for Portcullis.
//!
//! One trait per aggregate: [`ClientStore`], [`CodeStore`], [`GrantStore`] (grants and the
//! token families under them), [`AccessTokenStore`], [`RefreshTokenStore`], [`KeyStore`]
//! (signing keys, their private keys sealed by the engine), [`TokenIssuance`] (the writes
//! that issue a grant's tokens, as one operation), [`ReplayCache`] (ids accepted
//! once), [`SessionStore`] (signed-in browsers), [`PushedRequestStore`] (pushed
//! authorization requests) and [`DeviceAuthorizationStore`] (RFC 8628). Beside them, the [`Clock`] the engine and
//! the resource server read the time from.
//! Each is `Send + Sync + 'static` with `&self` receivers, so one store value can serve many
//! providers (issuers) and many tasks at once; every record carries its issuer and every
//! lookup is scoped by it.
//!
//! Secrets are never stored: codes and tokens are keyed by [`TokenHash`], client secrets are
//! kept as [`portcullis_core::ClientSecretHash`].
//!
//! Atomicity is part of the contract. [`CodeStore::consume_code`],
//! [`RefreshTokenStore::rotate_refresh_token`] and [`ReplayCache::check_and_insert`] succeed
//! at most once per code, token or id, even when called concurrently — from many tasks, or
//! from many processes sharing one database. They answer with an outcome rather than
//! leaving a read-then-write to the caller. The outcome enums ([`ConsumeOutcome`],
//! [`RotateOutcome`], [`RefreshState`], [`ReplayOutcome`], [`DeviceInsertOutcome`]) are
//! exhaustive on purpose: a
//! caller handles every outcome, and a new one is a breaking change rather than a case
//! silently ignored.
//!
//! Hosts writing their own store run the conformance kit (`portcullis-testkit`) against
//! it: one group of checks per trait, racers included.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod clock;
mod issuance;

use std::sync::Arc;

use async_trait::async_trait;
use portcullis_core::{
    AccessTokenRecord, Client, CodeRecord, DeviceAuthorizationRecord, FamilyId, Grant, GrantId,
    Issuer, KeyRecord, PrivateKeyEnvelope, PushedRequestRecord, RefreshTokenRecord, SessionRecord,
    TokenHash, UnixTime,
};

pub use clock::{Clock, ManualClock, SystemClock};
pub use issuance::{
    issue_in_sequence, rotate_in_sequence, GrantUse, RotateIssueOutcome, TokenIssuance,
};

/// A store failure. The source is kept for the host's logs; the engine never shows it to
/// a client.
#[derive(Debug, thiserror::Error)]
#[error("store error: {message}")]
pub struct StoreError {
    message: &'static str,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl StoreError {
    /// A failure with a fixed message and no underlying cause.
    pub fn new(message: &'static str) -> Self {
        Self {
            message,
            source: None,
        }
    }

    /// A failure caused by `source` (a driver or I/O error).
    pub fn with_source(
        message: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            message,
            source: Some(Box::new(source)),
        }
    }
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Every store trait at once: what one value that keeps everything implements (the memory,
/// SQLite and PostgreSQL stores do), for bounds such as the conformance kit's. Implemented
/// for every type that implements them all; a host never implements it by hand.
pub trait FullStore:
    ClientStore
    + CodeStore
    + GrantStore
    + AccessTokenStore
    + RefreshTokenStore
    + TokenIssuance
    + KeyStore
    + ReplayCache
    + SessionStore
    + PushedRequestStore
    + DeviceAuthorizationStore
{
}

impl<S> FullStore for S where
    S: ClientStore
        + CodeStore
        + GrantStore
        + AccessTokenStore
        + RefreshTokenStore
        + TokenIssuance
        + KeyStore
        + ReplayCache
        + SessionStore
        + PushedRequestStore
        + DeviceAuthorizationStore
{
}

/// Registered clients, per issuer.
#[async_trait]
pub trait ClientStore: Send + Sync + 'static {
    /// The client `client_id` of `issuer`, unless absent or expired at `now`. Shared: a
    /// store that keeps clients in memory hands out its own copy without cloning it.
    async fn find_client(
        &self,
        issuer: &Issuer,
        client_id: &str,
        now: UnixTime,
    ) -> StoreResult<Option<Arc<Client>>>;

    /// Inserts or replaces a client of `issuer`.
    async fn save_client(&self, issuer: &Issuer, client: &Client) -> StoreResult<()>;

    /// Removes a client; `true` if it existed.
    async fn delete_client(&self, issuer: &Issuer, client_id: &str) -> StoreResult<bool>;

    /// Every client of `issuer` not expired at `now`, ordered by `client_id`.
    async fn list_clients(&self, issuer: &Issuer, now: UnixTime) -> StoreResult<Vec<Arc<Client>>>;

    /// Stores `replacement` (a client of `issuer`) only if the client stored under its
    /// `client_id` is still `current` (`None`: no client under that id, expired or not);
    /// `true` if it did. A compare-and-swap, which a client-secret rotation relies on:
    ///
    /// **Atomicity:** of concurrent calls with the same `current`, across all processes
    /// sharing the store, at most one returns `true`; the others store nothing.
    async fn replace_client(
        &self,
        issuer: &Issuer,
        current: Option<&Client>,
        replacement: &Client,
    ) -> StoreResult<bool>;

    /// Removes clients whose registration expired at or before `now`; returns how many.
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64>;
}

/// What [`CodeStore::consume_code`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumeOutcome {
    /// This call consumed the code: the caller may redeem it.
    Consumed(Box<CodeRecord>),
    /// The code was consumed before (by this or a concurrent caller). The caller must
    /// revoke the family (RFC 6749 §4.1.2: codes are single use; tokens from a reused
    /// code should be revoked).
    AlreadyConsumed {
        /// The grant the code belongs to.
        grant_id: GrantId,
        /// The token family its first redemption started.
        family_id: FamilyId,
    },
    /// No such code for this issuer, or it has expired.
    Missing,
}

/// Authorization codes.
#[async_trait]
pub trait CodeStore: Send + Sync + 'static {
    /// Stores a newly issued code.
    async fn insert_code(&self, record: &CodeRecord) -> StoreResult<()>;

    /// Atomically marks the code consumed and returns its record.
    ///
    /// **Atomicity:** for one code, across all concurrent callers and all processes sharing
    /// the store, at most one call ever returns [`ConsumeOutcome::Consumed`]. Later calls
    /// return [`ConsumeOutcome::AlreadyConsumed`] until the code's expiry has passed (the
    /// consumed marker is kept that long), then [`ConsumeOutcome::Missing`]. A code expired
    /// at `now` is never consumed. Whether the code's grant was revoked is not this call's
    /// concern: the engine checks the grant after consuming.
    async fn consume_code(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<ConsumeOutcome>;

    /// Removes codes (consumed or not) that expired at or before `now`; returns how many.
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64>;
}

/// The state of a refresh token found by [`RefreshTokenStore::find_refresh_token`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshState {
    /// Current: it may be rotated.
    Active,
    /// Already exchanged for a successor: presenting it again is reuse.
    Rotated,
    /// Revoked directly, or through its family or grant.
    Revoked,
}

/// What [`RefreshTokenStore::rotate_refresh_token`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// This call rotated the token; the successor is stored.
    Rotated,
    /// The token was rotated before, or revoked: the successor was not stored. The caller
    /// must treat this as reuse and revoke the family (RFC 9700 §4.14.2).
    AlreadyRotated {
        /// The token's family.
        family_id: FamilyId,
    },
    /// No such token for this issuer.
    Missing,
}

/// What a rotation keeps for its grace period (see
/// [`RefreshTokenStore::claim_rotation_grace`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationGrace {
    /// The rotation's token response, sealed under a key only a holder of the old refresh
    /// token can derive (`portcullis_core::seal_grace_answer`).
    pub sealed_answer: String,
    /// When the period ends.
    pub until: UnixTime,
    /// How many claims it answers.
    pub max_claims: u32,
}

/// Grants — what one subject gave one client at one issuer — and the token families under
/// them: the two units of revocation above a single token.
///
/// **Revocation composes** across this trait, [`AccessTokenStore`] and
/// [`RefreshTokenStore`]: a token is dead when it, its family or its grant is revoked, and
/// the token lookups never return a dead token as live — including a token inserted after
/// its grant or family was revoked (a racing redemption). The three traits therefore share
/// one deployment's state: a revocation made here is seen at once, on every node, by the
/// token stores it is paired with in the engine's `Stores` (one database, or stores that
/// consult each other).
#[async_trait]
pub trait GrantStore: Send + Sync + 'static {
    /// Inserts or replaces a grant. A revoked grant stays revoked: saving a copy read
    /// before the revocation (e.g. to record its last use) never brings it back.
    async fn save_grant(&self, grant: &Grant) -> StoreResult<()>;

    /// The grant `id` of `issuer`, revoked or not.
    async fn find_grant(&self, issuer: &Issuer, id: &GrantId) -> StoreResult<Option<Grant>>;

    /// Records a use of the grant `id` of `issuer` at `now` and extends its life to at least
    /// `expires_at` (`portcullis_core::Grant::record_use` without a read): `last_used_at`
    /// becomes `now` (a store may keep a later one: PostgreSQL's racing touches never move
    /// it back), `expires_at` the later of the stored one and `expires_at`. Only a grant
    /// that exists and is not revoked is touched; `true` if this one was.
    ///
    /// **Atomicity:** one step, across all processes sharing the store: a touch never brings
    /// a revoked grant back, and of concurrent touches the grant keeps the latest
    /// `expires_at` given. The SQL stores do it in one statement; the default here reads and
    /// saves, which keeps the revocation sticky ([`GrantStore::save_grant`]) but may lose a
    /// racing touch's `expires_at` — a store overrides it. A store may skip the write when
    /// it would change nothing, as long as the touch stays ordered against a revocation
    /// (PostgreSQL takes a share lock on the row instead: uses within one second under one
    /// grant would each rewrite it and queue on its lock).
    async fn touch_grant(
        &self,
        issuer: &Issuer,
        id: &GrantId,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<bool> {
        let Some(mut grant) = self.find_grant(issuer, id).await? else {
            return Ok(false);
        };
        if grant.revoked {
            return Ok(false);
        }
        grant.last_used_at = now;
        grant.expires_at = grant.expires_at.max(expires_at);
        self.save_grant(&grant).await?;
        Ok(true)
    }

    /// The grants `subject` gave `client_id` at `issuer`, revoked or not.
    async fn grants_for(
        &self,
        issuer: &Issuer,
        subject: &str,
        client_id: &str,
    ) -> StoreResult<Vec<Grant>>;

    /// The grants `subject` gave any client at `issuer`, revoked or not.
    async fn grants_of_subject(&self, issuer: &Issuer, subject: &str) -> StoreResult<Vec<Grant>>;

    /// Revokes a grant: every code, access and refresh token under it stops working at once.
    /// Idempotent; `false` if no such grant.
    ///
    /// **Atomicity:** once this call returns, no lookup on any node returns a token of the
    /// grant as live, and no rotation of one succeeds.
    async fn revoke_grant(&self, issuer: &Issuer, id: &GrantId) -> StoreResult<bool>;

    /// Revokes every grant `client_id` holds at `issuer` (never another issuer's), as
    /// [`GrantStore::revoke_grant`] does each: when a client is deleted (RFC 7592 §2.3),
    /// every code, access and refresh token issued to it under a grant stops working.
    /// Returns how many grants this call revoked. (Its `client_credentials` tokens have no
    /// grant: they die with the client record, which every token lookup needs.)
    ///
    /// **Atomicity:** as [`GrantStore::revoke_grant`], for each of the grants.
    async fn revoke_grants_of_client(&self, issuer: &Issuer, client_id: &str) -> StoreResult<u64>;

    /// Revokes a token family of `issuer` (never another issuer's): every access and refresh
    /// token in it (including ones inserted after this call) stops working. The marker is
    /// kept until `until`, after which every token of the family has expired. Idempotent; a
    /// later call never shortens the marker.
    ///
    /// **Atomicity:** as [`GrantStore::revoke_grant`], for the family's tokens.
    async fn revoke_family(
        &self,
        issuer: &Issuer,
        family_id: &FamilyId,
        until: UnixTime,
    ) -> StoreResult<()>;

    /// Removes grants and family revocation markers that expired at or before `now`;
    /// returns how many records went.
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64>;
}

/// Access tokens, stored by hash until they expire or are revoked.
///
/// A token under a revoked grant or family is dead (see [`GrantStore`]: revocation
/// composes).
#[async_trait]
pub trait AccessTokenStore: Send + Sync + 'static {
    /// Stores a newly issued access token.
    async fn insert_access_token(&self, record: &AccessTokenRecord) -> StoreResult<()>;

    /// The live access token with this hash: `None` if unknown, for another issuer, or
    /// revoked (itself, its family or its grant). Expiry is the caller's to check.
    async fn find_access_token(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
    ) -> StoreResult<Option<AccessTokenRecord>>;

    /// Revokes one access token (RFC 7009). Idempotent; `false` if unknown.
    ///
    /// **Atomicity:** once this call returns, no lookup on any node returns the token.
    async fn revoke_access_token(&self, issuer: &Issuer, hash: &TokenHash) -> StoreResult<bool>;

    /// Removes access tokens that expired at or before `now`; returns how many.
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64>;
}

/// Refresh tokens, their rotation (RFC 6749 §6, RFC 9700 §4.14.2) and the grace periods
/// rotations keep.
///
/// A token under a revoked grant or family is [`RefreshState::Revoked`] and never rotates
/// (see [`GrantStore`]: revocation composes).
#[async_trait]
pub trait RefreshTokenStore: Send + Sync + 'static {
    /// Stores a newly issued refresh token (the first of a family).
    async fn insert_refresh_token(&self, record: &RefreshTokenRecord) -> StoreResult<()>;

    /// The refresh token with this hash and its state; `None` if unknown or for another
    /// issuer. Expiry is the caller's to check.
    async fn find_refresh_token(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
    ) -> StoreResult<Option<(RefreshTokenRecord, RefreshState)>>;

    /// Atomically replaces the refresh token `old` by `successor`.
    ///
    /// **Atomicity:** for one `old` token, across all concurrent callers and processes, at
    /// most one call returns [`RotateOutcome::Rotated`] and stores its successor; every other
    /// call stores nothing and returns [`RotateOutcome::AlreadyRotated`] (or
    /// [`RotateOutcome::Missing`]). A revoked token (or family, or grant) never rotates.
    ///
    /// With `grace`, the rotation that succeeds keeps it with `old`, in the same atomic step,
    /// for [`RefreshTokenStore::claim_rotation_grace`].
    async fn rotate_refresh_token(
        &self,
        issuer: &Issuer,
        old: &TokenHash,
        successor: &RefreshTokenRecord,
        grace: Option<&RotationGrace>,
    ) -> StoreResult<RotateOutcome>;

    /// Counts one claim on the grace period kept by the rotation of `old` and returns its
    /// sealed answer; `None` when there is none, it is over (`now >= until`), its claims are
    /// used up, or the successor is no longer current (rotated, revoked, or gone).
    ///
    /// **Atomicity:** across all concurrent callers and processes, at most `max_claims`
    /// calls get the answer.
    async fn claim_rotation_grace(
        &self,
        issuer: &Issuer,
        old: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<String>>;

    /// Removes refresh tokens (rotated or not) and rotation grace periods that expired at or
    /// before `now`; returns how many records went.
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64>;
}

/// Signing keys, shared by every process of an issuer so that rotation reaches all of them.
///
/// The store keeps each key's `private_key` as the opaque bytes it is given: the engine seals
/// it under the host's key-encryption key before it gets here
/// ([`portcullis_core::PrivateKeyEnvelope`]), and refuses to run on a store that
/// [`persists`](KeyStore::persists) without one unless told `dangerous_plaintext_signing_keys`.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Whether keys outlive the process (on disk, in a database): then they must be sealed.
    /// `true` unless the store keeps them in the process's memory only.
    fn persists(&self) -> bool {
        true
    }

    /// Stores a new key. A `kid` is unique per issuer.
    async fn insert_key(&self, key: &KeyRecord) -> StoreResult<()>;

    /// Replaces the private key of `kid` by `new` if it is still `old` (a compare-and-swap:
    /// of processes re-sealing the same key at once, one wins and the others change
    /// nothing). Everything else of the record stays. `false` if no such key, or its
    /// private key is no longer `old`.
    async fn reseal_key(
        &self,
        issuer: &Issuer,
        kid: &str,
        old: &PrivateKeyEnvelope,
        new: &PrivateKeyEnvelope,
    ) -> StoreResult<bool>;

    /// Every key of `issuer` not yet purged, in no particular order.
    async fn keys(&self, issuer: &Issuer) -> StoreResult<Vec<KeyRecord>>;

    /// Sets when a key stops signing and when it leaves the JWKS. An earlier `retires_at`
    /// already set is kept (a key never comes back). `false` if no such key.
    async fn retire_key(
        &self,
        issuer: &Issuer,
        kid: &str,
        retires_at: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<bool>;

    /// Removes keys whose `expires_at` is at or before `now`; returns how many.
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64>;
}

/// Pushed authorization requests (RFC 9126), keyed by the hash of their `request_uri`,
/// each used at most once before it expires.
#[async_trait]
pub trait PushedRequestStore: Send + Sync + 'static {
    /// Stores a newly pushed request.
    async fn insert_pushed_request(&self, record: &PushedRequestRecord) -> StoreResult<()>;

    /// Atomically takes the pushed request `hash` of `issuer` and returns it, unless it is
    /// unknown, another issuer's, taken before, or expired at `now` (`expires_at <= now`).
    ///
    /// **Atomicity:** for one request, across all concurrent callers and all processes
    /// sharing the store, at most one call ever returns it.
    async fn consume_pushed_request(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<PushedRequestRecord>>;

    /// Removes pushed requests (taken or not) that expired at or before `now`; returns how
    /// many.
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64>;
}

/// What [`DeviceAuthorizationStore::insert_device_authorization`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum DeviceInsertOutcome {
    /// The authorization is stored.
    Inserted,
    /// Nothing was stored: another authorization (of any issuer, until purged) holds the
    /// same user code hash. A user code has about 2^34.6 values (RFC 8628 §6.1), so this
    /// happens; the caller issues another user code.
    UserCodeTaken,
}

/// Device authorizations (RFC 8628), keyed by the hash of their device code and found by
/// the hash of their user code; both codes are unique. Each goes pending → approved or
/// denied once, and an approved one is taken once.
#[async_trait]
pub trait DeviceAuthorizationStore: Send + Sync + 'static {
    /// Stores a new device authorization. A user code hash already stored (for any issuer)
    /// is [`DeviceInsertOutcome::UserCodeTaken`], nothing stored; a device code hash already
    /// stored is an error.
    ///
    /// **Atomicity:** of concurrent inserts with one user code hash, at most one returns
    /// [`DeviceInsertOutcome::Inserted`].
    async fn insert_device_authorization(
        &self,
        record: &DeviceAuthorizationRecord,
    ) -> StoreResult<DeviceInsertOutcome>;

    /// The device authorization of `issuer` whose user code hashes to `user_code_hash`, if it
    /// still awaits the user at `now` (pending, `expires_at > now`): what the verification
    /// page shows.
    async fn find_device_authorization_by_user_code(
        &self,
        issuer: &Issuer,
        user_code_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>>;

    /// Records the user's answer for the authorization `user_code_hash` of `issuer`:
    /// `approval` (the code record its device code redeems) or, with `None`, a denial —
    /// only if it still awaits the user at `now`. `true` if this call answered it.
    ///
    /// **Atomicity:** of concurrent answers, at most one returns `true`.
    async fn answer_device_authorization(
        &self,
        issuer: &Issuer,
        user_code_hash: &TokenHash,
        approval: Option<&CodeRecord>,
        now: UnixTime,
    ) -> StoreResult<bool>;

    /// A poll of the device code `hash` of `issuer` at `now`: returns the record as it was
    /// before this poll (expired ones too, until purged; `None` if unknown or taken) and,
    /// unless expired, stores [`DeviceAuthorizationRecord::polled`] in the same atomic step,
    /// so that concurrent polls each see the one before.
    async fn poll_device_authorization(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>>;

    /// Atomically takes the approved device authorization `hash` of `issuer` (unexpired at
    /// `now`) and returns it; it is then gone.
    ///
    /// **Atomicity:** for one device code, across all concurrent callers and all processes
    /// sharing the store, at most one call ever returns it.
    async fn take_device_authorization(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>>;

    /// Removes device authorizations that expired at or before `now`; returns how many.
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64>;
}

/// A kind of single-use id in a [`ReplayCache`]: the same id under two namespaces is two
/// entries. A short, stable name (stored as it is, e.g. `interaction_ticket`); changing it
/// forgets the entries stored under the old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReplayNamespace(&'static str);

impl ReplayNamespace {
    /// The namespace `name`.
    pub const fn new(name: &'static str) -> Self {
        Self(name)
    }

    /// Its name.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

/// What [`ReplayCache::check_and_insert`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayOutcome {
    /// First use: the id is now recorded until its expiry, and the caller may accept it.
    Fresh,
    /// The id was used before and has not expired (or arrived expired): refuse it.
    Replayed,
}

/// Ids that are accepted once until they expire: the one primitive for every "accept once
/// until expiry" that is not a stored code or refresh token.
///
/// Each kind of id has its own [`ReplayNamespace`], so that one cache serves them all:
/// * interaction tickets (`interaction_ticket`, today);
/// * the `jti` of JWT client assertions, kept until the assertion's `exp` (RFC 7523 §3);
/// * the `jti` of DPoP proofs, kept while the proof's `iat` is acceptable (RFC 9449 §11.1);
/// * the `jti` of request objects (RFC 9101), when a request object must be used once.
///
/// A new such rule is a new namespace and a call to [`ReplayCache::check_and_insert`], never a
/// new store method: the atomicity below is proven once, by the conformance kit.
///
/// An id is a SHA-256 hash ([`TokenHash`]) of what is to be accepted once: a secret (a
/// ticket) is never stored, and an id of any length takes 32 bytes. The caller hashes
/// whatever makes the id unique (e.g. the client and the `jti`).
#[async_trait]
pub trait ReplayCache: Send + Sync + 'static {
    /// Records `id` under `issuer` and `namespace` until `expires_at`, unless it is already
    /// recorded and live: [`ReplayOutcome::Fresh`] if this call recorded it, else
    /// [`ReplayOutcome::Replayed`].
    ///
    /// **Atomicity:** for one (issuer, namespace, id), across all concurrent callers on any
    /// handle and in any process sharing the store, exactly one call returns
    /// [`ReplayOutcome::Fresh`] until its `expires_at`; every other call returns
    /// [`ReplayOutcome::Replayed`]. An entry expired at `now` (`expires_at <= now`) counts as
    /// absent, so the id may be recorded afresh. An id that arrives expired (`expires_at <=
    /// now`) is never fresh: nothing is recorded and the answer is
    /// [`ReplayOutcome::Replayed`].
    async fn check_and_insert(
        &self,
        issuer: &Issuer,
        namespace: ReplayNamespace,
        id: &TokenHash,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<ReplayOutcome>;

    /// Removes entries that expired at or before `now`; returns how many.
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64>;
}

/// Signed-in browsers (the host's sessions, e.g. `portcullis_interaction::SessionManager`'s), per issuer
/// and keyed by the hash of the session id the cookie carries.
///
/// A session ends when its record goes: [`SessionStore::delete_session`] at logout,
/// [`SessionStore::delete_sessions_of_subject`] to sign a user out everywhere. Every process
/// sharing the store sees the end at once: a copy of the cookie opens nothing afterwards.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session. A hash already stored is an error: a session is never
    /// overwritten.
    async fn insert_session(&self, record: &SessionRecord) -> StoreResult<()>;

    /// The session `hash` of `issuer`: `None` if unknown, for another issuer, deleted, or
    /// expired at `now` (`expires_at <= now`).
    async fn find_session(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<SessionRecord>>;

    /// Ends one session of `issuer` (never another issuer's); `true` if it existed.
    async fn delete_session(&self, issuer: &Issuer, hash: &TokenHash) -> StoreResult<bool>;

    /// Ends every session `subject` has at `issuer`, and no one else's; returns how many.
    async fn delete_sessions_of_subject(&self, issuer: &Issuer, subject: &str) -> StoreResult<u64>;

    /// Removes sessions that expired at or before `now`; returns how many.
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64>;
}
