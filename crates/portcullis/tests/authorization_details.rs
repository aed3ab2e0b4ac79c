//! Rich authorization requests (RFC 9396): `authorization_details` at the authorization
//! endpoint (§5), on the consent page, in the code, the tokens (§7, §9.1, §9.2), narrowed at
//! the token endpoint (§6) and asked for with client credentials, of the types registered for
//! grants without a user (§6.3); discovery and registration (§10).

mod common;

use std::sync::Arc;

use common::*;
use http::{Method, StatusCode};
use portcullis::core::{AuthorizationDetail, Policy, TokenFormat};
use portcullis::{Approval, Clock, RegistrationPolicy};
use portcullis_store_memory::MemoryStore;
use portcullis_testkit::{sample_authorization_details_types, AcceptAll};
use serde_json::{json, Value};

const WEB: Option<(&str, &str)> = Some(("web", SECRET));
const SERVICE: Option<(&str, &str)> = Some(("service", SECRET));

/// A type granted without a user too (RFC 9396 §6.3): a service's own report export.
const REPORTS: &str = "report_export";

fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.authorization_details =
        sample_authorization_details_types().with_grant_without_user(REPORTS, AcceptAll);
    policy
}

/// The harness with the sample types registered and [`REPORTS`], the web client issuing JWT
/// access tokens, a `payments` client (the web client's twin) limited to
/// `payment_initiation`, and the service limited to `account_information` and [`REPORTS`].
async fn harness() -> Harness {
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.policy(policy())
            .registration(RegistrationPolicy::open(scopes("read")))
    })
    .await;
    let mut web = web_client();
    web.tokens.access_token_format = TokenFormat::Jwt;
    h.provider.register_client(&web).await.unwrap();
    let mut payments = web_client();
    payments.id = "payments".into();
    payments.tokens.authorization_details_types = Some(["payment_initiation".to_owned()].into());
    h.provider.register_client(&payments).await.unwrap();
    let mut service = service_client();
    service.tokens.authorization_details_types =
        Some(["account_information".to_owned(), REPORTS.to_owned()].into());
    h.provider.register_client(&service).await.unwrap();
    h
}

fn scopes(s: &str) -> portcullis::core::ScopeSet {
    portcullis::core::ScopeSet::parse(s).unwrap()
}

fn payment(amount: &str) -> Value {
    json!({"type": "payment_initiation", "actions": ["initiate"],
        "instructedAmount": {"currency": "EUR", "amount": amount},
        "creditorName": "Merchant A"})
}

fn accounts() -> Value {
    json!({"type": "account_information", "actions": ["read"],
        "locations": ["https://bank.example/accounts"]})
}

fn query(client_id: &str, details: &Value) -> String {
    format!(
        "response_type=code&client_id={client_id}&redirect_uri={}&scope=read&state=st&code_challenge={}&code_challenge_method=S256&authorization_details={}",
        enc(WEB_REDIRECT),
        challenge(VERIFIER),
        enc(&details.to_string())
    )
}

/// Alice approves what `client_id` asked for (`approved`: a subset, or all); the code.
async fn code(h: &Harness, client_id: &str, details: &Value, approved: Option<Value>) -> String {
    let pending = h.pending(&query(client_id, details)).await;
    let asked: Vec<AuthorizationDetail> = serde_json::from_value(details.clone()).unwrap();
    assert_eq!(pending.authorization_details(), asked);
    assert!(
        h.provider.needs_consent(&pending, "alice").await.unwrap(),
        "details always ask"
    );
    let mut approval = Approval::new("alice", h.clock.now(), scopes("read"));
    if let Some(a) = approved {
        approval = approval.with_authorization_details(serde_json::from_value(a).unwrap());
    }
    let r = h.provider.approve(pending, approval).await;
    query_param(location(&r).as_str(), "code").expect("a code")
}

