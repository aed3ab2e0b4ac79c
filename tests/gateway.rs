//! The phantom-token gateway (`examples/gateway`) between the example provider and an API:
//! opaque tokens from the provider are introspected at the gateway, which forwards a
//! short-lived internal JWT to the API — an axum app of this test, protected by
//! portcullis-resource's layer with a `JwtValidator` trusting the gateway's keys. Every
//! process runs on loopback, on one manual clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::{HeaderMap, StatusCode};
use portcullis::core::{Algorithm, Issuer, SigningKey, UnixTime};
use portcullis::ManualClock;
use portcullis_e2e::{demo_config, provider::Running, start_with_clock, Adapter};
use portcullis_example_gateway::{Gateway, GatewayConfig};
use portcullis_resource::{
    Authenticated, ClientCredentials, IssuerKeys, JwtValidator, ReqwestClient, ResourceServer,
};
use ring::digest::{digest, SHA256};
use ring::rand::SystemRandom;
use serde_json::{json, Value};
use tokio::net::TcpListener;

const T0: u64 = 1_700_000_000;
const GATEWAY_SECRET: &str = "gateway-secret";
/// The gateway's revocation delay in this test.
const CACHE_MAX_AGE: u64 = 30;
/// How long the gateway waits for the API; `/slow` takes longer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// The provider, the gateway in front of the API, what the API saw, and the clock.
struct Rig {
    clock: Arc<ManualClock>,
    provider: Running,
    _gateway: portcullis_example_gateway::Running,
    _api: tokio::task::JoinHandle<()>,
    gateway_url: String,
    api_url: String,
    /// The headers of every request the API's handlers served.
    seen: Arc<Mutex<Vec<HeaderMap>>>,
    http: reqwest::Client,
}

/// Whom the API's handlers answer for: the internal token's claims.
async fn items(
    auth: Authenticated,
    headers: HeaderMap,
    seen: Arc<Mutex<Vec<HeaderMap>>>,
) -> String {
    seen.lock().unwrap().push(headers);
    let c = auth.claims();
    json!({
        "iss": c.issuer, "sub": c.subject, "client_id": c.client_id,
        "scope": c.scope.as_str(), "aud": c.audience,
    })
    .to_string()
}

