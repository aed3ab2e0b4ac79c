//! The example provider as an OpenID Provider for an independent relying party, the
//! `openidconnect` crate: discovery from the issuer URL alone, the code flow with PKCE and a
//! nonce, ID tokens verified by the crate against the provider's JWKS with every signing
//! algorithm, UserInfo, refresh, and RP-initiated logout; every test runs against the
//! provider on each adapter (`axum::…`, `actix::…`).

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJwsSigningAlgorithm, CoreTokenResponse,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AccessTokenHash, Audience, AuthType, AuthorizationCode, ClaimsVerificationError,
    ClientId, ClientSecret, CsrfToken, EndSessionUrl, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, HttpClientError, IssuerUrl, LogoutRequest, Nonce, NonceVerifier,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl,
    ProviderMetadataWithLogout, RedirectUrl, Scope, SubjectIdentifier, TokenResponse,
    UserInfoError,
};
use portcullis_e2e::provider::{DemoUser, Running, DEMO_USER, DEMO_WEB_CLIENT};
use portcullis_e2e::{
    demo_config, http_client, query_param, start_with, Adapter, Browser, Decision, Page,
};
use reqwest::StatusCode;
use url::Url;

/// The `[[clients]]` entry of `rp`, with `settings` besides.
fn registration(rp: &Rp, settings: &str) -> String {
    let kind = match rp.secret {
        Some(secret) => format!("type = \"confidential\"\nsecret = \"{secret}\""),
        None => "type = \"public\"".to_owned(),
    };
    format!(
        "[[clients]]\nid = \"{id}\"\n{kind}\nredirect_uris = [\"{registered}\"]\n\
         allowed_scopes = \"read openid profile email address phone offline_access\"\n\
         grant_types = [\"authorization_code\", \"refresh_token\"]\n\
         id_token_signed_response_alg = \"{alg}\"\n{settings}\n",
        id = rp.id,
        registered = rp.registered_redirect_uri,
        alg = rp.alg_name,
    )
}

/// Besides the demo configuration (where `demo-web` signs with RS256): a client for each
/// other algorithm, and a second user.
fn more() -> String {
    [
        registration(&PS256, ""),
        registration(&ES256, "require_auth_time = true"),
        registration(
            &EDDSA,
            "subject_type = \"pairwise\"\nsector_identifier = \"rp.example\"",
        ),
        "[[users]]\nusername = \"bob\"\npassword = \"builder\"\nclaims = { name = \"Bob\" }\n"
            .into(),
    ]
    .concat()
}

const BOB: DemoUser = DemoUser {
    username: "bob",
    password: "builder",
};

/// Starts the provider with [`more`] and `default_alg` as the default ID token algorithm,
/// so that its key is in the JWKS from the first request (see
/// `a_client_algorithm_other_than_the_default_is_published_before_use`).
async fn start(adapter: Adapter, default_alg: &str) -> Running {
    let alg = format!("\"{default_alg}\"");
    start_with(adapter, demo_config(&[("default_alg", &alg)], &more())).await
}

/// A relying party's registration, as the test knows it.
struct Rp {
    id: &'static str,
    secret: Option<&'static str>,
    /// Where it asks to be redirected.
    redirect_uri: &'static str,
    /// What it registered.
    registered_redirect_uri: &'static str,
    /// `id_token_signed_response_alg`, as the configuration and as the crate name it.
    alg_name: &'static str,
    alg: CoreJwsSigningAlgorithm,
}

const RS256: Rp = Rp {
    id: DEMO_WEB_CLIENT.id,
    secret: DEMO_WEB_CLIENT.secret,
    redirect_uri: "http://127.0.0.1:9000/callback",
    registered_redirect_uri: "http://127.0.0.1:9000/callback",
    alg_name: "RS256",
    alg: CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
};