async fn exchange(h: &Harness, client_id: &str, code: &str, extra: &str) -> (StatusCode, Value) {
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}{extra}",
        enc(WEB_REDIRECT)
    );
    let (s, j, r) = h.token(&body, Some((client_id, SECRET))).await;
    assert_eq!(r.headers()["cache-control"], "no-store");
    (s, j)
}

fn param(details: &Value) -> String {
    format!("&authorization_details={}", enc(&details.to_string()))
}

/// `(status, error)` of a refused token request.
fn refusal(answer: &(StatusCode, Value)) -> (StatusCode, &str) {
    (answer.0, error_of(&answer.1))
}

const REFUSED: (StatusCode, &str) = (StatusCode::BAD_REQUEST, "invalid_authorization_details");

#[tokio::test]
async fn bad_details_are_redirected_as_invalid_authorization_details() {
    let h = harness().await;
    for (client_id, details, description) in [
        (
            "web",
            json!([{"type": "unknown"}]),
            "authorization_details has an unknown type",
        ),
        (
            "web",
            json!({"type": "account_information"}),
            "authorization_details must be a JSON array",
        ),
        ("web", json!([]), "authorization_details is empty"),
        (
            "web",
            json!([{"type": "account_information", "actions": "read"}]),
            "a common member has the wrong type",
        ),
        (
            "web",
            json!([{"type": "payment_initiation"}]),
            "authorization_details refused: creditorName is required",
        ),
        (
            "payments",
            json!([accounts()]),
            "authorization_details has a type this client may not use",
        ),
    ] {
        let r = h.respond(&query(client_id, &details)).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let url = location(&r);
        assert!(url.as_str().starts_with(WEB_REDIRECT), "{url}");
        let q = |name| query_param(url.as_str(), name);
        assert_eq!(
            q("error").as_deref(),
            Some("invalid_authorization_details"),
            "{details}"
        );
        assert_eq!(q("error_description").as_deref(), Some(description));
        assert_eq!(
            (q("state").as_deref(), q("iss").as_deref()),
            (Some("st"), Some(ISSUER))
        );
        assert_eq!(q("code"), None);
    }
    // Without a registry, every type is unknown.
    let plain = Harness::new().await;
    let r = plain.respond(&query("web", &json!([accounts()]))).await;
    assert_eq!(
        query_param(location(&r).as_str(), "error").as_deref(),
        Some("invalid_authorization_details")
    );
}

/// §7, §9.1, §9.2: the token response, the JWT's claim and introspection all carry the
/// approved details; §6.1 narrows at the code exchange.
#[tokio::test]
async fn approved_details_reach_the_tokens_and_narrow_at_the_code_exchange() {
    let h = harness().await;
    let asked = json!([payment("100.00"), accounts()]);
    let (status, tokens) = exchange(&h, "web", &code(&h, "web", &asked, None).await, "").await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["authorization_details"], asked);
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(&h, at).await["authorization_details"], asked);
    assert_eq!(
        introspect(&h, at, WEB).await["authorization_details"],
        asked
    );
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(
        introspect(&h, rt, WEB).await["authorization_details"],
        asked
    );

    // Narrowed at the exchange: a smaller payment only.
    let narrower = json!([payment("40.00")]);
    let c = code(&h, "web", &asked, None).await;
    let (status, tokens) = exchange(&h, "web", &c, &param(&narrower)).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["authorization_details"], narrower);
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(&h, at).await["authorization_details"], narrower);
    // The refresh token keeps the whole grant.
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(
        introspect(&h, rt, WEB).await["authorization_details"],
        asked
    );

    for wider in [
        json!([payment("100.01")]),
        json!([{"type": "account_information", "actions": ["read", "write"]}]),
    ] {
        let c = code(&h, "web", &asked, None).await;
        assert_eq!(
            refusal(&exchange(&h, "web", &c, &param(&wider)).await),
            REFUSED,
            "{wider}"
        );
    }
    let c = code(&h, "web", &asked, None).await;
    let malformed = exchange(&h, "web", &c, "&authorization_details=%5B1%5D").await;
    assert_eq!(refusal(&malformed), REFUSED);
    assert_eq!(
        malformed.1["error_description"],
        "each element must be an object"
    );
    // A code without details has none to narrow to, and its tokens carry none.
    let plain = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
    let (status, tokens) = exchange(&h, "web", &plain, "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(tokens.get("authorization_details").is_none(), "{tokens}");
    let at = tokens["access_token"].as_str().unwrap();
    assert!(jwt_claims(&h, at)
        .await
        .get("authorization_details")
        .is_none());
    let plain = h.code_for("web", WEB_REDIRECT, "read", "alice").await;
    assert_eq!(
        refusal(&exchange(&h, "web", &plain, &param(&json!([accounts()]))).await),
        REFUSED
    );
}

