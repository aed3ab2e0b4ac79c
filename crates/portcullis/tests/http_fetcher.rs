//! The default fetcher (feature `http-fetcher`) against a loopback server: it returns a
//! document, refuses one larger than asked, follows no redirect, refuses plain http off
//! loopback, gives up on a server that never answers, and connects to no private address
//! unless told to (the test servers are on loopback: those tests opt in).
#![cfg(feature = "http-fetcher")]

use std::time::Duration;

#[path = "common/loopback.rs"]
mod loopback;

use loopback::serve;
use portcullis::{FetchError, Fetcher, ReqwestFetcher, FETCH_TIMEOUT};

fn ok(body: &str) -> Option<String> {
    Some(format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ))
}

#[tokio::test]
async fn fetches_within_bounds_and_nothing_else() {
    let f = ReqwestFetcher::dangerous_allow_private_addresses(FETCH_TIMEOUT).unwrap();
    let url = serve(ok(r#"{"keys":[]}"#)).await;
    assert_eq!(f.fetch(&url, 1024).await.unwrap(), br#"{"keys":[]}"#);
    // Larger than asked (declared length).
    assert!(matches!(
        f.fetch(&url, 5).await,
        Err(FetchError::TooLarge(5))
    ));
    // Larger than asked, without a declared length.
    let chunked = serve(Some(format!(
        "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{}",
        "x".repeat(10_000)
    )))
    .await;
    assert!(matches!(
        f.fetch(&chunked, 100).await,
        Err(FetchError::TooLarge(100))
    ));
    // A redirect is not followed.
    let redirect = serve(Some(format!(
        "HTTP/1.1 302 Found\r\nlocation: {url}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    )))
    .await;
    assert!(matches!(
        f.fetch(&redirect, 1024).await,
        Err(FetchError::Failed(_))
    ));
    // Plain http off loopback is refused before any connection.
    assert!(matches!(
        f.fetch("http://rp.example/jwks", 1024).await,
        Err(FetchError::RefusedUrl)
    ));
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let f = ReqwestFetcher::dangerous_allow_private_addresses(Duration::from_millis(200)).unwrap();
    let url = serve(None).await;
    assert!(matches!(
        f.fetch(&url, 1024).await,
        Err(FetchError::Timeout)
    ));
}

/// Server-side request forgery: a literal private address, or a name that resolves only to
/// loopback, is refused before any request; the same server is reachable once allowed.
#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let f = ReqwestFetcher::new().unwrap();
    let url = serve(ok(r#"{"keys":[]}"#)).await;
    let port = url.rsplit(':').next().unwrap().trim_end_matches("/jwks");
    for refused in [
        url.clone(),
        format!("http://localhost:{port}/jwks"),
        format!("http://[::1]:{port}/jwks"),
        "https://10.0.0.1/jwks".into(),
        "https://169.254.169.254/latest/meta-data".into(),
        "https://[::ffff:127.0.0.1]/jwks".into(),
        "https://[fd00::1]/jwks".into(),
    ] {
        let e = f.fetch(&refused, 1024).await.unwrap_err();
        assert!(matches!(e, FetchError::RefusedAddress), "{refused}: {e:?}");
        assert_eq!(e.to_string(), "refused address");
    }
    let allowed = ReqwestFetcher::dangerous_allow_private_addresses(FETCH_TIMEOUT).unwrap();
    let local = format!("http://localhost:{port}/jwks");
    assert_eq!(
        allowed.fetch(&local, 1024).await.unwrap(),
        br#"{"keys":[]}"#
    );
}

/// The answer's Cache-Control comes back with the document.
#[tokio::test]
async fn documents_carry_their_cache_lifetime() {
    let f = ReqwestFetcher::dangerous_allow_private_addresses(FETCH_TIMEOUT).unwrap();
    let with = |cache: &str| {
        Some(format!(
            "HTTP/1.1 200 OK\r\n{cache}content-length: 2\r\nconnection: close\r\n\r\n{{}}"
        ))
    };
    for (headers, age) in [
        ("cache-control: public, max-age=300\r\n", Some(300)),
        (
            "cache-control: max-age=300\r\ncache-control: no-store\r\n",
            Some(0),
        ),
        ("cache-control: private\r\n", None),
        ("", None),
    ] {
        let url = serve(with(headers)).await;
        let fetched = f.fetch_document(&url, 100).await.unwrap();
        assert_eq!(fetched.body, b"{}");
        assert_eq!(fetched.max_age, age.map(Duration::from_secs), "{headers}");
    }
}
