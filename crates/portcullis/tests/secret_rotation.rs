//! Client secret rotation and expiry (RFC 7591 §3.2.1) through the host API: two valid
//! secrets during the rollover, an expired secret refused at every endpoint a client calls,
//! racing rotations, and listing, adding and removing clients.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use http::StatusCode;
use portcullis::core::{Client, GrantType, Issuer, Policy, UnixTime, MAX_SECRET_ROLLOVER};
use portcullis::store::{ClientStore, StoreResult};
use portcullis::{ManualClock, RegisterError, RotateSecretError, Stores};
use portcullis_store_memory::MemoryStore;
use tokio::sync::Barrier;

const CREDENTIALS: &str = "grant_type=client_credentials";

/// The status and error code (`""` for success) of a request at `endpoint` with `secret`.
async fn outcome(h: &Harness, endpoint: Endpoint, secret: &str) -> (StatusCode, String) {
    let body = match endpoint {
        Endpoint::Token => CREDENTIALS,
        Endpoint::Introspect | Endpoint::Revoke => "token=unknown-token",
        Endpoint::Par => unreachable!("no authorization request here"),
    };
    let (status, json, resp) = h.post(endpoint, body, Some(("service", secret))).await;
    if status == StatusCode::UNAUTHORIZED {
        let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Basic "), "{challenge}");
    }
    let code = json["error"].as_str().unwrap_or("").to_owned();
    (status, code)
}

fn ok() -> (StatusCode, String) {
    (StatusCode::OK, String::new())
}

