//! `ReqwestClient` (feature `reqwest`) against a loopback server: it returns the answer with
//! its headers, follows no redirect, refuses a body beyond its bound, and gives up on a
//! server that never answers.
#![cfg(feature = "reqwest")]

#[path = "../../portcullis/tests/common/loopback.rs"]
mod loopback;

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use loopback::serve;
use portcullis_resource::{HttpClient, ReqwestClient};

fn get(url: &str) -> Request<Bytes> {
    Request::get(url).body(Bytes::new()).unwrap()
}

const CLOSE: &str = "connection: close\r\n";

#[tokio::test]
async fn answers_within_bounds_and_follows_no_redirect() {
    let client = ReqwestClient::with_limits(Duration::from_secs(5), 100).unwrap();
    let body = r#"{"keys":[]}"#;
    let url = serve(Some(format!(
        "HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: {}\r\n{CLOSE}\r\n{body}",
        body.len()
    )))
    .await;
    let answer = client.send(get(&url)).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["cache-control"], "max-age=60");
    assert_eq!(answer.body().as_ref(), body.as_bytes());

    let redirect = serve(Some(format!(
        "HTTP/1.1 302 Found\r\nlocation: {url}\r\ncontent-length: 0\r\n{CLOSE}\r\n"
    )))
    .await;
    let answer = client.send(get(&redirect)).await.unwrap();
    assert_eq!(answer.status(), StatusCode::FOUND);

    for large in [
        format!(
            "HTTP/1.1 200 OK\r\ncontent-length: 101\r\n{CLOSE}\r\n{}",
            "x".repeat(101)
        ),
        format!("HTTP/1.1 200 OK\r\n{CLOSE}\r\n{}", "x".repeat(10_000)),
    ] {
        let url = serve(Some(large)).await;
        let e = client.send(get(&url)).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "the authorization server's answer is too large"
        );
    }
}

#[tokio::test]
async fn gives_up_on_a_server_that_never_answers() {
    let client = ReqwestClient::with_limits(Duration::from_millis(200), 100).unwrap();
    let url = serve(None).await;
    let e = client.send(get(&url)).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "the authorization server did not answer in time"
    );
}
