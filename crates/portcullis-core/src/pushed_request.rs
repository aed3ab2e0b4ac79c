//! Pushed authorization requests (RFC 9126): the request a client pushes to the PAR
//! endpoint, the `request_uri` reference it gets back, and that reference's use at the
//! authorization endpoint.

use std::time::Duration;

use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};
use url::form_urlencoded;

use crate::authorize::{validate_request, AuthorizationRequest, AuthorizeRejection, Channel};
use crate::client::Client;
use crate::error::{AuthorizeErrorCode, OAuthError};
use crate::issuer::Issuer;
use crate::params::Params;
use crate::policy::Policy;
use crate::secret::{RandomError, SecretToken, TokenHash};
use crate::time::UnixTime;

type AuthError = OAuthError<AuthorizeErrorCode>;

/// The prefix of every reference this provider hands out (RFC 9126 §2.2).
pub const PUSHED_REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// The longest a pushed request may live: 10 minutes. RFC 9126 §2.2 wants a short life
/// ("typically ... between 5 and 600 seconds").
pub const MAX_PUSHED_REQUEST_LIFETIME: Duration = Duration::from_secs(600);

/// Parameters that authenticate the client at the PAR endpoint (RFC 6749 §2.3.1, RFC 7521
/// §4.2): never part of the authorization request, never stored.
const CLIENT_AUTHENTICATION: &[&str] =
    &["client_secret", "client_assertion", "client_assertion_type"];

/// The provider's rules for pushed authorization requests (RFC 9126).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedRequestPolicy {
    /// Every authorization request must be pushed first (RFC 9126 §5,
    /// `require_pushed_authorization_requests`); a client can also require it for itself.
    pub required: bool,
    /// How long a reference stays usable: 60 s by default, at most
    /// [`MAX_PUSHED_REQUEST_LIFETIME`].
    pub lifetime: Duration,
}

impl Default for PushedRequestPolicy {
    fn default() -> Self {
        Self {
            required: false,
            lifetime: Duration::from_secs(60),
        }
    }
}

impl PushedRequestPolicy {
    /// Whether the lifetime is within bounds: more than zero and at most
    /// [`MAX_PUSHED_REQUEST_LIFETIME`].
    pub fn lifetime_is_valid(&self) -> bool {
        !self.lifetime.is_zero() && self.lifetime <= MAX_PUSHED_REQUEST_LIFETIME
    }
}

/// A pushed request as stored: found by the hash of its reference, bound to its client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedRequestRecord {
    /// Hash of the reference's random part.
    pub hash: TokenHash,
    /// The issuer that accepted it.
    pub issuer: Issuer,
    /// The authenticated client that pushed it (RFC 9126 §2.1, §4).
    pub client_id: String,
    /// The authorization request's parameters, as pushed (client authentication left out).
    pub params: Vec<(String, String)>,
    /// The DPoP key the code will be bound to (RFC 9449 §10): the pushed `dpop_jkt`, or the
    /// key of the DPoP proof sent to the PAR endpoint (§10.1).
    pub dpop_jkt: Option<String>,
    /// When it was pushed.
    pub issued_at: UnixTime,
    /// When the reference stops being accepted.
    pub expires_at: UnixTime,
}

/// A request accepted at the PAR endpoint. Its `Debug` output leaves out the reference.
pub struct PushedRequest {
    /// The reference for the client (`urn:ietf:params:oauth:request_uri:<random>`), sent
    /// once and never stored.
    pub request_uri: String,
    /// `expires_in` of the response (RFC 9126 §2.2).
    pub expires_in: u64,
    /// What to store.
    pub record: PushedRequestRecord,
}

impl std::fmt::Debug for PushedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushedRequest")
            .field("request_uri", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("record", &self.record)
            .finish()
    }
}

/// What the PAR endpoint received besides the form: the client it authenticated and the
/// key of a valid DPoP proof, if one came.
#[derive(Debug, Clone, Copy)]
pub struct PushContext<'a> {
    /// The authenticated client.
    pub client: &'a Client,
    /// The JWK thumbprint of the request's DPoP proof (RFC 9449 §10.1).
    pub dpop_proof_jkt: Option<&'a str>,
    /// The time of the request.
    pub now: UnixTime,
}

