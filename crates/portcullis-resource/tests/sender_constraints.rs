//! Sender-constrained tokens at the resource server: DPoP-bound tokens need the `DPoP` scheme
//! and a proof of their key for this request and token (RFC 9449 §4.3, §7.1, §7.2), spent
//! once (§11.1), with the server's nonce when it has nonces (§9); certificate-bound tokens
//! need their TLS client certificate (RFC 8705 §3). Proofs are made here with an ES256 key,
//! `iat` from the injected clock.

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::*;
use http::{Request, StatusCode};
use portcullis_core::{
    certificate_thumbprint, CertificateChain, ClientCertificate, DpopNonces, DpopPolicy, Issuer,
    TokenHash, TokenScheme, UnixTime,
};
use portcullis_resource::Clock;
use portcullis_store::{ReplayCache, ReplayNamespace, ReplayOutcome, StoreError, StoreResult};
use serde_json::json;

const RM: &str = "resource_metadata=\"https://api.example/.well-known/oauth-protected-resource\"";
const ALGS: &str = "algs=\"RS256 PS256 ES256 EdDSA\"";

/// `GET /items` with the `DPoP` scheme, `token` and `proof`.
fn dpop_request(token: &str, proof: &str) -> Request<()> {
    get(
        "/items",
        &[("authorization", &format!("DPoP {token}")), ("dpop", proof)],
    )
}

/// A harness accepting both schemes, with a token `bound` to `holder`'s key and a bearer
/// token `plain`.
fn dpop_harness(holder: &Holder) -> Harness {
    let jkt = holder.jkt();
    let tokens = Tokens::default()
        .valid(
            "bound",
            claims_with("read", |c| c["cnf"] = json!({"jkt": jkt})),
        )
        .valid("plain", claims("read"));
    Harness::with(tokens, |b, replays| b.dpop(DpopPolicy::default(), replays))
}

fn dpop_challenge(error: &str, description: &str) -> String {
    format!("DPoP error=\"{error}\", error_description=\"{description}\", {ALGS}, {RM}")
}

/// The challenges of a server accepting both schemes when the error is the DPoP scheme's
/// (RFC 9449 §7.2, Figure 18): a bare `Bearer` one, then the `DPoP` one with the error.
fn both(error: &str, description: &str) -> [String; 2] {
    [format!("Bearer {RM}"), dpop_challenge(error, description)]
}

#[tokio::test]
async fn a_dpop_bound_token_with_its_proof_is_accepted_and_the_jti_spent_once() {
    let holder = Holder::new();
    let h = dpop_harness(&holder);
    let now = h.clock.now();
    let a = h
        .authenticate(dpop_request("bound", &holder.proof(now, "bound")))
        .await
        .unwrap();
    assert_eq!(a.scheme(), TokenScheme::Dpop);
    assert_eq!(h.replays.calls(), 1);
    // RFC 9449 §4.3 item 9: htu is compared without the query.
    let proof = holder.proof(now, "bound");
    let with_query = get(
        "/items?page=2",
        &[("authorization", "DPoP bound"), ("dpop", &proof)],
    );
    assert!(h.authenticate(with_query).await.is_ok());
    assert_eq!(h.replays.calls(), 2);
}

/// RFC 9449 §11.1: the same proof twice — the second is refused.
#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let holder = Holder::new();
    let h = dpop_harness(&holder);
    let proof = holder.proof(h.clock.now(), "bound");
    assert!(h.authenticate(dpop_request("bound", &proof)).await.is_ok());
    let r = h.refused(dpop_request("bound", &proof)).await;
    assert_refusal(
        &r,
        StatusCode::UNAUTHORIZED,
        Some("invalid_dpop_proof"),
        &both("invalid_dpop_proof", "the DPoP proof was used before"),
    );
    assert_eq!(h.replays.calls(), 2, "one replay-cache call per request");
}

