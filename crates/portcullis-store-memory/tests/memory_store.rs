//! The memory store's contract: atomic consume and rotate, revocation, expiry and purging.

use std::sync::Arc;

use portcullis_core::{
    AccessTokenRecord, CodeRecord, FamilyId, Grant, GrantId, Issuer, RefreshTokenRecord, ScopeSet,
    SecretToken, TokenHash, UnixTime,
};
use portcullis_store::{CodeStore, ConsumeOutcome, RefreshState, RotateOutcome, TokenStore};
use portcullis_store_memory::{MemoryStore, AUTO_PURGE_EVERY};
use ring::rand::SystemRandom;

fn issuer() -> Issuer {
    Issuer::parse("https://as.example").unwrap()
}

fn t(secs: u64) -> UnixTime {
    UnixTime::from_secs(secs)
}

struct Ids {
    grant: GrantId,
    family: FamilyId,
}

fn ids() -> Ids {
    let rng = SystemRandom::new();
    Ids {
        grant: GrantId::generate(&rng).unwrap(),
        family: FamilyId::generate(&rng).unwrap(),
    }
}

fn hash() -> TokenHash {
    SecretToken::generate(&SystemRandom::new()).unwrap().hash()
}

fn code(ids: &Ids, issued: u64, expires: u64) -> CodeRecord {
    CodeRecord {
        hash: hash(),
        issuer: issuer(),
        client_id: "c".into(),
        redirect_uri: None,
        code_challenge: None,
        scopes: ScopeSet::new(),
        resources: Vec::new(),
        subject: "alice".into(),
        auth_time: t(issued),
        grant_id: ids.grant.clone(),
        family_id: ids.family.clone(),
        oidc: None,
        issued_at: t(issued),
        expires_at: t(expires),
    }
}

fn grant(ids: &Ids, expires: u64) -> Grant {
    Grant {
        id: ids.grant.clone(),
        issuer: issuer(),
        subject: "alice".into(),
        client_id: "c".into(),
        scopes: ScopeSet::new(),
        created_at: t(0),
        last_used_at: t(0),
        expires_at: t(expires),
        revoked: false,
    }
}

fn access(ids: &Ids, expires: u64) -> AccessTokenRecord {
    AccessTokenRecord {
        hash: hash(),
        jti: "j".into(),
        audience: Vec::new(),
        issuer: issuer(),
        client_id: "c".into(),
        subject: Some("alice".into()),
        scopes: ScopeSet::new(),
        scope_expiry: Default::default(),
        grant_id: Some(ids.grant.clone()),
        family_id: Some(ids.family.clone()),
        userinfo_claims: Vec::new(),
        issued_at: t(0),
        expires_at: t(expires),
    }
}

fn refresh(ids: &Ids, expires: u64) -> RefreshTokenRecord {
    RefreshTokenRecord {
        hash: hash(),
        issuer: issuer(),
        client_id: "c".into(),
        subject: "alice".into(),
        scopes: ScopeSet::new(),
        resources: Vec::new(),
        auth_time: t(0),
        grant_id: ids.grant.clone(),
        family_id: ids.family.clone(),
        oidc: None,
        issued_at: t(0),
        expires_at: t(expires),
    }
}