/// Why a push was refused: an authorization error (JSON at the PAR endpoint, RFC 9126
/// §2.3), or a DPoP proof that names another key than `dpop_jkt` (RFC 9449 §10.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushRejection {
    /// The request is not a valid authorization request for this client.
    Invalid(AuthError),
    /// `invalid_dpop_proof`: the proof's key is not the pushed `dpop_jkt`.
    DpopMismatch,
    /// The random number generator failed.
    Random(RandomError),
}

fn invalid(description: &'static str) -> PushRejection {
    PushRejection::Invalid(OAuthError::new(
        AuthorizeErrorCode::InvalidRequest,
        description,
    ))
}

/// Validates a pushed authorization request and makes its reference (RFC 9126 §2.1, §2.2).
///
/// The request is validated as the authorization endpoint would (the same core function),
/// without the redirects: every error is returned. `client_id`, when sent, must be the
/// authenticated client's; `request_uri` is refused (§2.1).
pub fn push_authorization_request(
    params: &Params,
    context: &PushContext<'_>,
    issuer: &Issuer,
    policy: &Policy,
    rng: &dyn SecureRandom,
) -> Result<PushedRequest, PushRejection> {
    let client = context.client;
    if params.is_repeated("client_id") || params.get("client_id").is_some_and(|c| c != client.id) {
        return Err(invalid("client_id is not the authenticated client"));
    }
    if params.contains("request_uri") {
        return Err(invalid("request_uri may not be pushed (RFC 9126 §2.1)"));
    }
    // FAPI 2.0 §5.3.2.2: its clients' pushed requests name their redirect URI (a request
    // object's parameters are what is pushed: the engine resolves it first).
    if client.profile.is_fapi2() && !params.contains("redirect_uri") {
        return Err(invalid("redirect_uri is required (FAPI 2.0)"));
    }
    let mut stored: Vec<(String, String)> = params
        .pairs()
        .filter(|(name, _)| !CLIENT_AUTHENTICATION.contains(name) && *name != "client_id")
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    stored.insert(0, ("client_id".to_owned(), client.id.clone()));
    let request = encoded(&stored);
    let request = Params::parse(request.as_bytes()).map_err(|_| invalid("malformed request"))?;
    let validated = validate_request(&request, Some(client), issuer, policy, Channel::Pushed)
        .map_err(|r| match r {
            AuthorizeRejection::ErrorPage(e) => PushRejection::Invalid(e),
            AuthorizeRejection::Redirect(r) => PushRejection::Invalid(r.error),
        })?;
    let dpop_jkt = match (validated.dpop_jkt(), context.dpop_proof_jkt) {
        (Some(pushed), Some(proof)) if pushed != proof => return Err(PushRejection::DpopMismatch),
        (pushed, proof) => pushed.or(proof).map(str::to_owned),
    };
    stored.retain(|(name, _)| name != "dpop_jkt");
    if authorization_params(&stored, dpop_jkt.as_deref()).is_err() {
        // The proof's binding would be one parameter too many (`Params`' limit).
        return Err(invalid("too many parameters"));
    }
    let secret = SecretToken::generate(rng).map_err(PushRejection::Random)?;
    let lifetime = policy.pushed_authorization_requests.lifetime;
    Ok(PushedRequest {
        request_uri: format!("{PUSHED_REQUEST_URI_PREFIX}{}", secret.expose()),
        expires_in: lifetime.as_secs(),
        record: PushedRequestRecord {
            hash: secret.hash(),
            issuer: issuer.clone(),
            client_id: client.id.clone(),
            params: stored,
            dpop_jkt,
            issued_at: context.now,
            expires_at: context.now.plus(lifetime),
        },
    })
}

fn encoded(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The store key of a `request_uri` this provider could have issued: the hash of its
/// random part; `None` for any other value (a URL to fetch, another server's URN).
pub fn pushed_request_hash(request_uri: &str) -> Option<TokenHash> {
    request_uri
        .strip_prefix(PUSHED_REQUEST_URI_PREFIX)
        .filter(|random| !random.is_empty())
        .map(TokenHash::of)
}

/// Whether an authorization request names a pushed request: a `request_uri` with this
/// provider's prefix.
pub fn names_pushed_request(params: &Params) -> bool {
    params
        .get("request_uri")
        .is_some_and(|r| r.starts_with(PUSHED_REQUEST_URI_PREFIX))
}

fn invalid_request_uri(description: &'static str) -> AuthError {
    OAuthError::new(AuthorizeErrorCode::InvalidRequestUri, description)
}

/// The parameters of a pushed request found by its `request_uri`: only
/// [`resolve_pushed_request`] makes them.
#[derive(Debug, Clone)]
pub struct PushedParams(Params);

impl PushedParams {
    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.0
    }
}

