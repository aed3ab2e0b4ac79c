//! The example provider as an OpenID Provider for a second independent relying party, Node's
//! `openid-client` (v6, `tests/node/`), with a signing-key rotation between two runs of it:
//! phase 1 signs in and verifies the ID token against the JWKS; the provider then rotates
//! its RS256 key and its clock passes `publish_ahead`; phase 2 refreshes, and must accept an
//! ID token signed with the new key, which it does not have cached. It runs against the
//! provider on each adapter (`axum::…`, `actix::…`).
//!
//! Needs `node` (20.19 or later) and `npm ci --prefix tests/node` (`.ci/run` does it): the
//! test fails, naming the missing piece, without them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::{engine::general_purpose::STANDARD, Engine};
use portcullis::core::{Algorithm, ClientKind, JwtClientSecret, SigningKey, UnixTime};
use portcullis::ManualClock;
use portcullis_e2e::provider::{
    Config, Running, DEMO_SERVICE_CLIENT, DEMO_TOML, DEMO_USER, DEMO_WEB_CLIENT,
};
use portcullis_e2e::{demo_config, http_client, start_with, start_with_clock, Adapter};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

/// How long a new key is published before it signs. openid-client downloads the JWKS again
/// for an unknown `kid` once its copy is a minute old (and always after five): this lies in
/// between, so phase 2 takes the unknown-`kid` path.
const PUBLISH_AHEAD: u64 = 120;

