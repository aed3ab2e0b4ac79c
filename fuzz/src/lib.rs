//! What the ticket targets share with their seed generator (`examples/ticket_seeds.rs`): a
//! fixed interaction key, issuer and clock, so a seed sealed once stays a valid ticket and a
//! mutated one reaches decryption and decoding. And [`ready`], for the resource-server
//! targets' in-process futures.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::future::Future;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use portcullis_core::{
    Client, ClientKind, GrantType, InteractionKey, Issuer, RedirectUri, ScopeSet, UnixTime,
};
use ring::rand::SecureRandom;

pub use portcullis_core::MAX_TICKET_LEN;

/// The provider the tickets belong to.
pub const ISSUER: &str = "https://as.example";

/// The instant every target opens tickets at.
pub const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

/// The purpose [`portcullis_core::seal_ticket`] seals pending authorizations under; the seed
/// generator checks it still opens them.
pub const TICKET_PURPOSE: &str = "authorize";

/// The purpose the engine seals pending logouts under.
pub const LOGOUT_PURPOSE: &str = "logout";

/// The old refresh token grace answers are sealed for when an input names none.
pub const GRACE_REFRESH_TOKEN: &str = "rt-old-Wm9vbGFuZGVyLWdyYWNlLXBlcmlvZC1zZWVk";

/// The issuer, parsed.
pub fn issuer() -> &'static Issuer {
    static I: OnceLock<Issuer> = OnceLock::new();
    I.get_or_init(|| Issuer::parse(ISSUER).expect("a valid issuer"))
}

/// The public client the authorization requests come from: an `https` and a loopback
/// redirect URI, OpenID and plain scopes.
pub fn client() -> &'static Client {
    static C: OnceLock<Client> = OnceLock::new();
    C.get_or_init(|| {
        Client::new("app", ClientKind::Public)
            .with_redirect_uris([
                RedirectUri::parse("https://app.example/cb").expect("a redirect URI"),
                RedirectUri::parse("http://127.0.0.1/cb").expect("a redirect URI"),
            ])
            .with_allowed_scopes(
                ScopeSet::parse("openid profile email read write").expect("scopes"),
            )
            .with_default_scopes(ScopeSet::parse("read").expect("scopes"))
            .with_grant_types([GrantType::AuthorizationCode])
    })
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

/// The output of an in-process future, which never waits (an HTTP client answering at once,
/// a memory store, an uncontended lock).
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("an in-process future is ready at once"),
    }
}
