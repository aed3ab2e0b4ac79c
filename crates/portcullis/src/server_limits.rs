//! The limits an adapter serves within.

use std::num::NonZeroUsize;
use std::time::Duration;

/// The timeouts and the connection limit of an HTTP server, so that no client can hold it:
/// what `portcullis_axum::serve` enforces and `portcullis_actix::within_limits` sets on an
/// actix-web server. The defaults suit a server facing the Internet; every one can be
/// changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// A request head must be complete within this time of its first byte, or of the
    /// connection's opening (default 10 s).
    pub header_read_timeout: Duration,
    /// A request must be answered within this time of its complete head, its body read
    /// included, or it gets `408 Request Timeout` and the connection is closed (default 30 s).
    pub request_timeout: Duration,
    /// A connection with no request in progress and no byte of the next one received for
    /// this long is closed: an unused keep-alive connection, or a client that stopped
    /// reading its response (default 60 s).
    pub idle_timeout: Duration,
    /// Connections served at once; further ones wait in the listener's backlog until one
    /// closes (default 512, like nginx's `worker_connections`; keep it well below the
    /// process's open-file limit, `ulimit -n`, often 1024).
    pub max_connections: NonZeroUsize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: NonZeroUsize::new(512).unwrap_or(NonZeroUsize::MIN),
        }
    }
}