/// RFC 9449 §4.3: a proof for another method, URI or token, or none, is `invalid_dpop_proof`
/// (401, `DPoP` challenge), before the replay cache is asked.
#[tokio::test]
async fn a_proof_for_another_request_or_token_is_invalid_dpop_proof() {
    let holder = Holder::new();
    let h = dpop_harness(&holder);
    let now = h.clock.now();
    let cases = [
        (
            dpop_request(
                "bound",
                &holder.proof_with(now, "bound", |c| c["htm"] = json!("POST")),
            ),
            "the DPoP proof's htm does not match the request",
        ),
        (
            dpop_request(
                "bound",
                &holder.proof_with(now, "bound", |c| {
                    c["htu"] = json!("https://api.example/other")
                }),
            ),
            "the DPoP proof's htu does not match the request",
        ),
        (
            dpop_request("bound", &holder.proof(now, "another-token")),
            "the DPoP proof's ath does not match the access token",
        ),
        (
            dpop_request(
                "bound",
                &holder.proof_with(now, "bound", |c| c["iat"] = json!(now.secs() - 120)),
            ),
            "the DPoP proof's iat is missing or outside the accepted window",
        ),
        (
            get("/items", &[("authorization", "DPoP bound")]),
            "the DPoP scheme needs a DPoP proof",
        ),
        (
            get(
                "/items",
                &[
                    ("authorization", "DPoP bound"),
                    ("dpop", &holder.proof(now, "bound")),
                    ("dpop", &holder.proof(now, "bound")),
                ],
            ),
            "more than one DPoP header",
        ),
        (
            // htu is the configured resource's origin, never the request's Host.
            get(
                "/items",
                &[
                    ("host", "evil.example"),
                    ("authorization", "DPoP bound"),
                    (
                        "dpop",
                        &holder.proof_with(now, "bound", |c| {
                            c["htu"] = json!("https://evil.example/items")
                        }),
                    ),
                ],
            ),
            "the DPoP proof's htu does not match the request",
        ),
        (
            dpop_request("bound", "not.a.jwt"),
            "the DPoP proof is not a well-formed JWT",
        ),
    ];
    h.assert_each_refused(cases, StatusCode::UNAUTHORIZED, "invalid_dpop_proof", |d| {
        both("invalid_dpop_proof", d).to_vec()
    })
    .await;
    assert_eq!(h.replays.calls(), 0);
}

/// RFC 9449 §7.2: a DPoP-bound token sent as a bearer token is refused, challenged with DPoP;
/// §7.1: the DPoP scheme with a token bound to no key, or to another key, is refused.
#[tokio::test]
async fn the_scheme_must_match_the_binding() {
    let holder = Holder::new();
    let h = dpop_harness(&holder);
    let now = h.clock.now();
    let thief = Holder::new();
    let cases = [
        (
            get(
                "/items",
                &[
                    ("authorization", "Bearer bound"),
                    ("dpop", &holder.proof(now, "bound")),
                ],
            ),
            "the access token is DPoP-bound: present it with the DPoP scheme and a proof",
        ),
        (
            dpop_request("plain", &holder.proof(now, "plain")),
            "the access token is not DPoP-bound: present it with the Bearer scheme",
        ),
        (
            dpop_request("bound", &thief.proof(now, "bound")),
            "the DPoP proof's key is not the one the access token is bound to",
        ),
    ];
    h.assert_each_refused(cases, StatusCode::UNAUTHORIZED, "invalid_token", |d| {
        both("invalid_token", d).to_vec()
    })
    .await;
    assert_eq!(h.replays.calls(), 0);
    let a = h
        .authenticate(get("/items", &[("authorization", "Bearer plain")]))
        .await
        .unwrap();
    assert_eq!(a.scheme(), TokenScheme::Bearer);
    // A valid token refused afterwards (a gateway's rule, say) is challenged like any
    // refusal: the error in its scheme, every accepted scheme offered, `algs` included.
    let refused = a.invalid_token("the token names no subject");
    assert_eq!(refused.error_code(), Some("invalid_token"));
    assert_refusal(
        &refused.to_response(),
        StatusCode::UNAUTHORIZED,
        Some("invalid_token"),
        &[
            format!(
                "Bearer error=\"invalid_token\", error_description=\"the token names no \
                 subject\", {RM}"
            ),
            format!("DPoP {ALGS}, {RM}"),
        ],
    );
}