impl Rig {
    /// The rig; `upstream_up: false` points the gateway at a closed port.
    async fn start(upstream_up: bool) -> Self {
        let clock = Arc::new(ManualClock::new(UnixTime::from_secs(T0)));
        let gateway_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway_url = format!("http://{}", gateway_listener.local_addr().unwrap());
        let api_url = format!("http://{}", api_listener.local_addr().unwrap());
        // The gateway is a resource of the provider (opaque tokens), and the confidential
        // client that introspects them (RFC 7662 §4: its id is the tokens' audience).
        let extra = format!(
            r#"
[[resources]]
uri = "{gateway_url}"
scopes = "read write"

[[clients]]
id = "{gateway_url}"
type = "confidential"
secret = "{GATEWAY_SECRET}"
allowed_scopes = "read"
grant_types = ["client_credentials"]

[[clients]]
id = "dpop-service"
type = "confidential"
secret = "dpop-service-secret"
allowed_scopes = "read write"
grant_types = ["client_credentials"]
dpop_bound_access_tokens = true
"#
        );
        let config = demo_config(&[], &extra);
        let provider = start_with_clock(Adapter::Axum, config, clock.clone()).await;
        let issuer = provider.issuer().clone();

        let credentials = ClientCredentials::SecretBasic {
            client_id: gateway_url.clone(),
            secret: GATEWAY_SECRET.into(),
        };
        let upstream = if upstream_up {
            api_url.clone()
        } else {
            let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
            format!("http://{}", closed.local_addr().unwrap())
        };
        let mut config = GatewayConfig::new(
            gateway_url.clone(),
            issuer.clone(),
            provider.url("/introspect").parse().unwrap(),
            credentials,
            upstream.parse().unwrap(),
            api_url.clone(),
        );
        config.introspection.cache_max_age = Duration::from_secs(CACHE_MAX_AGE);
        config.max_body_bytes = 1024;
        config.upstream_timeout = UPSTREAM_TIMEOUT;
        let key = SigningKey::generate("gw-1", Algorithm::ES256, &SystemRandom::new()).unwrap();
        let http = Arc::new(ReqwestClient::new().unwrap());
        let gateway = Gateway::new(config, key, http.clone(), clock.clone()).unwrap();
        let jwks_uri = format!("{gateway_url}{}", gateway.jwks_path());
        let gateway_running =
            portcullis_example_gateway::spawn(&gateway, gateway_listener).unwrap();

        // The API trusts the gateway's internal tokens, and only them.
        let gateway_issuer = Issuer::parse(&gateway_url).unwrap();
        let keys = IssuerKeys::from_jwks_uri(gateway_issuer, jwks_uri, http);
        let validator = JwtValidator::new(Arc::new(keys), api_url.clone());
        let api = ResourceServer::builder(api_url.clone(), Arc::new(validator))
            .clock(clock.clone())
            .build()
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s1, s2) = (seen.clone(), seen.clone());
        let router = Router::new()
            .route(
                "/items",
                get(move |a, h| items(a, h, s1.clone())).post(|body: String| async move { body }),
            )
            .route("/slow", get(|| tokio::time::sleep(UPSTREAM_TIMEOUT * 3)))
            .route(
                "/admin",
                post(move |a, h| items(a, h, s2.clone()))
                    .route_layer(api.layer().require_scope("admin")),
            )
            .layer(api.layer());
        let api_task = tokio::spawn(async move {
            axum::serve(api_listener, router).await.unwrap();
        });
        Self {
            clock,
            provider,
            _gateway: gateway_running,
            _api: api_task,
            gateway_url,
            api_url,
            seen,
            http: reqwest::Client::new(),
        }
    }

    /// An opaque access token of `client` for the gateway (client credentials), with a DPoP
    /// proof when `dpop` is given.
    async fn token(&self, client: &str, secret: &str, dpop: Option<&Holder>) -> String {
        let token_url = self.provider.url("/token");
        let mut request = self
            .http
            .post(&token_url)
            .basic_auth(client, Some(secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "read"),
                ("resource", &self.gateway_url),
            ]);
        if let Some(holder) = dpop {
            request = request.header("dpop", holder.proof(self.now(), "POST", &token_url, None));
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let json: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        json["access_token"].as_str().unwrap().to_owned()
    }

    fn now(&self) -> UnixTime {
        portcullis::Clock::now(self.clock.as_ref())
    }

    /// `GET /items` at the gateway with these headers.
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.gateway_url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }
}

fn challenges(response: &reqwest::Response) -> String {
    let all: Vec<&str> = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    all.join(" | ")
}