const PS256: Rp = Rp {
    id: "rp-ps256",
    secret: Some("rp-ps256-secret"),
    redirect_uri: "http://127.0.0.1:9100/callback",
    registered_redirect_uri: "http://127.0.0.1:9100/callback",
    alg_name: "PS256",
    alg: CoreJwsSigningAlgorithm::RsaSsaPssSha256,
};

const ES256: Rp = Rp {
    id: "rp-es256",
    secret: None,
    // A loopback redirect matches on any port (RFC 8252 §7.3).
    redirect_uri: "http://127.0.0.1:9200/callback",
    registered_redirect_uri: "http://127.0.0.1/callback",
    alg_name: "ES256",
    alg: CoreJwsSigningAlgorithm::EcdsaP256Sha256,
};

const EDDSA: Rp = Rp {
    id: "rp-eddsa",
    secret: Some("rp-eddsa-secret"),
    redirect_uri: "http://127.0.0.1:9300/callback",
    registered_redirect_uri: "http://127.0.0.1:9300/callback",
    alg_name: "EdDSA",
    alg: CoreJwsSigningAlgorithm::EdDsa,
};

/// The scopes the journeys ask for, besides `openid`.
const REQUESTED: [&str; 5] = ["profile", "email", "address", "phone", "offline_access"];

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Discovers the provider from its issuer URL only (OpenID Connect Discovery 1.0 §4): the
/// metadata, then the JWKS it names.
async fn discover(server: &Running) -> ProviderMetadataWithLogout {
    let issuer = IssuerUrl::new(server.issuer().to_string()).expect("issuer URL");
    ProviderMetadataWithLogout::discover_async(issuer, &http_client())
        .await
        .expect("discovery")
}

fn client_for(metadata: &ProviderMetadataWithLogout, rp: &Rp) -> Client {
    let client = CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(rp.id.to_owned()),
        rp.secret.map(|s| ClientSecret::new(s.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(rp.redirect_uri.to_owned()).expect("redirect URL"));
    match rp.secret {
        Some(_) => client,
        None => client.set_auth_type(AuthType::RequestBody),
    }
}

/// A signed-in relying party: the tokens of a code flow, and what the ID token said.
struct SignedIn {
    client: Client,
    token: CoreTokenResponse,
    id_token: CoreIdToken,
    nonce: Nonce,
    sub: SubjectIdentifier,
    auth_time: Option<i64>,
}

/// An authorization URL with PKCE S256, a state and a nonce, for `openid` and `scopes`.
fn authorization(client: &Client, scopes: &[&str]) -> (Url, CsrfToken, Nonce, PkceCodeVerifier) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for s in scopes {
        request = request.add_scope(Scope::new((*s).to_owned()));
    }
    let (url, state, nonce) = request.url();
    (url, state, nonce, verifier)
}

/// The code of a successful redirect, after checking `state` and `iss` (RFC 9207).
fn code_from(server: &Running, rp: &Rp, redirect: &Url, state: &CsrfToken) -> AuthorizationCode {
    assert!(redirect.as_str().starts_with(rp.redirect_uri), "{redirect}");
    assert_eq!(
        query_param(redirect, "state").as_ref(),
        Some(state.secret())
    );
    assert_eq!(
        query_param(redirect, "iss").as_deref(),
        Some(server.issuer().as_str())
    );
    AuthorizationCode::new(query_param(redirect, "code").expect("a code"))
}

