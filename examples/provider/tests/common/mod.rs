//! Helpers shared by the tests that run the binary: starting it, and asking it about tokens.
// Each test crate uses its own subset of these.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use portcullis::core::{
    verify_compact, Algorithm, Issuer, KeyRecord, PrivateKeyDer, PrivateKeyEnvelope, SigningKey,
    UnixTime,
};
use portcullis_example_provider::{DEMO_SERVICE_CLIENT, DEMO_WEB_CLIENT};
use portcullis_testkit::browser::{http_client, post_form};
use reqwest::StatusCode;
use ring::rand::SystemRandom;
use serde_json::Value;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_portcullis-example-provider");

/// How long the binary may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The binary, killed (like a crash: no clean shutdown) when dropped.
pub(crate) struct Process {
    child: Child,
    pub(crate) issuer: Issuer,
}

impl Process {
    /// The process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// How the process exited, once it has (waiting at most `timeout`).
    pub(crate) fn exit_status(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let until = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < until {
            if let Some(status) = self.child.try_wait().expect("the binary's status") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with `args` and waits (bounded) for the issuer line it prints once it
/// listens.
pub(crate) fn start(args: &[&str]) -> Process {
    let mut child = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the binary");
    let stdout = child.stdout.take().expect("its stdout");
    let (tx, rx) = mpsc::channel();
    // Reads every line, so the binary never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some((_, issuer)) = line.split_once("issuer ") {
                let _ = tx.send(issuer.to_owned());
            }
        }
    });
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(issuer) => Process {
            child,
            issuer: Issuer::parse(&issuer).expect("the printed issuer"),
        },
        Err(_) => {
            let _ = child.kill();
            panic!("the binary did not start listening: {:?}", child.wait());
        }
    }
}

pub(crate) fn provider_args<'a>(store: &'a str, config: &'a str, addr: &'a str) -> [&'a str; 6] {
    ["--store", store, "--config", config, "--addr", addr]
}

/// The JSON of a `200 OK` answer.
pub(crate) async fn get_json(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    serde_json::from_slice(&response.bytes().await.expect("a body")).expect("JSON")
}

pub(crate) async fn jwks_kids(issuer: &Issuer) -> BTreeSet<String> {
    let jwks = get_json(http_client().get(issuer.endpoint("/jwks"))).await;
    let kids: BTreeSet<String> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| k["kid"].as_str().expect("a kid").to_owned())
        .collect();
    assert!(!kids.is_empty());
    kids
}

pub(crate) async fn userinfo_sub(issuer: &Issuer, access_token: &str) -> String {
    let request = http_client().get(issuer.endpoint("/userinfo"));
    let info = get_json(request.bearer_auth(access_token)).await;
    info["sub"].as_str().expect("a sub").to_owned()
}

/// The `sub` of an ID token (its signature is the relying parties' tests' business).
pub(crate) fn id_token_sub(tokens: &Value) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let jwt = tokens["id_token"].as_str().expect("an ID token");
    let payload = jwt.split('.').nth(1).expect("a JWS");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sub"].as_str().expect("a sub").to_owned()
}

pub(crate) fn token<'a>(tokens: &'a Value, name: &str) -> &'a str {
    tokens[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name}: {tokens}"))
}

/// Whether `token` introspects as active for `client` (RFC 7662 §2.2).
pub(crate) async fn active(issuer: &Issuer, client_id: &str, token: &str) -> bool {
    let client = [DEMO_WEB_CLIENT, DEMO_SERVICE_CLIENT]
        .into_iter()
        .find(|c| c.id == client_id)
        .expect("a demo client");
    let (status, body) = post_form(
        &issuer.endpoint("/introspect"),
        &client,
        &[("token", token)],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["active"].as_bool().expect("active")
}

/// Signs the demo user in at `signed_in_at` for the demo web client (`openid offline_access
/// read`, state `s1`), approves everything and redeems the code at `redeemed_at`; returns the
/// code and the token response.
pub(crate) async fn demo_web_tokens(
    browser: &portcullis_testkit::browser::Browser,
    signed_in_at: &Issuer,
    redeemed_at: &Issuer,
) -> (String, Value) {
    use portcullis_example_provider::DEMO_USER;
    use portcullis_testkit::browser::{authorize_url, exchange_code, query_param, Decision};
    let url = authorize_url(
        signed_in_at,
        &DEMO_WEB_CLIENT,
        "openid offline_access read",
        "s1",
    );
    let redirect = browser
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    let code = query_param(&redirect, "code").expect("a code");
    let (status, tokens) = exchange_code(redeemed_at, &DEMO_WEB_CLIENT, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    (code, tokens)
}

/// A port nothing listens on (for a node whose issuer must be known before it starts).
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `config` with ES256 as the default algorithm and demo-web's ID token algorithm.
pub(crate) fn es256(config: &str) -> String {
    let text = config
        .replacen("default_alg = \"RS256\"", "default_alg = \"ES256\"", 1)
        .replacen(
            "id_token_signed_response_alg = \"RS256\"",
            "id_token_signed_response_alg = \"ES256\"",
            1,
        );
    assert_eq!(text.matches("\"ES256\"").count(), 2, "both are in the file");
    text
}

/// An ES256 key of `issuer` as a store written before private keys were sealed kept it:
/// in plaintext, signing since a minute ago.
pub(crate) fn plaintext_es256_key(issuer: &Issuer) -> (SigningKey, KeyRecord) {
    let key = SigningKey::generate("legacy-es256", Algorithm::ES256, &SystemRandom::new()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let record = KeyRecord {
        issuer: issuer.clone(),
        kid: key.kid().to_owned(),
        alg: Algorithm::ES256,
        private_key: PrivateKeyEnvelope::plaintext(&PrivateKeyDer::new(key.pkcs8_der().to_vec())),
        created_at: UnixTime::from_secs(now - 60),
        activates_at: UnixTime::from_secs(now - 60),
        retires_at: None,
        expires_at: None,
    };
    (key, record)
}

/// Asserts that a stored key record (its JSON, as the row holds it) keeps its private key
/// sealed under the key-encryption key `kek_id`, and nothing of `plaintext`.
pub(crate) fn assert_sealed(row: &str, kek_id: &str, plaintext: &[u8]) {
    use base64::{engine::general_purpose::STANDARD, Engine};
    let record: Value = serde_json::from_str(row).expect("a JSON record");
    let stored = STANDARD
        .decode(record["private_key"].as_str().expect("a private key"))
        .unwrap();
    let mut header = b"PSK1".to_vec();
    header.push(kek_id.len() as u8);
    header.extend_from_slice(kek_id.as_bytes());
    assert!(stored.starts_with(&header), "sealed under {kek_id}: {row}");
    assert!(!row.contains(&STANDARD.encode(plaintext)[..40]), "{row}");
    assert!(
        !plaintext
            .windows(16)
            .any(|w| stored.windows(16).any(|x| x == w)),
        "no 16 bytes of the private key in the row"
    );
}

/// An ID token verified with `key` alone: its `kid`.
pub(crate) fn id_token_signed_by(tokens: &Value, key: &SigningKey) -> String {
    let jwt = tokens["id_token"].as_str().expect("an ID token");
    let v = verify_compact(jwt, &[key.verifying_key()], &[key.alg()]).expect("signed by the key");
    v.header.kid.expect("a kid")
}
