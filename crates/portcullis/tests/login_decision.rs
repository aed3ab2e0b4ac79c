//! The login decision of a pending authorization (`PendingAuthorization::next_step`): the
//! host's session facts in, the next step out (OpenID Connect Core §3.1.2.1–§3.1.2.6,
//! §5.5.1.1), and `approve` holding the same line whatever the host does.

mod common;

use common::*;
use portcullis::core::{SubjectType, UnixTime};
use portcullis::{
    Clock, InteractionRequired, LoginPrompt, LoginReason, NextStep, PendingAuthorization,
    SessionFacts,
};
use serde_json::Value;

const ESSENTIAL_LOA2: &str = r#"{"id_token":{"acr":{"essential":true,"values":["urn:loa:2"]}}}"#;

fn query(scope: &str, extra: &str) -> String {
    format!(
        "response_type=code&client_id=web&redirect_uri={}&scope={}&state=st&nonce=n\
         &code_challenge={}&code_challenge_method=S256{extra}",
        enc(WEB_REDIRECT),
        enc(scope),
        challenge(VERIFIER)
    )
}

/// `user` signed in at T0 with a password.
fn session(user: &str) -> SessionFacts {
    SessionFacts::new(user, UnixTime::from_secs(T0)).with_amr(vec!["pwd".into()])
}

async fn step(h: &Harness, q: &str, user: Option<&SessionFacts>) -> NextStep {
    let pending = h.pending(q).await;
    pending.next_step(&h.provider, user).await.unwrap()
}

fn login_reason(step: &NextStep) -> LoginReason {
    match step {
        NextStep::Login(p) => p.reason,
        other => panic!("expected the login page, got {other:?}"),
    }
}

