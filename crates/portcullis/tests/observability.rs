//! What an operator sees (portcullis::observability): the metrics a flow records, and the
//! spans and events it emits — with the client, grant type and outcome, and never a secret.
//!
//! Each test runs on tokio's current-thread runtime with a thread-local metrics recorder
//! and tracing subscriber, so tests running at once do not see each other's.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use base64::{engine::general_purpose::STANDARD, Engine};
use common::*;
use http::StatusCode;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use portcullis::observability::{
    REPLAYS, REQUESTS, REQUEST_DURATION, STORE_DURATION, TOKENS_ISSUED, TOKENS_REVOKED,
};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The metrics recorded since the last call, by name and sorted labels
/// (`name{k=v,k=v}`): counters' increments, histograms' sample counts.
fn recorded(snapshotter: &Snapshotter) -> BTreeMap<String, u64> {
    let mut seen = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        let n = match value {
            DebugValue::Counter(n) => n,
            DebugValue::Histogram(samples) => samples.len() as u64,
            DebugValue::Gauge(_) => continue,
        };
        *seen.entry(name).or_default() += n;
    }
    seen.retain(|_, n| *n > 0);
    seen
}

fn get(seen: &BTreeMap<String, u64>, key: &str) -> u64 {
    seen.get(key).copied().unwrap_or(0)
}

/// The web client's redemption of `code` (again).
async fn redeem_again(h: &Harness, code: &str) -> (StatusCode, serde_json::Value) {
    let (status, json, _) = h
        .token(
            &format!(
                "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
                enc(WEB_REDIRECT)
            ),
            Some(("web", SECRET)),
        )
        .await;
    (status, json)
}

/// One replay of `kind` counted, and one token request refused with `invalid_grant`.
fn assert_replay_refused(seen: &BTreeMap<String, u64>, kind: &str) {
    assert_eq!(
        get(seen, &format!("{REPLAYS}{{kind={kind}}}")),
        1,
        "{seen:#?}"
    );
    let refused = format!("{REQUESTS}{{endpoint=token,outcome=invalid_grant}}");
    assert_eq!(get(seen, &refused), 1, "{seen:#?}");
}

#[tokio::test]
async fn a_code_flow_counts_requests_tokens_and_store_calls() {
    let recorder = DebuggingRecorder::new();
    let metrics = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let h = Harness::new().await;
    recorded(&metrics);

    let code = h
        .code_for("web", WEB_REDIRECT, "openid read", "alice")
        .await;
    let tokens = h.exchange_web(&code).await;
    let seen = recorded(&metrics);
    for (key, n) in [
        (
            format!("{REQUESTS}{{endpoint=authorization,outcome=ok}}"),
            1,
        ),
        (format!("{REQUESTS}{{endpoint=approve,outcome=ok}}"), 1),
        (format!("{REQUESTS}{{endpoint=token,outcome=ok}}"), 1),
        (format!("{REQUEST_DURATION}{{endpoint=token}}"), 1),
        (
            format!("{TOKENS_ISSUED}{{grant_type=authorization_code,kind=authorization_code}}"),
            1,
        ),
        (
            format!("{TOKENS_ISSUED}{{grant_type=authorization_code,kind=access_token}}"),
            1,
        ),
        (
            format!("{TOKENS_ISSUED}{{grant_type=authorization_code,kind=id_token}}"),
            1,
        ),
        (format!("{STORE_DURATION}{{operation=consume_code}}"), 1),
        // The grant's touch and the tokens' inserts: one store operation.
        (format!("{STORE_DURATION}{{operation=issue_tokens}}"), 1),
        (
            format!("{STORE_DURATION}{{operation=insert_access_token}}"),
            0,
        ),
    ] {
        assert_eq!(get(&seen, &key), n, "{key} in {seen:#?}");
    }
    assert_eq!(
        get(
            &seen,
            &format!("{TOKENS_ISSUED}{{grant_type=authorization_code,kind=refresh_token}}")
        ),
        0,
        "no offline_access, no refresh token: {seen:#?}"
    );
    assert!(
        seen.keys().all(|k| !k.contains("web")),
        "no client id as a label: {seen:#?}"
    );

    // The access token revoked: counted once, by kind.
    let (status, _, _) = h
        .post(
            Endpoint::Revoke,
            &format!("token={}", s(&tokens, "access_token")),
            Some(("web", SECRET)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let seen = recorded(&metrics);
    assert_eq!(
        get(&seen, &format!("{TOKENS_REVOKED}{{kind=access_token}}")),
        1
    );
    assert_eq!(
        get(
            &seen,
            &format!("{REQUESTS}{{endpoint=revocation,outcome=ok}}")
        ),
        1
    );
}

#[tokio::test]
async fn a_replayed_code_is_counted_and_still_refused() {
    let recorder = DebuggingRecorder::new();
    let metrics = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let h = Harness::new().await;
    let code = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
    h.exchange_web(&code).await;
    recorded(&metrics);

    let (status, json) = redeem_again(&h, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&json), "invalid_grant");
    let seen = recorded(&metrics);
    assert_replay_refused(&seen, "authorization_code");
    assert!(
        seen.keys().all(|k| !k.starts_with(TOKENS_ISSUED)),
        "{seen:#?}"
    );
}

#[tokio::test]
async fn a_reused_refresh_token_is_counted_and_refused() {
    let recorder = DebuggingRecorder::new();
    let metrics = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    let h = Harness::new().await;
    let code = h
        .code_for("web", WEB_REDIRECT, "read offline_access", "alice")
        .await;
    let first = h.exchange_web(&code).await;
    let old = s(&first, "refresh_token");
    let (status, _) = h.refresh_web(&old).await;
    assert_eq!(status, StatusCode::OK);
    let seen = recorded(&metrics);
    for kind in ["access_token", "refresh_token"] {
        assert_eq!(
            get(
                &seen,
                &format!("{TOKENS_ISSUED}{{grant_type=refresh_token,kind={kind}}}")
            ),
            1,
            "{seen:#?}"
        );
    }
    assert_eq!(get(&seen, &format!("{REPLAYS}{{kind=refresh_token}}")), 0);

    let (status, json) = h.refresh_web(&old).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&json), "invalid_grant");
    assert_replay_refused(&recorded(&metrics), "refresh_token");
}