/// Validates the authorization request a client pushed (as
/// [`crate::validate_authorization_request`] does, the requirement to push being met).
pub fn validate_pushed_authorization_request(
    pushed: &PushedParams,
    client: Option<&Client>,
    issuer: &Issuer,
    policy: &Policy,
) -> Result<AuthorizationRequest, AuthorizeRejection> {
    validate_request(&pushed.0, client, issuer, policy, Channel::Pushed)
}

/// The parameters of the authorization request the front channel's `params` names by
/// `request_uri`, given the record the store gave up for it (consumed: single use).
///
/// Only the pushed parameters count (RFC 9126 §4); the front channel's `client_id` must be
/// the pushing client's. Every error is for an error page — the redirect URI is not trusted
/// until the pushed request is found: `invalid_request_uri` when no live record of this
/// client and issuer stands behind it (unknown, expired, used, another client's; RFC 9101
/// §6.2), `invalid_request` for a missing or repeated `client_id` or `request_uri`.
pub fn resolve_pushed_request(
    params: &Params,
    record: Option<&PushedRequestRecord>,
    issuer: &Issuer,
    now: UnixTime,
) -> Result<PushedParams, AuthError> {
    if params.is_repeated("client_id") || params.is_repeated("request_uri") {
        return Err(OAuthError::new(
            AuthorizeErrorCode::InvalidRequest,
            "client_id or request_uri was sent more than once",
        ));
    }
    let Some(client_id) = params.get("client_id") else {
        return Err(OAuthError::new(
            AuthorizeErrorCode::InvalidRequest,
            "client_id is missing",
        ));
    };
    let hash = params.get("request_uri").and_then(pushed_request_hash);
    let record = match record {
        Some(r) if Some(r.hash) == hash && r.issuer == *issuer && now < r.expires_at => r,
        _ => {
            return Err(invalid_request_uri(
                "request_uri is unknown, used or expired",
            ))
        }
    };
    if record.client_id != client_id {
        return Err(invalid_request_uri(
            "request_uri was pushed by another client",
        ));
    }
    authorization_params(&record.params, record.dpop_jkt.as_deref())
        .map(PushedParams)
        .map_err(|_| invalid_request_uri("the pushed request is corrupt"))
}

