//! SIGTERM (and SIGINT) shut the binary down gracefully: new connections are refused at
//! once, the Prometheus endpoint closes too, a request in progress — here one whose body
//! the client sends in two parts, around the signal — still gets its answer, and the
//! process exits 0. `Running::serve_until` does the same in process, on either adapter.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, start};
use portcullis::SystemClock;
use portcullis_example_provider::{spawn_on, Adapter, Config, DEMO_SERVICE_CLIENT, DEMO_TOML};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long the test waits for what should happen at once.
const PROMPTLY: Duration = Duration::from_secs(10);

/// The drain of the in-process servers.
const DRAIN: Duration = Duration::from_secs(2);

/// One HTTP/1.1 response (its head and its `Content-Length` body), whether or not the
/// connection closes after it.
async fn read_response(stream: &mut tokio::net::TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .expect("a Content-Length");
            if body.len() >= length {
                return text;
            }
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the connection closed before the answer: {text}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Whether something listens at `addr` (polled until it stops, within [`PROMPTLY`]).
fn stops_listening(addr: SocketAddr) -> bool {
    let until = Instant::now() + PROMPTLY;
    while Instant::now() < until {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return true,
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    false
}

/// A client-credentials request of the demo service client, cut in two: the head with the
/// body's first bytes, and the rest of the body. It asks for `100 Continue`, which the
/// server sends once the handler reads the body: proof that the request is in progress.
fn token_request(addr: SocketAddr) -> (String, String) {
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        DEMO_SERVICE_CLIENT.id,
        DEMO_SERVICE_CLIENT.secret.unwrap()
    );
    let (first, rest) = body.split_at(10);
    let head = format!(
        "POST /token HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nExpect: 100-continue\r\n\
         Content-Length: {}\r\n\r\n{first}",
        body.len()
    );
    (head, rest.to_owned())
}

/// The interim answer to `Expect: 100-continue`.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Waits for `100 Continue` on `stream`: the request's handler is reading its body.
fn await_continue(stream: &mut TcpStream) {
    let mut got = vec![0; CONTINUE.len()];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(got, CONTINUE, "{}", String::from_utf8_lossy(&got));
}

/// [`await_continue`] on an async stream, within [`PROMPTLY`].
async fn continued(stream: &mut tokio::net::TcpStream) {
    let mut got = vec![0; CONTINUE.len()];
    tokio::time::timeout(PROMPTLY, stream.read_exact(&mut got))
        .await
        .expect("100 Continue in time")
        .unwrap();
    assert_eq!(got, CONTINUE, "{}", String::from_utf8_lossy(&got));
}

/// The request in progress got its token, on a connection closed after it.
fn assert_answered(answer: &str) {
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("\"access_token\""), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}

fn shuts_down_gracefully_on(signal: &str) {
    let (port, metrics_port) = (free_port(), free_port());
    let config = DEMO_TOML.replacen(
        "# [metrics]\n# listen = \"127.0.0.1:9464\"",
        &format!("[metrics]\nlisten = \"127.0.0.1:{metrics_port}\""),
        1,
    );
    assert_ne!(config, DEMO_TOML, "demo.toml has a [metrics] example");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provider.toml");
    std::fs::write(&path, config).unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let metrics: SocketAddr = format!("127.0.0.1:{metrics_port}").parse().unwrap();
    let mut process = start(&[
        "--config",
        path.to_str().unwrap(),
        "--addr",
        &addr.to_string(),
    ]);
    TcpStream::connect(metrics).expect("the metrics endpoint listens");

    // A token request whose body comes in two parts: in progress when the signal comes.
    let (head, rest) = token_request(addr);
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.set_read_timeout(Some(PROMPTLY)).unwrap();
    slow.write_all(head.as_bytes()).unwrap();
    await_continue(&mut slow);

    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &process.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    assert!(stops_listening(addr), "new connections are refused");
    assert!(stops_listening(metrics), "the metrics endpoint closes");

    slow.write_all(rest.as_bytes()).unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("\"access_token\""), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );

    let status = process.exit_status(PROMPTLY).expect("the process exits");
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn sigterm_drains_the_request_in_progress_and_exits_0() {
    shuts_down_gracefully_on("TERM");
}

#[test]
fn sigint_drains_the_request_in_progress_and_exits_0() {
    shuts_down_gracefully_on("INT");
}

/// Sends `signal` to `process`.
fn kill(signal: &str, process: &common::Process) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &process.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[test]
fn a_second_signal_ends_the_drain_at_once() {
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut process = start(&["--addr", &addr.to_string(), "--shutdown-timeout", "600"]);
    // A request that will never be complete: the drain would wait for its timeout.
    let (head, _) = token_request(addr);
    let mut stuck = TcpStream::connect(addr).unwrap();
    stuck.set_read_timeout(Some(PROMPTLY)).unwrap();
    stuck.write_all(head.as_bytes()).unwrap();
    await_continue(&mut stuck);
    kill("TERM", &process);
    assert!(stops_listening(addr), "new connections are refused");
    kill("INT", &process);
    let status = process
        .exit_status(PROMPTLY)
        .expect("the process exits at once");
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_until_drains_the_request_in_progress_on_either_adapter() {
    for adapter in Adapter::ALL {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr, served) = serving_on(adapter, stopped).await;
        let (head, rest) = token_request(addr);
        let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
        slow.write_all(head.as_bytes()).await.unwrap();
        continued(&mut slow).await;

        stop.send(()).unwrap();
        let refused = tokio::task::spawn_blocking(move || stops_listening(addr));
        assert!(
            refused.await.unwrap(),
            "{adapter:?}: new connections are refused"
        );
        slow.write_all(rest.as_bytes()).await.unwrap();
        let answer = tokio::time::timeout(PROMPTLY, read_response(&mut slow))
            .await
            .expect("answered in time");
        if adapter == Adapter::Axum {
            assert_answered(&answer);
        } else {
            // actix-web answers, but keeps the connection until the drain's end.
            assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
            assert!(answer.contains("\"access_token\""), "{answer}");
        }
        let ended = tokio::time::timeout(PROMPTLY, served).await;
        assert!(matches!(ended, Ok(Ok(Ok(())))), "{adapter:?}: {ended:?}");
    }
}

/// A `Running` on `adapter` with the demo configuration, serving until `stopped` completes.
async fn serving_on(
    adapter: Adapter,
    stopped: tokio::sync::oneshot::Receiver<()>,
) -> (
    SocketAddr,
    tokio::task::JoinHandle<Result<(), portcullis_example_provider::StartError>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let running = spawn_on(
        adapter,
        Config::demo(),
        None,
        listener,
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let served = tokio::spawn(running.serve_until(
        async {
            let _ = stopped.await;
        },
        DRAIN,
    ));
    (addr, served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_until_ends_at_once_when_idle_and_cuts_a_stuck_request_off_at_the_drain() {
    // Nothing in flight: the drain ends at once.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (_, served) = serving_on(Adapter::Axum, stopped).await;
    let started = Instant::now();
    stop.send(()).unwrap();
    let ended = tokio::time::timeout(PROMPTLY, served).await;
    assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
    assert!(started.elapsed() < DRAIN / 2, "{:?}", started.elapsed());

    // A request whose body never comes: cut off, its connection closed, at the drain's end.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (addr, served) = serving_on(Adapter::Axum, stopped).await;
    let (head, _) = token_request(addr);
    let mut stuck = tokio::net::TcpStream::connect(addr).await.unwrap();
    stuck.write_all(head.as_bytes()).await.unwrap();
    continued(&mut stuck).await;
    let started = Instant::now();
    stop.send(()).unwrap();
    let ended = tokio::time::timeout(PROMPTLY, served).await;
    assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(PROMPTLY, stuck.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the stuck connection is closed");
    let took = started.elapsed();
    assert!(took >= DRAIN && took < DRAIN + PROMPTLY / 2, "{took:?}");
}
