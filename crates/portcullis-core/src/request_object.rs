//! JWT-Secured Authorization Requests (RFC 9101): the `request` parameter, a request
//! object signed with one of the client's registered keys.
//!
//! The engine picks the client's keys and calls [`verify_request_object`] (or, for a client
//! that opted in with [`ClientRequestObjects::dangerous_allow_unsigned`],
//! [`unsigned_request_object`]); [`VerifiedRequestObject::decide`] then applies the claim
//! rules and returns the object's parameters — the only ones that count (§6.3) — and the
//! `jti` to spend once in the replay cache until `exp`.
//!
//! Claim rules: `iss` is the client (§10.2 item (a)); `aud` names the issuer (§4);
//! `client_id`, if present, is the outer one (§5); `exp` is required, in the future, and at
//! most [`RequestObjectPolicy::max_lifetime`] after `nbf` (or `iat`, or now) — FAPI 2.0
//! Message Signing §5.3.1 asks for 60 minutes; `nbf` and `iat` at most
//! [`RequestObjectPolicy::clock_skew`] ahead; `jti` required (replay, §10.8). Every failure
//! is `invalid_request_object` (§6.1).
//!
//! Explicit typing (RFC 9101 §10.8, RFC 8725 §3.11): a request object and a
//! `private_key_jwt` client assertion are both JWTs the client signs, with `iss` the client
//! and `aud` the issuer; `typ` tells them apart. [`VerifiedRequestObject::check_type`]
//! accepts `oauth-authz-req+jwt` (§4), and, for clients written before RFC 9101 (OpenID
//! Connect Core §6.1 request objects), no `typ` or the generic `JWT` (RFC 7519 §5.1) —
//! §4 only RECOMMENDS the explicit type, and §10.8 notes that requiring it breaks existing
//! deployments; any other type (a DPoP proof, an access token, a client assertion typed
//! `client-authentication+jwt`) is refused. [`ClientRequestObjects::require_explicit_type`]
//! accepts the explicit type only. The client assertion side refuses
//! `oauth-authz-req+jwt` (`client_assertion.rs`).

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::Client;
use crate::client_assertion::{numeric_date, MAX_CLOCK_SKEW, MAX_JTI_LEN};
use crate::error::{AuthorizeErrorCode, OAuthError};
use crate::jose::{
    is_media_type, unverified_header, verify_compact, Algorithm, JoseError, VerifyingKey,
};
use crate::params::Params;
use crate::secret::TokenHash;
use crate::time::UnixTime;

type AuthError = OAuthError<AuthorizeErrorCode>;

/// The media type of a request object (RFC 9101 §4, §10.8), the `typ` of its header.
pub const REQUEST_OBJECT_TYPE: &str = "oauth-authz-req+jwt";

/// Whether a JWS `typ` names a request object ([`REQUEST_OBJECT_TYPE`], compared as RFC
/// 7515 §4.1.9 says).
pub fn is_request_object_type(typ: &str) -> bool {
    is_media_type(typ, REQUEST_OBJECT_TYPE)
}

/// The rules request objects are held to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestObjectPolicy {
    /// The algorithms a request object may be signed with (asymmetric only; default all of
    /// [`Algorithm::ALL`]). HMAC and `none` are never accepted as signatures.
    pub algs: Vec<Algorithm>,
    /// The longest `exp` may be after `nbf` (or `iat`, or now): default 60 minutes (FAPI 2.0
    /// Message Signing §5.3.1). Also bounds how long the replay cache keeps a `jti`.
    pub max_lifetime: Duration,
    /// How far ahead of now `nbf` and `iat` may be (default 10 s; at most
    /// [`MAX_CLOCK_SKEW`]).
    pub clock_skew: Duration,
    /// Every client must send signed request objects (RFC 9101 §10.5, the server's
    /// `require_signed_request_object`), whatever its own setting says.
    pub require_signed: bool,
}

impl Default for RequestObjectPolicy {
    fn default() -> Self {
        Self {
            algs: Algorithm::ALL.to_vec(),
            max_lifetime: Duration::from_secs(3600),
            clock_skew: Duration::from_secs(10),
            require_signed: false,
        }
    }
}

impl RequestObjectPolicy {
    /// Whether `client` must send signed request objects: the policy's or its own
    /// `require_signed_request_object` (RFC 9101 §10.5).
    pub fn requires_signed(&self, client: &Client) -> bool {
        self.require_signed || client.request_objects.require_signed
    }

    /// The algorithms `client`'s request objects may be signed with: this policy's, narrowed
    /// to its `request_object_signing_alg` if it registered one (OpenID Connect Dynamic
    /// Client Registration 1.0 §2: others MUST be rejected).
    pub fn algs_for(&self, client: &Client) -> Vec<Algorithm> {
        let registered = client.request_objects.signing_alg;
        self.algs
            .iter()
            .copied()
            .filter(|a| registered.is_none_or(|r| r == *a))
            .filter(|a| client.profile.allows_algorithm(*a))
            .collect()
    }
}

