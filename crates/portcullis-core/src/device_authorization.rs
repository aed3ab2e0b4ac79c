//! The device authorization grant (RFC 8628): the device authorization request and its
//! codes (§3.1, §3.2, §6.1), the user code as people type it (§3.3, §6.1), and the answer to
//! each poll of the token endpoint (§3.4, §3.5).
//!
//! The engine stores a [`DeviceAuthorizationRecord`] (codes only as hashes), lets the host's
//! pages find it by user code, stores the user's decision, and at each poll asks
//! [`decide_device_poll`] what to answer; an approved authorization is taken once and
//! redeemed like an authorization code (its approval is a [`CodeRecord`]).

use std::fmt;
use std::time::Duration;

use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};

use crate::authorize::CodeApproval;
use crate::client::{Client, GrantType};
use crate::error::{OAuthError, TokenErrorCode};
use crate::ids::FamilyId;
use crate::issuer::Issuer;
use crate::params::Params;
use crate::records::CodeRecord;
use crate::scope::{negotiate_scopes, ScopeSet};
use crate::secret::{RandomError, SecretToken, TokenHash};
use crate::time::UnixTime;

type TokenError = OAuthError<TokenErrorCode>;

/// The `grant_type` of the device access token request (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The user code's alphabet: 20 consonants, no vowels (no words) and nothing easily confused
/// (RFC 8628 §6.1).
pub const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Characters of a user code: 20⁸ ≈ 2^34.6 codes, enough with rate-limited entry (§5.1).
pub const USER_CODE_LEN: usize = 8;

/// How much longer a client must wait after each `slow_down` (RFC 8628 §3.5: 5 seconds).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// The device authorization grant's settings (RFC 8628). Off until the host names the page
/// where users enter their codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthorizationPolicy {
    /// The host's page where the user enters the code (`verification_uri`, RFC 8628 §3.2),
    /// an absolute URL. `None`: the grant is off and not advertised.
    pub verification_uri: Option<String>,
    /// How long the codes live (`expires_in`).
    pub lifetime: Duration,
    /// The minimum wait between polls (`interval`, RFC 8628 §3.2: 5 seconds by default).
    pub interval: Duration,
}

impl Default for DeviceAuthorizationPolicy {
    fn default() -> Self {
        Self {
            verification_uri: None,
            lifetime: Duration::from_secs(600),
            interval: Duration::from_secs(5),
        }
    }
}

impl DeviceAuthorizationPolicy {
    /// Whether the grant is on: a verification page is configured.
    pub fn is_enabled(&self) -> bool {
        self.verification_uri.is_some()
    }
}

/// Where a device authorization stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "approval")]
pub enum DeviceStatus {
    /// The user has not answered yet.
    Pending,
    /// The user approved: what the device code redeems, as an authorization code would.
    Approved(Box<CodeRecord>),
    /// The user refused.
    Denied,
}

/// A device authorization as the store keeps it: both codes only as their hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceAuthorizationRecord {
    /// Hash of the device code.
    pub hash: TokenHash,
    /// Hash of the normalised user code ([`normalize_user_code`]).
    pub user_code_hash: TokenHash,
    /// The issuer.
    pub issuer: Issuer,
    /// The client (the device) that asked.
    pub client_id: String,
    /// The scopes asked for (RFC 8628 §3.1).
    pub scopes: ScopeSet,
    /// The resources asked for (RFC 8707).
    #[serde(default)]
    pub resources: Vec<String>,
    /// The minimum wait between polls in seconds, raised by each `slow_down`.
    pub interval: u64,
    /// When the device last polled.
    pub last_polled_at: Option<UnixTime>,
    /// The user's answer.
    pub status: DeviceStatus,
    /// Issue time.
    pub issued_at: UnixTime,
    /// When both codes stop being accepted.
    pub expires_at: UnixTime,
}

impl DeviceAuthorizationRecord {
    /// The record after a poll at `now`: polled at `now`, and `interval` raised by
    /// [`SLOW_DOWN_STEP`] when the poll came too soon (RFC 8628 §3.5). A store applies it
    /// atomically with the read (`DeviceAuthorizationStore::poll_device_authorization`).
    pub fn polled(&self, now: UnixTime) -> Self {
        let mut next = self.clone();
        if self.polled_too_soon(now) {
            next.interval = next.interval.saturating_add(SLOW_DOWN_STEP.as_secs());
        }
        next.last_polled_at = Some(now);
        next
    }

