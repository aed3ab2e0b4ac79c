//! The example provider over a store that fails on demand.
//!
//! A store failure is the server's trouble, not the client's: the endpoints a client calls
//! answer `503` with the generic `temporarily_unavailable` error (defined for the
//! authorization endpoint by RFC 6749 §4.1.2.1; the engine answers it at the others too), the
//! authorization endpoint a `503` page or a `temporarily_unavailable` redirect to the client —
//! never a 500, never a dropped connection (a panic), and never the failure's own text.
//!
//! And a failure half-way leaves nothing half-written. Precisely:
//! * **Approval:** when any store call of an approval fails, the client gets no code, the
//!   user's grants ([`Provider::grants`]) are exactly what they were (no new grant, no
//!   widened scopes), and the consent is not remembered (the next request asks again). A
//!   failure after the ticket was spent leaves it spent: the same form again is refused.
//! * **Code exchange:** a failure before the code is consumed leaves it redeemable; a
//!   failure after leaves it spent (the retry is `invalid_grant`, RFC 6749 §4.1.2), and no
//!   token the failed attempt stored is live once the code comes back.
//! * **Refresh:** a failure leaves the presented refresh token usable: the retry rotates it.
//!
//! [`Provider::grants`]: portcullis::Provider::grants

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use portcullis::core::{
    AccessTokenRecord, Client, CodeRecord, DeviceAuthorizationRecord, FamilyId, Grant, GrantId,
    Issuer, KeyRecord, PrivateKeyEnvelope, PushedRequestRecord, RefreshTokenRecord, TokenHash,
    UnixTime,
};
use portcullis::store::{
    issue_in_sequence, rotate_in_sequence, AccessTokenStore, ClientStore, CodeStore,
    ConsumeOutcome, DeviceAuthorizationStore, DeviceInsertOutcome, GrantStore, GrantUse, KeyStore,
    PushedRequestStore, RefreshState, RefreshTokenStore, ReplayCache, ReplayNamespace,
    ReplayOutcome, RotateIssueOutcome, RotateOutcome, RotationGrace, StoreError, StoreResult,
    TokenIssuance,
};
use portcullis::{Stores, SystemClock};
use portcullis_e2e::provider::{
    spawn_with_stores, Config, Running, DEMO_SERVICE_CLIENT, DEMO_USER, DEMO_WEB_CLIENT,
};
use portcullis_e2e::{
    authorize_url, exchange_code, http_client, post_form, query_param, refresh, Browser, Decision,
    Page,
};
use portcullis_store_memory::MemoryStore;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Every store call, each of which can be made to fail.
#[derive(Debug, Clone, Copy)]
enum Op {
    FindClient,
    SaveClient,
    DeleteClient,
    ListClients,
    ReplaceClient,
    PurgeClients,
    InsertCode,
    ConsumeCode,
    PurgeCodes,
    SaveGrant,
    FindGrant,
    TouchGrant,
    GrantsFor,
    GrantsOfSubject,
    RevokeGrant,
    RevokeGrantsOfClient,
    RevokeFamily,
    PurgeGrants,
    InsertAccessToken,
    FindAccessToken,
    RevokeAccessToken,
    PurgeAccessTokens,
    InsertRefreshToken,
    FindRefreshToken,
    RotateRefreshToken,
    ClaimRotationGrace,
    PurgeRefreshTokens,
    IssueTokens,
    RotateAndIssue,
    InsertKey,
    Keys,
    RetireKey,
    ResealKey,
    PurgeKeys,
    CheckAndInsert,
    PurgeReplays,
}

/// The failure's message and its source's: neither may reach a client.
const MESSAGE: &str = "INTERNAL disk /var/lib/portcullis/p.db";
const SOURCE: &str = "SOURCE-DETAIL input/output error";

/// A token a store call wrote.
#[derive(Debug, Clone, Copy)]
enum Stored {
    Access(TokenHash),
    Refresh(TokenHash),
}

/// A [`MemoryStore`] whose calls fail while their [`Op`] is switched on.
#[derive(Default)]
struct FailingStore {
    inner: MemoryStore,
    failing: AtomicU64,
    stored: Mutex<Vec<Stored>>,
    /// Every call, in order, for counting the store calls of a flow.
    calls: Mutex<Vec<Op>>,
    /// Whether a `touch_grant` revokes its grant first: a revocation racing the use.
    revoke_before_touch: AtomicBool,
}

impl FailingStore {
    fn fail(&self, ops: &[Op]) {
        let bits = ops.iter().fold(0, |bits, op| bits | 1 << *op as u32);
        self.failing.store(bits, Ordering::SeqCst);
    }

