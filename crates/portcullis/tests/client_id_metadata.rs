//! Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document): a client
//! known only by the URL of its metadata document goes through the code flow; documents
//! that are not its own, too large, malformed or secret-based are refused (an error page
//! at the authorization endpoint, `invalid_client` at the token endpoint); the policy's
//! prefixes bound which URLs are fetched; a document is fetched once per cache lifetime, a
//! failure once per minute, concurrent lookups share one fetch.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::client_key::ClientKey;
use common::{
    approval, challenge, enc, error_of, location, query_param, Harness, ISSUER, VERIFIER,
};
use http::StatusCode;
use portcullis::core::{InteractionRequired, Issuer, ScopeSet, JWT_BEARER_ASSERTION_TYPE};
use portcullis::{
    BuildError, ClientIdMetadataDocuments, FetchError, Fetched, Fetcher, Provider, Stores,
    DOCUMENT_RETRY_AFTER, MAX_CONCURRENT_FETCHES,
};
use portcullis_store_memory::MemoryStore;
use serde_json::{json, Value};

const ID: &str = "https://app.example/oauth/client.json";
const REDIRECT: &str = "https://app.example/cb";

/// What the test fetcher answers for a URL.
#[derive(Clone)]
enum Answer {
    Document(Vec<u8>, Option<Duration>),
    Fails,
}

/// Serves documents from memory, counting fetches; yields once per fetch, so that
/// concurrent lookups overlap.
#[derive(Default)]
struct DocumentFetcher {
    answers: Mutex<HashMap<String, Answer>>,
    fetches: AtomicUsize,
}

impl DocumentFetcher {
    fn serve(&self, url: &str, answer: Answer) {
        self.answers.lock().unwrap().insert(url.into(), answer);
    }

    fn serve_json(&self, url: &str, doc: &Value, max_age: Option<u64>) {
        let body = serde_json::to_vec(doc).unwrap();
        self.serve(
            url,
            Answer::Document(body, max_age.map(Duration::from_secs)),
        );
    }

    fn count(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[portcullis::async_trait]
impl Fetcher for DocumentFetcher {
    async fn fetch(&self, _url: &str, _max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        unreachable!("documents are fetched with fetch_document")
    }

    async fn fetch_document(&self, url: &str, _max_bytes: usize) -> Result<Fetched, FetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        // Whatever it holds, however large: the engine bounds it too.
        match self.answers.lock().unwrap().get(url).cloned() {
            Some(Answer::Document(body, Some(age))) => Ok(Fetched::new(body).with_max_age(age)),
            Some(Answer::Document(body, None)) => Ok(Fetched::new(body)),
            Some(Answer::Fails) | None => Err(FetchError::Failed("unreachable".into())),
        }
    }
}

fn document(id: &str) -> Value {
    json!({
        "client_id": id,
        "client_name": "App",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code"],
    })
}

async fn harness(policy: ClientIdMetadataDocuments) -> (Harness, Arc<DocumentFetcher>) {
    let fetcher = Arc::new(DocumentFetcher::default());
    let f = fetcher.clone();
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.fetcher(f).client_id_metadata_documents(policy)
    })
    .await;
    (h, fetcher)
}

fn enabled() -> ClientIdMetadataDocuments {
    ClientIdMetadataDocuments::enabled(ScopeSet::parse("openid read").unwrap())
}

fn authorize_query(client_id: &str) -> String {
    format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=openid&state=st&code_challenge={}&code_challenge_method=S256",
        enc(client_id),
        enc(REDIRECT),
        challenge(VERIFIER)
    )
}

/// The authorization endpoint's answer for `client_id` is an error page, not a redirect.
async fn refused_at_authorize(h: &Harness, client_id: &str) {
    let r = h.respond(&authorize_query(client_id)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("location").is_none());
    let body = String::from_utf8_lossy(r.body());
    assert!(
        body.contains("invalid_request") && body.contains("unknown client"),
        "{body}"
    );
}

