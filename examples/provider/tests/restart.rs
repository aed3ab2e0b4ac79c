//! The binary on `--store sqlite:PATH` survives a restart: tokens issued before it stay
//! active, the refresh token still rotates, the JWKS keeps its keys, pairwise `sub` values do
//! not change, and a sign-in begun before it (sealed ticket, CSRF token) and a signed-in
//! browser (session cookie) carry on.

mod common;

use std::path::Path;

use common::{
    active, demo_web_tokens, id_token_sub, jwks_kids, provider_args, start, token, userinfo_sub,
};
use portcullis_example_provider::{DEMO_SERVICE_CLIENT, DEMO_TOML, DEMO_USER, DEMO_WEB_CLIENT};
use portcullis_testkit::browser::{
    authorize_url, exchange_code, post_form, query_param, refresh, Browser,
};
use reqwest::StatusCode;

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
    let (_, web) = demo_web_tokens(&browser, &issuer, &issuer).await;
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
