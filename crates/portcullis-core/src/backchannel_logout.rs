//! OpenID Connect Back-Channel Logout 1.0: the session id (`sid`, §2.1), the logout token
//! (§2.4), who gets one, and what to do after each delivery attempt (§2.5, §2.8).
//!
//! The engine performs the effects: it signs the claims decided here with the client's ID
//! token algorithm, POSTs them through the host's sender and waits between attempts.

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::hmac;
use ring::rand::SecureRandom;
use serde::Serialize;
use serde_json::{json, Value};

use crate::client::{Client, ClientKeys};
use crate::issuer::Issuer;
use crate::jose::{Algorithm, JoseError, UnsignedJws};
use crate::records::Grant;
use crate::secret::{RandomError, SecretToken};
use crate::time::UnixTime;

/// The logout token's JWS `typ` (§2.4: explicitly typed, RFC 8725 §3.11).
pub const LOGOUT_TOKEN_TYPE: &str = "logout+jwt";
/// The one member of a logout token's `events` (§2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How long a logout token is valid from its issue (§2.4 asks for a short `exp`, at most
/// two minutes being the usual advice).
pub const LOGOUT_TOKEN_LIFETIME: Duration = Duration::from_secs(120);
/// The most retries a delivery may be given, whatever the host asks.
pub const MAX_LOGOUT_RETRIES: u32 = 5;
/// The longest wait between two attempts.
pub const MAX_LOGOUT_BACKOFF: Duration = Duration::from_secs(300);

/// The `sid` of the user's session at the host as `client_id` sees it (§2.1; Front-Channel
/// Logout 1.0 §3): stable for one session and one client, different for every client (so
/// two clients cannot tell they share a session), and revealing nothing of the host's
/// session id. HMAC-SHA256 under the provider's secret `key`, base64url.
pub fn session_sid(key: &[u8], session: &str, client_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&key);
    for part in ["sid".as_bytes(), session.as_bytes(), client_id.as_bytes()] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    URL_SAFE_NO_PAD.encode(ctx.sign())
}

/// The most sessions a grant remembers ([`Grant::record_session`]): the oldest is
/// forgotten first.
pub const MAX_GRANT_SESSIONS: usize = 16;

impl Grant {
    /// Remembers that a code was issued under the grant in the session `sid` (at its
    /// client), as the most recent; forgets the oldest beyond [`MAX_GRANT_SESSIONS`].
    pub fn record_session(&mut self, sid: &str) {
        self.sessions.retain(|s| s != sid);
        self.sessions.push(sid.to_owned());
        let excess = self.sessions.len().saturating_sub(MAX_GRANT_SESSIONS);
        self.sessions.drain(..excess);
    }

    /// Whether a code was issued under the grant in the session `sid`.
    pub fn has_session(&self, sid: &str) -> bool {
        self.sessions.iter().any(|s| s == sid)
    }

    /// The most recent session a code was issued in under the grant.
    pub fn latest_session(&self) -> Option<&str> {
        self.sessions.last().map(String::as_str)
    }
}

/// Whether a host may configure `uri` as a client's `backchannel_logout_uri` (§2.2): an
/// absolute `https` URL, or `http` on a loopback address (local development and tests),
/// without credentials or fragment. Registration is stricter for web clients
/// ([`is_registrable_backchannel_logout_uri`]).
pub fn is_backchannel_logout_uri(uri: &str) -> bool {
    ClientKeys::is_acceptable_uri(uri)
}

/// Whether a client registering itself may give `uri` (§2.2): `https` without fragment;
/// loopback `http` only where its redirect URIs may be (`native` clients, RFC 8252 §7.3).
pub fn is_registrable_backchannel_logout_uri(uri: &str, native: bool) -> bool {
    is_backchannel_logout_uri(uri) && (native || uri.starts_with("https:"))
}

