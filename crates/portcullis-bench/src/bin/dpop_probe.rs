//! Throwaway probe.
#![allow(missing_docs)]
use std::sync::Arc;
use std::time::Instant;

use base64::{engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bytes::Bytes;
use http::{Method, Request};
use portcullis::core::{
    Algorithm, Client, ClientKind, ClientSecretHash, DpopPolicy, DpopProof, DpopRequest, GrantType,
    Issuer, Policy, ScopeSet, SigningKey, UnixTime,
};
use portcullis::{ManualClock, Provider, Stores};
use portcullis_store_memory::MemoryStore;
use ring::rand::SystemRandom;

const SECRET: &str = "aVeryLongRandomSecretThatIsHighEntropy0123456789abcdefgh";

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(20000);
    let mode = std::env::args().nth(2).unwrap_or_else(|| "all".into());
    let now = UnixTime::from_secs(1_800_000_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let provider = Provider::builder(Issuer::parse("http://127.0.0.1:18090").unwrap())
        .policy(Policy::default())
        .stores(Stores::shared(Arc::new(MemoryStore::new())))
        .clock(Arc::new(ManualClock::new(now)))
        .build()
        .unwrap();
    let secret = ClientSecretHash::sha256_of_generated(SECRET).unwrap();
    let client = Client::new("bench-web", ClientKind::confidential(secret))
        .with_allowed_scopes(ScopeSet::parse("api").unwrap())
        .with_grant_types([GrantType::ClientCredentials]);
    rt.block_on(provider.register_client(&client)).unwrap();
    let rng = SystemRandom::new();
    let key = SigningKey::generate("dpop", Algorithm::ES256, &rng).unwrap();
    let header = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(
            &serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk()}),
        )
        .unwrap(),
    );
    let proofs: Vec<String> = (0..n)
        .map(|i| {
            let claims = URL_SAFE_NO_PAD.encode(
                serde_json::to_vec(&serde_json::json!({"jti": format!("{i:064x}"), "htm": "POST", "htu": "http://127.0.0.1:18090/token", "iat": now.secs()})).unwrap(),
            );
            let input = format!("{header}.{claims}");
            let sig = key.sign(input.as_bytes(), &rng).unwrap();
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
        })
        .collect();
    let auth = format!("Basic {}", STANDARD.encode(format!("bench-web:{SECRET}")));
    let req = |proof: Option<&str>| {
        let mut b = Request::builder()
            .method(Method::POST)
            .uri("/token")
            .header("host", "127.0.0.1:18090")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", &auth);
        if let Some(p) = proof {
            b = b.header("dpop", p);
        }
        b.body(Bytes::from_static(
            b"grant_type=client_credentials&scope=api",
        ))
        .unwrap()
    };
    let r = rt.block_on(provider.token(req(Some(&proofs[0]))));
    assert_eq!(r.status(), 200, "{:?}", r.body());
    if mode == "all" || mode == "cc" {
        let t = Instant::now();
        for _ in 0..n {
            let r = rt.block_on(provider.token(req(None)));
            assert_eq!(r.status(), 200);
        }
        println!(
            "client_credentials: {:.1} µs",
            t.elapsed().as_secs_f64() * 1e6 / n as f64
        );
    }
    if mode == "all" || mode == "verify" {
        let policy = DpopPolicy::default();
        let t = Instant::now();
        for p in &proofs[1..] {
            let request = DpopRequest {
                method: "POST",
                uri: "http://127.0.0.1:18090/token",
                access_token: None,
                nonce: None,
            };
            DpopProof::verify(p, &request, &policy, now).unwrap();
        }
        println!(
            "core verify: {:.1} µs",
            t.elapsed().as_secs_f64() * 1e6 / (n - 1) as f64
        );
    }
    if mode == "all" || mode == "dpop" {
        let t = Instant::now();
        for p in &proofs[1..] {
            let r = rt.block_on(provider.token(req(Some(p))));
            assert_eq!(r.status(), 200, "{:?}", r.body());
        }
        println!(
            "dpop token: {:.1} µs",
            t.elapsed().as_secs_f64() * 1e6 / (n - 1) as f64
        );
    }
}