/// The payload of a compact JWS, unverified (the API verified it).
fn jwt_payload(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opaque_token_reaches_the_api_as_an_internal_jwt() {
    let rig = Rig::start(true).await;
    let token = rig.token("demo-service", "demo-service-secret", None).await;
    let bearer = format!("Bearer {token}");
    let response = rig
        .get(
            "/items?page=2",
            &[
                ("authorization", &bearer),
                ("connection", "x-hop"),
                ("x-hop", "1"),
                ("forwarded", "for=10.0.0.1;proto=https"),
                ("x-forwarded-for", "10.0.0.1"),
                ("x-forwarded-host", "admin.internal"),
                ("x-forwarded-proto", "https"),
                ("x-real-ip", "10.0.0.1"),
                ("x-ssl-client-cert", "forged"),
                ("x-client-cert", "forged"),
                ("x-forwarded-client-cert", "forged"),
                ("ssl-client-cert", "forged"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let claims: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(claims["iss"], rig.gateway_url.as_str());
    assert_eq!(claims["aud"], json!([rig.api_url]));
    assert_eq!(claims["client_id"], "demo-service");
    assert_eq!(claims["sub"], "demo-service");
    assert_eq!(claims["scope"], "read");

    let seen = rig.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let headers = &seen[0];
    // The opaque token never reached the API, in any header.
    for (name, value) in headers {
        let value = value.to_str().unwrap_or_default();
        assert!(
            !value.contains(&token),
            "the API saw the opaque token in {name}"
        );
    }
    assert!(headers.get("x-hop").is_none() && headers.get("connection").is_none());
    // The client's forwarding and certificate headers stay out (RFC 7239 §8); the gateway
    // names the peer it saw.
    for forged in [
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-real-ip",
        "x-ssl-client-cert",
        "x-client-cert",
        "x-forwarded-client-cert",
        "ssl-client-cert",
    ] {
        assert!(headers.get(forged).is_none(), "{forged} reached the API");
    }
    let forwarded: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(forwarded.len(), 1);
    assert!(
        forwarded[0].starts_with("for=\"127.0.0.1:") && forwarded[0].ends_with("\";proto=http"),
        "{forwarded:?}"
    );
    let internal = headers["authorization"].to_str().unwrap();
    let internal = internal.strip_prefix("Bearer ").unwrap();
    let payload = jwt_payload(internal);
    let now = rig.now().secs();
    assert_eq!(payload["exp"].as_u64(), Some(now + 60));
    assert_eq!(payload["iat"].as_u64(), Some(now));
    assert!(payload["jti"].is_string());
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(internal.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (header["typ"].as_str(), header["alg"].as_str()),
        (Some("at+jwt"), Some("ES256"))
    );

    // The second request reuses the cached internal token.
    let again = rig.get("/items", &[("authorization", &bearer)]).await;
    assert_eq!(again.status(), StatusCode::OK);
    let seen = rig.seen.lock().unwrap().clone();
    assert_eq!(seen[1]["authorization"], seen[0]["authorization"]);

    // Bodies are forwarded, up to the bound.
    let body = rig
        .http
        .post(format!("{}/items", rig.gateway_url))
        .header("authorization", &bearer)
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(body.status(), StatusCode::OK);
    assert_eq!(body.text().await.unwrap(), "hello");
    let too_large = rig
        .http
        .post(format!("{}/items", rig.gateway_url))
        .header("authorization", &bearer)
        .body(vec![b'x'; 2048])
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_once_the_cache_bound_passes() {
    let rig = Rig::start(true).await;
    let token = rig.token("demo-service", "demo-service-secret", None).await;
    let bearer = format!("Bearer {token}");
    assert_eq!(
        rig.get("/items", &[("authorization", &bearer)])
            .await
            .status(),
        StatusCode::OK
    );
    let revoked = rig
        .http
        .post(rig.provider.url("/revoke"))
        .basic_auth("demo-service", Some("demo-service-secret"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    // Within the bound: the cached verdict.
    rig.clock.advance(CACHE_MAX_AGE - 1);
    assert_eq!(
        rig.get("/items", &[("authorization", &bearer)])
            .await
            .status(),
        StatusCode::OK
    );
    // Past it: asked again, refused at the gateway.
    rig.clock.advance(1);
    let refused = rig.get("/items", &[("authorization", &bearer)]).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let challenge = challenges(&refused);
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_eq!(rig.seen.lock().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_challenges_and_the_api_judges_scope() {
    let rig = Rig::start(true).await;
    // No token: the gateway's own challenge, naming its metadata (RFC 9728 §5.1).
    let none = rig.get("/items", &[]).await;
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let challenge = challenges(&none);
    let metadata = format!("{}/.well-known/oauth-protected-resource", rig.gateway_url);
    assert!(
        challenge.contains(&format!("resource_metadata=\"{metadata}\"")),
        "{challenge}"
    );
    assert!(!challenge.contains("error="), "{challenge}");
    // The metadata is the gateway's.
    let doc = rig
        .http
        .get(&metadata)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(doc["resource"], rig.gateway_url.as_str());
    assert_eq!(
        doc["authorization_servers"],
        json!([rig.provider.issuer().as_str()])
    );
    // An unknown token: invalid_token, from the gateway.
    let unknown = rig
        .get("/items", &[("authorization", "Bearer not-a-token")])
        .await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert!(challenges(&unknown).contains("error=\"invalid_token\""));
    // Wrong scope: the API's 403, passed through.
    let token = rig.token("demo-service", "demo-service-secret", None).await;
    let admin = rig
        .http
        .post(format!("{}/admin", rig.gateway_url))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), StatusCode::FORBIDDEN);
    let challenge = challenges(&admin);
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(challenge.contains("scope=\"admin\""), "{challenge}");
    // Its resource_metadata is the gateway's, the resource the client calls.
    assert!(
        challenge.contains(&format!("resource_metadata=\"{metadata}\""))
            && !challenge.contains(&rig.api_url),
        "{challenge}"
    );
    assert!(rig.seen.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpop_bound_token_needs_its_proof_at_the_gateway() {
    let rig = Rig::start(true).await;
    let holder = Holder::new();
    let token = rig
        .token("dpop-service", "dpop-service-secret", Some(&holder))
        .await;
    // Without its proof: 401 with a DPoP challenge (RFC 9449 §7.1) — no proof at all under
    // the DPoP scheme, and a bound token presented as a bearer token.
    let cases = [
        (format!("DPoP {token}"), "invalid_dpop_proof"),
        (format!("Bearer {token}"), "invalid_token"),
    ];
    for (authorization, code) in cases {
        let refused = rig
            .get("/items", &[("authorization", &authorization)])
            .await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{code}");
        let challenge = challenges(&refused);
        assert!(challenge.contains("DPoP "), "{challenge}");
        assert!(
            challenge.contains(&format!("error=\"{code}\"")),
            "{challenge}"
        );
    }
    // With a proof for the gateway's URL: forwarded, and the proof is not.
    let url = format!("{}/items", rig.gateway_url);
    let proof = holder.proof(rig.now(), "GET", &url, Some(&token));
    let dpop = format!("DPoP {token}");
    let with_proof = [("authorization", dpop.as_str()), ("dpop", proof.as_str())];
    assert_eq!(
        rig.get("/items", &with_proof).await.status(),
        StatusCode::OK
    );
    let seen = rig.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].get("dpop").is_none());
    // The same proof again is a replay.
    let replay = rig.get("/items", &with_proof).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
    assert!(challenges(&replay).contains("error=\"invalid_dpop_proof\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_api_is_a_bad_gateway() {
    let rig = Rig::start(false).await;
    let token = rig.token("demo-service", "demo-service-secret", None).await;
    let response = rig
        .get("/items", &[("authorization", &format!("Bearer {token}"))])
        .await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    assert!(!response.text().await.unwrap().contains(&token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_api_is_a_gateway_timeout() {
    let rig = Rig::start(true).await;
    let token = rig.token("demo-service", "demo-service-secret", None).await;
    let response = rig
        .get("/slow", &[("authorization", &format!("Bearer {token}"))])
        .await;
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
}

/// A DPoP key holder (RFC 9449 §4).
struct Holder {
    key: SigningKey,
}

impl Holder {
    fn new() -> Self {
        let key = SigningKey::generate("dpop", Algorithm::ES256, &SystemRandom::new()).unwrap();
        Self { key }
    }

    /// A proof for `method url` at `now`, with `ath` for `token` when given.
    fn proof(&self, now: UnixTime, method: &str, url: &str, token: Option<&str>) -> String {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let jti = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.key.public_jwk()});
        let mut claims =
            json!({"jti": format!("p-{jti}"), "htm": method, "htu": url, "iat": now.secs()});
        if let Some(token) = token {
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(digest(&SHA256, token.as_bytes())));
        }
        let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        let input = format!("{}.{}", b64(&header), b64(&claims));
        let signature = self
            .key
            .sign(input.as_bytes(), &SystemRandom::new())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// The status line of a raw HTTP/1.1 request for `target` (reqwest would normalise it).
async fn raw_status(addr: &str, method: &str, target: &str, extra: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request =
        format!("{method} {target} HTTP/1.1\r\nhost: {addr}\r\n{extra}connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_segments_and_other_target_forms_are_refused() {
    let rig = Rig::start(true).await;
    let token = rig.token("demo-service", "demo-service-secret", None).await;
    let auth = format!("authorization: Bearer {token}\r\n");
    let addr = rig.gateway_url.trim_start_matches("http://");
    for (method, target) in [
        ("POST", "/../admin"),
        ("POST", "/items/../admin"),
        ("POST", "/%2e%2e/admin"),
        ("POST", "/%2E%2e/admin"),
        ("POST", "/items/..%2Fadmin"),
        ("GET", "/./items"),
        ("OPTIONS", "*"),
        ("CONNECT", "api.internal:443"),
    ] {
        assert_eq!(
            raw_status(addr, method, target, &auth).await,
            "HTTP/1.1 400 Bad Request",
            "{method} {target}"
        );
    }
    // Refused before authentication, too.
    assert_eq!(
        raw_status(addr, "GET", "/../admin", "").await,
        "HTTP/1.1 400 Bad Request"
    );
    assert!(
        rig.seen.lock().unwrap().is_empty(),
        "nothing reached the API"
    );
    // An ordinary target still goes through.
    assert_eq!(
        raw_status(addr, "GET", "/items", &auth).await,
        "HTTP/1.1 200 OK"
    );
}