/// The claims of a logout token (§2.4). Never a `nonce` (§2.4: its presence tells a logout
/// token from an ID token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogoutTokenClaims {
    /// Issuer.
    pub iss: String,
    /// The subject, as the client knows them (public or pairwise).
    pub sub: String,
    /// The client.
    pub aud: String,
    /// Issue time.
    pub iat: UnixTime,
    /// Expiry: [`LOGOUT_TOKEN_LIFETIME`] after issue.
    pub exp: UnixTime,
    /// A unique id (256 random bits), for the client's replay check.
    pub jti: String,
    /// `{"http://schemas.openid.net/event/backchannel-logout": {}}`.
    pub events: Value,
    /// The session that ended, as this client knows it; absent: every session of `sub`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl LogoutTokenClaims {
    /// The claims as a JWS of type [`LOGOUT_TOKEN_TYPE`] for the key `kid` signing with
    /// `alg`, to be signed.
    pub fn to_jws(&self, alg: Algorithm, kid: &str) -> Result<UnsignedJws, JoseError> {
        let payload = serde_json::to_vec(self).map_err(|_| JoseError::SigningFailed)?;
        UnsignedJws::new(alg, kid, Some(LOGOUT_TOKEN_TYPE), &payload)
    }
}

/// Who is logged out at one client: the subject as it knows them, and the session if one
/// is named.
#[derive(Debug, Clone, Copy)]
pub struct LoggedOut<'a> {
    /// `sub` as the client knows it.
    pub sub: &'a str,
    /// `sid` of the ended session at this client; `None` when every session of `sub` ends
    /// (§2.4) or none is known.
    pub sid: Option<&'a str>,
}

/// A logout token to deliver: where, and its claims (to be signed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutNotice {
    /// The client's `backchannel_logout_uri`.
    pub uri: String,
    /// The claims.
    pub claims: LogoutTokenClaims,
}

/// The logout token `client` gets when `who` is logged out at `now`, if any: none for a
/// client without a `backchannel_logout_uri`, none for one that requires a `sid`
/// (`backchannel_logout_session_required`, §2.2) when no session is known — the OP MUST
/// then include it (§2.4), and one without would log out more than asked.
pub fn logout_notice(
    issuer: &Issuer,
    client: &Client,
    who: LoggedOut<'_>,
    now: UnixTime,
    rng: &dyn SecureRandom,
) -> Result<Option<LogoutNotice>, RandomError> {
    let Some(uri) = &client.oidc.backchannel_logout_uri else {
        return Ok(None);
    };
    if client.oidc.backchannel_logout_session_required && who.sid.is_none() {
        return Ok(None);
    }
    let jti = SecretToken::generate(rng)?;
    Ok(Some(LogoutNotice {
        uri: uri.clone(),
        claims: LogoutTokenClaims {
            iss: issuer.to_string(),
            sub: who.sub.to_owned(),
            aud: client.id.clone(),
            iat: now,
            exp: now.plus(LOGOUT_TOKEN_LIFETIME),
            jti: jti.expose().to_owned(),
            events: json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
            sid: who.sid.map(str::to_owned),
        },
    }))
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// The client answered with this HTTP status.
    Status(u16),
    /// No answer: a timeout or a connection failure, worth trying again.
    Unanswered,
    /// The sender refused to call the URI (not https, or not a public address): trying
    /// again changes nothing.
    Refused,
}

/// What to do after an attempt ([`next_step`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStep {
    /// The client logged the user out: `200 OK`, or `204 No Content`, which some frameworks
    /// answer instead (§2.8).
    Delivered,
    /// The client refused the token (`400`, §2.8), or the URI cannot be called: no retry.
    Refused,
    /// Try again after this long (a `5xx` answer, or none).
    RetryAfter(Duration),
    /// Every allowed attempt failed.
    GaveUp,
}

