//! Property: on a fixed clock, in any interleaving of code redemptions and refreshes, each
//! code and each refresh token is consumed at most once (RFC 6749 §4.1.2, §10.5; RFC 9700
//! §4.14.2). Operations come in batches; a batch runs concurrently, batches in order.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::*;
use http::StatusCode;
use proptest::prelude::*;

const CODES: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    /// Redeems code `i`.
    Redeem(usize),
    /// Refreshes with the `i`-th refresh token issued so far (skipped if there is none).
    Refresh(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..CODES).prop_map(Op::Redeem),
        (0..8usize).prop_map(Op::Refresh),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn codes_and_refresh_tokens_are_consumed_at_most_once(
        batches in prop::collection::vec(prop::collection::vec(op(), 1..5), 1..8)
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(run(batches));
    }
}

async fn run(batches: Vec<Vec<Op>>) {
    let h = Arc::new(Harness::new().await);
    let mut codes = Vec::new();
    for _ in 0..CODES {
        codes.push(h.code_for("web", WEB_REDIRECT, "read", "alice").await);
    }
    let mut refresh_tokens: Vec<String> = Vec::new();
    let mut consumed: HashMap<String, usize> = HashMap::new();
    for batch in batches {
        let mut tasks = Vec::new();
        for op in batch {
            let (secret, body) = match op {
                Op::Redeem(i) => (
                    codes[i].clone(),
                    format!(
                        "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={VERIFIER}",
                        codes[i],
                        enc(WEB_REDIRECT)
                    ),
                ),
                Op::Refresh(i) => match refresh_tokens.get(i) {
                    Some(t) => (t.clone(), format!("grant_type=refresh_token&refresh_token={t}")),
                    None => continue,
                },
            };
            let h = h.clone();
            tasks.push(tokio::spawn(async move {
                let (status, json, _) = h.token(&body, Some(("web", SECRET))).await;
                (secret, status, json)
            }));
        }
        for task in tasks {
            let (secret, status, json) = task.await.unwrap();
            if status != StatusCode::OK {
                let refusal = (status, error_of(&json));
                assert_eq!(
                    refusal,
                    (StatusCode::BAD_REQUEST, "invalid_grant"),
                    "{json}"
                );
                continue;
            }
            *consumed.entry(secret).or_default() += 1;
            if let Some(next) = json["refresh_token"].as_str() {
                refresh_tokens.push(next.to_owned());
            }
        }
    }
    for (secret, times) in consumed {
        assert!(times <= 1, "{secret} was consumed {times} times");
    }
}
