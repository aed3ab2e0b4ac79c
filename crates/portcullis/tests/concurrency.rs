//! Racing redemptions: a code or refresh token consumed concurrently succeeds exactly once.

mod common;

use std::sync::Arc;

use common::*;
use http::StatusCode;

const RACERS: usize = 16;

async fn race<F, Fut>(f: F) -> Vec<(StatusCode, serde_json::Value)>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (StatusCode, serde_json::Value)> + Send + 'static,
{
    race_of(RACERS, f).await
}

/// Runs `f()` in `racers` tasks released together.
async fn race_of<F, Fut>(racers: usize, f: F) -> Vec<(StatusCode, serde_json::Value)>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (StatusCode, serde_json::Value)> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(racers));
    let mut tasks = Vec::new();
    for _ in 0..racers {
        let fut = f();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            fut.await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn exactly_one_success(results: &[(StatusCode, serde_json::Value)]) {
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{results:?}");
    for (s, j) in results.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_eq!(
            (*s, error_of(j)),
            (StatusCode::BAD_REQUEST, "invalid_grant")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_code_redemptions_yield_one_success() {
    let h = Arc::new(Harness::new().await);
    let code = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        enc(WEB_REDIRECT)
    );
    let results = race(|| {
        let h = h.clone();
        let body = body.clone();
        async move {
            let (s, j, _) = h.token(&body, Some(("web", SECRET))).await;
            (s, j)
        }
    })
    .await;
    exactly_one_success(&results);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_refreshes_yield_one_success() {
    let h = Arc::new(Harness::new().await);
    let code = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
    let tokens = h.exchange_web(&code).await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    let results = race(|| {
        let h = h.clone();
        let rt = rt.clone();
        async move { h.refresh_web(&rt).await }
    })
    .await;
    exactly_one_success(&results);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_within_a_grace_period_all_get_the_same_pair() {
    let h = Arc::new(Harness::new().await);
    let mut client = web_client();
    let max_reuses = portcullis::core::RefreshGrace::MAX_REUSES;
    client.tokens.refresh.grace = Some(portcullis::core::RefreshGrace {
        window_secs: 10,
        max_reuses,
    });
    h.provider.register_client(&client).await.unwrap();
    let code = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
    let tokens = h.exchange_web(&code).await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    // One rotates; every other racer is within the count.
    let results = race_of(max_reuses as usize + 1, || {
        let h = h.clone();
        let rt = rt.clone();
        async move { h.refresh_web(&rt).await }
    })
    .await;
    let (status, first) = &results[0];
    assert_eq!(*status, StatusCode::OK, "{results:?}");
    for (status, body) in &results {
        assert_eq!(*status, StatusCode::OK, "{body}");
        assert_eq!(body["access_token"], first["access_token"]);
        assert_eq!(body["refresh_token"], first["refresh_token"]);
    }
    // The racers' pair works; the grace is used up, so one more presentation is reuse and
    // takes the pair with it.
    let new_rt = first["refresh_token"].as_str().unwrap();
    let (status, body) = h.refresh_web(&rt).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let (status, body) = h.refresh_web(new_rt).await;
    assert_eq!(
        (status, error_of(&body)),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
}
