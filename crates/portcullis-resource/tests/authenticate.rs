//! Authentication of a request with a bearer token (RFC 6750): where the token may come from,
//! the challenges of each refusal (RFC 6750 §3, RFC 9728 §5.1), 503 when the token cannot be
//! checked, the scope and step-up guards (RFC 6750 §3.1, RFC 9470 §3), and the RFC 9728
//! metadata document.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use http::StatusCode;
use portcullis_core::{Issuer, TokenScheme};
use portcullis_resource::{ResourceServer, ResourceServerError, WELL_KNOWN_PATH};
use serde_json::{json, Value};

const RM: &str = "resource_metadata=\"https://api.example/.well-known/oauth-protected-resource\"";

fn tokens() -> Tokens {
    Tokens::default()
        .valid("good", claims("read write"))
        .with("revoked", Verdict::Invalid)
        .with("unreachable", Verdict::Unavailable)
}

#[tokio::test]
async fn a_valid_bearer_token_authenticates_the_request() {
    let h = Harness::new(tokens());
    let a = h
        .authenticate(get("/items", &[("authorization", "Bearer good")]))
        .await
        .unwrap();
    assert_eq!(a.claims().subject.as_deref(), Some("alice"));
    assert_eq!(a.scheme(), TokenScheme::Bearer);
    let a = h
        .authenticate(get("/items", &[("authorization", "bearer   good")]))
        .await
        .unwrap();
    assert_eq!(a.claims().client_id.as_deref(), Some("app"));
}

/// RFC 6750 §3.1: a request without a token gets a challenge naming no error, and no body.
#[tokio::test]
async fn no_token_is_a_challenge_without_an_error() {
    let h = Harness::new(tokens());
    for req in [
        get("/items", &[]),
        get("/items", &[("authorization", "Basic dXNlcjpwdw==")]),
    ] {
        let r = h.refused(req).await;
        assert_refusal(
            &r,
            StatusCode::UNAUTHORIZED,
            None,
            &[&format!("Bearer {RM}")],
        );
        assert!(r.body().is_empty());
    }
    let h = Harness::with(tokens(), |b, _| b.realm("api \"v1\""));
    let r = h.refused(get("/items", &[])).await;
    assert_refusal(
        &r,
        StatusCode::UNAUTHORIZED,
        None,
        &[&format!("Bearer realm=\"api \\\"v1\\\"\", {RM}")],
    );
}

#[tokio::test]
async fn an_invalid_token_is_invalid_token_with_a_fixed_description() {
    let h = Harness::with(tokens(), |b, _| b.realm("api"));
    for token in ["revoked", "unknown-token-value"] {
        let r = h
            .refused(get(
                "/items",
                &[("authorization", &format!("Bearer {token}"))],
            ))
            .await;
        assert_refusal(
            &r,
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            &[&format!(
                "Bearer realm=\"api\", error=\"invalid_token\", \
                 error_description=\"the token is not valid\", {RM}"
            )],
        );
        let body = String::from_utf8(r.body().to_vec()).unwrap();
        assert!(!body.contains(token), "{body}");
    }
}

/// RFC 6750 §3.1: a repeated or malformed header, or more than one way of sending a token,
/// is `invalid_request`, 400.
#[tokio::test]
async fn malformed_or_repeated_credentials_are_invalid_request() {
    let h = Harness::with(tokens(), |b, _| {
        b.allow_form_body_token().dangerous_allow_query_token()
    });
    let invalid =
        |d: &str| format!("Bearer error=\"invalid_request\", error_description=\"{d}\", {RM}");
    let cases = [
        (
            get(
                "/items",
                &[
                    ("authorization", "Bearer good"),
                    ("authorization", "Bearer good"),
                ],
            ),
            "more than one Authorization header",
        ),
        (
            get("/items", &[("authorization", "Bearer a b")]),
            "malformed Authorization header",
        ),
        (
            get("/items", &[("authorization", "Bearer")]),
            "malformed Authorization header",
        ),
        (
            get(
                "/items?access_token=good",
                &[("authorization", "Bearer good")],
            ),
            "more than one access token",
        ),
        (
            get("/items?access_token=good&access_token=good", &[]),
            "access_token was sent more than once",
        ),
        (
            get("/items?access_token=%zz", &[]),
            "malformed form body or query string",
        ),
    ];
    h.assert_each_refused(cases, StatusCode::BAD_REQUEST, "invalid_request", |d| {
        vec![invalid(d)]
    })
    .await;
}

