//! Introspection responses as a resource server reads them (`portcullis-resource`'s
//! `IntrospectionValidator`): RFC 7662 §2.2 JSON, or RFC 9701 §5 JWTs.
//!
//! The first line is `json` or `jwt` (what the validator asks for), the rest the
//! authorization server's `200` answer. In `jwt` mode an answer starting with `{` is taken
//! as the JWT's claims and signed with the issuer's fixed Ed25519 key under the
//! `token-introspection+jwt` type, so mutations reach the RFC 9701 claim rules and the
//! introspection response inside; anything else is read as is. What is accepted is the
//! configured issuer's, for this resource or no audience, unexpired at the fixed time; a
//! second validation of the same token gives the same answer (from the cache, or again
//! unavailable).
#![no_main]

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http::{Request, Response, Uri};
use libfuzzer_sys::fuzz_target;
use portcullis_core::{sign_compact, Issuer, SigningKey, UnixTime};
use portcullis_fuzz::ready;
use portcullis_resource::{
    ClientCredentials, HttpClient, IntrospectionConfig, IntrospectionValidator, IssuerKeys,
    JwtResponses, TokenError, TokenValidator, UpstreamError,
};
use ring::rand::SystemRandom;

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);
const ISSUER: &str = "https://as.example";
const API: &str = "https://api.example/";

/// The issuer's fixed signing key.
fn key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::ed25519_from_seed("as-1", &[7; 32]).unwrap())
}

/// The issuer's keys, served from memory and shared by every run.
fn issuer_keys() -> Arc<IssuerKeys> {
    static K: OnceLock<Arc<IssuerKeys>> = OnceLock::new();
    K.get_or_init(|| {
        let jwks = serde_json::json!({ "keys": [key().public_jwk()] }).to_string();
        Arc::new(IssuerKeys::from_jwks_uri(
            Issuer::parse(ISSUER).unwrap(),
            "https://as.example/jwks",
            Arc::new(Answer(Bytes::from(jwks))),
        ))
    })
    .clone()
}

/// Answers every request (the JWK Set, or the introspection) with `200` and its body.
struct Answer(Bytes);

#[async_trait::async_trait]
impl HttpClient for Answer {
    async fn send(&self, _: Request<Bytes>) -> Result<Response<Bytes>, UpstreamError> {
        Ok(Response::new(self.0.clone()))
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (mode, answer) = text.split_once('\n').unwrap_or((text, ""));
    let jwt = match mode {
        "json" => false,
        "jwt" => true,
        _ => return,
    };
    let body = if jwt && answer.starts_with('{') {
        sign_compact(
            answer.as_bytes(),
            Some("token-introspection+jwt"),
            key(),
            &SystemRandom::new(),
        )
        .unwrap()
    } else {
        answer.to_owned()
    };
    let mut config = IntrospectionConfig::new(
        Issuer::parse(ISSUER).unwrap(),
        Uri::from_static("https://as.example/introspect"),
        API,
        ClientCredentials::SecretBasic {
            client_id: API.into(),
            secret: "secret".into(),
        },
    );
    if jwt {
        config.jwt_responses = Some(JwtResponses::new(issuer_keys()));
    }
    let validator = IntrospectionValidator::new(config, Arc::new(Answer(Bytes::from(body))));
    let first = ready(validator.validate("token", NOW));
    if let Ok(claims) = &first {
        assert_eq!(claims.issuer, ISSUER);
        assert!(claims.expires_at > NOW);
        assert!(claims.audience.is_empty() || claims.audience.iter().any(|a| a == API));
        assert!(!claims.extra.contains_key("active"));
    }
    let again = ready(validator.validate("token", NOW));
    match (&first, &again) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(TokenError::Invalid(a)), Err(TokenError::Invalid(b))) => assert_eq!(a, b),
        (Err(TokenError::Unavailable(a)), Err(TokenError::Unavailable(b))) => {
            assert_eq!(a.to_string(), b.to_string())
        }
        _ => panic!("the second answer differs: {first:?} then {again:?}"),
    }
});