/// Every span (name and fields, as recorded) and event (fields) of a test, as lines.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

/// Writes a span's or event's fields as `name=value`.
struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut line = format!("span {} {id:?}:", attrs.metadata().name());
        attrs.record(&mut Fields(&mut line));
        self.0.lock().unwrap().push(line);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut line = format!("record {id:?}:");
        values.record(&mut Fields(&mut line));
        self.0.lock().unwrap().push(line);
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut line = format!("event {}:", event.metadata().target());
        event.record(&mut Fields(&mut line));
        self.0.lock().unwrap().push(line);
    }
}

impl Capture {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// The fields of the span `id` (a `span` line's second word): at creation and recorded.
    fn span_fields(&self, id: &str) -> String {
        self.lines()
            .iter()
            .filter(|l| {
                l.starts_with(&format!("span portcullis.request {id}:"))
                    || l.starts_with(&format!("record {id}:"))
            })
            .map(|l| l.split_once(':').unwrap().1.to_owned())
            .collect()
    }

    /// The ids of the request spans of `endpoint`, in order.
    fn requests(&self, endpoint: &str) -> Vec<String> {
        self.lines()
            .iter()
            .filter(|l| {
                l.starts_with("span portcullis.request ")
                    && l.contains(&format!(" endpoint={endpoint}"))
            })
            .map(|l| {
                l.split(' ')
                    .nth(2)
                    .unwrap()
                    .trim_end_matches(':')
                    .to_owned()
            })
            .collect()
    }
}

#[tokio::test]
async fn spans_name_the_client_and_outcome_and_carry_no_secret() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let _default = tracing::subscriber::set_default(subscriber);
    let h = Harness::new().await;

    let code = h
        .code_for("web", WEB_REDIRECT, "openid read offline_access", "alice")
        .await;
    let tokens = h.exchange_web(&code).await;
    let (access, refresh) = (s(&tokens, "access_token"), s(&tokens, "refresh_token"));
    let id_token = s(&tokens, "id_token");
    let (status, _) = h.refresh_web(&refresh).await;
    assert_eq!(status, StatusCode::OK);
    // The code again: refused, and its reuse logged (without the code).
    let (status, _) = redeem_again(&h, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, service, _) = h
        .token(
            "grant_type=client_credentials&scope=introspect",
            Some(("service", SECRET)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let service_token = s(&service, "access_token");
    let active = introspect(&h, &access, Some(("service", SECRET))).await;
    assert_eq!(active["active"], false, "the reuse revoked it: {active}");
    introspect(&h, &service_token, Some(("service", SECRET))).await;
    // A wrong secret: refused as invalid_client, the presented secret nowhere.
    let (status, _, _) = h
        .token(
            "grant_type=client_credentials",
            Some(("service", "wrong-secret-0123456789")),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let lines = capture.lines();
    let all = lines.join("\n");
    let basic = STANDARD.encode(format!("web:{SECRET}"));
    for secret in [
        SECRET,
        "wrong-secret-0123456789",
        VERIFIER,
        &basic,
        &code,
        &access,
        &refresh,
        &id_token,
        &service_token,
    ] {
        assert!(!all.contains(secret), "{secret} in\n{all}");
    }
    assert!(
        lines.iter().any(
            |l| l.starts_with("span portcullis.store ") && l.contains("operation=consume_code")
        ),
        "a span per store call:\n{all}"
    );

    let tokens = capture.requests("token");
    assert_eq!(tokens.len(), 5, "{all}");
    let fields: Vec<String> = tokens.iter().map(|id| capture.span_fields(id)).collect();
    for (fields, expected) in fields.iter().zip([
        " client_id=web grant_type=authorization_code outcome=ok status=200",
        " client_id=web grant_type=refresh_token outcome=ok status=200",
        " client_id=web grant_type=authorization_code outcome=invalid_grant status=400",
        " client_id=service grant_type=client_credentials outcome=ok status=200",
        " outcome=invalid_client status=401",
    ]) {
        assert!(
            fields.ends_with(expected),
            "{fields:?} should end with {expected:?}"
        );
        assert!(fields.starts_with(" endpoint=token"), "{fields:?}");
    }
    let introspections = capture.requests("introspection");
    assert_eq!(introspections.len(), 2, "{all}");
    for id in introspections {
        let fields = capture.span_fields(&id);
        assert!(
            fields.ends_with(" client_id=service outcome=ok status=200"),
            "{fields:?}"
        );
    }
    let authorization = capture.requests("authorization");
    assert_eq!(
        capture.span_fields(&authorization[0]),
        " endpoint=authorization client_id=web outcome=ok"
    );
}