/// RFC 6750 §2.2: a form body's token only when allowed, never with GET, not besides a header.
#[tokio::test]
async fn a_form_body_token_is_opt_in() {
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let post = || request("POST", "/items", &form);
    let body = b"access_token=good&name=x";

    let h = Harness::new(tokens());
    let refused = h.authenticate_form(post(), body).await.unwrap_err();
    assert_refusal(
        &refused.to_response(),
        StatusCode::UNAUTHORIZED,
        None,
        &[&format!("Bearer {RM}")],
    );

    let h = Harness::with(tokens(), |b, _| b.allow_form_body_token());
    let a = h.authenticate_form(post(), body).await.unwrap();
    assert_eq!(a.scheme(), TokenScheme::Bearer);
    // RFC 6750 §2.2: only a form-encoded body of a request with a body method carries one;
    // otherwise the request carries no token: a challenge without an error code.
    let get = request("GET", "/items", &form);
    let other_type = request("POST", "/items", &[("content-type", "application/json")]);
    for no_token in [get, other_type] {
        let refused = h.authenticate_form(no_token, body).await.unwrap_err();
        assert_refusal(
            &refused.to_response(),
            StatusCode::UNAUTHORIZED,
            None,
            &[&format!("Bearer {RM}")],
        );
    }
    let both = request(
        "POST",
        "/items",
        &[form[0], ("authorization", "Bearer good")],
    );
    let refused = h.authenticate_form(both, body).await.unwrap_err();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        error_code(&refused.to_response()).as_deref(),
        Some("invalid_request")
    );
}

/// RFC 6750 §2.3: the query string only through the dangerous opt-in.
#[tokio::test]
async fn a_query_token_is_a_dangerous_opt_in() {
    let h = Harness::new(tokens());
    let r = h.refused(get("/items?access_token=good", &[])).await;
    assert_refusal(
        &r,
        StatusCode::UNAUTHORIZED,
        None,
        &[&format!("Bearer {RM}")],
    );
    let h = Harness::with(tokens(), |b, _| b.dangerous_allow_query_token());
    let a = h
        .authenticate(get("/items?x=1&access_token=good", &[]))
        .await
        .unwrap();
    // RFC 6750 §2.3: a success for a query token is `Cache-Control: private`.
    assert_eq!(a.response_headers()["cache-control"], "private");
    let a = h
        .authenticate(get("/items", &[("authorization", "Bearer good")]))
        .await
        .unwrap();
    assert!(a.response_headers().is_empty());
    assert_eq!(
        h.server.metadata().bearer_methods_supported,
        ["header", "query"]
    );
}

/// An authorization server that cannot be reached is no verdict on the token: 503, no
/// challenge.
#[tokio::test]
async fn an_unreachable_authorization_server_is_503() {
    let h = Harness::new(tokens());
    let r = h
        .refused(get("/items", &[("authorization", "Bearer unreachable")]))
        .await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(&r).as_deref(), Some("temporarily_unavailable"));
    assert!(challenges(&r).is_empty());
}

/// RFC 6750 §3.1: a valid token without the scope is 403 `insufficient_scope`, naming it.
#[tokio::test]
async fn a_missing_scope_is_forbidden() {
    let h = Harness::with(tokens(), |b, _| b.realm("api"));
    let a = h
        .authenticate(get("/items", &[("authorization", "Bearer good")]))
        .await
        .unwrap();
    assert!(a.require_scope("read").is_ok());
    assert!(a.require_scope("write read").is_ok());
    let forbidden = a.require_scope("read payments").unwrap_err();
    assert_eq!(forbidden.scope(), "read payments");
    let r = forbidden.to_response();
    assert_refusal(
        &r,
        StatusCode::FORBIDDEN,
        Some("insufficient_scope"),
        &[&format!(
            "Bearer realm=\"api\", error=\"insufficient_scope\", error_description=\"the access \
             token does not carry the scope this request needs\", scope=\"read payments\", {RM}"
        )],
    );
}

