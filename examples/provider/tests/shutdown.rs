//! SIGTERM (and SIGINT) shut the binary down gracefully: new connections are refused at
//! once, the Prometheus endpoint closes too, a request in progress — here one whose body
//! the client sends in two parts, around the signal — still gets its answer, and the
//! process exits 0.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{free_port, start};
use portcullis_example_provider::{DEMO_SERVICE_CLIENT, DEMO_TOML};

/// How long the test waits for what should happen at once.
const PROMPTLY: Duration = Duration::from_secs(10);

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
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        DEMO_SERVICE_CLIENT.id,
        DEMO_SERVICE_CLIENT.secret.unwrap()
    );
    let (first, rest) = body.split_at(10);
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.set_read_timeout(Some(PROMPTLY)).unwrap();
    write!(
        slow,
        "POST /token HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    // The head must have reached the server (and the request its handler) first.
    std::thread::sleep(Duration::from_millis(500));

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
