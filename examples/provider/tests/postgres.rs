//! `--store postgres:URL`: refused without the secrets every node must share; and two
//! provider processes on one database (the same issuer and secrets, each on its own port)
//! act as one provider: a code issued through one is redeemed at the other, a refresh token
//! rotates once across both, and a token family or a whole grant revoked on one is dead on
//! the other at once.
//!
//! The two-node test needs a server: `PORTCULLIS_TEST_POSTGRES=postgres://user@host:port/db`
//! (it creates a database of its own there, and drops it at the end). Without it the test
//! is ignored (reported as skipped; see `build.rs`), unless `CI` is set: then it fails.

mod common;

use std::process::Command;

use common::{
    active, assert_sealed, demo_web_tokens, es256, free_port, id_token_signed_by, jwks_kids,
    plaintext_es256_key, start, token, BIN,
};
use portcullis::core::Issuer;
use portcullis::store::KeyStore;
use portcullis_example_provider::{DEMO_TOML, DEMO_WEB_CLIENT};
use portcullis_store_postgres::tokio_postgres::{self, NoTls};
use portcullis_store_postgres::PostgresStore;
use portcullis_testkit::browser::{
    authorize_url, exchange_code, post_form, query_param, refresh, Browser,
};
use reqwest::StatusCode;

/// The key-encryption key the nodes share.
const KEK: &str = "BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ";

/// The demo configuration with the secrets every node shares set.
fn shared_config(
    interaction_key: bool,
    subject_salt: bool,
    session_key: bool,
    kek: bool,
) -> String {
    let mut text = DEMO_TOML.to_owned();
    let kek_lines = format!("key_encryption_key = \"{KEK}\"\nkey_encryption_key_id = \"test-1\"");
    for (set, commented, line) in [
        (
            interaction_key,
            "# interaction_key = \"...\"",
            "interaction_key = \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE\"",
        ),
        (
            subject_salt,
            "# subject_salt = \"...\"",
            "subject_salt = \"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI\"",
        ),
        (
            session_key,
            "# key = \"<32 random bytes, base64url>\"",
            "key = \"AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM\"",
        ),
        (kek, "# key_encryption_key = \"...\"", kek_lines.as_str()),
    ] {
        if set {
            let replaced = text.replacen(commented, line, 1);
            assert_ne!(replaced, text, "{commented} is in demo.toml");
            text = replaced;
        }
    }
    text
}

#[test]
fn postgres_without_the_shared_secrets_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there: the secrets are checked before connecting.
    let url = "postgres://portcullis:hunter2@127.0.0.1:1/none";
    let store = format!("postgres:{url}");
    for (name, text, field) in [
        (
            "none",
            shared_config(false, false, false, false),
            "[secrets] interaction_key",
        ),
        (
            "salt",
            shared_config(true, false, true, true),
            "[secrets] subject_salt",
        ),
        (
            "session",
            shared_config(true, true, false, true),
            "[session] key",
        ),
        (
            "kek",
            shared_config(true, true, true, false),
            "[secrets] key_encryption_key",
        ),
        (
            "in-file",
            format!(
                "store = \"{store}\"\n{}",
                shared_config(true, true, false, true)
            ),
            "[session] key",
        ),
    ] {
        let config = dir.path().join(format!("{name}.toml"));
        std::fs::write(&config, text).unwrap();
        let mut command = Command::new(BIN);
        command.args(["--addr", "127.0.0.1:0", "--issuer", "http://127.0.0.1:1"]);
        if name != "in-file" {
            command.args(["--store", &store]);
        }
        let out = command.arg("--config").arg(&config).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name} should be refused");
        assert!(
            stderr.contains(field),
            "{name}: should name {field}: {stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{name}: {stderr}");
        assert!(!stderr.contains("listening"), "{name}: {stderr}");
    }

    // With every secret set, it goes on to connect (and fails: nothing listens there).
    let config = dir.path().join("all.toml");
    std::fs::write(&config, shared_config(true, true, true, true)).unwrap();
    let out = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0", "--store", &store, "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "cannot open the postgres database postgres://portcullis:***@127.0.0.1:1/none"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

/// The server's URL, or `None` (the test skipped) when none is given outside CI.
fn postgres_url() -> Option<String> {
    match std::env::var("PORTCULLIS_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but PORTCULLIS_TEST_POSTGRES is not: the two-node test cannot run")
        }
        _ => {
            println!("SKIPPED: set PORTCULLIS_TEST_POSTGRES=postgres://user@host:port/db to run");
            None
        }
    }
}

/// A database of the test's own on the server, dropped (with its connections) when dropped.
struct TestDatabase {
    server: String,
    name: String,
    url: String,
}

impl TestDatabase {
    async fn create(server: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("portcullis_example_{}_{nanos}", std::process::id());
        admin(server, &format!("CREATE DATABASE {name}")).await;
        let mut url = url::Url::parse(server).expect("PORTCULLIS_TEST_POSTGRES is a URL");
        url.set_path(&format!("/{name}"));
        Self {
            server: server.to_owned(),
            name,
            url: url.to_string(),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let server = self.server.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Its own runtime, on its own thread: this may run inside the test's runtime.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(admin(&server, &sql));
        })
        .join();
        if dropped.is_err() && !std::thread::panicking() {
            panic!("could not drop the test database {}", self.name);
        }
    }
}

/// Runs `sql` on the server's database.
async fn admin(server: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(server, NoTls)
        .await
        .expect("connect to PORTCULLIS_TEST_POSTGRES");
    let driver = tokio::spawn(connection);
    client.batch_execute(sql).await.expect(sql);
    drop(client);
    let _ = driver.await;
}