/// The step after attempt number `attempt` (1 for the first) ended with `result`, when at
/// most `retries` retries (capped at [`MAX_LOGOUT_RETRIES`]) follow the first attempt, the
/// first `backoff` long, each later one twice the one before (at most
/// [`MAX_LOGOUT_BACKOFF`]). A `4xx` (or any other status that is not a server error) is
/// never retried: the same token would get the same answer.
pub fn next_step(
    result: AttemptResult,
    attempt: u32,
    retries: u32,
    backoff: Duration,
) -> DeliveryStep {
    match result {
        AttemptResult::Status(200 | 204) => return DeliveryStep::Delivered,
        AttemptResult::Status(500..=599) | AttemptResult::Unanswered => {}
        AttemptResult::Status(_) | AttemptResult::Refused => return DeliveryStep::Refused,
    }
    if attempt > retries.min(MAX_LOGOUT_RETRIES) {
        return DeliveryStep::GaveUp;
    }
    let doubled = backoff.saturating_mul(1 << (attempt - 1).min(16));
    DeliveryStep::RetryAfter(doubled.min(MAX_LOGOUT_BACKOFF))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientKind;
    use ring::rand::SystemRandom;

    fn client(uri: Option<&str>, session_required: bool) -> Client {
        let mut c = Client::new("rp", ClientKind::Public);
        c.oidc.backchannel_logout_uri = uri.map(str::to_owned);
        c.oidc.backchannel_logout_session_required = session_required;
        c
    }

    #[test]
    fn sids_are_stable_per_session_and_client_and_differ_otherwise() {
        let sid = session_sid(b"key", "session-1", "a");
        assert_eq!(sid, session_sid(b"key", "session-1", "a"));
        assert_eq!(sid.len(), 43);
        for other in [
            session_sid(b"key", "session-1", "b"),
            session_sid(b"key", "session-2", "a"),
            session_sid(b"other key", "session-1", "a"),
            // Parts are length-prefixed: moving a byte between them changes the sid.
            session_sid(b"key", "session-1a", ""),
        ] {
            assert_ne!(sid, other);
        }
        assert!(!sid.contains("session"));
    }

    #[test]
    fn grants_remember_their_latest_sessions() {
        let mut g = crate::token::test_support::grant();
        assert_eq!(g.latest_session(), None);
        g.record_session("a");
        g.record_session("b");
        g.record_session("a");
        assert_eq!(g.sessions, ["b", "a"]);
        assert!(g.has_session("b") && !g.has_session("c"));
        for i in 0..MAX_GRANT_SESSIONS {
            g.record_session(&i.to_string());
        }
        assert_eq!(g.sessions.len(), MAX_GRANT_SESSIONS);
        assert!(!g.has_session("a") && g.has_session("0"));
        assert_eq!(g.latest_session(), Some("15"));
    }

    #[test]
    fn backchannel_logout_uris() {
        for ok in [
            "https://rp.example/logout",
            "https://rp.example:8443/bc?tenant=1",
            "http://127.0.0.1:9000/logout",
            "http://[::1]/logout",
        ] {
            assert!(is_backchannel_logout_uri(ok), "{ok}");
        }
        for bad in [
            "https://rp.example/logout#frag",
            "http://rp.example/logout",
            "https://user:pw@rp.example/logout",
            "/logout",
            "ftp://rp.example/",
            "",
        ] {
            assert!(!is_backchannel_logout_uri(bad), "{bad}");
        }
        assert!(is_registrable_backchannel_logout_uri(
            "https://rp.example/l",
            false
        ));
        assert!(!is_registrable_backchannel_logout_uri(
            "http://127.0.0.1:9000/l",
            false
        ));
        assert!(is_registrable_backchannel_logout_uri(
            "http://127.0.0.1:9000/l",
            true
        ));
        assert!(!is_registrable_backchannel_logout_uri(
            "https://rp.example/l#f",
            true
        ));
    }

    #[test]
    fn logout_tokens_carry_what_section_2_4_asks_and_never_a_nonce() {
        let rng = SystemRandom::new();
        let iss = Issuer::parse("https://as.example").unwrap();
        let now = UnixTime::from_secs(1_000);
        let c = client(Some("https://rp.example/bc"), false);
        let who = LoggedOut {
            sub: "alice",
            sid: Some("s1"),
        };
        let notice = logout_notice(&iss, &c, who, now, &rng).unwrap().unwrap();
        assert_eq!(notice.uri, "https://rp.example/bc");
        let json = serde_json::to_value(&notice.claims).unwrap();
        assert_eq!(json["iss"], "https://as.example");
        assert_eq!(json["aud"], "rp");
        assert_eq!(json["sub"], "alice");
        assert_eq!(json["sid"], "s1");
        assert_eq!(json["iat"], 1_000);
        assert_eq!(json["exp"], 1_120);
        assert_eq!(json["jti"].as_str().unwrap().len(), 43);
        assert_eq!(
            json["events"],
            json!({"http://schemas.openid.net/event/backchannel-logout": {}})
        );
        assert!(json.get("nonce").is_none());
        let again = logout_notice(&iss, &c, who, now, &rng).unwrap().unwrap();
        assert_ne!(again.claims.jti, notice.claims.jti, "a fresh jti each time");
        let every = LoggedOut {
            sub: "alice",
            sid: None,
        };
        let all = logout_notice(&iss, &c, every, now, &rng).unwrap().unwrap();
        assert!(serde_json::to_value(&all.claims)
            .unwrap()
            .get("sid")
            .is_none());
        let jws = notice.claims.to_jws(Algorithm::ES256, "k1").unwrap();
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(
                    std::str::from_utf8(jws.signing_input())
                        .unwrap()
                        .split('.')
                        .next()
                        .unwrap(),
                )
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["typ"], "logout+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "k1");
    }

    #[test]
    fn who_gets_a_logout_token() {
        let rng = SystemRandom::new();
        let iss = Issuer::parse("https://as.example").unwrap();
        let now = UnixTime::from_secs(1_000);
        let with_sid = LoggedOut {
            sub: "alice",
            sid: Some("s1"),
        };
        let without = LoggedOut {
            sub: "alice",
            sid: None,
        };
        let notice = |c: &Client, who| logout_notice(&iss, c, who, now, &rng).unwrap();
        assert_eq!(notice(&client(None, false), with_sid), None);
        let required = client(Some("https://rp.example/bc"), true);
        assert_eq!(notice(&required, without), None, "sid required, none known");
        assert!(notice(&required, with_sid).is_some());
        assert!(notice(&client(Some("https://rp.example/bc"), false), without).is_some());
    }

    #[test]
    fn retries_follow_the_status() {
        let b = Duration::from_secs(1);
        use AttemptResult::{Status, Unanswered};
        use DeliveryStep::{Delivered, GaveUp, RetryAfter};
        assert_eq!(next_step(Status(200), 1, 3, b), Delivered);
        assert_eq!(next_step(Status(204), 3, 3, b), Delivered);
        for refused in [201, 301, 302, 400, 401, 404, 499] {
            assert_eq!(
                next_step(Status(refused), 1, 3, b),
                DeliveryStep::Refused,
                "{refused}"
            );
        }
        assert_eq!(
            next_step(AttemptResult::Refused, 1, 3, b),
            DeliveryStep::Refused
        );
        assert_eq!(next_step(Status(500), 1, 3, b), RetryAfter(b));
        assert_eq!(next_step(Status(599), 2, 3, b), RetryAfter(2 * b));
        assert_eq!(next_step(Unanswered, 3, 3, b), RetryAfter(4 * b));
        assert_eq!(next_step(Status(503), 4, 3, b), GaveUp);
        assert_eq!(next_step(Unanswered, 1, 0, b), GaveUp);
        assert_eq!(next_step(Status(600), 1, 3, b), DeliveryStep::Refused);
        // Bounded: at most MAX_LOGOUT_RETRIES retries, waits of at most MAX_LOGOUT_BACKOFF.
        assert_eq!(
            next_step(Unanswered, MAX_LOGOUT_RETRIES, 100, b),
            RetryAfter(16 * b)
        );
        assert_eq!(
            next_step(Unanswered, MAX_LOGOUT_RETRIES + 1, 100, b),
            GaveUp
        );
        assert_eq!(
            next_step(Unanswered, 5, 5, Duration::from_secs(60)),
            RetryAfter(MAX_LOGOUT_BACKOFF)
        );
        assert_eq!(
            next_step(Unanswered, 1, 3, Duration::MAX),
            RetryAfter(MAX_LOGOUT_BACKOFF)
        );
    }
}
