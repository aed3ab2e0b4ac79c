//! Access-token records as the memory store keeps them: compact, because there are many.
//!
//! What many tokens share (issuer, client, scopes, audience, UserInfo claims, the login's
//! `acr` and `amr`, which take few values, and the authorization details of RFC 9396, which
//! the tokens of one grant share: the token's "shape") is interned once
//! behind an `Arc`; the per-token strings (`jti`, subject, grant and family ids) are packed
//! into one allocation, and the login's `auth_time`, which differs per user, sits in the
//! entry. An entry is 64 bytes plus that string; the map adds its key, the key's hash and a
//! slot in its index table: at 10^6 live tokens about 310 bytes per token in all, against
//! 1.1 KB when whole `AccessTokenRecord`s were kept (`portcullis-bench`'s `memory`). Records
//! are rebuilt on read.

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use portcullis_core::{
    AccessTokenRecord, AuthorizationDetail, Confirmation, FamilyId, GrantId, Issuer, ScopeSet,
    TokenHash, UnixTime,
};
use portcullis_store::{StoreError, StoreResult};

use crate::sweep::{Expires, Swept};

/// What tokens of one client, grant shape and issuer have in common.
#[derive(Debug)]
struct Shape {
    issuer: Issuer,
    client_id: Box<str>,
    scopes: ScopeSet,
    audience: Box<[String]>,
    userinfo_claims: Box<[String]>,
    acr: Option<Box<str>>,
    amr: Option<Box<[String]>>,
    authorization_details: Box<[AuthorizationDetail]>,
}

impl Shape {
    fn of(r: &AccessTokenRecord) -> Self {
        Self {
            issuer: r.issuer.clone(),
            client_id: r.client_id.as_str().into(),
            scopes: r.scopes.clone(),
            audience: r.audience.as_slice().into(),
            userinfo_claims: r.userinfo_claims.as_slice().into(),
            acr: r.acr.as_deref().map(Into::into),
            amr: r.amr.as_deref().map(Into::into),
            authorization_details: r.authorization_details.as_slice().into(),
        }
    }

    fn matches(&self, r: &AccessTokenRecord) -> bool {
        self.issuer == r.issuer
            && *self.client_id == *r.client_id
            && self.scopes == r.scopes
            && *self.audience == *r.audience
            && *self.userinfo_claims == *r.userinfo_claims
            && self.acr.as_deref() == r.acr.as_deref()
            && self.amr.as_deref() == r.amr.as_deref()
            && *self.authorization_details == *r.authorization_details
    }
}

/// The interned shapes, found by a hash of the borrowed fields (no allocation on a hit).
#[derive(Debug, Default)]
pub(crate) struct Shapes {
    by_hash: Swept<u64, Vec<Arc<Shape>>>,
    hasher: RandomState,
}

impl Shapes {
    fn intern(&mut self, r: &AccessTokenRecord) -> Arc<Shape> {
        let key = self.hasher.hash_one((
            &r.issuer,
            &r.client_id,
            &r.scopes,
            &r.audience,
            &r.userinfo_claims,
            &r.acr,
            &r.amr,
            // The details' count only: `matches` compares them whole.
            r.authorization_details.len(),
        ));
        let same = self.by_hash.get_or_insert_with(key, Vec::new);
        if let Some(shape) = same.iter().find(|s| s.matches(r)) {
            return shape.clone();
        }
        let shape = Arc::new(Shape::of(r));
        same.push(shape.clone());
        shape
    }

    /// Forgets the shapes no entry uses any more.
    pub(crate) fn prune(&mut self) {
        self.by_hash.retain(|_, same| !forget_unused(same));
    }

    /// Forgets the unused shapes among the next `budget` hashes (see [`Swept::sweep`]).
    pub(crate) fn prune_some(&mut self, budget: usize) {
        self.by_hash.sweep(budget, forget_unused, |_, _| {});
    }
}