    /// Whether a poll at `now` comes sooner than `interval` after the last one.
    fn polled_too_soon(&self, now: UnixTime) -> bool {
        self.last_polled_at
            .is_some_and(|last| now.secs() < last.secs().saturating_add(self.interval))
    }

    /// Whether the user may still answer at `now`: pending and unexpired.
    pub fn awaits_user(&self, now: UnixTime) -> bool {
        self.status == DeviceStatus::Pending && now < self.expires_at
    }

    /// The record answered at `now` with `approval` (`None`: denied), if it still awaits
    /// the user.
    pub fn answered(&self, approval: Option<&CodeRecord>, now: UnixTime) -> Option<Self> {
        self.awaits_user(now).then(|| Self {
            status: match approval {
                Some(code) => DeviceStatus::Approved(Box::new(code.clone())),
                None => DeviceStatus::Denied,
            },
            ..self.clone()
        })
    }

    /// Whether its device code may be redeemed at `now`: approved and unexpired.
    pub fn may_be_taken(&self, now: UnixTime) -> bool {
        matches!(self.status, DeviceStatus::Approved(_)) && now < self.expires_at
    }

    /// The approval the device code redeems: the user's `approval` as a code record that
    /// lives as long as the device code, under a new token family. Its hash is the device
    /// code's.
    pub fn approved(
        &self,
        approval: &CodeApproval<'_>,
        rng: &dyn SecureRandom,
    ) -> Result<CodeRecord, RandomError> {
        Ok(CodeRecord {
            hash: self.hash,
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone(),
            redirect_uri: None,
            code_challenge: None,
            scopes: approval.scopes.clone(),
            resources: self.resources.clone(),
            subject: approval.subject.to_owned(),
            auth_time: approval.auth_time,
            acr: approval.acr.map(str::to_owned),
            amr: approval.amr.map(<[String]>::to_vec),
            grant_id: approval.grant_id.clone(),
            family_id: FamilyId::generate(rng)?,
            oidc: approval.oidc.clone(),
            dpop_jkt: None,
            authorization_details: approval.authorization_details.to_vec(),
            issued_at: self.issued_at,
            expires_at: self.expires_at,
        })
    }
}

/// A device authorization request (RFC 8628 §3.1) of an authenticated (or, for a public
/// client, identified) client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthorizationRequest {
    /// The scopes asked for, or the client's default, all allowed for it (RFC 6749 §3.3).
    pub scopes: ScopeSet,
    /// The resources asked for (RFC 8707), checked by the engine against its registry.
    pub resources: Vec<String>,
}

impl DeviceAuthorizationRequest {
    /// Checks the request of `client` (RFC 8628 §3.1, §3.2): the client must be registered
    /// for the device grant (`unauthorized_client`), no parameter repeated
    /// (`invalid_request`), and its scopes allowed (`invalid_scope`). `resources` are those
    /// the engine already checked.
    pub fn validate(
        params: &Params,
        client: &Client,
        resources: Vec<String>,
    ) -> Result<Self, TokenError> {
        if let Some(name) = params.first_repeated() {
            return Err(OAuthError::new(
                TokenErrorCode::InvalidRequest,
                format!("{name} was sent more than once"),
            ));
        }
        if !client.allows_grant(GrantType::DeviceCode) {
            return Err(OAuthError::new(
                TokenErrorCode::UnauthorizedClient,
                "the client may not use the device authorization grant",
            ));
        }
        let invalid_scope = || OAuthError::new(TokenErrorCode::InvalidScope, "scope is invalid");
        let asked = params
            .get("scope")
            .map(ScopeSet::parse)
            .transpose()
            .map_err(|_| invalid_scope())?;
        let scopes = negotiate_scopes(
            asked.as_ref(),
            &client.allowed_scopes,
            &client.default_scopes,
        )
        .map_err(|_| {
            OAuthError::new(
                TokenErrorCode::InvalidScope,
                "scope not allowed for this client",
            )
        })?;
        Ok(Self { scopes, resources })
    }

