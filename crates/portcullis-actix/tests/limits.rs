//! `serve` within its `ServerLimits`, over a real loopback connection: a client that never
//! completes its request head is cut off at `header_read_timeout`, not held for ever; a
//! graceful stop answers the request in progress, and ends at its bound when one never
//! completes.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse};
use portcullis_actix::{drain_bound, serve, ServerLimits};

#[test]
fn a_request_head_that_never_completes_is_cut_off() {
    let limits = ServerLimits {
        // Not below a second: actix-web times from a clock it refreshes every 500 ms.
        header_read_timeout: Duration::from_secs(2),
        ..ServerLimits::default()
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let app = || App::new().route("/", web::get().to(HttpResponse::Ok));
    let server = serve(app, listener, &limits).unwrap();
    let handle = server.handle();
    let running = std::thread::spawn(move || actix_web::rt::System::new().block_on(server));

    let mut slow = TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
    // Below actix-web's own default (5 s), so that only the configured limit passes.
    slow.set_read_timeout(Some(Duration::from_secs(4))).unwrap();
    let mut answer = Vec::new();
    slow.read_to_end(&mut answer)
        .expect("the server closes the connection instead of waiting");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    // A complete request on a fresh connection is still served.
    let mut fine = TcpStream::connect(addr).unwrap();
    fine.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    fine.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    actix_web::rt::System::new().block_on(handle.stop(false));
    running.join().unwrap().unwrap();
}

/// Serves an echo of request bodies at `/echo` within `limits`, on a thread of its own.
fn start_echo(
    limits: &ServerLimits,
) -> (SocketAddr, ServerHandle, JoinHandle<std::io::Result<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let app = || App::new().route("/echo", web::post().to(|body: web::Bytes| async { body }));
    let server = serve(app, listener, limits).unwrap();
    let handle = server.handle();
    let running = std::thread::spawn(move || actix_web::rt::System::new().block_on(server));
    (addr, handle, running)
}

/// Sends the head of a 10-byte POST to `/echo` with its first 5 bytes, and waits for `100
/// Continue`: the request is in progress, its handler reading the body.
fn begin_echo(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    stream
        .write_all(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
              Expect: 100-continue\r\nContent-Length: 10\r\n\r\nhello",
        )
        .unwrap();
    let continued = b"HTTP/1.1 100 Continue\r\n\r\n";
    let mut got = vec![0; continued.len()];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(got, continued, "{}", String::from_utf8_lossy(&got));
    stream
}

/// Stops `handle` gracefully on a thread of its own; the time the stop took.
fn stop_gracefully(handle: ServerHandle) -> JoinHandle<Duration> {
    std::thread::spawn(move || {
        let started = Instant::now();
        actix_web::rt::System::new().block_on(handle.stop(true));
        started.elapsed()
    })
}

/// Polls until nothing listens at `addr` any more (within a minute): the stop has begun.
///
/// The probes that still connect are held open until then, and closed only once nothing
/// listens: actix-server's acceptor hands a connection to a worker before it counts it there
/// (`Accept::send_connection`), so a probe that the worker served and saw closed within that
/// gap leaves the worker's count one short for a moment, and a worker that receives the stop
/// in that moment takes itself for idle and ends at once, cutting off the request in
/// progress with it (`ServerWorker::poll`, "shutting down idle worker"). The listener closes
/// when the acceptor has ended, once it has counted every connection it handed out.
fn until_refused(addr: SocketAddr) {
    let until = Instant::now() + Duration::from_secs(60);
    let mut probes = Vec::new();
    while Instant::now() < until {
        match TcpStream::connect(addr) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return,
            Ok(probe) => probes.push(probe),
            Err(_) => std::thread::yield_now(),
        }
    }
    panic!("{addr} still accepts connections");
}

#[test]
fn a_graceful_stop_answers_the_request_in_progress() {
    let (addr, handle, running) = start_echo(&ServerLimits::default());
    let mut stream = begin_echo(addr);
    let stopped = stop_gracefully(handle);
    until_refused(addr);
    stream.write_all(b"world").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("helloworld"), "{answer}");
    // The connection closed with its answer: the stop ends well before the bound (40 s).
    let took = stopped.join().unwrap();
    assert!(took < Duration::from_secs(10), "{took:?}");
    running.join().unwrap().unwrap();
}

#[test]
fn a_graceful_stop_cuts_off_what_is_still_in_progress_at_its_bound() {
    let limits = ServerLimits {
        header_read_timeout: Duration::from_millis(1500),
        request_timeout: Duration::from_secs(1),
        ..ServerLimits::default()
    };
    assert_eq!(drain_bound(&limits), Duration::from_secs(3));
    let (addr, handle, running) = start_echo(&limits);
    // A body whose end never comes: the drain waits for it until its bound.
    let mut stuck = begin_echo(addr);
    let stopped = stop_gracefully(handle);
    let mut rest = Vec::new();
    let cut = stuck.read_to_end(&mut rest);
    assert!(
        cut.is_ok()
            || cut
                .as_ref()
                .is_err_and(|e| e.kind() == ErrorKind::ConnectionReset),
        "{cut:?}"
    );
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    // actix-web checks once a second, and would wait 30 s by default.
    let took = stopped.join().unwrap();
    let bound = drain_bound(&limits);
    assert!(
        took >= bound && took < bound + Duration::from_secs(3),
        "{took:?}"
    );
    running.join().unwrap().unwrap();
}
