//! How a store connects: the server, the schema, the pool.

use std::fmt;
use std::time::Duration;

use std::path::PathBuf;

use portcullis_store::{StoreError, StoreResult};
use tokio_postgres::config::SslMode;

use crate::tls::{self, TlsMode, TrustRoots};

/// How [`PostgresStore::connect_with`](crate::PostgresStore::connect_with) connects.
///
/// Its `Debug` output names the hosts, port, user, database, schema and TLS settings,
/// never the password.
#[derive(Clone)]
pub struct PostgresConfig {
    pg: tokio_postgres::Config,
    schema: Option<String>,
    tls: TlsMode,
    roots: TrustRoots,
    pub(crate) max_connections: usize,
    pub(crate) shared_connections: usize,
    pub(crate) wait_timeout: Duration,
    pub(crate) operation_timeout: Duration,
}

/// The default of [`PostgresConfig::shared_connections`]: one per core, at most this many.
const MAX_DEFAULT_SHARED_CONNECTIONS: usize = 8;

/// How long a connection may sit idle before TCP keepalive probes ask whether the server
/// is still there; with [`KEEPALIVE_INTERVAL`] and [`KEEPALIVE_RETRIES`], a pooled
/// connection to a vanished server is found dead and closed within about 30 s.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(15);
/// The time between unanswered keepalive probes.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// How many unanswered keepalive probes close a connection.
pub const KEEPALIVE_RETRIES: u32 = 3;
/// The least [`PostgresConfig::operation_timeout`]: a shorter one is raised to it.
pub const MIN_OPERATION_TIMEOUT: Duration = Duration::from_millis(100);
/// How long data sent on a connection may go unacknowledged before the connection is
/// closed (TCP_USER_TIMEOUT): about the keepalives' total, unless the host sets its own.
pub const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

impl PostgresConfig {
    /// The server and credentials of a driver configuration, with the default options:
    /// the connection's own `search_path` (usually `public`), at most 16 pooled connections
    /// and one shared connection per core (at most 8), a 10 s limit on waiting for one, a
    /// 5 s limit on each operation, and TLS as its `ssl_mode` says (`Require`: verified fully; `Disable`: never; the default, `Prefer`:
    /// [`TlsMode::PlainOnLoopback`]).
    pub fn new(pg: tokio_postgres::Config) -> Self {
        Self {
            tls: TlsMode::of_driver(&pg),
            pg,
            schema: None,
            roots: TrustRoots::System,
            max_connections: 16,
            shared_connections: std::thread::available_parallelism()
                .map_or(1, usize::from)
                .min(MAX_DEFAULT_SHARED_CONNECTIONS),
            wait_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(5),
        }
    }

    /// Parses a connection string: a URL (`postgres://user:password@host:port/dbname`,
    /// `?host=/run/postgresql` for a Unix socket) or the `key=value` form. Of libpq's TLS
    /// parameters it reads `sslmode` (`disable`, `require` or `verify-full`, see
    /// [`TlsMode`]; without it, [`TlsMode::PlainOnLoopback`]) and `sslrootcert` (a PEM file
    /// of CA certificates, or `system`, the default: the operating system's roots). Nothing
    /// is read from disk before [`PostgresStore::connect_with`](crate::PostgresStore::connect_with).
    pub fn from_url(url: &str) -> StoreResult<Self> {
        let split = tls::split(url)?;
        let mut config = split
            .rest
            .parse()
            .map(Self::new)
            .map_err(|e| StoreError::with_source("invalid postgres connection string", e))?;
        config.tls = split.mode.unwrap_or_default();
        config.roots = split.roots.unwrap_or_default();
        Ok(config)
    }

    /// Sets whether connections use TLS (see [`TlsMode`]; the default is the connection
    /// string's `sslmode`).
    pub fn tls(mut self, mode: TlsMode) -> Self {
        self.tls = mode;
        self
    }

    /// Trusts the CA certificates of the PEM file at `path` for TLS, instead of the
    /// operating system's (libpq's `sslrootcert`). The file is read on connect.
    pub fn root_certificates(mut self, path: impl Into<PathBuf>) -> Self {
        self.roots = TrustRoots::PemFile(path.into());
        self
    }

    /// Keeps every table in `schema` (created on connect if need be) by putting it alone on
    /// each connection's `search_path`: several issuers' deployments, or test runs, can
    /// share one database. The name is 1 to 63 characters of `[a-z0-9_]`, not starting
    /// with a digit, and not `pg_…` (reserved by PostgreSQL).
    pub fn schema(mut self, schema: &str) -> StoreResult<Self> {
        let valid = (1..=63).contains(&schema.len())
            && !schema.starts_with(|c: char| c.is_ascii_digit())
            && !schema.starts_with("pg_")
            && schema
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
        if !valid {
            return Err(StoreError::new(
                "invalid postgres schema name (want 1-63 of [a-z0-9_], not pg_…)",
            ));
        }
        self.schema = Some(schema.to_owned());
        Ok(self)
    }