fn invalid_client() -> (StatusCode, String) {
    (StatusCode::UNAUTHORIZED, "invalid_client".into())
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[tokio::test]
async fn both_secrets_work_until_the_rollover_deadline_then_only_the_new() {
    let h = Harness::new().await;
    let rotated = h
        .provider
        .rotate_client_secret("service", secs(60), None)
        .await
        .unwrap();
    let new = rotated.secret.expose().to_owned();
    assert_eq!(new.len(), 43);
    assert!(!format!("{rotated:?}").contains(&new), "{rotated:?}");
    let deadline = UnixTime::from_secs(T0 + 60);
    assert_eq!(rotated.previous_valid_until, Some(deadline));
    assert_eq!(rotated.expires_at, None);
    for at in [T0, T0 + 59] {
        h.clock.set(UnixTime::from_secs(at));
        assert_eq!(outcome(&h, Endpoint::Token, SECRET).await, ok(), "old");
        assert_eq!(outcome(&h, Endpoint::Token, &new).await, ok(), "new");
    }
    h.clock.set(deadline);
    for endpoint in [Endpoint::Token, Endpoint::Introspect, Endpoint::Revoke] {
        let old = outcome(&h, endpoint, SECRET).await;
        assert_eq!(old, invalid_client(), "old at {endpoint:?}");
        assert_eq!(
            outcome(&h, endpoint, &new).await,
            ok(),
            "new at {endpoint:?}"
        );
    }
    assert_eq!(
        outcome(&h, Endpoint::Token, "wrong").await,
        invalid_client()
    );
}

#[tokio::test]
async fn an_expired_secret_is_invalid_client_at_every_endpoint() {
    let h = Harness::new().await;
    let expiry = UnixTime::from_secs(T0 + 100);
    let rotated = h
        .provider
        .rotate_client_secret("service", secs(0), Some(expiry))
        .await
        .unwrap();
    assert_eq!(rotated.previous_valid_until, None, "no rollover");
    assert_eq!(rotated.expires_at, Some(expiry));
    let new = rotated.secret.expose().to_owned();
    h.clock.set(UnixTime::from_secs(T0 + 99));
    for endpoint in [Endpoint::Token, Endpoint::Introspect, Endpoint::Revoke] {
        assert_eq!(outcome(&h, endpoint, &new).await, ok(), "{endpoint:?}");
        let old = outcome(&h, endpoint, SECRET).await;
        assert_eq!(old, invalid_client(), "old at {endpoint:?}");
    }
    h.clock.set(expiry);
    for endpoint in [Endpoint::Token, Endpoint::Introspect, Endpoint::Revoke] {
        let expired = outcome(&h, endpoint, &new).await;
        assert_eq!(expired, invalid_client(), "{endpoint:?}");
    }
    // A rotation renews it.
    let renewed = h
        .provider
        .rotate_client_secret("service", secs(60), None)
        .await
        .unwrap();
    assert_eq!(
        renewed.previous_valid_until, None,
        "an expired secret stays dead"
    );
    let renewed = renewed.secret.expose().to_owned();
    assert_eq!(outcome(&h, Endpoint::Token, &renewed).await, ok());
    assert_eq!(outcome(&h, Endpoint::Token, &new).await, invalid_client());
}

#[tokio::test]
async fn refused_rotations_store_nothing() {
    let h = Harness::new().await;
    let p = &h.provider;
    let too_long = MAX_SECRET_ROLLOVER + secs(1);
    let past = Some(UnixTime::from_secs(T0));
    for (client, rollover, expiry, want) in [
        ("nobody", secs(0), None, "UnknownClient"),
        ("native", secs(0), None, "Invalid(NotConfidential)"),
        ("service", too_long, None, "Invalid(RolloverTooLong)"),
        ("service", secs(0), past, "Invalid(ExpiryNotInFuture)"),
    ] {
        let e = p.rotate_client_secret(client, rollover, expiry).await;
        assert_eq!(format!("{:?}", e.unwrap_err()), want, "{client}");
    }
    assert_eq!(outcome(&h, Endpoint::Token, SECRET).await, ok());
    let at_most = p
        .rotate_client_secret("service", MAX_SECRET_ROLLOVER, None)
        .await;
    let until = at_most.unwrap().previous_valid_until;
    assert_eq!(
        until,
        Some(UnixTime::from_secs(T0).plus(MAX_SECRET_ROLLOVER))
    );
}

/// A client store whose `find_client` waits until two callers have read: two rotations
/// then start from the same stored client, as when they race.
struct ReadTogether {
    store: Arc<MemoryStore>,
    barrier: Barrier,
}

#[portcullis::async_trait]
impl ClientStore for ReadTogether {
    async fn find_client(
        &self,
        issuer: &Issuer,
        client_id: &str,
        now: UnixTime,
    ) -> StoreResult<Option<Arc<Client>>> {
        let found = self.store.find_client(issuer, client_id, now).await;
        self.barrier.wait().await;
        found
    }
    async fn save_client(&self, issuer: &Issuer, client: &Client) -> StoreResult<()> {
        self.store.save_client(issuer, client).await
    }
    async fn delete_client(&self, issuer: &Issuer, client_id: &str) -> StoreResult<bool> {
        self.store.delete_client(issuer, client_id).await
    }
    async fn list_clients(&self, issuer: &Issuer, now: UnixTime) -> StoreResult<Vec<Arc<Client>>> {
        self.store.list_clients(issuer, now).await
    }
    async fn replace_client(
        &self,
        issuer: &Issuer,
        current: Option<&Client>,
        replacement: &Client,
    ) -> StoreResult<bool> {
        self.store
            .replace_client(issuer, current, replacement)
            .await
    }
    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        ClientStore::purge_expired(&*self.store, now).await
    }
}

