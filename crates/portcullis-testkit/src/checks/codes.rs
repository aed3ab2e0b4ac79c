//! [`CodeStore`]: authorization codes are single use (RFC 6749 §4.1.2, §10.5) and expire.

use std::sync::Arc;

use portcullis_core::{CodeRecord, Grant};
use portcullis_store::{CodeStore, ConsumeOutcome};

use super::races::{race, RACERS, ROUNDS};
use super::{purged, Must};
use crate::{Fixtures, Harness};

fn code_at<S>(h: &Harness<S>, issued: u64, expires: u64) -> (Grant, CodeRecord)
where
    S: Send + Sync + 'static,
{
    let (f, c) = (h.fixtures(), h.clock());
    let grant = f.grant(
        &Fixtures::issuer(),
        "alice",
        "client-1",
        c.at(0),
        c.at(10_000),
    );
    let code = f.code(&grant, &f.family_id(), c.at(issued), c.at(expires));
    (grant, code)
}

fn already_consumed(code: &CodeRecord) -> ConsumeOutcome {
    ConsumeOutcome::AlreadyConsumed {
        grant_id: code.grant_id.clone(),
        family_id: code.family_id.clone(),
    }
}

/// The first `consume_code` returns `Consumed` with the record as inserted, every field
/// intact (the DPoP key bound ahead too, RFC 9449 §10); every later call returns `AlreadyConsumed` with the code's grant and family until
/// the code expires, then `Missing` (the atomicity contract of `CodeStore::consume_code`).
pub async fn code_is_consumed_once<S: CodeStore>(h: Harness<S>) {
    let (s, c) = (h.open().await, h.clock());
    let (_, code) = code_at(&h, 0, 60);
    let a = Fixtures::issuer();
    assert!(code.dpop_jkt.is_some());
    s.insert_code(&code).await.must("insert_code");
    let first = s.consume_code(&a, &code.hash, c.at(1)).await;
    assert_eq!(
        first.must("consume_code"),
        ConsumeOutcome::Consumed(Box::new(code.clone()))
    );
    for t in [1, 2, 59] {
        let again = s.consume_code(&a, &code.hash, c.at(t)).await;
        assert_eq!(
            again.must("consume_code"),
            already_consumed(&code),
            "reuse at +{t}s"
        );
    }
    let expired = s.consume_code(&a, &code.hash, c.at(60)).await;
    assert_eq!(
        expired.must("consume_code"),
        ConsumeOutcome::Missing,
        "after expiry"
    );
}

/// An unknown code is `Missing`, in an empty store and beside other codes.
pub async fn unknown_code_is_missing<S: CodeStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    let empty = s.consume_code(&a, &f.token_hash(), c.at(1)).await;
    assert_eq!(
        empty.must("consume_code"),
        ConsumeOutcome::Missing,
        "empty store"
    );
    let (_, code) = code_at(&h, 0, 60);
    s.insert_code(&code).await.must("insert_code");
    let other = s.consume_code(&a, &f.token_hash(), c.at(1)).await;
    assert_eq!(
        other.must("consume_code"),
        ConsumeOutcome::Missing,
        "another hash"
    );
}