/// The code flow with PKCE, a nonce and `scopes` (besides `openid`), `user` approving only
/// `approve` of them; the ID token verified (signature with `rp.alg`, nonce, `at_hash`).
async fn sign_in(
    server: &Running,
    browser: &Browser,
    user: &DemoUser,
    rp: &Rp,
    scopes: &[&str],
    approve: &[&str],
) -> SignedIn {
    let client = client_for(&discover(server).await, rp);
    let (url, state, nonce, verifier) = authorization(&client, scopes);
    let redirect = browser
        .authorize(&url, user, Decision::Approve(approve))
        .await;
    let code = code_from(server, rp, &redirect, &state);
    let token = client
        .exchange_code(code)
        .expect("a token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&http_client())
        .await
        .expect("the code is exchanged");
    let id_token = token.id_token().expect("an ID token").clone();
    let (sub, auth_time) = verify(&client, rp, &id_token, token.access_token(), &nonce);
    SignedIn {
        client,
        token,
        id_token,
        nonce,
        sub,
        auth_time,
    }
}

/// Verifies an ID token as the crate does for a relying party (OpenID Connect Core §3.1.3.7):
/// signed by a key of the discovered JWKS with the client's algorithm and no other, `iss`,
/// `aud`, `exp`, the nonce; and `at_hash` against the access token (§3.1.3.8). Returns `sub`
/// and `auth_time`.
fn verify(
    client: &Client,
    rp: &Rp,
    id_token: &CoreIdToken,
    access_token: &AccessToken,
    nonce: impl NonceVerifier,
) -> (SubjectIdentifier, Option<i64>) {
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs([rp.alg.clone()]);
    let claims = id_token
        .claims(&verifier, nonce)
        .expect("the ID token verifies");
    let alg = id_token.signing_alg().expect("a signature algorithm");
    assert_eq!(alg, &rp.alg);
    let key = id_token
        .signing_key(&verifier)
        .expect("its key is in the JWKS");
    let expected = AccessTokenHash::from_token(access_token, alg, key).expect("at_hash");
    assert_eq!(claims.access_token_hash(), Some(&expected));
    assert_eq!(claims.audiences(), &[Audience::new(rp.id.to_owned())]);
    (
        claims.subject().clone(),
        claims.auth_time().map(|t| t.timestamp()),
    )
}

async fn userinfo(
    client: &Client,
    token: &AccessToken,
    sub: &SubjectIdentifier,
) -> Result<CoreUserInfoClaims, UserInfoError<HttpClientError<reqwest::Error>>> {
    client
        .user_info(token.clone(), Some(sub.clone()))
        .expect("a UserInfo endpoint")
        .request_async(&http_client())
        .await
}

/// The journey of one relying party: sign in, UserInfo with the claims of the approved
/// scopes only, refresh for a new ID token about the same user.
async fn journey(adapter: Adapter, rp: &Rp, approve: &[&str]) -> SignedIn {
    let server = start(adapter, rp.alg_name).await;
    let browser = Browser::new();
    let signed_in = sign_in(&server, &browser, &DEMO_USER, rp, &REQUESTED, approve).await;
    let SignedIn { client, token, .. } = &signed_in;

    // UserInfo: `sub` as in the ID token, and the claims of each approved scope, no others
    // (OpenID Connect Core §5.3.2, §5.4).
    let info = userinfo(client, token.access_token(), &signed_in.sub)
        .await
        .expect("UserInfo answers");
    assert_eq!(info.subject(), &signed_in.sub);
    let granted = |scope: &str| approve.contains(&scope);
    let name = info.name().and_then(|n| n.get(None)).map(|n| n.as_str());
    assert_eq!(name, granted("profile").then_some("Alice Liddell"));
    let family = info
        .family_name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str());
    assert_eq!(family, granted("profile").then_some("Liddell"));
    let email = info.email().map(|e| e.as_str());
    assert_eq!(email, granted("email").then_some("alice@example.com"));
    assert_eq!(info.email_verified(), granted("email").then_some(true));
    let locality = info
        .address()
        .and_then(|a| a.locality.as_ref())
        .map(|l| l.as_str());
    assert_eq!(locality, granted("address").then_some("Oxford"));
    let phone = info.phone_number().map(|p| p.as_str());
    assert_eq!(phone, granted("phone").then_some("+44 1865 276150"));

    // Refresh (offline_access was approved): a new ID token about the same user, with the
    // original auth_time and no nonce (OpenID Connect Core §12.2).
    let refresh_token = token.refresh_token().expect("a refresh token");
    let refreshed = client
        .exchange_refresh_token(refresh_token)
        .expect("a token endpoint")
        .request_async(&http_client())
        .await
        .expect("the refresh token is accepted");
    let id_token = refreshed.id_token().expect("a new ID token");
    assert_ne!(id_token.to_string(), signed_in.id_token.to_string());
    let no_nonce = |n: Option<&Nonce>| match n {
        None => Ok(()),
        Some(_) => Err("a nonce in a refreshed ID token".to_owned()),
    };
    let (sub, auth_time) = verify(client, rp, id_token, refreshed.access_token(), no_nonce);
    assert_eq!(sub, signed_in.sub);
    assert_eq!(auth_time, signed_in.auth_time);
    signed_in
}

