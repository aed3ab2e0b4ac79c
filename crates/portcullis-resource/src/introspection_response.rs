//! Reading the introspection endpoint's answer: the JSON object of RFC 7662 §2.2, or the
//! signed JWT of RFC 9701 §5 that carries it, and what it says about the token.

use std::time::Duration;

use portcullis_core::{Algorithm, UnixTime};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::claims::is_supported_confirmation;
use crate::jws_type::is_jws_type;
use crate::verdict_cache::Verdict;
use crate::{IssuerKeys, TokenClaims, TokenError, UpstreamError, DEFAULT_CLOCK_SKEW};

/// The media type of a JWT introspection response (RFC 9701 §4, §5).
pub(crate) const JWT_RESPONSE_TYPE: &str = "application/token-introspection+jwt";

/// The introspection response object, `active` and the token's members.
pub(crate) type Response = Map<String, Value>;

fn malformed(context: &'static str) -> UpstreamError {
    UpstreamError::new(context)
}

/// Reads a JSON introspection response (RFC 7662 §2.2): one JSON object.
pub(crate) fn read_json(body: &[u8]) -> Result<Response, UpstreamError> {
    serde_json::from_slice(body)
        .map_err(|e| malformed("the introspection response is not a JSON object").with_source(e))
}

/// What a JWT introspection response must be for this resource server (RFC 9701 §5).
pub(crate) struct JwtRules<'a> {
    /// The authorization server's signing keys; its issuer is the response's `iss`.
    pub(crate) keys: &'a IssuerKeys,
    /// The algorithms it may sign with.
    pub(crate) algorithms: &'a [Algorithm],
    /// This resource server's client id: `aud`.
    pub(crate) client_id: &'a str,
    /// How old `iat` may be.
    pub(crate) max_age: Duration,
}

/// Reads a JWT introspection response (RFC 9701 §5): a JWS of type
/// `token-introspection+jwt` signed by one of the authorization server's keys, from its
/// issuer, for this client, issued within `max_age` (and not in the future beyond
/// [`DEFAULT_CLOCK_SKEW`]); the response is its `token_introspection` claim. A signature
/// that does not verify is the authorization server's fault (or an attacker's on the way),
/// never a verdict on the token.
pub(crate) async fn read_jwt(
    body: &[u8],
    rules: &JwtRules<'_>,
    now: UnixTime,
) -> Result<Response, UpstreamError> {
    #[derive(Deserialize)]
    struct Claims {
        iss: String,
        #[serde(deserialize_with = "crate::claims::one_or_many")]
        aud: Vec<String>,
        iat: UnixTime,
        token_introspection: Response,
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| malformed("the JWT introspection response is not text"))?;
    let jws = rules
        .keys
        .verify(text.trim(), rules.algorithms, now)
        .await
        .map_err(|e| match e {
            TokenError::Unavailable(e) => e,
            refused => {
                malformed("the JWT introspection response did not verify").with_source(refused)
            }
        })?;
    if !is_jws_type(jws.header.typ.as_deref(), JWT_RESPONSE_TYPE) {
        return Err(malformed(
            "the JWT introspection response has the wrong typ",
        ));
    }
    let claims: Claims = serde_json::from_slice(&jws.payload).map_err(|e| {
        malformed("the JWT introspection response's claims are malformed").with_source(e)
    })?;
    if claims.iss != rules.keys.issuer().as_str() {
        return Err(malformed(
            "the JWT introspection response is from another issuer",
        ));
    }
    if !claims.aud.iter().any(|a| a == rules.client_id) {
        return Err(malformed(
            "the JWT introspection response is for another client",
        ));
    }
    if claims.iat > now.plus(DEFAULT_CLOCK_SKEW) || claims.iat.plus(rules.max_age) < now {
        return Err(malformed("the JWT introspection response is not fresh"));
    }
    Ok(claims.token_introspection)
}

/// What a resource requires of an active token's members.
pub(crate) struct TokenRules<'a> {
    /// The authorization server's issuer: an `iss` the response carries must be it, and a
    /// missing one stands for it.
    pub(crate) issuer: &'a str,
    /// This resource's identifier, which an `aud` the response carries must include.
    pub(crate) resource: &'a str,
    /// Whether a token with no `aud` is refused.
    pub(crate) require_audience: bool,
}

/// The verdict a response gives on its token at `now` (RFC 7662 §2.2): `active: false`, a
/// token of another issuer or for another resource, one without `exp`, one whose
/// `token_type` is neither `Bearer` nor `DPoP`, expired or not yet valid are refused; an answer without a boolean `active`, or whose members are malformed,
/// is the authorization server's fault, not a verdict.
pub(crate) fn judge(
    mut response: Response,
    rules: &TokenRules<'_>,
    now: UnixTime,
) -> Result<Verdict, UpstreamError> {
    match response.remove("active") {
        Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => return Ok(Err("the token is not active")),
        _ => {
            return Err(malformed(
                "the introspection response has no boolean active",
            ))
        }
    }
    match response.get("iss") {
        None => {
            response.insert("iss".into(), rules.issuer.into());
        }
        Some(iss) if iss == rules.issuer => {}
        Some(_) => return Ok(Err("the token is from another issuer")),
    }
    if !response.contains_key("exp") {
        return Ok(Err("the token has no expiry"));
    }
    // RFC 7662 §2.2: `token_type` is an access token type (RFC 6749 §7.1); a refresh token,
    // or anything but the Bearer and DPoP tokens an API is presented, is not accepted.
    if let Some(token_type) = response.get("token_type") {
        let access = token_type
            .as_str()
            .is_some_and(|t| ["Bearer", "DPoP"].iter().any(|a| t.eq_ignore_ascii_case(a)));
        if !access {
            return Ok(Err("the token is not an access token"));
        }
    }
    // RFC 7800 §3: a token bound by a method this resource cannot check is no bearer token.
    if response
        .get("cnf")
        .is_some_and(|c| !is_supported_confirmation(c))
    {
        return Ok(Err(
            "the token is bound by a method this resource cannot check",
        ));
    }
    let claims: TokenClaims = serde_json::from_value(Value::Object(response)).map_err(|e| {
        malformed("the introspection response's members are malformed").with_source(e)
    })?;
    if claims.audience.is_empty() {
        if rules.require_audience {
            return Ok(Err("the token names no audience"));
        }
    } else if !claims.audience.iter().any(|a| a == rules.resource) {
        return Ok(Err("the token is not for this resource"));
    }
    if claims.expires_at <= now {
        return Ok(Err("the token has expired"));
    }
    if claims
        .not_before
        .is_some_and(|t| t > now.plus(DEFAULT_CLOCK_SKEW))
    {
        return Ok(Err("the token is not valid yet"));
    }
    Ok(Ok(claims))
}
