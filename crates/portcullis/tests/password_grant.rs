//! The resource owner password credentials grant (RFC 6749 §4.3), behind
//! `Policy::dangerous_allow_password_grant`, per client, through the host's authenticator
//! run on the blocking pool and throttled per username like the login form: success with
//! the client's scopes and its refresh policy, `invalid_grant` for wrong credentials without
//! saying which part, throttling, the exact refusals when off or not registered, discovery;
//! and the `oauth2` crate's `exchange_password` as an independent client.

mod common;

use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use bytes::Bytes;
use common::*;
use http::StatusCode;
use portcullis::core::{GrantType, Policy, UnixTime};
use portcullis::throttle::{LoginThrottle, ThrottlePolicy};
use portcullis::{ManualClock, PasswordAuthenticator, PasswordLogin};
use portcullis_store_memory::MemoryStore;
use serde_json::Value;

/// One user, `alice` / `wonderland`; records the threads it ran on.
#[derive(Default)]
struct Users {
    threads: Mutex<Vec<ThreadId>>,
}

impl PasswordAuthenticator for Users {
    fn authenticate(&self, username: &str, password: &str) -> Option<PasswordLogin> {
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        (username == "alice" && password == "wonderland").then(|| PasswordLogin::new("alice"))
    }
}

fn password_policy() -> Policy {
    let mut policy = Policy::default();
    policy.dangerous_allow_password_grant = true;
    policy
}

/// The web client, registered for the password grant (and refresh) as `pw`.
fn pw_client(refresh: bool) -> portcullis::core::Client {
    let mut c = web_client().with_grant_types(if refresh {
        vec![GrantType::Password, GrantType::RefreshToken]
    } else {
        vec![GrantType::Password]
    });
    c.id = if refresh { "pw" } else { "pw-once" }.into();
    c
}

struct Setup {
    h: Harness,
    users: Arc<Users>,
    throttle_clock: Arc<ManualClock>,
}

async fn setup(policy: Policy, with_authenticator: bool) -> Setup {
    let users = Arc::new(Users::default());
    let throttle_clock = Arc::new(ManualClock::new(UnixTime::from_secs(T0)));
    let throttle = LoginThrottle::new(ThrottlePolicy::default(), throttle_clock.clone());
    let authenticator = users.clone();
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, move |b| {
        let b = b.policy(policy);
        match with_authenticator {
            true => b.password_authenticator(authenticator, throttle),
            false => b,
        }
    })
    .await;
    for c in [pw_client(true), pw_client(false)] {
        h.provider.register_client(&c).await.unwrap();
    }
    Setup {
        h,
        users,
        throttle_clock,
    }
}

async fn password(
    h: &Harness,
    client: &str,
    user: &str,
    pass: &str,
    extra: &str,
) -> (StatusCode, Value) {
    let (status, json, resp) = h
        .token(
            &format!("grant_type=password&username={user}&password={pass}{extra}"),
            Some((client, SECRET)),
        )
        .await;
    assert_eq!(resp.headers()["cache-control"], "no-store");
    (status, json)
}

