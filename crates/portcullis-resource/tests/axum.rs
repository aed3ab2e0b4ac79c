//! The tower layer and the axum extractors: the metadata document served (RFC 9728 §3), every
//! other request authenticated, refusals answered with their challenges, per-route scope and
//! step-up guards (RFC 6750 §3.1, RFC 9470 §3), and a request authenticated once however
//! many layers it crosses.

mod common;

use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::routing::{get as get_route, post};
use axum::Router;
use common::*;
use http::{Request, Response, StatusCode};
use portcullis_core::DpopPolicy;
use portcullis_resource::{Authenticated, Clock, Rejection, RequireScope, RequiredScope};
use serde_json::{json, Value};

const RM: &str = "resource_metadata=\"https://api.example/.well-known/oauth-protected-resource\"";

struct Payments;

impl RequiredScope for Payments {
    const SCOPE: &'static str = "payments";
}

async fn whoami(auth: Authenticated) -> String {
    auth.claims().subject.clone().unwrap_or_default()
}

async fn pay(auth: RequireScope<Payments>) -> String {
    format!("paid by {}", auth.claims().subject.as_deref().unwrap_or(""))
}

async fn admin(auth: Authenticated) -> Result<&'static str, Rejection> {
    auth.require_scope("admin")?;
    Ok("admin")
}

fn app(h: &Harness) -> Router {
    let server = &h.server;
    Router::new()
        .route("/me", get_route(whoami))
        .route("/pay", post(pay))
        .route("/admin", get_route(admin))
        .route(
            "/refund",
            post(whoami).route_layer(server.layer().require_scope("payments")),
        )
        .route(
            "/transfer",
            post(whoami).route_layer(
                server
                    .layer()
                    .require_scope("payments")
                    .require_authentication(["mfa"], Some(Duration::from_secs(300))),
            ),
        )
        .layer(server.layer())
}

fn harness_for(holder: &Holder) -> Harness {
    let jkt = holder.jkt();
    let tokens = Tokens::default()
        .valid(
            "reader",
            claims_with("read", |c| {
                c["acr"] = json!("pwd");
                c["auth_time"] = json!(NOW - 60);
            }),
        )
        .valid(
            "payer",
            claims_with("read payments", |c| {
                c["acr"] = json!("mfa");
                c["auth_time"] = json!(NOW - 60);
            }),
        );
    let tokens = tokens.valid(
        "bound-payer",
        claims_with("payments", |c| c["cnf"] = json!({"jkt": jkt})),
    );
    Harness::with(tokens, |b, replays| b.dpop(DpopPolicy::default(), replays))
}

fn harness() -> Harness {
    harness_for(&Holder::new())
}

async fn call(app: &Router, req: Request<Body>) -> Response<Body> {
    tower::ServiceExt::oneshot(app.clone(), req).await.unwrap()
}

fn req(method: &str, path: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        b = b.header("authorization", format!("Bearer {token}"));
    }
    b.body(Body::empty()).unwrap()
}

