//! OpenID Connect Back-Channel Logout 1.0 through the public API: ID tokens carry the
//! session's `sid`; RP-initiated logout, the end of every session and a revoked grant each
//! send one logout token to each client concerned that registered a
//! `backchannel_logout_uri`; a receiver verifies every token with `jsonwebtoken` against the
//! provider's JWKS (`typ`, claims, no `nonce`, the `sid` of the ID token); retries follow
//! the status (`5xx` and no answer retried, `4xx` never); discovery and registration follow
//! whether a sender is configured. With the `http-fetcher` feature, a real HTTP receiver on
//! loopback gets them through `ReqwestFetcher`.

mod common;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{Method, Request, StatusCode};
use jsonwebtoken::{decode, decode_header, jwk::JwkSet, DecodingKey, Validation};
use portcullis::core::{session_sid, Client, ClientOidc, DeliveryStep, RedirectUri, ScopeSet};
use portcullis::{
    BackchannelLogout, DeliveryReport, FetchError, LogoutOutcome, LogoutSender, Provider,
    ProviderBuilder, RegistrationPolicy,
};
use portcullis_store_memory::MemoryStore;
use serde_json::{json, Value};
use tokio::sync::mpsc;

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// One POST a client received: where, and the `logout_token`.
#[derive(Debug, Clone)]
struct Received {
    uri: String,
    token: String,
}

/// What a receiver answers to one attempt: a status, or an error of the sender.
type Answer = Result<u16, fn() -> FetchError>;

/// A sender that records every attempt and answers each URI from a script (then `200`).
#[derive(Default)]
struct Capture {
    script: Mutex<HashMap<String, VecDeque<Answer>>>,
    attempts: Mutex<Vec<Received>>,
    delivered: Mutex<Option<mpsc::UnboundedSender<Received>>>,
}

impl Capture {
    fn new() -> (Arc<Self>, mpsc::UnboundedReceiver<Received>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let capture = Self {
            delivered: Mutex::new(Some(tx)),
            ..Self::default()
        };
        (Arc::new(capture), rx)
    }

    fn answer(&self, uri: &str, answers: Vec<Answer>) {
        self.script
            .lock()
            .unwrap()
            .insert(uri.to_owned(), answers.into());
    }

    fn attempts_at(&self, uri: &str) -> usize {
        let attempts = self.attempts.lock().unwrap();
        attempts.iter().filter(|a| a.uri == uri).count()
    }
}

#[portcullis::async_trait]
impl LogoutSender for Capture {
    async fn send_logout_token(&self, uri: &str, logout_token: &str) -> Result<u16, FetchError> {
        let received = Received {
            uri: uri.to_owned(),
            token: logout_token.to_owned(),
        };
        self.attempts.lock().unwrap().push(received.clone());
        let next = self
            .script
            .lock()
            .unwrap()
            .get_mut(uri)
            .and_then(VecDeque::pop_front);
        let answer = next.unwrap_or(Ok(200)).map_err(|e| e());
        if matches!(answer, Ok(200)) {
            if let Some(tx) = &*self.delivered.lock().unwrap() {
                tx.send(received).unwrap();
            }
        }
        answer
    }
}

const RP1: &str = "https://rp1.example/backchannel";
const RP2: &str = "https://rp2.example/backchannel";
const RP3: &str = "https://rp3.example/backchannel";

/// A confidential client `id` (the web client's secret) with `uri` as its
/// `backchannel_logout_uri`, requiring a `sid` if `session_required`.
fn rp(id: &str, uri: Option<&str>, session_required: bool) -> Client {
    let mut c = web_client()
        .with_redirect_uris([RedirectUri::parse(&format!("https://{id}.example/cb")).unwrap()])
        .with_oidc(ClientOidc {
            backchannel_logout_uri: uri.map(str::to_owned),
            backchannel_logout_session_required: session_required,
            ..ClientOidc::default()
        });
    c.id = id.to_owned();
    c
}

/// A provider that delivers through `sender` at once (no wait between attempts), with
/// `rp1` (a URI), `rp2` (a URI, `sid` required), `rp3` (a URI) and `plain` (none).
async fn harness(sender: Option<Arc<dyn LogoutSender>>, retries: u32) -> Harness {
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| match sender {
        Some(s) => b.backchannel_logout(
            BackchannelLogout::new(s)
                .retries(retries)
                .backoff(Duration::ZERO),
        ),
        None => b,
    })
    .await;
    for c in [
        rp("rp1", Some(RP1), false),
        rp("rp2", Some(RP2), true),
        rp("rp3", Some(RP3), false),
        rp("plain", None, false),
    ] {
        h.provider.register_client(&c).await.unwrap();
    }
    h
}

