//! A clock that moves only when told to.
//!
//! The stores never read a clock: every method that depends on time takes `now` as an
//! argument (see `portcullis_store`). A test therefore injects time by passing values from
//! here, and an expiry test is exact to the second.

use std::sync::atomic::{AtomicU64, Ordering};

use portcullis_core::UnixTime;

/// A manual clock for deterministic tests, starting at a fixed instant.
#[derive(Debug)]
pub struct TestClock {
    start: UnixTime,
    now: AtomicU64,
}

impl TestClock {
    /// 2023-11-14T22:13:20Z: a realistic instant, far from both ends of the integer types a
    /// database might use.
    pub const DEFAULT_START: UnixTime = UnixTime::from_secs(1_700_000_000);

    /// A clock stopped at `start`.
    pub fn new(start: UnixTime) -> Self {
        Self {
            start,
            now: AtomicU64::new(start.secs()),
        }
    }

    /// The time the clock shows.
    pub fn now(&self) -> UnixTime {
        UnixTime::from_secs(self.now.load(Ordering::SeqCst))
    }

    /// `secs` seconds after the start, wherever the clock now stands.
    pub fn at(&self, secs: u64) -> UnixTime {
        UnixTime::from_secs(self.start.secs().saturating_add(secs))
    }

    /// Moves the clock forward by `secs` seconds; returns the new time.
    pub fn advance(&self, secs: u64) -> UnixTime {
        let before = self.now.fetch_add(secs, Ordering::SeqCst);
        UnixTime::from_secs(before.saturating_add(secs))
    }

    /// Sets the clock to `secs` seconds after the start.
    pub fn set(&self, secs: u64) {
        self.now.store(self.at(secs).secs(), Ordering::SeqCst);
    }
}

impl Default for TestClock {
    fn default() -> Self {
        Self::new(Self::DEFAULT_START)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_only_when_told() {
        let c = TestClock::default();
        assert_eq!(c.now(), TestClock::DEFAULT_START);
        assert_eq!(c.advance(5), c.at(5));
        assert_eq!(c.now(), c.at(5));
        c.set(2);
        assert_eq!(c.now(), c.at(2));
    }
}
