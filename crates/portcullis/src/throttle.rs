//! Throttling failed sign-ins, per account and per client address, with exponential backoff
//! (RFC 6819 §5.1.4.2.3 "Lock Accounts" and §5.1.4.2.4 "Use Tar Pit", as temporary locks).
//!
//! # Rules
//! * Every attempt counts as a failure from the moment it begins ([`LoginThrottle::begin`])
//!   until [`LoginAttempt::succeeded`] says otherwise, so concurrent guesses are counted
//!   before their passwords are checked: a burst cannot slip through while hashes run.
//! * After [`Backoff::free_failures`] failures of one account (or one address), the next
//!   attempt must wait [`Backoff::base_delay`] after the last failure, then twice as long
//!   after each further failure, up to [`Backoff::max_delay`]. A throttled attempt is refused
//!   at once ([`Throttled`], with how long to wait): the caller never checks its password.
//! * The account is keyed by the name as submitted, known or not, so an unknown user gets
//!   the very same answers as a known one (pass the name normalised as your directory looks
//!   it up). Addresses are keyed by IPv4 address or IPv6 /64 prefix (what one client
//!   usually holds); IPv4-mapped IPv6 addresses count as IPv4.
//! * A success clears its account's failures and takes back its own attempt from the
//!   address (not the address's earlier failures: one valid account must not launder an
//!   address's guesses at others). A record is forgotten [`ThrottlePolicy::forget_after`]
//!   its last failure.
//!
//! # Memory
//! Each table (accounts, addresses) holds at most [`ThrottlePolicy::capacity`] records of a
//! fixed size (names are kept as SHA-256 digests). Forgotten records go first; when a table
//! is full, a new key evicts the record whose last failure is the oldest. To evict a locked
//! account that way an attacker must fail `capacity` times on other keys after that
//! account's last failure — from addresses that are themselves throttled — and wins only
//! [`Backoff::free_failures`] guesses before the account locks again.
//!
//! # Guessing user codes
//! A device's user code (RFC 8628 §6.1: 8 of 20 consonants, 20^8 ≈ 2.56 × 10^10 ≈ 2^34.6
//! values) is short enough to guess, and per-address limits do not hold an attacker with
//! many addresses. [`LoginThrottle::begin_user_code`] therefore also counts every failed
//! look-up against one cap for the whole provider ([`UserCodeCap`], RFC 8628 §5.1): past
//! [`UserCodeCap::failures`] in a window of [`UserCodeCap::window`], every look-up waits for
//! the next window — a correct code too (the cap cannot tell it apart before looking it up:
//! an attack makes code entry wait, it does not find a code).
//!
//! The login form (portcullis-interaction) and the password grant (RFC 6749 §4.3, which
//! RFC 6749 §10.7 asks to guard against brute force) share these rules; a host that offers
//! both gives them the same [`LoginThrottle`], so that guesses count across both.
//!
//! # Scope
//! Counts live in this process's memory: each node behind a load balancer throttles on its
//! own (n nodes allow up to n times the attempts, the user code cap included: divide it by
//! the number of nodes) and a restart forgets them. The address is
//! the caller's to give: behind a reverse proxy, the client's address from the proxy's
//! header that the host trusts, never a header any client can set.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use portcullis_core::UnixTime;
use ring::digest::{digest, SHA256};

use portcullis_store::Clock;

/// When attempts on one key slow down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Failures allowed before any delay.
    pub free_failures: u32,
    /// The delay after the first failure beyond the free ones; it doubles with each failure.
    pub base_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
}

