//! The binary: refuses a malformed config file naming the field, and prints the demo
//! credentials when started without one.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis-example-provider");

fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("portcullis-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

fn run_with_config(name: &str, text: &str) -> (bool, String) {
    let path = temp_file(name, text);
    let out = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn malformed_config_is_refused_naming_the_field() {
    let cases = [
        (
            "type.toml",
            "[lifetimes]\naccess_token = \"an hour\"\n",
            "lifetimes.access_token",
        ),
        ("unknown.toml", "[session]\nlifetme = 5\n", "lifetme"),
        (
            "missing.toml",
            "[[clients]]\nid = \"c\"\ntype = \"public\"\ngrant_types = []\n",
            "allowed_scopes",
        ),
        ("syntax.toml", "[[clients]\n", "line 1"),
        ("alg.toml", "[keys]\ndefault_alg = \"HS256\"\n", "keys.default_alg"),
        (
            "claim.toml",
            "[[users]]\nusername = \"u\"\npassword = \"p\"\nclaims = { email_verified = \"yes\" }\n",
            "users[0].claims.email_verified",
        ),
    ];
    for (name, text, field) in cases {
        let (ok, stderr) = run_with_config(name, text);
        assert!(!ok, "{name} should be refused");
        assert!(
            stderr.contains(field),
            "{name}: stderr should name {field}: {stderr}"
        );
        assert!(!stderr.contains("listening"), "{name}: {stderr}");
    }
}

#[test]
fn demo_credentials_are_printed_at_start() {
    let mut child = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut printed = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("then:") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    for needle in [
        "issuer http://127.0.0.1:",
        "demo-web",
        "demo-web-secret",
        "demo-native",
        "demo-service",
        "demo-service-secret",
        "http://127.0.0.1:9000/callback",
        "alice",
        "wonderland",
    ] {
        assert!(printed.contains(needle), "missing {needle}: {printed}");
    }
}

#[test]
fn a_malformed_or_unopenable_store_is_refused() {
    for (store, message) in [
        (
            "postgres://db",
            "expected `memory`, `sqlite:PATH` or `postgres:URL`",
        ),
        (
            "sqlite:",
            "expected `memory`, `sqlite:PATH` or `postgres:URL`",
        ),
        (
            "postgres:postgres://u@db:notaport/x",
            "expected `memory`, `sqlite:PATH` or `postgres:URL`",
        ),
        (
            "sqlite:/nonexistent-portcullis-dir/p.db",
            "cannot open the database /nonexistent-portcullis-dir/p.db",
        ),
    ] {
        let out = Command::new(BIN)
            .args(["--addr", "127.0.0.1:0", "--store", store])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{store} should be refused");
        assert!(stderr.contains(message), "{store}: {stderr}");
        assert!(!stderr.contains("listening"), "{store}: {stderr}");
    }
}

#[test]
fn the_store_flag_wins_over_the_config_file() {
    let unopenable = "store = \"sqlite:/nonexistent-portcullis-dir/p.db\"\n";
    let (ok, stderr) = run_with_config("store.toml", unopenable);
    assert!(
        !ok && stderr.contains("cannot open the database"),
        "{stderr}"
    );

    let path = temp_file("store-flag.toml", unopenable);
    let mut child = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0", "--store", "memory", "--config"])
        .arg(&path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(first.contains("issuer http://127.0.0.1:"), "{first}");
}
