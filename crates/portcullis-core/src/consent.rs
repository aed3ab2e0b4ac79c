//! Consent as grants remember it: whether the user already consented to what a request asks,
//! and the grant an approval records.

use std::time::Duration;

use ring::rand::SecureRandom;

use crate::ids::GrantId;
use crate::issuer::Issuer;
use crate::records::Grant;
use crate::scope::ScopeSet;
use crate::secret::RandomError;
use crate::time::UnixTime;

impl Grant {
    /// Whether the grant still stands at `now`: not revoked, not expired.
    pub fn is_live(&self, now: UnixTime) -> bool {
        !self.revoked && now < self.expires_at
    }

    /// Records a use at `now` (an approval, a code redeemed, a refresh) and extends the
    /// grant's life to cover tokens of `lifetime` issued now.
    pub fn record_use(&mut self, now: UnixTime, lifetime: Duration) {
        self.last_used_at = now;
        self.expires_at = self.expires_at.max(now.plus(lifetime));
    }
}

/// Whether a live one of `grants` (a subject's grants to one client) covers `scopes` at
/// `now`: the user consented to all of them already.
pub fn consent_remembered(grants: &[Grant], scopes: &ScopeSet, now: UnixTime) -> bool {
    grants
        .iter()
        .any(|g| g.is_live(now) && scopes.is_subset(&g.scopes))
}

/// A subject's consent to a client, as an approval gives it.
#[derive(Debug, Clone, Copy)]
pub struct Consent<'a> {
    /// The issuer.
    pub issuer: &'a Issuer,
    /// The resource owner.
    pub subject: &'a str,
    /// The client.
    pub client_id: &'a str,
    /// The scopes granted.
    pub scopes: &'a ScopeSet,
}

/// The grant that records `consent` at `now`, to save: the first live one of `grants` (the
/// subject's grants to the client) with the scopes added, or a new grant (with an id drawn
/// from `rng`). Either lives to cover tokens of `lifetime` issued now. Consent adds up:
/// scopes granted earlier stay granted until the user revokes the grant.
pub fn grant_at_consent(
    grants: Vec<Grant>,
    consent: &Consent<'_>,
    now: UnixTime,
    lifetime: Duration,
    rng: &dyn SecureRandom,
) -> Result<Grant, RandomError> {
    match grants.into_iter().find(|g| g.is_live(now)) {
        Some(mut g) => {
            g.scopes = g.scopes.union(consent.scopes);
            g.record_use(now, lifetime);
            Ok(g)
        }
        None => Ok(Grant {
            id: GrantId::generate(rng)?,
            issuer: consent.issuer.clone(),
            subject: consent.subject.to_owned(),
            client_id: consent.client_id.to_owned(),
            scopes: consent.scopes.clone(),
            created_at: now,
            last_used_at: now,
            expires_at: now.plus(lifetime),
            revoked: false,
            sessions: Vec::new(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;

    fn set(s: &str) -> ScopeSet {
        ScopeSet::parse(s).unwrap()
    }

    fn at(secs: u64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    fn issuer() -> Issuer {
        Issuer::parse("https://as.example").unwrap()
    }

    fn grant(id: &str, scopes: &str, expires_at: u64) -> Grant {
        Grant {
            id: GrantId::from_stored(id.into()),
            issuer: issuer(),
            subject: "alice".into(),
            client_id: "c".into(),
            scopes: set(scopes),
            created_at: at(10),
            last_used_at: at(20),
            expires_at: at(expires_at),
            revoked: false,
            sessions: Vec::new(),
        }
    }

    #[test]
    fn a_grant_is_live_until_revoked_or_expired() {
        let mut g = grant("g", "a", 100);
        assert!(g.is_live(at(99)));
        assert!(!g.is_live(at(100)));
        g.revoked = true;
        assert!(!g.is_live(at(50)));
    }

    #[test]
    fn a_use_extends_the_grant_never_shortens_it() {
        let mut g = grant("g", "a", 100);
        g.record_use(at(50), Duration::from_secs(10));
        assert_eq!((g.last_used_at, g.expires_at), (at(50), at(100)));
        g.record_use(at(60), Duration::from_secs(100));
        assert_eq!((g.last_used_at, g.expires_at), (at(60), at(160)));
    }

    #[test]
    fn consent_is_remembered_by_a_live_grant_covering_the_scopes() {
        let mut revoked = grant("r", "a b", 100);
        revoked.revoked = true;
        let grants = [revoked, grant("g", "a", 100)];
        assert!(consent_remembered(&grants, &set("a"), at(50)));
        assert!(!consent_remembered(&grants, &set("a b"), at(50)));
        assert!(!consent_remembered(&grants, &set("a"), at(100)));
        assert!(!consent_remembered(&[], &ScopeSet::new(), at(50)));
    }

    #[test]
    fn consent_adds_to_the_live_grant_or_starts_one() {
        let rng = SystemRandom::new();
        let (issuer, scopes) = (issuer(), set("b"));
        let consent = Consent {
            issuer: &issuer,
            subject: "alice",
            client_id: "c",
            scopes: &scopes,
        };
        let lifetime = Duration::from_secs(1_000);
        let mut revoked = grant("r", "x", 5_000);
        revoked.revoked = true;
        let grants = vec![revoked, grant("expired", "y", 50), grant("g", "a", 5_000)];
        let merged = grant_at_consent(grants, &consent, at(50), lifetime, &rng).unwrap();
        assert_eq!(merged.id.as_str(), "g");
        assert_eq!(merged.scopes, set("a b"));
        assert_eq!(merged.created_at, at(10));
        assert_eq!(
            (merged.last_used_at, merged.expires_at),
            (at(50), at(5_000))
        );
        let fresh = grant_at_consent(vec![], &consent, at(50), lifetime, &rng).unwrap();
        assert_eq!(
            fresh,
            Grant {
                id: fresh.id.clone(),
                issuer: issuer.clone(),
                subject: "alice".into(),
                client_id: "c".into(),
                scopes: set("b"),
                created_at: at(50),
                last_used_at: at(50),
                expires_at: at(1_050),
                revoked: false,
                sessions: Vec::new(),
            }
        );
        let other = grant_at_consent(vec![], &consent, at(50), lifetime, &rng).unwrap();
        assert_ne!(fresh.id, other.id);
    }
}