async fn text(r: Response<Body>) -> String {
    String::from_utf8(to_bytes(r.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap()
}

fn challenge(r: &Response<Body>) -> Vec<&str> {
    r.headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_layer_authenticates_and_the_extractor_gives_the_claims() {
    let h = harness();
    let app = app(&h);
    let r = call(&app, req("GET", "/me", Some("reader"))).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(text(r).await, "alice");

    let r = call(&app, req("GET", "/me", None)).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&r),
        [
            format!("Bearer {RM}"),
            format!("DPoP algs=\"RS256 PS256 ES256 EdDSA\", {RM}")
        ]
    );

    let r = call(&app, req("GET", "/me", Some("forged"))).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = serde_json::from_str(&text(r).await).unwrap();
    assert_eq!(body["error"], "invalid_token");
}

/// RFC 9728 §3: the document is served without a token.
#[tokio::test]
async fn the_layer_serves_the_metadata_document() {
    let h = harness();
    let r = call(
        &app(&h),
        req("GET", "/.well-known/oauth-protected-resource", None),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc: Value = serde_json::from_str(&text(r).await).unwrap();
    assert_eq!(doc["resource"], RESOURCE);
}

/// RFC 6750 §3.1: the route's scope, by extractor, by `?` or by layer: 403 with `scope`.
#[tokio::test]
async fn route_guards_answer_403_insufficient_scope() {
    let h = harness();
    let app = app(&h);
    for (method, path, scope) in [
        ("POST", "/pay", "payments"),
        ("GET", "/admin", "admin"),
        ("POST", "/refund", "payments"),
    ] {
        let r = call(&app, req(method, path, Some("reader"))).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            challenge(&r),
            [format!(
                "Bearer error=\"insufficient_scope\", error_description=\"the access token \
                 does not carry the scope this request needs\", scope=\"{scope}\", {RM}"
            )],
            "{path}"
        );
    }
    let r = call(&app, req("POST", "/pay", Some("payer"))).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(text(r).await, "paid by alice");
    let r = call(&app, req("POST", "/refund", Some("payer"))).await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// RFC 9470 §3: a route needing a stronger login answers `insufficient_user_authentication`,
/// before its scope is checked (`reader` lacks `payments` too: the login comes first).
#[tokio::test]
async fn a_step_up_route_answers_insufficient_user_authentication() {
    let h = harness();
    let app = app(&h);
    let r = call(&app, req("POST", "/transfer", Some("reader"))).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&r),
        [
            format!(
                "Bearer error=\"insufficient_user_authentication\", error_description=\"a \
                 stronger or more recent authentication is required\", acr_values=\"mfa\", \
                 max_age=\"300\", {RM}"
            ),
            format!("DPoP algs=\"RS256 PS256 ES256 EdDSA\", {RM}"),
        ]
    );
    let r = call(&app, req("POST", "/transfer", Some("payer"))).await;
    assert_eq!(r.status(), StatusCode::OK);
    h.clock.advance(300);
    let r = call(&app, req("POST", "/transfer", Some("payer"))).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// An inner route layer reuses the outer layer's authentication: were the request
/// authenticated twice, its DPoP proof would be refused as replayed by the second.
#[tokio::test]
async fn nested_layers_authenticate_once() {
    let holder = Holder::new();
    let h = harness_for(&holder);
    let app = app(&h);
    let proof = holder.proof_with(h.clock.now(), "bound-payer", |c| {
        c["htm"] = json!("POST");
        c["htu"] = json!("https://api.example/refund");
    });
    let request = Request::post("/refund")
        .header("authorization", "DPoP bound-payer")
        .header("dpop", proof)
        .body(Body::empty())
        .unwrap();
    let r = call(&app, request).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(h.replays.calls(), 1);
}

/// The layer adds the authenticated request's response headers: `Cache-Control: private`
/// after a query token (RFC 6750 §2.3).
#[tokio::test]
async fn the_layer_adds_the_response_headers() {
    let h = Harness::with(Tokens::default().valid("reader", claims("read")), |b, _| {
        b.dangerous_allow_query_token()
    });
    let app = Router::new()
        .route("/me", get_route(whoami))
        .layer(h.server.layer());
    let r = call(&app, req("GET", "/me?access_token=reader", None)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "private");
    let r = call(&app, req("GET", "/me", Some("reader"))).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!r.headers().contains_key("cache-control"));
}

/// An inner layer of another resource server does not reuse the outer one's authentication:
/// an admin API requiring DPoP, nested in a public one accepting bearer tokens, refuses a
/// bearer token the outer layer accepted.
#[tokio::test]
async fn an_inner_layer_of_another_server_authenticates_again() {
    let public = Harness::new(Tokens::default().valid("reader", claims("read")));
    let admin = Harness::with(Tokens::default().valid("reader", claims("read")), |b, r| {
        b.dpop(DpopPolicy::default(), r).require_dpop()
    });
    let app = Router::new()
        .route("/me", get_route(whoami))
        .route(
            "/admin",
            get_route(whoami).route_layer(admin.server.layer()),
        )
        .layer(public.server.layer());
    let r = call(&app, req("GET", "/me", Some("reader"))).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = call(&app, req("GET", "/admin", Some("reader"))).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = serde_json::from_str(&text(r).await).unwrap();
    assert_eq!(body["error"], "invalid_token");
}