impl Backoff {
    /// How long after the last failure a key with `failures` must wait.
    fn delay(&self, failures: u32) -> Duration {
        let Some(beyond) = failures.checked_sub(self.free_failures) else {
            return Duration::ZERO;
        };
        let factor = 1u32.checked_shl(beyond).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// How [`LoginThrottle`] throttles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Per account: 5 free failures, then 1 s doubling up to 15 min.
    pub account: Backoff,
    /// Per client address (shared by everyone behind one NAT): 20 free failures, then 1 s
    /// doubling up to 15 min.
    pub address: Backoff,
    /// How long after its last failure a record is forgotten (1 h); never less than twice
    /// the longest delay, so that a key waiting out the longest delay is still remembered
    /// and its next failure waits as long again.
    pub forget_after: Duration,
    /// Records per table at most (20,000: a few MiB in all).
    pub capacity: usize,
    /// Failed user code look-ups for the whole provider ([`LoginThrottle::begin_user_code`]).
    pub user_codes: UserCodeCap,
}

/// A cap on failed user code look-ups (RFC 8628 §5.1) for the whole provider, per fixed
/// window of time, in this process.
///
/// The default, 100 failures per 10 minutes, allows at most 14,400 guesses a day (28,800
/// within any one day that straddles windows, fixed windows allowing two full windows back
/// to back). With `L` codes live at once out of 20^8 ≈ 2.56 × 10^10, each guess finds one
/// with a chance of `L / 2.56 × 10^10`: a day of guessing at the cap finds one with a
/// chance of at most `28,800 × L / 2.56 × 10^10 ≈ 1.1 × 10^-6 × L` — about 10^-4 for 100
/// codes live at once, 10^-3 for 1,000. Raise the cap only with the live-code count in
/// mind (typos of real users count too); with n nodes, give each `failures / n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserCodeCap {
    /// Failed look-ups allowed in one window (100).
    pub failures: u32,
    /// The window's length (10 min); windows start at multiples of it since the epoch.
    pub window: Duration,
}

impl Default for UserCodeCap {
    fn default() -> Self {
        Self {
            failures: 100,
            window: Duration::from_secs(600),
        }
    }
}

/// The failed user code look-ups counted in the current window.
#[derive(Debug, Default)]
struct Window {
    /// When the window began (seconds since the epoch).
    start: u64,
    failures: u32,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        let backoff = |free_failures| Backoff {
            free_failures,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
        };
        Self {
            account: backoff(5),
            address: backoff(20),
            forget_after: Duration::from_secs(3600),
            capacity: 20_000,
            user_codes: UserCodeCap::default(),
        }
    }
}

/// The client's address, for [`LoginThrottle::begin`]: an adapter (or the host's glue) puts
/// it into the request's extensions, so that the host's pages, on `http` types, find it
/// there. Behind a reverse proxy, the address the host trusts the proxy to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl ClientAddress {
    /// The address to throttle `req` by: the [`ClientAddress`] the host put in it, else its
    /// peer's (the [`std::net::SocketAddr`] every adapter puts there); `None` when neither.
    pub fn of<B>(req: &http::Request<B>) -> Option<IpAddr> {
        let extensions = req.extensions();
        extensions.get::<Self>().map(|a| a.0).or_else(|| {
            extensions
                .get::<std::net::SocketAddr>()
                .map(std::net::SocketAddr::ip)
        })
    }
}

/// `req` with the address of its peer (the [`std::net::SocketAddr`] extension every adapter
/// puts in a request) as its [`ClientAddress`]: for a host its clients reach directly.
/// Behind a reverse proxy, insert the address the proxy reports instead.
pub fn with_client_address<B>(mut req: http::Request<B>) -> http::Request<B> {
    if let Some(peer) = req.extensions().get::<std::net::SocketAddr>().copied() {
        req.extensions_mut().insert(ClientAddress(peer.ip()));
    }
    req
}

/// A sign-in refused for now: the caller must not check its password, and answers e.g.
/// `429 Too Many Requests` with `Retry-After` (RFC 6585 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many failed sign-ins: retry in {retry_after_secs} s")]
pub struct Throttled {
    /// Whole seconds until an attempt is allowed again (at least 1).
    pub retry_after_secs: u64,
}

type Key = [u8; 32];

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: UnixTime,
    /// The record's place in `Table::by_age`.
    stamp: u64,
}