/// Success: the scope asked (allowed for the client), a refresh token when the client may
/// refresh (and it works), tokens for the user; the password was checked off the async
/// worker.
#[tokio::test]
async fn the_right_password_gets_tokens() {
    let x = setup(password_policy(), true).await;
    let (status, json) = password(&x.h, "pw", "alice", "wonderland", "&scope=read%20write").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["token_type"], "Bearer");
    assert!(json.get("scope").is_none(), "the scope asked: {json}");
    assert!(json.get("id_token").is_none());
    let active = introspect(&x.h, &s(&json, "access_token"), Some(("pw", SECRET))).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], "alice");
    assert_eq!(active["client_id"], "pw");
    assert_eq!(active["scope"], "read write");
    let (status, refreshed, _) =
        x.h.token(
            &format!(
                "grant_type=refresh_token&refresh_token={}",
                s(&json, "refresh_token")
            ),
            Some(("pw", SECRET)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");

    let (status, json) = password(&x.h, "pw-once", "alice", "wonderland", "").await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(
        json.get("refresh_token").is_none(),
        "no refresh grant: {json}"
    );
    let scope = introspect(&x.h, &s(&json, "access_token"), Some(("pw-once", SECRET))).await;
    assert_eq!(scope["scope"], "read", "the client's default");

    let threads = x.users.threads.lock().unwrap();
    assert!(!threads.contains(&std::thread::current().id()));
}

/// RFC 6749 §5.2: wrong password and unknown user are the same `invalid_grant`; a scope the
/// client may not have is `invalid_scope`; a missing password `invalid_request`.
#[tokio::test]
async fn wrong_credentials_are_invalid_grant_without_saying_which() {
    let x = setup(password_policy(), true).await;
    let wrong = password(&x.h, "pw", "alice", "guess", "").await;
    let unknown = password(&x.h, "pw", "mallory", "wonderland", "").await;
    assert_eq!(
        (wrong.0, error_of(&wrong.1)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert_eq!(wrong, unknown);
    let (status, json) = password(&x.h, "pw", "alice", "wonderland", "&scope=admin").await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_scope")
    );
    let (status, json, _) =
        x.h.token("grant_type=password&username=alice", Some(("pw", SECRET)))
            .await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
}

/// Like the login form: after 5 failures of one username the next attempt waits (even with
/// the right password, which is then not checked), and passes once the delay is over.
#[tokio::test]
async fn failures_are_throttled_per_username() {
    let x = setup(password_policy(), true).await;
    for _ in 0..5 {
        let (status, _) = password(&x.h, "pw", "alice", "guess", "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let checked = x.users.threads.lock().unwrap().len();
    let (status, json) = password(&x.h, "pw", "alice", "wonderland", "").await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert_eq!(
        json["error_description"],
        "too many failed attempts: retry later"
    );
    assert_eq!(
        x.users.threads.lock().unwrap().len(),
        checked,
        "not checked"
    );
    // Another user is not held back.
    let (status, _) = password(&x.h, "pw", "bob", "x", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(x.users.threads.lock().unwrap().len(), checked + 1);
    x.throttle_clock.advance(2);
    let (status, json) = password(&x.h, "pw", "alice", "wonderland", "").await;
    assert_eq!(status, StatusCode::OK, "{json}");
}

/// Off by policy (or without an authenticator) the grant is unknown:
/// `unsupported_grant_type`; on, a client not registered for it is `unauthorized_client`
/// (RFC 6749 §5.2). Discovery lists `password` only when it works.
#[tokio::test]
async fn disabled_or_unregistered_is_refused_exactly() {
    let grants = |h: &Harness| -> Vec<String> {
        let m: Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
        m["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap().to_owned())
            .collect()
    };
    for (policy, authenticator) in [(Policy::default(), true), (password_policy(), false)] {
        let x = setup(policy, authenticator).await;
        let (status, json) = password(&x.h, "pw", "alice", "wonderland", "").await;
        assert_eq!(
            (status, error_of(&json)),
            (StatusCode::BAD_REQUEST, "unsupported_grant_type")
        );
        assert!(!grants(&x.h).contains(&"password".to_owned()));
        assert!(x.users.threads.lock().unwrap().is_empty());
    }
    let x = setup(password_policy(), true).await;
    assert!(grants(&x.h).contains(&"password".to_owned()));
    let (status, json) = password(&x.h, "web", "alice", "wonderland", "").await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::BAD_REQUEST, "unauthorized_client")
    );
    assert!(x.users.threads.lock().unwrap().is_empty());
}

/// The `oauth2` crate's `exchange_password`, its requests answered by the provider.
#[tokio::test]
async fn the_oauth2_crates_exchange_password() {
    use oauth2::basic::BasicClient;
    use oauth2::{
        ClientId, ClientSecret, ResourceOwnerPassword, ResourceOwnerUsername, Scope, TokenResponse,
        TokenUrl,
    };
    let x = setup(password_policy(), true).await;
    let provider = x.h.provider.clone();
    let http = move |req: oauth2::HttpRequest| {
        let provider = provider.clone();
        async move {
            let (parts, body) = req.into_parts();
            let resp = provider
                .token(http::Request::from_parts(parts, Bytes::from(body)))
                .await;
            let (parts, body) = resp.into_parts();
            Ok::<_, std::io::Error>(http::Response::from_parts(parts, body.to_vec()))
        }
    };
    let client = BasicClient::new(ClientId::new("pw".into()))
        .set_client_secret(ClientSecret::new(SECRET.into()))
        .set_token_uri(TokenUrl::new(format!("{ISSUER}/token")).unwrap());
    let token = client
        .exchange_password(
            &ResourceOwnerUsername::new("alice".into()),
            &ResourceOwnerPassword::new("wonderland".into()),
        )
        .add_scope(Scope::new("write".into()))
        .request_async(&http)
        .await
        .unwrap();
    assert!(token.refresh_token().is_some());
    let active = introspect(&x.h, token.access_token().secret(), Some(("pw", SECRET))).await;
    assert_eq!(active["scope"], "write");
    let wrong = client
        .exchange_password(
            &ResourceOwnerUsername::new("alice".into()),
            &ResourceOwnerPassword::new("nope".into()),
        )
        .request_async(&http)
        .await;
    match wrong {
        Err(oauth2::RequestTokenError::ServerResponse(e)) => {
            assert_eq!(
                e.error(),
                &oauth2::basic::BasicErrorResponseType::InvalidGrant
            )
        }
        other => panic!("{other:?}"),
    }
}
