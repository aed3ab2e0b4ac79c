//! The conformance kit for Portcullis storage adapters — ours and a host's own.
//!
//! The `portcullis_store` traits document a contract (issuer scoping, expiry, revocation
//! that composes, and atomic `consume_code` / `rotate_refresh_token` / `check_and_insert`);
//! this crate checks it. A store passes by running one macro in its tests:
//!
//! ```no_run
//! // tests/conformance.rs of a store crate
//! use std::sync::Arc;
//! use portcullis_testkit::{conformance_tests, DbName};
//! # struct MyStore;
//! # impl MyStore {
//! #     async fn connect(_: &str) -> Result<portcullis_store_memory::MemoryStore, ()> {
//! #         Ok(portcullis_store_memory::MemoryStore::new())
//! #     }
//! # }
//!
//! // One `#[test]` per check, named `clients::client_round_trip`, `codes::…`, etc.
//! conformance_tests!(|db: DbName| async move {
//!     Arc::new(MyStore::connect(&format!("postgres://localhost/{db}")).await.unwrap())
//! });
//! ```
//!
//! The argument is the store factory: called with a [`DbName`], it returns a new handle on
//! that database — empty the first time a name is seen, and the *same* database (through a
//! new connection or pool) every later time, so that races run across handles as they would
//! across processes. A store that lives in process memory uses [`shared_in_process`]:
//! `conformance_tests!(shared_in_process(MemoryStore::new))`. The macro can also be limited
//! to some groups, for a store that implements only some traits:
//! `conformance_tests!(make; codes, grants, refresh_tokens)`. Each use defines modules named
//! after its groups, so use it once per module.
//!
//! A complete example, compiled and run with this crate's doc tests, is in the guide to
//! writing a store: `docs/ARCHITECTURE.md`.
//!
//! [`run_conformance`] runs every check in one async call instead (on the caller's runtime,
//! which should be multi-threaded for the races to mean something); `run_*_checks` run one
//! trait's checks. The checks themselves are public in [`checks`], one `async fn` each.
//!
//! With the `browser` feature, [`browser`] plays a host's login, consent and logout pages
//! over HTTP (cookies kept, redirects not followed), for end-to-end tests.
//!
//! Beside the suite: [`TestClock`] for times, [`SeededRng`] (a deterministic generator, for
//! tests only) and [`Fixtures`], which builds valid records with random hashes and ids.
//!
//! ## Groups and checks
//! Each group checks one trait, its racers included (see [`checks::races`]); the token groups
//! save grants too, since a token lives only as long as its grant.
//! * `clients` ([`ClientStore`]): [`checks::clients`]
//! * `codes` ([`CodeStore`]): [`checks::codes`]
//! * `grants` ([`GrantStore`]): [`checks::grants`]
//! * `access_tokens` ([`AccessTokenStore`], with [`GrantStore`]): [`checks::access_tokens`]
//! * `refresh_tokens` ([`RefreshTokenStore`], with [`GrantStore`]): [`checks::refresh_tokens`]
//! * `revocation` (the three, together: revocation composes): [`checks::revocation`]
//! * `keys` ([`KeyStore`]): [`checks::keys`]
//! * `replay` ([`ReplayCache`]): [`checks::replay`]
//! * `sessions` ([`SessionStore`]): [`checks::sessions`]
//! * `pushed_requests` ([`PushedRequestStore`]): [`checks::pushed_requests`]
//! * `device_authorizations` ([`DeviceAuthorizationStore`]): [`checks::device_authorizations`]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "browser")]
pub mod browser;

// docs/ARCHITECTURE.md's store guide runs the kit: its example is one of these doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/ARCHITECTURE.md")]
struct ArchitectureDoctests;

mod authorization_details;
pub mod checks;
mod clock;
mod counting_replays;
mod fixtures;
mod harness;
mod macros;
mod rng;

use portcullis_store::{
    AccessTokenStore, ClientStore, CodeStore, DeviceAuthorizationStore, FullStore, GrantStore,
    KeyStore, PushedRequestStore, RefreshTokenStore, ReplayCache, SessionStore,
};

pub use authorization_details::{sample_authorization_details_types, AcceptAll, SamplePayment};
pub use clock::TestClock;
pub use counting_replays::CountingReplayCache;
pub use fixtures::Fixtures;
pub use harness::{shared_in_process, DbName, Harness, StoreFactory};
pub use rng::SeededRng;

use harness::Runner;