/// Failure records of one kind of key, by key and by age of their last failure.
#[derive(Debug, Default)]
struct Table {
    records: HashMap<Key, Record>,
    by_age: BTreeMap<(UnixTime, u64), Key>,
    next_stamp: u64,
}

impl Table {
    /// Drops the records whose last failure is at or before `cutoff`.
    fn forget(&mut self, cutoff: UnixTime) {
        while let Some(entry) = self.by_age.first_entry() {
            if entry.key().0 > cutoff {
                return;
            }
            let key = entry.remove();
            self.records.remove(&key);
        }
    }

    /// Seconds `key` must still wait at `now`.
    fn wait(&self, key: &Key, backoff: &Backoff, now: UnixTime) -> u64 {
        self.records.get(key).map_or(0, |r| {
            now.seconds_until(r.last.plus(backoff.delay(r.failures)))
        })
    }

    /// Counts a failure of `key` at `now`, evicting the oldest record if a new one would
    /// exceed `capacity`.
    fn fail(&mut self, key: Key, now: UnixTime, capacity: usize) {
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        let failures = match self.records.get(&key) {
            Some(old) => {
                self.by_age.remove(&(old.last, old.stamp));
                old.failures.saturating_add(1)
            }
            None => {
                while self.records.len() >= capacity.max(1) {
                    let Some((_, oldest)) = self.by_age.pop_first() else {
                        break;
                    };
                    self.records.remove(&oldest);
                }
                1
            }
        };
        let last = self.records.get(&key).map_or(now, |r| r.last.max(now));
        self.records.insert(
            key,
            Record {
                failures,
                last,
                stamp,
            },
        );
        self.by_age.insert((last, stamp), key);
    }

    /// Takes one failure of `key` back.
    fn take_back(&mut self, key: &Key) {
        if let Some(r) = self.records.get_mut(key) {
            r.failures -= 1;
            if r.failures == 0 {
                self.remove(key);
            }
        }
    }

    fn remove(&mut self, key: &Key) {
        if let Some(r) = self.records.remove(key) {
            self.by_age.remove(&(r.last, r.stamp));
        }
    }
}

#[derive(Debug, Default)]
struct Tables {
    accounts: Table,
    addresses: Table,
    user_codes: Window,
}

/// Throttles failed sign-ins per account and per client address, in this process (see the
/// module docs for the rules, the memory bound and the scope). Cheap to clone (shared).
#[derive(Clone)]
pub struct LoginThrottle {
    policy: Arc<ThrottlePolicy>,
    clock: Arc<dyn Clock>,
    tables: Arc<Mutex<Tables>>,
}

impl std::fmt::Debug for LoginThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginThrottle")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn account_key(account: &str) -> Key {
    digest_key(account.as_bytes())
}

/// An IPv4 address, or an IPv6 address's /64 prefix.
fn address_key(address: IpAddr) -> Key {
    match address.to_canonical() {
        IpAddr::V4(v4) => digest_key(&v4.octets()),
        IpAddr::V6(v6) => digest_key(&v6.octets()[..8]),
    }
}

fn digest_key(bytes: &[u8]) -> Key {
    let mut key = [0u8; 32];
    key.copy_from_slice(digest(&SHA256, bytes).as_ref());
    key
}

impl LoginThrottle {
    /// A throttle with `policy`, reading the time from `clock`.
    pub fn new(mut policy: ThrottlePolicy, clock: Arc<dyn Clock>) -> Self {
        let longest = policy.account.max_delay.max(policy.address.max_delay);
        policy.forget_after = policy.forget_after.max(longest.saturating_mul(2));
        Self {
            policy: Arc::new(policy),
            clock,
            tables: Arc::default(),
        }
    }

