//! Time as a value: the core never reads a clock.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch (the `NumericDate` of RFC 7519 §2).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct UnixTime(u64);

impl UnixTime {
    /// The instant `secs` seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    /// Seconds since the epoch.
    pub const fn secs(self) -> u64 {
        self.0
    }

    /// This instant plus `d` (whole seconds, saturating).
    pub fn plus(self, d: Duration) -> Self {
        Self(self.0.saturating_add(d.as_secs()))
    }

    /// Whole seconds from `self` until `later`, zero if `later` is not after `self`.
    pub fn seconds_until(self, later: UnixTime) -> u64 {
        later.0.saturating_sub(self.0)
    }
}
