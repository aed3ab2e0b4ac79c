//! A PostgreSQL outage, through the engine: while the server refuses connections or drops
//! every packet (a TCP proxy in front of it, switched by the test), every request answers
//! 503 `temporarily_unavailable` within the store's operation timeout; once the server is
//! back the same provider answers again, without being rebuilt, and no connection that hung
//! is handed out again — not even one cut off inside a transaction.

mod common;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::{engine::general_purpose::STANDARD, Engine};
use bytes::Bytes;
use common::{server_url, Schemas};
use http::{Method, Request, Response, StatusCode};
use portcullis::core::{
    Client, ClientKind, ClientSecretHash, GrantType, Issuer, ScopeSet, TokenHash, UnixTime,
};
use portcullis::store::{ClientStore, CodeStore, ReplayCache, StoreError};
use portcullis::{Provider, Stores};
use portcullis_store_postgres::{PostgresConfig, PostgresStore, PURGE_BATCH};
use ring::rand::SystemRandom;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The store's operation timeout in this test: long enough for the healthy steps (connect,
/// SCRAM, the first operation after a recovery) on a loaded machine.
const TIMEOUT: Duration = Duration::from_millis(1500);
/// What a loaded test machine may add to it.
const MARGIN: Duration = Duration::from_millis(2000);
const SECRET: &str = "service-secret";

/// What the proxy does with the connections through it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Forwards both ways.
    Pass,
    /// Closes every connection, new and existing (a stopped server).
    Refuse,
    /// Accepts new connections and forwards nothing more on any connection, ever, without
    /// closing it (a server gone from the network, packets dropped).
    BlackHole,
    /// Forwards both ways, each chunk after this delay (a slow network).
    Delay(Duration),
    /// Forwards what the server sends, and this many more chunks from clients; then
    /// nothing more from them (a network gone mid-transaction).
    StallAfter(usize),
}

/// A TCP proxy in front of the test server.
struct Proxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    /// How many more client chunks `StallAfter` forwards.
    chunks: Arc<AtomicUsize>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, watching) = watch::channel(Mode::Pass);
        let budget = Arc::new(AtomicUsize::new(0));
        let chunks = budget.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let current = *watching.borrow();
                match current {
                    Mode::Refuse => drop(client),
                    Mode::BlackHole => {
                        tokio::spawn(async move {
                            let _held = client;
                            std::future::pending::<()>().await
                        });
                    }
                    Mode::Pass | Mode::Delay(_) | Mode::StallAfter(_) => {
                        let watching = watching.clone();
                        let budget = budget.clone();
                        tokio::spawn(async move {
                            let Ok(server) = TcpStream::connect(upstream).await else {
                                return;
                            };
                            let (from_client, to_client) = client.into_split();
                            let (from_server, to_server) = server.into_split();
                            let budget = Some(budget.clone());
                            tokio::spawn(pump(from_client, to_server, watching.clone(), budget));
                            pump(from_server, to_client, watching, None).await;
                        });
                    }
                }
            }
        });
        Self { addr, mode, chunks }
    }

    fn set(&self, mode: Mode) {
        if let Mode::StallAfter(n) = mode {
            self.chunks.store(n, Ordering::SeqCst);
        }
        self.mode.send_replace(mode);
    }
}

/// Copies `from` to `to` while the mode is `Pass` (or `Delay`, late); closes both on `Refuse`; holds both,
/// forwarding nothing, forever on `BlackHole`.
/// `budget` (for the client's side) counts down the chunks `StallAfter` forwards.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
    budget: Option<Arc<AtomicUsize>>,
) {
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            changed = mode.changed() => match changed {
                Ok(()) => 0,
                Err(_) => return,
            },
        };
        let current = *mode.borrow();
        match current {
            Mode::Pass => {}
            Mode::Delay(d) => tokio::time::sleep(d).await,
            Mode::StallAfter(_) if n == 0 => {}
            Mode::StallAfter(_) => {
                let spent = budget.as_ref().is_some_and(|b| {
                    b.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| c.checked_sub(1))
                        .is_err()
                });
                if spent {
                    let _held = (from, to);
                    return std::future::pending().await;
                }
            }
            Mode::Refuse => return,
            Mode::BlackHole => {
                let _held = (from, to);
                return std::future::pending().await;
            }
        }
        if n > 0 && to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// The test server's URL with the proxy as its host and port.
