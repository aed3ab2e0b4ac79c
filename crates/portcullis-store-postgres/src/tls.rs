//! TLS to the server: rustls on ring, through `tokio-postgres-rustls`, always verify-full.
//!
//! The connection string may carry libpq's `sslmode` and `sslrootcert`, which the driver
//! does not understand: they are taken out here before it parses the rest.

use std::borrow::Cow;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use portcullis_store::{StoreError, StoreResult};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Whether the store's connections use TLS: libpq's `sslmode`, which a connection string
/// may set (`?sslmode=verify-full`, or `sslmode=verify-full` in the `key=value` form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TlsMode {
    /// No `sslmode`: plain TCP when every host (and every `hostaddr`) is a loopback address,
    /// `localhost` or a Unix socket, where nothing crosses a network; otherwise
    /// [`TlsMode::VerifyFull`].
    #[default]
    PlainOnLoopback,
    /// `sslmode=disable`: plain TCP whatever the host. Only for a network the host secures
    /// itself (a tunnel, a private link): anyone on the path reads and changes everything,
    /// tokens' hashes and signing keys included.
    Disable,
    /// `sslmode=verify-full` (and `require`, which Portcullis verifies fully too): TLS
    /// only, the server's chain checked up to a trusted root and its certificate checked to
    /// name the host. A server that does not speak TLS, or fails a check, is refused: there
    /// is never a fallback to plain TCP.
    VerifyFull,
}

impl TlsMode {
    /// The mode of an `sslmode` value. `allow` and `prefer` may fall back to plain TCP and
    /// `verify-ca` does not check the host name: all three are refused.
    fn parse(value: &str) -> StoreResult<Self> {
        match value {
            "disable" => Ok(Self::Disable),
            "require" | "verify-full" => Ok(Self::VerifyFull),
            _ => Err(StoreError::new(
                "unsupported sslmode: use disable, require or verify-full",
            )),
        }
    }

    /// The mode a driver configuration built by the host asks for: its `Require` is verified
    /// fully; its default, `Prefer`, is [`TlsMode::PlainOnLoopback`], never a fallback.
    pub(crate) fn of_driver(pg: &tokio_postgres::Config) -> Self {
        match pg.get_ssl_mode() {
            SslMode::Disable => Self::Disable,
            SslMode::Prefer => Self::PlainOnLoopback,
            _ => Self::VerifyFull,
        }
    }

    /// Whether connections to the hosts of `pg` use TLS.
    pub(crate) fn uses_tls(self, pg: &tokio_postgres::Config) -> bool {
        match self {
            Self::Disable => false,
            Self::VerifyFull => true,
            Self::PlainOnLoopback => {
                let host_local = |h: &Host| match h {
                    Host::Tcp(name) => {
                        name.eq_ignore_ascii_case("localhost")
                            || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
                    }
                    #[cfg(unix)]
                    Host::Unix(_) => true,
                };
                !(pg.get_hosts().iter().all(host_local)
                    && pg.get_hostaddrs().iter().all(IpAddr::is_loopback))
            }
        }
    }
}

/// The certificates a TLS connection trusts: `sslrootcert`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum TrustRoots {
    /// The operating system's store (`sslrootcert=system`, and the default).
    #[default]
    System,
    /// The CA certificates of a PEM file (`sslrootcert=PATH`).
    PemFile(PathBuf),
}

impl TrustRoots {
    fn parse(value: &str) -> Self {
        match value {
            "system" => Self::System,
            path => Self::PemFile(PathBuf::from(path)),
        }
    }

    /// The roots, read now. A file without a certificate is an error, never an empty store.
    fn load(&self) -> StoreResult<RootCertStore> {
        let mut roots = RootCertStore::empty();
        let certs: Vec<CertificateDer<'static>> = match self {
            Self::System => {
                let found = rustls_native_certs::load_native_certs();
                if found.certs.is_empty() {
                    return Err(match found.errors.into_iter().next() {
                        Some(e) => StoreError::with_source("no system root certificates", e),
                        None => StoreError::new("no system root certificates"),
                    });
                }
                found.certs
            }
            Self::PemFile(path) => CertificateDer::pem_file_iter(path)
                .and_then(Iterator::collect)
                .map_err(|e| StoreError::with_source("cannot read the sslrootcert file", e))?,
        };
        let (added, _ignored) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(StoreError::new("no usable CA certificate in sslrootcert"));
        }
        Ok(roots)
    }
}