/// A first-party client skips consent, except for authorization details: each is a
/// transaction the user must see (RFC 9396 §12).
#[tokio::test]
async fn details_ask_the_user_even_for_a_first_party_client() {
    let h = harness().await;
    let mut first = web_client();
    first.id = "first".into();
    first.first_party = true;
    h.provider.register_client(&first).await.unwrap();
    let plain = h
        .pending(
            &query("first", &json!([accounts()])).replace("&authorization_details=", "&ignored="),
        )
        .await;
    assert!(!h.provider.needs_consent(&plain, "alice").await.unwrap());
    let pending = h.pending(&query("first", &json!([accounts()]))).await;
    assert!(h.provider.needs_consent(&pending, "alice").await.unwrap());
}

/// The host may approve a subset (a lower amount); what it approves beyond the request is
/// dropped.
#[tokio::test]
async fn consent_approves_at_most_what_was_asked() {
    let h = harness().await;
    let asked = json!([payment("100.00"), accounts()]);
    let approved = json!([payment("60.00"), payment("500.00"),
        {"type": "account_information", "actions": ["write"]}]);
    let c = code(&h, "web", &asked, Some(approved)).await;
    let (status, tokens) = exchange(&h, "web", &c, "").await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["authorization_details"], json!([payment("60.00")]));
    // Nothing approved: no details at all, and none to ask for at the exchange.
    let c = code(&h, "web", &asked, Some(json!([]))).await;
    let (status, tokens) = exchange(&h, "web", &c, "").await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(tokens.get("authorization_details").is_none(), "{tokens}");
}

/// §6.2: a refresh gets all the grant's details, or a subset it asks for, never more.
#[tokio::test]
async fn a_refresh_narrows_but_never_widens() {
    let h = harness().await;
    let asked = json!([payment("100.00"), accounts()]);
    let (_, tokens) = exchange(
        &h,
        "payments",
        &code(&h, "payments", &json!([payment("100.00")]), None).await,
        "",
    )
    .await;
    assert_eq!(tokens["authorization_details"], json!([payment("100.00")]));
    let (_, tokens) = exchange(&h, "web", &code(&h, "web", &asked, None).await, "").await;
    let mut rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refresh =
        |rt: &str, extra: &str| format!("grant_type=refresh_token&refresh_token={rt}{extra}");
    let (status, body, _) = h.token(&refresh(&rt, ""), WEB).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["authorization_details"], asked);
    if let Some(next) = body["refresh_token"].as_str() {
        rt = next.to_owned();
    }
    let only_accounts = json!([accounts()]);
    let (status, body, _) = h.token(&refresh(&rt, &param(&only_accounts)), WEB).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["authorization_details"], only_accounts);
    let at = body["access_token"].as_str().unwrap();
    assert_eq!(
        jwt_claims(&h, at).await["authorization_details"],
        only_accounts
    );
    assert_eq!(
        introspect(&h, at, WEB).await["authorization_details"],
        only_accounts
    );
    if let Some(next) = body["refresh_token"].as_str() {
        rt = next.to_owned();
    }
    for wider in [
        json!([payment("100.50")]),
        json!([accounts(), {"type": "unknown"}]),
    ] {
        let (status, body, resp) = h.token(&refresh(&rt, &param(&wider)), WEB).await;
        assert_eq!((status, error_of(&body)), REFUSED, "{wider}");
        assert_eq!(resp.headers()["cache-control"], "no-store");
    }
    // The refused attempts did not spend the token, nor narrow the grant.
    let (status, body, _) = h.token(&refresh(&rt, ""), WEB).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["authorization_details"], asked);
}

