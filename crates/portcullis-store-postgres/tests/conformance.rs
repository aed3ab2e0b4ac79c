//! The conformance kit against a real PostgreSQL server: every check on a schema of its
//! own, each racer on its own pool, as separate nodes would be.
//!
//! The server comes from `PORTCULLIS_TEST_POSTGRES` (see `build.rs`); without it, the one
//! test below is ignored (reported as skipped), or fails when `CI` is set.

mod common;

#[cfg(postgres_server)]
portcullis_testkit::conformance_tests!(common::factory());

#[cfg(not(postgres_server))]
#[test]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
fn conformance_needs_a_postgres_server() {
    assert!(
        common::server_url().is_none(),
        "{} is set now but was not when this test was built: rebuild (cargo test does)",
        common::SERVER_VAR
    );
}