/// Longest a phase may take (node starts in well under a second).
const PHASE_TIMEOUT: Duration = Duration::from_secs(60);

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// Runs `rp.mjs` for `phase`; its one line of JSON output.
async fn run_phase(phase: &str, settings: &Value) -> Value {
    let dir = node_dir();
    let child = tokio::process::Command::new("node")
        .arg(dir.join("rp.mjs"))
        .arg(phase)
        .arg(settings.to_string())
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `node` (install Node.js 20.19 or later): {e}"));
    let output = tokio::time::timeout(PHASE_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{phase} took longer than {PHASE_TIMEOUT:?}"))
        .expect("wait for node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{phase} failed ({}):\n{stderr}{stdout}",
        output.status
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{phase} printed no JSON ({e}):\n{stdout}\n{stderr}"))
}

/// A file removed when the test ends, however it ends.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The `kid`s the provider publishes now.
async fn published_kids(jwks_uri: &str) -> Vec<String> {
    let body = http_client()
        .get(jwks_uri)
        .send()
        .await
        .expect("GET /jwks")
        .bytes()
        .await
        .expect("read /jwks");
    let jwks: Value = serde_json::from_slice(&body).expect("a JWK Set");
    let keys = jwks["keys"].as_array().expect("keys");
    keys.iter()
        .map(|k| k["kid"].as_str().expect("a kid").to_owned())
        .collect()
}

async fn openid_client_follows_a_key_rotation(adapter: Adapter) {
    let installed = node_dir().join("node_modules/openid-client/package.json");
    assert!(
        installed.exists(),
        "openid-client is not installed: run `npm ci --prefix tests/node` (.ci/run does)"
    );

    // The provider's clock starts in the past, so that after moving past publish_ahead it is
    // about the real time again: openid-client checks `exp` and `iat` against its own clock.
    let real_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs();
    let clock = Arc::new(ManualClock::new(UnixTime::from_secs(
        real_now - PUBLISH_AHEAD - 60,
    )));
    let publish_ahead = PUBLISH_AHEAD.to_string();
    let config = demo_config(
        &[
            ("publish_ahead_seconds", &publish_ahead),
            ("jwks_max_age_seconds", "60"),
            ("reload_every_seconds", "10"),
            ("rotate_every_seconds", "0"),
        ],
        "",
    );
    assert_eq!(
        config.key_policy().publish_ahead,
        Duration::from_secs(PUBLISH_AHEAD)
    );
    let server = start_with_clock(adapter, config, clock.clone()).await;

    let state_file = TempFile(std::env::temp_dir().join(format!(
        "portcullis-openid-client-{}-{}.json",
        std::process::id(),
        server.local_addr().port()
    )));
    let mut settings = json!({
        "issuer": server.issuer().as_str(),
        "client_id": DEMO_WEB_CLIENT.id,
        "client_secret": DEMO_WEB_CLIENT.secret,
        "redirect_uri": DEMO_WEB_CLIENT.redirect_uri,
        "post_logout_redirect_uri": DEMO_WEB_CLIENT.post_logout_redirect_uri,
        "username": DEMO_USER.username,
        "password": DEMO_USER.password,
        "state_file": state_file.0,
        "jwks_age": 0,
    });

    // Phase 1: discovery, sign-in, tokens, UserInfo.
    let first = run_phase("phase1", &settings).await;
    assert_eq!(first["sub"], DEMO_USER.username);
    assert_eq!(first["alg"], "RS256");
    assert_eq!(first["jwks_downloads"], 1, "{first}");
    // The user left `profile` unchecked: UserInfo has the email but not the name.
    assert_eq!(
        first["granted"],
        json!(["email", "offline_access", "openid"])
    );
    let userinfo = &first["userinfo"];
    assert_eq!(userinfo["sub"], DEMO_USER.username);
    assert_eq!(userinfo["email"], "alice@example.com");
    assert_eq!(userinfo["email_verified"], true);
    assert_eq!(userinfo.get("name"), None, "{userinfo}");
    let old_kid = first["kid"].as_str().expect("a kid").to_owned();

    // The rotation: the new key is published at once and signs after publish_ahead.
    let jwks_uri = server.url("/jwks");
    let new_kid = server
        .provider()
        .rotate_signing_key(Algorithm::RS256)
        .await
        .expect("rotate");
    assert_ne!(new_kid, old_kid);
    let kids = published_kids(&jwks_uri).await;
    assert!(
        kids.contains(&old_kid) && kids.contains(&new_kid),
        "{kids:?}"
    );
    clock.advance(PUBLISH_AHEAD + 1);

    // Phase 2: refresh (the new key signs; openid-client fetches the JWKS again for it),
    // UserInfo, logout.
    settings["jwks_age"] = json!(PUBLISH_AHEAD + 1);
    let second = run_phase("phase2", &settings).await;
    assert_eq!(second["kid"], new_kid.as_str(), "{second}");
    assert_eq!(second["alg"], "RS256");
    assert_eq!(second["sub"], first["sub"]);
    assert_eq!(second["jwks_downloads"], 1, "{second}");
    assert_eq!(second["userinfo"], first["userinfo"]);
    // openid-client introspects and revokes: the refresh token's family dies.
    assert_eq!(
        second["introspected"],
        json!({"active": true, "client_id": "demo-web", "sub": first["sub"]}),
        "{second}"
    );
    assert_eq!(
        second["after_revocation"],
        json!({"active": false}),
        "{second}"
    );
    assert_eq!(
        second["refresh_after_revocation"], "invalid_grant",
        "{second}"
    );
    // The retired key stays published until what it signed has expired.
    let kids = published_kids(&jwks_uri).await;
    assert!(
        kids.contains(&old_kid) && kids.contains(&new_kid),
        "{kids:?}"
    );
}

/// The initial access token the registration test's provider requires (RFC 7591 §3).
const INITIAL_ACCESS_TOKEN: &str = "openid-client-initial-access-token-0123456789";

/// openid-client registers a client (RFC 7591) with an initial access token, signs in with
/// it, reads and deletes its registration (RFC 7592), after which its refresh token is
/// refused.
async fn openid_client_registers_and_uses_a_client(adapter: Adapter) {
    let installed = node_dir().join("node_modules/openid-client/package.json");
    assert!(
        installed.exists(),
        "openid-client is not installed: run `npm ci --prefix tests/node`"
    );
    let registration = format!(
        "[registration]\nscopes = \"openid profile email offline_access\"\n\
         initial_access_token = \"{INITIAL_ACCESS_TOKEN}\""
    );
    let real_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs();
    let clock = Arc::new(ManualClock::new(UnixTime::from_secs(real_now)));
    let server = start_with_clock(adapter, demo_config(&[], &registration), clock).await;
    let settings = json!({
        "issuer": server.issuer().as_str(),
        "redirect_uri": "https://rp.example/cb",
        "username": DEMO_USER.username,
        "password": DEMO_USER.password,
        "initial_access_token": INITIAL_ACCESS_TOKEN,
    });
    let out = run_phase("register", &settings).await;
    let client_id = out["client_id"].as_str().expect("a client_id");
    assert_eq!(out["client_name"], "openid-client", "{out}");
    assert_eq!(out["sub"], DEMO_USER.username, "{out}");
    assert_eq!(
        out["read"],
        json!({"status": 200, "client_id": client_id, "client_name": "openid-client"}),
        "{out}"
    );
    assert_eq!(out["deleted"], 204, "{out}");
    // 401 (invalid_client): the client is gone.
    assert_eq!(out["refresh_after_delete"], 401, "{out}");
    assert!(server
        .provider()
        .client(client_id)
        .await
        .expect("store")
        .is_none());
}

/// openid-client's `PrivateKeyJwt` (ES256, a client declared in the configuration file with
/// inline `jwks`) and `ClientSecretJwt` (HS256, a client registered through the provider with
/// its secret sealed under the configured key-encryption key) obtain a token with
/// client_credentials, introspect it and revoke it: every request authenticated by a fresh
/// assertion (RFC 7523).
async fn openid_client_authenticates_with_jwt_assertions(adapter: Adapter) {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("an ES256 key");
    let jwk = SigningKey::from_pkcs8("rp-1", Algorithm::ES256, pkcs8.as_ref(), &rng)
        .expect("the key")
        .public_jwk();
    let client = |id: &str, auth: &str| {
        format!(
            "[[clients]]\nid = \"{id}\"\ntype = \"confidential\"\nallowed_scopes = \"read\"\n\
             grant_types = [\"client_credentials\"]\n{auth}\n"
        )
    };
    let jwks = format!(
        "token_endpoint_auth_method = \"private_key_jwt\"\n\
         jwks = {{ keys = [{{ kty = \"EC\", crv = \"P-256\", kid = \"rp-1\", x = \"{}\", y = \"{}\" }}] }}",
        jwk.x.as_deref().expect("x"),
        jwk.y.as_deref().expect("y"),
    );
    let kek = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE";
    let text = DEMO_TOML.replacen(
        "[secrets]",
        &format!("[secrets]\nkey_encryption_key = \"{kek}\"\nkey_encryption_key_id = \"e2e\""),
        1,
    );
    let config =
        Config::parse(&format!("{text}\n{}", client("rp-key", &jwks))).expect("the configuration");
    let server = start_with(adapter, config).await;
    let provider = server.provider();
    let secret = JwtClientSecret::generate(&rng).expect("a secret");
    let mut sj = provider
        .client("demo-service")
        .await
        .expect("store")
        .expect("demo-service")
        .as_ref()
        .clone();
    sj.id = "rp-secret".into();
    sj.kind = ClientKind::SecretJwt {
        secret: provider
            .seal_client_secret("rp-secret", &secret)
            .expect("sealed"),
    };
    provider.register_client(&sj).await.expect("registered");

    for settings in [
        json!({
            "issuer": server.issuer().as_str(),
            "client_id": "rp-key",
            "pkcs8": STANDARD.encode(pkcs8.as_ref()),
            "kid": "rp-1",
        }),
        json!({
            "issuer": server.issuer().as_str(),
            "client_id": "rp-secret",
            "client_secret": secret.expose(),
        }),
    ] {
        let out = run_phase("jwt_auth", &settings).await;
        let id = &settings["client_id"];
        // openid-client lowercases it.
        assert_eq!(out["token_type"], "bearer", "{out}");
        assert_eq!(
            out["introspected"],
            json!({"active": true, "client_id": id}),
            "{out}"
        );
        assert_eq!(out["after_revocation"], json!({"active": false}), "{out}");
    }
}

/// JWT-Secured Authorization Requests (RFC 9101): a client of the configuration file with
/// inline `jwks` and `require_signed_request_object` signs in through openid-client's
/// `buildAuthorizationUrlWithJAR` (an ES256 request object) and exchanges the code with
/// `PrivateKeyJwt`; its plain authorization request is redirected with `invalid_request`.
async fn openid_client_signs_in_with_a_request_object(adapter: Adapter) {
    let installed = node_dir().join("node_modules/openid-client/package.json");
    assert!(
        installed.exists(),
        "openid-client is not installed: run `npm ci --prefix tests/node`"
    );
    let redirect_uri = DEMO_WEB_CLIENT.redirect_uri.expect("a redirect URI");
    let (table, pkcs8) = key_client("rp-jar", "rp-jar-1", "");
    let config = Config::parse(&format!("{DEMO_TOML}\n{table}")).expect("the configuration");
    let server = start_with(adapter, config).await;
    let out = run_phase(
        "jar",
        &json!({
            "issuer": server.issuer().as_str(),
            "client_id": "rp-jar",
            "pkcs8": STANDARD.encode(&pkcs8),
            "kid": "rp-jar-1",
            "redirect_uri": redirect_uri,
            "username": DEMO_USER.username,
            "password": DEMO_USER.password,
        }),
    )
    .await;
    assert_eq!(out["request_parameter_supported"], true, "{out}");
    assert_eq!(
        out["plain"],
        json!({
            "error": "invalid_request",
            "error_description": "this client must send a signed request object",
            "state": "plain",
        }),
        "{out}"
    );
    assert_eq!(out["sub"], DEMO_USER.username, "{out}");
    assert_eq!(out["token_type"], "bearer", "{out}");
}

/// The example's TOML table of a code-flow client `id` that authenticates with
/// `private_key_jwt` by a fresh ES256 key `kid` and must send signed request objects, with
/// `extra` lines; and the key's PKCS#8 document.
fn key_client(id: &str, kid: &str, extra: &str) -> (String, Vec<u8>) {
    let rng = SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("an ES256 key");
    let jwk = SigningKey::from_pkcs8(kid, Algorithm::ES256, pkcs8.as_ref(), &rng)
        .expect("the key")
        .public_jwk();
    let table = format!(
        "[[clients]]\nid = \"{id}\"\ntype = \"confidential\"\n\
         redirect_uris = [\"{}\"]\n\
         allowed_scopes = \"openid profile email offline_access\"\n\
         grant_types = [\"authorization_code\", \"refresh_token\"]\n\
         require_signed_request_object = true\n\
         token_endpoint_auth_method = \"private_key_jwt\"\n{extra}\
         jwks = {{ keys = [{{ kty = \"EC\", crv = \"P-256\", kid = \"{kid}\", x = \"{}\", y = \"{}\" }}] }}\n",
        DEMO_WEB_CLIENT.redirect_uri.expect("a redirect URI"),
        jwk.x.as_deref().expect("x"),
        jwk.y.as_deref().expect("y"),
    );
    (table, pkcs8.as_ref().to_vec())
}

/// openid-client against a client held to FAPI 2.0 (`profile = "fapi2"`, signed request
/// objects required, `private_key_jwt`): the front channel alone is refused
/// (`invalid_request`, FAPI 2.0 §5.3.2.2), a push that is not a signed request object is
/// refused at the PAR endpoint (`invalid_request`, 400, RFC 9101 §10.5), and a request
/// object (`buildAuthorizationUrlWithJAR`) pushed (`buildAuthorizationUrlWithPAR`) with a
/// DPoP proof signs in with a DPoP-bound token (§5.3.2.1: sender-constrained).
async fn openid_client_signs_in_as_a_fapi2_client(adapter: Adapter) {
    let installed = node_dir().join("node_modules/openid-client/package.json");
    assert!(
        installed.exists(),
        "openid-client is not installed: run `npm ci --prefix tests/node`"
    );
    let redirect_uri = DEMO_WEB_CLIENT.redirect_uri.expect("a redirect URI");
    let (table, pkcs8) = key_client("rp-fapi", "rp-fapi-1", "profile = \"fapi2\"\n");
    let config = Config::parse(&format!("{DEMO_TOML}\n{table}")).expect("the configuration");
    let server = start_with(adapter, config).await;
    let out = run_phase(
        "fapi",
        &json!({
            "issuer": server.issuer().as_str(),
            "client_id": "rp-fapi",
            "pkcs8": STANDARD.encode(&pkcs8),
            "kid": "rp-fapi-1",
            "redirect_uri": redirect_uri,
            "username": DEMO_USER.username,
            "password": DEMO_USER.password,
        }),
    )
    .await;
    assert_eq!(
        out["front"],
        json!({
            "error": "invalid_request",
            // The request object rule is checked first (the engine's `fapi2.rs` tests show
            // "must be pushed first" for a FAPI client without it).
            "error_description": "this client must send a signed request object",
            "state": "front",
        }),
        "{out}"
    );
    assert_eq!(
        out["plain_push"],
        json!({
            "error": "invalid_request",
            "error_description": "this client must send a signed request object",
            "status": 400,
        }),
        "{out}"
    );
    assert_eq!(out["sub"], DEMO_USER.username, "{out}");
    // openid-client lowercases it.
    assert_eq!(out["token_type"], "dpop", "{out}");
}

/// openid-client registers a `private_key_jwt` client with its own `jwks` and ES256 as its
/// `token_endpoint_auth_signing_alg` (RFC 7591, OpenID Connect Dynamic Client Registration
/// 1.0 §2), then obtains a client_credentials token with `PrivateKeyJwt` (RFC 7523).
async fn openid_client_registers_a_key_client(adapter: Adapter) {
    let installed = node_dir().join("node_modules/openid-client/package.json");
    assert!(
        installed.exists(),
        "openid-client is not installed: run `npm ci --prefix tests/node`"
    );
    let registration = format!(
        "[registration]\nscopes = \"read\"\ninitial_access_token = \"{INITIAL_ACCESS_TOKEN}\""
    );
    let server = start_with(adapter, demo_config(&[], &registration)).await;
    let settings = json!({
        "issuer": server.issuer().as_str(),
        "initial_access_token": INITIAL_ACCESS_TOKEN,
    });
    let out = run_phase("register_key", &settings).await;
    assert_eq!(
        out["token_endpoint_auth_method"], "private_key_jwt",
        "{out}"
    );
    // openid-client lowercases it.
    assert_eq!(out["token_type"], "bearer", "{out}");
    let client_id = out["client_id"].as_str().expect("a client_id");
    let client = server
        .provider()
        .client(client_id)
        .await
        .expect("store")
        .expect("the registered client");
    assert!(
        matches!(client.kind, ClientKind::PrivateKeyJwt { .. }),
        "{:?}",
        client.kind
    );
}

/// Re-registers the demo clients `ids` so that every DPoP proof they send must carry the
/// provider's nonce (RFC 9449 §8, §9).
async fn require_dpop_nonces(server: &Running, ids: &[&str]) {
    let provider = server.provider();
    for id in ids {
        let mut client = provider
            .client(id)
            .await
            .expect("store")
            .expect("a demo client")
            .as_ref()
            .clone();
        client.tokens.require_dpop_nonce = true;
        provider.register_client(&client).await.expect("registered");
    }
}

/// openid-client's DPoP (RFC 9449) with one key: client_credentials, the code flow, refresh
/// and UserInfo all DPoP-bound (`token_type` DPoP, introspection's `cnf.jkt` the key's
/// thumbprint), the access token refused as a Bearer token (§7.2). Run without nonces, then
/// with the clients requiring them, then on a provider whose policy requires them (`[dpop]
/// require_nonce`): openid-client is challenged with `use_dpop_nonce` at the token endpoint
/// (400) and at UserInfo (401) and retries with the `DPoP-Nonce` it was handed (§8, §9).
async fn openid_client_binds_its_tokens_with_dpop(adapter: Adapter) {
    let installed = node_dir().join("node_modules/openid-client/package.json");
    assert!(
        installed.exists(),
        "openid-client is not installed: run `npm ci --prefix tests/node`"
    );
    let plain = start_with(adapter, demo_config(&[], "")).await;
    let by_policy = start_with(adapter, demo_config(&[], "[dpop]\nrequire_nonce = true")).await;
    let settings = |server: &Running| {
        json!({
            "issuer": server.issuer().as_str(),
            "client_id": DEMO_WEB_CLIENT.id,
            "client_secret": DEMO_WEB_CLIENT.secret,
            "redirect_uri": DEMO_WEB_CLIENT.redirect_uri,
            "service_id": DEMO_SERVICE_CLIENT.id,
            "service_secret": DEMO_SERVICE_CLIENT.secret,
            "username": DEMO_USER.username,
            "password": DEMO_USER.password,
        })
    };
    let ok = |method: &str, path: &str| format!("{method} {path} 200");
    let challenged =
        |method: &str, path: &str, status: u16| format!("{method} {path} {status} use_dpop_nonce");
    let (token, userinfo) = ("/token", "/userinfo");
    let without_nonces = [
        ok("POST", token),
        ok("POST", token),
        ok("POST", token),
        ok("GET", userinfo),
    ];
    let with_nonces = [
        challenged("POST", token, 400),
        ok("POST", token),
        challenged("POST", token, 400),
        ok("POST", token),
        ok("POST", token),
        challenged("GET", userinfo, 401),
        ok("GET", userinfo),
    ];
    let runs = [
        ("no nonces", &plain, &without_nonces[..]),
        ("nonces required by the clients", &plain, &with_nonces[..]),
        (
            "nonces required by the policy",
            &by_policy,
            &with_nonces[..],
        ),
    ];
    for (case, server, expected) in runs {
        if case == "nonces required by the clients" {
            require_dpop_nonces(server, &[DEMO_WEB_CLIENT.id, DEMO_SERVICE_CLIENT.id]).await;
        }
        let out = run_phase("dpop", &settings(server)).await;
        // openid-client lowercases it.
        assert_eq!(out["token_types"], json!(["dpop", "dpop", "dpop"]), "{out}");
        assert_eq!(out["sub"], DEMO_USER.username, "{out}");
        assert_eq!(
            out["introspected"],
            json!({"active": true, "token_type": "DPoP", "cnf": {"jkt": out["jkt"]}}),
            "{out}"
        );
        assert_eq!(out["bearer"]["status"], 401, "{out}");
        let challenge = out["bearer"]["challenge"].as_str().unwrap_or_default();
        assert!(
            challenge.starts_with("DPoP ") && challenge.contains("error=\"invalid_token\""),
            "{out}"
        );
        assert_eq!(out["dpop_requests"], json!(expected), "{case}: {out}");
    }
}

/// openid-client pushes its authorization requests (RFC 9126, `buildAuthorizationUrlWithPAR`)
/// to a provider that requires them (`[pushed_authorization_requests] required`): discovery
/// names the endpoint and the requirement, a request through the browser alone is refused
/// with `invalid_request` (redirected, the redirect URI being registered), and pushed ones
/// sign in — without DPoP, and with DPoP, whose proof at the PAR endpoint binds the code and
/// so the tokens to the key (RFC 9449 §10.1).
async fn openid_client_pushes_its_authorization_requests(adapter: Adapter) {
    let installed = node_dir().join("node_modules/openid-client/package.json");
    assert!(
        installed.exists(),
        "openid-client is not installed: run `npm ci --prefix tests/node`"
    );
    let config = demo_config(&[], "[pushed_authorization_requests]\nrequired = true");
    let server = start_with(adapter, config).await;
    let settings = json!({
        "issuer": server.issuer().as_str(),
        "client_id": DEMO_WEB_CLIENT.id,
        "client_secret": DEMO_WEB_CLIENT.secret,
        "redirect_uri": DEMO_WEB_CLIENT.redirect_uri,
        "username": DEMO_USER.username,
        "password": DEMO_USER.password,
    });
    let out = run_phase("par", &settings).await;
    assert_eq!(out["endpoint"], server.url("/par"), "{out}");
    assert_eq!(out["required"], true, "{out}");
    assert_eq!(
        out["refused"],
        json!({"error": "invalid_request", "state": "front"}),
        "{out}"
    );
    // openid-client lowercases them.
    assert_eq!(out["token_types"], json!(["bearer", "dpop"]), "{out}");
    assert_eq!(out["sub"], DEMO_USER.username, "{out}");
    assert_eq!(out["cnf"], json!({"jkt": out["jkt"]}), "{out}");
    assert_eq!(
        out["dpop_requests"],
        json!(["POST /par 201", "POST /token 200"]),
        "{out}"
    );
}

/// openid-client's device authorization grant (RFC 8628): `initiateDeviceAuthorization` at
/// the endpoint discovery names, the user's code entered, sign-in and consent in the
/// browser, then `pollDeviceAuthorizationGrant` gets the tokens.
async fn openid_client_runs_the_device_grant(adapter: Adapter) {
    let installed = node_dir().join("node_modules/openid-client/package.json");
    assert!(
        installed.exists(),
        "openid-client is not installed: run `npm ci --prefix tests/node`"
    );
    let extra = "[device_authorization]\nenabled = true\n\n[[clients]]\nid = \"tv\"\n\
                 type = \"public\"\nallowed_scopes = \"read\"\ndefault_scopes = \"read\"\n\
                 grant_types = [\"urn:ietf:params:oauth:grant-type:device_code\"]\n";
    let server = start_with(adapter, demo_config(&[], extra)).await;
    let settings = json!({
        "issuer": server.issuer().as_str(),
        "client_id": "tv",
        "username": DEMO_USER.username,
        "password": DEMO_USER.password,
    });
    let out = run_phase("device", &settings).await;
    assert_eq!(
        out["endpoint"],
        server.url("/device_authorization"),
        "{out}"
    );
    assert_eq!(out["grant_listed"], true, "{out}");
    assert_eq!(out["interval"], 5, "{out}");
    assert_eq!(out["scope"], "read", "{out}");
    assert_eq!(out["token_type"], "bearer", "{out}");
}

/// openid-client receives a form post (OAuth 2.0 Form Post Response Mode: the provider's
/// page, its form submitted as the browser would) and JARM responses (`useJwtResponseMode`:
/// `response_mode=jwt`, and `form_post.jwt`), verifies the signed ones against the JWKS and
/// signs in with the code inside.
async fn openid_client_receives_form_post_and_jarm_responses(adapter: Adapter) {
    let installed = node_dir().join("node_modules/openid-client/package.json");
    assert!(
        installed.exists(),
        "openid-client is not installed: run `npm ci --prefix tests/node`"
    );
    let real_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs();
    let clock = Arc::new(ManualClock::new(UnixTime::from_secs(real_now)));
    let server = start_with_clock(adapter, demo_config(&[], ""), clock).await;
    let settings = json!({
        "issuer": server.issuer().as_str(),
        "client_id": DEMO_WEB_CLIENT.id,
        "client_secret": DEMO_WEB_CLIENT.secret,
        "redirect_uri": DEMO_WEB_CLIENT.redirect_uri,
        "username": DEMO_USER.username,
        "password": DEMO_USER.password,
    });
    let out = run_phase("modes", &settings).await;
    let plain = json!(["code", "iss", "state"]);
    let signed = json!(["response"]);
    for (mode, received) in [
        ("form_post", &plain),
        ("jwt", &signed),
        ("form_post.jwt", &signed),
    ] {
        let run = &out["runs"][mode];
        assert_eq!(run["sub"], DEMO_USER.username, "{mode}: {out}");
        assert_eq!(&run["received"], received, "{mode}: {out}");
    }
}

/// Token exchange (RFC 8693) by an independent client: openid-client's `genericGrantRequest`
/// exchanges a client's own token for a narrower one and, naming itself as the actor, for a
/// delegated one (`act`); a wider scope is refused with `invalid_scope`. The example enables
/// the grant in its configuration (`[token_exchange]`) for one client.
async fn openid_client_exchanges_tokens(adapter: Adapter) {
    let installed = node_dir().join("node_modules/openid-client/package.json");
    assert!(
        installed.exists(),
        "openid-client is not installed: run `npm ci --prefix tests/node`"
    );
    let extra = "[token_exchange]\nenabled = true\n\n[[clients]]\nid = \"exchanger\"\n\
                 type = \"confidential\"\nsecret = \"exchanger-secret\"\n\
                 allowed_scopes = \"read write\"\ngrant_types = [\"client_credentials\", \
                 \"urn:ietf:params:oauth:grant-type:token-exchange\"]\n";
    let config = Config::parse(&format!("{DEMO_TOML}\n{extra}")).expect("the configuration");
    let server = start_with(adapter, config).await;
    let settings = json!({
        "issuer": server.issuer().as_str(),
        "client_id": "exchanger",
        "client_secret": "exchanger-secret",
    });
    let out = run_phase("token_exchange", &settings).await;
    assert_eq!(out["advertised"], true, "{out}");
    assert_eq!(
        out["narrower"],
        json!({
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            // openid-client lowercases it.
            "token_type": "bearer",
            "refresh_token": null,
            "scope": "read",
        }),
        "{out}"
    );
    assert_eq!(out["act"], json!({ "sub": "exchanger" }), "{out}");
    assert_eq!(
        out["refused"],
        json!({ "error": "invalid_scope", "status": 400 }),
        "{out}"
    );
}

portcullis_e2e::on_each_adapter!(
    openid_client_exchanges_tokens,
    openid_client_receives_form_post_and_jarm_responses,
    openid_client_follows_a_key_rotation,
    openid_client_registers_and_uses_a_client,
    openid_client_authenticates_with_jwt_assertions,
    openid_client_registers_a_key_client,
    openid_client_signs_in_with_a_request_object,
    openid_client_binds_its_tokens_with_dpop,
    openid_client_pushes_its_authorization_requests,
    openid_client_signs_in_as_a_fapi2_client,
    openid_client_runs_the_device_grant,
);