/// `alice` signs in to `client` in the host's session `session` (OpenID mode, a nonce):
/// the token response.
async fn sign_in(h: &Harness, client: &str, session: &str) -> Value {
    let redirect = format!("https://{client}.example/cb");
    let scope = "openid offline_access";
    let q = format!(
        "response_type=code&client_id={client}&redirect_uri={}&scope={}&nonce=n-1&code_challenge={}&code_challenge_method=S256",
        enc(&redirect),
        enc(scope),
        challenge(VERIFIER)
    );
    let pending = h.pending(&q).await;
    let approval = approval("alice", scope).with_session(session);
    let r = h.provider.approve(pending, approval).await;
    let code = query_param(location(&r).as_str(), "code").expect("a code");
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
        enc(&redirect)
    );
    let (status, json, _) = h.token(&body, Some((client, SECRET))).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    json
}

/// The claims of `jwt`, verified with `jsonwebtoken` against the provider's JWKS (its
/// signature, `iss`, `aud` = `client`), and its `typ`.
async fn verified(provider: &Provider, jwt: &str, client: &str) -> (Option<String>, Value) {
    let header = decode_header(jwt).unwrap();
    let jwks: JwkSet = serde_json::from_slice(provider.jwks().await.body()).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("a published key");
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[client]);
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["iss", "aud", "exp", "iat"]);
    // The provider's clock is T0, long past: `exp` is checked by hand.
    validation.validate_exp = false;
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let claims = decode::<Value>(jwt, &key, &validation).unwrap().claims;
    (header.typ, claims)
}

/// The logout token's claims, checked as a receiver must (§2.6): `typ`, the signature,
/// `iss`, `aud`, `iat`, a short `exp`, a `jti`, the event, `sub`, never a `nonce`.
async fn logout_claims(h: &Harness, received: &Received, client: &str) -> Value {
    let (typ, claims) = verified(&h.provider, &received.token, client).await;
    assert_eq!(typ.as_deref(), Some("logout+jwt"));
    assert_eq!(claims["iat"], json!(T0));
    assert_eq!(claims["exp"], json!(T0 + 120));
    assert_eq!(claims["jti"].as_str().map(str::len), Some(43));
    assert_eq!(claims["events"], json!({ EVENT: {} }));
    assert_eq!(claims["sub"], "alice");
    assert!(claims.get("nonce").is_none(), "{claims}");
    claims
}

/// The next `n` delivered tokens, by URI (waits for them: delivery runs on its own).
async fn next(rx: &mut mpsc::UnboundedReceiver<Received>, n: usize) -> HashMap<String, Received> {
    let mut out = HashMap::new();
    for _ in 0..n {
        let r = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a logout token in time")
            .unwrap();
        assert!(
            out.insert(r.uri.clone(), r).is_none(),
            "one token per client"
        );
    }
    out
}

fn report(client_id: &str, attempts: u32, outcome: DeliveryStep) -> (String, u32, DeliveryStep) {
    (client_id.to_owned(), attempts, outcome)
}

fn summary(reports: &[DeliveryReport]) -> Vec<(String, u32, DeliveryStep)> {
    reports
        .iter()
        .map(|r| (r.client_id.clone(), r.attempts, r.outcome))
        .collect()
}

