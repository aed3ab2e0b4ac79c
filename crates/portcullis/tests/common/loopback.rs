//! A loopback HTTP server for the HTTP clients' tests (the engine's fetcher, the resource
//! server's client): canned bytes, or no answer at all.
#![allow(dead_code, unreachable_pub)]

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Serves `response` (status line, headers and body) to every connection; never answers
/// when it is `None` (the connection stays open until the client drops it). Returns the
/// URL of `/jwks` on it.
pub async fn serve(response: Option<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                match response {
                    Some(r) => drop(socket.write_all(r.as_bytes()).await),
                    None => while socket.read(&mut buf).await.is_ok_and(|n| n > 0) {},
                }
            });
        }
    });
    format!("http://{addr}/jwks")
}