async fn rs256_confidential_client(adapter: Adapter) {
    let approve = ["openid", "email", "offline_access"];
    let signed_in = journey(adapter, &RS256, &approve).await;
    // A public subject: the username.
    assert_eq!(signed_in.sub.as_str(), DEMO_USER.username);
    assert_eq!(signed_in.auth_time, None, "not required, not asked for");
}

async fn ps256_confidential_client(adapter: Adapter) {
    let approve = ["openid", "profile", "address", "offline_access"];
    journey(adapter, &PS256, &approve).await;
}

async fn es256_public_client_requiring_auth_time(adapter: Adapter) {
    let approve: Vec<&str> = ["openid"].into_iter().chain(REQUESTED).collect();
    let signed_in = journey(adapter, &ES256, &approve).await;
    assert!(signed_in.auth_time.is_some(), "require_auth_time");
}

async fn eddsa_pairwise_client(adapter: Adapter) {
    let approve = ["openid", "phone", "offline_access"];
    let signed_in = journey(adapter, &EDDSA, &approve).await;
    // A pairwise subject (OpenID Connect Core §8.1): not the username, and not what a public
    // client sees.
    assert_ne!(signed_in.sub.as_str(), DEMO_USER.username);
    assert_eq!(signed_in.sub.as_str().len(), 43, "base64url SHA-256");
}

/// A relying party fetches the JWKS before the first ID token it verifies (this crate at
/// discovery, and never again), so the key of a client's `id_token_signed_response_alg`
/// must be published before it first signs. Today the engine creates keys lazily: RS256 and
/// the default algorithm on the first JWKS request, any other algorithm on its first ID
/// token, which that key signs at once; the relying party then finds no matching key.
async fn a_client_algorithm_other_than_the_default_is_published_before_use(adapter: Adapter) {
    let server = start(adapter, "RS256").await;
    let browser = Browser::new();
    sign_in(&server, &browser, &DEMO_USER, &ES256, &[], &["openid"]).await;
}

async fn the_relying_party_refuses_a_wrong_nonce_and_foreign_algorithms(adapter: Adapter) {
    let server = start(adapter, EDDSA.alg_name).await;
    let browser = Browser::new();
    let signed_in = sign_in(&server, &browser, &DEMO_USER, &EDDSA, &[], &["openid"]).await;
    let SignedIn {
        client, id_token, ..
    } = &signed_in;
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs([EDDSA.alg.clone()]);
    let other = Nonce::new("another request's nonce".to_owned());
    assert!(matches!(
        id_token.claims(&verifier, &other),
        Err(ClaimsVerificationError::InvalidNonce(_))
    ));
    // RS256 only (the crate's default): an EdDSA token is refused.
    let rs256_only = client
        .id_token_verifier()
        .set_allowed_algs([RS256.alg.clone()]);
    assert!(matches!(
        id_token.claims(&rs256_only, &signed_in.nonce),
        Err(ClaimsVerificationError::SignatureVerification(_))
    ));
    // Without offline_access: no refresh token in OpenID mode (OpenID Connect Core §11).
    assert!(signed_in.token.refresh_token().is_none());
}

