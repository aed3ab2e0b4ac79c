//! JWT access tokens at a resource server (RFC 9068 §4): `JwtValidator::validate` against a
//! fixed issuer whose JWK Set holds one Ed25519 key (`k1`), at a fixed time.
//!
//! Input: a token as is; or, starting with `{`, claims signed by `k1` under a valid header
//! (`EdDSA`, `k1`, `at+jwt`), so that mutations reach the claim rules; or, starting with
//! `!`, a header line then claims, both signed by `k1`, so that they reach the header rules.
#![no_main]

use std::sync::{Arc, OnceLock};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use bytes::Bytes;
use http::{Request, Response};
use libfuzzer_sys::fuzz_target;
use portcullis_core::{Issuer, JwkSet, SigningKey, UnixTime};
use portcullis_fuzz::ready;
use portcullis_resource::{
    HttpClient, IssuerKeys, JwtValidator, TokenValidator, UpstreamError, DEFAULT_CLOCK_SKEW,
    MAX_JWT_BYTES,
};
use ring::rand::SystemRandom;

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);
const ISSUER: &str = "https://as.example";
const API: &str = "https://api.example/";

/// The issuer's key.
fn key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::ed25519_from_seed("k1", &[7; 32]).unwrap())
}

/// Serves the issuer's JWK Set, whatever is asked.
struct Jwks(Bytes);

#[async_trait::async_trait]
impl HttpClient for Jwks {
    async fn send(&self, _: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        Ok(Response::new(self.0.clone()))
    }
}

/// The validator, its keys fetched once: later validations at `NOW` never fetch again.
fn validator() -> &'static JwtValidator {
    static V: OnceLock<JwtValidator> = OnceLock::new();
    V.get_or_init(|| {
        let set = JwkSet {
            keys: vec![key().public_jwk()],
        };
        let http = Arc::new(Jwks(serde_json::to_vec(&set).unwrap().into()));
        let issuer = Issuer::parse(ISSUER).unwrap();
        let keys = IssuerKeys::from_jwks_uri(issuer, "https://as.example/jwks", http);
        JwtValidator::new(Arc::new(keys), API)
    })
}

fn sign(header: &str, claims: &str) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let sig = key().sign(input.as_bytes(), &SystemRandom::new()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let signed;
    let token = if text.starts_with('{') {
        signed = sign(r#"{"alg":"EdDSA","kid":"k1","typ":"at+jwt"}"#, text);
        &signed
    } else if let Some(rest) = text.strip_prefix('!') {
        let (header, claims) = rest.split_once('\n').unwrap_or((rest, ""));
        signed = sign(header, claims);
        &signed
    } else {
        text
    };
    if let Ok(claims) = ready(validator().validate(token, NOW)) {
        assert!(token.len() <= MAX_JWT_BYTES);
        assert_eq!(claims.issuer, ISSUER);
        assert!(claims.audience.iter().any(|a| a == API));
        assert!(claims.expires_at > UnixTime::from_secs(NOW.secs() - DEFAULT_CLOCK_SKEW.as_secs()));
    }
});