/// §6.3: with client credentials, the details asked for are validated as at the
/// authorization endpoint and carried by the token — only of types the host registered for
/// grants without a user; any other is `invalid_authorization_details` (400).
#[tokio::test]
async fn client_credentials_carry_validated_details() {
    let h = harness().await;
    let details = json!([{"type": REPORTS, "actions": ["export"]}]);
    let (status, body, _) = h
        .token(
            &format!(
                "grant_type=client_credentials&scope=read{}",
                param(&details)
            ),
            SERVICE,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["authorization_details"], details);
    let at = body["access_token"].as_str().unwrap();
    let seen = introspect(&h, at, SERVICE).await;
    assert_eq!(seen["authorization_details"], details);
    let (status, body, _) = h
        .token("grant_type=client_credentials&scope=read", SERVICE)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("authorization_details").is_none());
    let needs_user = "authorization_details has a type that needs a user's approval";
    for (bad, description) in [
        (json!([accounts()]), needs_user),
        (json!([{"type": REPORTS}, accounts()]), needs_user),
        (
            json!([payment("1.00")]),
            "authorization_details has a type this client may not use",
        ),
        (
            json!([{"type": "unknown"}]),
            "authorization_details has an unknown type",
        ),
        (json!("x"), "authorization_details must be a JSON array"),
    ] {
        let (status, body, _) = h
            .token(
                &format!("grant_type=client_credentials{}", param(&bad)),
                SERVICE,
            )
            .await;
        assert_eq!((status, error_of(&body)), REFUSED, "{bad}");
        assert_eq!(body["error_description"], description);
    }
    // A type that needs a user is still granted through the user's consent.
    let code = code(&h, "web", &json!([accounts()]), None).await;
    let (status, body) = exchange(&h, "web", &code, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["authorization_details"], json!([accounts()]));
}

/// §10: discovery lists the registered types, whether or not they need a user (and nothing
/// without them); registration
/// accepts and echoes `authorization_details_types` of registered types only.
#[tokio::test]
async fn discovery_and_registration_name_the_registered_types() {
    let h = harness().await;
    let d: Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
    assert_eq!(
        d["authorization_details_types_supported"],
        json!(["account_information", "payment_initiation", REPORTS])
    );
    let plain: Value =
        serde_json::from_slice(Harness::new().await.provider.discovery().body()).unwrap();
    assert!(plain.get("authorization_details_types_supported").is_none());

    let body = json!({"redirect_uris": [WEB_REDIRECT], "authorization_details_types": ["payment_initiation"]});
    let (status, registered, _) = registration_call(&h, Method::POST, "", None, Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    assert_eq!(
        registered["authorization_details_types"],
        json!(["payment_initiation"])
    );
    // The registered client may ask for that type only.
    let client_id = registered["client_id"].as_str().unwrap();
    let q = query(client_id, &json!([accounts()]));
    let r = h.respond(&q).await;
    assert_eq!(
        query_param(location(&r).as_str(), "error").as_deref(),
        Some("invalid_authorization_details")
    );
    let body = json!({"redirect_uris": [WEB_REDIRECT], "authorization_details_types": ["unknown"]});
    let (status, refused, _) = registration_call(&h, Method::POST, "", None, Some(&body)).await;
    assert_eq!(
        (status, error_of(&refused)),
        (StatusCode::BAD_REQUEST, "invalid_client_metadata")
    );
    assert_eq!(
        refused["error_description"],
        "authorization_details_types: unknown is not supported"
    );
}
