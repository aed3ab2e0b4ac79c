//! The example provider's Prometheus endpoint (`[metrics] listen`, docs/manual/observability.md),
//! on each adapter: after a token request it serves the request and token counters in
//! Prometheus text format, on its own listener — the public one has no `/metrics`.

use portcullis_e2e::provider::{Running, DEMO_SERVICE_CLIENT};
use portcullis_e2e::{demo_config, http_client, on_each_adapter, start_with, Adapter};
use reqwest::StatusCode;

/// The value of the sample `series` (name and labels as Prometheus writes them) in the
/// exposition, 0 if absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

async fn scrape(server: &Running) -> String {
    let at = server.metrics_addr().expect("[metrics] listen is set");
    let response = http_client()
        .get(format!("http://{at}/metrics"))
        .send()
        .await
        .expect("the metrics endpoint answers");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    response.text().await.unwrap()
}

const TOKENS_OK: &str = r#"portcullis_requests_total{endpoint="token",outcome="ok"}"#;
const ISSUED: &str =
    r#"portcullis_tokens_issued_total{kind="access_token",grant_type="client_credentials"}"#;
const REFUSED: &str = r#"portcullis_requests_total{endpoint="token",outcome="invalid_client"}"#;

async fn the_metrics_endpoint_serves_the_counters(adapter: Adapter) {
    let server = start_with(
        adapter,
        demo_config(&[], "[metrics]\nlisten = \"127.0.0.1:0\""),
    )
    .await;
    let before = scrape(&server).await;
    let http = http_client();
    let secret = DEMO_SERVICE_CLIENT.secret.unwrap();
    let granted = http
        .post(server.url("/token"))
        .basic_auth(DEMO_SERVICE_CLIENT.id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    let refused = http
        .post(server.url("/token"))
        .basic_auth(DEMO_SERVICE_CLIENT.id, Some("not-the-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    let after = scrape(&server).await;
    for series in [TOKENS_OK, ISSUED, REFUSED] {
        assert!(
            sample(&after, series) >= sample(&before, series) + 1.0,
            "{series} in\n{after}"
        );
    }
    assert!(
        after.contains("portcullis_request_duration_seconds_bucket{endpoint=\"token\""),
        "{after}"
    );
    assert!(
        after.contains("portcullis_store_call_duration_seconds_count{operation=\"find_client\"}"),
        "{after}"
    );
    assert!(!after.contains(secret) && !after.contains("not-the-secret"));
    assert!(
        !after.contains(DEMO_SERVICE_CLIENT.id),
        "no client id label"
    );

    let public = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
}

/// Without `[metrics]` there is no metrics listener.
#[tokio::test]
async fn the_metrics_endpoint_is_off_by_default() {
    let server = portcullis_e2e::start(Adapter::Axum).await;
    assert_eq!(server.metrics_addr(), None);
}

on_each_adapter!(the_metrics_endpoint_serves_the_counters);