/// A client's request-object settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientRequestObjects {
    /// `require_signed_request_object` (RFC 9101 §10.5): every authorization request of
    /// this client must come as a signed request object; a plain one is `invalid_request`.
    pub require_signed: bool,
    /// `request_object_signing_alg` (OpenID Connect Dynamic Client Registration 1.0 §2):
    /// the only algorithm accepted; `None`: the policy's.
    pub signing_alg: Option<Algorithm>,
    /// Accept unsigned request objects (`alg: none`) from this client. They prove nothing
    /// (RFC 9101 §10.2): anyone can make one in the client's name. Never with
    /// [`ClientRequestObjects::require_signed`].
    pub dangerous_allow_unsigned: bool,
    /// Accept request objects typed `oauth-authz-req+jwt` only (RFC 9101 §4, §10.8), not
    /// untyped or `JWT` ones: no JWT of another kind this client signs can then pass for
    /// one of its request objects. Off by default: RFC 9101 only RECOMMENDS the type, and
    /// neither FAPI 2.0 Security Profile §5.3 nor FAPI 2.0 Message Signing §5.3.1 requires
    /// it, so a conformant FAPI 2.0 client may leave it out.
    pub require_explicit_type: bool,
    /// `request_uris` (OpenID Connect Dynamic Client Registration 1.0 §2): the `https`
    /// URLs of request objects the provider may fetch for this client (RFC 9101 §5.2, §6.2),
    /// when the host lets it fetch them. A `request_uri` must be one of them exactly
    /// (RFC 9101 §10.4.1; discovery's `require_request_uri_registration`).
    pub request_uris: Vec<String>,
}

impl ClientRequestObjects {
    /// Whether `uri` is one of [`ClientRequestObjects::request_uris`], exactly (no
    /// normalization: a registered URL is the only one fetched).
    pub fn registers_request_uri(&self, uri: &str) -> bool {
        self.request_uris.iter().any(|r| r == uri)
    }
}

fn invalid_object(description: &'static str) -> AuthError {
    OAuthError::new(AuthorizeErrorCode::InvalidRequestObject, description)
}

/// A request object whose signature verified (or an unsigned one its client accepts): its
/// claims may now be judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRequestObject {
    claims: Map<String, Value>,
    /// The header's `typ`, if any.
    typ: Option<String>,
}

/// A request object that passed every rule.
#[derive(Debug, Clone)]
pub struct AcceptedRequestObject {
    /// The authorization request's parameters: the object's only (RFC 9101 §6.3).
    pub params: Params,
    /// The replay-cache id: SHA-256 over the client and the `jti`.
    pub replay_id: TokenHash,
    /// Until when the `jti` must stay spent: the object's `exp`.
    pub expires_at: UnixTime,
}

/// Verifies a signed request object (a compact JWS, RFC 9101 §4) with the client's `keys`,
/// for the asymmetric algorithms `allowed`; its payload must be a JSON object
/// ([`JoseError::Malformed`] otherwise). [`JoseError::NoMatchingKey`] tells the engine the
/// client's keys may be stale; [`request_object_refusal`] says the rest to the client.
pub fn verify_request_object(
    token: &str,
    keys: &[VerifyingKey],
    allowed: &[Algorithm],
) -> Result<VerifiedRequestObject, JoseError> {
    let verified = verify_compact(token, keys, allowed)?;
    VerifiedRequestObject::from_payload(&verified.payload, verified.header.typ)
        .map_err(|_| JoseError::Malformed)
}

/// The `invalid_request_object` error of a request object that did not verify.
pub fn request_object_refusal(error: &JoseError) -> AuthError {
    match error {
        JoseError::AlgorithmNotAllowed => {
            invalid_object("the request object's alg is not allowed for this client")
        }
        _ => invalid_object("the request object's signature did not verify"),
    }
}

/// Whether `token` declares itself unsigned (`alg: none`, RFC 7519 §6): such an object is
/// accepted only through [`unsigned_request_object`].
pub fn is_unsigned_request_object(token: &str) -> bool {
    unverified_header(token).is_ok_and(|h| h.get("alg").and_then(Value::as_str) == Some("none"))
}

/// The `typ` of an unsigned object's header: a string, else `Some("")` (no type a request
/// object may have).
fn unsigned_type(token: &str) -> Option<String> {
    let header = unverified_header(token).ok()?;
    let typ = header.get("typ")?;
    Some(typ.as_str().unwrap_or_default().to_owned())
}