    fn heal(&self) {
        self.failing.store(0, Ordering::SeqCst);
    }

    fn check(&self, op: Op) -> StoreResult<()> {
        self.calls.lock().unwrap().push(op);
        if self.failing.load(Ordering::SeqCst) & 1 << op as u32 == 0 {
            return Ok(());
        }
        Err(StoreError::with_source(
            MESSAGE,
            std::io::Error::other(SOURCE),
        ))
    }

    fn record(&self, token: Stored) {
        self.stored.lock().unwrap().push(token);
    }

    /// The tokens written from the `from`th on.
    fn stored_from(&self, from: usize) -> Vec<Stored> {
        self.stored.lock().unwrap()[from..].to_vec()
    }

    /// The calls made since the `from`th, by name.
    fn calls_from(&self, from: usize) -> Vec<String> {
        self.calls.lock().unwrap()[from..]
            .iter()
            .map(|op| format!("{op:?}"))
            .collect()
    }

    fn call_count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    fn stored_count(&self) -> usize {
        self.stored.lock().unwrap().len()
    }

    /// Those of `tokens` that still work.
    async fn live(&self, issuer: &Issuer, tokens: &[Stored]) -> Vec<Stored> {
        let mut live = Vec::new();
        for token in tokens {
            let alive = match token {
                Stored::Access(h) => self
                    .inner
                    .find_access_token(issuer, h)
                    .await
                    .unwrap()
                    .is_some(),
                Stored::Refresh(h) => matches!(
                    self.inner.find_refresh_token(issuer, h).await.unwrap(),
                    Some((_, RefreshState::Active))
                ),
            };
            if alive {
                live.push(*token);
            }
        }
        live
    }
}

#[async_trait]
impl ClientStore for FailingStore {
    async fn find_client(
        &self,
        issuer: &Issuer,
        client_id: &str,
        now: UnixTime,
    ) -> StoreResult<Option<Arc<Client>>> {
        self.check(Op::FindClient)?;
        self.inner.find_client(issuer, client_id, now).await
    }

    async fn save_client(&self, issuer: &Issuer, client: &Client) -> StoreResult<()> {
        self.check(Op::SaveClient)?;
        self.inner.save_client(issuer, client).await
    }

    async fn delete_client(&self, issuer: &Issuer, client_id: &str) -> StoreResult<bool> {
        self.check(Op::DeleteClient)?;
        self.inner.delete_client(issuer, client_id).await
    }

    async fn list_clients(&self, issuer: &Issuer, now: UnixTime) -> StoreResult<Vec<Arc<Client>>> {
        self.check(Op::ListClients)?;
        self.inner.list_clients(issuer, now).await
    }

    async fn replace_client(
        &self,
        issuer: &Issuer,
        current: Option<&Client>,
        replacement: &Client,
    ) -> StoreResult<bool> {
        self.check(Op::ReplaceClient)?;
        self.inner
            .replace_client(issuer, current, replacement)
            .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        self.check(Op::PurgeClients)?;
        ClientStore::purge_expired(&self.inner, now).await
    }
}

#[async_trait]
impl CodeStore for FailingStore {
    async fn insert_code(&self, record: &CodeRecord) -> StoreResult<()> {
        self.check(Op::InsertCode)?;
        self.inner.insert_code(record).await
    }

    async fn consume_code(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<ConsumeOutcome> {
        self.check(Op::ConsumeCode)?;
        self.inner.consume_code(issuer, hash, now).await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        self.check(Op::PurgeCodes)?;
        CodeStore::purge_expired(&self.inner, now).await
    }
}

#[async_trait]
impl GrantStore for FailingStore {
    async fn save_grant(&self, grant: &Grant) -> StoreResult<()> {
        self.check(Op::SaveGrant)?;
        self.inner.save_grant(grant).await
    }

    async fn find_grant(&self, issuer: &Issuer, id: &GrantId) -> StoreResult<Option<Grant>> {
        self.check(Op::FindGrant)?;
        self.inner.find_grant(issuer, id).await
    }

