//! Private signing keys at rest: sealed under the host's key-encryption key (KEK) before
//! they reach the key store, plaintext keys sealed when loaded, KEK rotation, a wrong or
//! missing KEK refused clearly, a persistent store refused without a KEK, and a signer the
//! host holds outside the key store (a KMS or an HSM).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::{engine::general_purpose::STANDARD, Engine};
use common::*;
use http::StatusCode;
use portcullis::core::{
    verify_compact, Algorithm, EnvelopeState, Issuer, JwkSet, KeyEncryptionKey, KeyEncryptionKeys,
    KeyRecord, Policy, PrivateKeyDer, PrivateKeyEnvelope, SigningKey, TokenFormat, UnixTime,
    VerifyingKey,
};
use portcullis::store::{KeyStore, StoreResult};
use portcullis::{
    async_trait, BuildError, JwsSigner, KeyError, Provider, ProviderBuilder, SignError, Stores,
};
use portcullis_store_memory::MemoryStore;
use ring::rand::SystemRandom;
use serde_json::Value;

fn kek(id: &str, byte: u8) -> KeyEncryptionKey {
    KeyEncryptionKey::new(id, &[byte; 32]).unwrap()
}

fn keks(id: &str, byte: u8) -> KeyEncryptionKeys {
    KeyEncryptionKeys::new(kek(id, byte))
}

fn es256_policy() -> Policy {
    let mut policy = Policy::default();
    policy.keys.default_alg = Algorithm::ES256;
    policy
}

/// The stored keys of the test issuer, by `kid`.
async fn stored(store: &MemoryStore) -> Vec<KeyRecord> {
    let mut keys = store.keys(&Issuer::parse(ISSUER).unwrap()).await.unwrap();
    keys.sort_by(|a, b| a.kid.cmp(&b.kid));
    keys
}

fn kek_ids(keys: &[KeyRecord]) -> Vec<EnvelopeState<'_>> {
    keys.iter().map(|k| k.private_key.state()).collect()
}

async fn jwks(p: &Provider) -> (StatusCode, Value) {
    let r = p.jwks().await;
    (r.status(), serde_json::from_slice(r.body()).unwrap())
}

async fn published(p: &Provider) -> Vec<VerifyingKey> {
    JwkSet::parse(p.jwks().await.body())
        .unwrap()
        .verifying_keys()
}

/// The web client's token response of an OpenID login.
async fn login(h: &Harness) -> (StatusCode, Value) {
    let code = h.code_for("web", WEB_REDIRECT, "openid", "alice").await;
    let (status, json, _) = h
        .token(
            &format!(
                "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={VERIFIER}",
                enc(WEB_REDIRECT)
            ),
            Some(("web", SECRET)),
        )
        .await;
    (status, json)
}

/// The `kid` of the ID token of an OpenID login, which verifies against the JWKS.
async fn id_token_kid(h: &Harness) -> String {
    let (status, tokens) = login(h).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let keys = published(&h.provider).await;
    let v = verify_compact(tokens["id_token"].as_str().unwrap(), &keys, &Algorithm::ALL)
        .expect("the ID token verifies against the JWKS");
    v.header.kid.unwrap()
}

/// A memory store that says it persists its keys, as a database would.
struct Persistent(Arc<MemoryStore>);

#[async_trait]
impl KeyStore for Persistent {
    async fn insert_key(&self, key: &KeyRecord) -> StoreResult<()> {
        self.0.insert_key(key).await
    }

    async fn keys(&self, issuer: &Issuer) -> StoreResult<Vec<KeyRecord>> {
        self.0.keys(issuer).await
    }

    async fn reseal_key(
        &self,
        issuer: &Issuer,
        kid: &str,
        old: &PrivateKeyEnvelope,
        new: &PrivateKeyEnvelope,
    ) -> StoreResult<bool> {
        self.0.reseal_key(issuer, kid, old, new).await
    }

    async fn retire_key(
        &self,
        issuer: &Issuer,
        kid: &str,
        retires_at: UnixTime,
        expires_at: UnixTime,
    ) -> StoreResult<bool> {
        self.0.retire_key(issuer, kid, retires_at, expires_at).await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        KeyStore::purge_expired(&*self.0, now).await
    }
}

