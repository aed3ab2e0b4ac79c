//! The example provider and the example API (`examples/resource-api`) running in process on
//! one manual clock, driven by independent clients: `oauth2` 5 for the token requests,
//! reqwest for the API calls and discovery, a cookie-keeping client playing the browser.
//!
//! Two instances of the API: one validating JWT access tokens (RFC 9068), one validating
//! opaque tokens by introspection (RFC 7662), each a resource the provider knows (RFC 8707).

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use portcullis::core::{Algorithm, Issuer, SigningKey, UnixTime};
use portcullis::{Clock, ManualClock};
use portcullis_e2e::provider::{Running, DEMO_USER, DEMO_WEB_CLIENT};
use portcullis_e2e::{
    code_client, demo_config, http_client, query_param, start_with_clock, Adapter, Browser,
    CodeClient, Decision, Page,
};
use portcullis_example_resource_api as api;
use reqwest::{Method, StatusCode};
use ring::digest::{digest, SHA256};
use ring::rand::SystemRandom;
use serde_json::{json, Value};
use url::Url;

const WEB_REDIRECT: &str = "http://127.0.0.1:9000/callback";
/// The introspecting API's secret, as a client of the provider.
const OPAQUE_API_SECRET: &str = "opaque-api-secret";
/// A service calling the APIs on its own behalf (client credentials).
const CALLER: (&str, &str) = ("api-caller", "api-caller-secret");
/// A service whose access tokens are DPoP-bound (RFC 9449 §5.2).
const DPOP_CALLER: (&str, &str) = ("dpop-caller", "dpop-caller-secret");
/// How long `payment` lives from the login (the provider's `scope_lifetimes`), and the
/// oldest login `POST /payments` accepts (RFC 9470 `max_age`).
const PAYMENT_SECS: u64 = 300;
/// How long the opaque API caches an active token's introspection answer.
const CACHE_SECS: u64 = 30;
/// The authentication context class the acr API's payments need.
const MFA: &str = portcullis_interaction::MFA_ACR;
const FORBIDDEN_DESCRIPTION: &str = "the access token does not carry the scope this request needs";
const STEP_UP_DESCRIPTION: &str = "a stronger or more recent authentication is required";

/// The provider and both APIs, on one manual clock.
struct Rig {
    clock: Arc<ManualClock>,
    provider: Running,
    jwt_api: String,
    opaque_api: String,
    /// A JWT API whose payments also need the `acr` [`MFA`].
    acr_api: String,
    _apis: [api::Running; 3],
}