fn refusal(step: &NextStep) -> InteractionRequired {
    match step {
        NextStep::Refuse(r) => *r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Approves `pending` for `alice` with what she asked, remembering her consent.
async fn consent(h: &Harness, pending: PendingAuthorization) {
    let approval = session("alice").approval(pending.scopes().clone());
    let r = h.provider.approve(pending, approval).await;
    assert!(query_param(location(&r).as_str(), "code").is_some());
}

/// The ID token of an approved request's code.
async fn id_token_of(h: &Harness, r: &http::Response<bytes::Bytes>) -> String {
    let code = query_param(location(r).as_str(), "code").expect("a code");
    let tokens = h.exchange_web(&code).await;
    tokens["id_token"].as_str().expect("an ID token").to_owned()
}

/// The claims of an ID token this provider signed.
fn claims_of(jws: &str) -> Value {
    use base64::Engine;
    let payload = jws.split('.').nth(1).unwrap();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

async fn id_token_claims(h: &Harness, r: &http::Response<bytes::Bytes>) -> Value {
    claims_of(&id_token_of(h, r).await)
}

#[tokio::test]
async fn nobody_signed_in_sees_the_login_page_with_its_hints() {
    let h = Harness::new().await;
    let q = query(
        "openid",
        "&login_hint=alice%40example&acr_values=urn%3Aloa%3A2",
    );
    let NextStep::Login(prompt) = step(&h, &q, None).await else {
        panic!("the login page")
    };
    assert_eq!(
        prompt,
        LoginPrompt {
            reason: LoginReason::NoSession,
            login_hint: Some("alice@example".into()),
            acr_values: vec!["urn:loa:2".into()],
            essential_acr: false,
        }
    );
    assert!(!prompt.reauthenticate());
    // prompt=none: login_required, redirected with the state (§3.1.2.6).
    let pending = h.pending(&query("openid", "&prompt=none")).await;
    let reason = refusal(&pending.next_step(&h.provider, None).await.unwrap());
    assert_eq!(reason, InteractionRequired::Login);
    let r = h.provider.cannot_interact(pending, reason).await;
    let back = location(&r);
    assert_eq!(
        query_param(back.as_str(), "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(query_param(back.as_str(), "state").as_deref(), Some("st"));
}

#[tokio::test]
async fn remembered_consent_approves_at_once() {
    let h = Harness::new().await;
    let alice = session("alice");
    let q = query("openid read", "");
    assert!(matches!(
        step(&h, &q, Some(&alice)).await,
        NextStep::Consent
    ));
    let none = query("openid read", "&prompt=none");
    assert_eq!(
        refusal(&step(&h, &none, Some(&alice)).await),
        InteractionRequired::Consent
    );
    consent(&h, h.pending(&q).await).await;

    for q in [q.clone(), none] {
        let pending = h.pending(&q).await;
        let NextStep::Approve(approval) =
            pending.next_step(&h.provider, Some(&alice)).await.unwrap()
        else {
            panic!("approved at once: {q}")
        };
        assert_eq!(approval.subject, "alice");
        assert_eq!(approval.auth_time, UnixTime::from_secs(T0));
        assert_eq!(&approval.granted_scopes, pending.scopes());
        assert_eq!(approval.amr, Some(vec!["pwd".to_owned()]));
        let r = h.provider.approve(pending, approval).await;
        assert!(query_param(location(&r).as_str(), "code").is_some());
    }
    // More than consented, prompt=consent, or another user: the consent page.
    let bob = session("bob");
    for (q, user) in [
        (query("openid read write", ""), &alice),
        (query("openid read", "&prompt=consent"), &alice),
        (query("openid read", ""), &bob),
    ] {
        assert!(
            matches!(step(&h, &q, Some(user)).await, NextStep::Consent),
            "{q}"
        );
    }
}

#[tokio::test]
async fn prompt_login_and_select_account_need_a_sign_in_on_the_request() {
    let h = Harness::new().await;
    let alice = session("alice");
    consent(&h, h.pending(&query("openid", "")).await).await;
    for (extra, reason) in [
        ("&prompt=login", LoginReason::PromptLogin),
        ("&prompt=select_account", LoginReason::SelectAccount),
    ] {
        let pending = h.pending(&query("openid", extra)).await;
        let found = pending.next_step(&h.provider, Some(&alice)).await.unwrap();
        assert_eq!(login_reason(&found), reason, "{extra}");
        // Signed in on the login page: on to the client.
        h.clock.advance(5);
        let fresh = SessionFacts::new("alice", h.clock.now());
        let after = pending
            .next_step_after_login(&h.provider, &fresh)
            .await
            .unwrap();
        let NextStep::Approve(approval) = after else {
            panic!("{after:?}")
        };
        let r = h.provider.approve(pending, approval).await;
        assert!(query_param(location(&r).as_str(), "code").is_some());
    }
}

#[tokio::test]
async fn max_age_asks_an_old_session_to_sign_in_again() {
    let h = Harness::new().await;
    let alice = session("alice");
    consent(&h, h.pending(&query("openid", "")).await).await;
    h.clock.advance(100);
    let young = query("openid", "&max_age=100");
    assert!(matches!(
        step(&h, &young, Some(&alice)).await,
        NextStep::Approve(_)
    ));
    let old = query("openid", "&max_age=99");
    let found = step(&h, &old, Some(&alice)).await;
    assert_eq!(login_reason(&found), LoginReason::MaxAge);
    let NextStep::Login(prompt) = found else {
        unreachable!()
    };
    assert!(prompt.reauthenticate());
    let none = query("openid", "&max_age=99&prompt=none");
    assert_eq!(
        refusal(&step(&h, &none, Some(&alice)).await),
        InteractionRequired::Login
    );
}

/// RFC 9470 §4: a plain OAuth request's `max_age` is honoured as in OpenID mode: an old
/// session signs in again, and an approval of a login older than it is `login_required`.
#[tokio::test]
async fn max_age_of_a_plain_request_asks_for_a_fresh_login() {
    let h = Harness::new().await;
    let alice = session("alice");
    consent(&h, h.pending(&query("read", "")).await).await;
    h.clock.advance(100);
    let young = query("read", "&max_age=100");
    assert!(matches!(
        step(&h, &young, Some(&alice)).await,
        NextStep::Approve(_)
    ));
    let old = query("read", "&max_age=99");
    let pending = h.pending(&old).await;
    assert_eq!((pending.oidc(), pending.max_age()), (None, Some(99)));
    let found = step(&h, &old, Some(&alice)).await;
    assert_eq!(login_reason(&found), LoginReason::MaxAge);
    let r = h
        .provider
        .approve(pending, alice.approval(scopes_of("read")))
        .await;
    let redirect = location(&r);
    assert_eq!(
        query_param(redirect.as_str(), "error").as_deref(),
        Some("login_required")
    );
    let pending = h.pending(&old).await;
    let fresh = SessionFacts::new("alice", h.clock.now());
    let r = h
        .provider
        .approve(pending, fresh.approval(scopes_of("read")))
        .await;
    assert!(query_param(location(&r).as_str(), "code").is_some());
}

#[tokio::test]
async fn the_id_token_hint_must_name_the_signed_in_user() {
    let h = Harness::new().await;
    let pending = h.pending(&query("openid", "")).await;
    let r = h
        .provider
        .approve(pending, session("alice").approval(scopes_of("openid")))
        .await;
    let hint = id_token_of(&h, &r).await;
    let hinted = |extra: &str| query("openid", &format!("&id_token_hint={hint}{extra}"));
    let bob = session("bob");
    let found = step(&h, &hinted(""), Some(&bob)).await;
    assert_eq!(login_reason(&found), LoginReason::OtherUser);
    assert_eq!(
        refusal(&step(&h, &hinted("&prompt=none"), Some(&bob)).await),
        InteractionRequired::Login
    );
    // Bob signing in on the request is still not Alice.
    let pending = h.pending(&hinted("")).await;
    let after = pending.next_step_after_login(&h.provider, &bob).await;
    assert_eq!(login_reason(&after.unwrap()), LoginReason::OtherUser);
    let alice = session("alice");
    assert!(matches!(
        step(&h, &hinted("&prompt=none"), Some(&alice)).await,
        NextStep::Approve(_)
    ));
}

#[tokio::test]
async fn a_pairwise_hint_is_compared_as_the_client_sees_the_user() {
    let h = Harness::new().await;
    let mut client = web_client();
    client.oidc.subject_type = SubjectType::Pairwise {
        sector_identifier: "web.example".into(),
    };
    h.provider.register_client(&client).await.unwrap();
    let pending = h.pending(&query("openid", "")).await;
    let r = h
        .provider
        .approve(pending, session("alice").approval(scopes_of("openid")))
        .await;
    let tokens_hint = id_token_of(&h, &r).await;
    assert_ne!(claims_of(&tokens_hint)["sub"], "alice", "pairwise");
    let q = query(
        "openid",
        &format!("&id_token_hint={tokens_hint}&prompt=none"),
    );
    assert!(matches!(
        step(&h, &q, Some(&session("alice"))).await,
        NextStep::Approve(_)
    ));
    assert_eq!(
        refusal(&step(&h, &q, Some(&session("bob"))).await),
        InteractionRequired::Login
    );
}

#[tokio::test]
async fn an_essential_acr_must_be_reached_by_the_session_and_the_approval() {
    let h = Harness::new().await;
    consent(&h, h.pending(&query("openid", "")).await).await;
    let q = query("openid", &format!("&claims={}", enc(ESSENTIAL_LOA2)));
    let found = step(&h, &q, Some(&session("alice"))).await;
    let NextStep::Login(prompt) = found else {
        panic!("{found:?}")
    };
    assert_eq!(prompt.reason, LoginReason::Acr);
    assert_eq!(prompt.acr_values, vec!["urn:loa:2".to_owned()]);
    assert!(prompt.essential_acr);
    let none = query(
        "openid",
        &format!("&claims={}&prompt=none", enc(ESSENTIAL_LOA2)),
    );
    assert_eq!(
        refusal(&step(&h, &none, Some(&session("alice"))).await),
        InteractionRequired::Login
    );

    // The host stepped up: approved, and the ID token says so.
    let stepped_up = session("alice").with_acr("urn:loa:2");
    let pending = h.pending(&q).await;
    let NextStep::Approve(approval) = pending
        .next_step(&h.provider, Some(&stepped_up))
        .await
        .unwrap()
    else {
        panic!("approved")
    };
    let r = h.provider.approve(pending, approval).await;
    assert_eq!(id_token_claims(&h, &r).await["acr"], "urn:loa:2");

    // A host approving on its own with a weaker acr: login_required (§5.5.1.1).
    for weaker in [session("alice"), session("alice").with_acr("urn:loa:1")] {
        let pending = h.pending(&q).await;
        let r = h
            .provider
            .approve(pending, weaker.approval(scopes_of("openid")))
            .await;
        let back = location(&r);
        assert_eq!(
            query_param(back.as_str(), "error").as_deref(),
            Some("login_required")
        );
        assert_eq!(query_param(back.as_str(), "code"), None);
    }
    // A malformed acr request: invalid_request, redirected (§5.5.1).
    let bad = r#"{"id_token":{"acr":{"essential":true,"values":"urn:loa:2"}}}"#;
    let r = h
        .respond(&query("openid", &format!("&claims={}", enc(bad))))
        .await;
    let back = location(&r);
    assert_eq!(
        query_param(back.as_str(), "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(
        query_param(back.as_str(), "error_description").as_deref(),
        Some("claims has an invalid acr request")
    );
    // acr_values alone are preferences: no acr still approves.
    let voluntary = query("openid", "&acr_values=urn%3Aloa%3A2");
    assert!(matches!(
        step(&h, &voluntary, Some(&session("alice"))).await,
        NextStep::Approve(_)
    ));
}

#[tokio::test]
async fn auth_time_asked_for_in_the_claims_parameter_is_in_the_id_token() {
    let h = Harness::new().await;
    h.clock.advance(30);
    for (claims, expected) in [
        (None, None),
        (
            Some(r#"{"id_token":{"auth_time":{"essential":true}}}"#),
            Some(T0),
        ),
        (Some(r#"{"id_token":{"auth_time":null}}"#), Some(T0)),
        (Some(r#"{"userinfo":{"auth_time":null}}"#), None),
    ] {
        let extra = claims.map_or(String::new(), |c| format!("&claims={}", enc(c)));
        let pending = h.pending(&query("openid", &extra)).await;
        let r = h
            .provider
            .approve(pending, session("alice").approval(scopes_of("openid")))
            .await;
        let claims_of_token = id_token_claims(&h, &r).await;
        assert_eq!(
            claims_of_token.get("auth_time").and_then(Value::as_u64),
            expected,
            "{claims:?}"
        );
    }
}

fn scopes_of(s: &str) -> portcullis::core::ScopeSet {
    portcullis::core::ScopeSet::parse(s).unwrap()
}