/// Runs every conformance check, one after another, each on a fresh database from
/// `make_store` (see the crate docs for what it must return). Panics naming the first check
/// that fails.
pub async fn run_conformance<S>(make_store: impl StoreFactory<S>)
where
    S: FullStore,
{
    let runner = Runner::new(make_store);
    crate::__checks_of!(clients, __run_group, runner);
    crate::__checks_of!(codes, __run_group, runner);
    crate::__checks_of!(grants, __run_group, runner);
    crate::__checks_of!(access_tokens, __run_group, runner);
    crate::__checks_of!(refresh_tokens, __run_group, runner);
    crate::__checks_of!(revocation, __run_group, runner);
    crate::__checks_of!(issuance, __run_group, runner);
    crate::__checks_of!(keys, __run_group, runner);
    crate::__checks_of!(replay, __run_group, runner);
    crate::__checks_of!(sessions, __run_group, runner);
    crate::__checks_of!(pushed_requests, __run_group, runner);
    crate::__checks_of!(device_authorizations, __run_group, runner);
}

/// Runs the [`ClientStore`] checks ([`checks::clients`]).
pub async fn run_client_checks<S: ClientStore>(make_store: impl StoreFactory<S>) {
    let runner = Runner::new(make_store);
    crate::__checks_of!(clients, __run_group, runner);
}

/// Runs the [`CodeStore`] checks ([`checks::codes`]), races included.
pub async fn run_code_checks<S: CodeStore>(make_store: impl StoreFactory<S>) {
    let runner = Runner::new(make_store);
    crate::__checks_of!(codes, __run_group, runner);
}

/// Runs the [`GrantStore`] checks ([`checks::grants`]).
pub async fn run_grant_checks<S: GrantStore>(make_store: impl StoreFactory<S>) {
    let runner = Runner::new(make_store);
    crate::__checks_of!(grants, __run_group, runner);
}

/// Runs the [`AccessTokenStore`] checks ([`checks::access_tokens`]).
pub async fn run_access_token_checks<S>(make_store: impl StoreFactory<S>)
where
    S: GrantStore + AccessTokenStore,
{
    let runner = Runner::new(make_store);
    crate::__checks_of!(access_tokens, __run_group, runner);
}

/// Runs the [`RefreshTokenStore`] checks ([`checks::refresh_tokens`]), races included.
pub async fn run_refresh_token_checks<S>(make_store: impl StoreFactory<S>)
where
    S: GrantStore + RefreshTokenStore,
{
    let runner = Runner::new(make_store);
    crate::__checks_of!(refresh_tokens, __run_group, runner);
}

/// Runs the checks that revocation composes across the three token traits
/// ([`checks::revocation`]).
pub async fn run_revocation_checks<S>(make_store: impl StoreFactory<S>)
where
    S: GrantStore + AccessTokenStore + RefreshTokenStore,
{
    let runner = Runner::new(make_store);
    crate::__checks_of!(revocation, __run_group, runner);
}

/// Runs the [`KeyStore`] checks ([`checks::keys`]).
pub async fn run_key_checks<S: KeyStore>(make_store: impl StoreFactory<S>) {
    let runner = Runner::new(make_store);
    crate::__checks_of!(keys, __run_group, runner);
}

/// Runs the [`ReplayCache`] checks ([`checks::replay`]), races included.
pub async fn run_replay_checks<S: ReplayCache>(make_store: impl StoreFactory<S>) {
    let runner = Runner::new(make_store);
    crate::__checks_of!(replay, __run_group, runner);
}

/// Runs the [`SessionStore`] checks ([`checks::sessions`]).
pub async fn run_session_checks<S: SessionStore>(make_store: impl StoreFactory<S>) {
    let runner = Runner::new(make_store);
    crate::__checks_of!(sessions, __run_group, runner);
}

/// Runs the [`PushedRequestStore`] checks ([`checks::pushed_requests`]), races included.
pub async fn run_pushed_request_checks<S: PushedRequestStore>(make_store: impl StoreFactory<S>) {
    let runner = Runner::new(make_store);
    crate::__checks_of!(pushed_requests, __run_group, runner);
}

/// Runs the [`DeviceAuthorizationStore`] checks ([`checks::device_authorizations`]), races
/// included.
pub async fn run_device_authorization_checks<S: DeviceAuthorizationStore>(
    make_store: impl StoreFactory<S>,
) {
    let runner = Runner::new(make_store);
    crate::__checks_of!(device_authorizations, __run_group, runner);
}

/// What the macros expand to; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::harness::run_test;
}