fn on_persistent(store: &Arc<MemoryStore>) -> ProviderBuilder {
    let mut stores = Stores::shared(store.clone());
    stores.keys = Arc::new(Persistent(store.clone()));
    Provider::builder(Issuer::parse(ISSUER).unwrap()).stores(stores)
}

/// A signer that lives outside the key store, as a KMS would: its own ring key, which the
/// provider never sees.
struct Kms {
    key: SigningKey,
    alg: Algorithm,
    calls: AtomicUsize,
}

impl Kms {
    fn new(kid: &str, alg: Algorithm) -> Arc<Self> {
        let key = SigningKey::generate(kid, alg, &SystemRandom::new()).unwrap();
        Arc::new(Self {
            key,
            alg,
            calls: AtomicUsize::new(0),
        })
    }

    /// One that says it signs with `alg` (never asked to here: for building only).
    fn claiming(alg: Algorithm) -> Arc<Self> {
        let key =
            SigningKey::generate(format!("kms-{alg}"), Algorithm::ES256, &SystemRandom::new());
        Arc::new(Self {
            key: key.unwrap(),
            alg,
            calls: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl JwsSigner for Kms {
    fn kid(&self) -> &str {
        self.key.kid()
    }

    fn alg(&self) -> Algorithm {
        self.alg
    }

    fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    async fn sign(&self, signing_input: &[u8]) -> Result<Vec<u8>, SignError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.key
            .sign(signing_input, &SystemRandom::new())
            .map_err(SignError::new)
    }
}

#[tokio::test]
async fn a_persistent_key_store_is_refused_without_a_kek_unless_dangerous() {
    let store = Arc::new(MemoryStore::new());
    let refused = on_persistent(&store).build().unwrap_err();
    assert!(
        matches!(refused, BuildError::NoKeyEncryptionKey),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("key-encryption key"),
        "{refused}"
    );

    // Said dangerously: the keys are kept in plaintext.
    let p = on_persistent(&store)
        .dangerous_plaintext_signing_keys()
        .build()
        .unwrap();
    assert_eq!(jwks(&p).await.0, StatusCode::OK);
    let keys = stored(&store).await;
    assert_eq!(keys.len(), 4);
    assert!(kek_ids(&keys)
        .iter()
        .all(|s| *s == EnvelopeState::Plaintext));

    // With a KEK it starts; a memory store, which keeps nothing beyond the process, needs
    // none; nor does a provider whose every algorithm the host's signers serve.
    assert!(on_persistent(&store)
        .key_encryption_keys(keks("k1", 1))
        .build()
        .is_ok());
    assert!(Provider::builder(Issuer::parse(ISSUER).unwrap())
        .stores(Stores::shared(store.clone()))
        .build()
        .is_ok());
    let all_hosts = Algorithm::ALL.iter().fold(on_persistent(&store), |b, alg| {
        b.signer(Kms::claiming(*alg))
    });
    assert!(all_hosts.build().is_ok());
    let twice = on_persistent(&store)
        .key_encryption_keys(keks("k1", 1))
        .signer(Kms::new("a", Algorithm::ES256))
        .signer(Kms::new("b", Algorithm::ES256))
        .build()
        .unwrap_err();
    assert!(matches!(
        twice,
        BuildError::DuplicateSigner(Algorithm::ES256)
    ));
}

#[tokio::test]
async fn private_keys_are_sealed_in_the_store_and_sign() {
    let store = Arc::new(MemoryStore::new());
    let h = Harness::configured(store.clone(), ISSUER, |b| {
        b.key_encryption_keys(keks("k1", 1))
    })
    .await;
    let kid = id_token_kid(&h).await;
    let keys = stored(&store).await;
    assert_eq!(keys.len(), 4, "a key per algorithm");
    assert!(keys.iter().any(|k| k.kid == kid));
    for k in &keys {
        assert_eq!(
            k.private_key.state(),
            EnvelopeState::Sealed { kek_id: "k1" }
        );
        let der = k
            .private_key
            .open(k.binding(), Some(&keks("k1", 1)))
            .unwrap();
        let row = serde_json::to_string(k).unwrap();
        let b64 = STANDARD.encode(der.expose());
        assert!(!row.contains(&b64[..40]), "no plaintext key in the record");
        let sealed = k.private_key.as_bytes();
        assert!(
            !der.expose()
                .windows(16)
                .any(|w| sealed.windows(16).any(|x| x == w)),
            "no 16 bytes of the key in the stored bytes"
        );
        assert!(!format!("{k:?}").contains(&b64[..40]));
    }
}

#[tokio::test]
async fn a_plaintext_key_is_sealed_when_loaded_and_still_signs() {
    let store = Arc::new(MemoryStore::new());
    let rng = SystemRandom::new();
    let legacy = SigningKey::generate("legacy-es256", Algorithm::ES256, &rng).unwrap();
    let record = KeyRecord {
        issuer: Issuer::parse(ISSUER).unwrap(),
        kid: "legacy-es256".into(),
        alg: Algorithm::ES256,
        private_key: PrivateKeyEnvelope::plaintext(&PrivateKeyDer::new(
            legacy.pkcs8_der().to_vec(),
        )),
        created_at: UnixTime::from_secs(T0 - 60),
        activates_at: UnixTime::from_secs(T0 - 60),
        retires_at: None,
        expires_at: None,
    };
    store.insert_key(&record).await.unwrap();
    let h = Harness::configured(store.clone(), ISSUER, |b| {
        b.policy(es256_policy()).key_encryption_keys(keks("k1", 1))
    })
    .await;
    // It still signs, with the same key: the ID token verifies with the legacy public key.
    let (status, tokens) = login(&h).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let v = verify_compact(
        tokens["id_token"].as_str().unwrap(),
        &[legacy.verifying_key()],
        &[Algorithm::ES256],
    )
    .unwrap();
    assert_eq!(v.header.kid.as_deref(), Some("legacy-es256"));
    let now = stored(&store).await;
    let migrated = now.iter().find(|k| k.kid == "legacy-es256").unwrap();
    assert_eq!(
        migrated.private_key.state(),
        EnvelopeState::Sealed { kek_id: "k1" },
        "sealed in the store"
    );
    assert_eq!(
        KeyRecord {
            private_key: record.private_key.clone(),
            ..migrated.clone()
        },
        record,
        "nothing else changed"
    );
}

#[tokio::test]
async fn kek_rotation_opens_old_keys_and_seals_under_the_new_kek() {
    let store = Arc::new(MemoryStore::new());
    let first = Harness::configured(store.clone(), ISSUER, |b| {
        b.key_encryption_keys(keks("2024", 1))
    })
    .await;
    let kid = id_token_kid(&first).await;
    let before = stored(&store).await;
    assert!(kek_ids(&before)
        .iter()
        .all(|s| *s == EnvelopeState::Sealed { kek_id: "2024" }));

    // The new KEK is current, the old one still known: the old keys open (same kids), and
    // are sealed again under the new KEK.
    let rotated = || {
        KeyEncryptionKeys::new(kek("2025", 2))
            .with_previous(kek("2024", 1))
            .unwrap()
    };
    let second =
        Harness::configured(store.clone(), ISSUER, |b| b.key_encryption_keys(rotated())).await;
    assert_eq!(id_token_kid(&second).await, kid, "the same key signs");
    let after = stored(&store).await;
    assert_eq!(
        after.iter().map(|k| &k.kid).collect::<Vec<_>>(),
        before.iter().map(|k| &k.kid).collect::<Vec<_>>()
    );
    assert!(kek_ids(&after)
        .iter()
        .all(|s| *s == EnvelopeState::Sealed { kek_id: "2025" }));
    // A new key is sealed under the new KEK.
    let new_kid = second
        .provider
        .rotate_signing_key(Algorithm::ES256)
        .await
        .unwrap();
    let new = stored(&store).await;
    let new = new.iter().find(|k| k.kid == new_kid).unwrap();
    assert_eq!(
        new.private_key.state(),
        EnvelopeState::Sealed { kek_id: "2025" }
    );
    // Every key is under the new KEK now: the old one can go.
    let third = Harness::configured(store.clone(), ISSUER, |b| {
        b.key_encryption_keys(keks("2025", 2))
    })
    .await;
    assert_eq!(id_token_kid(&third).await, kid);
}

type Configure = dyn Fn(ProviderBuilder) -> ProviderBuilder;

#[tokio::test]
async fn a_wrong_or_missing_kek_fails_clearly_without_a_secret() {
    let store = Arc::new(MemoryStore::new());
    let sealer = Harness::configured(store.clone(), ISSUER, |b| {
        b.key_encryption_keys(keks("k1", 1))
    })
    .await;
    id_token_kid(&sealer).await;
    let count = stored(&store).await.len();
    let cases: [(&str, Box<Configure>); 3] = [
        (
            "does not open with key-encryption key \"k1\"",
            Box::new(|b| b.key_encryption_keys(keks("k1", 9))),
        ),
        (
            "is sealed under key-encryption key \"k1\", which is not configured",
            Box::new(|b| b.key_encryption_keys(keks("k2", 1))),
        ),
        (
            "is sealed, but no key-encryption key is configured",
            Box::new(|b| b.dangerous_plaintext_signing_keys()),
        ),
    ];
    for (said, configure) in cases {
        let h = Harness::configured(store.clone(), ISSUER, configure).await;
        let (status, body) = jwks(&h.provider).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{said}");
        assert_eq!(body["error"], "temporarily_unavailable");
        let (status, tokens) = login(&h).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{said}: {tokens}");
        assert_eq!(error_of(&tokens), "temporarily_unavailable");
        assert!(tokens.get("access_token").is_none() && tokens.get("id_token").is_none());
        let e = h
            .provider
            .rotate_signing_key(Algorithm::ES256)
            .await
            .unwrap_err();
        assert!(matches!(e, KeyError::Seal(_)), "{e:?}");
        let text = format!("{e} {e:?}");
        assert!(text.contains(said), "{text}");
        assert!(!text.contains("[1, 1") && !text.contains("[9, 9"), "{text}");
        assert_eq!(stored(&store).await.len(), count, "nothing added");
    }
}

#[tokio::test]
async fn a_signer_outside_the_key_store_signs_id_tokens_and_jwt_access_tokens() {
    let store = Arc::new(MemoryStore::new());
    let kms = Kms::new("kms-es256", Algorithm::ES256);
    let h = Harness::configured(store.clone(), ISSUER, |b| {
        b.policy(es256_policy())
            .key_encryption_keys(keks("k1", 1))
            .signer(kms.clone())
    })
    .await;
    let mut service = service_client();
    service.tokens.access_token_format = TokenFormat::Jwt;
    h.provider.register_client(&service).await.unwrap();

    // Its public key is in the JWKS, with the store's keys of the other algorithms.
    let (_, set) = jwks(&h.provider).await;
    let kids: Vec<&str> = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(kids.contains(&"kms-es256"), "{kids:?}");
    assert_eq!(kids.len(), 4);

    assert_eq!(id_token_kid(&h).await, "kms-es256");
    let (status, json, _) = h
        .token("grant_type=client_credentials", Some(("service", SECRET)))
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let at = verify_compact(
        json["access_token"].as_str().unwrap(),
        &published(&h.provider).await,
        &[Algorithm::ES256],
    )
    .expect("the JWT access token verifies against the JWKS");
    assert_eq!(at.header.kid.as_deref(), Some("kms-es256"));
    assert_eq!(at.header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(kms.calls.load(Ordering::Relaxed), 2);

    // The key store has no key of its algorithm, and its keys rotate in the KMS.
    assert!(stored(&store)
        .await
        .iter()
        .all(|k| k.alg != Algorithm::ES256));
    let e = h
        .provider
        .rotate_signing_key(Algorithm::ES256)
        .await
        .unwrap_err();
    assert!(matches!(e, KeyError::HostSigner(Algorithm::ES256)), "{e:?}");
}