#[tokio::test]
async fn a_code_is_consumed_once_then_reported_reused_then_expires() {
    let s = MemoryStore::new();
    let ids = ids();
    let c = code(&ids, 0, 60);
    s.insert_code(&c).await.unwrap();
    let other = Issuer::parse("https://other.example").unwrap();
    assert_eq!(
        s.consume_code(&other, &c.hash, t(1)).await.unwrap(),
        ConsumeOutcome::Missing
    );
    assert_eq!(
        s.consume_code(&issuer(), &c.hash, t(1)).await.unwrap(),
        ConsumeOutcome::Consumed(Box::new(c.clone()))
    );
    assert_eq!(
        s.consume_code(&issuer(), &c.hash, t(2)).await.unwrap(),
        ConsumeOutcome::AlreadyConsumed {
            grant_id: ids.grant.clone(),
            family_id: ids.family.clone()
        }
    );
    assert_eq!(
        s.consume_code(&issuer(), &c.hash, t(60)).await.unwrap(),
        ConsumeOutcome::Missing
    );
    let fresh = code(&ids, 0, 60);
    s.insert_code(&fresh).await.unwrap();
    assert_eq!(
        s.consume_code(&issuer(), &fresh.hash, t(60)).await.unwrap(),
        ConsumeOutcome::Missing
    );
    assert_eq!(CodeStore::purge_expired(&s, t(60)).await.unwrap(), 2);
    assert!(s.is_empty().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_consumers_have_one_winner() {
    let s = Arc::new(MemoryStore::new());
    let c = code(&ids(), 0, 60);
    s.insert_code(&c).await.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let s = s.clone();
            let h = c.hash;
            tokio::spawn(async move { s.consume_code(&issuer(), &h, t(1)).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            ConsumeOutcome::Consumed(_) => won += 1,
            ConsumeOutcome::AlreadyConsumed { .. } => {}
            ConsumeOutcome::Missing => panic!("missing"),
        }
    }
    assert_eq!(won, 1);
}

#[tokio::test]
async fn rotation_happens_once_and_revocation_composes() {
    let s = MemoryStore::new();
    let ids = ids();
    s.save_grant(&grant(&ids, 1000)).await.unwrap();
    let r1 = refresh(&ids, 100);
    let r2 = refresh(&ids, 200);
    let r3 = refresh(&ids, 200);
    s.insert_refresh_token(&r1).await.unwrap();
    assert_eq!(
        s.rotate_refresh_token(&issuer(), &r1.hash, &r2)
            .await
            .unwrap(),
        RotateOutcome::Rotated
    );
    assert_eq!(
        s.rotate_refresh_token(&issuer(), &r1.hash, &r3)
            .await
            .unwrap(),
        RotateOutcome::AlreadyRotated {
            family_id: ids.family.clone()
        }
    );
    assert!(
        s.find_refresh_token(&issuer(), &r3.hash)
            .await
            .unwrap()
            .is_none(),
        "loser's successor not stored"
    );
    assert_eq!(
        s.find_refresh_token(&issuer(), &r1.hash)
            .await
            .unwrap()
            .unwrap()
            .1,
        RefreshState::Rotated
    );
    assert_eq!(
        s.find_refresh_token(&issuer(), &r2.hash)
            .await
            .unwrap()
            .unwrap()
            .1,
        RefreshState::Active
    );
    assert_eq!(
        s.rotate_refresh_token(&issuer(), &hash(), &r3)
            .await
            .unwrap(),
        RotateOutcome::Missing
    );

    let a = access(&ids, 100);
    s.insert_access_token(&a).await.unwrap();
    assert!(s
        .find_access_token(&issuer(), &a.hash)
        .await
        .unwrap()
        .is_some());
    s.revoke_family(&issuer(), &ids.family, t(500))
        .await
        .unwrap();
    assert!(s
        .find_access_token(&issuer(), &a.hash)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        s.find_refresh_token(&issuer(), &r2.hash)
            .await
            .unwrap()
            .unwrap()
            .1,
        RefreshState::Revoked
    );
    // A token inserted into a revoked family (a racing redemption) is dead on arrival.
    let late = access(&ids, 100);
    s.insert_access_token(&late).await.unwrap();
    assert!(s
        .find_access_token(&issuer(), &late.hash)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn revoking_a_grant_kills_its_tokens_only() {
    let s = MemoryStore::new();
    let (mine, other) = (ids(), ids());
    s.save_grant(&grant(&mine, 1000)).await.unwrap();
    let mut g2 = grant(&other, 1000);
    g2.client_id = "d".into();
    s.save_grant(&g2).await.unwrap();
    let (a1, a2) = (access(&mine, 100), access(&other, 100));
    s.insert_access_token(&a1).await.unwrap();
    s.insert_access_token(&a2).await.unwrap();
    assert_eq!(
        s.grants_for(&issuer(), "alice", "c").await.unwrap().len(),
        1
    );
    assert!(s.revoke_grant(&issuer(), &mine.grant).await.unwrap());
    assert!(s
        .find_access_token(&issuer(), &a1.hash)
        .await
        .unwrap()
        .is_none());
    assert!(s
        .find_access_token(&issuer(), &a2.hash)
        .await
        .unwrap()
        .is_some());
    assert!(s.grants_for(&issuer(), "alice", "c").await.unwrap()[0].revoked);
    assert!(!s.revoke_grant(&issuer(), &ids().grant).await.unwrap());
}

#[tokio::test]
async fn purge_removes_everything_expired() {
    let s = MemoryStore::new();
    let ids = ids();
    s.save_grant(&grant(&ids, 300)).await.unwrap();
    s.insert_access_token(&access(&ids, 100)).await.unwrap();
    s.insert_refresh_token(&refresh(&ids, 200)).await.unwrap();
    s.revoke_family(&issuer(), &ids.family, t(250))
        .await
        .unwrap();
    assert_eq!(TokenStore::purge_expired(&s, t(99)).await.unwrap(), 0);
    assert_eq!(TokenStore::purge_expired(&s, t(100)).await.unwrap(), 1);
    assert_eq!(s.purge_all(t(300)).unwrap(), 3);
    assert!(s.is_empty().unwrap());
}

#[tokio::test]
async fn memory_stays_bounded_without_explicit_purges() {
    let s = MemoryStore::new();
    let ids = ids();
    // Each token lives 10 s; time advances 1 s per insert.
    for i in 0..(4 * AUTO_PURGE_EVERY) {
        let mut a = access(&ids, i + 10);
        a.issued_at = t(i);
        s.insert_access_token(&a).await.unwrap();
    }
    assert!(
        s.len().unwrap() <= AUTO_PURGE_EVERY as usize + 10,
        "{}",
        s.len().unwrap()
    );
}
