//! Scopes that fade before the access token carrying them (`Policy::scope_lifetimes`): power
//! that degrades with the age of the user's authentication.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::scope::ScopeSet;
use crate::time::UnixTime;

/// What an access token issued at `now` carries: see [`live_scopes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveScopes {
    /// The scopes still alive at issue: the token's `scope`, and what the token response
    /// reports (RFC 6749 §5.1).
    pub scopes: ScopeSet,
    /// When each of them that fades before the token expires does so (the record's
    /// `scope_expiry`: introspection and UserInfo drop it then).
    pub expiry: BTreeMap<String, UnixTime>,
}

/// The scopes of an access token issued at `now` until `token_exp`, given each scope's
/// lifetime (`lifetimes`, the policy's `scope_lifetimes`).
///
/// - **A scope's lifetime counts from the user's authentication** (`auth_time` of the grant,
///   kept on its code and refresh tokens), not from the token: a refresh never brings a faded
///   scope back, as it would if each access token restarted the clock. Only a new
///   authentication — a new authorization with a fresh `auth_time` — restores it; a resource
///   server asks the client for one with a step-up challenge (RFC 9470 §3: `max_age`), and
///   the client forces it with `max_age` or `prompt=login` (an existing single sign-on
///   session keeps its old `auth_time`). An `auth_time` after `now` (a host's clock ahead)
///   counts from `now`: a lifetime never starts after the token.
/// - **Without a user** (`auth_time` `None`: client credentials) it counts from `now`: the
///   client authenticated for this very token.
/// - **A scope already faded at `now` is left out** of the token: out of its `scope`
///   (the JWT claim; for an opaque token, what introspection and UserInfo see) and so out of
///   the response's `scope`, which says what the token really carries (RFC 6749 §5.1). The
///   request is not refused: `invalid_grant` would make the client drop its refresh token,
///   and with it the scopes that still live, and `invalid_scope` is for asking beyond the
///   grant, which the client did not. Nor is the scope kept with a past expiry: a JWT, which
///   cannot change, lives no longer than its shortest-lived scope
///   ([`LiveScopes::jwt_expiry`]) and would be born expired. The refresh token keeps the
///   whole grant, so the scopes that still live keep being issued, and a faded one is back
///   only under a new authentication. When every scope has faded, the token carries none, as
///   when a refresh narrows to a resource that understands none of them.
/// - A scope alive at `now` that fades before `token_exp` gets its instant in
///   [`LiveScopes::expiry`]; one that outlives the token needs none.
pub fn live_scopes(
    scopes: &ScopeSet,
    auth_time: Option<UnixTime>,
    lifetimes: &BTreeMap<String, Duration>,
    now: UnixTime,
    token_exp: UnixTime,
) -> LiveScopes {
    let since = auth_time.map_or(now, |t| t.min(now));
    let fades_at = |s: &str| lifetimes.get(s).map(|d| since.plus(*d));
    let live: Vec<&str> = scopes
        .iter()
        .filter(|s| fades_at(s).is_none_or(|at| now < at))
        .collect();
    let expiry = live
        .iter()
        .filter_map(|s| fades_at(s).map(|at| ((*s).to_owned(), at)))
        .filter(|(_, at)| *at < token_exp)
        .collect();
    LiveScopes {
        scopes: ScopeSet::from_tokens(live).unwrap_or_default(),
        expiry,
    }
}

