//! The answer kept for a refresh grace period (see [`RefreshGrace`](crate::RefreshGrace)).
//!
//! A rotation that opens a grace period keeps its token response so that a racer presenting
//! the same old refresh token gets the same answer. The response is sealed (AES-256-GCM)
//! under a key derived from the old refresh token itself: the store keeps only that token's
//! hash, so neither a copy of the store nor anyone without the old token can open it.

use std::time::Duration;

use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};

use crate::authorization_details::AuthorizationDetail;
use crate::interaction::{open_payload, seal_payload, InteractionKey};
use crate::issuer::Issuer;
use crate::secret::RandomError;
use crate::time::UnixTime;
use crate::token::TokenResponse;

/// Names the key derivation, so the key is of no other use.
const SALT: &[u8] = b"portcullis refresh-token grace v1";
const PURPOSE: &str = "refresh-grace";

#[derive(Serialize, Deserialize)]
struct KeptAnswer {
    access_token: String,
    access_expires_at: UnixTime,
    refresh_token: Option<String>,
    scope: Option<String>,
    id_token: Option<String>,
    /// The access token is DPoP-bound: `token_type` `DPoP` (RFC 9449 §5). Absent from
    /// answers sealed before DPoP, all of them `Bearer`.
    #[serde(default)]
    dpop: bool,
    /// The access token's authorization details (RFC 9396 §7).
    #[serde(default)]
    authorization_details: Vec<AuthorizationDetail>,
}

/// Seals `response`, issued at `now` for the refresh token `old_refresh_token`, until the
/// grace period ends at `until`.
pub fn seal_grace_answer(
    old_refresh_token: &str,
    response: &TokenResponse,
    now: UnixTime,
    until: UnixTime,
    issuer: &Issuer,
    rng: &dyn SecureRandom,
) -> Result<String, RandomError> {
    let kept = KeptAnswer {
        access_token: response.access_token.clone(),
        access_expires_at: now.plus(Duration::from_secs(response.expires_in)),
        refresh_token: response.refresh_token.clone(),
        scope: response.scope.clone(),
        id_token: response.id_token.clone(),
        dpop: response.token_type == "DPoP",
        authorization_details: response.authorization_details.clone(),
    };
    let key = InteractionKey::derive(SALT, old_refresh_token.as_bytes());
    // A token response is far below the ticket limit: any failure is the generator's.
    seal_payload(PURPOSE, &kept, until, issuer, &key, rng).map_err(|_| RandomError)
}

/// Opens an answer sealed by [`seal_grace_answer`] for the same old refresh token, with
/// `expires_in` counted from `now`. `None` if it does not open or its period is over.
pub fn open_grace_answer(
    old_refresh_token: &str,
    sealed: &str,
    issuer: &Issuer,
    now: UnixTime,
) -> Option<TokenResponse> {
    let key = InteractionKey::derive(SALT, old_refresh_token.as_bytes());
    let (kept, _): (KeptAnswer, _) = open_payload(PURPOSE, sealed, issuer, &key, now).ok()?;
    Some(TokenResponse {
        access_token: kept.access_token,
        token_type: if kept.dpop { "DPoP" } else { "Bearer" },
        expires_in: now.seconds_until(kept.access_expires_at),
        refresh_token: kept.refresh_token,
        scope: kept.scope,
        id_token: kept.id_token,
        authorization_details: kept.authorization_details,
        issued_token_type: None,
    })
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;

    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn response() -> TokenResponse {
        TokenResponse {
            access_token: "at".into(),
            token_type: "Bearer",
            expires_in: 300,
            refresh_token: Some("rt2".into()),
            scope: Some("openid".into()),
            id_token: Some("idt".into()),
            authorization_details: vec![AuthorizationDetail::from_json(
                serde_json::json!({"type": "payment_initiation", "creditorName": "Merchant A"}),
            )
            .unwrap()],
            issued_token_type: None,
        }
    }

    fn issuer(s: &str) -> Issuer {
        Issuer::parse(s).unwrap()
    }

    #[test]
    fn opens_only_with_the_old_token_for_the_issuer_within_the_period() {
        let iss = issuer("https://as.example");
        let t0 = UnixTime::from_secs(1000);
        let sealed = seal_grace_answer(
            "rt1",
            &response(),
            t0,
            t0.plus(secs(10)),
            &iss,
            &SystemRandom::new(),
        )
        .unwrap();
        let opened = open_grace_answer("rt1", &sealed, &iss, t0.plus(secs(4))).unwrap();
        assert_eq!(opened.access_token, "at");
        assert_eq!(opened.refresh_token.as_deref(), Some("rt2"));
        assert_eq!(opened.scope.as_deref(), Some("openid"));
        assert_eq!(opened.id_token.as_deref(), Some("idt"));
        assert_eq!(opened.expires_in, 296, "counted from the racer's time");
        assert_eq!(opened.token_type, "Bearer");
        assert_eq!(
            opened.authorization_details,
            response().authorization_details,
            "RFC 9396 §7"
        );
        assert!(open_grace_answer("rt2", &sealed, &iss, t0).is_none());
        assert!(open_grace_answer("rt1", &sealed, &issuer("https://other.example"), t0).is_none());
        assert!(open_grace_answer("rt1", &sealed, &iss, t0.plus(secs(10))).is_none());
        let mut altered = sealed.into_bytes();
        altered[20] ^= 1;
        let altered = String::from_utf8(altered).unwrap();
        assert!(open_grace_answer("rt1", &altered, &iss, t0).is_none());
    }

    /// RFC 9449 §5: a racer's answer for a DPoP-bound pair is of type `DPoP` too.
    #[test]
    fn keeps_the_token_type() {
        let iss = issuer("https://as.example");
        let t0 = UnixTime::from_secs(1000);
        let dpop = TokenResponse {
            token_type: "DPoP",
            ..response()
        };
        let rng = SystemRandom::new();
        let sealed = seal_grace_answer("rt1", &dpop, t0, t0.plus(secs(10)), &iss, &rng).unwrap();
        let opened = open_grace_answer("rt1", &sealed, &iss, t0).unwrap();
        assert_eq!(opened.token_type, "DPoP");
    }
}
