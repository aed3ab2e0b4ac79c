//! What the ticket targets share with their seed generator (`examples/ticket_seeds.rs`): a
//! fixed interaction key, issuer and clock, so a seed sealed once stays a valid ticket and a
//! mutated one reaches decryption and decoding.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::sync::OnceLock;
use std::time::Duration;

use portcullis_core::{InteractionKey, Issuer, UnixTime};
use ring::rand::SecureRandom;

/// The provider the tickets belong to.
pub const ISSUER: &str = "https://as.example";

/// The instant every target opens tickets at.
pub const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

/// The purpose [`portcullis_core::seal_ticket`] seals pending authorizations under; the seed
/// generator checks it still opens them.
pub const TICKET_PURPOSE: &str = "authorize";

/// The purpose the engine seals pending logouts under.
pub const LOGOUT_PURPOSE: &str = "logout";

/// The longest ticket the core opens: anything it seals opens again unless it is longer.
pub const MAX_TICKET_LEN: usize = 16 * 1024;

/// The old refresh token grace answers are sealed for when an input names none.
pub const GRACE_REFRESH_TOKEN: &str = "rt-old-Wm9vbGFuZGVyLWdyYWNlLXBlcmlvZC1zZWVk";

/// The issuer, parsed.
pub fn issuer() -> &'static Issuer {
    static I: OnceLock<Issuer> = OnceLock::new();
    I.get_or_init(|| Issuer::parse(ISSUER).expect("a valid issuer"))
}

/// The interaction key (fixed bytes: fuzzing needs no secrecy, only reproducibility).
pub fn key() -> &'static InteractionKey {
    static K: OnceLock<InteractionKey> = OnceLock::new();
    K.get_or_init(|| InteractionKey::from_bytes(&[0x5a; 32]))
}

/// Ten minutes after [`NOW`], when fresh tickets expire.
pub fn later() -> UnixTime {
    NOW.plus(Duration::from_secs(600))
}

/// Randomness that is the byte `b` over and over, for reproducible nonces. ring keeps this
/// generator for tests and fuzzing (deprecated as an internal API); so do we.
#[allow(deprecated)]
pub fn fixed_rng(b: u8) -> impl SecureRandom {
    ring::test::rand::FixedByteRandom { byte: b }
}
