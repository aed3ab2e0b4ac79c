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

    /// Seconds since the epoch as a signed 64-bit integer, as SQL stores keep them. Times
    /// past `i64::MAX` (only ever "never") saturate, which keeps every comparison.
    pub fn secs_i64(self) -> i64 {
        i64::try_from(self.0).unwrap_or(i64::MAX)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_seconds_saturate_and_keep_order() {
        assert_eq!(UnixTime::from_secs(5).secs_i64(), 5);
        assert_eq!(UnixTime::from_secs(u64::MAX).secs_i64(), i64::MAX);
        assert!(
            UnixTime::from_secs(u64::MAX - 1).secs_i64() >= UnixTime::from_secs(1 << 62).secs_i64()
        );
    }
}
