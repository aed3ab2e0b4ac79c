//! TLS to the server: verify-full succeeds with the CA that signed the server's
//! certificate, and is refused with another CA or another host name; without `sslmode`, a
//! loopback server is still reached in plain TCP.
//!
//! The server is `PORTCULLIS_TEST_POSTGRES`, started with `ssl=on` and a certificate for
//! 127.0.0.1 and localhost signed by the CA whose PEM file `PORTCULLIS_TEST_POSTGRES_CA`
//! names (`.ci/run` makes both with `.ci/pg-tls-certs`). Each test is ignored (reported as
//! skipped) without them, and fails without them under `CI` (see `build.rs`).

mod common;

use std::io::Write as _;
use std::sync::{Arc, Once};
use std::time::Duration;

use common::{chain, raw, server_url, Schemas, LATEST_SCHEMA};
use portcullis_store::StoreResult;
use portcullis_store_postgres::{PostgresConfig, PostgresStore, TlsMode};

/// The variable naming the PEM file of the CA that signed the test server's certificate.
const CA_VAR: &str = "PORTCULLIS_TEST_POSTGRES_CA";

/// A CA certificate that signed nothing the server has.
const UNRELATED_CA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/unrelated-ca.pem");

/// The test server's schemas and its CA file, or `None` to skip.
fn tls_server() -> Option<(Arc<Schemas>, String)> {
    let url = server_url()?;
    match std::env::var(CA_VAR) {
        Ok(ca) if !ca.is_empty() => Some((Schemas::new(url), ca)),
        _ if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) => {
            panic!("{CA_VAR} is unset, but CI is set: .ci/run must start its server with TLS")
        }
        _ => {
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: the TLS tests need a server with ssl=on and {CA_VAR} naming \
                     its CA's PEM file (see .ci/pg-tls-certs)"
                );
            });
            None
        }
    }
}

/// `url` with more query parameters.
fn with_params(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

/// A store on a fresh schema of `schemas`, connected as `config` says.
async fn connect(
    schemas: &Schemas,
    config: PostgresConfig,
    what: &str,
) -> StoreResult<PostgresStore> {
    let name = schemas.fresh_name(what);
    schemas.claim(&name).await;
    let config = config
        .schema(&name)?
        .max_connections(2)
        .wait_timeout(Duration::from_secs(10));
    PostgresStore::connect_with(config).await
}

/// Whether the server sees the connections named `application_name` as TLS ones: `None`
/// when it sees none.
async fn server_sees_tls(schemas: &Schemas, application_name: &str) -> Option<bool> {
    let row = raw(schemas.url())
        .await
        .query_one(
            "SELECT bool_and(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = $1",
            &[&application_name],
        )
        .await
        .expect("pg_stat_ssl");
    row.get(0)
}

/// Refused, with `reason` in the error's chain.
#[track_caller]
fn assert_refused(result: StoreResult<PostgresStore>, reason: &str) {
    match result {
        Ok(_) => panic!("connected, but expected: {reason}"),
        Err(e) => {
            let text = chain(&e);
            assert!(text.contains(reason), "{text}");
        }
    }
}

#[tokio::test]
#[cfg_attr(
    skip_postgres_tls_tests,
    ignore = "needs a TLS server: PORTCULLIS_TEST_POSTGRES(_CA)"
)]
async fn verify_full_with_the_servers_ca_connects_over_tls() {
    let Some((schemas, ca)) = tls_server() else {
        return;
    };
    let name = format!("pc_tls_url_{}", std::process::id());
    let url = with_params(
        schemas.url(),
        &format!("sslmode=verify-full&sslrootcert={ca}&application_name={name}"),
    );
    let config = PostgresConfig::from_url(&url).unwrap();
    assert!(config.uses_tls());
    let store = connect(&schemas, config, "tls_url")
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert_eq!(store.schema_version().await.unwrap(), LATEST_SCHEMA);
    assert_eq!(server_sees_tls(&schemas, &name).await, Some(true));

    // The same with the explicit configuration instead of the URL's parameters.
    let name = format!("pc_tls_api_{}", std::process::id());
    let config = PostgresConfig::from_url(&with_params(
        schemas.url(),
        &format!("application_name={name}"),
    ))
    .unwrap()
    .tls(TlsMode::VerifyFull)
    .root_certificates(&ca);
    let store = connect(&schemas, config, "tls_api")
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert_eq!(store.schema_version().await.unwrap(), LATEST_SCHEMA);
    assert_eq!(server_sees_tls(&schemas, &name).await, Some(true));
}

