//! Finds the real browser of `browser.rs` when the tests are compiled, the same rule as the
//! PostgreSQL tests' `build.rs`:
//!
//! - `PORTCULLIS_CHROMEDRIVER` and `PORTCULLIS_CHROMIUM` when set, else `chromedriver` and
//!   `chromium` on `PATH` (Debian's `chromium-driver` and `chromium`): their paths are
//!   passed to the test (`rustc-env` `BROWSER_TEST_CHROMEDRIVER`, `BROWSER_TEST_CHROMIUM`);
//! - `cfg(skip_browser_tests)` when either is missing, unless `PORTCULLIS_REQUIRE_BROWSER`
//!   (`.ci/run` sets it) or `CI` is set: the browser test is then compiled `#[ignore]`d, so
//!   that `cargo test` counts it as ignored — skipped, never passed. When required, it is
//!   compiled as usual and fails for want of a browser.

use std::env::{split_paths, var_os};
use std::path::{Path, PathBuf};

/// `var`'s path (if it is a file), else the first `name` on `PATH`.
fn find(var: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = var_os(var).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let path = var_os("PATH")?;
    split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(skip_browser_tests)");
    for var in [
        "PORTCULLIS_CHROMEDRIVER",
        "PORTCULLIS_CHROMIUM",
        "PORTCULLIS_REQUIRE_BROWSER",
        "CI",
        "PATH",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    let driver = find("PORTCULLIS_CHROMEDRIVER", "chromedriver");
    let browser = find("PORTCULLIS_CHROMIUM", "chromium");
    for (var, found) in [
        ("BROWSER_TEST_CHROMEDRIVER", &driver),
        ("BROWSER_TEST_CHROMIUM", &browser),
    ] {
        if let Some(path) = found {
            println!("cargo::rustc-env={var}={}", path.display());
            println!("cargo::rerun-if-changed={}", path.display());
        }
    }
    if driver.is_none() || browser.is_none() {
        // Installed later (apt-get installs into /usr/bin): found at the next build.
        if Path::new("/usr/bin").is_dir() {
            println!("cargo::rerun-if-changed=/usr/bin");
        }
        let set = |var: &str| var_os(var).is_some_and(|v| !v.is_empty());
        if !set("PORTCULLIS_REQUIRE_BROWSER") && !set("CI") {
            println!("cargo::rustc-cfg=skip_browser_tests");
        }
    }
}