/// RFC 9449 §7.1: with both schemes accepted, a request without a token gets both
/// challenges, the DPoP one with `algs`; a bearer-only server refuses the DPoP scheme.
#[tokio::test]
async fn challenges_name_the_schemes_accepted() {
    let holder = Holder::new();
    let h = dpop_harness(&holder);
    let r = h.refused(get("/items", &[])).await;
    assert_refusal(
        &r,
        StatusCode::UNAUTHORIZED,
        None,
        &[&format!("Bearer {RM}"), &format!("DPoP {ALGS}, {RM}")],
    );

    // RFC 9449 §7.2, Figure 19: an ambiguous attempt has the error in both challenges.
    let r = h
        .refused(get(
            "/items",
            &[
                ("authorization", "Bearer plain"),
                ("authorization", "DPoP plain"),
            ],
        ))
        .await;
    let error = "error=\"invalid_request\", \
                 error_description=\"more than one Authorization header\"";
    assert_refusal(
        &r,
        StatusCode::BAD_REQUEST,
        Some("invalid_request"),
        &[
            format!("Bearer {error}, {RM}"),
            format!("DPoP {error}, {ALGS}, {RM}"),
        ],
    );

    let bearer_only = Harness::new(Tokens::default().valid("plain", claims("read")));
    let r = bearer_only
        .refused(dpop_request("plain", &holder.proof(h.clock.now(), "plain")))
        .await;
    assert_refusal(
        &r,
        StatusCode::UNAUTHORIZED,
        Some("invalid_token"),
        &[&format!(
            "Bearer error=\"invalid_token\", error_description=\"this resource does not \
             accept the DPoP scheme\", {RM}"
        )],
    );

    let policy = DpopPolicy::default();
    let dpop_only = Harness::with(Tokens::default().valid("plain", claims("read")), |b, r| {
        b.dpop(policy, r).require_dpop()
    });
    assert!(
        dpop_only
            .server
            .metadata()
            .dpop_bound_access_tokens_required
    );
    let r = dpop_only
        .refused(get("/items", &[("authorization", "Bearer plain")]))
        .await;
    assert_refusal(
        &r,
        StatusCode::UNAUTHORIZED,
        Some("invalid_token"),
        &[&dpop_challenge(
            "invalid_token",
            "this resource accepts only DPoP-bound tokens",
        )],
    );
}

/// RFC 9449 §9: with server nonces, a proof without the current one is `use_dpop_nonce`
/// with a `DPoP-Nonce` header; a proof with it is accepted.
#[tokio::test]
async fn the_server_nonce_is_required_when_configured() {
    let holder = Holder::new();
    let jkt = holder.jkt();
    let tokens = Tokens::default().valid(
        "bound",
        claims_with("read", |c| c["cnf"] = json!({"jkt": jkt})),
    );
    let h = Harness::with(tokens, |b, replays| {
        b.dpop(DpopPolicy::default(), replays)
            .dpop_nonces(DpopNonces::new(&[7; 32], Duration::from_secs(300)))
    });
    let now = h.clock.now();
    let r = h
        .refused(dpop_request("bound", &holder.proof(now, "bound")))
        .await;
    assert_refusal(
        &r,
        StatusCode::UNAUTHORIZED,
        Some("use_dpop_nonce"),
        &both(
            "use_dpop_nonce",
            "the DPoP proof must carry the server's nonce",
        ),
    );
    let nonce = r.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let wrong = holder.proof_with(now, "bound", |c| c["nonce"] = json!("not-the-nonce"));
    let r = h.refused(dpop_request("bound", &wrong)).await;
    assert_eq!(error_code(&r).as_deref(), Some("use_dpop_nonce"));
    let proof = holder.proof_with(now, "bound", |c| c["nonce"] = json!(nonce));
    let a = h.authenticate(dpop_request("bound", &proof)).await.unwrap();
    // §9: the response hands out the current nonce.
    assert_eq!(a.response_headers()["dpop-nonce"], nonce.as_str());
    assert_eq!(h.replays.calls(), 1);
}

/// A replay cache that fails.
struct BrokenReplays;