/// The token endpoint refuses `client_id` as `invalid_client`, 401.
async fn refused_at_token(h: &Harness, client_id: &str) {
    let body = format!(
        "grant_type=authorization_code&code=x&redirect_uri={}&code_verifier={VERIFIER}&client_id={}",
        enc(REDIRECT),
        enc(client_id)
    );
    let (status, json, _) = h.token(&body, None).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::UNAUTHORIZED, "invalid_client"),
        "{json}"
    );
}

#[tokio::test]
async fn a_client_known_by_its_document_runs_the_code_flow() {
    let (h, fetcher) = harness(enabled()).await;
    fetcher.serve_json(ID, &document(ID), None);
    let discovery: Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
    assert_eq!(discovery["client_id_metadata_document_supported"], true);

    let pending = h.pending(&authorize_query(ID)).await;
    let r = h
        .provider
        .approve(pending, approval("alice", "openid"))
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let code = query_param(location(&r).as_str(), "code").unwrap();
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}&client_id={}",
        enc(REDIRECT),
        enc(ID)
    );
    let (status, json, _) = h.token(&body, None).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(json["access_token"].is_string() && json["id_token"].is_string());
    let client = h.provider.client(ID).await.unwrap().unwrap();
    assert_eq!(client.id, ID);
    // One fetch served the whole flow.
    assert_eq!(fetcher.count(), 1);
}

/// A `private_key_jwt` client (the draft's other method) authenticates with an assertion
/// signed by a key of its document's `jwks`.
#[tokio::test]
async fn a_private_key_jwt_client_known_by_its_document() {
    let (h, fetcher) = harness(enabled()).await;
    let id = "https://app.example/service.json";
    let key = ClientKey::new("k1");
    let doc = json!({
        "client_id": id,
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["authorization_code"],
        "jwks": {"keys": [key.jwk]},
    });
    fetcher.serve_json(id, &doc, None);
    let pending = h.pending(&authorize_query(id)).await;
    let r = h
        .provider
        .approve(pending, approval("alice", "openid"))
        .await;
    let code = query_param(location(&r).as_str(), "code").unwrap();
    let claims = |jti: &str| {
        json!({
            "iss": id, "sub": id, "aud": ISSUER, "jti": jti,
            "iat": common::T0, "exp": common::T0 + 60,
        })
    };
    let body = |a: String| {
        format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}&client_assertion_type={}&client_assertion={a}",
            enc(REDIRECT),
            enc(JWT_BEARER_ASSERTION_TYPE)
        )
    };
    // Signed by another key: invalid_client.
    let other = ClientKey::new("k1").sign(&claims("2"));
    let (status, json, _) = h.token(&body(other), None).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    // Without an assertion, as a public client: invalid_client.
    refused_at_token(&h, id).await;
    let (status, json, _) = h.token(&body(key.sign(&claims("1"))), None).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(json["access_token"].is_string());
    assert_eq!(fetcher.count(), 1);
}

/// A client anyone can describe gets no tokens of its own: `client_credentials` in a
/// document makes it no client.
#[tokio::test]
async fn a_document_asking_for_client_credentials_is_refused() {
    let (h, fetcher) = harness(enabled()).await;
    let id = "https://app.example/machine.json";
    let key = ClientKey::new("k1");
    let doc = json!({
        "client_id": id,
        "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["client_credentials"],
        "scope": "read",
        "jwks": {"keys": [key.jwk]},
    });
    fetcher.serve_json(id, &doc, None);
    let assertion = key.sign(&json!({
        "iss": id, "sub": id, "aud": ISSUER, "jti": "1",
        "iat": common::T0, "exp": common::T0 + 60,
    }));
    let body = format!(
        "grant_type=client_credentials&scope=read&client_assertion_type={}&client_assertion={assertion}",
        enc(JWT_BEARER_ASSERTION_TYPE)
    );
    let (status, json, _) = h.token(&body, None).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::UNAUTHORIZED, "invalid_client"),
        "{json}"
    );
    assert_eq!(fetcher.count(), 1);
}