/// RP-initiated logout of the host's session `s1` sends one logout token to each client
/// signed in to in `s1` that registered a URI — with the `sid` its ID token carried — and
/// none to a client of another session or one without a URI. `sid`s are stable per session
/// and client, and differ between clients.
#[tokio::test]
async fn rp_initiated_logout_tells_every_client_of_the_session() {
    let (capture, mut rx) = Capture::new();
    let h = harness(Some(capture.clone()), 3).await;
    let mut sids = HashMap::new();
    for client in ["rp1", "rp2", "plain"] {
        let tokens = sign_in(&h, client, "s1").await;
        let (_, id_token) =
            verified(&h.provider, tokens["id_token"].as_str().unwrap(), client).await;
        assert_eq!(id_token["nonce"], "n-1");
        sids.insert(client, id_token["sid"].as_str().expect("a sid").to_owned());
        // Refreshed ID tokens name the same session.
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let body = format!("grant_type=refresh_token&refresh_token={refresh}");
        let (status, json, _) = h.token(&body, Some((client, SECRET))).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        let (_, again) = verified(&h.provider, json["id_token"].as_str().unwrap(), client).await;
        assert_eq!(again["sid"].as_str(), Some(sids[client].as_str()));
    }
    assert_ne!(sids["rp1"], sids["rp2"], "each client its own sid");
    let other = sign_in(&h, "rp3", "s2").await;
    let (_, rp3) = verified(&h.provider, other["id_token"].as_str().unwrap(), "rp3").await;
    assert!(rp3["sid"].is_string());

    let tokens = sign_in(&h, "rp1", "s1").await;
    let hint = tokens["id_token"].as_str().unwrap();
    let (_, again) = verified(&h.provider, hint, "rp1").await;
    assert_eq!(again["sid"].as_str(), Some(sids["rp1"].as_str()), "stable");
    let req = Request::get(format!("/session/end?id_token_hint={hint}"))
        .body(Bytes::new())
        .unwrap();
    let LogoutOutcome::Pending(pending) = h.provider.end_session(req).await else {
        panic!("a valid logout request");
    };
    let r = h
        .provider
        .finish_logout(pending.ending_session("alice", "s1"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let got = next(&mut rx, 2).await;
    for (client, uri) in [("rp1", RP1), ("rp2", RP2)] {
        let claims = logout_claims(&h, &got[uri], client).await;
        assert_eq!(
            claims["sid"].as_str(),
            Some(sids[client].as_str()),
            "{client}"
        );
    }
    // Nothing else comes: a later event's tokens are the next ones to arrive.
    let _ = h.provider.session_ended("alice", "s2").finished().await;
    let later = next(&mut rx, 1).await;
    assert!(later.contains_key(RP3), "{later:?}");
    let claims = logout_claims(&h, &later[RP3], "rp3").await;
    assert_eq!(claims["sid"], rp3["sid"]);
    assert_eq!(capture.attempts.lock().unwrap().len(), 3);
}

/// A `5xx` and no answer are tried again (fail twice, then succeed: three attempts), a `4xx`
/// never, a refused address never; the retries are bounded.
#[tokio::test]
async fn server_errors_and_timeouts_are_retried_a_bounded_number_of_times_4xx_never() {
    let (capture, _rx) = Capture::new();
    let h = harness(Some(capture.clone()), 3).await;
    for client in ["rp1", "rp2", "rp3"] {
        sign_in(&h, client, "s1").await;
    }
    capture.answer(RP1, vec![Ok(503), Err(|| FetchError::Timeout), Ok(204)]);
    capture.answer(RP2, vec![Ok(400), Ok(200)]);
    capture.answer(RP3, vec![Err(|| FetchError::RefusedAddress), Ok(200)]);
    let reports = h.provider.session_ended("alice", "s1").finished().await;
    assert_eq!(
        summary(&reports),
        [
            report("rp1", 3, DeliveryStep::Delivered),
            report("rp2", 1, DeliveryStep::Refused),
            report("rp3", 1, DeliveryStep::Refused),
        ]
    );
    assert_eq!(capture.attempts_at(RP1), 3);
    assert_eq!(capture.attempts_at(RP2), 1);
    // Every attempt carried the same token.
    let attempts = capture.attempts.lock().unwrap().clone();
    let rp1: Vec<_> = attempts.iter().filter(|a| a.uri == RP1).collect();
    assert!(rp1.iter().all(|a| a.token == rp1[0].token));

    capture.answer(RP1, vec![Ok(500); 10]);
    let reports = h.provider.session_ended("alice", "s1").finished().await;
    assert_eq!(
        summary(&reports)[0],
        report("rp1", 4, DeliveryStep::GaveUp),
        "the first attempt and 3 retries"
    );
}

/// A retry that could not end before the logout token expires (§2.4: a short `exp`) is not
/// made: the client would refuse the token anyway.
#[tokio::test]
async fn no_retry_outlives_the_logout_token() {
    let (capture, _rx) = Capture::new();
    let slow = BackchannelLogout::new(capture.clone())
        .retries(3)
        .backoff(Duration::from_secs(200));
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.backchannel_logout(slow)
    })
    .await;
    h.provider
        .register_client(&rp("rp1", Some(RP1), false))
        .await
        .unwrap();
    sign_in(&h, "rp1", "s1").await;
    capture.answer(RP1, vec![Ok(503), Ok(204)]);
    let reports = h.provider.session_ended("alice", "s1").finished().await;
    assert_eq!(summary(&reports), [report("rp1", 1, DeliveryStep::GaveUp)]);
}