/// Reads an unsigned request object (`alg: none`, an empty signature) of a client that
/// opted in with [`ClientRequestObjects::dangerous_allow_unsigned`] and is not required to
/// sign ([`RequestObjectPolicy::requires_signed`]).
pub fn unsigned_request_object(
    token: &str,
    client: &Client,
    policy: &RequestObjectPolicy,
) -> Result<VerifiedRequestObject, AuthError> {
    if !client.request_objects.dangerous_allow_unsigned
        || policy.requires_signed(client)
        || client.profile.is_fapi2()
    {
        return Err(invalid_object("unsigned request objects are not accepted"));
    }
    let mut parts = token.split('.');
    let (true, Some(payload), Some(""), None) = (
        is_unsigned_request_object(token),
        parts.nth(1),
        parts.next(),
        parts.next(),
    ) else {
        return Err(invalid_object("the request object is malformed"));
    };
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| invalid_object("the request object is malformed"))?;
    VerifiedRequestObject::from_payload(&payload, unsigned_type(token))
}

/// JWT claims of the object that are not authorization request parameters.
const JWT_CLAIMS: &[&str] = &["iss", "aud", "exp", "nbf", "iat", "jti", "sub"];

/// Parameters a request object may not carry: no object inside an object (RFC 9101 §4).
const NESTED: &[&str] = &["request", "request_uri"];

/// The claims read for the rules (RFC 7519 §4.1).
#[derive(Deserialize)]
struct TimeClaims {
    #[serde(default, deserialize_with = "numeric_date")]
    exp: Option<UnixTime>,
    #[serde(default, deserialize_with = "numeric_date")]
    nbf: Option<UnixTime>,
    #[serde(default, deserialize_with = "numeric_date")]
    iat: Option<UnixTime>,
}

impl VerifiedRequestObject {
    /// The claims of a payload that is a JSON object, under a header typed `typ`.
    fn from_payload(payload: &[u8], typ: Option<String>) -> Result<Self, AuthError> {
        serde_json::from_slice(payload)
            .map(|claims| Self { claims, typ })
            .map_err(|_| invalid_object("the request object is not a JSON object"))
    }

    /// Checks the header's `typ` for `client` (see the module): `oauth-authz-req+jwt`;
    /// or, unless the client [requires it](ClientRequestObjects::require_explicit_type),
    /// none or `JWT`. Another type is another kind of JWT (RFC 9101 §10.8).
    pub fn check_type(&self, client: &Client) -> Result<(), AuthError> {
        let explicit_only = client.request_objects.require_explicit_type;
        let accepted = match self.typ.as_deref() {
            Some(t) if is_request_object_type(t) => true,
            None => !explicit_only,
            Some(t) => !explicit_only && is_media_type(t, "JWT"),
        };
        if accepted {
            Ok(())
        } else {
            Err(invalid_object(
                "the request object's typ must be oauth-authz-req+jwt",
            ))
        }
    }