/// The authorization request's parameters: the pushed ones and the code's DPoP binding.
fn authorization_params(
    pushed: &[(String, String)],
    dpop_jkt: Option<&str>,
) -> Result<Params, crate::params::ParamsError> {
    let mut pairs = pushed.to_vec();
    if let Some(jkt) = dpop_jkt {
        pairs.push(("dpop_jkt".to_owned(), jkt.to_owned()));
    }
    Params::parse(encoded(&pairs).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorize::validate_authorization_request;
    use crate::client::{ClientKind, GrantType, PkcePolicy};
    use crate::redirect_uri::RedirectUri;
    use crate::scope::ScopeSet;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

    fn issuer() -> Issuer {
        Issuer::parse("https://as.example").unwrap()
    }

    fn client() -> Client {
        Client::new("app", ClientKind::Public)
            .with_redirect_uris([RedirectUri::parse("https://app.example/cb").unwrap()])
            .with_allowed_scopes(ScopeSet::parse("read write").unwrap())
            .with_default_scopes(ScopeSet::parse("read").unwrap())
            .with_grant_types([GrantType::AuthorizationCode])
            .with_pkce(PkcePolicy::Required)
    }

    fn params(q: &str) -> Params {
        Params::parse(q.as_bytes()).unwrap()
    }

    fn good(extra: &str) -> String {
        format!("response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=xyz&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}")
    }

    fn push_with(
        q: &str,
        proof: Option<&str>,
        policy: &Policy,
    ) -> Result<PushedRequest, PushRejection> {
        let c = client();
        let context = PushContext {
            client: &c,
            dpop_proof_jkt: proof,
            now: UnixTime::from_secs(1000),
        };
        let rng = ring::rand::SystemRandom::new();
        push_authorization_request(&params(q), &context, &issuer(), policy, &rng)
    }

    fn push(q: &str) -> Result<PushedRequest, PushRejection> {
        push_with(q, None, &Policy::default())
    }

    fn refused(r: Result<PushedRequest, PushRejection>) -> (AuthorizeErrorCode, String) {
        match r {
            Err(PushRejection::Invalid(e)) => (e.code, e.description.into_owned()),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_push_makes_a_random_reference_stored_only_as_its_hash() {
        let a = push(&good("&client_secret=s3cret&client_id=app")).unwrap();
        let b = push(&good("")).unwrap();
        let random = a
            .request_uri
            .strip_prefix(PUSHED_REQUEST_URI_PREFIX)
            .unwrap();
        assert_eq!(random.len(), 43, "256 bits, base64url");
        assert_ne!(a.request_uri, b.request_uri);
        assert_eq!(a.record.hash, TokenHash::of(random));
        assert_eq!(pushed_request_hash(&a.request_uri), Some(a.record.hash));
        assert_eq!(a.expires_in, 60);
        assert_eq!(a.record.expires_at, UnixTime::from_secs(1060));
        assert_eq!(a.record.client_id, "app");
        assert_eq!(a.record.issuer, issuer());
        assert!(a.record.params.iter().all(|(n, _)| n != "client_secret"));
        assert_eq!(a.record.params[0], ("client_id".into(), "app".into()));
        assert_eq!(
            a.record
                .params
                .iter()
                .filter(|(n, _)| n == "client_id")
                .count(),
            1
        );
        let debug = format!("{a:?}");
        assert!(!debug.contains(random), "the reference stays out of Debug");
        assert!(debug.contains("request_uri: \"<redacted>\""), "{debug}");
    }

    #[test]
    fn the_lifetime_comes_from_the_policy_and_is_bounded() {
        let mut policy = Policy::default();
        assert!(policy.pushed_authorization_requests.lifetime_is_valid());
        policy.pushed_authorization_requests.lifetime = Duration::from_secs(600);
        assert!(policy.pushed_authorization_requests.lifetime_is_valid());
        let pushed = push_with(&good(""), None, &policy).unwrap();
        assert_eq!(pushed.expires_in, 600);
        assert_eq!(pushed.record.expires_at, UnixTime::from_secs(1600));
        policy.pushed_authorization_requests.lifetime = Duration::from_secs(601);
        assert!(!policy.pushed_authorization_requests.lifetime_is_valid());
        policy.pushed_authorization_requests.lifetime = Duration::ZERO;
        assert!(!policy.pushed_authorization_requests.lifetime_is_valid());
    }

    #[test]
    fn every_authorization_error_is_returned_at_push_time() {
        let cases = [
            (
                good("&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax"),
                AuthorizeErrorCode::InvalidRequest,
            ),
            (good("&client_id=other"), AuthorizeErrorCode::InvalidRequest),
            (
                good("&client_id=app&client_id=app"),
                AuthorizeErrorCode::InvalidRequest,
            ),
            (
                good("").replace("https%3A%2F%2Fapp", "https%3A%2F%2Fevil"),
                AuthorizeErrorCode::InvalidRequest,
            ),
            (good("&scope=admin"), AuthorizeErrorCode::InvalidScope),
            (
                good("").replace("response_type=code", "response_type=token"),
                AuthorizeErrorCode::UnsupportedResponseType,
            ),
            (
                good("").replace("S256", "plain"),
                AuthorizeErrorCode::InvalidRequest,
            ),
            (good("&dpop_jkt=short"), AuthorizeErrorCode::InvalidRequest),
            (
                good("&request=eyJhbGciOiJub25lIn0.e30."),
                AuthorizeErrorCode::RequestNotSupported,
            ),
        ];
        for (q, code) in cases {
            assert_eq!(refused(push(&q)).0, code, "{q}");
        }
        assert_eq!(
            refused(push(&good("&request_uri=x"))).1,
            "request_uri may not be pushed (RFC 9126 §2.1)"
        );
    }

    /// A request at the parameter limit has no room for a proof's binding: refused when
    /// pushed, never a reference that cannot be resolved.
    #[test]
    fn a_binding_that_would_overflow_the_parameters_is_refused_when_pushed() {
        let base = good("");
        let room = 64 - Params::parse(base.as_bytes()).unwrap().pairs().count() - 1;
        let full: String = (0..room).map(|i| format!("&x{i}=1")).collect();
        let q = format!("{base}{full}");
        assert!(push_with(&q, None, &Policy::default()).is_ok());
        assert_eq!(
            refused(push_with(&q, Some(JKT), &Policy::default())).1,
            "too many parameters"
        );
    }

    /// RFC 9449 §10.1: a proof at the PAR endpoint binds the code like `dpop_jkt`; both
    /// must then name the same key.
    #[test]
    fn a_dpop_proof_binds_like_dpop_jkt_and_must_agree_with_it() {
        let policy = Policy::default();
        let by_proof = push_with(&good(""), Some(JKT), &policy).unwrap();
        assert_eq!(by_proof.record.dpop_jkt.as_deref(), Some(JKT));
        let by_param = push_with(&good(&format!("&dpop_jkt={JKT}")), None, &policy).unwrap();
        assert_eq!(by_param.record.dpop_jkt.as_deref(), Some(JKT));
        assert!(by_param.record.params.iter().all(|(n, _)| n != "dpop_jkt"));
        let both = push_with(&good(&format!("&dpop_jkt={JKT}")), Some(JKT), &policy).unwrap();
        assert_eq!(both.record.dpop_jkt.as_deref(), Some(JKT));
        let other = JKT.replace('0', "1");
        assert_eq!(
            push_with(&good(&format!("&dpop_jkt={JKT}")), Some(&other), &policy).unwrap_err(),
            PushRejection::DpopMismatch
        );
        assert_eq!(push(&good("")).unwrap().record.dpop_jkt, None);
    }

    fn front(request_uri: &str, client_id: &str) -> Params {
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", client_id)
            .append_pair("request_uri", request_uri)
            .append_pair("scope", "write")
            .finish();
        params(&q)
    }

    #[test]
    fn only_the_pushed_parameters_count_at_the_authorization_endpoint() {
        let pushed = push_with(&good("&scope=read"), Some(JKT), &Policy::default()).unwrap();
        let now = UnixTime::from_secs(1059);
        let resolved = resolve_pushed_request(
            &front(&pushed.request_uri, "app"),
            Some(&pushed.record),
            &issuer(),
            now,
        )
        .unwrap();
        assert_eq!(resolved.params().get("scope"), Some("read"));
        assert_eq!(resolved.params().get("dpop_jkt"), Some(JKT));
        assert_eq!(resolved.params().get("request_uri"), None);
        let c = client();
        let mut policy = Policy::default();
        policy.pushed_authorization_requests.required = true;
        let request =
            validate_pushed_authorization_request(&resolved, Some(&c), &issuer(), &policy).unwrap();
        assert_eq!(request.scopes().to_string(), "read");
    }

    #[test]
    fn an_unknown_expired_or_foreign_reference_is_invalid_request_uri() {
        let pushed = push(&good("")).unwrap();
        let r = &pushed.request_uri;
        let at = UnixTime::from_secs;
        let code = |p: &Params, rec: Option<&PushedRequestRecord>, iss: &Issuer, now| {
            resolve_pushed_request(p, rec, iss, now).unwrap_err().code
        };
        let rec = Some(&pushed.record);
        let bad_uri = AuthorizeErrorCode::InvalidRequestUri;
        assert_eq!(code(&front(r, "app"), None, &issuer(), at(1001)), bad_uri);
        assert_eq!(code(&front(r, "app"), rec, &issuer(), at(1060)), bad_uri);
        assert!(resolve_pushed_request(&front(r, "app"), rec, &issuer(), at(1059)).is_ok());
        assert_eq!(code(&front(r, "other"), rec, &issuer(), at(1001)), bad_uri);
        let elsewhere = Issuer::parse("https://other.example").unwrap();
        assert_eq!(code(&front(r, "app"), rec, &elsewhere, at(1001)), bad_uri);
        let wrong = format!("{r}x");
        assert_eq!(
            code(&front(&wrong, "app"), rec, &issuer(), at(1001)),
            bad_uri
        );
        let no_client = params(&format!("request_uri={r}"));
        assert_eq!(
            code(&no_client, rec, &issuer(), at(1001)),
            AuthorizeErrorCode::InvalidRequest
        );
        let twice = params(&format!("client_id=app&request_uri={r}&request_uri={r}"));
        assert_eq!(
            code(&twice, rec, &issuer(), at(1001)),
            AuthorizeErrorCode::InvalidRequest
        );
        let twice = params(&format!("client_id=app&client_id=app&request_uri={r}"));
        assert_eq!(
            code(&twice, rec, &issuer(), at(1001)),
            AuthorizeErrorCode::InvalidRequest
        );
    }

    #[test]
    fn references_are_recognized_by_their_prefix() {
        assert_eq!(pushed_request_hash("https://rp.example/r"), None);
        assert_eq!(pushed_request_hash(PUSHED_REQUEST_URI_PREFIX), None);
        assert_eq!(
            pushed_request_hash(&format!("{PUSHED_REQUEST_URI_PREFIX}abc")),
            Some(TokenHash::of("abc"))
        );
        assert!(names_pushed_request(&params(
            "request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc"
        )));
        assert!(!names_pushed_request(&params(
            "request_uri=https%3A%2F%2Frp.example%2Fr"
        )));
        assert!(!names_pushed_request(&params("client_id=app")));
    }

    /// RFC 9126 §5, §6: a request not pushed is `invalid_request`, redirected once the
    /// redirect URI is trusted, when the provider or the client requires pushing.
    #[test]
    fn a_request_not_pushed_is_refused_where_pushing_is_required() {
        let q = good("&client_id=app");
        let p = params(&q);
        let mut c = client();
        let mut policy = Policy::default();
        assert!(validate_authorization_request(&p, Some(&c), &issuer(), &policy).is_ok());
        let not_pushed = |c: &Client, policy: &Policy| match validate_authorization_request(
            &p,
            Some(c),
            &issuer(),
            policy,
        ) {
            Err(AuthorizeRejection::Redirect(r)) => {
                assert_eq!(r.error.code, AuthorizeErrorCode::InvalidRequest);
                assert!(r.response.plain_location().unwrap().contains("state=xyz"));
                r.error.description
            }
            other => panic!("{other:?}"),
        };
        policy.pushed_authorization_requests.required = true;
        assert_eq!(
            not_pushed(&c, &policy),
            "this authorization request must be pushed first (RFC 9126)"
        );
        assert!(validate_request(&p, Some(&c), &issuer(), &policy, Channel::Pushed).is_ok());
        policy.pushed_authorization_requests.required = false;
        c.requests.require_pushed_authorization_requests = true;
        not_pushed(&c, &policy);
        assert!(validate_request(&p, Some(&c), &issuer(), &policy, Channel::Pushed).is_ok());
        // An untrusted redirect URI is still an error page.
        let evil = params(&q.replace("https%3A%2F%2Fapp", "https%3A%2F%2Fevil"));
        assert!(matches!(
            validate_authorization_request(&evil, Some(&c), &issuer(), &policy),
            Err(AuthorizeRejection::ErrorPage(_))
        ));
    }

    /// FAPI 2.0 §5.3.2.2: a FAPI 2.0 client's pushed request names its redirect URI; a
    /// standard client with one registered URI may leave it out.
    #[test]
    fn a_fapi2_client_must_push_its_redirect_uri() {
        let without = good("").replace("&redirect_uri=https%3A%2F%2Fapp.example%2Fcb", "");
        assert!(push(&without).is_ok());
        let mut c = client();
        c.profile = crate::SecurityProfile::Fapi2;
        let push_fapi = |q: &str| {
            let context = PushContext {
                client: &c,
                dpop_proof_jkt: None,
                now: UnixTime::from_secs(1000),
            };
            let rng = ring::rand::SystemRandom::new();
            push_authorization_request(&params(q), &context, &issuer(), &Policy::default(), &rng)
        };
        assert_eq!(
            refused(push_fapi(&without)),
            (
                AuthorizeErrorCode::InvalidRequest,
                "redirect_uri is required (FAPI 2.0)".to_owned()
            )
        );
        assert!(push_fapi(&good("")).is_ok());
    }
}