/// A connection to `url`, for reading rows as they are.
async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    skip_postgres_tests,
    ignore = "needs a server: PORTCULLIS_TEST_POSTGRES"
)]
async fn two_nodes_on_one_database_act_as_one_provider() {
    let Some(server) = postgres_url() else {
        return;
    };
    let db = TestDatabase::create(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("provider.toml");
    std::fs::write(&config, es256(&shared_config(true, true, true, true))).unwrap();
    let config = config.to_str().unwrap();
    let store = format!("postgres:{}", db.url);

    // Both nodes have node A's issuer (as behind a load balancer); each listens on its own
    // port. They start at once: both migrate the new database.
    let (port_a, port_b) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{port_a}");
    // The database already holds a signing key in plaintext, as before keys were sealed.
    let (legacy, record) = plaintext_es256_key(&Issuer::parse(&issuer).unwrap());
    PostgresStore::connect(&db.url)
        .await
        .unwrap()
        .insert_key(&record)
        .await
        .unwrap();
    let node = |port: u16| {
        let addr = format!("127.0.0.1:{port}");
        start(&[
            "--store", &store, "--config", config, "--addr", &addr, "--issuer", &issuer,
        ])
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| node(port_a));
        let b = s.spawn(|| node(port_b));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a.issuer.as_str(), issuer);
    assert_eq!(b.issuer.as_str(), issuer);
    let node_a = a.issuer.clone();
    // Node B, by its own address (the endpoints' paths are the same).
    let node_b = Issuer::parse(&format!("http://127.0.0.1:{port_b}")).unwrap();

    // A user signs in and consents on node A; the client redeems the code at node B. The
    // ID token is signed with the key that was in plaintext, and every key in the database
    // is sealed under the shared key-encryption key now, that one too.
    let browser = Browser::new();
    let (code, tokens) = demo_web_tokens(&browser, &node_a, &node_b).await;
    assert_eq!(id_token_signed_by(&tokens, &legacy), record.kid);
    assert!(jwks_kids(&node_b).await.contains(&record.kid));
    let rows = raw(&db.url)
        .await
        .query("SELECT record::text FROM signing_keys", &[])
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        4,
        "a key per algorithm, the one in plaintext included"
    );
    for row in &rows {
        assert_sealed(row.get(0), "test-1", legacy.pkcs8_der());
    }
    assert!(active(&node_a, "demo-web", token(&tokens, "access_token")).await);

    // 32 concurrent refreshes of one refresh token, half on each node: exactly one wins.
    let old = token(&tokens, "refresh_token").to_owned();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let at = if i % 2 == 0 {
                node_a.clone()
            } else {
                node_b.clone()
            };
            let old = old.clone();
            tokio::spawn(async move { refresh(&at, &DEMO_WEB_CLIENT, &old).await })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        if status == StatusCode::OK {
            won += 1;
        } else {
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(body["error"], "invalid_grant", "{body}");
        }
    }
    assert_eq!(won, 1, "exactly one rotation");

    // The code is spent on both nodes: replayed at node A, it is refused, and the tokens it
    // gave at node B are revoked (RFC 6749 §4.1.2).
    let (status, again) = exchange_code(&node_a, &DEMO_WEB_CLIENT, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{again}");
    assert_eq!(again["error"], "invalid_grant");
    assert!(!active(&node_b, "demo-web", token(&tokens, "access_token")).await);

    // Another token family (the browser is signed in on node A and its consent
    // remembered), revoked on node A (RFC 7009): dead on node B at once.
    let url = authorize_url(
        &node_a,
        &DEMO_WEB_CLIENT,
        "openid offline_access read",
        "s2",
    );
    let back = browser.get(&url).await.redirect();
    let code = query_param(&back, "code").expect("a code");
    let (status, tokens) = exchange_code(&node_a, &DEMO_WEB_CLIENT, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = token(&tokens, "access_token");
    assert!(active(&node_b, "demo-web", access).await);
    let (status, body) = post_form(
        &node_a.endpoint("/revoke"),
        &DEMO_WEB_CLIENT,
        &[
            ("token", token(&tokens, "refresh_token")),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!active(&node_b, "demo-web", access).await);
    assert!(!active(&node_b, "demo-web", token(&tokens, "refresh_token")).await);

    // The user revokes the application's grant on node A's account page: every token of it
    // is dead on node B at once.
    let url = authorize_url(
        &node_a,
        &DEMO_WEB_CLIENT,
        "openid offline_access read",
        "s3",
    );
    let back = browser.get(&url).await.redirect();
    let code = query_param(&back, "code").expect("a code");
    let (status, tokens) = exchange_code(&node_b, &DEMO_WEB_CLIENT, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(active(&node_b, "demo-web", token(&tokens, "access_token")).await);
    let account = browser
        .get(&url::Url::parse(&node_a.endpoint("/account")).unwrap())
        .await;
    assert_eq!(account.status, StatusCode::OK, "{}", account.body);
    assert!(account.body.contains("demo-web"), "{}", account.body);
    let revoked = browser.submit(&account, &[]).await;
    assert_eq!(revoked.status(), StatusCode::OK);
    assert!(!active(&node_b, "demo-web", token(&tokens, "access_token")).await);
    let (status, body) = refresh(&node_b, &DEMO_WEB_CLIENT, token(&tokens, "refresh_token")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    drop((a, b));
    drop(db);
}
