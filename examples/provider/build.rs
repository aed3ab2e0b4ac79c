//! `cfg(skip_postgres_tests)` when no PostgreSQL server was given (`PORTCULLIS_TEST_POSTGRES`)
//! outside `CI`: the two-node test (`tests/postgres.rs`) is then compiled `#[ignore]`d, so
//! that `cargo test` reports it as skipped, never as passed. The same rule as the
//! PostgreSQL store's `build.rs`.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(skip_postgres_tests)");
    println!("cargo::rerun-if-env-changed=PORTCULLIS_TEST_POSTGRES");
    println!("cargo::rerun-if-env-changed=CI");
    let set = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
    if !set("PORTCULLIS_TEST_POSTGRES") && !set("CI") {
        println!("cargo::rustc-cfg=skip_postgres_tests");
    }
}
