//! Tells the tests whether a PostgreSQL server was given: `cfg(postgres_server)` when
//! `PORTCULLIS_TEST_POSTGRES` is set, so that `tests/conformance.rs` compiles the
//! conformance suite against it, or else one test that skips (or fails under CI).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_server)");
    println!("cargo::rerun-if-env-changed=PORTCULLIS_TEST_POSTGRES");
    if std::env::var_os("PORTCULLIS_TEST_POSTGRES").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=postgres_server");
    }
}