/// Drops the shapes only `same` holds; returns whether none is left.
fn forget_unused(same: &mut Vec<Arc<Shape>>) -> bool {
    same.retain(|s| Arc::strong_count(s) > 1);
    same.is_empty()
}

/// Presence bits of the optional ids and of `auth_time`.
const SUBJECT: u8 = 1;
const GRANT: u8 = 2;
const FAMILY: u8 = 4;
const AUTH_TIME: u8 = 8;

/// One stored access token (its hash is the map's key).
#[derive(Debug)]
pub(crate) struct AccessEntry {
    shape: Arc<Shape>,
    /// `jti`, then the subject, grant id and family id that are present, back to back.
    ids: Box<str>,
    /// Where the `jti`, the subject and the grant id end in `ids` (ids are short: an OpenID
    /// subject is at most 255 characters, OpenID Connect Core §2).
    ends: [u16; 3],
    present: u8,
    /// What few tokens have, boxed: 8 bytes in the usual entry, which has none of it.
    rare: Option<Box<Rare>>,
    /// The login's, when `present` says so (an `Option` would take 16 bytes).
    auth_time: UnixTime,
    issued_at: UnixTime,
    expires_at: UnixTime,
}

/// The parts of a record most tokens lack.
#[derive(Debug)]
struct Rare {
    scope_expiry: BTreeMap<String, UnixTime>,
    confirmation: Option<Confirmation>,
    act: Option<serde_json::Value>,
}

impl Expires for AccessEntry {
    fn expired(&self, now: UnixTime) -> bool {
        self.expires_at <= now
    }
}

impl AccessEntry {
    /// Packs `r`, interning its shape in `shapes`.
    pub(crate) fn new(r: &AccessTokenRecord, shapes: &mut Shapes) -> StoreResult<Self> {
        let subject = r.subject.as_deref();
        let grant = r.grant_id.as_ref().map(GrantId::as_str);
        let family = r.family_id.as_ref().map(FamilyId::as_str);
        let mut ids = String::with_capacity(
            r.jti.len()
                + subject.map_or(0, str::len)
                + grant.map_or(0, str::len)
                + family.map_or(0, str::len),
        );
        let mut ends = [0u16; 3];
        for (end, part) in ends.iter_mut().zip([Some(r.jti.as_str()), subject, grant]) {
            ids.push_str(part.unwrap_or_default());
            *end = u16::try_from(ids.len())
                .map_err(|_| StoreError::new("access token record too large"))?;
        }
        ids.push_str(family.unwrap_or_default());
        let present = [
            (subject.is_some(), SUBJECT),
            (grant.is_some(), GRANT),
            (family.is_some(), FAMILY),
            (r.auth_time.is_some(), AUTH_TIME),
        ]
        .iter()
        .filter(|(is, _)| *is)
        .fold(0, |bits, (_, bit)| bits | bit);
        Ok(Self {
            shape: shapes.intern(r),
            ids: ids.into_boxed_str(),
            ends,
            present,
            rare: (!r.scope_expiry.is_empty() || r.confirmation.is_some() || r.act.is_some()).then(
                || {
                    Box::new(Rare {
                        scope_expiry: r.scope_expiry.clone(),
                        confirmation: r.confirmation.clone(),
                        act: r.act.clone(),
                    })
                },
            ),
            auth_time: r.auth_time.unwrap_or(r.issued_at),
            issued_at: r.issued_at,
            expires_at: r.expires_at,
        })
    }

    /// The issuer.
    pub(crate) fn issuer(&self) -> &Issuer {
        &self.shape.issuer
    }

    fn part(&self, bit: u8, start: usize, end: usize) -> Option<String> {
        (self.present & bit != 0).then(|| self.ids[start..end].to_owned())
    }

