//! CPU-heavy work runs on a bounded blocking pool, never on the async worker serving the
//! request: PBKDF2 client-secret checks and RSA key generation wait for a place on the
//! provider's pool (here held by the test), while a SHA-256 check of a generated secret does
//! not; beyond its size, callers wait their turn.

mod common;

use std::future::{poll_fn, Future};
use std::num::NonZeroUsize;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::task::Poll;

use base64::{engine::general_purpose::STANDARD, Engine};
use bytes::Bytes;
use common::*;
use http::{Method, Request, Response, StatusCode};
use std::num::NonZeroU32;

use portcullis::core::{ClientKind, ClientSecretHash, Issuer};
use portcullis::{BlockingPool, Provider, Stores};
use portcullis_store_memory::MemoryStore;
use ring::rand::SystemRandom;

/// A generated secret (256 bits in base64url), kept as its SHA-256.
const GENERATED: &str = "S5zp9btO6p7kZtEkWEf3PVQ3AVYvBN2SlRmyxKbvmoY";

/// A provider whose blocking pool runs one job at a time, with the PBKDF2-hashed service
/// client and a copy of it whose secret is generated.
async fn provider(pool: &BlockingPool) -> Provider {
    let provider = Provider::builder(Issuer::parse(ISSUER).unwrap())
        .stores(Stores::shared(Arc::new(MemoryStore::new())))
        .blocking_pool(pool.clone())
        .build()
        .unwrap();
    let mut generated = service_client();
    generated.id = "generated".into();
    generated.kind = ClientKind::Confidential {
        method: None,
        secret: ClientSecretHash::sha256_of_generated(GENERATED).unwrap(),
    };
    for client in [service_client(), generated] {
        provider.register_client(&client).await.unwrap();
    }
    provider
}

fn client_credentials(id: &str, secret: &str) -> Request<Bytes> {
    Request::builder()
        .method(Method::POST)
        .uri("/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        )
        .body(Bytes::from_static(
            b"grant_type=client_credentials&scope=read",
        ))
        .unwrap()
}

/// Takes the pool's only place until the returned sender is dropped.
async fn hold(pool: &BlockingPool) -> (mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
    let (release, released) = mpsc::channel::<()>();
    let (started, running) = tokio::sync::oneshot::channel();
    let pool = pool.clone();
    let task = tokio::spawn(async move {
        pool.run(move || {
            started.send(()).unwrap();
            let _ = released.recv();
        })
        .await
        .unwrap();
    });
    running.await.unwrap();
    (release, task)
}

/// Polls `fut` once: its output if it finished at once.
async fn at_once<F: Future>(mut fut: Pin<&mut F>) -> Option<F::Output> {
    poll_fn(|cx| match fut.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

fn error_code(response: &Response<Bytes>) -> String {
    let json: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    json["error"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn pbkdf2_client_secrets_are_checked_on_the_blocking_pool() {
    let pool = BlockingPool::new(NonZeroUsize::MIN);
    let provider = provider(&pool).await;
    for (secret, status) in [
        (SECRET, StatusCode::OK),
        ("wrong", StatusCode::UNAUTHORIZED),
    ] {
        let (held, holder) = hold(&pool).await;
        let mut request = pin!(provider.token(client_credentials("service", secret)));
        assert!(
            at_once(request.as_mut()).await.is_none(),
            "PBKDF2 ran on the async worker"
        );
        drop(held);
        holder.await.unwrap();
        let response = request.await;
        assert_eq!(response.status(), status, "{secret}");
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(error_code(&response), "invalid_client");
        }
    }
}

#[tokio::test]
async fn generated_client_secrets_are_checked_at_once() {
    let pool = BlockingPool::new(NonZeroUsize::MIN);
    let provider = provider(&pool).await;
    let (held, holder) = hold(&pool).await;
    for (secret, status) in [
        (GENERATED, StatusCode::OK),
        ("wrong", StatusCode::UNAUTHORIZED),
    ] {
        let mut request = pin!(provider.token(client_credentials("generated", secret)));
        let response = at_once(request.as_mut())
            .await
            .expect("waited for the pool");
        assert_eq!(response.status(), status, "{secret}");
    }
    drop(held);
    holder.await.unwrap();
}

#[tokio::test]
async fn rsa_keys_are_generated_on_the_blocking_pool() {
    let pool = BlockingPool::new(NonZeroUsize::MIN);
    let provider = provider(&pool).await;
    let (held, holder) = hold(&pool).await;
    // The first JWKS creates a key for every algorithm, RS256 included.
    let mut jwks = pin!(provider.jwks());
    assert!(
        at_once(jwks.as_mut()).await.is_none(),
        "key generation ran on the async worker"
    );
    drop(held);
    holder.await.unwrap();
    let response = jwks.await;
    assert_eq!(response.status(), StatusCode::OK);
    let keys: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    assert!(keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["alg"] == "RS256"));
}

#[tokio::test]
async fn jobs_run_off_the_calling_thread() {
    let pool = BlockingPool::new(NonZeroUsize::MIN);
    let caller = std::thread::current().id();
    let worker = pool.run(|| std::thread::current().id()).await.unwrap();
    assert_ne!(worker, caller);
}

#[tokio::test]
async fn beyond_the_size_callers_wait_their_turn() {
    let pool = BlockingPool::new(NonZeroUsize::new(2).unwrap());
    let (first, first_holder) = hold(&pool).await;
    let (second, second_holder) = hold(&pool).await;
    let mut third = pin!(pool.run(|| 3));
    assert!(at_once(third.as_mut()).await.is_none(), "a third job ran");
    drop(first);
    first_holder.await.unwrap();
    assert_eq!(third.await, Ok(3));
    drop(second);
    second_holder.await.unwrap();
}

#[tokio::test]
async fn a_caller_that_gives_up_leaves_the_queue() {
    let pool = BlockingPool::new(NonZeroUsize::MIN);
    let (held, holder) = hold(&pool).await;
    let ran = Arc::new(AtomicBool::new(false));
    {
        let ran = ran.clone();
        let mut waiting = pin!(pool.run(move || ran.store(true, Ordering::SeqCst)));
        assert!(at_once(waiting.as_mut()).await.is_none());
    }
    drop(held);
    holder.await.unwrap();
    assert_eq!(pool.run(|| "next").await, Ok("next"));
    assert!(!ran.load(Ordering::SeqCst), "an abandoned job ran");
}

#[tokio::test]
async fn host_passwords_use_the_same_check() {
    let stretched = ClientSecretHash::pbkdf2(
        "hunter2",
        NonZeroU32::new(1000).unwrap(),
        &SystemRandom::new(),
    )
    .unwrap();
    let pool = BlockingPool::new(NonZeroUsize::MIN);
    let (held, holder) = hold(&pool).await;
    let mut check = pin!(pool.verify_secret(&stretched, "hunter2"));
    assert!(at_once(check.as_mut()).await.is_none(), "PBKDF2 ran inline");
    drop(held);
    holder.await.unwrap();
    assert!(check.await);
    assert!(!pool.verify_secret(&stretched, "hunter3").await);
}

#[test]
fn outside_a_runtime_the_job_runs_on_the_caller() {
    let pool = BlockingPool::default();
    let caller = std::thread::current().id();
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let job = pin!(pool.run(|| std::thread::current().id()));
    assert_eq!(job.poll(&mut cx), Poll::Ready(Ok(caller)));
}