    async fn touch_grant(
        &self,
        issuer: &Issuer,
        id: &GrantId,
        now: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<bool> {
        self.check(Op::TouchGrant)?;
        if self.revoke_before_touch.load(Ordering::SeqCst) {
            self.inner.revoke_grant(issuer, id).await?;
        }
        self.inner.touch_grant(issuer, id, now, expires_at).await
    }

    async fn grants_for(
        &self,
        issuer: &Issuer,
        subject: &str,
        client_id: &str,
    ) -> StoreResult<Vec<Grant>> {
        self.check(Op::GrantsFor)?;
        self.inner.grants_for(issuer, subject, client_id).await
    }

    async fn grants_of_subject(&self, issuer: &Issuer, subject: &str) -> StoreResult<Vec<Grant>> {
        self.check(Op::GrantsOfSubject)?;
        self.inner.grants_of_subject(issuer, subject).await
    }

    async fn revoke_grant(&self, issuer: &Issuer, id: &GrantId) -> StoreResult<bool> {
        self.check(Op::RevokeGrant)?;
        self.inner.revoke_grant(issuer, id).await
    }

    async fn revoke_grants_of_client(&self, issuer: &Issuer, client_id: &str) -> StoreResult<u64> {
        self.check(Op::RevokeGrantsOfClient)?;
        self.inner.revoke_grants_of_client(issuer, client_id).await
    }

    async fn revoke_family(
        &self,
        issuer: &Issuer,
        family_id: &FamilyId,
        until: UnixTime,
    ) -> StoreResult<()> {
        self.check(Op::RevokeFamily)?;
        self.inner.revoke_family(issuer, family_id, until).await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        self.check(Op::PurgeGrants)?;
        GrantStore::purge_expired(&self.inner, now).await
    }
}

#[async_trait]
impl AccessTokenStore for FailingStore {
    async fn insert_access_token(&self, record: &AccessTokenRecord) -> StoreResult<()> {
        self.check(Op::InsertAccessToken)?;
        self.inner.insert_access_token(record).await?;
        self.record(Stored::Access(record.hash));
        Ok(())
    }

    async fn find_access_token(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
    ) -> StoreResult<Option<AccessTokenRecord>> {
        self.check(Op::FindAccessToken)?;
        self.inner.find_access_token(issuer, hash).await
    }

    async fn revoke_access_token(&self, issuer: &Issuer, hash: &TokenHash) -> StoreResult<bool> {
        self.check(Op::RevokeAccessToken)?;
        self.inner.revoke_access_token(issuer, hash).await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        self.check(Op::PurgeAccessTokens)?;
        AccessTokenStore::purge_expired(&self.inner, now).await
    }
}

#[async_trait]
impl RefreshTokenStore for FailingStore {
    async fn insert_refresh_token(&self, record: &RefreshTokenRecord) -> StoreResult<()> {
        self.check(Op::InsertRefreshToken)?;
        self.inner.insert_refresh_token(record).await?;
        self.record(Stored::Refresh(record.hash));
        Ok(())
    }

    async fn find_refresh_token(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
    ) -> StoreResult<Option<(RefreshTokenRecord, RefreshState)>> {
        self.check(Op::FindRefreshToken)?;
        self.inner.find_refresh_token(issuer, hash).await
    }

    async fn rotate_refresh_token(
        &self,
        issuer: &Issuer,
        old: &TokenHash,
        successor: &RefreshTokenRecord,
        grace: Option<&RotationGrace>,
    ) -> StoreResult<RotateOutcome> {
        self.check(Op::RotateRefreshToken)?;
        let outcome = self
            .inner
            .rotate_refresh_token(issuer, old, successor, grace)
            .await?;
        if outcome == RotateOutcome::Rotated {
            self.record(Stored::Refresh(successor.hash));
        }
        Ok(outcome)
    }

    async fn claim_rotation_grace(
        &self,
        issuer: &Issuer,
        old: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<String>> {
        self.check(Op::ClaimRotationGrace)?;
        self.inner.claim_rotation_grace(issuer, old, now).await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        self.check(Op::PurgeRefreshTokens)?;
        RefreshTokenStore::purge_expired(&self.inner, now).await
    }
}

/// One call each, as the SQL stores make them; each runs the separate calls in sequence
/// (the trait's defaults), so that a failure can still strike each step, but only the one
/// call is counted.
#[async_trait]
impl TokenIssuance for FailingStore {
    async fn issue_tokens(
        &self,
        grant: &GrantUse<'_>,
        refresh: Option<&RefreshTokenRecord>,
        access: &AccessTokenRecord,
    ) -> StoreResult<bool> {
        self.check(Op::IssueTokens)?;
        let counted = self.call_count();
        let issued = issue_in_sequence(self, self, self, grant, refresh, access).await;
        self.calls.lock().unwrap().truncate(counted);
        issued
    }