fn through(url: &str, proxy: SocketAddr) -> String {
    let mut url = url::Url::parse(url).unwrap();
    url.set_host(Some(&proxy.ip().to_string())).unwrap();
    url.set_port(Some(proxy.port())).unwrap();
    url.to_string()
}

async fn upstream_of(url: &str) -> SocketAddr {
    let url = url::Url::parse(url).unwrap();
    let host = url.host_str().unwrap().to_owned();
    let port = url.port().unwrap_or(5432);
    tokio::net::lookup_host((host, port))
        .await
        .unwrap()
        .next()
        .unwrap()
}

fn service_client() -> Client {
    let secret =
        ClientSecretHash::pbkdf2(SECRET, NonZeroU32::new(1000).unwrap(), &SystemRandom::new())
            .unwrap();
    Client::new("service", ClientKind::confidential(secret))
        .with_allowed_scopes(ScopeSet::parse("read").unwrap())
        .with_default_scopes(ScopeSet::parse("read").unwrap())
        .with_grant_types([GrantType::ClientCredentials])
}

/// POSTs `body` to the token or introspection endpoint as the service client.
async fn post(provider: &Provider, introspect: bool, body: &str) -> Response<Bytes> {
    let basic = STANDARD.encode(format!("service:{SECRET}"));
    let req = Request::builder()
        .method(Method::POST)
        .uri("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {basic}"))
        .body(Bytes::from(body.to_owned()))
        .unwrap();
    if introspect {
        provider.introspect(req).await
    } else {
        provider.token(req).await
    }
}

fn json(r: &Response<Bytes>) -> serde_json::Value {
    serde_json::from_slice(r.body()).unwrap_or_default()
}

/// A client-credentials token, which must be issued.
async fn issue(provider: &Provider) -> String {
    let r = post(provider, false, "grant_type=client_credentials").await;
    assert_eq!(r.status(), StatusCode::OK, "{}", json(&r));
    json(&r)["access_token"].as_str().unwrap().to_owned()
}

async fn active(provider: &Provider, token: &str) -> bool {
    let r = post(provider, true, &format!("token={token}")).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", json(&r));
    json(&r)["active"] == true
}

