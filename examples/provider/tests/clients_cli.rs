//! `clients add | list | rotate-secret | remove` through the binary, on an SQLite store that
//! a running provider shares: a secret is printed once and works at once, a rotated one
//! keeps working for its rollover, a removed client is refused, and the configuration's own
//! clients are left to the configuration.

mod common;

use std::process::Command;

use common::{free_port, start, BIN};
use portcullis_testkit::browser::post_form;
use reqwest::StatusCode;

/// Runs `clients ARGS…` on `store` for the issuer of `addr`: whether it succeeded, and its
/// standard output or error.
fn clients(store: &str, addr: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["--store", store, "--addr", addr, "clients"])
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("run the binary");
    let text = if out.status.success() {
        out.stdout
    } else {
        out.stderr
    };
    (out.status.success(), String::from_utf8(text).unwrap())
}

/// The `client_secret: …` line of a command's output.
fn secret_of(output: &str) -> String {
    let line = output.lines().find(|l| l.starts_with("client_secret: "));
    line.expect(output)
        .trim_start_matches("client_secret: ")
        .to_owned()
}

async fn token_status(issuer: &str, id: &str, secret: &str) -> (StatusCode, serde_json::Value) {
    let form = [("grant_type", "client_credentials"), ("scope", "read")];
    post_form(&format!("{issuer}/token"), (id, Some(secret), None), &form).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_are_added_rotated_listed_and_removed_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("p.db").display());
    let addr = format!("127.0.0.1:{}", free_port());
    let issuer = format!("http://{addr}");

    let (ok, added) = clients(&store, &addr, &["add", "svc", "--scope", "read"]);
    assert!(ok, "{added}");
    assert!(added.starts_with("client_id: svc\n"), "{added}");
    let first = secret_of(&added);
    assert_eq!(first.len(), 43);
    let (ok, again) = clients(&store, &addr, &["add", "svc"]);
    assert!(!ok && again.contains("exists"), "{again}");

    let (ok, rotated) = clients(
        &store,
        &addr,
        &["rotate-secret", "svc", "--rollover", "3600"],
    );
    assert!(ok, "{rotated}");
    let second = secret_of(&rotated);
    assert_ne!(first, second);
    let (ok, listed) = clients(&store, &addr, &["list"]);
    assert!(ok, "{listed}");
    let svc = listed
        .lines()
        .find(|l| l.starts_with("svc\t"))
        .expect(&listed);
    assert!(svc.contains("ClientCredentials") && svc.ends_with("\texpires_at=0"));
    assert!(
        listed.contains("demo-web\t"),
        "the configured clients too: {listed}"
    );
    assert!(!listed.contains(&second), "no secret in the list");

    // The configuration's clients are registered again at each start: not changed here.
    let (ok, refused) = clients(&store, &addr, &["rotate-secret", "demo-service"]);
    assert!(
        !ok && refused.contains("defined in the configuration"),
        "{refused}"
    );
    let (ok, refused) = clients(
        &store,
        &addr,
        &["rotate-secret", "svc", "--expires-at", "1"],
    );
    assert!(
        !ok && refused.contains("expiry must be in the future"),
        "{refused}"
    );
    let (ok, refused) = clients(&store, &addr, &["rotate-secret", "nobody"]);
    assert!(!ok && refused.contains("no such client"), "{refused}");

    // A provider on the same store: both secrets work during the rollover. The CLI is
    // another process, like another node: a client it removes is seen within
    // `client_cache_seconds` (the engine's client-cache tests prove that on a manual
    // clock); with the cache off, at once.
    let config = dir.path().join("no-client-cache.toml");
    let demo = include_str!("../demo.toml");
    std::fs::write(&config, format!("client_cache_seconds = 0\n{demo}")).unwrap();
    let config = config.display().to_string();
    let server = start(&["--config", &config, "--store", &store, "--addr", &addr]);
    assert_eq!(server.issuer.as_str(), issuer);
    for secret in [&first, &second] {
        let (status, json) = token_status(&issuer, "svc", secret).await;
        assert_eq!(status, StatusCode::OK, "{json}");
    }
    // The CLI says when running providers see its change: its configuration's (here the
    // default's) client cache.
    let (ok, removed) = clients(&store, &addr, &["remove", "svc"]);
    let note = "running providers see this within 10 s (client_cache_seconds)\n";
    assert!(ok && removed == format!("removed svc\n{note}"), "{removed}");
    let (ok, listed) = clients(&store, &addr, &["list"]);
    assert!(ok && !listed.contains("running providers"), "{listed}");
    let (status, json) = token_status(&issuer, "svc", &second).await;
    assert_eq!(
        (status, &json["error"]),
        (StatusCode::UNAUTHORIZED, &"invalid_client".into())
    );
    let (ok, gone) = clients(&store, &addr, &["remove", "svc"]);
    assert!(!ok && gone.contains("no client svc"), "{gone}");
}
