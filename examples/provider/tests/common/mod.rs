//! Helpers shared by the tests that run the binary: starting it, and asking it about tokens.
// Each test crate uses its own subset of these.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use portcullis::core::Issuer;
use portcullis_e2e::provider::{DEMO_SERVICE_CLIENT, DEMO_WEB_CLIENT};
use portcullis_e2e::{http_client, post_form};
use reqwest::StatusCode;
use serde_json::Value;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_portcullis-example-provider");

/// How long the binary may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The binary, killed (like a crash: no clean shutdown) when dropped.
pub(crate) struct Process {
    child: Child,
    pub(crate) issuer: Issuer,
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
    browser: &portcullis_e2e::Browser,
    signed_in_at: &Issuer,
    redeemed_at: &Issuer,
) -> (String, Value) {
    use portcullis_e2e::provider::DEMO_USER;
    use portcullis_e2e::{authorize_url, exchange_code, query_param, Decision};
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
