//! Interaction tickets are answered once: after `approve`, `deny` or `cannot_interact`, a
//! copy resumed from the same ticket gets a 400 `invalid_request` page — never a redirect,
//! never a code — until the ticket expires. The same holds for a logout ticket and
//! `finish_logout`.

mod common;

use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode};
use portcullis::{InteractionRequired, LogoutOutcome, PendingAuthorization};

fn query(extra: &str) -> String {
    format!(
        "response_type=code&client_id=web&redirect_uri={}&state=xyz&code_challenge={}&code_challenge_method=S256{extra}",
        enc(WEB_REDIRECT),
        challenge(VERIFIER)
    )
}

/// A pending authorization and a second copy of it, resumed from its ticket (a replayed
/// form).
async fn pending_and_copy(
    h: &Harness,
    extra: &str,
) -> (PendingAuthorization, PendingAuthorization) {
    let pending = h.pending(&query(extra)).await;
    let copy = h.provider.resume(pending.ticket()).expect("a live ticket");
    (pending, copy)
}

/// The answer to a ticket answered before: a 400 `invalid_request` page, no redirect, no
/// code.
#[track_caller]
fn assert_already_answered(r: &Response<Bytes>, what: &str) {
    let body = std::str::from_utf8(r.body()).unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{what}: {body}");
    assert!(r.headers().get("location").is_none(), "{what}: a redirect");
    assert!(body.contains("invalid_request"), "{what}: {body}");
    assert!(body.contains("already answered"), "{what}: {body}");
    assert!(!body.contains("code="), "{what}: {body}");
}

fn code_of(r: &Response<Bytes>) -> Option<String> {
    query_param(location(r).as_str(), "code")
}

#[tokio::test]
async fn a_ticket_approved_once_cannot_be_approved_again() {
    let h = Harness::new().await;
    let (pending, copy) = pending_and_copy(&h, "").await;
    let first = h.provider.approve(pending, approval("alice", "read")).await;
    assert!(
        code_of(&first).is_some(),
        "the first approval issues a code"
    );
    let again = h
        .provider
        .approve(copy.clone(), approval("alice", "read"))
        .await;
    assert_already_answered(&again, "approved again");
    // Nor may the approved ticket be denied afterwards.
    assert_already_answered(&h.provider.deny(copy).await, "denied after approval");
}

#[tokio::test]
async fn a_denied_ticket_cannot_be_approved() {
    let h = Harness::new().await;
    let (pending, copy) = pending_and_copy(&h, "").await;
    let denied = h.provider.deny(pending).await;
    let error = query_param(location(&denied).as_str(), "error");
    assert_eq!(error.as_deref(), Some("access_denied"));
    let approved = h
        .provider
        .approve(copy.clone(), approval("alice", "read"))
        .await;
    assert_already_answered(&approved, "approved after denial");
    assert_already_answered(&h.provider.deny(copy).await, "denied again");
    assert!(h.provider.grants("alice").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_ticket_that_could_not_interact_cannot_be_approved() {
    let h = Harness::new().await;
    let (pending, copy) = pending_and_copy(&h, "&scope=openid&nonce=n&prompt=none").await;
    let reason = InteractionRequired::Login;
    let refused = h.provider.cannot_interact(pending, reason).await;
    let error = query_param(location(&refused).as_str(), "error");
    assert_eq!(error.as_deref(), Some("login_required"));
    let approved = h
        .provider
        .approve(copy.clone(), approval("alice", "openid"))
        .await;
    assert_already_answered(&approved, "approved after cannot_interact");
    let again = h.provider.cannot_interact(copy, reason).await;
    assert_already_answered(&again, "cannot_interact again");
}

#[tokio::test]
async fn answering_one_ticket_leaves_another_usable() {
    let h = Harness::new().await;
    let (first, first_copy) = pending_and_copy(&h, "").await;
    let (second, _) = pending_and_copy(&h, "").await;
    assert!(code_of(&h.provider.approve(first, approval("alice", "read")).await).is_some());
    let replayed = h
        .provider
        .approve(first_copy, approval("alice", "read"))
        .await;
    assert_already_answered(&replayed, "the first ticket again");
    let other = h.provider.approve(second, approval("alice", "read")).await;
    assert!(
        code_of(&other).is_some(),
        "another ticket of the same request"
    );
}

#[tokio::test]
async fn a_logout_ticket_is_finished_once() {
    let h = Harness::new().await;
    let end = Request::get(format!(
        "/session/end?client_id=web&post_logout_redirect_uri={}&state=bye",
        enc("https://web.example/bye")
    ))
    .body(Bytes::new())
    .unwrap();
    let pending = match h.provider.end_session(end).await {
        LogoutOutcome::Pending(p) => p,
        LogoutOutcome::Respond(r) => panic!("{r:?}"),
    };
    let copy = h.provider.resume_logout(pending.ticket()).unwrap();
    let finished = h.provider.finish_logout(pending).await;
    assert_eq!(
        location(&finished).as_str(),
        "https://web.example/bye?state=bye"
    );
    let again = h.provider.finish_logout(copy).await;
    let body = std::str::from_utf8(again.body()).unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "{body}");
    assert!(again.headers().get("location").is_none());
    assert!(
        body.contains("invalid_request") && body.contains("already answered"),
        "{body}"
    );
}
