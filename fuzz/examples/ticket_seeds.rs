//! Writes the seeds of the ticket targets (`open_ticket`, `open_payload`,
//! `open_grace_answer`) into `corpus/<target>/seed-*`: valid tickets sealed under the
//! targets' fixed key, issuer and clock (with fixed nonces, so the output is the same on every
//! run), plus altered, expired, mis-addressed ones and the plaintext JSON the key protects.
//! Run it from `fuzz/` with `cargo run --example ticket_seeds` when a sealed format changes.

use std::path::Path;
use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use portcullis_core::{
    open_payload, open_ticket, seal_grace_answer, seal_payload, seal_ticket,
    validate_authorization_request, AuthorizationRequest, InteractionKey, Issuer, Params, Policy,
    TokenResponse,
};
use portcullis_fuzz::{
    client, fixed_rng, issuer, key, later, GRACE_REFRESH_TOKEN, LOGOUT_PURPOSE, NOW, TICKET_PURPOSE,
};
use serde_json::{json, Value};

fn write(target: &str, seeds: &[String]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    for (i, seed) in seeds.iter().enumerate() {
        std::fs::write(dir.join(format!("seed-{}", i + 1)), seed).unwrap();
    }
    println!("{target}: {} seeds", seeds.len());
}

/// The ticket with one ciphertext byte flipped (the tag no longer matches).
fn altered(ticket: &str) -> String {
    let mut raw = URL_SAFE_NO_PAD.decode(ticket).unwrap();
    let i = raw.len() / 2;
    raw[i] ^= 0x01;
    URL_SAFE_NO_PAD.encode(raw)
}

fn request(query: &str) -> AuthorizationRequest {
    let params = Params::parse(query.as_bytes()).unwrap();
    validate_authorization_request(&params, Some(client()), issuer(), &Policy::default()).unwrap()
}

fn ticket_seeds() -> Vec<String> {
    let pkce =
        "code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    let oidc = request(&format!(
        "response_type=code&client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A51004%2Fcb\
         &scope=openid+profile+email&state=af0ifjsldkj&nonce=n-0S6_WzA2Mj&prompt=login+consent\
         &max_age=3600&login_hint=alice%40example.com\
         &claims=%7B%22userinfo%22%3A%7B%22email%22%3Anull%7D%7D&{pkce}"
    ));
    let plain = request(&format!("response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=read+write&{pkce}"));
    let valid = seal_ticket(&oidc, later(), issuer(), key(), &fixed_rng(1)).unwrap();
    let minimal = seal_ticket(&plain, later(), issuer(), key(), &fixed_rng(2)).unwrap();
    let expired = seal_ticket(&plain, NOW, issuer(), key(), &fixed_rng(3)).unwrap();
    let elsewhere = Issuer::parse("https://other.example").unwrap();
    let other_issuer = seal_ticket(&plain, later(), &elsewhere, key(), &fixed_rng(4)).unwrap();
    let other_key = InteractionKey::from_bytes(&[0xa5; 32]);
    let other_key = seal_ticket(&plain, later(), issuer(), &other_key, &fixed_rng(5)).unwrap();
    assert_eq!(open_ticket(&valid, issuer(), key(), NOW).unwrap().0, oidc);
    assert!(open_ticket(&expired, issuer(), key(), NOW).is_err());
    // What the key protects, as the target seals its JSON inputs; that this opens as a ticket
    // shows the purpose the target seals under is still the one tickets use.
    let (fields, _): (Value, _) =
        open_payload(TICKET_PURPOSE, &valid, issuer(), key(), NOW).unwrap();
    let resealed = seal_payload(
        TICKET_PURPOSE,
        &fields,
        later(),
        issuer(),
        key(),
        &fixed_rng(6),
    );
    assert_eq!(
        open_ticket(&resealed.unwrap(), issuer(), key(), NOW)
            .unwrap()
            .0,
        oidc
    );
    vec![
        valid.clone(),
        minimal,
        altered(&valid),
        expired,
        other_issuer,
        other_key,
        valid[..valid.len() - 7].to_owned(),
        serde_json::to_string(&fields).unwrap(),
    ]
}

fn payload_seeds() -> Vec<String> {
    let logout = json!({
        "client_id": "app",
        "hint_subject": "alice",
        "redirect": "https://app.example/logged-out",
        "state": "xyz",
    });
    let bare = json!({"client_id": null, "hint_subject": null, "redirect": null, "state": null});
    let seal = |purpose: &str, value: &Value, until, b| {
        seal_payload(purpose, value, until, issuer(), key(), &fixed_rng(b)).unwrap()
    };
    let valid = seal(LOGOUT_PURPOSE, &logout, later(), 1);
    let opened: (Value, _) = open_payload(LOGOUT_PURPOSE, &valid, issuer(), key(), NOW).unwrap();
    assert_eq!(opened.0, logout);
    vec![
        valid.clone(),
        format!(
            "{LOGOUT_PURPOSE}\n{}",
            seal(LOGOUT_PURPOSE, &bare, later(), 2)
        ),
        format!("{TICKET_PURPOSE}\n{valid}"),
        altered(&valid),
        seal(LOGOUT_PURPOSE, &logout, NOW, 3),
        format!(
            "purpose\n{}",
            seal("purpose", &json!(["any", 1, {"json": true}]), later(), 4)
        ),
        format!("{LOGOUT_PURPOSE}\n{logout}"),
    ]
}

fn grace_seeds() -> Vec<String> {
    let response = TokenResponse {
        access_token: "at-8xLOxBtZp8tqOKDbEGGvPYqjKHXoEPBAnnXQoGKzJT0".into(),
        token_type: "Bearer",
        expires_in: 300,
        refresh_token: Some("rt-new-3AElJ9ib7XWTX1f8wybbPc0ZuQYDbcQ8cYHCiUTqOUs".into()),
        scope: Some("openid profile".into()),
        id_token: Some("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln".into()),
        authorization_details: Vec::new(),
        issued_token_type: None,
    };
    let bare = TokenResponse {
        access_token: "at".into(),
        token_type: "Bearer",
        expires_in: 60,
        refresh_token: None,
        scope: None,
        id_token: None,
        authorization_details: Vec::new(),
        issued_token_type: None,
    };
    let until = NOW.plus(Duration::from_secs(10));
    let seal = |token: &str, r: &TokenResponse, until, b| {
        seal_grace_answer(token, r, NOW, until, issuer(), &fixed_rng(b)).unwrap()
    };
    let valid = seal(GRACE_REFRESH_TOKEN, &response, until, 1);
    assert!(
        portcullis_core::open_grace_answer(GRACE_REFRESH_TOKEN, &valid, issuer(), NOW).is_some()
    );
    vec![
        valid.clone(),
        format!("rt-other\n{}", seal("rt-other", &bare, until, 2)),
        format!("rt-wrong\n{valid}"),
        altered(&valid),
        seal(GRACE_REFRESH_TOKEN, &response, NOW, 3),
        format!(
            "{}\n{}\n{}\n{}",
            response.access_token,
            response.refresh_token.as_deref().unwrap(),
            response.scope.as_deref().unwrap(),
            response.id_token.as_deref().unwrap()
        ),
    ]
}

fn main() {
    write("open_ticket", &ticket_seeds());
    write("open_payload", &payload_seeds());
    write("open_grace_answer", &grace_seeds());
}