    /// Sets how many connections the pool keeps at most (default 16, at least 1). Every
    /// node has its own pool: mind the server's `max_connections`.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Sets how many long-lived connections the single statements outside a transaction
    /// that wait on no row lock (reads and inserts: most store calls) share, pipelined: `tokio-postgres` sends the statements
    /// issued at once on a connection together, which saves the server and the host a
    /// wake-up per statement under load. Each carries at most 32 statements at once; a
    /// broken one is replaced on its next use. `0` runs every statement on a pooled
    /// connection of its own. Default: one per core, at most 8. These connections are
    /// beside the pool's [`max_connections`](Self::max_connections).
    pub fn shared_connections(mut self, n: usize) -> Self {
        self.shared_connections = n;
        self
    }

    /// Sets how long a call waits for a pooled connection, or for a new one to be
    /// established, before failing (default 10 s, capped at
    /// [`operation_timeout`](Self::operation_timeout)). The operation's own timeout starts
    /// once it holds its connection: a call takes at most the two together.
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Sets how long one store operation may take once it holds a connection (default 5 s):
    /// every statement of it and its `COMMIT`. Waiting for that connection, or establishing
    /// it, has its own bound ([`wait_timeout`](Self::wait_timeout), at most this one).
    /// Past it the operation fails with a `StoreError` (the engine answers 503
    /// `temporarily_unavailable`), and its connection, if a statement of it was still
    /// unanswered, is closed rather than returned to the pool. A server that is stopped,
    /// restarting or unreachable (even one that drops packets without a reset) thus never
    /// holds a store call longer than this. An operation that timed out after sending its
    /// last statement or `COMMIT` may still have taken effect. The migrations run on
    /// connect are not bounded by it (only their wait for a connection is). A timeout
    /// below [`MIN_OPERATION_TIMEOUT`] (zero, say, which would fail every call) is raised
    /// to it.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout.max(MIN_OPERATION_TIMEOUT);
        self
    }

    /// How long a call waits for a connection: `wait_timeout`, at most `operation_timeout`.
    pub(crate) fn wait(&self) -> Duration {
        self.wait_timeout.min(self.operation_timeout)
    }

    /// The schema the tables live in, if one was set.
    pub fn schema_name(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    /// Whether connections use TLS (see [`TlsMode`]).
    pub fn uses_tls(&self) -> bool {
        self.tls.uses_tls(&self.pg)
    }

    /// The connector of a TLS connection, trusting the configured roots (read now).
    pub(crate) fn tls_connector(&self) -> StoreResult<tokio_postgres_rustls::MakeRustlsConnect> {
        tls::connector(&self.roots)
    }

    /// The driver configuration each pooled connection starts from: the host's, with TLS
    /// required or disabled (never the driver's `Prefer`, which may fall back to plain TCP),
    /// and, after the host's own startup options, `idle_in_transaction_session_timeout`
    /// at twice the operation timeout and the schema put on the `search_path` (no extra
    /// round trip).
    pub(crate) fn connection(&self) -> tokio_postgres::Config {
        let mut pg = self.pg.clone();
        pg.ssl_mode(if self.uses_tls() {
            SslMode::Require
        } else {
            SslMode::Disable
        });
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(self.wait());
        }
        // The driver's default idle time before a probe is 2 hours; what the host set
        // itself is kept.
        if pg.get_keepalives() && pg.get_keepalives_idle() > KEEPALIVE_IDLE {
            pg.keepalives_idle(KEEPALIVE_IDLE);
            if pg.get_keepalives_interval().is_none() {
                pg.keepalives_interval(KEEPALIVE_INTERVAL);
            }
            if pg.get_keepalives_retries().is_none() {
                pg.keepalives_retries(KEEPALIVE_RETRIES);
            }
        }
        // Unacknowledged data (a statement sent to a vanished server) closes the
        // connection as soon as silence would under keepalives.
        if pg.get_tcp_user_timeout().is_none() {
            pg.tcp_user_timeout(TCP_USER_TIMEOUT);
        }
        // After the host's own options: the server ends a transaction left open by an
        // operation that gave up (its connection closed by us but not yet seen closed by
        // the server), so its row locks go soon; and the schema, if any, alone on the
        // `search_path`. The schema name is plain `[a-z0-9_]`: nothing in it needs quoting.
        let mut options: Vec<String> = pg
            .get_options()
            .filter(|o| !o.trim().is_empty())
            .map(str::to_owned)
            .into_iter()
            .collect();
        let idle_ms = self.operation_timeout.saturating_mul(2).as_millis();
        options.push(format!("-c idle_in_transaction_session_timeout={idle_ms}"));
        if let Some(schema) = &self.schema {
            options.push(format!("-c search_path={schema}"));
        }
        pg.options(options.join(" "));
        pg
    }
}

/// A connection string fit for a log or an error message: a URL with its password (in its
/// user part or as a `password` query parameter) replaced by `***`; a connection string of
/// the `key=value` form, which may hold one anywhere, is not shown at all.
pub fn redact_connection_string(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.has_host() => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            if u.query_pairs().any(|(k, _)| k == "password") {
                u.set_query(Some("password=***"));
            }
            u.to_string()
        }
        _ => "<connection string>".to_owned(),
    }
}

impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("hosts", &self.pg.get_hosts())
            .field("ports", &self.pg.get_ports())
            .field("user", &self.pg.get_user())
            .field("dbname", &self.pg.get_dbname())
            .field("schema", &self.schema)
            .field("tls", &self.tls)
            .field("roots", &self.roots)
            .field("max_connections", &self.max_connections)
            .field("shared_connections", &self.shared_connections)
            .field("wait_timeout", &self.wait_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_password() {
        let c = PostgresConfig::from_url("postgres://auth:hunter2-secret@db.example:5433/auth")
            .unwrap()
            .schema("tenant_1")
            .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("db.example") && shown.contains("tenant_1"),
            "{shown}"
        );
        assert!(shown.contains("tls: PlainOnLoopback"), "{shown}");
    }

    #[test]
    fn redacted_connection_strings_never_show_a_password() {
        let url = "postgres://auth:hunter2@db.example:5433/auth";
        assert_eq!(
            redact_connection_string(url),
            "postgres://auth:***@db.example:5433/auth"
        );
        let query = redact_connection_string("postgres://u@db/x?password=hunter2");
        assert!(!query.contains("hunter2"), "{query}");
        let plain = "postgres://u@db/x";
        assert_eq!(redact_connection_string(plain), plain);
        let key_value = redact_connection_string("host=db password=hunter2");
        assert_eq!(key_value, "<connection string>");
    }

    #[test]
    fn a_drivers_ssl_mode_is_kept_and_require_is_verified_fully() {
        let mode = |conn: &str| PostgresConfig::new(conn.parse().unwrap()).tls;
        assert_eq!(mode("host=db user=u"), TlsMode::PlainOnLoopback);
        let mut pg: tokio_postgres::Config = "host=db user=u".parse().unwrap();
        pg.ssl_mode(SslMode::Require);
        assert_eq!(PostgresConfig::new(pg.clone()).tls, TlsMode::VerifyFull);
        pg.ssl_mode(SslMode::Disable);
        assert_eq!(PostgresConfig::new(pg).tls, TlsMode::Disable);
    }

    #[test]
    fn a_zero_operation_timeout_is_raised_to_the_least() {
        let c = PostgresConfig::from_url("postgres://u@localhost/db").unwrap();
        let zero = c.clone().operation_timeout(Duration::ZERO);
        assert_eq!(zero.operation_timeout, MIN_OPERATION_TIMEOUT);
        let long = c.operation_timeout(Duration::from_secs(9));
        assert_eq!(long.operation_timeout, Duration::from_secs(9));
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        let base = || PostgresConfig::from_url("postgres://u@localhost/db").unwrap();
        for good in ["a", "pc_123_x", "_x", &"a".repeat(63)] {
            assert!(base().schema(good).is_ok(), "{good}");
        }
        let long = "a".repeat(64);
        for bad in [
            "",
            "1a",
            "A",
            "a-b",
            "a;drop",
            "a b",
            "pg_catalog",
            "é",
            &long,
        ] {
            assert!(base().schema(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_schema_goes_on_the_search_path_after_the_hosts_options() {
        let c = PostgresConfig::from_url("postgres://u@localhost/db?options=-c%20work_mem%3D8MB")
            .unwrap()
            .schema("s1")
            .unwrap();
        let pg = c.connection();
        assert_eq!(
            pg.get_options(),
            Some("-c work_mem=8MB -c idle_in_transaction_session_timeout=10000 -c search_path=s1")
        );
        assert_eq!(pg.get_tcp_user_timeout(), Some(&TCP_USER_TIMEOUT));
        assert_eq!(pg.get_connect_timeout(), Some(&Duration::from_secs(5)));
        assert_eq!(pg.get_keepalives_idle(), KEEPALIVE_IDLE);
        assert_eq!(pg.get_keepalives_retries(), Some(KEEPALIVE_RETRIES));
        let plain = PostgresConfig::from_url("postgres://u@localhost/db").unwrap();
        assert_eq!(
            plain.connection().get_options(),
            Some("-c idle_in_transaction_session_timeout=10000")
        );
        // TLS is required or disabled, never the driver's `Prefer` (a fallback to plain).
        assert_eq!(plain.connection().get_ssl_mode(), SslMode::Disable);
        let remote = PostgresConfig::from_url("postgres://u@db.example/db").unwrap();
        assert_eq!(remote.connection().get_ssl_mode(), SslMode::Require);
        assert!(PostgresConfig::from_url("postgres://u@localhost:notaport/db").is_err());
        // Keepalive settings the host chose are kept.
        let own = PostgresConfig::from_url(
            "postgres://u@localhost/db?keepalives_idle=60&keepalives_interval=7&keepalives_retries=9",
        )
        .unwrap()
        .connection();
        assert_eq!(own.get_keepalives_idle(), KEEPALIVE_IDLE);
        assert_eq!(own.get_keepalives_interval(), Some(Duration::from_secs(7)));
        assert_eq!(own.get_keepalives_retries(), Some(9));
    }
}
