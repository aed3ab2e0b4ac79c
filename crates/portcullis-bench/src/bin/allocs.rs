//! Heap allocations per request through `Provider` (no HTTP), counted by a counting
//! allocator: client credentials issuance and introspection of an active token, on the
//! memory store, as `bench/http/run` drives them.
//!
//! `cargo run --release -p portcullis-bench --bin allocs`

use std::alloc::System;

use base64::{engine::general_purpose::STANDARD, Engine};
use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use portcullis::core::{Client, ClientKind, ClientSecretHash, GrantType, ScopeSet};
use portcullis_bench::{memory_provider, ISSUER};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Requests measured per case.
const ROUNDS: usize = 1000;
/// The client's secret: 256 random bits, kept as its SHA-256, as in `bench/http`.
const SECRET: &str = "S5zp9btO6p7kZtEkWEf3PVQ3AVYvBN2SlRmyxKbvmoY";

fn post(path: &str, body: String) -> Request<Bytes> {
    Request::builder()
        .method(Method::POST)
        .uri(format!("{ISSUER}{path}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(
            header::AUTHORIZATION,
            format!("Basic {}", STANDARD.encode(format!("svc:{SECRET}"))),
        )
        .body(Bytes::from(body))
        .expect("request")
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let provider = memory_provider();
    let kind = ClientKind::Confidential {
        method: None,
        secret: ClientSecretHash::sha256_of_generated(SECRET).expect("secret"),
    };
    let client = Client::new("svc", kind)
        .with_allowed_scopes(ScopeSet::parse("api").expect("scopes"))
        .with_default_scopes(ScopeSet::parse("api").expect("scopes"))
        .with_grant_types([GrantType::ClientCredentials]);
    rt.block_on(provider.register_client(&client))
        .expect("client");
    let cc = || post("/token", "grant_type=client_credentials&scope=api".into());
    let issued = rt.block_on(provider.token(cc()));
    assert_eq!(issued.status(), StatusCode::OK);
    let json: serde_json::Value = serde_json::from_slice(issued.body()).expect("json");
    let token = json["access_token"].as_str().expect("token").to_owned();
    let introspect = || {
        post(
            "/introspect",
            format!("token={token}&token_type_hint=access_token"),
        )
    };
    type Endpoint<'a> = &'a dyn Fn(Request<Bytes>) -> http::Response<Bytes>;
    type MakeRequest<'a> = &'a dyn Fn() -> Request<Bytes>;
    let token_endpoint = |r| rt.block_on(provider.token(r));
    let introspection_endpoint = |r| rt.block_on(provider.introspect(r));
    let cases: [(&str, MakeRequest, Endpoint); 2] = [
        ("client_credentials", &cc, &token_endpoint),
        ("introspection", &introspect, &introspection_endpoint),
    ];
    for (name, request, endpoint) in cases {
        assert_eq!(endpoint(request()).status(), StatusCode::OK, "{name}");
        // The requests are built first: only the endpoint's own allocations count.
        let requests: Vec<_> = (0..ROUNDS).map(|_| request()).collect();
        let region = Region::new(GLOBAL);
        for r in requests {
            drop(std::hint::black_box(endpoint(r)));
        }
        let c = region.change();
        println!(
            "{name}: {:.1} allocations, {:.0} bytes allocated per request",
            c.allocations as f64 / ROUNDS as f64,
            c.bytes_allocated as f64 / ROUNDS as f64
        );
    }
}