impl LiveScopes {
    /// The expiry of a JWT access token otherwise expiring at `token_exp`: a JWT cannot drop
    /// a scope, so it lives no longer than its shortest-lived one (RFC 9068 §2.2 `exp`).
    /// Always after the issue, since every scope left has yet to fade.
    pub fn jwt_expiry(&self, token_exp: UnixTime) -> UnixTime {
        self.expiry.values().copied().fold(token_exp, UnixTime::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 100_000;
    const HOUR: u64 = 3600;

    fn at(secs: u64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    fn lifetimes() -> BTreeMap<String, Duration> {
        BTreeMap::from([
            ("payment".to_owned(), Duration::from_secs(300)),
            ("admin".to_owned(), Duration::from_secs(1800)),
            ("long".to_owned(), Duration::from_secs(2 * HOUR)),
        ])
    }

    fn live(scopes: &str, auth_time: Option<u64>) -> LiveScopes {
        live_scopes(
            &ScopeSet::parse(scopes).unwrap(),
            auth_time.map(at),
            &lifetimes(),
            at(NOW),
            at(NOW + HOUR),
        )
    }

    fn expiry(entries: &[(&str, u64)]) -> BTreeMap<String, UnixTime> {
        entries
            .iter()
            .map(|(s, t)| ((*s).to_owned(), at(*t)))
            .collect()
    }

    #[test]
    fn a_fresh_login_carries_every_scope_each_fading_from_it() {
        let l = live("admin long payment read", Some(NOW - 60));
        assert_eq!(l.scopes.as_str(), "admin long payment read");
        // From auth_time, not from now; `long` outlives the token and `read` has no lifetime.
        assert_eq!(
            l.expiry,
            expiry(&[("admin", NOW - 60 + 1800), ("payment", NOW - 60 + 300)])
        );
        assert_eq!(l.jwt_expiry(at(NOW + HOUR)), at(NOW - 60 + 300));
    }

    #[test]
    fn a_scope_faded_since_the_login_is_left_out() {
        // Six minutes after the login: `payment` (5 min) is gone, `admin` is not.
        let l = live("admin payment read", Some(NOW - 360));
        assert_eq!(l.scopes.as_str(), "admin read");
        assert_eq!(l.expiry, expiry(&[("admin", NOW - 360 + 1800)]));
        assert_eq!(l.jwt_expiry(at(NOW + HOUR)), at(NOW - 360 + 1800));
        // A scope fades at its instant exactly.
        assert_eq!(
            live("payment read", Some(NOW - 300)).scopes.as_str(),
            "read"
        );
        let last_second = live("payment read", Some(NOW - 299));
        assert_eq!(last_second.scopes.as_str(), "payment read");
        assert_eq!(last_second.expiry, expiry(&[("payment", NOW + 1)]));
        // Hours later only the scopes without a lifetime are left; the JWT lives its full time.
        let late = live("admin long payment read", Some(NOW - 3 * HOUR));
        assert_eq!(late.scopes.as_str(), "read");
        assert!(late.expiry.is_empty());
        assert_eq!(late.jwt_expiry(at(NOW + HOUR)), at(NOW + HOUR));
    }

    #[test]
    fn when_every_scope_has_faded_none_is_left() {
        let l = live("admin payment", Some(NOW - 2 * HOUR));
        assert!(l.scopes.is_empty());
        assert!(l.expiry.is_empty());
    }

    #[test]
    fn without_a_user_lifetimes_count_from_the_token() {
        let l = live("admin payment read", None);
        assert_eq!(l.scopes.as_str(), "admin payment read");
        assert_eq!(
            l.expiry,
            expiry(&[("admin", NOW + 1800), ("payment", NOW + 300)])
        );
    }

    #[test]
    fn an_auth_time_after_the_token_counts_from_the_token() {
        assert_eq!(live("payment", Some(NOW + 600)), live("payment", None));
    }

    #[test]
    fn a_scope_fading_with_the_token_needs_no_instant_of_its_own() {
        let l = live_scopes(
            &ScopeSet::parse("payment read").unwrap(),
            Some(at(NOW)),
            &lifetimes(),
            at(NOW),
            at(NOW + 300),
        );
        assert_eq!(l.scopes.as_str(), "payment read");
        assert!(l.expiry.is_empty());
        assert_eq!(l.jwt_expiry(at(NOW + 300)), at(NOW + 300));
    }
}