/// Revoking a grant tells that client only, with `sub` (every session of the user there
/// ends) — and the latest `sid` for a client that requires one; signing out everywhere
/// tells each client once, however many sessions and grants.
#[tokio::test]
async fn revoking_a_grant_and_signing_out_everywhere() {
    let (capture, mut rx) = Capture::new();
    let h = harness(Some(capture.clone()), 0).await;
    for (client, session) in [("rp1", "s1"), ("rp1", "s2"), ("rp2", "s1"), ("rp2", "s2")] {
        sign_in(&h, client, session).await;
    }
    let latest = sign_in(&h, "rp2", "s3").await;
    let (_, latest) = verified(&h.provider, latest["id_token"].as_str().unwrap(), "rp2").await;

    let everywhere = h.provider.every_session_ended("alice").finished().await;
    assert_eq!(everywhere.len(), 2, "{everywhere:?}");
    let got = next(&mut rx, 2).await;
    let rp1 = logout_claims(&h, &got[RP1], "rp1").await;
    assert!(rp1.get("sid").is_none(), "every session: {rp1}");
    let rp2 = logout_claims(&h, &got[RP2], "rp2").await;
    assert_eq!(rp2["sid"], latest["sid"], "required: the latest session");

    let grants = h.provider.grants("alice").await.unwrap();
    let rp1_grant = grants.iter().find(|g| g.client_id == "rp1").unwrap();
    assert!(h
        .provider
        .revoke_grant("alice", &rp1_grant.id)
        .await
        .unwrap());
    let got = next(&mut rx, 1).await;
    let claims = logout_claims(&h, &got[RP1], "rp1").await;
    assert!(claims.get("sid").is_none());
    // Another user's revocation of it is no revocation, and tells no one.
    assert!(!h.provider.revoke_grant("bob", &rp1_grant.id).await.unwrap());
    // The revoked grant's client is not told again when a session ends.
    let reports = h.provider.session_ended("alice", "s1").finished().await;
    assert_eq!(
        summary(&reports),
        [report("rp2", 1, DeliveryStep::Delivered)]
    );
}