    /// Issues the codes at `now` for `client_id` under `policy` (whose `verification_uri`
    /// must be set): a device code of 256 random bits and a user code
    /// ([`USER_CODE_ALPHABET`], [`USER_CODE_LEN`]).
    pub fn issue(
        self,
        client_id: &str,
        issuer: &Issuer,
        policy: &DeviceAuthorizationPolicy,
        now: UnixTime,
        rng: &dyn SecureRandom,
    ) -> Result<IssuedDeviceAuthorization, RandomError> {
        let verification_uri = policy.verification_uri.clone().unwrap_or_default();
        let device_code = SecretToken::generate(rng)?;
        let user_code = generate_user_code(rng)?;
        let shown = display_user_code(&user_code);
        let separator = if verification_uri.contains('?') {
            '&'
        } else {
            '?'
        };
        let verification_uri_complete = format!("{verification_uri}{separator}user_code={shown}");
        let interval = policy.interval.as_secs().max(1);
        let expires_in = policy.lifetime.as_secs().max(1);
        Ok(IssuedDeviceAuthorization {
            record: DeviceAuthorizationRecord {
                hash: device_code.hash(),
                user_code_hash: TokenHash::of(&user_code),
                issuer: issuer.clone(),
                client_id: client_id.to_owned(),
                scopes: self.scopes,
                resources: self.resources,
                interval,
                last_polled_at: None,
                status: DeviceStatus::Pending,
                issued_at: now,
                expires_at: now.plus(Duration::from_secs(expires_in)),
            },
            response: DeviceAuthorizationResponse {
                device_code: device_code.expose().to_owned(),
                user_code: shown,
                verification_uri,
                verification_uri_complete,
                expires_in,
                interval,
            },
        })
    }
}

/// What a device authorization request issued: the record to store and the answer.
#[derive(Debug)]
pub struct IssuedDeviceAuthorization {
    /// What to store.
    pub record: DeviceAuthorizationRecord,
    /// The answer (RFC 8628 §3.2).
    pub response: DeviceAuthorizationResponse,
}

/// The device authorization response (RFC 8628 §3.2). Its `Debug` output leaves the codes
/// out.
#[derive(Clone, Serialize)]
pub struct DeviceAuthorizationResponse {
    /// The device code, for the token requests.
    pub device_code: String,
    /// The user code, shown `XXXX-XXXX`.
    pub user_code: String,
    /// The page where the user enters it.
    pub verification_uri: String,
    /// The page with the user code in it (`?user_code=`), e.g. for a QR code.
    pub verification_uri_complete: String,
    /// Seconds until the codes expire.
    pub expires_in: u64,
    /// Seconds to wait between polls.
    pub interval: u64,
}

impl fmt::Debug for DeviceAuthorizationResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorizationResponse")
            .field("verification_uri", &self.verification_uri)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// Draws a user code: each character uniform over the alphabet (rejection sampling, so no
/// character is likelier than another).
fn generate_user_code(rng: &dyn SecureRandom) -> Result<String, RandomError> {
    let mut code = String::with_capacity(USER_CODE_LEN);
    let mut buf = [0u8; 32];
    while code.len() < USER_CODE_LEN {
        rng.fill(&mut buf).map_err(|_| RandomError)?;
        // 240 = 12 × 20: bytes below it map uniformly.
        for b in buf.iter().filter(|b| **b < 240) {
            if code.len() == USER_CODE_LEN {
                break;
            }
            code.push(char::from(USER_CODE_ALPHABET[usize::from(*b % 20)]));
        }
    }
    Ok(code)
}

/// `BCDFGHJK` shown as `BCDF-GHJK`.
fn display_user_code(code: &str) -> String {
    let (a, b) = code.split_at(USER_CODE_LEN / 2);
    format!("{a}-{b}")
}

/// A user code as typed, normalised (RFC 8628 §6.1): case, dashes and spaces ignored; `None`
/// unless what is left is [`USER_CODE_LEN`] characters of the alphabet.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    if typed.len() > 64 {
        return None;
    }
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let valid =
        code.len() == USER_CODE_LEN && code.bytes().all(|b| USER_CODE_ALPHABET.contains(&b));
    valid.then_some(code)
}

/// The hash under which a typed user code is stored, if it is one.
pub fn user_code_hash(typed: &str) -> Option<TokenHash> {
    normalize_user_code(typed).map(|c| TokenHash::of(&c))
}

/// What a poll may go on with.
#[derive(Debug, PartialEq, Eq)]
pub enum DevicePoll {
    /// The user approved: take the authorization (once) and issue its tokens.
    Approved,
}

