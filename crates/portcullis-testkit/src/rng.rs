//! A seeded, deterministic byte generator for tests.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use ring::digest::{digest, SHA256};
use ring::hmac;

/// Bytes from a seed, the same on every run: **for tests only, never for secrets.**
///
/// Anyone who knows the seed knows every output, so nothing it produces may protect anything
/// real. It exists so that a failing test names the records it used and fails the same way
/// again.
///
/// Block `i` of the stream is `HMAC-SHA256(SHA-256(seed), "portcullis-testkit" ‖ i)`: a
/// counter-mode generator built from ring's HMAC (RFC 2104), with no hand-written
/// primitive. Calls from several threads each get distinct blocks, but which thread gets
/// which depends on scheduling; draw from one task where the order matters.
///
/// It is not a [`ring::rand::SecureRandom`]: ring seals that trait, so no crate outside ring
/// can implement it, and it cannot be handed to the core or the engine. It seeds
/// [`Fixtures`](crate::Fixtures) and anything else a test draws bytes for directly.
pub struct SeededRng {
    key: hmac::Key,
    seed_digest: [u8; 8],
    counter: AtomicU64,
}

impl SeededRng {
    /// A generator whose stream is fixed by `seed`.
    pub fn new(seed: &[u8]) -> Self {
        let d = digest(&SHA256, seed);
        let mut seed_digest = [0u8; 8];
        seed_digest.copy_from_slice(&d.as_ref()[..8]);
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, d.as_ref()),
            seed_digest,
            counter: AtomicU64::new(0),
        }
    }

    /// Fills `dest` with the next bytes of the stream.
    pub fn fill(&self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(32) {
            let i = self.counter.fetch_add(1, Ordering::Relaxed);
            let mut ctx = hmac::Context::with_key(&self.key);
            ctx.update(b"portcullis-testkit");
            ctx.update(&i.to_be_bytes());
            let block = ctx.sign();
            chunk.copy_from_slice(&block.as_ref()[..chunk.len()]);
        }
    }

    /// The next `N` bytes.
    pub fn bytes<const N: usize>(&self) -> [u8; N] {
        let mut out = [0u8; N];
        self.fill(&mut out);
        out
    }
}

impl fmt::Debug for SeededRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeededRng")
            .field("seed_sha256_prefix", &self.seed_digest)
            .field("blocks_drawn", &self.counter.load(Ordering::Relaxed))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_stream() {
        let (a, b) = (SeededRng::new(b"seed"), SeededRng::new(b"seed"));
        let mut x = [0u8; 70];
        let mut y = [0u8; 70];
        a.fill(&mut x);
        b.fill(&mut y);
        assert_eq!(x, y);
        assert_ne!(a.bytes::<32>(), SeededRng::new(b"other").bytes::<32>());
        assert_ne!(x[..32], x[32..64], "blocks differ");
    }
}