/// RFC 9700 §4.11.2: the document's redirect URIs are vouched for by nobody, so errors
/// before the user has seen the client are pages, never redirects (else any site could
/// make this server redirect anywhere); a registered client's are redirected.
#[tokio::test]
async fn errors_before_the_user_saw_a_document_client_are_not_redirected() {
    let (h, fetcher) = harness(enabled()).await;
    let evil = "https://evil.example/client.json";
    let phish = "https://evil.example/phish";
    let mut doc = document(evil);
    doc["redirect_uris"] = json!([phish]);
    fetcher.serve_json(evil, &doc, None);
    let query = format!(
        "response_type=code&client_id={}&redirect_uri={}&scope=nope&state=st&code_challenge={}&code_challenge_method=S256",
        enc(evil),
        enc(phish),
        challenge(VERIFIER)
    );
    let r = h.respond(&query).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("location").is_none());
    assert!(String::from_utf8_lossy(r.body()).contains("invalid_scope"));
    // prompt=none that needs the user: a page too.
    fetcher.serve_json(ID, &document(ID), None);
    let pending = h.pending(&authorize_query(ID)).await;
    let r = h
        .provider
        .cannot_interact(pending, InteractionRequired::Login)
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("location").is_none());
    assert!(String::from_utf8_lossy(r.body()).contains("login_required"));
    // The user saw the client and said no: back to the client.
    let pending = h.pending(&authorize_query(ID)).await;
    let r = h.provider.deny(pending).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // A registered client's errors are redirected.
    let r = h
        .respond(&format!(
            "response_type=code&client_id=web&redirect_uri={}&scope=nope&state=st&code_challenge={}&code_challenge_method=S256",
            enc(common::WEB_REDIRECT),
            challenge(VERIFIER)
        ))
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

/// Serves any URL's document once let through, counting the fetches that started.
struct GatedFetcher {
    open: tokio::sync::Semaphore,
    started: AtomicUsize,
}

impl GatedFetcher {
    fn new() -> Self {
        Self {
            open: tokio::sync::Semaphore::new(0),
            started: AtomicUsize::new(0),
        }
    }

    async fn until_started(&self, n: usize) {
        while self.started.load(Ordering::SeqCst) < n {
            tokio::task::yield_now().await;
        }
    }
}

#[portcullis::async_trait]
impl Fetcher for GatedFetcher {
    async fn fetch(&self, _url: &str, _max_bytes: usize) -> Result<Vec<u8>, FetchError> {
        unreachable!("documents are fetched with fetch_document")
    }

    async fn fetch_document(&self, url: &str, _max_bytes: usize) -> Result<Fetched, FetchError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        let _open = self.open.acquire().await;
        Ok(Fetched::new(serde_json::to_vec(&document(url)).unwrap()))
    }
}

async fn gated_harness() -> (Harness, Arc<GatedFetcher>) {
    let fetcher = Arc::new(GatedFetcher::new());
    let f = fetcher.clone();
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| {
        b.fetcher(f).client_id_metadata_documents(enabled())
    })
    .await;
    (h, fetcher)
}

/// A lookup the client abandons still caches what its fetch finds: dropping requests does
/// not make the server fetch a URL more than once per cache lifetime.
#[tokio::test]
async fn an_abandoned_lookup_still_counts() {
    let (h, fetcher) = gated_harness().await;
    tokio::select! {
        biased;
        _ = h.provider.client(ID) => panic!("the fetch is held"),
        () = fetcher.until_started(1) => {}
    }
    fetcher.open.add_permits(100);
    for _ in 0..3 {
        assert_eq!(h.provider.client(ID).await.unwrap().unwrap().id, ID);
    }
    assert_eq!(fetcher.started.load(Ordering::SeqCst), 1);
}

