//! `serve` within its `ServerLimits`, over a real loopback connection: a client that never
//! completes its request head is cut off at `header_read_timeout`, not held for ever.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use actix_web::{web, App, HttpResponse};
use portcullis_actix::{serve, ServerLimits};

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