    async fn rotate_and_issue(
        &self,
        grant: &GrantUse<'_>,
        old: &TokenHash,
        successor: &RefreshTokenRecord,
        grace: Option<&RotationGrace>,
        access: &AccessTokenRecord,
    ) -> StoreResult<RotateIssueOutcome> {
        self.check(Op::RotateAndIssue)?;
        let counted = self.call_count();
        let outcome =
            rotate_in_sequence(self, self, self, grant, old, successor, grace, access).await;
        self.calls.lock().unwrap().truncate(counted);
        outcome
    }
}

#[async_trait]
impl KeyStore for FailingStore {
    fn persists(&self) -> bool {
        self.inner.persists()
    }

    async fn insert_key(&self, key: &KeyRecord) -> StoreResult<()> {
        self.check(Op::InsertKey)?;
        self.inner.insert_key(key).await
    }

    async fn keys(&self, issuer: &Issuer) -> StoreResult<Vec<KeyRecord>> {
        self.check(Op::Keys)?;
        self.inner.keys(issuer).await
    }

    async fn retire_key(
        &self,
        issuer: &Issuer,
        kid: &str,
        retires_at: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<bool> {
        self.check(Op::RetireKey)?;
        self.inner
            .retire_key(issuer, kid, retires_at, expires_at)
            .await
    }

    async fn reseal_key(
        &self,
        issuer: &Issuer,
        kid: &str,
        old: &PrivateKeyEnvelope,
        new: &PrivateKeyEnvelope,
    ) -> StoreResult<bool> {
        self.check(Op::ResealKey)?;
        self.inner.reseal_key(issuer, kid, old, new).await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        self.check(Op::PurgeKeys)?;
        KeyStore::purge_expired(&self.inner, now).await
    }
}

#[async_trait]
impl ReplayCache for FailingStore {
    async fn check_and_insert(
        &self,
        issuer: &Issuer,
        namespace: ReplayNamespace,
        id: &TokenHash,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<ReplayOutcome> {
        self.check(Op::CheckAndInsert)?;
        self.inner
            .check_and_insert(issuer, namespace, id, expires_at, now)
            .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        self.check(Op::PurgeReplays)?;
        ReplayCache::purge_expired(&self.inner, now).await
    }
}

/// Pushed requests are not among the failures played here: passed through.
#[async_trait]
impl PushedRequestStore for FailingStore {
    async fn insert_pushed_request(&self, record: &PushedRequestRecord) -> StoreResult<()> {
        self.inner.insert_pushed_request(record).await
    }

    async fn consume_pushed_request(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<PushedRequestRecord>> {
        self.inner.consume_pushed_request(issuer, hash, now).await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        PushedRequestStore::purge_expired(&self.inner, now).await
    }
}

/// Device authorizations are not among the failures played here: passed through.
#[async_trait]
impl DeviceAuthorizationStore for FailingStore {
    async fn insert_device_authorization(
        &self,
        record: &DeviceAuthorizationRecord,
    ) -> StoreResult<DeviceInsertOutcome> {
        self.inner.insert_device_authorization(record).await
    }

    async fn find_device_authorization_by_user_code(
        &self,
        issuer: &Issuer,
        user_code_hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        self.inner
            .find_device_authorization_by_user_code(issuer, user_code_hash, now)
            .await
    }

    async fn answer_device_authorization(
        &self,
        issuer: &Issuer,
        user_code_hash: &TokenHash,
        approval: Option<&CodeRecord>,
        now: UnixTime,
    ) -> StoreResult<bool> {
        self.inner
            .answer_device_authorization(issuer, user_code_hash, approval, now)
            .await
    }

    async fn poll_device_authorization(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        self.inner
            .poll_device_authorization(issuer, hash, now)
            .await
    }

