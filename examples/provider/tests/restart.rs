//! The binary on `--store sqlite:PATH` survives a restart: tokens issued before it stay
//! active, the refresh token still rotates, the JWKS keeps its keys, pairwise `sub` values do
//! not change, and a sign-in begun before it (sealed ticket, CSRF token) and a signed-in
//! browser (session cookie) carry on.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use portcullis::core::Issuer;
use portcullis_e2e::provider::{DEMO_SERVICE_CLIENT, DEMO_TOML, DEMO_USER, DEMO_WEB_CLIENT};
use portcullis_e2e::{
    authorize_url, exchange_code, http_client, post_form, query_param, refresh, Browser, Decision,
};
use reqwest::StatusCode;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_portcullis-example-provider");

/// How long the binary may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The binary, killed (like a crash: no clean shutdown) when dropped.
struct Process {
    child: Child,
    issuer: Issuer,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with `args` and waits (bounded) for the issuer line it prints once it
/// listens.
fn start(args: &[&str]) -> Process {
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

fn provider_args<'a>(store: &'a str, config: &'a str, addr: &'a str) -> [&'a str; 6] {
    ["--store", store, "--config", config, "--addr", addr]
}

/// The JSON of a `200 OK` answer.
async fn get_json(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    serde_json::from_slice(&response.bytes().await.expect("a body")).expect("JSON")
}

async fn jwks_kids(issuer: &Issuer) -> BTreeSet<String> {
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

async fn userinfo_sub(issuer: &Issuer, access_token: &str) -> String {
    let request = http_client().get(issuer.endpoint("/userinfo"));
    let info = get_json(request.bearer_auth(access_token)).await;
    info["sub"].as_str().expect("a sub").to_owned()
}

/// The `sub` of an ID token (its signature is the relying parties' tests' business).
fn id_token_sub(tokens: &Value) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let jwt = tokens["id_token"].as_str().expect("an ID token");
    let payload = jwt.split('.').nth(1).expect("a JWS");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sub"].as_str().expect("a sub").to_owned()
}

fn token<'a>(tokens: &'a Value, name: &str) -> &'a str {
    tokens[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name}: {tokens}"))
}

/// Whether `token` introspects as active for `client` (RFC 7662 §2.2).
async fn active(issuer: &Issuer, client_id: &str, token: &str) -> bool {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_provider_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("p.db");
    let store = format!("sqlite:{}", db.display());
    // The demo clients, with demo-web's `sub` pairwise: it depends on the subject salt.
    let config = dir.path().join("provider.toml");
    let pairwise = DEMO_TOML.replacen(
        "subject_type = \"public\"",
        "subject_type = \"pairwise\"",
        1,
    );
    assert_ne!(pairwise, DEMO_TOML);
    std::fs::write(&config, pairwise).unwrap();
    let config = config.to_str().unwrap();

    let first = start(&provider_args(&store, config, "127.0.0.1:0"));
    let issuer = first.issuer.clone();
    let secrets = secrets_file(&db);

    // A user signs in and consents; the client redeems the code.
    let browser = Browser::new();
    let url = authorize_url(
        &issuer,
        &DEMO_WEB_CLIENT,
        "openid offline_access read",
        "s1",
    );
    let redirect = browser
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    let code = query_param(&redirect, "code").expect("a code");
    let (status, web) = exchange_code(&issuer, &DEMO_WEB_CLIENT, &code).await;
    assert_eq!(status, StatusCode::OK, "{web}");
    let sub = id_token_sub(&web);
    assert_ne!(sub, DEMO_USER.username, "a pairwise sub");
    assert_eq!(
        userinfo_sub(&issuer, token(&web, "access_token")).await,
        sub
    );
    // A service gets a token of its own.
    let (status, service) = post_form(
        &issuer.endpoint("/token"),
        &DEMO_SERVICE_CLIENT,
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{service}");
    let kids = jwks_kids(&issuer).await;
    // Another browser is on the login page when the provider goes down.
    let late = Browser::new();
    let login = late
        .get(&authorize_url(
            &issuer,
            &DEMO_WEB_CLIENT,
            "openid read",
            "s2",
        ))
        .await;
    assert!(login.is_login(), "{}", login.body);

    drop(first);
    let addr = issuer.as_str().trim_start_matches("http://").to_owned();
    let second = start(&provider_args(&store, config, &addr));
    assert_eq!(second.issuer, issuer);
    assert_eq!(
        secrets_file(&db),
        secrets,
        "the secrets are kept, not redrawn"
    );

    // What was issued before is still good.
    assert!(active(&issuer, "demo-web", token(&web, "access_token")).await);
    assert!(active(&issuer, "demo-web", token(&web, "refresh_token")).await);
    assert!(active(&issuer, "demo-service", token(&service, "access_token")).await);
    assert_eq!(jwks_kids(&issuer).await, kids);
    assert_eq!(
        userinfo_sub(&issuer, token(&web, "access_token")).await,
        sub
    );

    // The refresh token rotates once, with the same pairwise sub; then it is refused.
    let old = token(&web, "refresh_token");
    let (status, rotated) = refresh(&issuer, &DEMO_WEB_CLIENT, old).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_ne!(token(&rotated, "refresh_token"), old);
    assert_eq!(id_token_sub(&rotated), sub);
    let (status, reused) = refresh(&issuer, &DEMO_WEB_CLIENT, old).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reused["error"], "invalid_grant");

    // The sign-in begun before the restart goes on (its ticket and CSRF token still open)
    // and, the consent being remembered, straight back to the client with a code...
    let back = late.log_in(&login, &DEMO_USER).await.redirect();
    assert_eq!(query_param(&back, "state").as_deref(), Some("s2"), "{back}");
    let code = query_param(&back, "code").expect("a code");
    let (status, again) = exchange_code(&issuer, &DEMO_WEB_CLIENT, &code).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(id_token_sub(&again), sub);
    // ...and the browser signed in before it still is (its session cookie still opens).
    let url = authorize_url(&issuer, &DEMO_WEB_CLIENT, "openid read", "s3");
    let back = browser.get(&url).await.redirect();
    assert_eq!(query_param(&back, "state").as_deref(), Some("s3"), "{back}");
    assert!(query_param(&back, "code").is_some(), "{back}");
}

/// The secrets file beside the database: private, and its content.
fn secrets_file(db: &Path) -> String {
    let path = db.with_file_name("p.db.secrets");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
    std::fs::read_to_string(path).expect("the secrets file")
}