impl Rig {
    async fn start() -> Self {
        let bind = || tokio::net::TcpListener::bind("127.0.0.1:0");
        let (jwt_listener, opaque_listener) = (bind().await.unwrap(), bind().await.unwrap());
        let jwt_api = format!("http://{}", jwt_listener.local_addr().unwrap());
        let opaque_api = format!("http://{}", opaque_listener.local_addr().unwrap());
        let acr_listener = bind().await.unwrap();
        let acr_api = format!("http://{}", acr_listener.local_addr().unwrap());
        let extra = format!(
            r#"
[scope_lifetimes]
payment = {PAYMENT_SECS}

[registration]
scopes = "read"

[[resources]]
uri = "{jwt_api}"
scopes = "read payment"
token_format = "jwt"

[[resources]]
uri = "{acr_api}"
scopes = "read payment"
token_format = "jwt"

[[resources]]
uri = "{opaque_api}"
scopes = "read payment"

[[clients]]
id = "{opaque_api}"
type = "confidential"
secret = "{OPAQUE_API_SECRET}"
allowed_scopes = "read"
grant_types = ["client_credentials"]

[[clients]]
id = "{}"
type = "confidential"
secret = "{}"
allowed_scopes = "read payment"
grant_types = ["client_credentials"]
access_token_format = "jwt"

[[clients]]
id = "{}"
type = "confidential"
secret = "{}"
allowed_scopes = "read"
grant_types = ["client_credentials"]
dpop_bound_access_tokens = true
"#,
            CALLER.0, CALLER.1, DPOP_CALLER.0, DPOP_CALLER.1
        );
        let web_scopes = "\"read write payment openid profile email address phone offline_access\"";
        let config = demo_config(&[("allowed_scopes", web_scopes)], &extra);
        let clock = Arc::new(ManualClock::new(portcullis::SystemClock.now()));
        let provider = start_with_clock(Adapter::Axum, config, clock.clone()).await;
        let settings = |resource: &str| {
            let mut s = api::Settings::new(provider.issuer().clone(), resource);
            s.payment_max_age = Some(Duration::from_secs(PAYMENT_SECS));
            s.clock = clock.clone();
            s
        };
        let jwt = api::spawn(settings(&jwt_api), jwt_listener).await.unwrap();
        let mut introspecting = settings(&opaque_api);
        introspecting.validation = api::Validation::Introspection {
            client_id: opaque_api.clone(),
            client_secret: OPAQUE_API_SECRET.into(),
            cache_max_age: Duration::from_secs(CACHE_SECS),
        };
        let opaque = api::spawn(introspecting, opaque_listener).await.unwrap();
        let mut with_acr = settings(&acr_api);
        with_acr.payment_acr_values = vec![MFA.into()];
        let acr = api::spawn(with_acr, acr_listener).await.unwrap();
        Self {
            clock,
            provider,
            jwt_api,
            opaque_api,
            acr_api,
            _apis: [jwt, opaque, acr],
        }
    }

    fn issuer(&self) -> &Issuer {
        self.provider.issuer()
    }

    /// A `read` token of the service for `api`, and `GET /notes` of `api`, which accepts it.
    async fn accepted_read_token(&self, api: &str) -> (String, String) {
        let token = self.service_token(CALLER, "read", api).await;
        let url = format!("{api}/notes");
        let notes = call(Method::GET, &url, bearer(&token)).await;
        assert_eq!(notes.status, StatusCode::OK, "{notes:?}");
        assert_eq!(notes.body["notes"][0], "Buy milk");
        (token, url)
    }

    /// A client-credentials access token of `client` for `resource` (RFC 8707 §2).
    async fn service_token(&self, client: (&str, &str), scope: &str, resource: &str) -> String {
        self.service_token_for(client, scope, Some(resource)).await
    }

    /// A client-credentials access token of `client`, for `resource` if given.
    async fn service_token_for(
        &self,
        client: (&str, &str),
        scope: &str,
        resource: Option<&str>,
    ) -> String {
        let client = BasicClient::new(ClientId::new(client.0.into()))
            .set_client_secret(ClientSecret::new(client.1.into()))
            .set_token_uri(TokenUrl::new(self.provider.url("/token")).unwrap());
        let mut request = client
            .exchange_client_credentials()
            .add_scope(Scope::new(scope.into()));
        if let Some(resource) = resource {
            request = request.add_extra_param("resource", resource);
        }
        let token = request
            .request_async(&http_client())
            .await
            .expect("client credentials");
        token.access_token().secret().clone()
    }
}

/// An API's answer: status, every `WWW-Authenticate` value, the JSON body (`Null` if none).
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    challenges: Vec<String>,
    body: Value,
}

impl Answer {
    fn error(&self) -> Option<&str> {
        self.body["error"].as_str()
    }
}

async fn call(method: Method, url: &str, authorization: Option<String>) -> Answer {
    call_with(method, url, authorization, None).await
}

async fn call_with(
    method: Method,
    url: &str,
    authorization: Option<String>,
    dpop: Option<String>,
) -> Answer {
    let mut request = http_client().request(method, url);
    if let Some(a) = authorization {
        request = request.header("authorization", a);
    }
    if let Some(proof) = dpop {
        request = request.header("dpop", proof);
    }
    let response = request.send().await.expect("the API answers");
    let status = response.status();
    let challenges = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null);
    Answer {
        status,
        challenges,
        body,
    }
}