    async fn take_device_authorization(
        &self,
        issuer: &Issuer,
        hash: &TokenHash,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorizationRecord>> {
        self.inner
            .take_device_authorization(issuer, hash, now)
            .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        DeviceAuthorizationStore::purge_expired(&self.inner, now).await
    }
}

/// The demo provider on a healthy [`FailingStore`], reading every client from the store (no
/// client cache), so that each lookup can fail.
async fn start() -> (Running, Arc<FailingStore>) {
    start_caching(Duration::ZERO).await
}

/// The demo provider on a healthy [`FailingStore`], keeping clients for `client_cache`.
async fn start_caching(client_cache: Duration) -> (Running, Arc<FailingStore>) {
    let store = Arc::new(FailingStore::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stores = Stores::shared(store.clone());
    let clock = Arc::new(SystemClock);
    let config = Config::demo().with_client_cache(client_cache);
    let server = spawn_with_stores(config, None, listener, clock, stores)
        .await
        .expect("start the provider");
    (server, store)
}

/// The one answer to a store failure at the endpoints a client calls.
fn assert_unavailable((status, body): (StatusCode, Value), what: &str) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {body}");
    let generic = json!({
        "error": "temporarily_unavailable",
        "error_description": "the server is temporarily unavailable",
    });
    // The whole body: nothing of the failure's text.
    assert_eq!(body, generic, "{what}");
}

/// A `503` page, saying `marker`, with nothing of the failure's text.
fn assert_unavailable_page(page: &Page, marker: &str, what: &str) {
    assert_eq!(
        page.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{what}: {}",
        page.body
    );
    assert!(page.body.contains(marker), "{what}: {}", page.body);
    for internal in [MESSAGE, SOURCE, "store error"] {
        assert!(!page.body.contains(internal), "{what}: {}", page.body);
    }
}

/// A `temporarily_unavailable` redirect to demo-web with its `state` and `iss`, no code.
fn assert_unavailable_redirect(page: &Page, state: &str, issuer: &Issuer, what: &str) {
    let to = page.redirect();
    let callback = DEMO_WEB_CLIENT.redirect_uri.unwrap();
    assert!(to.as_str().starts_with(callback), "{what}: {to}");
    let param = |name| query_param(&to, name);
    assert_eq!(
        param("error").as_deref(),
        Some("temporarily_unavailable"),
        "{what}"
    );
    let description = param("error_description");
    assert_eq!(
        description.as_deref(),
        Some("the server is temporarily unavailable"),
        "{what}"
    );
    assert_eq!(param("state").as_deref(), Some(state), "{what}");
    assert_eq!(param("iss").as_deref(), Some(issuer.as_str()), "{what}");
    assert_eq!(param("code"), None, "{what}");
}

/// The consent form answered before is refused: 400, no code.
async fn assert_spent(browser: &Browser, consent: &Page, what: &str) {
    let again = browser.answer(consent, Decision::ApproveAll).await;
    assert_eq!(
        again.status,
        StatusCode::BAD_REQUEST,
        "{what}: {}",
        again.body
    );
    assert!(
        again.body.contains("already answered"),
        "{what}: {}",
        again.body
    );
    assert!(!again.body.contains("code="), "{what}: {}", again.body);
}

/// A code for demo-web, through the browser (consenting to everything asked, if asked).
async fn code(server: &Running, browser: &Browser, scope: &str) -> String {
    let url = authorize_url(server.issuer(), &DEMO_WEB_CLIENT, scope, "st");
    let redirect = browser
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    query_param(&redirect, "code").expect("a code")
}

/// Tokens for demo-web, through the browser and the token endpoint.
async fn web_tokens(server: &Running, browser: &Browser, scope: &str) -> Value {
    let code = code(server, browser, scope).await;
    let (status, tokens) = exchange_code(server.issuer(), &DEMO_WEB_CLIENT, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

fn text<'a>(tokens: &'a Value, name: &str) -> &'a str {
    tokens[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name}: {tokens}"))
}

async fn userinfo(server: &Running, access_token: &str) -> (StatusCode, Value) {
    let response = http_client()
        .get(server.url("/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("GET /userinfo");
    let status = response.status();
    let body = response.bytes().await.expect("a body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_endpoints_answer_a_store_failure_with_temporarily_unavailable() {
    let (server, store) = start().await;
    let issuer = server.issuer();

    // The JWK Set before any key exists: the keys can be neither loaded nor created.
    store.fail(&[Op::Keys, Op::InsertKey]);
    let response = http_client().get(server.url("/jwks")).send().await.unwrap();
    let status = response.status();
    let body = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_unavailable((status, body), "jwks");
    store.heal();

    // Code exchange, before the code is consumed: the code stays good.
    let browser = Browser::new();
    let code = code(&server, &browser, "openid offline_access read").await;
    for op in [Op::FindClient, Op::ConsumeCode] {
        store.fail(&[op]);
        let answer = exchange_code(issuer, &DEMO_WEB_CLIENT, &code).await;
        assert_unavailable(answer, &format!("code exchange, {op:?}"));
        store.heal();
    }
    let (status, web) = exchange_code(issuer, &DEMO_WEB_CLIENT, &code).await;
    assert_eq!(status, StatusCode::OK, "{web}");

    // Client credentials.
    let token_url = server.url("/token");
    let credentials = [("grant_type", "client_credentials")];
    for op in [Op::FindClient, Op::InsertAccessToken] {
        store.fail(&[op]);
        let answer = post_form(&token_url, &DEMO_SERVICE_CLIENT, &credentials).await;
        assert_unavailable(answer, &format!("client credentials, {op:?}"));
        store.heal();
    }

    // Refresh, up to and including the rotation: the token still rotates afterwards.
    let old = text(&web, "refresh_token");
    for op in [
        Op::FindClient,
        Op::FindRefreshToken,
        Op::RotateAndIssue,
        Op::RotateRefreshToken,
    ] {
        store.fail(&[op]);
        let answer = refresh(issuer, &DEMO_WEB_CLIENT, old).await;
        assert_unavailable(answer, &format!("refresh, {op:?}"));
        store.heal();
    }
    let (status, rotated) = refresh(issuer, &DEMO_WEB_CLIENT, old).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let access = text(&rotated, "access_token");
    let refresh_token = text(&rotated, "refresh_token");

    // Introspection and revocation; nothing is revoked by a failed revocation.
    let introspect_url = server.url("/introspect");
    let revoke_url = server.url("/revoke");
    let calls = [
        (&introspect_url, Op::FindClient, access, "access_token"),
        (&introspect_url, Op::FindAccessToken, access, "access_token"),
        (
            &introspect_url,
            Op::FindRefreshToken,
            refresh_token,
            "refresh_token",
        ),
        (&revoke_url, Op::FindClient, access, "access_token"),
        (&revoke_url, Op::FindAccessToken, access, "access_token"),
        (&revoke_url, Op::RevokeAccessToken, access, "access_token"),
        (
            &revoke_url,
            Op::FindRefreshToken,
            refresh_token,
            "refresh_token",
        ),
        (
            &revoke_url,
            Op::RevokeFamily,
            refresh_token,
            "refresh_token",
        ),
    ];
    for (url, op, token, hint) in calls {
        store.fail(&[op]);
        let form = [("token", token), ("token_type_hint", hint)];
        let answer = post_form(url, &DEMO_WEB_CLIENT, &form).await;
        assert_unavailable(answer, &format!("{url}, {op:?}, {hint}"));
        store.heal();
    }
    for token in [access, refresh_token] {
        let (status, body) =
            post_form(&introspect_url, &DEMO_WEB_CLIENT, &[("token", token)]).await;
        assert_eq!((status, &body["active"]), (StatusCode::OK, &json!(true)));
    }

    // UserInfo.
    for op in [Op::FindAccessToken, Op::FindClient] {
        store.fail(&[op]);
        assert_unavailable(
            userinfo(&server, access).await,
            &format!("userinfo, {op:?}"),
        );
        store.heal();
    }
    let (status, claims) = userinfo(&server, access).await;
    assert_eq!((status, &claims["sub"]), (StatusCode::OK, &json!("alice")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_approval_leaves_no_grant_and_no_code() {
    let (server, store) = start().await;
    let (issuer, provider) = (server.issuer(), server.provider());
    let grants = || async {
        let grants = provider.grants(DEMO_USER.username).await.unwrap();
        grants
            .into_iter()
            .map(|g| (g.id, g.scopes.to_string()))
            .collect::<Vec<_>>()
    };
    let browser = Browser::new();
    let url = authorize_url(issuer, &DEMO_WEB_CLIENT, "read", "st");

    // The client cannot be looked up, so no redirect URI can be trusted: a page.
    store.fail(&[Op::FindClient]);
    let page = browser.get(&url).await;
    assert_unavailable_page(&page, "temporarily_unavailable", "authorize");
    store.heal();

    // After the password, the example asks the engine whether consent is needed.
    let login = browser.get(&url).await;
    assert!(login.is_login(), "{}", login.body);
    store.fail(&[Op::GrantsFor]);
    let page = browser.log_in(&login, &DEMO_USER).await;
    assert_unavailable_page(&page, "temporarily_unavailable", "consent needed?");
    store.heal();

    // Each store call of the approval failing in turn: nothing granted, nothing remembered.
    let mut consent = browser.get(&url).await;
    assert!(consent.is_consent(), "{}", consent.body);
    let ops = [
        Op::CheckAndInsert,
        Op::FindClient,
        Op::GrantsFor,
        Op::InsertCode,
        Op::SaveGrant,
    ];
    for op in ops {
        let what = format!("approval, {op:?}");
        store.fail(&[op]);
        let page = browser.answer(&consent, Decision::Approve(&["read"])).await;
        store.heal();
        match op {
            Op::CheckAndInsert | Op::FindClient => {
                assert_unavailable_page(&page, "temporarily_unavailable", &what)
            }
            _ => assert_unavailable_redirect(&page, "st", issuer, &what),
        }
        assert_eq!(grants().await, [], "{what}");
        if !matches!(op, Op::CheckAndInsert) {
            assert_spent(&browser, &consent, &what).await;
        }
        consent = browser.get(&url).await;
        assert!(consent.is_consent(), "{what}");
    }
    let redirect = browser.decide(&consent, Decision::Approve(&["read"])).await;
    assert!(query_param(&redirect, "code").is_some(), "{redirect}");
    let granted = grants().await;
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0].1, "read");

    // Widening that grant fails half-way: it keeps its scopes, and asks again.
    let wider = authorize_url(issuer, &DEMO_WEB_CLIENT, "read write", "st2");
    let mut consent = browser.get(&wider).await;
    assert!(consent.is_consent(), "{}", consent.body);
    for op in [Op::InsertCode, Op::SaveGrant] {
        let what = format!("widening approval, {op:?}");
        store.fail(&[op]);
        let page = browser.answer(&consent, Decision::ApproveAll).await;
        store.heal();
        assert_unavailable_redirect(&page, "st2", issuer, &what);
        assert_eq!(grants().await, granted, "{what}");
        assert_spent(&browser, &consent, &what).await;
        consent = browser.get(&wider).await;
        assert!(consent.is_consent(), "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_exchange_spends_the_code_and_leaves_no_live_token() {
    let (server, store) = start().await;
    let issuer = server.issuer();
    let browser = Browser::new();
    // After the code is consumed: touching the grant, storing the tokens.
    for op in [
        Op::IssueTokens,
        Op::TouchGrant,
        Op::InsertRefreshToken,
        Op::InsertAccessToken,
    ] {
        let what = format!("code exchange, {op:?}");
        let code = code(&server, &browser, "read").await;
        let before = store.stored_count();
        store.fail(&[op]);
        let answer = exchange_code(issuer, &DEMO_WEB_CLIENT, &code).await;
        store.heal();
        assert_unavailable(answer, &what);
        let (status, body) = exchange_code(issuer, &DEMO_WEB_CLIENT, &code).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(body["error"], "invalid_grant", "{what}");
        let written = store.stored_from(before);
        assert_eq!(
            store.live(issuer, &written).await.len(),
            0,
            "{what}: {written:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_that_fails_after_the_rotation_can_be_retried() {
    let (server, store) = start().await;
    let issuer = server.issuer();
    let browser = Browser::new();
    for op in [Op::RotateAndIssue, Op::InsertAccessToken, Op::TouchGrant] {
        let what = format!("refresh, {op:?}");
        let tokens = web_tokens(&server, &browser, "read").await;
        let token = text(&tokens, "refresh_token");
        store.fail(&[op]);
        let answer = refresh(issuer, &DEMO_WEB_CLIENT, token).await;
        store.heal();
        assert_unavailable(answer, &what);
        let (status, body) = refresh(issuer, &DEMO_WEB_CLIENT, token).await;
        assert_eq!(status, StatusCode::OK, "{what}: {body}");
    }
}

/// The store calls of each flow, recorded in docs/BENCHMARKS.md (each is one SQL statement in
/// the PostgreSQL store, and in the SQLite store but `IssueTokens` and `RotateAndIssue`,
/// which it makes as the separate statements in sequence). A change here is a change in round trips per request.
/// Without the client cache every lookup reads the store; with it (the default), once the
/// clients were read, none does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_calls_per_flow() {
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // An approval's calls after its lookups: the code, then the grant stored (`SaveGrant`)
    // or, only used under a remembered consent, touched (`TouchGrant`).
    let approval = |lookups: &[&str], grant: &str| {
        let mut calls = names(lookups);
        calls.extend(names(&["InsertCode", grant]));
        calls
    };
    let uncached_lookups = [
        "FindClient",
        "FindClient",
        "GrantsFor",
        "CheckAndInsert",
        "FindClient",
        "GrantsFor",
    ];
    let cached_lookups = ["GrantsFor", "CheckAndInsert", "GrantsFor"];
    let (server, store) = start().await;
    let uncached = flow_calls(&server, &store).await;
    assert_eq!(
        uncached,
        [
            approval(&uncached_lookups, "SaveGrant"),
            approval(&uncached_lookups, "TouchGrant"),
            names(&["FindClient", "ConsumeCode", "IssueTokens"]),
            names(&["FindClient", "FindRefreshToken", "RotateAndIssue"]),
            names(&["FindClient", "FindAccessToken", "FindClient"]),
            names(&["FindClient", "InsertAccessToken"]),
        ]
    );

    let (server, store) = start_caching(Duration::from_secs(10)).await;
    // Both clients read once: an introspection by one, a token request by the other.
    let issuer = server.issuer();
    let (status, _) = post_form(
        &issuer.endpoint("/introspect"),
        &DEMO_WEB_CLIENT,
        &[("token", "unknown")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let credentials = [("grant_type", "client_credentials")];
    let (status, _) = post_form(
        &issuer.endpoint("/token"),
        &DEMO_SERVICE_CLIENT,
        &credentials,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let cached = flow_calls(&server, &store).await;
    assert_eq!(
        cached,
        [
            approval(&cached_lookups, "SaveGrant"),
            approval(&cached_lookups, "TouchGrant"),
            names(&["ConsumeCode", "IssueTokens"]),
            names(&["FindRefreshToken", "RotateAndIssue"]),
            names(&["FindAccessToken"]),
            names(&["InsertAccessToken"]),
        ]
    );
}

/// A grant revoked while a remembered consent's approval records its use: the client gets
/// `access_denied` and no code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_racing_a_revocation_delivers_no_code() {
    let (server, store) = start().await;
    let issuer = server.issuer();
    let browser = Browser::new();
    let url = authorize_url(issuer, &DEMO_WEB_CLIENT, "read", "st");
    let first = browser
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    assert!(query_param(&first, "code").is_some(), "{first}");
    store.revoke_before_touch.store(true, Ordering::SeqCst);
    let raced = browser
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    store.revoke_before_touch.store(false, Ordering::SeqCst);
    assert_eq!(
        query_param(&raced, "error").as_deref(),
        Some("access_denied"),
        "{raced}"
    );
    assert_eq!(query_param(&raced, "code"), None, "{raced}");
}

/// The store calls of a login with consent, the same authorization request again (signed in,
/// the consent remembered), a code exchange, a refresh, an introspection and a client
/// credentials request, in this order.
async fn flow_calls(server: &Running, store: &FailingStore) -> [Vec<String>; 6] {
    let issuer = server.issuer();
    // Warm up: signing keys exist before the first ID token.
    let _ = http_client()
        .get(issuer.endpoint("/jwks"))
        .send()
        .await
        .unwrap();

    let before = store.call_count();
    let url = authorize_url(issuer, &DEMO_WEB_CLIENT, "openid offline_access read", "st");
    let browser = Browser::new();
    let redirect = browser
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    let authorize = store.calls_from(before);
    let code = query_param(&redirect, "code").expect("a code");

    // The same request again: signed in, the consent remembered.
    let before = store.call_count();
    let again = browser
        .authorize(&url, &DEMO_USER, Decision::ApproveAll)
        .await;
    assert!(query_param(&again, "code").is_some(), "{again}");
    let remembered = store.calls_from(before);
    let before = store.call_count();
    let (status, tokens) = exchange_code(issuer, &DEMO_WEB_CLIENT, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let exchange = store.calls_from(before);

    let before = store.call_count();
    let rt = tokens["refresh_token"].as_str().unwrap();
    let (status, refreshed) = refresh(issuer, &DEMO_WEB_CLIENT, rt).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let refresh_calls = store.calls_from(before);

    let before = store.call_count();
    let at = refreshed["access_token"].as_str().unwrap();
    let (status, body) = post_form(
        &issuer.endpoint("/introspect"),
        &DEMO_WEB_CLIENT,
        &[("token", at)],
    )
    .await;
    assert_eq!(
        (status, body["active"].clone()),
        (StatusCode::OK, json!(true))
    );
    let introspect = store.calls_from(before);

    let before = store.call_count();
    let credentials = [("grant_type", "client_credentials")];
    let (status, body) = post_form(
        &issuer.endpoint("/token"),
        &DEMO_SERVICE_CLIENT,
        &credentials,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let client_credentials = store.calls_from(before);

    println!("authorize (login + consent): {authorize:?}");
    println!("authorize (remembered consent): {remembered:?}");
    println!("code exchange: {exchange:?}");
    println!("refresh: {refresh_calls:?}");
    println!("introspection: {introspect:?}");
    println!("client credentials: {client_credentials:?}");
    [
        authorize,
        remembered,
        exchange,
        refresh_calls,
        introspect,
        client_credentials,
    ]
}