/// At most MAX_CONCURRENT_FETCHES documents are fetched at once: beyond them a lookup
/// finds no client, at once, and caches nothing.
#[tokio::test]
async fn fetches_at_once_are_bounded() {
    let (h, fetcher) = gated_harness().await;
    let url = |i: usize| format!("https://app.example/{i}.json");
    let held: Vec<_> = (0..MAX_CONCURRENT_FETCHES)
        .map(|i| {
            let (provider, url) = (h.provider.clone(), url(i));
            tokio::spawn(async move { provider.client(&url).await })
        })
        .collect();
    fetcher.until_started(MAX_CONCURRENT_FETCHES).await;
    let beyond = url(MAX_CONCURRENT_FETCHES);
    assert!(h.provider.client(&beyond).await.unwrap().is_none());
    assert_eq!(
        fetcher.started.load(Ordering::SeqCst),
        MAX_CONCURRENT_FETCHES
    );
    fetcher.open.add_permits(100);
    for lookup in held {
        assert!(lookup.await.unwrap().unwrap().is_some());
    }
    // Nothing was cached for it: now that fetches are free, it is fetched.
    assert!(h.provider.client(&beyond).await.unwrap().is_some());
}

#[tokio::test]
async fn off_by_default() {
    let fetcher = Arc::new(DocumentFetcher::default());
    fetcher.serve_json(ID, &document(ID), None);
    let f = fetcher.clone();
    let h = Harness::configured(Arc::new(MemoryStore::new()), ISSUER, |b| b.fetcher(f)).await;
    let discovery: Value = serde_json::from_slice(h.provider.discovery().body()).unwrap();
    assert!(discovery
        .get("client_id_metadata_document_supported")
        .is_none());
    refused_at_authorize(&h, ID).await;
    refused_at_token(&h, ID).await;
    assert_eq!(fetcher.count(), 0);
}

#[tokio::test]
async fn documents_that_do_not_describe_the_client_are_refused() {
    let (h, fetcher) = harness(enabled()).await;
    let mut secret = document("https://app.example/secret.json");
    secret["token_endpoint_auth_method"] = json!("client_secret_basic");
    let mut with_secret = document("https://app.example/with-secret.json");
    with_secret["client_secret"] = json!("s");
    let mut bad_redirect = document("https://app.example/bad-redirect.json");
    bad_redirect["redirect_uris"] = json!(["http://app.example/cb"]);
    let mut large = serde_json::to_vec(&document("https://app.example/large.json")).unwrap();
    large.resize(5 * 1024 + 1, b' ');
    for (url, doc) in [
        ("https://app.example/other.json", document(ID)),
        ("https://app.example/secret.json", secret),
        ("https://app.example/with-secret.json", with_secret),
        ("https://app.example/bad-redirect.json", bad_redirect),
    ] {
        fetcher.serve_json(url, &doc, None);
    }
    fetcher.serve(
        "https://app.example/large.json",
        Answer::Document(large, None),
    );
    fetcher.serve(
        "https://app.example/junk.json",
        Answer::Document(b"{not json".to_vec(), None),
    );
    fetcher.serve("https://app.example/down.json", Answer::Fails);
    for url in [
        "https://app.example/other.json",
        "https://app.example/secret.json",
        "https://app.example/with-secret.json",
        "https://app.example/bad-redirect.json",
        "https://app.example/large.json",
        "https://app.example/junk.json",
        "https://app.example/down.json",
    ] {
        refused_at_authorize(&h, url).await;
        refused_at_token(&h, url).await;
    }
    // Not client identifier URLs: never fetched.
    let before = fetcher.count();
    for id in [
        "http://app.example/c.json",
        "https://app.example/",
        "https://app.example/c#f",
    ] {
        refused_at_authorize(&h, id).await;
    }
    assert_eq!(fetcher.count(), before);
}

#[tokio::test]
async fn only_urls_under_the_policys_prefixes_are_fetched() {
    let policy = enabled().only_under(["https://trusted.example/apps/"]);
    let (h, fetcher) = harness(policy).await;
    let trusted = "https://trusted.example/apps/one.json";
    fetcher.serve_json(ID, &document(ID), None);
    fetcher.serve_json(trusted, &document(trusted), None);
    refused_at_authorize(&h, ID).await;
    refused_at_authorize(&h, "https://trusted.example/appsx/one.json").await;
    assert_eq!(fetcher.count(), 0);
    h.pending(&authorize_query(trusted)).await;
    assert_eq!(fetcher.count(), 1);
}