/// Decides a poll of the token endpoint (RFC 8628 §3.5) by `client`, given the record as it
/// was before this poll (`None`: unknown device code): `invalid_grant` for an unknown code
/// or another client's, `expired_token`, `access_denied`, `slow_down` when polled sooner than
/// the interval, `authorization_pending` while the user has not answered, else
/// [`DevicePoll::Approved`]. Every refusal is HTTP 400.
pub fn decide_device_poll(
    record: Option<&DeviceAuthorizationRecord>,
    client: &Client,
    now: UnixTime,
) -> Result<DevicePoll, TokenError> {
    let error = |code, description| Err(OAuthError::new(code, description));
    let Some(record) = record else {
        return error(TokenErrorCode::InvalidGrant, "the device code is invalid");
    };
    if record.client_id != client.id {
        return error(
            TokenErrorCode::InvalidGrant,
            "the device code was issued to another client",
        );
    }
    if now >= record.expires_at {
        return error(TokenErrorCode::ExpiredToken, "the device code expired");
    }
    match record.status {
        DeviceStatus::Denied => error(
            TokenErrorCode::AccessDenied,
            "the user denied the authorization",
        ),
        DeviceStatus::Approved(_) => Ok(DevicePoll::Approved),
        DeviceStatus::Pending if record.polled_too_soon(now) => error(
            TokenErrorCode::SlowDown,
            "polling too often: wait 5 seconds longer",
        ),
        DeviceStatus::Pending => error(
            TokenErrorCode::AuthorizationPending,
            "the user has not answered yet",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientKind;
    use crate::ids::GrantId;

    fn rng() -> ring::rand::SystemRandom {
        ring::rand::SystemRandom::new()
    }

    fn issuer() -> Issuer {
        Issuer::parse("https://as.example").unwrap()
    }

    fn set(s: &str) -> ScopeSet {
        ScopeSet::parse(s).unwrap()
    }

    fn device() -> Client {
        Client::new("tv", ClientKind::Public)
            .with_grant_types([GrantType::DeviceCode])
            .with_allowed_scopes(set("openid read"))
            .with_default_scopes(set("read"))
    }

    fn policy() -> DeviceAuthorizationPolicy {
        DeviceAuthorizationPolicy {
            verification_uri: Some("https://as.example/device".into()),
            ..Default::default()
        }
    }

    fn params(body: &str) -> Params {
        Params::parse(body.as_bytes()).unwrap()
    }

    fn issued(now: u64) -> IssuedDeviceAuthorization {
        DeviceAuthorizationRequest::validate(&params("scope=openid"), &device(), vec![])
            .unwrap()
            .issue("tv", &issuer(), &policy(), UnixTime::from_secs(now), &rng())
            .unwrap()
    }

    fn refusal<T: fmt::Debug>(r: Result<T, TokenError>) -> (TokenErrorCode, String) {
        let e = r.unwrap_err();
        (e.code, e.description.into_owned())
    }

    #[test]
    fn the_request_needs_the_grant_and_allowed_scopes() {
        let v =
            |body: &str, c: &Client| DeviceAuthorizationRequest::validate(&params(body), c, vec![]);
        assert_eq!(v("", &device()).unwrap().scopes, set("read"));
        assert_eq!(
            v("scope=openid+read", &device()).unwrap().scopes,
            set("openid read")
        );
        assert_eq!(
            refusal(v("scope=write", &device())),
            (
                TokenErrorCode::InvalidScope,
                "scope not allowed for this client".into()
            )
        );
        assert_eq!(
            refusal(v("scope=a%5Cb", &device())).0,
            TokenErrorCode::InvalidScope
        );
        assert_eq!(
            refusal(v("scope=read&scope=read", &device())),
            (
                TokenErrorCode::InvalidRequest,
                "scope was sent more than once".into()
            )
        );
        let code_only = device().with_grant_types([GrantType::AuthorizationCode]);
        assert_eq!(
            refusal(v("", &code_only)).0,
            TokenErrorCode::UnauthorizedClient
        );
    }

    #[test]
    fn the_codes_and_the_answer() {
        let i = issued(1_000);
        let r = &i.response;
        assert_eq!(i.record.hash, TokenHash::of(&r.device_code));
        assert_eq!(r.device_code.len(), 43, "256 bits, base64url");
        assert_eq!(r.user_code.len(), 9);
        assert_eq!(&r.user_code[4..5], "-");
        let normalised = normalize_user_code(&r.user_code).unwrap();
        assert_eq!(i.record.user_code_hash, TokenHash::of(&normalised));
        assert_eq!(r.verification_uri, "https://as.example/device");
        assert_eq!(
            r.verification_uri_complete,
            format!("https://as.example/device?user_code={}", r.user_code)
        );
        assert_eq!((r.expires_in, r.interval), (600, 5));
        assert_eq!(i.record.expires_at, UnixTime::from_secs(1_600));
        assert_eq!(i.record.status, DeviceStatus::Pending);
        assert_eq!(i.record.scopes, set("openid"));
        let dbg = format!("{r:?}");
        assert!(!dbg.contains(&r.device_code) && !dbg.contains(&r.user_code[..4]));
        // A verification URI with a query keeps it.
        let p = DeviceAuthorizationPolicy {
            verification_uri: Some("https://as.example/device?lang=en".into()),
            ..policy()
        };
        let r = DeviceAuthorizationRequest::validate(&params(""), &device(), vec![])
            .unwrap()
            .issue("tv", &issuer(), &p, UnixTime::from_secs(0), &rng())
            .unwrap()
            .response;
        assert!(r
            .verification_uri_complete
            .starts_with("https://as.example/device?lang=en&user_code="));
    }

    #[test]
    fn user_codes_are_uniform_over_the_alphabet() {
        // 236..239 map to 16..19; 240..255 are skipped; then 0..3.
        let bytes: Vec<u8> = (236..=255).chain(0..12).collect();
        #[allow(deprecated)]
        let fixed = ring::test::rand::FixedSliceRandom { bytes: &bytes };
        assert_eq!(generate_user_code(&fixed).unwrap(), "VWXZBCDF");
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.extend(generate_user_code(&rng()).unwrap().bytes());
        }
        assert_eq!(seen.len(), 20);
        assert!(seen.iter().all(|b| USER_CODE_ALPHABET.contains(b)));
    }

    #[test]
    fn typed_user_codes_are_normalised() {
        assert_eq!(
            normalize_user_code("BCDF-GHJK").as_deref(),
            Some("BCDFGHJK")
        );
        assert_eq!(
            normalize_user_code(" bcdf ghjk ").as_deref(),
            Some("BCDFGHJK")
        );
        assert_eq!(
            normalize_user_code("bc-df-gh-jk").as_deref(),
            Some("BCDFGHJK")
        );
        for bad in [
            "BCDF-GHJ",
            "BCDF-GHJKL",
            "BCDF-GHJA",
            "BCDF_GHJK",
            "",
            "ВCDF-GHJK",
        ] {
            assert_eq!(normalize_user_code(bad), None, "{bad}");
        }
        assert_eq!(normalize_user_code(&"-".repeat(65)), None);
        // At most 64 characters are read, whatever they normalise to.
        let padded = |len: usize| format!("BCDF-GHJK{}", " ".repeat(len - 9));
        assert_eq!(
            normalize_user_code(&padded(64)).as_deref(),
            Some("BCDFGHJK")
        );
        assert_eq!(normalize_user_code(&padded(65)), None);
        assert_eq!(user_code_hash("bcdf-ghjk"), Some(TokenHash::of("BCDFGHJK")));
    }

    #[test]
    fn each_poll_answer() {
        let client = device();
        let record = issued(1_000).record;
        let at = UnixTime::from_secs;
        let poll = |r: &DeviceAuthorizationRecord, now| {
            refusal(decide_device_poll(Some(r), &client, at(now)))
        };
        assert_eq!(
            refusal(decide_device_poll(None, &client, at(1_000))),
            (
                TokenErrorCode::InvalidGrant,
                "the device code is invalid".into()
            )
        );
        let other =
            Client::new("other", ClientKind::Public).with_grant_types([GrantType::DeviceCode]);
        assert_eq!(
            refusal(decide_device_poll(Some(&record), &other, at(1_000))).0,
            TokenErrorCode::InvalidGrant
        );
        assert_eq!(poll(&record, 1_000).0, TokenErrorCode::AuthorizationPending);
        let polled = record.polled(at(1_000));
        assert_eq!(polled.last_polled_at, Some(at(1_000)));
        assert_eq!(polled.interval, 5);
        // 4 s later: too soon, and the interval grows by 5 s.
        assert_eq!(poll(&polled, 1_004).0, TokenErrorCode::SlowDown);
        let slowed = polled.polled(at(1_004));
        assert_eq!(slowed.interval, 10);
        // 9 s after that: still too soon for 10 s; 10 s: pending again.
        assert_eq!(poll(&slowed, 1_013).0, TokenErrorCode::SlowDown);
        assert_eq!(poll(&slowed, 1_014).0, TokenErrorCode::AuthorizationPending);
        assert_eq!(slowed.polled(at(1_014)).interval, 10);
        assert_eq!(
            poll(&slowed, 1_600),
            (
                TokenErrorCode::ExpiredToken,
                "the device code expired".into()
            )
        );
        let denied = DeviceAuthorizationRecord {
            status: DeviceStatus::Denied,
            ..record.clone()
        };
        assert_eq!(poll(&denied, 1_599).0, TokenErrorCode::AccessDenied);
        assert_eq!(poll(&denied, 1_600).0, TokenErrorCode::ExpiredToken);
        let grant_id = GrantId::generate(&rng()).unwrap();
        let scopes = set("openid");
        let approval = CodeApproval {
            subject: "alice",
            auth_time: at(1_010),
            acr: Some("1"),
            amr: None,
            scopes: &scopes,
            grant_id: &grant_id,
            oidc: None,
            authorization_details: &[],
        };
        let code = record.approved(&approval, &rng()).unwrap();
        assert_eq!(
            (&code.hash, &code.client_id, code.expires_at),
            (&record.hash, &record.client_id, record.expires_at)
        );
        assert_eq!(
            (code.subject.as_str(), &code.grant_id),
            ("alice", &grant_id)
        );
        let approved = DeviceAuthorizationRecord {
            status: DeviceStatus::Approved(Box::new(code)),
            ..slowed
        };
        // Approved answers at once, however soon.
        assert_eq!(
            decide_device_poll(Some(&approved), &client, at(1_015)),
            Ok(DevicePoll::Approved)
        );
        assert!(!approved.awaits_user(at(1_015)));
        assert!(record.awaits_user(at(1_599)));
        assert!(!record.awaits_user(at(1_600)));
    }

    fn approval_code(record: &DeviceAuthorizationRecord) -> CodeRecord {
        let grant_id = GrantId::generate(&rng()).unwrap();
        let scopes = set("openid");
        let approval = CodeApproval {
            subject: "alice",
            auth_time: record.issued_at,
            acr: None,
            amr: None,
            scopes: &scopes,
            grant_id: &grant_id,
            oidc: None,
            authorization_details: &[],
        };
        record.approved(&approval, &rng()).unwrap()
    }

    #[test]
    fn the_grant_is_on_only_with_a_verification_page() {
        assert!(!DeviceAuthorizationPolicy::default().is_enabled());
        assert!(policy().is_enabled());
    }

    #[test]
    fn the_user_answers_a_pending_unexpired_authorization_once() {
        let at = UnixTime::from_secs;
        let record = issued(1_000).record;
        let code = approval_code(&record);
        let approved = record.answered(Some(&code), at(1_599)).unwrap();
        assert_eq!(
            approved.status,
            DeviceStatus::Approved(Box::new(code.clone()))
        );
        assert_eq!(
            approved,
            DeviceAuthorizationRecord {
                status: DeviceStatus::Approved(Box::new(code.clone())),
                ..record.clone()
            }
        );
        let denied = record.answered(None, at(1_000)).unwrap();
        assert_eq!(denied.status, DeviceStatus::Denied);
        assert_eq!(denied.hash, record.hash);
        // Too late, or answered already: no second answer.
        assert_eq!(record.answered(Some(&code), at(1_600)), None);
        assert_eq!(record.answered(None, at(1_600)), None);
        assert_eq!(approved.answered(None, at(1_001)), None);
        assert_eq!(denied.answered(Some(&code), at(1_001)), None);
    }

    #[test]
    fn only_an_approved_unexpired_authorization_may_be_taken() {
        let at = UnixTime::from_secs;
        let record = issued(1_000).record;
        let code = approval_code(&record);
        let approved = record.answered(Some(&code), at(1_000)).unwrap();
        assert!(approved.may_be_taken(at(1_000)));
        assert!(approved.may_be_taken(at(1_599)));
        assert!(!approved.may_be_taken(at(1_600)));
        assert!(!approved.may_be_taken(at(1_601)));
        // Pending or denied: never, expired or not.
        let denied = record.answered(None, at(1_000)).unwrap();
        for r in [&record, &denied] {
            assert!(!r.may_be_taken(at(1_000)));
            assert!(!r.may_be_taken(at(1_599)));
            assert!(!r.may_be_taken(at(1_600)));
        }
    }

    #[test]
    fn the_response_debug_shows_only_what_is_public() {
        let r = issued(1_000).response;
        assert_eq!(
            format!("{r:?}"),
            "DeviceAuthorizationResponse { verification_uri: \"https://as.example/device\", \
             expires_in: 600, interval: 5, .. }"
        );
    }
}