    /// The object's authorization parameters (RFC 9101 §6.3), the outer `client_id` added
    /// when the object has none: strings as they are, integers as decimal text, JSON
    /// objects (`claims`) and `authorization_details` as JSON text, `resource` as a string
    /// or an array of strings (RFC 8707). The JWT claims (`iss`, `aud`, `exp`, …) are not
    /// parameters. `request` or `request_uri` inside, or a value of another type, is
    /// refused.
    pub fn params(&self, client_id: &str) -> Result<Params, AuthError> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        if !self.claims.contains_key("client_id") {
            form.append_pair("client_id", client_id);
        }
        for (name, value) in &self.claims {
            if NESTED.contains(&name.as_str()) {
                return Err(invalid_object(
                    "a request object may not carry request or request_uri",
                ));
            }
            if JWT_CLAIMS.contains(&name.as_str()) {
                continue;
            }
            match (name.as_str(), value) {
                (_, Value::String(s)) => {
                    form.append_pair(name, s);
                }
                (_, Value::Number(n)) if n.is_i64() || n.is_u64() => {
                    form.append_pair(name, &n.to_string());
                }
                (_, Value::Object(_)) | ("authorization_details", Value::Array(_)) => {
                    form.append_pair(name, &value.to_string());
                }
                ("resource", Value::Array(items)) => {
                    for item in items {
                        let Value::String(s) = item else {
                            return Err(invalid_object("resource must be a string or strings"));
                        };
                        form.append_pair(name, s);
                    }
                }
                _ => {
                    return Err(invalid_object(
                        "a request object parameter has a value of the wrong type",
                    ))
                }
            }
        }
        Params::parse(form.finish().as_bytes())
            .map_err(|_| invalid_object("the request object has too many parameters"))
    }

    /// Applies the claim rules (see the module) for the client `client_id` at the
    /// authorization server `issuer`, and returns the parameters and the `jti` to spend.
    pub fn decide(
        &self,
        client_id: &str,
        issuer: &str,
        policy: &RequestObjectPolicy,
        now: UnixTime,
    ) -> Result<AcceptedRequestObject, AuthError> {
        let c = &self.claims;
        let text = |name: &str| c.get(name).and_then(Value::as_str);
        if text("iss") != Some(client_id) {
            return Err(invalid_object(
                "the request object's iss must be the client_id",
            ));
        }
        if c.get("client_id")
            .is_some_and(|v| v.as_str() != Some(client_id))
        {
            return Err(invalid_object(
                "the request object's client_id differs from the request's",
            ));
        }
        let audience_ok = match c.get("aud") {
            Some(Value::String(a)) => a == issuer,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(issuer)),
            _ => false,
        };
        if !audience_ok {
            return Err(invalid_object(
                "the request object's aud must be the issuer",
            ));
        }
        let times: TimeClaims = serde_json::from_value(Value::Object(c.clone()))
            .map_err(|_| invalid_object("the request object's exp, nbf or iat is malformed"))?;
        let exp = times
            .exp
            .ok_or_else(|| invalid_object("the request object has no exp"))?;
        if exp <= now {
            return Err(invalid_object("the request object has expired"));
        }
        let latest = now.plus(policy.clock_skew.min(MAX_CLOCK_SKEW));
        if times.nbf.is_some_and(|t| t > latest) || times.iat.is_some_and(|t| t > latest) {
            return Err(invalid_object("the request object is not valid yet"));
        }
        let start = times.nbf.or(times.iat).unwrap_or(now);
        if exp > start.plus(policy.max_lifetime) || exp > now.plus(policy.max_lifetime) {
            return Err(invalid_object("the request object lives too long"));
        }
        let jti = text("jti")
            .filter(|j| (1..=MAX_JTI_LEN).contains(&j.len()))
            .ok_or_else(|| invalid_object("the request object needs a jti"))?;
        Ok(AcceptedRequestObject {
            params: self.params(client_id)?,
            replay_id: TokenHash::of_parts(&[client_id.as_bytes(), jti.as_bytes()]),
            expires_at: exp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientKind;
    use crate::jose::{sign_compact, MacAlgorithm, SigningKey};
    use ring::rand::SystemRandom;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;
    const ISSUER: &str = "https://as.example";

    const RSA_PEM: &str = include_str!("../testdata/rsa-2048-test-only.pem");

    /// A key of `alg`: generated, or the test RSA key (ring cannot generate RSA keys).
    fn key(alg: Algorithm) -> SigningKey {
        let rng = SystemRandom::new();
        match alg {
            Algorithm::RS256 | Algorithm::PS256 => {
                let body: String = RSA_PEM
                    .lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect();
                let der = base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .unwrap();
                SigningKey::from_pkcs8("k1", alg, &der, &rng).unwrap()
            }
            _ => SigningKey::generate("k1", alg, &rng).unwrap(),
        }
    }

    fn claims() -> Value {
        json!({
            "iss": "app", "aud": ISSUER, "client_id": "app",
            "exp": NOW + 60, "nbf": NOW, "iat": NOW, "jti": "j1",
            "response_type": "code", "redirect_uri": "https://app.example/cb",
            "scope": "openid", "state": "s1",
        })
    }

    fn with(field: &str, value: Value) -> Value {
        let mut c = claims();
        if value.is_null() {
            c.as_object_mut().unwrap().remove(field);
        } else {
            c[field] = value;
        }
        c
    }

    fn signed(key: &SigningKey, claims: &Value) -> String {
        sign_compact(
            claims.to_string().as_bytes(),
            Some("oauth-authz-req+jwt"),
            key,
            &SystemRandom::new(),
        )
        .unwrap()
    }

    fn unsigned(claims: &Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
        format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
    }

    fn verified(claims: &Value) -> VerifiedRequestObject {
        let key = key(Algorithm::ES256);
        verify_request_object(
            &signed(&key, claims),
            &[key.verifying_key()],
            &Algorithm::ALL,
        )
        .unwrap()
    }

    fn decide_with(
        claims: &Value,
        policy: &RequestObjectPolicy,
    ) -> Result<AcceptedRequestObject, AuthError> {
        verified(claims).decide("app", ISSUER, policy, UnixTime::from_secs(NOW))
    }

    fn decide(claims: &Value) -> Result<AcceptedRequestObject, AuthError> {
        decide_with(claims, &RequestObjectPolicy::default())
    }

    #[track_caller]
    fn refused(claims: &Value, description: &str) {
        let e = decide(claims).unwrap_err();
        assert_eq!(e.code, AuthorizeErrorCode::InvalidRequestObject, "{claims}");
        assert_eq!(e.code.as_str(), "invalid_request_object");
        assert_eq!(e.description, description, "{claims}");
    }

    fn names(params: &Params) -> Vec<(String, String)> {
        let mut out: Vec<_> = [
            "client_id",
            "response_type",
            "redirect_uri",
            "scope",
            "state",
            "max_age",
            "claims",
            "authorization_details",
            "iss",
            "aud",
            "exp",
            "jti",
        ]
        .iter()
        .filter_map(|n| params.get(n).map(|v| (n.to_string(), v.to_owned())))
        .collect();
        out.extend(
            params
                .all("resource")
                .map(|r| ("resource".into(), r.to_owned())),
        );
        out
    }

    #[test]
    fn a_good_object_gives_its_parameters_and_jti() {
        let accepted = decide(&claims()).unwrap();
        assert_eq!(accepted.expires_at, UnixTime::from_secs(NOW + 60));
        assert_eq!(
            accepted.replay_id,
            TokenHash::of_parts(&[b"app".as_slice(), b"j1".as_slice()])
        );
        let pairs = names(&accepted.params);
        let expect: Vec<(String, String)> = [
            ("client_id", "app"),
            ("response_type", "code"),
            ("redirect_uri", "https://app.example/cb"),
            ("scope", "openid"),
            ("state", "s1"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(pairs, expect);
        // An array naming the issuer is an audience too; no nbf nor iat is fine.
        assert!(decide(&with("aud", json!(["x", ISSUER]))).is_ok());
        let mut c = with("nbf", Value::Null);
        c.as_object_mut().unwrap().remove("iat");
        assert!(decide(&c).is_ok());
    }

    #[test]
    fn iss_aud_and_client_id_name_the_client_and_the_issuer() {
        let iss = "the request object's iss must be the client_id";
        refused(&with("iss", json!("other")), iss);
        refused(&with("iss", Value::Null), iss);
        refused(&with("iss", json!(["app"])), iss);
        let aud = "the request object's aud must be the issuer";
        for bad in [
            json!("https://as.example/authorize"),
            json!(["https://evil.example"]),
            json!([]),
            json!(5),
            Value::Null,
        ] {
            refused(&with("aud", bad), aud);
        }
        let client_id = "the request object's client_id differs from the request's";
        refused(&with("client_id", json!("other")), client_id);
        refused(&with("client_id", json!(7)), client_id);
        // Without its own client_id, the object speaks for the outer one.
        let params = decide(&with("client_id", Value::Null)).unwrap().params;
        assert_eq!(params.get("client_id"), Some("app"));
        assert!(!params.is_repeated("client_id"));
    }

    #[test]
    fn exp_is_required_in_the_future() {
        refused(&with("exp", Value::Null), "the request object has no exp");
        refused(&with("exp", json!(NOW)), "the request object has expired");
        refused(
            &with("exp", json!(NOW - 1)),
            "the request object has expired",
        );
        assert!(decide(&with("exp", json!(NOW + 1))).is_ok());
        for bad in [json!("soon"), json!(-1)] {
            refused(
                &with("exp", bad),
                "the request object's exp, nbf or iat is malformed",
            );
        }
    }

    #[test]
    fn nbf_and_iat_may_run_ahead_by_the_skew_only() {
        let d = "the request object is not valid yet";
        for field in ["nbf", "iat"] {
            let mut c = with(field, json!(NOW + 10));
            c["exp"] = json!(NOW + 70);
            assert!(decide(&c).is_ok(), "{field}");
            c[field] = json!(NOW + 11);
            refused(&c, d);
        }
        let policy = |secs| RequestObjectPolicy {
            clock_skew: Duration::from_secs(secs),
            ..RequestObjectPolicy::default()
        };
        let ahead = |secs: u64| {
            let mut c = with("nbf", json!(NOW + secs));
            c["exp"] = json!(NOW + secs + 60);
            c
        };
        assert!(decide_with(&ahead(60), &policy(60)).is_ok());
        assert!(decide_with(&ahead(61), &policy(600)).is_err());
        assert!(decide_with(&ahead(31), &policy(30)).is_err());
    }

    /// FAPI 2.0 Message Signing §5.3.1: `exp` at most 60 minutes after `nbf`.
    #[test]
    fn the_lifetime_is_bounded() {
        let d = "the request object lives too long";
        let exp = |exp: u64| with("exp", json!(exp));
        assert!(decide(&exp(NOW + 3600)).is_ok());
        refused(&exp(NOW + 3601), d);
        // Counted from nbf, else iat, else now.
        let mut old = with("nbf", json!(NOW - 3000));
        old["exp"] = json!(NOW + 601);
        refused(&old, d);
        old["exp"] = json!(NOW + 600);
        assert!(decide(&old).is_ok());
        let mut by_iat = with("nbf", Value::Null);
        by_iat["iat"] = json!(NOW - 100);
        by_iat["exp"] = json!(NOW + 3501);
        refused(&by_iat, d);
        by_iat["exp"] = json!(NOW + 3500);
        assert!(decide(&by_iat).is_ok());
        let mut bare = with("nbf", Value::Null);
        bare.as_object_mut().unwrap().remove("iat");
        bare["exp"] = json!(NOW + 3601);
        refused(&bare, d);
        // A start in the future does not stretch the bound beyond now.
        let mut ahead = with("nbf", json!(NOW + 10));
        ahead["exp"] = json!(NOW + 3605);
        refused(&ahead, d);
        let short = RequestObjectPolicy {
            max_lifetime: Duration::from_secs(30),
            ..RequestObjectPolicy::default()
        };
        assert!(decide_with(&exp(NOW + 31), &short).is_err());
        assert!(decide_with(&exp(NOW + 30), &short).is_ok());
    }

    #[test]
    fn jti_is_required() {
        let d = "the request object needs a jti";
        refused(&with("jti", Value::Null), d);
        refused(&with("jti", json!("")), d);
        refused(&with("jti", json!(5)), d);
        refused(&with("jti", json!("x".repeat(257))), d);
        assert!(decide(&with("jti", json!("x".repeat(256)))).is_ok());
    }

    #[test]
    fn claims_become_parameters_by_type() {
        let mut c = claims();
        c["max_age"] = json!(300);
        c["claims"] = json!({"id_token": {"acr": null}});
        c["authorization_details"] = json!([{"type": "payment"}]);
        c["resource"] = json!(["https://a.example", "https://b.example"]);
        let params = decide(&c).unwrap().params;
        assert_eq!(params.get("max_age"), Some("300"));
        assert_eq!(params.get("claims"), Some(r#"{"id_token":{"acr":null}}"#));
        assert_eq!(
            params.get("authorization_details"),
            Some(r#"[{"type":"payment"}]"#)
        );
        assert_eq!(
            params.all("resource").collect::<Vec<_>>(),
            ["https://a.example", "https://b.example"]
        );
        for jwt_claim in ["iss", "aud", "exp", "jti", "nbf", "iat"] {
            assert!(!params.contains(jwt_claim), "{jwt_claim}");
        }
        let one = decide(&with("resource", json!("https://a.example")))
            .unwrap()
            .params;
        assert_eq!(one.get("resource"), Some("https://a.example"));
        assert_eq!(
            decide(&with("max_age", json!(-5)))
                .unwrap()
                .params
                .get("max_age"),
            Some("-5")
        );
        // An empty string is an omitted parameter, as in a query.
        assert!(!decide(&with("state", json!("")))
            .unwrap()
            .params
            .contains("state"));
    }

    #[test]
    fn odd_types_and_nested_objects_are_refused() {
        let wrong = "a request object parameter has a value of the wrong type";
        for bad in [json!(true), json!(1.5), Value::Null, json!(["a", "b"])] {
            let mut c = claims();
            c["scope"] = bad;
            refused(&c, wrong);
        }
        refused(
            &with("resource", json!(["https://a.example", 5])),
            "resource must be a string or strings",
        );
        for nested in ["request", "request_uri"] {
            refused(
                &with(nested, json!("x")),
                "a request object may not carry request or request_uri",
            );
        }
        let mut many = claims();
        for i in 0..64 {
            many[format!("p{i}")] = json!("v");
        }
        refused(&many, "the request object has too many parameters");
    }

    #[test]
    fn only_the_allowed_algorithms_and_keys_verify() {
        for alg in Algorithm::ALL {
            let k = key(alg);
            let token = signed(&k, &claims());
            assert!(verify_request_object(&token, &[k.verifying_key()], &[alg]).is_ok());
            let others: Vec<_> = Algorithm::ALL.into_iter().filter(|a| *a != alg).collect();
            assert_eq!(
                verify_request_object(&token, &[k.verifying_key()], &others).unwrap_err(),
                JoseError::AlgorithmNotAllowed,
                "{alg:?}"
            );
        }
        let k = key(Algorithm::ES256);
        let stranger = SigningKey::generate("k1", Algorithm::ES256, &SystemRandom::new()).unwrap();
        assert_eq!(
            verify_request_object(
                &signed(&stranger, &claims()),
                &[k.verifying_key()],
                &Algorithm::ALL
            )
            .unwrap_err(),
            JoseError::InvalidSignature
        );
        // HMAC, even keyed with the public key, and `none` never verify as signatures.
        let public = serde_json::to_vec(&k.public_jwk()).unwrap();
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","kid":"k1"}"#);
        let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims().to_string()));
        let mac = MacAlgorithm::HS256.sign(&public, input.as_bytes());
        let hs = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac));
        for token in [hs, unsigned(&claims())] {
            assert_eq!(
                verify_request_object(&token, &[k.verifying_key()], &Algorithm::ALL).unwrap_err(),
                JoseError::AlgorithmNotAllowed
            );
        }
        // A payload that is not a JSON object.
        let array = sign_compact(b"[1]", None, &k, &SystemRandom::new()).unwrap();
        assert_eq!(
            verify_request_object(&array, &[k.verifying_key()], &Algorithm::ALL).unwrap_err(),
            JoseError::Malformed
        );
    }

    #[test]
    fn refusals_say_what_failed() {
        let alg = request_object_refusal(&JoseError::AlgorithmNotAllowed);
        assert_eq!(alg.code, AuthorizeErrorCode::InvalidRequestObject);
        assert_eq!(
            alg.description,
            "the request object's alg is not allowed for this client"
        );
        for e in [
            JoseError::InvalidSignature,
            JoseError::NoMatchingKey,
            JoseError::Malformed,
        ] {
            let r = request_object_refusal(&e);
            assert_eq!(r.code, AuthorizeErrorCode::InvalidRequestObject);
            assert_eq!(
                r.description,
                "the request object's signature did not verify"
            );
        }
    }

    fn client(settings: ClientRequestObjects) -> Client {
        Client::new("app", ClientKind::Public).with_request_objects(settings)
    }

    /// FAPI 2.0 §5.4.1: a FAPI client's request objects verify with PS256, ES256 or EdDSA
    /// only; another client keeps the policy's list.
    #[test]
    fn a_fapi2_client_never_verifies_rs256() {
        let policy = RequestObjectPolicy::default();
        let plain = client(ClientRequestObjects::default());
        assert!(policy.algs_for(&plain).contains(&Algorithm::RS256));
        let fapi = plain.with_profile(crate::SecurityProfile::Fapi2);
        assert_eq!(policy.algs_for(&fapi), crate::FAPI2_ALGORITHMS);
    }

    #[test]
    fn unsigned_objects_only_with_the_dangerous_opt_in() {
        let policy = RequestObjectPolicy::default();
        let token = unsigned(&claims());
        assert!(is_unsigned_request_object(&token));
        assert!(!is_unsigned_request_object(&signed(
            &key(Algorithm::ES256),
            &claims()
        )));
        assert!(!is_unsigned_request_object("not a jws"));
        let refused = "unsigned request objects are not accepted";
        let plain = client(ClientRequestObjects::default());
        assert_eq!(
            unsigned_request_object(&token, &plain, &policy)
                .unwrap_err()
                .description,
            refused
        );
        let opted_in = client(ClientRequestObjects {
            dangerous_allow_unsigned: true,
            ..ClientRequestObjects::default()
        });
        let object = unsigned_request_object(&token, &opted_in, &policy).unwrap();
        assert!(object
            .decide("app", ISSUER, &policy, UnixTime::from_secs(NOW))
            .is_ok());
        // Required signatures win over the opt-in, the client's or the server's.
        let required = client(ClientRequestObjects {
            dangerous_allow_unsigned: true,
            require_signed: true,
            ..ClientRequestObjects::default()
        });
        let e = unsigned_request_object(&token, &required, &policy).unwrap_err();
        assert_eq!(e.code, AuthorizeErrorCode::InvalidRequestObject);
        assert_eq!(e.description, refused);
        let server = RequestObjectPolicy {
            require_signed: true,
            ..RequestObjectPolicy::default()
        };
        assert_eq!(
            unsigned_request_object(&token, &opted_in, &server)
                .unwrap_err()
                .description,
            refused
        );
        let malformed = "the request object is malformed";
        for bad in [
            format!("{token}sig"),
            format!("{token}."),
            token.trim_end_matches('.').to_owned(),
            signed(&key(Algorithm::ES256), &claims()),
            format!("{}.!!.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#)),
        ] {
            assert_eq!(
                unsigned_request_object(&bad, &opted_in, &policy)
                    .unwrap_err()
                    .description,
                malformed,
                "{bad}"
            );
        }
        let not_object = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode("[]")
        );
        assert_eq!(
            unsigned_request_object(&not_object, &opted_in, &policy)
                .unwrap_err()
                .description,
            "the request object is not a JSON object"
        );
    }

    #[test]
    fn per_client_algorithm_and_requirement() {
        let policy = RequestObjectPolicy {
            algs: vec![Algorithm::ES256, Algorithm::PS256],
            ..RequestObjectPolicy::default()
        };
        let plain = client(ClientRequestObjects::default());
        assert_eq!(policy.algs_for(&plain), policy.algs);
        assert!(!policy.requires_signed(&plain));
        let ps = client(ClientRequestObjects {
            signing_alg: Some(Algorithm::PS256),
            require_signed: true,
            ..ClientRequestObjects::default()
        });
        assert_eq!(policy.algs_for(&ps), [Algorithm::PS256]);
        assert!(policy.requires_signed(&ps));
        let rs = client(ClientRequestObjects {
            signing_alg: Some(Algorithm::RS256),
            ..ClientRequestObjects::default()
        });
        assert!(policy.algs_for(&rs).is_empty());
        let server = RequestObjectPolicy {
            require_signed: true,
            ..RequestObjectPolicy::default()
        };
        assert!(server.requires_signed(&plain));
        let d = RequestObjectPolicy::default();
        assert_eq!(d.algs, Algorithm::ALL);
        assert_eq!(d.max_lifetime, Duration::from_secs(3600));
        assert_eq!(d.clock_skew, Duration::from_secs(10));
        assert!(!d.require_signed);
    }

    /// RFC 9101 §4, §10.8: the explicit type always, none or `JWT` unless the client
    /// requires the explicit type, never another type.
    #[test]
    fn the_type_tells_request_objects_apart() {
        let k = key(Algorithm::ES256);
        let typed = |typ: Option<&str>| {
            let token = sign_compact(
                claims().to_string().as_bytes(),
                typ,
                &k,
                &SystemRandom::new(),
            )
            .unwrap();
            verify_request_object(&token, &[k.verifying_key()], &Algorithm::ALL).unwrap()
        };
        let plain = client(ClientRequestObjects::default());
        let strict = client(ClientRequestObjects {
            require_explicit_type: true,
            ..ClientRequestObjects::default()
        });
        let refused = "the request object's typ must be oauth-authz-req+jwt";
        for typ in [
            "oauth-authz-req+jwt",
            "application/oauth-authz-req+jwt",
            "OAuth-Authz-Req+JWT",
        ] {
            assert!(typed(Some(typ)).check_type(&plain).is_ok(), "{typ}");
            assert!(typed(Some(typ)).check_type(&strict).is_ok(), "{typ}");
        }
        for typ in [None, Some("JWT"), Some("jwt"), Some("application/jwt")] {
            assert!(typed(typ).check_type(&plain).is_ok(), "{typ:?}");
            let e = typed(typ).check_type(&strict).unwrap_err();
            assert_eq!(e.code, AuthorizeErrorCode::InvalidRequestObject);
            assert_eq!(e.description, refused);
        }
        for typ in [
            "client-authentication+jwt",
            "dpop+jwt",
            "at+jwt",
            "oauth-authz-req+jwtx",
            "",
        ] {
            for c in [&plain, &strict] {
                let e = typed(Some(typ)).check_type(c).unwrap_err();
                assert_eq!(e.code, AuthorizeErrorCode::InvalidRequestObject, "{typ}");
                assert_eq!(e.description, refused);
            }
        }
        assert!(is_request_object_type("Application/OAUTH-AUTHZ-REQ+JWT"));
        assert!(!is_request_object_type("x/oauth-authz-req+jwt"));
        // An unsigned object's type counts too; a type that is not a string is none.
        let opted_in = client(ClientRequestObjects {
            dangerous_allow_unsigned: true,
            ..ClientRequestObjects::default()
        });
        let policy = RequestObjectPolicy::default();
        let body = URL_SAFE_NO_PAD.encode(claims().to_string());
        for (header, ok) in [
            (r#"{"alg":"none"}"#, true),
            (r#"{"alg":"none","typ":"oauth-authz-req+jwt"}"#, true),
            (r#"{"alg":"none","typ":"dpop+jwt"}"#, false),
            (r#"{"alg":"none","typ":5}"#, false),
        ] {
            let token = format!("{}.{body}.", URL_SAFE_NO_PAD.encode(header));
            let object = unsigned_request_object(&token, &opted_in, &policy).unwrap();
            assert_eq!(object.check_type(&opted_in).is_ok(), ok, "{header}");
        }
    }

    #[test]
    fn request_uris_match_exactly() {
        let settings = ClientRequestObjects {
            request_uris: vec!["https://app.example/r/1".into()],
            ..ClientRequestObjects::default()
        };
        assert!(settings.registers_request_uri("https://app.example/r/1"));
        for other in [
            "https://app.example/r/1/",
            "https://APP.example/r/1",
            "https://app.example/r/12",
            "https://app.example/r",
            "",
        ] {
            assert!(!settings.registers_request_uri(other), "{other}");
        }
        assert!(!ClientRequestObjects::default().registers_request_uri(""));
    }
}