#[tokio::test]
async fn fetched_once_per_cache_lifetime() {
    let (h, fetcher) = harness(enabled()).await;
    fetcher.serve_json(ID, &document(ID), Some(300));
    h.pending(&authorize_query(ID)).await;
    h.clock.advance(299);
    h.pending(&authorize_query(ID)).await;
    assert_eq!(fetcher.count(), 1);
    // Stale: fetched again, and the new document applies.
    let mut moved = document(ID);
    moved["redirect_uris"] = json!(["https://app.example/new-cb"]);
    fetcher.serve_json(ID, &moved, Some(0));
    h.clock.advance(1);
    refused_at_authorize_redirect(&h).await;
    assert_eq!(fetcher.count(), 2);
    // max-age 0 (no-store) is held for the minimum, a minute.
    h.clock.advance(59);
    refused_at_authorize_redirect(&h).await;
    assert_eq!(fetcher.count(), 2);
    h.clock.advance(1);
    refused_at_authorize_redirect(&h).await;
    assert_eq!(fetcher.count(), 3);
}

/// The old redirect URI is no longer the client's: an error page.
async fn refused_at_authorize_redirect(h: &Harness) {
    let r = h.respond(&authorize_query(ID)).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("location").is_none());
}

#[tokio::test]
async fn a_failure_is_remembered_for_a_minute() {
    let (h, fetcher) = harness(enabled()).await;
    fetcher.serve(ID, Answer::Fails);
    refused_at_authorize(&h, ID).await;
    refused_at_token(&h, ID).await;
    assert_eq!(fetcher.count(), 1);
    fetcher.serve_json(ID, &document(ID), None);
    h.clock.advance(DOCUMENT_RETRY_AFTER.as_secs() - 1);
    refused_at_authorize(&h, ID).await;
    assert_eq!(fetcher.count(), 1);
    h.clock.advance(1);
    h.pending(&authorize_query(ID)).await;
    assert_eq!(fetcher.count(), 2);
}

#[tokio::test]
async fn concurrent_lookups_share_one_fetch() {
    let (h, fetcher) = harness(enabled()).await;
    fetcher.serve_json(ID, &document(ID), None);
    let (a, b, c) = tokio::join!(
        h.provider.client(ID),
        h.provider.client(ID),
        h.provider.client(ID)
    );
    for found in [a, b, c] {
        assert_eq!(found.unwrap().unwrap().id, ID);
    }
    assert_eq!(fetcher.count(), 1);
}

#[tokio::test]
async fn registered_clients_come_first() {
    let (h, fetcher) = harness(enabled()).await;
    h.pending(&format!(
        "response_type=code&client_id=web&redirect_uri={}&scope=openid&state=st&code_challenge={}&code_challenge_method=S256",
        enc(common::WEB_REDIRECT),
        challenge(VERIFIER)
    ))
    .await;
    assert_eq!(fetcher.count(), 0);
}

#[test]
fn enabling_needs_a_fetcher_and_https_prefixes() {
    let build = |policy: ClientIdMetadataDocuments, fetcher: bool| {
        let mut b = Provider::builder(Issuer::parse(ISSUER).unwrap())
            .stores(Stores::shared(Arc::new(MemoryStore::new())))
            .client_id_metadata_documents(policy);
        if fetcher {
            b = b.fetcher(Arc::new(DocumentFetcher::default()));
        }
        b.build()
    };
    assert!(matches!(
        build(enabled(), false),
        Err(BuildError::ClientDocumentsWithoutFetcher)
    ));
    for bad in [
        "https://apps.example",
        "http://apps.example/",
        "apps/",
        "https://APPS.example/",
    ] {
        match build(enabled().only_under([bad]), true) {
            Err(BuildError::ClientDocumentPrefix(p)) => assert_eq!(p, bad),
            other => panic!("{bad}: {:?}", other.map(|_| ())),
        }
    }
    assert!(build(enabled().only_under(["https://apps.example/"]), true).is_ok());
    assert!(build(ClientIdMetadataDocuments::disabled(), false).is_ok());
}