async fn userinfo_and_prompt_none_errors(adapter: Adapter) {
    let server = start(adapter, "RS256").await;
    let metadata = discover(&server).await;
    let client = client_for(&metadata, &RS256);
    let browser = Browser::new();
    let alice = SubjectIdentifier::new(DEMO_USER.username.to_owned());

    // prompt=none without a session: login_required, redirected (OpenID Connect Core
    // §3.1.2.6).
    let (url, state, _, _) = authorization(&client, &[]);
    let url = Url::parse(&format!("{url}&prompt=none")).expect("URL");
    let redirect = browser.get(&url).await.redirect();
    assert!(
        redirect.as_str().starts_with(RS256.redirect_uri),
        "{redirect}"
    );
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(
        query_param(&redirect, "state").as_ref(),
        Some(state.secret())
    );

    // An unknown access token: 401 invalid_token (RFC 6750 §3.1).
    let unknown = AccessToken::new("not-a-token".to_owned());
    let refused = userinfo(&client, &unknown, &alice).await;
    assert_refusal(refused, StatusCode::UNAUTHORIZED, "invalid_token");

    // A token without `openid` (a plain OAuth code flow): 403 insufficient_scope.
    let oauth = client.clone().disable_openid_scope();
    let (url, state, _, verifier) = authorization(&oauth, &["read"]);
    let redirect = browser
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    let token = oauth
        .exchange_code(code_from(&server, &RS256, &redirect, &state))
        .expect("a token endpoint")
        .set_pkce_verifier(verifier)
        .request_async(&http_client())
        .await
        .expect("the code is exchanged");
    assert!(token.id_token().is_none(), "no ID token without openid");
    let refused = userinfo(&client, token.access_token(), &alice).await;
    assert_refusal(refused, StatusCode::FORBIDDEN, "insufficient_scope");
}

fn assert_refusal<T: std::fmt::Debug>(
    result: Result<T, UserInfoError<HttpClientError<reqwest::Error>>>,
    status: StatusCode,
    code: &str,
) {
    match result {
        Err(UserInfoError::Response(s, body, _)) => {
            assert_eq!(s, status);
            let body: serde_json::Value = serde_json::from_slice(&body).expect("a JSON error");
            assert_eq!(body["error"], code);
        }
        other => panic!("expected a {status} {code} error, got {other:?}"),
    }
}

fn end_session_endpoint(metadata: &ProviderMetadataWithLogout) -> EndSessionUrl {
    let logout = &metadata.additional_metadata().end_session_endpoint;
    logout.clone().expect("end_session_endpoint is advertised")
}

/// The RP-initiated logout request of `signed_in`, with `state`.
fn logout_url(
    metadata: &ProviderMetadataWithLogout,
    signed_in: &SignedIn,
    post_logout_redirect_uri: &str,
    state: &str,
) -> Url {
    LogoutRequest::from(end_session_endpoint(metadata))
        .set_id_token_hint(&signed_in.id_token)
        .set_post_logout_redirect_uri(
            PostLogoutRedirectUrl::new(post_logout_redirect_uri.to_owned()).expect("URL"),
        )
        .set_state(CsrfToken::new(state.to_owned()))
        .http_get_url()
}

