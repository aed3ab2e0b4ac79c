//! Dynamic client registration (RFC 7591) and management (RFC 7592) through the engine:
//! every refusal with its exact code and status, and the whole life of a registered client.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::registration_call as call;
use common::*;
use http::{Method, Request, Response, StatusCode};
use portcullis::core::{
    Client, ClientCertificateAuth, ClientMetadata, OAuthError, RegistrationError,
    RegistrationErrorCode, ScopeSet, TokenFormat, TokenHash,
};
use portcullis::store::{AccessTokenStore, ClientStore, GrantStore};
use portcullis::{RegistrationHook, RegistrationPolicy};
use portcullis_store_memory::MemoryStore;
use serde_json::{json, Value};

const IAT: &str = "initial-access-token-with-enough-entropy-0123456789";
const RP: &str = "https://rp.example/cb";

fn scopes() -> ScopeSet {
    ScopeSet::parse("openid profile read offline_access").unwrap()
}

async fn with(policy: RegistrationPolicy) -> Harness {
    Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.registration(policy)
    })
    .await
}

async fn open() -> Harness {
    with(RegistrationPolicy::open(scopes())).await
}

async fn register(h: &Harness, body: Value) -> (StatusCode, Value, Response<Bytes>) {
    call(h, Method::POST, "", None, Some(&body)).await
}

fn header<'a>(r: &'a Response<Bytes>, name: &str) -> &'a str {
    r.headers().get(name).map_or("", |v| v.to_str().unwrap())
}

/// `(status, error)`, and the no-store header every answer carries.
fn refusal(answer: &(StatusCode, Value, Response<Bytes>)) -> (u16, String) {
    let (status, json, resp) = answer;
    assert_eq!(header(resp, "cache-control"), "no-store");
    (status.as_u16(), error_of(json).to_owned())
}

