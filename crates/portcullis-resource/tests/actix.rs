//! The actix-web extractors: a request authenticated from the app's ResourceServer (once,
//! however many extractors ask), refusals answered with their challenges, the route's scope
//! (RFC 6750 §3.1), the RFC 9728 document.

mod common;

use actix_web::body::to_bytes;
use actix_web::dev::Payload;
use actix_web::test::TestRequest;
use actix_web::{FromRequest, HttpRequest};
use common::*;
use portcullis_core::DpopPolicy;
use portcullis_resource::{
    protected_resource_metadata, Authenticated, Clock, RequireScope, RequiredScope,
};
use serde_json::{json, Value};

const RM: &str = "resource_metadata=\"https://api.example/.well-known/oauth-protected-resource\"";

struct Payments;

impl RequiredScope for Payments {
    const SCOPE: &'static str = "payments";
}

fn harness(holder: &Holder) -> Harness {
    let jkt = holder.jkt();
    let tokens = Tokens::default().valid("reader", claims("read")).valid(
        "bound-payer",
        claims_with("read payments", |c| c["cnf"] = json!({"jkt": jkt})),
    );
    Harness::with(tokens, |b, replays| b.dpop(DpopPolicy::default(), replays))
}

fn request(h: &Harness, headers: &[(&str, &str)]) -> HttpRequest {
    let mut r = TestRequest::get().uri("/items").app_data(h.server.clone());
    for (name, value) in headers {
        r = r.insert_header((*name, *value));
    }
    r.to_http_request()
}

#[tokio::test]
async fn the_extractor_authenticates_from_the_app_data() {
    let h = harness(&Holder::new());
    let req = request(&h, &[("authorization", "Bearer reader")]);
    let a = Authenticated::extract(&req).await.unwrap();
    assert_eq!(a.claims().subject.as_deref(), Some("alice"));

    let req = request(&h, &[("authorization", "Bearer forged")]);
    let e = Authenticated::extract(&req).await.unwrap_err();
    let r = e.error_response();
    assert_eq!(r.status().as_u16(), 401);
    let challenges: Vec<_> = r
        .headers()
        .get_all("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    // RFC 9449 §7.2, Figure 18: the error in the Bearer challenge, DPoP offered too.
    assert_eq!(
        challenges,
        [
            format!(
                "Bearer error=\"invalid_token\", error_description=\"the token is not valid\", \
                 {RM}"
            ),
            format!("DPoP algs=\"RS256 PS256 ES256 EdDSA\", {RM}"),
        ]
    );
    let body: Value = serde_json::from_slice(&to_bytes(r.into_body()).await.unwrap()).unwrap();
    assert_eq!(body["error"], "invalid_token");
}

/// Two extractors on one DPoP request: the proof is spent once, so both succeed.
#[tokio::test]
async fn a_request_is_authenticated_once_and_scoped() {
    let holder = Holder::new();
    let h = harness(&holder);
    let proof = holder.proof(h.clock.now(), "bound-payer");
    let req = request(
        &h,
        &[("authorization", "DPoP bound-payer"), ("dpop", &proof)],
    );
    let a = Authenticated::extract(&req).await.unwrap();
    let scoped = RequireScope::<Payments>::from_request(&req, &mut Payload::None)
        .await
        .unwrap();
    assert_eq!(scoped.claims(), a.claims());
    assert_eq!(h.replays.calls(), 1);

    let req = request(&h, &[("authorization", "Bearer reader")]);
    let e = RequireScope::<Payments>::from_request(&req, &mut Payload::None)
        .await
        .unwrap_err();
    let r = e.error_response();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(
        r.headers()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap(),
        format!(
            "Bearer error=\"insufficient_scope\", error_description=\"the access token does \
             not carry the scope this request needs\", scope=\"payments\", {RM}"
        )
    );
}

#[tokio::test]
async fn the_metadata_handler_serves_the_document() {
    let h = harness(&Holder::new());
    let paths: Vec<_> = h.server.metadata_paths().collect();
    assert_eq!(paths, ["/.well-known/oauth-protected-resource"]);
    let r = protected_resource_metadata(request(&h, &[])).await;
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers().get("content-type").unwrap(), "application/json");
    let doc: Value = serde_json::from_slice(&to_bytes(r.into_body()).await.unwrap()).unwrap();
    assert_eq!(doc["resource"], RESOURCE);
}

/// An authentication by another ResourceServer (e.g. an outer scope's) is not reused: the
/// app data's server, which requires DPoP, refuses the bearer token the other one accepted.
#[tokio::test]
async fn another_servers_authentication_is_not_reused() {
    let public = Harness::new(Tokens::default().valid("reader", claims("read")));
    let admin = Harness::with(Tokens::default().valid("reader", claims("read")), |b, r| {
        b.dpop(DpopPolicy::default(), r).require_dpop()
    });
    let req = request(&public, &[("authorization", "Bearer reader")]);
    let outer = Authenticated::extract(&req).await.unwrap();
    let req = request(&admin, &[("authorization", "Bearer reader")]);
    actix_web::HttpMessage::extensions_mut(&req).insert(outer);
    let e = Authenticated::extract(&req).await.unwrap_err();
    let r = e.error_response();
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = serde_json::from_slice(&to_bytes(r.into_body()).await.unwrap()).unwrap();
    assert_eq!(body["error"], "invalid_token");
}
