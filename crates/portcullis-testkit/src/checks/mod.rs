//! The conformance checks, one `async fn` each, grouped by trait.
//!
//! Each check takes a [`Harness`](crate::Harness) on a fresh, empty database and panics,
//! naming the broken rule, if the store breaks the contract documented on the
//! `portcullis_store` traits. [`conformance_tests!`](crate::conformance_tests) runs each as
//! its own test; [`run_conformance`](crate::run_conformance) runs them all in one.
//!
//! Every check asserts exact outcomes: the variants of `ConsumeOutcome`, `RotateOutcome`,
//! `RefreshState` and `ReplayOutcome`, the records as saved, and the counts `purge_expired`
//! returns. Time is always an argument (the stores never read a clock), so expiry is checked
//! to the second: a record whose `expires_at` equals `now` has expired.

pub mod access_tokens;
pub mod clients;
pub mod codes;
pub mod device_authorizations;
pub mod grants;
pub mod issuance;
pub mod keys;
pub mod pushed_requests;
pub mod races;
pub mod refresh_tokens;
pub mod replay;
pub mod revocation;
pub mod sessions;

use portcullis_store::{StoreError, StoreResult};

/// Unwraps a store call, or fails the check naming the call and the error's whole chain.
pub(crate) trait Must<T> {
    fn must(self, call: &str) -> T;
}

impl<T> Must<T> for StoreResult<T> {
    #[track_caller]
    fn must(self, call: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("`{call}` failed: {}", chain(&e)),
        }
    }
}

/// Asserts what a `purge_expired` call returned.
#[track_caller]
pub(crate) fn purged(result: StoreResult<u64>, want: u64, what: &str) {
    assert_eq!(result.must("purge_expired"), want, "purge_expired: {what}");
}

fn chain(e: &StoreError) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Sorts by a key, for comparing lists returned "in no particular order".
pub(crate) fn sorted<T, K: Ord>(mut v: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    v.sort_by_key(key);
    v
}
