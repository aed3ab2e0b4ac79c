//! What the gateway adds to a request's latency, on loopback, with a warm cache (issue 17,
//! point 8: at most 0.3 ms at p50).
//!
//! ```text
//! cargo run --release -p portcullis-example-gateway --example bench -- [REQUESTS]
//! ```
//!
//! In process, on loopback: an authorization server stub answering introspection (asked
//! once: the verdict is cached), the gateway, and an API protected by portcullis-resource's
//! layer with a `JwtValidator` trusting the gateway's key. One client sends `REQUESTS`
//! (default 20 000) sequential `GET /items` over one kept-alive connection, after as many
//! unmeasured ones, to the API directly with an internal JWT (the baseline), then through
//! the gateway with an opaque token — alternately, in rounds of 1 000, so that a noisy
//! machine weighs on both alike. Prints each case's p50, p90 and p99 and the difference.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::routing::{get, post};
use axum::Router;
use http::HeaderMap;
use portcullis_core::{Algorithm, Issuer, SigningKey};
use portcullis_example_gateway::{spawn, Gateway, GatewayConfig};
use portcullis_resource::{
    ClientCredentials, IssuerKeys, JwtValidator, ReqwestClient, ResourceServer, SystemClock,
};
use ring::rand::SystemRandom;
use tokio::net::TcpListener;

const ROUND: usize = 1_000;

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    (listener, url)
}

fn serve(listener: TcpListener, router: Router) {
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
}

#[tokio::main]
async fn main() {
    let requests: usize = std::env::args()
        .nth(1)
        .map_or(20_000, |n| n.parse().expect("a number of requests"));
    let (as_listener, as_url) = listener().await;
    let (gw_listener, gw_url) = listener().await;
    let (api_listener, api_url) = listener().await;

    // The authorization server: every token is active, for the gateway, for an hour.
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs()
        + 3600;
    let active = serde_json::json!({
        "active": true, "iss": as_url, "client_id": "bench", "sub": "bench", "scope": "read",
        "exp": exp, "aud": gw_url, "token_type": "Bearer",
    })
    .to_string();
    let introspect = post(move || {
        let body = active.clone();
        async move { ([("content-type", "application/json")], body) }
    });
    serve(as_listener, Router::new().route("/introspect", introspect));

    // The gateway.
    let credentials = ClientCredentials::SecretBasic {
        client_id: gw_url.clone(),
        secret: "secret".into(),
    };
    let issuer = Issuer::parse(&as_url).expect("issuer");
    let endpoint = format!("{as_url}/introspect").parse().expect("endpoint");
    let upstream = api_url.parse().expect("upstream");
    let mut config = GatewayConfig::new(
        gw_url.clone(),
        issuer,
        endpoint,
        credentials,
        upstream,
        api_url.clone(),
    );
    config.internal_lifetime = Duration::from_secs(600);
    config.introspection.cache_max_age = Duration::from_secs(600);
    let key = SigningKey::generate("gw", Algorithm::ES256, &SystemRandom::new()).expect("key");
    let http = Arc::new(ReqwestClient::new().expect("client"));
    let gateway = Gateway::new(config, key, http.clone(), Arc::new(SystemClock)).expect("gateway");
    let jwks_uri = format!("{gw_url}{}", gateway.jwks_path());
    let _gateway = spawn(&gateway, gw_listener).expect("spawn");

    // The API: validates the internal JWT on every request.
    let keys = IssuerKeys::from_jwks_uri(Issuer::parse(&gw_url).expect("iss"), jwks_uri, http);
    let validator = JwtValidator::new(Arc::new(keys), api_url.clone());
    let api = ResourceServer::builder(api_url.clone(), Arc::new(validator))
        .build()
        .expect("api");
    let router = Router::new()
        .route("/items", get(|| async { "[]" }))
        .route(
            "/token",
            get(|h: HeaderMap| async move {
                let value = h.get("authorization").and_then(|v| v.to_str().ok());
                value.unwrap_or_default().to_owned()
            }),
        )
        .layer(api.layer());
    serve(api_listener, router);

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .expect("client");
    let opaque = "Bearer opaque-token-of-the-bench";
    // The internal JWT the gateway forwards, for the baseline.
    let internal = client
        .get(format!("{gw_url}/token"))
        .header("authorization", opaque)
        .send()
        .await
        .expect("through the gateway");
    assert_eq!(internal.status(), 200, "the gateway forwards");
    let internal = internal.text().await.expect("the internal token");

    let direct = (format!("{api_url}/items"), internal);
    let through = (format!("{gw_url}/items"), opaque.to_owned());
    let mut samples = [Vec::new(), Vec::new()];
    // Warm-up (unmeasured), then measured rounds, alternating.
    for measured in [false, true] {
        let mut left = requests;
        while left > 0 {
            let n = left.min(ROUND);
            for (i, (url, authorization)) in [&direct, &through].into_iter().enumerate() {
                for _ in 0..n {
                    let started = Instant::now();
                    let response = client
                        .get(url)
                        .header("authorization", authorization)
                        .send()
                        .await
                        .expect("a response");
                    assert_eq!(response.status(), 200);
                    response.bytes().await.expect("a body");
                    if measured {
                        samples[i].push(started.elapsed());
                    }
                }
            }
            left -= n;
        }
    }
    let [direct, through] = samples.map(|mut s| {
        s.sort_unstable();
        s
    });
    let pct = |s: &[Duration], p: f64| s[((s.len() - 1) as f64 * p) as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("requests per case: {requests} (sequential, one connection each)");
    println!("case                     p50 ms   p90 ms   p99 ms");
    for (name, s) in [
        ("API alone (JWT)", &direct),
        ("gateway + API (opaque)", &through),
    ] {
        println!(
            "{name:<24} {:>7.3}  {:>7.3}  {:>7.3}",
            ms(pct(s, 0.5)),
            ms(pct(s, 0.9)),
            ms(pct(s, 0.99))
        );
    }
    println!(
        "added by the gateway     {:>7.3}  {:>7.3}  {:>7.3}",
        ms(pct(&through, 0.5)) - ms(pct(&direct, 0.5)),
        ms(pct(&through, 0.9)) - ms(pct(&direct, 0.9)),
        ms(pct(&through, 0.99)) - ms(pct(&direct, 0.99)),
    );
}