    fn tables(&self) -> MutexGuard<'_, Tables> {
        // Every update leaves the tables consistent before it can panic: keep going.
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Begins a sign-in attempt of `account` from `address` (`None` when the client's
    /// address is unknown: then only the account is throttled): refused with [`Throttled`]
    /// if either must wait, else counted as a failure of both until
    /// [`LoginAttempt::succeeded`]. Check the password only after this returns `Ok`.
    pub fn begin(&self, account: &str, address: Option<IpAddr>) -> Result<LoginAttempt, Throttled> {
        self.begin_counted(account, address, false)
    }

    /// Begins a look-up of a device's user code (RFC 8628 §5.1) by `who` (e.g. the
    /// browser) from `address`: throttled as [`LoginThrottle::begin`] throttles `who`, and
    /// besides refused while the provider-wide [`UserCodeCap`] is reached (until the next
    /// window), else counted as a failure against it too until
    /// [`LoginAttempt::succeeded`]. Look the code up only after this returns `Ok`.
    pub fn begin_user_code(
        &self,
        who: &str,
        address: Option<IpAddr>,
    ) -> Result<LoginAttempt, Throttled> {
        self.begin_counted(&format!("user-code {who}"), address, true)
    }

    fn begin_counted(
        &self,
        account: &str,
        address: Option<IpAddr>,
        user_code: bool,
    ) -> Result<LoginAttempt, Throttled> {
        let (account, address) = (account_key(account), address.map(address_key));
        let now = self.clock.now();
        let policy = &self.policy;
        let mut t = self.tables();
        let cutoff = UnixTime::from_secs(now.secs().saturating_sub(policy.forget_after.as_secs()));
        t.accounts.forget(cutoff);
        t.addresses.forget(cutoff);
        let address_wait = address.map_or(0, |a| t.addresses.wait(&a, &policy.address, now));
        let cap = &policy.user_codes;
        let window = cap.window.as_secs().max(1);
        let window_start = now.secs() - now.secs() % window;
        if t.user_codes.start != window_start {
            t.user_codes = Window {
                start: window_start,
                failures: 0,
            };
        }
        let cap_wait = match user_code && t.user_codes.failures >= cap.failures {
            true => window_start + window - now.secs(),
            false => 0,
        };
        let wait = t
            .accounts
            .wait(&account, &policy.account, now)
            .max(address_wait)
            .max(cap_wait);
        if wait > 0 {
            crate::observability::throttled();
            return Err(Throttled {
                retry_after_secs: wait,
            });
        }
        t.accounts.fail(account, now, policy.capacity);
        if let Some(a) = address {
            t.addresses.fail(a, now, policy.capacity);
        }
        if user_code {
            t.user_codes.failures += 1;
        }
        Ok(LoginAttempt {
            throttle: self.clone(),
            account,
            address,
            user_code_window: user_code.then_some(window_start),
        })
    }

    /// How many records the tables hold, accounts and addresses (for tests and metrics).
    pub fn len(&self) -> usize {
        let t = self.tables();
        t.accounts.records.len() + t.addresses.records.len()
    }

    /// Whether no failure is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A sign-in attempt under way, counted as failed unless [`LoginAttempt::succeeded`] is
/// called: dropping it (wrong password, unknown user, an error, a cancelled request) leaves
/// the failure counted.
#[derive(Debug)]
#[must_use = "call succeeded() when the password was right"]
pub struct LoginAttempt {
    throttle: LoginThrottle,
    account: Key,
    address: Option<Key>,
    /// The window of the user code cap this attempt counts in, if it does.
    user_code_window: Option<u64>,
}

impl LoginAttempt {
    /// The password (or user code) was right: clears the account's failures and takes this
    /// attempt back from the address and from the user code cap's window it counted in.
    pub fn succeeded(self) {
        let mut t = self.throttle.tables();
        t.accounts.remove(&self.account);
        if let Some(a) = &self.address {
            t.addresses.take_back(a);
        }
        if self.user_code_window == Some(t.user_codes.start) {
            t.user_codes.failures = t.user_codes.failures.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

    fn throttle(policy: ThrottlePolicy) -> (LoginThrottle, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(UnixTime::from_secs(1_000_000)));
        (LoginThrottle::new(policy, clock.clone()), clock)
    }

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
    }

    /// Fails `n` attempts of `account` from `address`, each allowed.
    fn fail(t: &LoginThrottle, account: &str, address: IpAddr, n: u32) {
        for i in 0..n {
            let attempt = t.begin(account, Some(address));
            assert!(attempt.is_ok(), "failure {i} of {account} was refused");
        }
    }

    fn retry_after(t: &LoginThrottle, account: &str, address: IpAddr) -> Option<u64> {
        t.begin(account, Some(address))
            .err()
            .map(|e| e.retry_after_secs)
    }

    #[test]
    fn the_peer_address_becomes_the_client_address() {
        let peer: std::net::SocketAddr = "192.0.2.1:4567".parse().unwrap();
        let mut req = http::Request::new(());
        req.extensions_mut().insert(peer);
        let req = with_client_address(req);
        assert_eq!(req.extensions().get(), Some(&ClientAddress(HOME)));
        let without = with_client_address(http::Request::new(()));
        assert_eq!(without.extensions().get::<ClientAddress>(), None);
    }

    /// The host's address wins; without one, the peer's; without either, none.
    #[test]
    fn a_request_is_throttled_by_the_hosts_address_else_its_peers() {
        let peer: std::net::SocketAddr = "192.0.2.9:4567".parse().unwrap();
        let mut req = http::Request::new(());
        req.extensions_mut().insert(peer);
        assert_eq!(ClientAddress::of(&req), Some(peer.ip()));
        req.extensions_mut().insert(ClientAddress(HOME));
        assert_eq!(ClientAddress::of(&req), Some(HOME));
        assert_eq!(ClientAddress::of(&http::Request::new(())), None);
    }

    #[test]
    fn backoff_doubles_after_the_free_failures_up_to_the_cap() {
        let b = ThrottlePolicy::default().account;
        let secs: Vec<u64> = (0..18).map(|f| b.delay(f).as_secs()).collect();
        assert_eq!(&secs[..5], [0; 5]);
        assert_eq!(&secs[5..11], [1, 2, 4, 8, 16, 32]);
        assert_eq!(secs[14], 512);
        assert_eq!(secs[15], 900, "capped at 15 min");
        assert_eq!(b.delay(u32::MAX).as_secs(), 900);
    }

    #[test]
    fn an_account_locks_after_five_failures_and_unlocks_after_the_delay() {
        let (t, clock) = throttle(ThrottlePolicy::default());
        fail(&t, "alice", HOME, 5);
        assert_eq!(retry_after(&t, "alice", HOME), Some(1));
        // From another address too: the account is locked, not the address.
        assert_eq!(retry_after(&t, "alice", ip(7)), Some(1));
        assert_eq!(retry_after(&t, "bob", HOME), None, "bob is free");
        clock.advance(1);
        fail(&t, "alice", HOME, 1);
        assert_eq!(retry_after(&t, "alice", HOME), Some(2));
        clock.advance(2);
        // The right password now: allowed, and it clears the account.
        t.begin("alice", Some(HOME)).unwrap().succeeded();
        fail(&t, "alice", HOME, 5);
        assert_eq!(retry_after(&t, "alice", HOME), Some(1));
    }

    #[test]
    fn attempts_count_as_failures_from_the_start() {
        let (t, _) = throttle(ThrottlePolicy::default());
        // Five attempts under way at once (their passwords not yet checked): a sixth waits.
        let pending: Vec<_> = (0..5)
            .map(|_| t.begin("alice", Some(HOME)).unwrap())
            .collect();
        let one_second = Some(Throttled {
            retry_after_secs: 1,
        });
        assert_eq!(t.begin("alice", Some(HOME)).err(), one_second);
        drop(pending);
        assert_eq!(
            t.begin("alice", Some(HOME)).err(),
            one_second,
            "dropped attempts stay failures"
        );
    }

    #[test]
    fn an_address_locks_after_twenty_failures_whatever_the_accounts() {
        let (t, clock) = throttle(ThrottlePolicy::default());
        for i in 0..20 {
            fail(&t, &format!("user{i}"), HOME, 1);
        }
        assert_eq!(retry_after(&t, "someone-new", HOME), Some(1));
        assert_eq!(
            retry_after(&t, "someone-new", ip(1)),
            None,
            "another address"
        );
        clock.advance(1);
        // A success from the address takes back only its own attempt.
        t.begin("carol", Some(HOME)).unwrap().succeeded();
        assert_eq!(retry_after(&t, "someone-new", HOME), Some(1));
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_prefix() {
        let (t, _) = throttle(ThrottlePolicy::default());
        let in_net = |n: u16| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, n, n, n, n));
        for i in 0..20 {
            fail(&t, &format!("user{i}"), in_net(i), 1);
        }
        assert!(retry_after(&t, "new", in_net(999)).is_some(), "same /64");
        let next_net = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
        assert_eq!(retry_after(&t, "new", next_net), None);
        // An IPv4-mapped IPv6 address is its IPv4 address.
        fail(&t, "x", HOME, 1);
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        assert_eq!(address_key(mapped), address_key(HOME));
    }

    #[test]
    fn records_are_forgotten_after_the_window() {
        let (t, clock) = throttle(ThrottlePolicy::default());
        fail(&t, "alice", HOME, 5);
        clock.advance(3599);
        assert!(!t.is_empty());
        clock.advance(1);
        // The next attempt forgets them first.
        t.begin("bob", Some(ip(1))).unwrap().succeeded();
        assert!(t.is_empty(), "{}", t.len());
        fail(&t, "alice", HOME, 5);
    }

    #[test]
    fn forgetting_never_comes_before_the_longest_delay() {
        let policy = ThrottlePolicy {
            forget_after: Duration::from_secs(1),
            ..ThrottlePolicy::default()
        };
        let (t, clock) = throttle(policy);
        fail(&t, "alice", HOME, 5);
        for _ in 0..12 {
            let wait = retry_after(&t, "alice", HOME).unwrap();
            clock.advance(wait);
            fail(&t, "alice", HOME, 1);
        }
        assert_eq!(retry_after(&t, "alice", HOME), Some(900));
        clock.advance(900);
        // Waited out: one more try, remembered, and then as long a wait again.
        fail(&t, "alice", HOME, 1);
        assert_eq!(retry_after(&t, "alice", HOME), Some(900));
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_record_goes_first() {
        let policy = ThrottlePolicy {
            capacity: 100,
            ..ThrottlePolicy::default()
        };
        let (t, clock) = throttle(policy);
        fail(&t, "target", ip(0), 5);
        clock.advance(1);
        fail(&t, "target", ip(0), 1);
        // A flood of one failure each on other accounts, from other addresses.
        for i in 1..=1_000u32 {
            fail(&t, &format!("filler{i}"), ip(i), 1);
            assert!(t.len() <= 200, "{}", t.len());
            if i == 98 {
                // 99 other accounts: the target, failing most recently before, still locked.
                assert!(retry_after(&t, "target", ip(5000)).is_some());
            }
        }
        // 1,000 newer failures later, the target's record was the oldest and went.
        assert_eq!(retry_after(&t, "target", ip(5000)), None);
    }

    #[test]
    fn without_an_address_only_the_account_counts() {
        let (t, _) = throttle(ThrottlePolicy::default());
        for i in 0..30 {
            drop(t.begin(&format!("user{i}"), None).unwrap());
        }
        assert!(t.begin("someone-new", None).is_ok(), "no address bucket");
        assert_eq!(t.len(), 31);
        fail(&t, "alice", HOME, 4);
        assert!(t.begin("alice", None).is_ok());
        assert_eq!(
            t.begin("alice", None).err(),
            Some(Throttled {
                retry_after_secs: 1
            }),
            "the account still counts"
        );
    }

    /// 100 wrong codes from 100 browsers at 100 addresses within 10 minutes stop every
    /// look-up, anyone's from anywhere, until the next window; sign-ins are not affected.
    #[test]
    fn user_code_look_ups_are_capped_for_the_whole_provider() {
        let (t, clock) = throttle(ThrottlePolicy::default());
        // 1,000,400 s since the epoch: 200 s into a 600 s window.
        clock.advance(400);
        for i in 0..100 {
            drop(
                t.begin_user_code(&format!("browser{i}"), Some(ip(i)))
                    .unwrap(),
            );
        }
        let refused = t.begin_user_code("someone", Some(ip(500))).err();
        assert_eq!(
            refused,
            Some(Throttled {
                retry_after_secs: 400
            })
        );
        assert_eq!(
            t.begin_user_code("someone", None).err(),
            Some(Throttled {
                retry_after_secs: 400
            }),
            "without an address too"
        );
        assert!(t.begin("alice", Some(ip(500))).is_ok(), "sign-ins go on");
        clock.advance(399);
        assert_eq!(
            t.begin_user_code("someone", Some(ip(500))).err(),
            Some(Throttled {
                retry_after_secs: 1
            })
        );
        clock.advance(1);
        assert!(
            t.begin_user_code("someone", Some(ip(500))).is_ok(),
            "a new window"
        );
    }

    #[test]
    fn a_found_user_code_takes_its_attempt_back_from_the_cap() {
        let policy = ThrottlePolicy {
            user_codes: UserCodeCap {
                failures: 2,
                window: Duration::from_secs(60),
            },
            ..ThrottlePolicy::default()
        };
        let (t, clock) = throttle(policy);
        // 1,000,000 s since the epoch: 40 s into a 60 s window.
        for i in 0..10 {
            t.begin_user_code("tv", Some(ip(i))).unwrap().succeeded();
        }
        drop(t.begin_user_code("a", Some(ip(1))).unwrap());
        let found = t.begin_user_code("b", Some(ip(2))).unwrap();
        assert_eq!(
            t.begin_user_code("c", Some(ip(3))).err(),
            Some(Throttled {
                retry_after_secs: 20
            }),
            "two under way count"
        );
        found.succeeded();
        drop(t.begin_user_code("c", Some(ip(3))).unwrap());
        assert!(t.begin_user_code("d", Some(ip(4))).is_err());
        // An attempt begun in an earlier window takes nothing back from a later one.
        let late = t.begin_user_code("e", Some(ip(5)));
        assert!(late.is_err());
        clock.advance(20);
        let old = t.begin_user_code("f", Some(ip(6))).unwrap();
        drop(t.begin_user_code("g", Some(ip(7))).unwrap());
        clock.advance(60);
        drop(t.begin_user_code("h", Some(ip(8))).unwrap());
        drop(t.begin_user_code("i", Some(ip(9))).unwrap());
        old.succeeded();
        assert!(t.begin_user_code("j", Some(ip(10))).is_err(), "still two");
    }

    #[test]
    fn user_code_look_ups_are_throttled_per_browser_and_address_too() {
        let (t, _) = throttle(ThrottlePolicy::default());
        for i in 0..5 {
            drop(t.begin_user_code("browser", Some(ip(i))).unwrap());
        }
        assert_eq!(
            t.begin_user_code("browser", Some(ip(99))).err(),
            Some(Throttled {
                retry_after_secs: 1
            })
        );
        // Not the account of that name: a user code look-up is keyed apart.
        assert!(t.begin("browser", Some(ip(99))).is_ok());
    }

    #[test]
    fn debug_shows_the_policy_only() {
        let (t, _) = throttle(ThrottlePolicy::default());
        fail(&t, "alice", HOME, 1);
        let text = format!("{t:?}");
        assert!(
            text.contains("free_failures") && !text.contains("alice"),
            "{text}"
        );
    }
}