/// RFC 9470 §3: a login not strong or not recent enough is 401
/// `insufficient_user_authentication` with what the route needs.
#[tokio::test]
async fn step_up_is_asked_for_a_weaker_or_older_login() {
    let logged_in = NOW - 600;
    let tokens = Tokens::default()
        .valid(
            "mfa",
            claims_with("read", |c| {
                c["acr"] = json!("mfa");
                c["auth_time"] = json!(logged_in);
            }),
        )
        .valid("no-auth-time", claims("read"));
    let h = Harness::new(tokens);
    let auth = |t: &str| format!("Bearer {t}");
    let mfa = h
        .authenticate(get("/pay", &[("authorization", &auth("mfa"))]))
        .await
        .unwrap();
    assert!(mfa.require_authentication(&[], None).is_ok());
    assert!(mfa.require_authentication(&["pwd", "mfa"], None).is_ok());
    assert!(mfa
        .require_authentication(&["mfa"], Some(Duration::from_secs(600)))
        .is_ok());

    let step_up = |e: portcullis_resource::Unauthenticated, params: &str| {
        assert_eq!(e.error_code(), Some("insufficient_user_authentication"));
        assert_refusal(
            &e.to_response(),
            StatusCode::UNAUTHORIZED,
            Some("insufficient_user_authentication"),
            &[&format!(
                "Bearer error=\"insufficient_user_authentication\", error_description=\"a \
                 stronger or more recent authentication is required\", {params}{RM}"
            )],
        );
    };
    step_up(
        mfa.require_authentication(&["phr", "phrh"], None)
            .unwrap_err(),
        "acr_values=\"phr phrh\", ",
    );
    step_up(
        mfa.require_authentication(&[], Some(Duration::from_secs(599)))
            .unwrap_err(),
        "max_age=\"599\", ",
    );
    step_up(
        mfa.require_authentication(&["phr"], Some(Duration::from_secs(60)))
            .unwrap_err(),
        "acr_values=\"phr\", max_age=\"60\", ",
    );
    let unknown = h
        .authenticate(get("/pay", &[("authorization", &auth("no-auth-time"))]))
        .await
        .unwrap();
    step_up(
        unknown
            .require_authentication(&[], Some(Duration::from_secs(3600)))
            .unwrap_err(),
        "max_age=\"3600\", ",
    );
    step_up(
        unknown.require_authentication(&["mfa"], None).unwrap_err(),
        "acr_values=\"mfa\", ",
    );
}

/// RFC 9728 §2, §3: the metadata document from the configuration.
#[tokio::test]
async fn the_metadata_document_describes_the_configuration() {
    let issuer = Issuer::parse("https://as.example").unwrap();
    let h = Harness::with(tokens(), |b, replays| {
        b.authorization_server(&issuer)
            .scopes_supported(["read", "write"])
            .resource_name("Items API")
            .dpop(Default::default(), replays)
            .allow_form_body_token()
            .tls_client_certificate_bound_access_tokens()
    });
    assert_eq!(h.server.metadata_url(), METADATA_URL);
    assert!(h.server.is_metadata_path(WELL_KNOWN_PATH));
    let r = h.server.metadata().to_response();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    let json: Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(
        json,
        json!({
            "resource": "https://api.example",
            "authorization_servers": ["https://as.example"],
            "scopes_supported": ["read", "write"],
            "bearer_methods_supported": ["header", "body"],
            "resource_name": "Items API",
            "tls_client_certificate_bound_access_tokens": true,
            "dpop_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
            "dpop_bound_access_tokens_required": false,
        })
    );
}

/// RFC 9728 §3.1: a resource with a path publishes below the well-known path followed by it,
/// and challenges name that URL.
#[tokio::test]
async fn a_resource_with_a_path_publishes_at_the_suffixed_well_known_path() {
    let server = ResourceServer::builder("https://api.example/mcp", Arc::new(tokens()))
        .build()
        .unwrap();
    let url = "https://api.example/.well-known/oauth-protected-resource/mcp";
    assert_eq!(server.metadata_url(), url);
    assert!(server.is_metadata_path("/.well-known/oauth-protected-resource/mcp"));
    assert!(server.is_metadata_path(WELL_KNOWN_PATH));
    let (parts, ()) = get("/mcp", &[]).into_parts();
    let r = server
        .authenticate(&parts, None)
        .await
        .unwrap_err()
        .to_response();
    assert_eq!(
        challenges(&r),
        [format!("Bearer resource_metadata=\"{url}\"")]
    );
}

#[test]
fn the_builder_refuses_what_cannot_work() {
    for resource in ["http://api.example", "https://api.example?x=1", "api"] {
        assert_eq!(
            ResourceServer::builder(resource, Arc::new(tokens()))
                .build()
                .unwrap_err(),
            ResourceServerError::InvalidResource,
            "{resource}"
        );
    }
    assert_eq!(
        ResourceServer::builder(RESOURCE, Arc::new(tokens()))
            .require_dpop()
            .build()
            .unwrap_err(),
        ResourceServerError::NoScheme
    );
    let nonces = portcullis_core::DpopNonces::new(&[1; 32], Duration::from_secs(60));
    assert_eq!(
        ResourceServer::builder(RESOURCE, Arc::new(tokens()))
            .dpop_nonces(nonces)
            .build()
            .unwrap_err(),
        ResourceServerError::NoncesWithoutDpop
    );
}