#[tokio::test]
async fn closed_by_default_and_advertised_only_when_open() {
    let h = Harness::new().await;
    let (status, _, _) = register(&h, json!({"redirect_uris": [RP]})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let metadata: Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
    assert!(metadata.get("registration_endpoint").is_none());

    let h = open().await;
    let metadata: Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
    assert_eq!(
        metadata["registration_endpoint"],
        "https://as.example/register"
    );
}

#[tokio::test]
async fn every_refusal_has_its_code_and_status() {
    let h = open().await;
    for (body, code) in [
        (
            json!({"redirect_uris": ["http://rp.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"], "application_type": "native"}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://rp.example/cb#f"]}),
            "invalid_redirect_uri",
        ),
        (json!({}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": [RP], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [RP], "grant_types": ["implicit"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [RP], "response_types": []}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [RP], "scope": "admin"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [RP], "jwks_uri": "https://rp.example/j", "jwks": {"keys": []}}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [RP], "software_statement": "a.b.c"}),
            "invalid_software_statement",
        ),
        (json!([1, 2]), "invalid_client_metadata"),
    ] {
        let answer = register(&h, body.clone()).await;
        assert_eq!(refusal(&answer), (400, code.to_owned()), "{body}");
    }
    // Not JSON.
    let req = Request::post("/register")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from_static(b"redirect_uris=https://rp.example/cb"))
        .unwrap();
    let resp = h.provider.registration(req).await;
    let json: Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(
        (resp.status().as_u16(), error_of(&json)),
        (400, "invalid_request")
    );
    // Too deep, before serde sees it.
    let deep = format!(
        r#"{{"redirect_uris":["{RP}"],"x":{}{}}}"#,
        "[".repeat(64),
        "]".repeat(64)
    );
    let req = Request::post("/register")
        .header("content-type", "application/json")
        .body(Bytes::from(deep))
        .unwrap();
    let resp = h.provider.registration(req).await;
    let json: Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(
        (resp.status().as_u16(), error_of(&json)),
        (400, "invalid_client_metadata")
    );
    // Methods.
    let (status, _, resp) = call(&h, Method::GET, "", None, None).await;
    assert_eq!(
        (status, header(&resp, "allow")),
        (StatusCode::METHOD_NOT_ALLOWED, "POST")
    );
    let (status, _, resp) = call(&h, Method::POST, "?client_id=x", None, None).await;
    assert_eq!(
        (status, header(&resp, "allow")),
        (StatusCode::METHOD_NOT_ALLOWED, "GET, PUT, DELETE")
    );
    // Nothing was stored.
    assert_eq!(h.provider.purge_expired().await.unwrap(), 0);
}

/// RFC 7591 §3 with RFC 6750 §3.1: a missing initial access token is a bare challenge, a
/// wrong one `invalid_token`, both 401.
#[tokio::test]
async fn an_initial_access_token_is_required_when_configured() {
    let h = with(RegistrationPolicy::initial_access_tokens(
        scopes(),
        ["other-token", IAT],
    ))
    .await;
    let body = json!({"redirect_uris": [RP]});
    let missing = call(&h, Method::POST, "", None, Some(&body)).await;
    assert_eq!(refusal(&missing), (401, "invalid_token".into()));
    assert_eq!(
        header(&missing.2, "www-authenticate"),
        "Bearer realm=\"https://as.example\""
    );
    let wrong = call(&h, Method::POST, "", Some("nope"), Some(&body)).await;
    assert_eq!(refusal(&wrong), (401, "invalid_token".into()));
    assert_eq!(
        header(&wrong.2, "www-authenticate"),
        "Bearer realm=\"https://as.example\", error=\"invalid_token\""
    );
    let malformed = Request::post("/register")
        .header("authorization", "Bearer a b")
        .header("content-type", "application/json")
        .body(Bytes::from(body.to_string()))
        .unwrap();
    let resp = h.provider.registration(malformed).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let (status, json, _) = call(&h, Method::POST, "", Some(IAT), Some(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
}

/// The host's hook may refuse with its own code, or edit what is registered (checked
/// again after).
struct Hook;

#[portcullis::async_trait]
impl RegistrationHook for Hook {
    async fn review(
        &self,
        request: &Request<Bytes>,
        client_id: Option<&str>,
        metadata: &mut ClientMetadata,
    ) -> Result<(), RegistrationError> {
        assert_eq!(request.uri().path(), "/register");
        match metadata.client_name.as_deref() {
            Some("refuse") => Err(OAuthError::new(
                RegistrationErrorCode::UnapprovedSoftwareStatement,
                "not approved",
            )),
            Some("break") => {
                metadata.scope = ScopeSet::parse("admin").unwrap();
                Ok(())
            }
            _ => {
                metadata.client_name = Some(format!("reviewed {client_id:?}"));
                metadata.scope = ScopeSet::parse("read").unwrap();
                Ok(())
            }
        }
    }
}

#[tokio::test]
async fn the_hook_refuses_or_edits() {
    let h = with(RegistrationPolicy::open(scopes()).hook(Arc::new(Hook))).await;
    let refused = register(&h, json!({"redirect_uris": [RP], "client_name": "refuse"})).await;
    assert_eq!(
        refusal(&refused),
        (400, "unapproved_software_statement".into())
    );
    let broken = register(&h, json!({"redirect_uris": [RP], "client_name": "break"})).await;
    assert_eq!(refusal(&broken), (400, "invalid_client_metadata".into()));
    let (status, json, _) = register(&h, json!({"redirect_uris": [RP]})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(json["client_name"], "reviewed None");
    assert_eq!(json["scope"], "read");
    let client = h
        .provider
        .client(json["client_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(client.allowed_scopes.as_str(), "read");
}

/// Register → code flow and client_credentials with the registered client → read → update
/// (token rotated) → delete → every token dead, the client gone.
#[tokio::test]
async fn the_life_of_a_registered_client() {
    let h = open().await;
    let (status, reg, resp) = register(
        &h,
        json!({"redirect_uris": [RP], "client_name": "RP",
               "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
               "scope": "openid read offline_access", "contacts": ["ops@rp.example"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    assert_eq!(header(&resp, "cache-control"), "no-store");
    let id = reg["client_id"].as_str().unwrap().to_owned();
    let secret = reg["client_secret"].as_str().unwrap().to_owned();
    let token = reg["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(id.len() >= 22 && secret.len() >= 43 && token.len() >= 43);
    assert_eq!(reg["client_secret_expires_at"], 0);
    assert_eq!(reg["client_id_issued_at"], T0);
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(reg["response_types"], json!(["code"]));
    assert_eq!(reg["contacts"], json!(["ops@rp.example"]));
    let uri = format!("https://as.example/register?client_id={id}");
    assert_eq!(reg["registration_client_uri"], uri);
    let query = format!("?client_id={id}");
    // Only hashes are stored.
    let stored = serde_json::to_string(&*h.provider.client(&id).await.unwrap().unwrap()).unwrap();
    assert!(!stored.contains(&secret) && !stored.contains(&token));

    // The code flow and client_credentials with the registered client.
    let code = h
        .code_for(&id, RP, "openid read offline_access", "alice")
        .await;
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        enc(RP)
    );
    let (status, tokens, _) = h.token(&body, Some((&id, &secret))).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, service, _) = h
        .token(
            "grant_type=client_credentials&scope=read",
            Some((&id, &secret)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{service}");
    let service_token = service["access_token"].as_str().unwrap().to_owned();
    let introspect = |t: String| {
        let (h, id, secret) = (&h, id.clone(), secret.clone());
        async move {
            let (_, json, _) = h
                .post(
                    Endpoint::Introspect,
                    &format!("token={t}"),
                    Some((&id, &secret)),
                )
                .await;
            json["active"].clone()
        }
    };
    assert_eq!(introspect(service_token.clone()).await, true);

    // Read: the metadata, no secret, no token (only their hashes are kept).
    let (status, read, _) = call(&h, Method::GET, &query, Some(&token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["client_name"], "RP");
    assert!(read.get("client_secret").is_none() && read.get("registration_access_token").is_none());
    assert_eq!(read["client_secret_expires_at"], 0);

    // Another's token, a wrong token, no token, an unknown client: 401.
    let (_, other, _) = register(&h, json!({"redirect_uris": [RP]})).await;
    let other_token = other["registration_access_token"].as_str().unwrap();
    for (q, t) in [
        (query.as_str(), Some(other_token)),
        (query.as_str(), Some("wrong")),
        ("?client_id=web", Some(token.as_str())),
        ("?client_id=nobody", Some(token.as_str())),
    ] {
        let answer = call(&h, Method::GET, q, t, None).await;
        assert_eq!(refusal(&answer), (401, "invalid_token".into()), "{q}");
        assert!(header(&answer.2, "www-authenticate").contains("error=\"invalid_token\""));
    }
    let bare = call(&h, Method::DELETE, &query, None, None).await;
    assert_eq!(refusal(&bare), (401, "invalid_token".into()));
    assert_eq!(
        header(&bare.2, "www-authenticate"),
        "Bearer realm=\"https://as.example\""
    );

    // Update: full replacement, client_id required and its own, the secret kept, the
    // registration access token rotated.
    let update = json!({"client_id": id, "redirect_uris": [RP, "https://rp.example/cb2"],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "scope": "openid read offline_access", "client_name": "RP 2"});
    let mut wrong_id = update.clone();
    wrong_id["client_id"] = json!("web");
    for body in [json!({"redirect_uris": [RP]}), wrong_id] {
        let answer = call(&h, Method::PUT, &query, Some(&token), Some(&body)).await;
        assert_eq!(
            refusal(&answer),
            (400, "invalid_client_metadata".into()),
            "{body}"
        );
    }
    let mut wrong_secret = update.clone();
    wrong_secret["client_secret"] = json!("not-the-secret");
    let answer = call(&h, Method::PUT, &query, Some(&token), Some(&wrong_secret)).await;
    assert_eq!(refusal(&answer), (400, "invalid_client_metadata".into()));
    let bad_uri = json!({"client_id": id, "redirect_uris": ["http://rp.example/"]});
    let answer = call(&h, Method::PUT, &query, Some(&token), Some(&bad_uri)).await;
    assert_eq!(refusal(&answer), (400, "invalid_redirect_uri".into()));
    let mut with_secret = update.clone();
    with_secret["client_secret"] = json!(secret);
    let (status, updated, _) =
        call(&h, Method::PUT, &query, Some(&token), Some(&with_secret)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["client_name"], "RP 2");
    assert_eq!(updated["redirect_uris"].as_array().unwrap().len(), 2);
    assert!(updated.get("client_secret").is_none(), "the secret is kept");
    assert_eq!(updated["client_id_issued_at"], T0);
    let new_token = updated["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_token, token);
    let stale = call(&h, Method::GET, &query, Some(&token), None).await;
    assert_eq!(refusal(&stale), (401, "invalid_token".into()));
    let (_, still, _) = h
        .token(
            "grant_type=client_credentials&scope=read",
            Some((&id, &secret)),
        )
        .await;
    assert!(
        still["access_token"].is_string(),
        "the kept secret still works"
    );

    // Delete: 204, the client gone, its grants revoked, every token dead.
    let grant_id = h
        .store
        .grants_for(&h.provider.issuer().clone(), "alice", &id)
        .await
        .unwrap()[0]
        .id
        .clone();
    let (status, _, resp) = call(&h, Method::DELETE, &query, Some(&new_token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(resp.body().is_empty());
    assert!(h.provider.client(&id).await.unwrap().is_none());
    let issuer = h.provider.issuer().clone();
    assert!(
        h.store
            .find_grant(&issuer, &grant_id)
            .await
            .unwrap()
            .unwrap()
            .revoked
    );
    let found = h
        .store
        .find_access_token(&issuer, &TokenHash::of(&access))
        .await
        .unwrap();
    assert!(found.is_none(), "the code flow's access token is dead");
    let (status, json, _) = h
        .token(
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
            Some((&id, &secret)),
        )
        .await;
    assert_eq!((status.as_u16(), error_of(&json)), (401, "invalid_client"));
    // client_credentials tokens: introspected by a designated introspector, inactive.
    let (_, json, _) = h
        .post(
            Endpoint::Introspect,
            &format!("token={service_token}"),
            Some(("service", SECRET)),
        )
        .await;
    assert_eq!(json["active"], false);
    let gone = call(&h, Method::GET, &query, Some(&new_token), None).await;
    assert_eq!(refusal(&gone), (401, "invalid_token".into()));
    assert!(!h.provider.remove_client(&id).await.unwrap());
}

/// A public client (native app) and a switch of method on update: a secret only when the
/// client becomes confidential, and a new one on every update when the policy says so.
#[tokio::test]
async fn public_clients_and_secret_rotation() {
    let h = with(RegistrationPolicy::open(scopes()).rotate_secret_on_update(true)).await;
    let (status, reg, _) = register(
        &h,
        json!({"redirect_uris": ["http://127.0.0.1/cb", "com.example.app:/cb"],
               "application_type": "native", "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    assert!(reg.get("client_secret").is_none() && reg.get("client_secret_expires_at").is_none());
    let id = reg["client_id"].as_str().unwrap();
    assert!(h.provider.client(id).await.unwrap().unwrap().is_public());
    let query = format!("?client_id={id}");
    let token = reg["registration_access_token"].as_str().unwrap();
    let to_confidential = json!({"client_id": id, "redirect_uris": [RP]});
    let (status, updated, _) =
        call(&h, Method::PUT, &query, Some(token), Some(&to_confidential)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let first = updated["client_secret"].as_str().unwrap().to_owned();
    let token = updated["registration_access_token"].as_str().unwrap();
    let (_, again, _) = call(&h, Method::PUT, &query, Some(token), Some(&to_confidential)).await;
    let second = again["client_secret"].as_str().unwrap();
    assert_ne!(first, second, "rotated on update");
    let (status, _, _) = h
        .token("grant_type=client_credentials", Some((id, &first)))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old secret is dead");
}

/// RFC 9449 §5.2, RFC 8705 §3.4: `dpop_bound_access_tokens` and
/// `tls_client_certificate_bound_access_tokens` are registered, echoed, read and updated as
/// the client's token flags; certificate binding only where client certificates arrive.
#[tokio::test]
async fn token_binding_metadata() {
    let bound = json!({"redirect_uris": [RP], "dpop_bound_access_tokens": true,
                       "tls_client_certificate_bound_access_tokens": true});
    let answer = register(&open().await, bound.clone()).await;
    assert_eq!(refusal(&answer), (400, "invalid_client_metadata".into()));

    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.registration(RegistrationPolicy::open(scopes()))
            .client_certificate_auth(ClientCertificateAuth::SelfSigned)
    })
    .await;
    let (status, reg, _) = register(&h, bound).await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    assert_eq!(reg["dpop_bound_access_tokens"], true);
    assert_eq!(reg["tls_client_certificate_bound_access_tokens"], true);
    let id = reg["client_id"].as_str().unwrap().to_owned();
    let tokens = |c: &Client| {
        (
            c.tokens.dpop_bound_access_tokens,
            c.tokens.tls_client_certificate_bound_access_tokens,
        )
    };
    let stored = h.provider.client(&id).await.unwrap().unwrap();
    assert_eq!(tokens(&stored), (true, true));

    // The host's own token settings survive an update; the flags are the update's.
    let mut edited = (*stored).clone();
    edited.tokens.access_token_format = TokenFormat::Jwt;
    h.store
        .save_client(h.provider.issuer(), &edited)
        .await
        .unwrap();
    let query = format!("?client_id={id}");
    let token = reg["registration_access_token"].as_str().unwrap();
    let (status, read, _) = call(&h, Method::GET, &query, Some(token), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["dpop_bound_access_tokens"], true);
    let update = json!({"client_id": id, "redirect_uris": [RP],
                        "tls_client_certificate_bound_access_tokens": true});
    let (status, updated, _) = call(&h, Method::PUT, &query, Some(token), Some(&update)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["dpop_bound_access_tokens"], false);
    assert_eq!(updated["tls_client_certificate_bound_access_tokens"], true);
    let stored = h.provider.client(&id).await.unwrap().unwrap();
    assert_eq!(tokens(&stored), (false, true));
    assert_eq!(stored.tokens.access_token_format, TokenFormat::Jwt);
}

/// The `dangerous_` implicit and password policies open those flows to the clients the host
/// registers, never to a client that registers itself (RFC 9700 §2.1.2, §2.4).
#[tokio::test]
async fn legacy_flows_are_never_self_registered() {
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        let mut policy = portcullis::core::Policy::default();
        policy.dangerous_allow_implicit = true;
        policy.dangerous_allow_password_grant = true;
        b.policy(policy)
            .registration(RegistrationPolicy::open(scopes()))
    })
    .await;
    for body in [
        json!({"redirect_uris": [RP], "response_types": ["code", "id_token token"]}),
        json!({"redirect_uris": [RP], "grant_types": ["password"],
               "token_endpoint_auth_method": "client_secret_basic"}),
    ] {
        let answer = register(&h, body.clone()).await;
        assert_eq!(
            refusal(&answer),
            (400, "invalid_client_metadata".into()),
            "{body}"
        );
    }
    let (status, reg, _) = register(&h, json!({"redirect_uris": [RP]})).await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
}