async fn rp_initiated_logout(adapter: Adapter) {
    let server = start(adapter, "RS256").await;
    let metadata = discover(&server).await;
    let browser = Browser::new();
    let back = DEMO_WEB_CLIENT
        .post_logout_redirect_uri
        .expect("demo-web registers one");
    let alice = sign_in(&server, &browser, &DEMO_USER, &RS256, &[], &["openid"]).await;

    // Only a registered post_logout_redirect_uri (RP-Initiated Logout 1.0 §3): an error
    // page, no redirect, and the session lives on.
    let url = logout_url(&metadata, &alice, "http://127.0.0.1:9000/elsewhere", "s0");
    assert_error_page(&browser.get(&url).await, "invalid_request");
    let (url, _, _, _) = authorization(&alice.client, &[]);
    let redirect = browser.get(&url).await.redirect();
    assert!(query_param(&redirect, "code").is_some(), "still signed in");

    // Another user's browser: the hint is not theirs, so they are asked first.
    let other_browser = Browser::new();
    sign_in(&server, &other_browser, &BOB, &RS256, &[], &["openid"]).await;
    let url = logout_url(&metadata, &alice, back, "s1");
    let confirmation = other_browser.get(&url).await;
    assert_eq!(confirmation.status, StatusCode::OK);
    let stayed = other_browser.confirm_logout(&confirmation, false).await;
    assert_eq!(stayed.status, StatusCode::OK);
    assert!(stayed.body.contains("still signed in"), "{}", stayed.body);
    let confirmation = other_browser.get(&url).await;
    let out = other_browser.confirm_logout(&confirmation, true).await;
    assert_eq!(out.redirect().as_str(), format!("{back}?state=s1"));

    // An id_token_hint naming the signed-in user: signed out at once, back to the client
    // with its state.
    let url = logout_url(&metadata, &alice, back, "s2");
    let redirect = browser.get(&url).await.redirect();
    assert_eq!(redirect.as_str(), format!("{back}?state=s2"));
    // Signed out: the next authorization asks for the password again.
    let (url, _, _, _) = authorization(&alice.client, &[]);
    assert!(browser.get(&url).await.is_login());

    // A forged hint: an error page (RP-Initiated Logout 1.0 §2).
    let mut forged = alice.id_token.to_string();
    forged.push('A');
    let endpoint = end_session_endpoint(&metadata);
    let url = Url::parse_with_params(endpoint.as_str(), [("id_token_hint", forged.as_str())])
        .expect("URL");
    assert_error_page(&browser.get(&url).await, "invalid_request");
}

/// The engine's error page for a request it will not redirect: 400 and the error `code`.
fn assert_error_page(page: &Page, code: &str) {
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let shown = format!("<code>{code}</code>");
    assert!(page.body.contains(&shown), "{}", page.body);
    assert_eq!(page.location, None);
}

async fn an_id_token_hint_for_another_user_needs_a_new_sign_in(adapter: Adapter) {
    let server = start(adapter, "RS256").await;
    let client = client_for(&discover(&server).await, &RS256);
    let alice_browser = Browser::new();
    let alice = sign_in(
        &server,
        &alice_browser,
        &DEMO_USER,
        &RS256,
        &[],
        &["openid"],
    )
    .await;
    let bob_browser = Browser::new();
    sign_in(&server, &bob_browser, &BOB, &RS256, &[], &["openid"]).await;

    let hinted = |prompt: &str| {
        let (url, _, _, _) = authorization(&client, &[]);
        let hint = alice.id_token.to_string();
        Url::parse(&format!("{url}&id_token_hint={hint}{prompt}")).expect("URL")
    };
    // Bob is signed in, the client expects Alice (OpenID Connect Core §3.1.2.1).
    let redirect = bob_browser.get(&hinted("&prompt=none")).await.redirect();
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("login_required")
    );
    assert!(bob_browser.get(&hinted("")).await.is_login());
    // Alice is: her remembered consent sends her straight back.
    let redirect = alice_browser.get(&hinted("&prompt=none")).await.redirect();
    assert!(query_param(&redirect, "code").is_some(), "{redirect}");
}

portcullis_e2e::on_each_adapter!(
    rs256_confidential_client,
    ps256_confidential_client,
    es256_public_client_requiring_auth_time,
    eddsa_pairwise_client,
    a_client_algorithm_other_than_the_default_is_published_before_use,
    the_relying_party_refuses_a_wrong_nonce_and_foreign_algorithms,
    userinfo_and_prompt_none_errors,
    rp_initiated_logout,
    an_id_token_hint_for_another_user_needs_a_new_sign_in,
);