/// Without a sender nothing is sent, discovery says so, and registration refuses a
/// `backchannel_logout_uri`; discovery promises `sid` only when the host declared that it
/// names its sessions; with a sender, both accept it — https only for a web client,
/// never with a fragment — and a host's client with a bad URI is refused.
#[tokio::test]
async fn discovery_and_registration_follow_the_sender() {
    let off = harness(None, 3).await;
    sign_in(&off, "rp1", "s1").await;
    assert!(off
        .provider
        .session_ended("alice", "s1")
        .finished()
        .await
        .is_empty());
    let (capture, _rx) = Capture::new();
    let on = harness(Some(capture), 3).await;
    // `sid` is promised only when the host declares it names every session (§2.1).
    let (capture, _rx) = Capture::new();
    let sender: Arc<dyn LogoutSender> = capture;
    let named = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.backchannel_logout(BackchannelLogout::new(sender).sessions_named())
    })
    .await;
    for (h, supported, with_sid) in [
        (&off, false, false),
        (&on, true, false),
        (&named, true, true),
    ] {
        let d: Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
        assert_eq!(d["backchannel_logout_supported"], supported);
        assert_eq!(d["backchannel_logout_session_supported"], with_sid);
    }

    let open = |b: portcullis::ProviderBuilder| {
        b.registration(RegistrationPolicy::open(ScopeSet::parse("openid").unwrap()))
    };
    let (capture, _rx) = Capture::new();
    let sender: Arc<dyn LogoutSender> = capture;
    let with = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        open(b).backchannel_logout(BackchannelLogout::new(sender))
    })
    .await;
    let without = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, open).await;
    let register = |extra: Value| {
        let mut body = json!({"redirect_uris": ["https://rp.example/cb"]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let good = register(json!({
        "backchannel_logout_uri": "https://rp.example/bc?tenant=1",
        "backchannel_logout_session_required": true,
    }));
    let (status, json, _) = registration_call(&with, Method::POST, "", None, Some(&good)).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert_eq!(
        json["backchannel_logout_uri"],
        "https://rp.example/bc?tenant=1"
    );
    assert_eq!(json["backchannel_logout_session_required"], true);
    let client = with
        .provider
        .client(json["client_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(client.oidc.backchannel_logout_session_required);

    let (status, json, _) = registration_call(&without, Method::POST, "", None, Some(&good)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["error"], "invalid_client_metadata");
    for bad in [
        json!({"backchannel_logout_uri": "https://rp.example/bc#frag"}),
        json!({"backchannel_logout_uri": "http://rp.example/bc"}),
        json!({"backchannel_logout_uri": "http://127.0.0.1:9000/bc"}),
        json!({"backchannel_logout_uri": "/bc"}),
    ] {
        let (status, json, _) =
            registration_call(&with, Method::POST, "", None, Some(&register(bad.clone()))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(json["error"], "invalid_client_metadata", "{bad}");
    }
    // A native client may use loopback http, as for its redirect URIs.
    let native = json!({
        "application_type": "native",
        "redirect_uris": ["http://127.0.0.1/cb"],
        "token_endpoint_auth_method": "none",
        "backchannel_logout_uri": "http://127.0.0.1:9000/bc",
    });
    let (status, json, _) = registration_call(&with, Method::POST, "", None, Some(&native)).await;
    assert_eq!(status, StatusCode::CREATED, "{json}");

    let mut bad = rp("bad", Some("http://rp.example/bc"), false);
    assert!(with.provider.register_client(&bad).await.is_err());
    bad.oidc.backchannel_logout_uri = Some("https://rp.example/bc#f".into());
    assert!(with.provider.register_client(&bad).await.is_err());
    bad.oidc.backchannel_logout_uri = Some("http://127.0.0.1:9/bc".into());
    assert!(with.provider.register_client(&bad).await.is_ok());
}

/// A client without `openid` sessions still hears of a revoked grant; a client that
/// requires a `sid` and never had one named hears nothing (its token would log out more
/// than asked).
#[tokio::test]
async fn clients_that_require_a_sid_get_none_without_one() {
    let (capture, mut rx) = Capture::new();
    let h = harness(Some(capture.clone()), 3).await;
    for client in ["rp1", "rp2"] {
        // No session named by the host.
        let redirect = format!("https://{client}.example/cb");
        let q = format!(
            "response_type=code&client_id={client}&redirect_uri={}&scope=openid&nonce=n&code_challenge={}&code_challenge_method=S256",
            enc(&redirect),
            challenge(VERIFIER)
        );
        let pending = h.pending(&q).await;
        let r = h
            .provider
            .approve(pending, approval("alice", "openid"))
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let reports = h.provider.every_session_ended("alice").finished().await;
    assert_eq!(
        summary(&reports),
        [report("rp1", 1, DeliveryStep::Delivered)]
    );
    let got = next(&mut rx, 1).await;
    assert!(got.contains_key(RP1));
    assert_eq!(capture.attempts_at(RP2), 0);
}

/// A real receiver on loopback, through `ReqwestFetcher`: a form POST of `logout_token`,
/// verified like any; two `503`s then a `200` make three attempts; a `400` one. The default
/// fetcher refuses loopback (server-side request forgery), so that is one attempt too.
#[cfg(feature = "http-fetcher")]
mod over_http {
    use super::*;
    use portcullis::ReqwestFetcher;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// One request as received: its head and its body.
    struct Request {
        head: String,
        body: String,
    }

    /// Serves `statuses` in turn (then `200`) to every POST, sending each request on.
    async fn receiver(statuses: Vec<u16>) -> (String, mpsc::UnboundedReceiver<Request>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut statuses = VecDeque::from(statuses);
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body) = loop {
                    let n = socket.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let head = text[..end].to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse().unwrap());
                        if buf.len() >= end + 4 + len || n == 0 {
                            break (head, text[end + 4..].to_owned());
                        }
                    }
                };
                let status = statuses.pop_front().unwrap_or(200);
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                socket.write_all(answer.as_bytes()).await.unwrap();
                tx.send(Request { head, body }).unwrap();
            }
        });
        (format!("http://{addr}/backchannel"), rx)
    }

    async fn over(fetcher: ReqwestFetcher, uris: [&str; 2]) -> Harness {
        let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
            b.backchannel_logout(
                BackchannelLogout::new(Arc::new(fetcher))
                    .retries(3)
                    .backoff(Duration::ZERO),
            )
        })
        .await;
        for (id, uri) in [("rp1", uris[0]), ("rp2", uris[1])] {
            h.provider
                .register_client(&rp(id, Some(uri), false))
                .await
                .unwrap();
        }
        h
    }

    #[tokio::test]
    async fn a_loopback_receiver_gets_verifiable_tokens_with_retries() {
        let (uri1, mut got1) = receiver(vec![503, 503]).await;
        let (uri2, mut got2) = receiver(vec![400]).await;
        let fetcher =
            ReqwestFetcher::dangerous_allow_private_addresses(Duration::from_secs(5)).unwrap();
        let h = over(fetcher, [&uri1, &uri2]).await;
        let mut sids = HashMap::new();
        for client in ["rp1", "rp2"] {
            let tokens = sign_in(&h, client, "s1").await;
            let (_, id) = verified(&h.provider, tokens["id_token"].as_str().unwrap(), client).await;
            sids.insert(client, id["sid"].clone());
        }
        let reports = h.provider.session_ended("alice", "s1").finished().await;
        assert_eq!(
            summary(&reports),
            [
                report("rp1", 3, DeliveryStep::Delivered),
                report("rp2", 1, DeliveryStep::Refused),
            ]
        );
        let mut tokens = Vec::new();
        while let Ok(r) = got1.try_recv() {
            assert!(
                r.head.starts_with("post /backchannel http/1.1"),
                "{}",
                r.head
            );
            assert!(r
                .head
                .contains("content-type: application/x-www-form-urlencoded"));
            let token = url::form_urlencoded::parse(r.body.as_bytes())
                .find(|(k, _)| k == "logout_token")
                .map(|(_, v)| v.into_owned())
                .expect("logout_token");
            tokens.push(token);
        }
        assert_eq!(tokens.len(), 3);
        let received = Received {
            uri: uri1.clone(),
            token: tokens[2].clone(),
        };
        let claims = logout_claims(&h, &received, "rp1").await;
        assert_eq!(claims["sid"], sids["rp1"]);
        assert!(got2.try_recv().is_ok());
        assert!(got2.try_recv().is_err(), "a 400 is not retried");
    }

    #[tokio::test]
    async fn the_default_fetcher_refuses_loopback_receivers() {
        let (uri, mut got) = receiver(vec![]).await;
        let h = over(ReqwestFetcher::new().unwrap(), [&uri, RP2]).await;
        sign_in(&h, "rp1", "s1").await;
        let reports = h.provider.session_ended("alice", "s1").finished().await;
        assert_eq!(summary(&reports), [report("rp1", 1, DeliveryStep::Refused)]);
        assert!(got.try_recv().is_err());
    }
}

