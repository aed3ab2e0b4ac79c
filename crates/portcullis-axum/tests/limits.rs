//! `serve` within its `ServerLimits`, over real loopback connections on tokio's paused clock:
//! time moves only when every task waits, so a timeout fires exactly when nothing else can
//! happen, and no test sleeps in real time. A connection's end is counted when a read on
//! it returns end-of-file (or a reset) within a virtual hour.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use axum::Router;
use portcullis_axum::{serve, ServerLimits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{timeout, Instant};

const HOUR: Duration = Duration::from_secs(3600);
const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n";

/// Limits whose timeouts are all an hour, except those a test sets.
fn limits() -> ServerLimits {
    ServerLimits {
        header_read_timeout: HOUR,
        request_timeout: HOUR,
        idle_timeout: HOUR,
        max_connections: NonZeroUsize::new(1000).unwrap(),
    }
}

/// Starts serving a few routes within `limits`; returns the address.
async fn start(limits: ServerLimits) -> SocketAddr {
    let router = Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/echo", post(|body: Bytes| async move { body }))
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route("/big", get(|| async { vec![b'x'; 64 << 20] }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let never = serve(listener, router, limits).await;
        match never {}
    });
    addr
}

/// Reads until the server closes the connection, for at most a (virtual) hour: what came,
/// and whether it closed.
async fn until_closed(stream: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut all = Vec::new();
    let read = timeout(HOUR, async {
        let mut buf = vec![0; 1 << 16];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    (all, read.is_ok())
}

/// Reads one response (its head and its `Content-Length` body); `None` if the connection
/// ended first.
async fn response(stream: &mut TcpStream) -> Option<String> {
    let mut all = Vec::new();
    let mut buf = [0; 4096];
    loop {
        let text = String::from_utf8_lossy(&all);
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if all.len() >= end + 4 + length {
                return Some(text.into_owned());
            }
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
}

async fn get_hello(stream: &mut TcpStream) {
    stream.write_all(GET).await.unwrap();
    let answer = response(stream).await.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("hello"), "{answer}");
}

#[tokio::test(start_paused = true)]
async fn half_open_connections_are_closed_after_the_header_timeout() {
    let header_read_timeout = Duration::from_secs(10);
    let addr = start(ServerLimits {
        header_read_timeout,
        ..limits()
    })
    .await;
    // Half of them send part of a request head, the other half nothing at all.
    let mut half_open = Vec::new();
    for i in 0..100 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        if i % 2 == 0 {
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: test\r\nX-Slow: ")
                .await
                .unwrap();
        }
        half_open.push((stream, Instant::now()));
    }
    let mut closed = 0;
    for (stream, opened) in &mut half_open {
        let (answer, ended) = until_closed(stream).await;
        assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
        if ended {
            assert!(opened.elapsed() >= header_read_timeout, "closed early");
            closed += 1;
        }
    }
    assert_eq!(closed, 100);

    // A complete head in time is answered.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    get_hello(&mut stream).await;
}

#[tokio::test(start_paused = true)]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let addr = start(ServerLimits {
        max_connections: NonZeroUsize::new(2).unwrap(),
        ..limits()
    })
    .await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    get_hello(&mut first).await;
    let mut second = TcpStream::connect(addr).await.unwrap();
    get_hello(&mut second).await;

    let mut third = TcpStream::connect(addr).await.unwrap();
    third.write_all(GET).await.unwrap();
    // Ten (virtual) minutes in which everything else waits: the third is not served.
    let waited = timeout(Duration::from_secs(600), response(&mut third)).await;
    assert!(waited.is_err(), "served beyond the limit: {waited:?}");
    // The two others are still served, on their kept-alive connections.
    get_hello(&mut second).await;

    drop(first);
    let answer = response(&mut third).await.expect("served once one closed");
    assert!(answer.ends_with("hello"), "{answer}");
}

#[tokio::test(start_paused = true)]
async fn idle_keep_alive_connections_are_closed() {
    let idle_timeout = Duration::from_secs(5);
    let addr = start(ServerLimits {
        idle_timeout,
        ..limits()
    })
    .await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // Requests closer together than the idle timeout keep the connection.
    for _ in 0..3 {
        get_hello(&mut stream).await;
        tokio::time::sleep(idle_timeout - Duration::from_secs(1)).await;
    }
    get_hello(&mut stream).await;
    let answered = Instant::now();
    let (more, ended) = until_closed(&mut stream).await;
    assert!(ended && more.is_empty(), "idle connection kept");
    assert!(answered.elapsed() >= idle_timeout, "closed early");
    assert!(answered.elapsed() < HOUR);
}

#[tokio::test(start_paused = true)]
async fn a_request_not_complete_in_time_gets_408_and_is_closed() {
    let addr = start(ServerLimits {
        request_timeout: Duration::from_secs(5),
        ..limits()
    })
    .await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // Three bytes of a ten-byte body, then nothing.
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc")
        .await
        .unwrap();
    let (answer, ended) = until_closed(&mut stream).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(ended, "connection kept after 408");
}

#[tokio::test(start_paused = true)]
async fn a_client_that_stops_reading_is_disconnected() {
    let addr = start(ServerLimits {
        idle_timeout: Duration::from_secs(5),
        ..limits()
    })
    .await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    // The client reads nothing for an hour; then it reads what the server had sent.
    tokio::time::sleep(HOUR).await;
    let (answer, ended) = until_closed(&mut stream).await;
    assert!(ended);
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    assert!(answer.len() < 64 << 20, "the whole response was sent");
}

#[tokio::test]
async fn each_request_carries_the_peer_address() {
    let addr = start(limits()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /peer HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let answer = response(&mut stream).await.unwrap();
    assert!(
        answer.ends_with(&stream.local_addr().unwrap().to_string()),
        "{answer}"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_server_cuts_off_its_connections() {
    let (started, handler_started) = tokio::sync::oneshot::channel::<()>();
    let (guard, guard_dropped) = tokio::sync::oneshot::channel::<()>();
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some((started, guard))));
    let router = Router::new().route(
        "/stuck",
        get(move || {
            let (started, guard) = slot.lock().unwrap().take().unwrap();
            async move {
                let _guard = guard;
                let _ = started.send(());
                std::future::pending::<()>().await
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(portcullis_axum::serve_with_shutdown(
        listener,
        router,
        limits(),
        std::future::pending(),
    ));
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /stuck HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    handler_started.await.unwrap();
    server.abort();
    // The handler's future is dropped with its connection's task, not left running.
    let dropped = timeout(HOUR, guard_dropped).await;
    assert!(matches!(dropped, Ok(Err(_))), "{dropped:?}");
}
