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
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for _ in 0..RACERS {
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