/// A connector that verifies the server's chain up to `roots` and its name (rustls' WebPKI
/// verifier, on ring), for TLS 1.2 and 1.3.
pub(crate) fn connector(roots: &TrustRoots) -> StoreResult<MakeRustlsConnect> {
    // Deprecated since rustls 0.23.48 because ring has no post-quantum key exchange; ring
    // is this workspace's only cryptography (no aws-lc-rs).
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::with_source("TLS configuration refused", e))?
        .with_root_certificates(roots.load()?)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// What the connection string says about TLS, and the rest of it for the driver.
pub(crate) struct Split<'a> {
    pub(crate) rest: Cow<'a, str>,
    pub(crate) mode: Option<TlsMode>,
    pub(crate) roots: Option<TrustRoots>,
}

/// The keys taken out for TLS.
const TLS_KEYS: [&str; 2] = ["sslmode", "sslrootcert"];

/// Takes `sslmode` and `sslrootcert` out of a connection string, in either form; every
/// other parameter is left byte for byte as it was. A string this cannot read is left
/// whole, for the driver to refuse.
pub(crate) fn split(conn: &str) -> StoreResult<Split<'_>> {
    let (rest, taken) = if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        take_url_params(conn)
    } else {
        take_key_value_params(conn)
    };
    let mut split = Split {
        rest,
        mode: None,
        roots: None,
    };
    for (key, value) in taken {
        match key.as_ref() {
            "sslmode" => split.mode = Some(TlsMode::parse(&value)?),
            _ => split.roots = Some(TrustRoots::parse(&value)),
        }
    }
    Ok(split)
}

/// A decoded key and value.
type Taken<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// Takes the TLS keys out of a URL's `?k=v&…` (percent-encoded), which starts at the first
/// `?` after the credentials, as the driver reads it.
fn take_url_params(url: &str) -> (Cow<'_, str>, Taken<'_>) {
    let after_credentials = url.find('@').map_or(0, |at| at + 1);
    let Some(q) = url[after_credentials..].find('?') else {
        return (Cow::Borrowed(url), Vec::new());
    };
    let (base, query) = url.split_at(after_credentials + q);
    let decode = |s| percent_encoding::percent_decode_str(s).decode_utf8_lossy();
    let (mut kept, mut taken) = (Vec::new(), Vec::new());
    for param in query[1..].split('&') {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        if TLS_KEYS.contains(&decode(key).as_ref()) {
            taken.push((decode(key), decode(value)));
        } else {
            kept.push(param);
        }
    }
    let rest = match (taken.is_empty(), kept.is_empty()) {
        (true, _) => Cow::Borrowed(url),
        (false, true) => Cow::Borrowed(base),
        (false, false) => Cow::Owned(format!("{base}?{}", kept.join("&"))),
    };
    (rest, taken)
}

