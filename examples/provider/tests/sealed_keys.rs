//! The binary on `--store sqlite:PATH` keeps the private signing keys sealed in the
//! database under the key-encryption key of `PATH.secrets`: a key stored in plaintext
//! before is sealed at start and still signs, and a start with another key-encryption key
//! is refused, saying why, without a secret.

mod common;

use std::process::Command;

use common::{
    assert_sealed, demo_web_tokens, es256, free_port, id_token_signed_by, jwks_kids,
    plaintext_es256_key, start, BIN,
};
use portcullis::core::Issuer;
use portcullis::store::KeyStore;
use portcullis_example_provider::DEMO_TOML;
use portcullis_store_sqlite::SqliteStore;
use portcullis_testkit::browser::Browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_signing_keys_sealed_and_seals_a_plaintext_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let store = format!("sqlite:{}", db.display());
    let addr = format!("127.0.0.1:{}", free_port());
    let issuer = format!("http://{addr}");
    // A database written before keys were sealed: one key in plaintext.
    let (legacy, record) = plaintext_es256_key(&Issuer::parse(&issuer).unwrap());
    let opened = SqliteStore::open(&db).unwrap();
    opened.insert_key(&record).await.unwrap();
    drop(opened);
    let config = dir.path().join("provider.toml");
    std::fs::write(&config, es256(DEMO_TOML)).unwrap();
    let config = config.to_str().unwrap();
    let args = [
        "--store", &store, "--config", config, "--addr", &addr, "--issuer", &issuer,
    ];

    let provider = start(&args);
    let issuer = provider.issuer.clone();
    let (_, tokens) = demo_web_tokens(&Browser::new(), &issuer, &issuer).await;
    assert_eq!(
        id_token_signed_by(&tokens, &legacy),
        record.kid,
        "it still signs"
    );
    assert!(jwks_kids(&issuer).await.contains(&record.kid));
    let conn = rusqlite::Connection::open(&db).unwrap();
    let rows: Vec<String> = conn
        .prepare("SELECT record FROM signing_keys")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows.len(),
        4,
        "a key per algorithm, the one in plaintext included"
    );
    for row in &rows {
        assert_sealed(row, "secrets-file", legacy.pkcs8_der());
    }
    let secrets = std::fs::read_to_string(dir.path().join("p.db.secrets")).unwrap();
    assert!(secrets.contains("\nkey_encryption_key = \""), "{secrets}");
    drop(provider);

    // Another key-encryption key: the start is refused, naming the key, not its value.
    let other = "BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU";
    let wrong = es256(DEMO_TOML).replacen(
        "# key_encryption_key = \"...\"",
        &format!("key_encryption_key = \"{other}\"\nkey_encryption_key_id = \"other\""),
        1,
    );
    std::fs::write(config, wrong).unwrap();
    let out = Command::new(BIN).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("signing keys: signing key "), "{stderr}");
    assert!(
        stderr.contains(
            "is sealed under key-encryption key \"secrets-file\", which is not configured"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains(other) && !stderr.contains("listening"),
        "{stderr}"
    );
}