async fn json_of(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).expect("a JSON body")
}

fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

fn metadata_url(api: &str) -> String {
    format!("{api}/.well-known/oauth-protected-resource")
}

/// A 401 `invalid_token` of a bearer token: the error in the Bearer challenge, the DPoP
/// scheme offered beside it (RFC 6750 §3.1, RFC 9449 §7.2).
fn assert_invalid_token(answer: &Answer, api: &str, description: &str) {
    let metadata = metadata_url(api);
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.error(), Some("invalid_token"));
    assert_eq!(
        answer.challenges,
        [
            format!(
                "Bearer error=\"invalid_token\", error_description=\"{description}\", \
                 resource_metadata=\"{metadata}\""
            ),
            format!(
                "DPoP algs=\"{}\", resource_metadata=\"{metadata}\"",
                dpop_algs()
            ),
        ]
    );
}

/// `DPoP algs="…"` of the APIs (every algorithm the default policy allows).
fn dpop_algs() -> String {
    let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.as_str()).collect();
    names.join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwt_access_token_is_accepted_and_the_wrong_scope_is_forbidden() {
    let rig = Rig::start().await;
    let api = &rig.jwt_api;
    let (token, _) = rig.accepted_read_token(api).await;
    assert_eq!(token.matches('.').count(), 2, "a JWT access token");
    let me = call(Method::GET, &format!("{api}/whoami"), bearer(&token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["aud"], json!([api]));
    assert_eq!(me.body["client_id"], CALLER.0);
    assert_eq!(me.body["iss"], rig.issuer().as_str());

    // A token carrying `payment` but not `read`: 403 naming the scope (RFC 6750 §3.1).
    let payment_only = rig.service_token(CALLER, "payment", api).await;
    let refused = call(Method::GET, &format!("{api}/notes"), bearer(&payment_only)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error(), Some("insufficient_scope"));
    assert_eq!(
        refused.challenges,
        [format!(
            "Bearer error=\"insufficient_scope\", error_description=\"{FORBIDDEN_DESCRIPTION}\", \
             scope=\"read\", resource_metadata=\"{}\"",
            metadata_url(api)
        )]
    );

    // A JWT access token without `resource` is for the issuer (`aud`), not for this API
    // (RFC 9068 §4); the other API's opaque token is no JWT at all.
    let for_the_issuer = rig.service_token_for(CALLER, "read", None).await;
    let for_the_other = rig.service_token(CALLER, "read", &rig.opaque_api).await;
    for (token, description) in [
        (for_the_issuer, "the token is not meant for this resource"),
        (for_the_other, "the token is malformed"),
    ] {
        let refused = call(Method::GET, &format!("{api}/notes"), bearer(&token)).await;
        assert_invalid_token(&refused, api, description);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_jwt_access_token_is_refused() {
    let rig = Rig::start().await;
    let api = &rig.jwt_api;
    let (token, url) = rig.accepted_read_token(api).await;

    // The demo's access tokens live an hour; the API tolerates a minute of skew.
    rig.clock.advance(3600 + 61);
    let expired = call(Method::GET, &url, bearer(&token)).await;
    assert_invalid_token(&expired, api, "the token has expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opaque_token_is_introspected_and_refused_once_revoked_past_the_cache_bound() {
    let rig = Rig::start().await;
    let api = &rig.opaque_api;
    let (token, url) = rig.accepted_read_token(api).await;
    assert_eq!(token.matches('.').count(), 0, "an opaque access token");

    // Revoked at the provider (RFC 7009)...
    let revoked = http_client()
        .post(rig.provider.url("/revoke"))
        .basic_auth(CALLER.0, Some(CALLER.1))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    // ... still accepted while the API's cached answer lasts (the documented delay) ...
    rig.clock.advance(CACHE_SECS - 1);
    let cached = call(Method::GET, &url, bearer(&token)).await;
    assert_eq!(cached.status, StatusCode::OK);
    // ... and refused once it has passed.
    rig.clock.advance(2);
    let refused = call(Method::GET, &url, bearer(&token)).await;
    assert_invalid_token(&refused, api, "the token is not active");
}

/// A client's DPoP key and its proofs (RFC 9449 §4.2).
struct DpopKey(SigningKey);

impl DpopKey {
    fn proof(&self, method: &str, url: &str, now: UnixTime, token: Option<&str>) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.0.public_jwk()});
        let mut claims = json!({
            "jti": URL_SAFE_NO_PAD.encode(ring::rand::generate::<[u8; 16]>(&SystemRandom::new()).unwrap().expose()),
            "htm": method, "htu": url, "iat": now.secs(),
        });
        if let Some(token) = token {
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(digest(&SHA256, token.as_bytes())));
        }
        let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        let input = format!("{}.{}", b64(&header), b64(&claims));
        let signature = self.0.sign(input.as_bytes(), &SystemRandom::new()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpop_bound_token_without_its_proof_is_refused_with_the_dpop_challenge() {
    let rig = Rig::start().await;
    let api = &rig.jwt_api;
    let key = DpopKey(SigningKey::generate("k", Algorithm::ES256, &SystemRandom::new()).unwrap());
    let token_url = rig.provider.url("/token");
    let response = http_client()
        .post(&token_url)
        .basic_auth(DPOP_CALLER.0, Some(DPOP_CALLER.1))
        .header("dpop", key.proof("POST", &token_url, rig.clock.now(), None))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "read"),
            ("resource", api),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_of(response).await;
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap();
    let url = format!("{api}/notes");
    let metadata = metadata_url(api);

    // With its proof: accepted.
    let proof = key.proof("GET", &url, rig.clock.now(), Some(token));
    let ok = call_with(
        Method::GET,
        &url,
        Some(format!("DPoP {token}")),
        Some(proof),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    // As a bearer token, without a proof: 401 challenged with the DPoP scheme (RFC 9449 §7.1).
    let stolen = call(Method::GET, &url, bearer(token)).await;
    assert_eq!(stolen.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stolen.error(), Some("invalid_token"));
    assert_eq!(
        stolen.challenges,
        [format!(
            "Bearer resource_metadata=\"{metadata}\""
        ),
        format!(
            "DPoP error=\"invalid_token\", error_description=\"the access token is DPoP-bound: \
             present it with the DPoP scheme and a proof\", algs=\"{}\", resource_metadata=\"{metadata}\"",
            dpop_algs(),
        )]
    );
    // With the DPoP scheme but no proof: `invalid_dpop_proof`.
    let unproven = call(Method::GET, &url, Some(format!("DPoP {token}"))).await;
    assert_eq!(unproven.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unproven.error(), Some("invalid_dpop_proof"));
    assert_eq!(
        unproven.challenges,
        [
            format!("Bearer resource_metadata=\"{metadata}\""),
            format!(
                "DPoP error=\"invalid_dpop_proof\", error_description=\"the DPoP scheme needs a \
             DPoP proof\", algs=\"{}\", resource_metadata=\"{metadata}\"",
                dpop_algs(),
            )
        ]
    );
}

/// An authorization request of `client` for `scopes` at `api` (RFC 8707 `resource`), with
/// PKCE S256 and the `extra` parameters.
fn authorization(
    client: &CodeClient,
    api: &str,
    scopes: &[&str],
    extra: &[(&str, String)],
) -> (Url, CsrfToken, PkceCodeVerifier) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(scopes.iter().map(|s| Scope::new((*s).into())))
        .add_extra_param("resource", api)
        .set_pkce_challenge(challenge);
    for (name, value) in extra {
        request = request.add_extra_param(*name, value.clone());
    }
    let (url, state) = request.url();
    (url, state, verifier)
}

/// Opens `url`, which must show the login form (a signed-in user too, when the request asks
/// for a fresher login), signs in, and approves unless the consent is remembered: where the
/// provider redirected.
async fn log_in_and_approve(browser: &Browser, url: &Url) -> Url {
    let login = browser.get(url).await;
    assert!(login.is_login(), "{}", login.body);
    let after_login = browser.log_in(&login, &DEMO_USER).await;
    if after_login.status == StatusCode::SEE_OTHER {
        return after_login.redirect();
    }
    browser.decide(&after_login, Decision::ApproveAll).await
}

/// The code of `redirect` (`state` checked) exchanged with `verifier`.
async fn redeem(
    client: &CodeClient,
    redirect: &Url,
    state: &CsrfToken,
    verifier: PkceCodeVerifier,
) -> BasicTokenResponse {
    client
        .exchange_code(code_from(redirect, state))
        .set_pkce_verifier(verifier)
        .request_async(&http_client())
        .await
        .expect("the code is exchanged")
}

/// The tokens of a sign-in answered straight back to the client (its consent remembered).
async fn redeem_signed_in(
    client: &CodeClient,
    signed_in: &Page,
    state: &CsrfToken,
    verifier: PkceCodeVerifier,
) -> BasicTokenResponse {
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    redeem(client, &signed_in.redirect(), state, verifier).await
}

/// The code from a successful redirect, `state` checked.
fn code_from(redirect: &Url, state: &CsrfToken) -> AuthorizationCode {
    assert_eq!(query_param(redirect, "error"), None, "{redirect}");
    assert_eq!(
        query_param(redirect, "state").as_deref(),
        Some(state.secret().as_str())
    );
    AuthorizationCode::new(query_param(redirect, "code").expect("a code"))
}

/// Issue 17, point 7: power that fades with the age of the login. `payment` works right
/// after the login; once its lifetime has passed, refreshes keep `read` working, but the API
/// asks for a fresh login (RFC 9470 §3: `insufficient_user_authentication`, `max_age`); the
/// client asks for one (`max_age`), the user signs in again, and the payment goes through.
/// With JWT access tokens, and with opaque ones whose introspection tells of the login
/// (`auth_time`, RFC 9470 §6.2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_faded_payment_scope_comes_back_with_a_fresh_login() {
    let rig = Rig::start().await;
    for api in [&rig.jwt_api, &rig.opaque_api] {
        faded_payment_walk(&rig, api).await;
    }
}

async fn faded_payment_walk(rig: &Rig, api: &str) {
    let (notes, payments) = (format!("{api}/notes"), format!("{api}/payments"));
    let http = http_client();
    let client = code_client(&rig.provider, &DEMO_WEB_CLIENT, WEB_REDIRECT);
    let browser = Browser::new();
    let scopes = ["openid", "offline_access", "read", "payment"];

    let (url, state, verifier) = authorization(&client, api, &scopes, &[]);
    let redirect = log_in_and_approve(&browser, &url).await;
    let token = redeem(&client, &redirect, &state, verifier).await;
    let access = token.access_token().secret();
    assert_eq!(
        call(Method::POST, &payments, bearer(access)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(Method::GET, &notes, bearer(access)).await.status,
        StatusCode::OK
    );

    // The payment scope's lifetime passes; every refresh keeps `read` alive without it.
    let mut refresh_token = token.refresh_token().expect("a refresh token").clone();
    let step_up = format!(
        "Bearer error=\"insufficient_user_authentication\", error_description=\
         \"{STEP_UP_DESCRIPTION}\", max_age=\"{PAYMENT_SECS}\", resource_metadata=\"{}\"",
        metadata_url(api)
    );
    // Every 401 challenges each scheme the API accepts, the error in the token's (RFC 9449 §7.2).
    let dpop = format!(
        "DPoP algs=\"{}\", resource_metadata=\"{}\"",
        dpop_algs(),
        metadata_url(api)
    );
    for _ in 0..2 {
        rig.clock.advance(PAYMENT_SECS + 1);
        let refreshed = client
            .exchange_refresh_token(&refresh_token)
            .request_async(&http)
            .await
            .expect("the refresh token is accepted");
        let scopes: Vec<String> = refreshed
            .scopes()
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(!scopes.contains(&"payment".to_owned()), "{scopes:?}");
        let access = refreshed.access_token().secret();
        assert_eq!(
            call(Method::GET, &notes, bearer(access)).await.status,
            StatusCode::OK
        );
        let refused = call(Method::POST, &payments, bearer(access)).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert_eq!(refused.error(), Some("insufficient_user_authentication"));
        assert_eq!(refused.challenges, [step_up.clone(), dpop.clone()]);
        refresh_token = refreshed.refresh_token().unwrap_or(&refresh_token).clone();
    }

    // The client asks for a login no older than the challenge's max_age: the signed-in
    // browser gets the login form again (OpenID Connect Core §3.1.2.1).
    let max_age = [("max_age", PAYMENT_SECS.to_string())];
    let (url, state, verifier) = authorization(&client, api, &scopes, &max_age);
    let redirect = log_in_and_approve(&browser, &url).await;
    let token = redeem(&client, &redirect, &state, verifier).await;
    let paid = call(
        Method::POST,
        &payments,
        bearer(token.access_token().secret()),
    )
    .await;
    assert_eq!(paid.status, StatusCode::OK, "{paid:?}");
    assert_eq!(paid.body["paid_by"], DEMO_USER.username);
}

/// Issue 17, point 5: the MCP authorization walk. The client knows only the API's URL: a
/// 401 names the API's RFC 9728 document, which names the authorization server, whose RFC
/// 8414 metadata names its endpoints; the client registers (RFC 7591), authorizes with
/// PKCE and `resource` = the API (RFC 8707), and calls the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_style_client_discovers_registers_authorizes_and_calls_the_api() {
    let rig = Rig::start().await;
    let api = &rig.jwt_api;
    let http = http_client();
    let get_json = |url: String| {
        let http = http.clone();
        async move {
            let response = http.get(&url).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{url}");
            json_of(response).await
        }
    };

    // 1. No token: 401 with `resource_metadata` (RFC 9728 §5.1), in every scheme offered.
    let first = call(Method::GET, &format!("{api}/notes"), None).await;
    assert_eq!(first.status, StatusCode::UNAUTHORIZED);
    let metadata = metadata_url(api);
    assert_eq!(
        first.challenges,
        [
            format!("Bearer resource_metadata=\"{metadata}\""),
            format!(
                "DPoP algs=\"{}\", resource_metadata=\"{metadata}\"",
                dpop_algs()
            ),
        ]
    );
    let named = first.challenges[0]
        .split("resource_metadata=\"")
        .nth(1)
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap();

    // 2. The protected resource metadata: this API, and who issues its tokens.
    let resource = get_json(named.to_owned()).await;
    assert_eq!(resource["resource"], api.as_str());
    let issuer = resource["authorization_servers"][0].as_str().unwrap();
    assert_eq!(issuer, rig.issuer().as_str());

    // 3. The authorization server's metadata (RFC 8414 §3).
    let server = get_json(format!("{issuer}/.well-known/oauth-authorization-server")).await;
    assert_eq!(server["issuer"], issuer);
    let methods = server["code_challenge_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.contains(&json!("S256")));
    let endpoint = |name: &str| server[name].as_str().unwrap().to_owned();

    // 4. Dynamic client registration (RFC 7591 §3): a public client with a loopback redirect.
    let redirect_uri = "http://127.0.0.1:33418/callback";
    let registered = http
        .post(endpoint("registration_endpoint"))
        .header("content-type", "application/json")
        .body(
            json!({
                "client_name": "An MCP client",
                "application_type": "native",
                "redirect_uris": [redirect_uri],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
                "scope": "read",
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    let status = registered.status();
    let registered = json_of(registered).await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let client_id = registered["client_id"].as_str().unwrap();

    // 5. Authorization code with PKCE and the API as `resource`.
    let client = BasicClient::new(ClientId::new(client_id.into()))
        .set_auth_type(AuthType::RequestBody)
        .set_auth_uri(AuthUrl::new(endpoint("authorization_endpoint")).unwrap())
        .set_token_uri(TokenUrl::new(endpoint("token_endpoint")).unwrap())
        .set_redirect_uri(RedirectUrl::new(redirect_uri.into()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("read".into()))
        .add_extra_param("resource", api)
        .set_pkce_challenge(challenge)
        .url();
    let redirect = Browser::new()
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    assert!(redirect.as_str().starts_with(redirect_uri), "{redirect}");
    let token = client
        .exchange_code(code_from(&redirect, &state))
        .set_pkce_verifier(verifier)
        .add_extra_param("resource", api)
        .request_async(&http)
        .await
        .expect("the code is exchanged");

    // 6. The API answers.
    let access = token.access_token().secret();
    let notes = call(Method::GET, &format!("{api}/notes"), bearer(access)).await;
    assert_eq!(notes.status, StatusCode::OK, "{notes:?}");
    assert_eq!(notes.body["owner"], DEMO_USER.username);
    let me = call(Method::GET, &format!("{api}/whoami"), bearer(access)).await;
    assert_eq!(me.body["aud"], json!([api]));
    assert_eq!(me.body["client_id"], client_id);
}

/// The demo user's TOTP key: `DEMO_USER_TOTP_SECRET` ("JBSWY3DPEHPK3PXP" twice) decoded
/// here by hand, so the test shares nothing with the provider's TOTP code.
const DEMO_TOTP_KEY: &[u8] = b"Hello!\xde\xad\xbe\xefHello!\xde\xad\xbe\xef";

/// The code of `key` at `now` (RFC 6238 §4: 30-second steps, HMAC-SHA-1, RFC 4226 §5.3's
/// dynamic truncation to 6 digits), with the RustCrypto `hmac` and `sha1` crates.
fn totp(key: &[u8], now: UnixTime) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key).unwrap();
    mac.update(&(now.secs() / 30).to_be_bytes());
    let mac = mac.finalize().into_bytes();
    let offset = usize::from(mac[19] & 0xf);
    let word = u32::from_be_bytes(mac[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:06}", word % 1_000_000)
}

/// Point 6's step-up (RFC 9470): an `acr` step-up answered by a login with a second factor,
/// then a `max_age` one, in plain OAuth (no OpenID Connect: the access token carries the
/// login's `acr` anyway, RFC 9470 §6.1). The API's payments need [`MFA`]: a password-only
/// token gets 401 `insufficient_user_authentication` naming it in `acr_values` (§3); the
/// client asks for it (`acr_values`, §4), the signed-in browser gets the login form again,
/// where a code is required; a wrong one, and then a replayed one, fail; the right one gives
/// a token the API accepts. Once that login is older than the API's `max_age`, the client
/// asks with `max_age` and a new login passes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acr_step_up_is_answered_by_a_login_with_a_one_time_code() {
    let rig = Rig::start().await;
    let api = &rig.acr_api;
    let (payments, whoami) = (format!("{api}/payments"), format!("{api}/whoami"));
    let client = code_client(&rig.provider, &DEMO_WEB_CLIENT, WEB_REDIRECT);
    let browser = Browser::new();
    let scopes = ["read", "payment"];
    let pay = |token: BasicTokenResponse| {
        let payments = payments.clone();
        async move {
            let access = bearer(token.access_token().secret());
            call(Method::POST, &payments, access).await
        }
    };
    let challenge = format!(
        "Bearer error=\"insufficient_user_authentication\", error_description=\
         \"{STEP_UP_DESCRIPTION}\", acr_values=\"{MFA}\", max_age=\"{PAYMENT_SECS}\", \
         resource_metadata=\"{}\"",
        metadata_url(api)
    );
    let assert_step_up = |refused: &Answer| {
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{refused:?}");
        assert_eq!(refused.error(), Some("insufficient_user_authentication"));
        assert_eq!(refused.challenges[0], challenge);
    };

    // A password alone: the token has no acr, and the API wants more.
    let (url, state, verifier) = authorization(&client, api, &scopes, &[]);
    let redirect = browser
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    let token = redeem(&client, &redirect, &state, verifier).await;
    let me = call(Method::GET, &whoami, bearer(token.access_token().secret())).await;
    assert_eq!(me.body["acr"], Value::Null, "{me:?}");
    assert_step_up(&pay(token).await);

    // The client asks for the class: the signed-in browser must log in again, with a code.
    let mfa = [("acr_values", MFA.to_owned())];
    let (url, state, verifier) = authorization(&client, api, &scopes, &mfa);
    let login = browser.get(&url).await;
    assert!(login.is_login(), "{}", login.body);
    assert!(login.body.contains("name=\"otp\""), "{}", login.body);
    let without_code = browser.log_in(&login, &DEMO_USER).await;
    assert_eq!(without_code.status, StatusCode::UNAUTHORIZED);
    assert!(without_code.is_login(), "{}", without_code.body);
    let now = rig.clock.now();
    let code = totp(DEMO_TOTP_KEY, now);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    let refused = browser
        .log_in_with_code(&without_code, &DEMO_USER, &wrong)
        .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.is_login(), "{}", refused.body);
    let signed_in = browser.log_in_with_code(&refused, &DEMO_USER, &code).await;
    let token = redeem_signed_in(&client, &signed_in, &state, verifier).await;
    let access = bearer(token.access_token().secret());
    let me = call(Method::GET, &whoami, access).await;
    assert_eq!(me.body["acr"], MFA, "{me:?}");
    let paid = pay(token).await;
    assert_eq!(paid.status, StatusCode::OK, "{paid:?}");
    assert_eq!(paid.body["paid_by"], DEMO_USER.username);

    // The same code again, in another browser, within its step: refused (RFC 6238 §5.2).
    let other = Browser::new();
    let (url, _, _) = authorization(&client, api, &scopes, &mfa);
    let login = other.get(&url).await;
    let replayed = other.log_in_with_code(&login, &DEMO_USER, &code).await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED);
    assert!(replayed.is_login(), "{}", replayed.body);

    // Past the API's max_age the login is too old; the client asks for a fresh one with
    // max_age (RFC 9470 §4), which the signed-in session cannot satisfy: a new login.
    rig.clock.advance(PAYMENT_SECS + 1);
    let (url, state, verifier) = authorization(&client, api, &scopes, &mfa);
    let redirect = browser
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    let token = redeem(&client, &redirect, &state, verifier).await;
    assert_step_up(&pay(token).await);
    let fresh = [
        ("acr_values", MFA.to_owned()),
        ("max_age", PAYMENT_SECS.to_string()),
    ];
    let (url, state, verifier) = authorization(&client, api, &scopes, &fresh);
    let login = browser.get(&url).await;
    assert!(login.is_login(), "{}", login.body);
    let code = totp(DEMO_TOTP_KEY, rig.clock.now());
    let signed_in = browser.log_in_with_code(&login, &DEMO_USER, &code).await;
    let token = redeem_signed_in(&client, &signed_in, &state, verifier).await;
    let paid = pay(token).await;
    assert_eq!(paid.status, StatusCode::OK, "{paid:?}");
}