/// A code of issuer A is `Missing` through issuer B — before it is consumed (and B's attempt
/// does not consume it) and after (B learns nothing of its grant or family).
pub async fn codes_are_scoped_by_issuer<S: CodeStore>(h: Harness<S>) {
    let (s, c) = (h.open().await, h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let (_, code) = code_at(&h, 0, 60);
    s.insert_code(&code).await.must("insert_code");
    let via_b = s.consume_code(&b, &code.hash, c.at(1)).await;
    assert_eq!(
        via_b.must("consume_code"),
        ConsumeOutcome::Missing,
        "B before A"
    );
    let via_a = s.consume_code(&a, &code.hash, c.at(2)).await;
    assert_eq!(
        via_a.must("consume_code"),
        ConsumeOutcome::Consumed(Box::new(code.clone())),
        "B's attempt must not consume A's code"
    );
    let via_b = s.consume_code(&b, &code.hash, c.at(3)).await;
    assert_eq!(
        via_b.must("consume_code"),
        ConsumeOutcome::Missing,
        "B after A"
    );
}

/// A code expired at `now` (`expires_at <= now`) is never consumed: `Missing`, while an
/// unexpired one still is.
pub async fn expired_code_is_never_consumed<S: CodeStore>(h: Harness<S>) {
    let (s, c) = (h.open().await, h.clock());
    let a = Fixtures::issuer();
    let (_, late) = code_at(&h, 0, 100);
    let (_, timely) = code_at(&h, 0, 100);
    s.insert_code(&late).await.must("insert_code");
    s.insert_code(&timely).await.must("insert_code");
    for t in [100, 150] {
        let out = s.consume_code(&a, &late.hash, c.at(t)).await;
        assert_eq!(
            out.must("consume_code"),
            ConsumeOutcome::Missing,
            "at +{t}s"
        );
    }
    let out = s.consume_code(&a, &timely.hash, c.at(99)).await;
    assert_eq!(
        out.must("consume_code"),
        ConsumeOutcome::Consumed(Box::new(timely))
    );
}

/// `purge_expired` removes exactly the codes (consumed or not, of every issuer) that expired
/// at `now`, and returns how many; a purged code is `Missing` even at a time before its
/// expiry.
pub async fn code_purge_expired<S: CodeStore>(h: Harness<S>) {
    let (s, f, c) = (h.open().await, h.fixtures(), h.clock());
    let (a, b) = (Fixtures::issuer(), Fixtures::other_issuer());
    let (_, consumed) = code_at(&h, 0, 100);
    let (_, unused) = code_at(&h, 0, 100);
    let (_, later) = code_at(&h, 0, 200);
    let grant_b = f.grant(&b, "alice", "client-1", c.at(0), c.at(10_000));
    let of_b = f.code(&grant_b, &f.family_id(), c.at(0), c.at(100));
    for code in [&consumed, &unused, &later, &of_b] {
        s.insert_code(code).await.must("insert_code");
    }
    let out = s
        .consume_code(&a, &consumed.hash, c.at(1))
        .await
        .must("consume_code");
    assert!(matches!(out, ConsumeOutcome::Consumed(_)), "{out:?}");
    let purge = |secs| CodeStore::purge_expired(&*s, c.at(secs));
    purged(purge(99).await, 0, "nothing expired yet");
    purged(purge(100).await, 3, "consumed, unused and B's");
    let gone = s.consume_code(&a, &consumed.hash, c.at(50)).await;
    assert_eq!(gone.must("consume_code"), ConsumeOutcome::Missing, "purged");
    let kept = s.consume_code(&a, &later.hash, c.at(150)).await;
    assert_eq!(
        kept.must("consume_code"),
        ConsumeOutcome::Consumed(Box::new(later))
    );
    purged(purge(200).await, 1, "the +200s code");
    purged(purge(1_000_000).await, 0, "none left");
}

/// Every handle from the factory reaches the same database: a code inserted through one is
/// consumed through another. (Without this, the separate-handle races would prove nothing.)
pub async fn handles_share_one_database<S: CodeStore>(h: Harness<S>) {
    let (one, two) = (h.open().await, h.open().await);
    let (_, code) = code_at(&h, 0, 60);
    two.insert_code(&code).await.must("insert_code");
    let out = one
        .consume_code(&Fixtures::issuer(), &code.hash, h.clock().at(1))
        .await
        .must("consume_code");
    assert_eq!(
        out,
        ConsumeOutcome::Consumed(Box::new(code)),
        "through another handle"
    );
}

/// [`RACERS`] tasks sharing one handle race to consume one code: one `Consumed`, every other
/// `AlreadyConsumed`.
pub async fn racing_consumers_on_one_handle<S: CodeStore>(h: Harness<S>) {
    let handles = vec![h.open().await];
    consume_race(&h, &handles).await;
}

/// [`RACERS`] tasks with a handle each race to consume one code: one `Consumed`, every
/// other `AlreadyConsumed`.
pub async fn racing_consumers_on_separate_handles<S: CodeStore>(h: Harness<S>) {
    let handles = h.open_many(RACERS).await;
    consume_race(&h, &handles).await;
}

async fn consume_race<S: CodeStore>(h: &Harness<S>, handles: &[Arc<S>]) {
    let (f, c) = (h.fixtures(), h.clock());
    let a = Fixtures::issuer();
    for round in 0..ROUNDS {
        let grant = f.grant(&a, "alice", "client-1", c.at(0), c.at(1_000));
        let code = f.code(&grant, &f.family_id(), c.at(0), c.at(60));
        let writer = &handles[round % handles.len()];
        writer.insert_code(&code).await.must("insert_code");
        let (hash, now) = (code.hash, c.at(1));
        let outcomes = race(handles, |s, _| {
            let a = a.clone();
            async move { s.consume_code(&a, &hash, now).await.must("consume_code") }
        })
        .await;
        let won = outcomes
            .iter()
            .filter(|o| matches!(o, ConsumeOutcome::Consumed(_)))
            .count();
        assert_eq!(won, 1, "round {round}: exactly one winner: {outcomes:?}");
        let reused = ConsumeOutcome::AlreadyConsumed {
            grant_id: code.grant_id.clone(),
            family_id: code.family_id.clone(),
        };
        for o in &outcomes {
            match o {
                ConsumeOutcome::Consumed(r) => assert_eq!(**r, code, "round {round}"),
                other => assert_eq!(other, &reused, "round {round}: every loser"),
            }
        }
    }
}