/// Both endpoints answer 503 `temporarily_unavailable`, not cached, within the timeout.
async fn unavailable(provider: &Provider, token: &str, phase: &str) {
    for (introspect, body) in [
        (false, "grant_type=client_credentials".to_owned()),
        (true, format!("token={token}")),
        (false, "grant_type=client_credentials".to_owned()),
    ] {
        let started = Instant::now();
        let r = post(provider, introspect, &body).await;
        let took = started.elapsed();
        assert_eq!(
            r.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{phase}: {}",
            json(&r)
        );
        assert_eq!(json(&r)["error"], "temporarily_unavailable", "{phase}");
        assert_eq!(r.headers()["cache-control"], "no-store", "{phase}");
        assert!(took < TIMEOUT + MARGIN, "{phase}: answered after {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_answers_503_quickly_and_the_pool_recovers_by_itself() {
    let Some(url) = server_url() else { return };
    let proxy = Proxy::start(upstream_of(&url).await).await;
    let schemas = Schemas::new(url.clone());
    let schema = schemas.fresh_name("outage");
    schemas.claim(&schema).await;
    let config = PostgresConfig::from_url(&through(&url, proxy.addr))
        .unwrap()
        .schema(&schema)
        .unwrap()
        .max_connections(4)
        .operation_timeout(TIMEOUT);
    let store = Arc::new(PostgresStore::connect_with(config).await.unwrap());
    let provider = Provider::builder(Issuer::parse("https://as.example").unwrap())
        .stores(Stores::shared(store))
        .dangerous_plaintext_signing_keys()
        .build()
        .unwrap();
    provider.register_client(&service_client()).await.unwrap();
    let before = issue(&provider).await;
    assert!(active(&provider, &before).await);

    // A stopped server: connections closed, new ones refused.
    proxy.set(Mode::Refuse);
    unavailable(&provider, &before, "refused").await;
    proxy.set(Mode::Pass);
    let back = Instant::now();
    let after_refusal = loop {
        let r = post(&provider, false, "grant_type=client_credentials").await;
        if r.status() == StatusCode::OK {
            break json(&r)["access_token"].as_str().unwrap().to_owned();
        }
        assert!(back.elapsed() < Duration::from_secs(3), "not recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // A vanished server: the pooled connection and every new one hang, forever. The
    // connection that hung is closed, not pooled: the first request once the server is
    // reachable again succeeds on a new one.
    proxy.set(Mode::BlackHole);
    unavailable(&provider, &before, "black-holed").await;
    proxy.set(Mode::Pass);
    let token = issue(&provider).await;
    for t in [&before, &after_refusal, &token] {
        assert!(
            active(&provider, t).await,
            "a token issued before is still active"
        );
    }
}

/// A store of one connection behind the proxy, on a schema of its own.
async fn lone_connection_store(url: &str, proxy: &Proxy, schemas: &Schemas) -> PostgresStore {
    lone_connection_store_in(url, proxy, schemas, &schemas.fresh_name("lone")).await
}

/// A store of one connection behind the proxy, on the schema `schema`.
async fn lone_connection_store_in(
    url: &str,
    proxy: &Proxy,
    schemas: &Schemas,
    schema: &str,
) -> PostgresStore {
    schemas.claim(schema).await;
    let config = PostgresConfig::from_url(&through(url, proxy.addr))
        .unwrap()
        .schema(schema)
        .unwrap()
        .max_connections(1)
        .operation_timeout(TIMEOUT);
    PostgresStore::connect_with(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_cut_off_by_the_timeout_or_its_caller_never_returns_to_the_pool() {
    let Some(url) = server_url() else { return };
    let proxy = Proxy::start(upstream_of(&url).await).await;
    let schemas = Schemas::new(url.clone());
    let store = lone_connection_store(&url, &proxy, &schemas).await;
    let issuer = Issuer::parse("https://as.example").unwrap();
    let client = service_client();
    store.save_client(&issuer, &client).await.unwrap();
    let renamed = |scopes: &str| {
        client
            .clone()
            .with_allowed_scopes(ScopeSet::parse(scopes).unwrap())
    };

    // The compare-and-swap runs in a transaction: it times out, whole, within the bound.
    proxy.set(Mode::BlackHole);
    let started = Instant::now();
    let swapped = store
        .replace_client(&issuer, Some(&client), &renamed("write"))
        .await;
    assert_timed_out(swapped);
    assert!(
        started.elapsed() < TIMEOUT + MARGIN,
        "{:?}",
        started.elapsed()
    );
    proxy.set(Mode::Pass);
    // The pool's only connection hung: had it gone back, this would hang too.
    assert!(store
        .replace_client(&issuer, Some(&client), &renamed("read write"))
        .await
        .unwrap());

    // A caller that gives up first (a client that hung up) drops the operation mid-way.
    proxy.set(Mode::BlackHole);
    let current = renamed("read write");
    let dropped = tokio::time::timeout(
        TIMEOUT / 3,
        store.replace_client(&issuer, Some(&current), &renamed("read")),
    )
    .await;
    assert!(dropped.is_err(), "the operation was still waiting");
    proxy.set(Mode::Pass);
    let found = store
        .find_client(&issuer, &client.id, UnixTime::from_secs(0))
        .await;
    assert_eq!(
        found.unwrap().unwrap().allowed_scopes,
        current.allowed_scopes
    );
}

/// `result` is the store's operation timeout, not any other failure.
fn assert_timed_out<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    let err = result.expect_err("the operation timed out");
    assert_eq!(err.to_string(), "store error: postgres operation timed out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_batch_of_a_purge_has_its_own_timeout() {
    let Some(url) = server_url() else { return };
    let proxy = Proxy::start(upstream_of(&url).await).await;
    let schemas = Schemas::new(url.clone());
    let schema = schemas.fresh_name("purge");
    let store = lone_connection_store_in(&url, &proxy, &schemas, &schema).await;
    let expired = 5 * PURGE_BATCH + 1;
    common::raw(&url)
        .await
        .execute(
            &format!(
                "INSERT INTO {schema}.replay_cache (issuer, namespace, id, expires_at) \
                 SELECT 'i', 'n', sha256(i::text::bytea), 0 FROM generate_series(1, $1::bigint) i"
            ),
            &[&expired],
        )
        .await
        .unwrap();
    // A round trip takes a third of the timeout: the six batches take twice as long as one
    // timeout, each batch well within it.
    proxy.set(Mode::Delay(TIMEOUT / 6));
    let started = Instant::now();
    let purged = ReplayCache::purge_expired(&store, UnixTime::from_secs(1)).await;
    assert_eq!(
        purged.unwrap(),
        expired.unsigned_abs(),
        "{:?}",
        started.elapsed()
    );
    assert!(started.elapsed() > TIMEOUT, "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_cut_off_mid_way_does_not_stay_open_on_the_server() {
    let Some(url) = server_url() else { return };
    let proxy = Proxy::start(upstream_of(&url).await).await;
    let schemas = Schemas::new(url.clone());
    let app = format!("stall_{}", std::process::id());
    let mut named = url::Url::parse(&url).unwrap();
    named
        .query_pairs_mut()
        .append_pair("application_name", &app);
    let store = lone_connection_store(named.as_str(), &proxy, &schemas).await;
    let issuer = Issuer::parse("https://as.example").unwrap();
    let client = service_client();
    store.save_client(&issuer, &client).await.unwrap();
    let scopes = |s: &str| {
        client
            .clone()
            .with_allowed_scopes(ScopeSet::parse(s).unwrap())
    };
    // Once through, so that its statements are prepared on the connection.
    assert!(store
        .replace_client(&issuer, Some(&client), &scopes("write"))
        .await
        .unwrap());
    // BEGIN and the SELECT … FOR UPDATE reach the server; the UPDATE never does.
    proxy.set(Mode::StallAfter(2));
    let swapped = store
        .replace_client(&issuer, Some(&scopes("write")), &scopes("read"))
        .await;
    assert_timed_out(swapped);
    let observer = common::raw(&url).await;
    let open = || async {
        let row = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE application_name = $1 AND state LIKE 'idle in transaction%'",
                &[&app],
            )
            .await
            .unwrap();
        row.get::<_, i64>(0)
    };
    let started = Instant::now();
    // The server ends the transaction after twice the operation timeout.
    let bound = 2 * TIMEOUT + MARGIN;
    let mut seen_open = false;
    loop {
        let n = open().await;
        seen_open |= n > 0;
        if n == 0 {
            break;
        }
        assert!(started.elapsed() < bound, "{n} transaction(s) still open");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen_open,
        "the transaction was open on the server when the timeout struck"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_call_of_two_statements_has_one_timeout() {
    let Some(url) = server_url() else { return };
    let proxy = Proxy::start(upstream_of(&url).await).await;
    let schemas = Schemas::new(url.clone());
    let store = lone_connection_store(&url, &proxy, &schemas).await;
    // A round trip takes a third of the timeout. An unknown code costs four (each of the
    // two statements prepared, then run): within one timeout only if each statement had
    // its own.
    proxy.set(Mode::Delay(TIMEOUT / 6));
    let issuer = Issuer::parse("https://as.example").unwrap();
    let started = Instant::now();
    let consumed = store
        .consume_code(&issuer, &TokenHash::of("unknown"), UnixTime::from_secs(0))
        .await;
    assert_timed_out(consumed);
    assert!(
        started.elapsed() < TIMEOUT + MARGIN,
        "{:?}",
        started.elapsed()
    );
}
