//! Requests at a resource server (RFC 6750 §2, RFC 9449 §7, RFC 8705 §3):
//! `ResourceServer::authenticate` on arbitrary request heads and bodies, with every token
//! location on (header, form body, the dangerous query), the DPoP scheme with a replay cache,
//! and a validator that knows three tokens: `bearer` (no binding), `dpop` (bound to a key
//! no input holds) and `cert` (bound to a certificate no input carries).
//!
//! Input: a request line (`METHOD PATH?QUERY`), header lines (`name: value`) up to an empty
//! line, then the body. What is accepted is the `bearer` token, sent with the `Bearer`
//! scheme or as a parameter; every refusal is a 400 or a 401 with a challenge.
#![no_main]

use std::sync::{Arc, OnceLock};

use http::header::WWW_AUTHENTICATE;
use http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use portcullis_core::{Confirmation, DpopPolicy, TokenScheme, UnixTime};
use portcullis_fuzz::ready;
use portcullis_resource::{
    ManualClock, Rejection, ResourceServer, TokenClaims, TokenError, TokenValidator,
};
use portcullis_store_memory::MemoryStore;

const NOW: UnixTime = UnixTime::from_secs(1_800_000_000);

/// Knows `bearer`, `dpop` and `cert`; any other token is invalid.
struct ThreeTokens;

#[async_trait::async_trait]
impl TokenValidator for ThreeTokens {
    async fn validate(&self, token: &str, _: UnixTime) -> Result<TokenClaims, TokenError> {
        let confirmation = match token {
            "bearer" => None,
            "dpop" => Some(Confirmation {
                jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".to_owned()),
                x5t_s256: None,
            }),
            "cert" => Some(Confirmation {
                jkt: None,
                x5t_s256: Some("bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2".to_owned()),
            }),
            _ => return Err(TokenError::Invalid("the token is not valid")),
        };
        let mut claims: TokenClaims = serde_json::from_value(serde_json::json!({
            "iss": "https://as.example", "aud": "https://api.example", "exp": NOW.secs() + 60,
            "scope": "read",
        }))
        .unwrap();
        claims.confirmation = confirmation;
        Ok(claims)
    }
}

fn server() -> &'static ResourceServer {
    static S: OnceLock<ResourceServer> = OnceLock::new();
    S.get_or_init(|| {
        ResourceServer::builder("https://api.example", Arc::new(ThreeTokens))
            .clock(Arc::new(ManualClock::new(NOW)))
            .dpop(DpopPolicy::default(), Arc::new(MemoryStore::new()))
            .allow_form_body_token()
            .dangerous_allow_query_token()
            .build()
            .unwrap()
    })
}

/// The request the input describes, if it is one `http` can hold.
fn request(data: &[u8]) -> Option<(http::request::Parts, Vec<u8>)> {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let (method, target) = lines.next()?.split_once(' ')?;
    let mut builder = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).ok()?)
        .uri(target);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        builder = builder.header(
            HeaderName::from_bytes(name.trim().as_bytes()).ok()?,
            HeaderValue::from_bytes(value.trim().as_bytes()).ok()?,
        );
    }
    let (parts, ()) = builder.body(()).ok()?.into_parts();
    Some((parts, body.as_bytes().to_vec()))
}

fuzz_target!(|data: &[u8]| {
    let Some((parts, body)) = request(data) else {
        return;
    };
    match ready(server().authenticate(&parts, Some(&body))) {
        Ok(authenticated) => {
            assert_eq!(
                authenticated.claims().confirmation,
                None,
                "a bound token passed"
            );
            assert_eq!(authenticated.scheme(), TokenScheme::Bearer);
        }
        Err(Rejection::Unauthenticated(refusal)) => {
            let response = refusal.to_response();
            assert!(matches!(
                response.status(),
                StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED
            ));
            assert!(response.headers().contains_key(WWW_AUTHENTICATE));
        }
        Err(other) => panic!("neither accepted nor a challenge: {other:?}"),
    }
});