/// The `sid` of `alice`'s session `s1` at `rp1` in the ID token of a provider configured by
/// `configure`.
async fn sid_under(configure: impl FnOnce(ProviderBuilder) -> ProviderBuilder) -> String {
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, configure).await;
    h.provider
        .register_client(&rp("rp1", None, false))
        .await
        .unwrap();
    let json = sign_in(&h, "rp1", "s1").await;
    let (_, claims) = verified(&h.provider, json["id_token"].as_str().unwrap(), "rp1").await;
    claims["sid"].as_str().expect("a sid").to_owned()
}

/// `sid`s have a key of their own: the host's `sid_key`, else one derived from the subject
/// salt — never the salt of pairwise subjects itself. Either way they are stable across
/// restarts: a provider built again with the same secrets names a session alike.
#[tokio::test]
async fn sids_have_a_stable_key_of_their_own() {
    let derived = sid_under(|b| b.subject_salt([1; 32])).await;
    assert_eq!(
        derived,
        sid_under(|b| b.subject_salt([1; 32])).await,
        "restart"
    );
    assert_ne!(derived, sid_under(|b| b.subject_salt([3; 32])).await);
    assert_ne!(derived, session_sid(&[1; 32], "s1", "rp1"), "not the salt");
    let own = sid_under(|b| b.subject_salt([1; 32]).sid_key([2; 32])).await;
    assert_eq!(own, session_sid(&[2; 32], "s1", "rp1"));
    assert_eq!(
        own,
        sid_under(|b| b.subject_salt([3; 32]).sid_key([2; 32])).await,
        "whatever the salt"
    );
}