/// Takes the TLS keys out of a `key=value …` string (libpq's quoting: `'…'`, `\` escapes).
fn take_key_value_params(s: &str) -> (Cow<'_, str>, Taken<'_>) {
    let unread = || (Cow::Borrowed(s), Vec::new());
    let bytes = s.as_bytes();
    let skip_ws = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    };
    let (mut rest, mut taken, mut copied) = (String::new(), Vec::new(), 0);
    let mut i = skip_ws(0);
    while i < bytes.len() {
        let key_start = i;
        while bytes
            .get(i)
            .is_some_and(|b| !b.is_ascii_whitespace() && *b != b'=')
        {
            i += 1;
        }
        let key = &s[key_start..i];
        i = skip_ws(i);
        if bytes.get(i) != Some(&b'=') {
            return unread();
        }
        i = skip_ws(i + 1);
        let quoted = bytes.get(i) == Some(&b'\'');
        i += usize::from(quoted);
        let (mut value, mut closed) = (String::new(), !quoted);
        while let Some(c) = s[i..].chars().next() {
            if (quoted && c == '\'') || (!quoted && c.is_ascii_whitespace()) {
                closed = true;
                i += usize::from(quoted);
                break;
            }
            i += c.len_utf8();
            if c == '\\' {
                if let Some(escaped) = s[i..].chars().next() {
                    value.push(escaped);
                    i += escaped.len_utf8();
                }
            } else {
                value.push(c);
            }
        }
        if !closed {
            return unread();
        }
        let end = skip_ws(i);
        if TLS_KEYS.contains(&key) {
            rest.push_str(&s[copied..key_start]);
            copied = end;
            taken.push((Cow::Borrowed(key), Cow::Owned(value)));
        }
        i = end;
    }
    if taken.is_empty() {
        return unread();
    }
    rest.push_str(&s[copied..]);
    (Cow::Owned(rest), taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_ok(conn: &str) -> (String, Option<TlsMode>, Option<TrustRoots>) {
        let s = split(conn).unwrap();
        (s.rest.into_owned(), s.mode, s.roots)
    }

    #[test]
    fn tls_parameters_come_out_of_a_url_and_the_rest_stays_as_it_was() {
        let pem = Some(TrustRoots::PemFile("/etc/ca dir/ca.pem".into()));
        assert_eq!(
            split_ok("postgres://u:p%3F@db.example/x?sslmode=verify-full&sslrootcert=/etc/ca%20dir/ca.pem"),
            (
                "postgres://u:p%3F@db.example/x".into(),
                Some(TlsMode::VerifyFull),
                pem.clone()
            )
        );
        assert_eq!(
            split_ok("postgres://u@db/x?options=-c%20a%3Db&sslrootcert=/etc/ca%20dir/ca.pem&application_name=n"),
            (
                "postgres://u@db/x?options=-c%20a%3Db&application_name=n".into(),
                None,
                pem
            )
        );
        assert_eq!(
            split_ok("postgresql://u@db/x?sslmode=disable"),
            ("postgresql://u@db/x".into(), Some(TlsMode::Disable), None)
        );
        // A `?` in the password is the password's.
        assert_eq!(
            split_ok("postgres://u:a?sslmode=disable@db/x"),
            ("postgres://u:a?sslmode=disable@db/x".into(), None, None)
        );
        let plain = "postgres://u@127.0.0.1:5432/x";
        assert_eq!(split_ok(plain), (plain.into(), None, None));
        assert!(matches!(split(plain).unwrap().rest, Cow::Borrowed(_)));
    }

    #[test]
    fn tls_parameters_come_out_of_the_key_value_form() {
        assert_eq!(
            split_ok("host=db sslmode = require  sslrootcert='/a b/c\\'s.pem' dbname=x"),
            (
                "host=db dbname=x".into(),
                Some(TlsMode::VerifyFull),
                Some(TrustRoots::PemFile("/a b/c's.pem".into()))
            )
        );
        assert_eq!(
            split_ok("password='x sslmode=disable' host=db"),
            ("password='x sslmode=disable' host=db".into(), None, None)
        );
        assert_eq!(
            split_ok("host=db sslrootcert=system"),
            ("host=db ".into(), None, Some(TrustRoots::System))
        );
        // Unreadable: left whole for the driver to refuse.
        assert_eq!(
            split_ok("host=db sslmode='disable"),
            ("host=db sslmode='disable".into(), None, None)
        );
    }

    #[test]
    fn modes_that_may_fall_back_or_skip_the_host_name_are_refused() {
        for mode in ["prefer", "allow", "verify-ca", "VERIFY-FULL", ""] {
            let url = format!("postgres://u@db/x?sslmode={mode}");
            let refused = split(&url).err().map(|e| e.to_string());
            assert_eq!(
                refused.as_deref(),
                Some("store error: unsupported sslmode: use disable, require or verify-full"),
                "{mode}"
            );
        }
    }

    #[test]
    fn without_sslmode_only_loopback_and_unix_sockets_go_without_tls() {
        let uses = |conn: &str| {
            let pg: tokio_postgres::Config = conn.parse().unwrap();
            TlsMode::PlainOnLoopback.uses_tls(&pg)
        };
        assert!(!uses("postgres://u@127.0.0.1:5432/x"));
        assert!(!uses("postgres://u@localhost/x"));
        assert!(!uses("postgres://u@[::1]/x"));
        assert!(!uses("host=/run/postgresql user=u"));
        assert!(uses("postgres://u@db.example/x"));
        assert!(uses("postgres://u@10.0.0.5/x"));
        assert!(uses("host=127.0.0.1,db.example user=u"));
        assert!(uses("host=localhost hostaddr=10.0.0.5 user=u"));
        let pg: tokio_postgres::Config = "host=127.0.0.1 user=u".parse().unwrap();
        assert!(TlsMode::VerifyFull.uses_tls(&pg));
        let remote: tokio_postgres::Config = "host=db.example user=u".parse().unwrap();
        assert!(!TlsMode::Disable.uses_tls(&remote));
    }

    #[test]
    fn a_root_file_without_a_certificate_is_refused() {
        let path = std::env::temp_dir().join(format!("pc-no-ca-{}.pem", std::process::id()));
        std::fs::write(&path, "not a certificate\n").unwrap();
        let refused = |roots| connector(&roots).err().map(|e| e.to_string());
        assert_eq!(
            refused(TrustRoots::PemFile(path.clone())).as_deref(),
            Some("store error: no usable CA certificate in sslrootcert")
        );
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            refused(TrustRoots::PemFile("/nonexistent/ca.pem".into())).as_deref(),
            Some("store error: cannot read the sslrootcert file")
        );
    }
}