#[async_trait]
impl ReplayCache for BrokenReplays {
    async fn check_and_insert(
        &self,
        _: &Issuer,
        _: ReplayNamespace,
        _: &TokenHash,
        _: UnixTime,
        _: UnixTime,
    ) -> StoreResult<ReplayOutcome> {
        Err(StoreError::new("test: the store is down"))
    }

    async fn purge_expired(&self, _: UnixTime) -> StoreResult<u64> {
        Ok(0)
    }
}

/// A replay cache that cannot be asked is no verdict on the proof: 503, no challenge.
#[tokio::test]
async fn a_failing_replay_cache_is_503() {
    let holder = Holder::new();
    let jkt = holder.jkt();
    let tokens = Tokens::default().valid(
        "bound",
        claims_with("read", |c| c["cnf"] = json!({"jkt": jkt})),
    );
    let h = Harness::with(tokens, |b, _| {
        b.dpop(DpopPolicy::default(), Arc::new(BrokenReplays))
    });
    let r = h
        .refused(dpop_request("bound", &holder.proof(h.clock.now(), "bound")))
        .await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(challenges(&r).is_empty());
}

/// RFC 8705 §3: a certificate-bound token needs the TLS client certificate it names.
#[tokio::test]
async fn a_certificate_bound_token_needs_its_certificate() {
    let cert = |name: &str| {
        let c = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        ClientCertificate::new(c.cert.der().to_vec(), CertificateChain::Unverified)
    };
    let mine = cert("client.example");
    let x5t = certificate_thumbprint(mine.der());
    let tokens = Tokens::default().valid(
        "cert-bound",
        claims_with("read", |c| c["cnf"] = json!({"x5t#S256": x5t})),
    );
    let h = Harness::new(tokens);
    let with_cert = |c: Option<ClientCertificate>| {
        let mut req = get("/items", &[("authorization", "Bearer cert-bound")]);
        if let Some(c) = c {
            req.extensions_mut().insert(c);
        }
        req
    };
    assert!(h.authenticate(with_cert(Some(mine))).await.is_ok());
    let expected = format!(
        "Bearer error=\"invalid_token\", error_description=\"the request does not come with \
         the TLS client certificate the access token is bound to\", {RM}"
    );
    for other in [None, Some(cert("other.example"))] {
        let r = h.refused(with_cert(other)).await;
        assert_refusal(
            &r,
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            &[&expected],
        );
    }
}

/// RFC 9449 §4.3 item 9, RFC 3986 §5.2.4: the proof's `htu` is compared with dot segments
/// removed, so a DPoP request whose path has dot segments (raw or percent-encoded, in any
/// case) is refused as `invalid_request` (400): a proof for `/b` must not pass at `/a/../b`,
/// which a router may treat as another path.
#[tokio::test]
async fn a_dpop_request_with_dot_segments_is_invalid_request() {
    let holder = Holder::new();
    let h = dpop_harness(&holder);
    let now = h.clock.now();
    let cases = [
        ("/a/../b", "/b"),
        ("/a/%2e%2E/b", "/b"),
        ("/a/./b", "/a/b"),
        ("/a/%2E/b", "/a/b"),
        ("/a/b/..", "/a"),
    ]
    .map(|(path, htu)| {
        let proof = holder.proof_with(now, "bound", |c| {
            c["htu"] = json!(format!("https://api.example{htu}"))
        });
        (
            get(path, &[("authorization", "DPoP bound"), ("dpop", &proof)]),
            "the request path has dot segments",
        )
    });
    h.assert_each_refused(cases, StatusCode::BAD_REQUEST, "invalid_request", |d| {
        both("invalid_request", d).to_vec()
    })
    .await;
    assert_eq!(h.replays.calls(), 0);
    // Dots inside a segment are no dot segments.
    let proof = holder.proof_with(now, "bound", |c| {
        c["htu"] = json!("https://api.example/a/..b/.c")
    });
    let request = get(
        "/a/..b/.c",
        &[("authorization", "DPoP bound"), ("dpop", &proof)],
    );
    h.authenticate(request).await.unwrap();
}