    /// The record, rebuilt.
    pub(crate) fn record(&self, hash: TokenHash) -> AccessTokenRecord {
        let [jti, subject, grant] = self.ends.map(|e| e as usize);
        let shape = &self.shape;
        AccessTokenRecord {
            hash,
            jti: self.ids[..jti].to_owned(),
            audience: shape.audience.to_vec(),
            issuer: shape.issuer.clone(),
            client_id: shape.client_id.to_string(),
            subject: self.part(SUBJECT, jti, subject),
            scopes: shape.scopes.clone(),
            scope_expiry: self
                .rare
                .as_ref()
                .map(|r| r.scope_expiry.clone())
                .unwrap_or_default(),
            grant_id: self.part(GRANT, subject, grant).map(GrantId::from_stored),
            family_id: self
                .part(FAMILY, grant, self.ids.len())
                .map(FamilyId::from_stored),
            userinfo_claims: shape.userinfo_claims.to_vec(),
            confirmation: self.rare.as_ref().and_then(|r| r.confirmation.clone()),
            auth_time: (self.present & AUTH_TIME != 0).then_some(self.auth_time),
            acr: shape.acr.as_deref().map(str::to_owned),
            amr: shape.amr.as_deref().map(<[String]>::to_vec),
            authorization_details: shape.authorization_details.to_vec(),
            act: self.rare.as_ref().and_then(|r| r.act.clone()),
            issued_at: self.issued_at,
            expires_at: self.expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_testkit::{Fixtures, TestClock};

    #[test]
    fn records_come_back_whole_and_shapes_are_shared() {
        let (f, c) = (Fixtures::new(b"access entry"), TestClock::default());
        let issuer = Fixtures::issuer();
        let grant = f.grant(&issuer, "alice", "c", c.at(0), c.at(300));
        let delegated = f.access_token(&grant, &f.family_id(), c.at(0), c.at(100));
        let client = f.client_access_token(&issuer, "c", c.at(0), c.at(100));
        let mut shapes = Shapes::default();
        for r in [&delegated, &client] {
            let entry = AccessEntry::new(r, &mut shapes).unwrap();
            assert_eq!(entry.record(r.hash), *r);
        }
        let a = AccessEntry::new(&delegated, &mut shapes).unwrap();
        // Another login of the same user (another time, same acr and amr) shares the shape;
        // a stepped-up one (another acr) does not.
        let later = AccessTokenRecord {
            auth_time: Some(c.at(50)),
            ..delegated.clone()
        };
        let stepped_up = AccessTokenRecord {
            acr: Some("urn:example:loa:3".into()),
            amr: Some(vec!["hwk".into()]),
            ..later.clone()
        };
        let b = AccessEntry::new(&later, &mut shapes).unwrap();
        let up = AccessEntry::new(&stepped_up, &mut shapes).unwrap();
        assert!(Arc::ptr_eq(&a.shape, &b.shape));
        assert!(!Arc::ptr_eq(&a.shape, &up.shape));
        assert_eq!(b.record(later.hash), later);
        assert_eq!(up.record(stepped_up.hash), stepped_up);
        drop((a, b, up));
        shapes.prune();
        assert!(shapes.by_hash.is_empty());
    }

    /// The figure of the module doc: 64 bytes an entry, `auth_time` included.
    #[test]
    fn an_entry_is_64_bytes() {
        assert_eq!(std::mem::size_of::<AccessEntry>(), 64);
    }

    /// Ids too long for the packed offsets are refused, not truncated.
    #[test]
    fn a_record_with_ids_too_long_is_refused() {
        let (f, c) = (Fixtures::new(b"access entry"), TestClock::default());
        let issuer = Fixtures::issuer();
        let grant = f.grant(&issuer, "alice", "c", c.at(0), c.at(300));
        let huge = AccessTokenRecord {
            subject: Some("a".repeat(usize::from(u16::MAX))),
            ..f.access_token(&grant, &f.family_id(), c.at(0), c.at(100))
        };
        let refused = AccessEntry::new(&huge, &mut Shapes::default()).unwrap_err();
        assert!(refused.to_string().contains("too large"), "{refused}");
    }
}