#[tokio::test]
#[cfg_attr(
    skip_postgres_tls_tests,
    ignore = "needs a TLS server: PORTCULLIS_TEST_POSTGRES(_CA)"
)]
async fn without_sslmode_a_loopback_server_is_reached_in_plain_tcp() {
    let Some((schemas, _)) = tls_server() else {
        return;
    };
    let name = format!("pc_tls_plain_{}", std::process::id());
    let url = with_params(schemas.url(), &format!("application_name={name}"));
    let config = PostgresConfig::from_url(&url).unwrap();
    assert!(!config.uses_tls());
    let store = connect(&schemas, config, "tls_plain").await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), LATEST_SCHEMA);
    assert_eq!(server_sees_tls(&schemas, &name).await, Some(false));
}

#[tokio::test]
#[cfg_attr(
    skip_postgres_tls_tests,
    ignore = "needs a TLS server: PORTCULLIS_TEST_POSTGRES(_CA)"
)]
async fn a_ca_that_did_not_sign_the_servers_certificate_is_refused() {
    let Some((schemas, _)) = tls_server() else {
        return;
    };
    let url = with_params(
        schemas.url(),
        &format!("sslmode=verify-full&sslrootcert={UNRELATED_CA}"),
    );
    let refused = connect(&schemas, PostgresConfig::from_url(&url).unwrap(), "tls_ca").await;
    assert_refused(refused, "invalid peer certificate: UnknownIssuer");
    // Nor do the system's roots know the test CA.
    let url = with_params(schemas.url(), "sslmode=require");
    let refused = connect(&schemas, PostgresConfig::from_url(&url).unwrap(), "tls_sys").await;
    assert_refused(refused, "invalid peer certificate: UnknownIssuer");
}

#[tokio::test]
#[cfg_attr(
    skip_postgres_tls_tests,
    ignore = "needs a TLS server: PORTCULLIS_TEST_POSTGRES(_CA)"
)]
async fn a_certificate_for_another_host_name_is_refused() {
    let Some((schemas, ca)) = tls_server() else {
        return;
    };
    let server: tokio_postgres::Config = schemas.url().parse().unwrap();
    let port = server.get_ports().first().copied().unwrap_or(5432);
    let user = server.get_user().unwrap_or("postgres");
    let dbname = server.get_dbname().unwrap_or(user);
    // The same server (hostaddr), under a name its certificate does not have, then under
    // one it has.
    let conn = |host: &str| {
        format!(
            "host={host} hostaddr=127.0.0.1 port={port} user={user} dbname={dbname} \
             sslmode=verify-full sslrootcert='{ca}'"
        )
    };
    let config = PostgresConfig::from_url(&conn("db.wrong.example")).unwrap();
    let refused = connect(&schemas, config, "tls_name").await;
    assert_refused(
        refused,
        "certificate not valid for name \"db.wrong.example\"",
    );
    let config = PostgresConfig::from_url(&conn("localhost")).unwrap();
    let store = connect(&schemas, config, "tls_name_ok")
        .await
        .unwrap_or_else(|e| panic!("{}", chain(&e)));
    assert_eq!(store.schema_version().await.unwrap(), LATEST_SCHEMA);
}

/// A server that answers PostgreSQL's TLS request with "no" (`N`), then reads what comes
/// next: whatever a client sends in plain TCP after being refused TLS.
async fn server_without_tls() -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let serve = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut ssl_request = [0u8; 8];
        socket.read_exact(&mut ssl_request).await.unwrap();
        assert_eq!(
            ssl_request,
            [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f],
            "SSLRequest"
        );
        socket.write_all(b"N").await.unwrap();
        let mut after = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut after)).await;
        after
    });
    (port, serve)
}

#[tokio::test]
async fn a_server_that_does_not_offer_tls_is_refused_never_used_in_plain_tcp() {
    let (port, serve) = server_without_tls().await;
    let config = PostgresConfig::from_url(&format!(
        "postgres://postgres@127.0.0.1:{port}/postgres?sslmode=verify-full&sslrootcert={UNRELATED_CA}"
    ))
    .unwrap()
    .wait_timeout(Duration::from_secs(5));
    assert_refused(
        PostgresStore::connect_with(config).await,
        "server does not support TLS",
    );
    let after = serve.await.unwrap();
    assert!(after.is_empty(), "nothing was sent in plain TCP: {after:?}");
}
