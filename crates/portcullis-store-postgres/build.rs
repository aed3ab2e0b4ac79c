//! Tells the tests whether a PostgreSQL server was given, when they are compiled:
//!
//! - `cfg(postgres_server)` when `PORTCULLIS_TEST_POSTGRES` is set, so that
//!   `tests/conformance.rs` compiles the conformance suite against it;
//! - `cfg(skip_postgres_tests)` when it is not (nor `CI`): the tests that need the server
//!   are compiled `#[ignore]`d, so that `cargo test` counts them as ignored — skipped, never
//!   passed. Under `CI` they are compiled as usual, and fail for want of a server;
//! - `cfg(skip_postgres_tls_tests)` likewise when the server or its CA's PEM file
//!   (`PORTCULLIS_TEST_POSTGRES_CA`) is missing, for the TLS tests.
//!
//! `tests/run-all` and `.ci/run` start a throwaway server and set both.

use std::env::var_os;

fn main() {
    for cfg in [
        "postgres_server",
        "skip_postgres_tests",
        "skip_postgres_tls_tests",
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
    }
    for var in [
        "PORTCULLIS_TEST_POSTGRES",
        "PORTCULLIS_TEST_POSTGRES_CA",
        "CI",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    let set = |var: &str| var_os(var).is_some_and(|v| !v.is_empty());
    let server = set("PORTCULLIS_TEST_POSTGRES");
    if server {
        println!("cargo::rustc-cfg=postgres_server");
    }
    if !set("CI") {
        if !server {
            println!("cargo::rustc-cfg=skip_postgres_tests");
        }
        if !server || !set("PORTCULLIS_TEST_POSTGRES_CA") {
            println!("cargo::rustc-cfg=skip_postgres_tls_tests");
        }
    }
}