/// Two rotations read the same client: one stores its secret, the other fails with
/// `Conflict` and stores nothing, so every secret handed out is accepted.
#[tokio::test]
async fn racing_rotations_never_hand_out_a_dead_secret() {
    let store = Arc::new(MemoryStore::new());
    let racing = Arc::new(ReadTogether {
        store: store.clone(),
        barrier: Barrier::new(2),
    });
    let issuer = Issuer::parse(ISSUER).unwrap();
    store.save_client(&issuer, &service_client()).await.unwrap();
    let provider = portcullis::Provider::builder(issuer.clone())
        .stores(Stores::shared(store.clone()).with_clients(racing))
        .clock(Arc::new(ManualClock::new(UnixTime::from_secs(T0))))
        .build()
        .unwrap();
    let rotate = |rollover| {
        let provider = provider.clone();
        tokio::spawn(async move {
            provider
                .rotate_client_secret("service", secs(rollover), None)
                .await
        })
    };
    let (a, b) = (rotate(0), rotate(0));
    let results = [a.await.unwrap(), b.await.unwrap()];
    let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    let lost = results.iter().filter_map(|r| r.as_ref().err()).next();
    assert!(
        matches!(lost, Some(RotateSecretError::Conflict)),
        "{lost:?}"
    );
    // The winner's secret is the stored one; the old one is gone (no rollover).
    let now = UnixTime::from_secs(T0);
    let stored = store.find_client(&issuer, "service", now).await.unwrap();
    let stored = stored.expect("the client");
    let accepted = stored.kind.secrets_accepted_at(now);
    assert!(accepted
        .0
        .expect("a current secret")
        .verify(won[0].secret.expose()));
    assert_eq!(accepted.1, None);
}

#[tokio::test]
async fn clients_are_added_listed_and_removed_per_issuer() {
    let store = Arc::new(MemoryStore::new());
    let a = Harness::on_store(store.clone(), ISSUER, Policy::default()).await;
    let b = Harness::on_store(store, "https://b.example", Policy::default()).await;
    let ids = |clients: Vec<Arc<Client>>| clients.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    assert_eq!(
        ids(a.provider.list_clients().await.unwrap()),
        ["native", "service", "web"]
    );
    let mut extra = native_client().with_grant_types([GrantType::ClientCredentials]);
    extra.id = "extra".into();
    let secret = a
        .provider
        .add_client_with_secret(extra.clone())
        .await
        .unwrap();
    assert_eq!(secret.expose().len(), 43);
    let again = a.provider.add_client_with_secret(extra).await;
    assert!(matches!(again, Err(RegisterError::Exists)), "{again:?}");
    let taken = a.provider.add_client(&service_client()).await;
    assert!(matches!(taken, Err(RegisterError::Exists)), "{taken:?}");
    // A public client with client_credentials contradicts itself.
    let mut invalid = native_client().with_grant_types([GrantType::ClientCredentials]);
    invalid.id = "invalid".into();
    let refused = a.provider.add_client(&invalid).await;
    assert!(
        matches!(refused, Err(RegisterError::Invalid(_))),
        "{refused:?}"
    );
    let mut public = native_client();
    public.id = "public".into();
    a.provider.add_client(&public).await.unwrap();
    assert!(a.provider.remove_client("public").await.unwrap());
    let listed = ids(a.provider.list_clients().await.unwrap());
    assert_eq!(listed, ["extra", "native", "service", "web"]);
    assert_eq!(
        ids(b.provider.list_clients().await.unwrap()),
        ["native", "service", "web"]
    );
    let (status, json, _) = a.token(CREDENTIALS, Some(("extra", secret.expose()))).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let elsewhere = b
        .provider
        .rotate_client_secret("extra", secs(0), None)
        .await;
    assert!(matches!(elsewhere, Err(RotateSecretError::UnknownClient)));
    assert!(!b.provider.remove_client("extra").await.unwrap(), "not B's");
    assert!(a.provider.remove_client("extra").await.unwrap());
    assert!(!a.provider.remove_client("extra").await.unwrap(), "gone");
    let (status, json, _) = a.token(CREDENTIALS, Some(("extra", secret.expose()))).await;
    assert_eq!(
        (status, error_of(&json)),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    assert_eq!(
        ids(b.provider.list_clients().await.unwrap()),
        ["native", "service", "web"]
    );
}
