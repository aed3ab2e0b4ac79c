//! The example serves within the limits its flags set: half-open connections (a partial
//! request head, or nothing, then silence) are closed after the header timeout, and counted.
//! On tokio's paused clock: time moves only when every task waits, so no test sleeps.

use std::time::Duration;

use clap::Parser;
use portcullis_example_provider::{spawn, Args, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{timeout, Instant};

/// Reads until the server closes the connection, for at most a (virtual) hour: whether it
/// closed without answering.
async fn closed_unanswered(stream: &mut TcpStream) -> bool {
    let mut buf = [0; 1024];
    matches!(
        timeout(Duration::from_secs(3600), stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test(start_paused = true)]
async fn half_open_connections_are_closed_after_the_header_timeout() {
    let args = Args::try_parse_from(["provider", "--header-timeout", "3"]).unwrap();
    let header_timeout = Duration::from_secs(3);
    assert_eq!(args.server_limits().header_read_timeout, header_timeout);
    let config = Config::demo().with_server_limits(args.server_limits());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = spawn(config, None, listener).await.unwrap();

    let mut half_open = Vec::new();
    for i in 0..300 {
        let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
        if i % 2 == 0 {
            stream
                .write_all(b"GET /jwks HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: ")
                .await
                .unwrap();
        }
        half_open.push((stream, Instant::now()));
    }
    let mut closed = 0;
    for (stream, opened) in &mut half_open {
        if closed_unanswered(stream).await {
            let held = opened.elapsed();
            // The flag's 3 s, not the default 10 s.
            assert!(
                held >= header_timeout && held < Duration::from_secs(10),
                "{held:?}"
            );
            closed += 1;
        }
    }
    assert_eq!(closed, 300);

    // A request sent in time is answered.
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream
        .write_all(b"GET /.well-known/openid-configuration HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn limit_flags_are_checked() {
    let args = Args::try_parse_from([
        "provider",
        "--request-timeout",
        "7",
        "--idle-timeout",
        "8",
        "--max-connections",
        "9",
    ])
    .unwrap();
    let limits = args.server_limits();
    assert_eq!(limits.request_timeout, Duration::from_secs(7));
    assert_eq!(limits.idle_timeout, Duration::from_secs(8));
    assert_eq!(limits.max_connections.get(), 9);
    assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
    for refused in [
        ["--header-timeout", "0"],
        ["--idle-timeout", "-1"],
        ["--max-connections", "0"],
    ] {
        let args = ["provider", refused[0], refused[1]];
        assert!(Args::try_parse_from(args).is_err(), "{refused:?}");
    }
}
