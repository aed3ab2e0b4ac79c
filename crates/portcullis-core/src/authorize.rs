//! The authorization endpoint (RFC 6749 §4.1.1–§4.1.2): request validation, the code
//! issued on approval, and error redirects.

use std::borrow::Cow;
use std::time::Duration;

use crate::authorization_details::AuthorizationDetail;
use crate::authorization_response::AuthorizationResponse;
use crate::client::{Client, GrantType, PkcePolicy};
use crate::error::{AuthorizeErrorCode, OAuthError};
use crate::ids::{FamilyId, GrantId};
use crate::issuer::Issuer;
use crate::oidc::{LoginRequest, OidcRequest, OidcSession};
use crate::params::Params;
use crate::pkce::{CodeChallenge, CodeChallengeMethod};
use crate::policy::Policy;
use crate::records::CodeRecord;
use crate::resources::requested_resources;
use crate::response_type::{ResponseDelivery, ResponseMode, ResponseType};
use crate::scope::{negotiate_scopes, ScopeError, ScopeSet};
use crate::secret::{RandomError, SecretToken};
use crate::time::UnixTime;
use crate::token_binding::Confirmation;
use ring::rand::SecureRandom;
use serde::{Deserialize, Serialize};

type AuthError = OAuthError<AuthorizeErrorCode>;

/// A validated authorization request. Its fields are private: only
/// [`validate_authorization_request`] (or unsealing a ticket the provider sealed) makes one,
/// so a host cannot forge or alter it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest(pub(crate) RequestFields);

/// The fields of an [`AuthorizationRequest`]; serializable only inside this crate, for
/// sealing into an interaction ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RequestFields {
    client_id: String,
    redirect_uri: String,
    redirect_uri_sent: bool,
    scopes: ScopeSet,
    state: Option<String>,
    code_challenge: Option<CodeChallenge>,
    oidc: Option<OidcRequest>,
    /// `max_age` and `acr_values` of a plain OAuth request (RFC 9470 §4); in OpenID mode
    /// they are in `oidc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    login: Option<LoginRequest>,
    resources: Vec<String>,
    #[serde(default)]
    dpop_jkt: Option<String>,
    #[serde(default)]
    delivery: ResponseDelivery,
    authorization_details: Vec<AuthorizationDetail>,
    /// `code` unless an implicit or hybrid type was enabled ([`response_type_allowed`]).
    #[serde(default)]
    response_type: ResponseType,
}

/// Why an authorization request was refused, and how the user agent must be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeRejection {
    /// The client or redirect URI cannot be trusted: show an error page (HTTP 400) and
    /// never redirect (RFC 6749 §4.1.2.1, RFC 9700 §4.11).
    ErrorPage(AuthError),
    /// Redirect to the client's validated redirect URI with the error.
    Redirect(ErrorRedirect),
}

/// An error response sent to a validated redirect URI (RFC 6749 §4.1.2.1, RFC 9207).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRedirect {
    /// The error.
    pub error: AuthError,
    /// The response to deliver: `error`, `error_description`, `state` and `iss`.
    pub response: AuthorizationResponse,
}

/// A code issued on approval.
#[derive(Debug)]
pub struct IssuedCode {
    /// The code itself (sent only in `response`).
    pub code: SecretToken,
    /// What to store.
    pub record: CodeRecord,
    /// The response to deliver: `code`, `state` and `iss`.
    pub response: AuthorizationResponse,
}

/// The longest value accepted for each authorization request parameter that travels
/// through the host's pages in the interaction ticket, in bytes after percent-decoding. A
/// longer one is `invalid_request` at once (RFC 6749 §4.1.2.1), before the user sees a page;
/// `claims` has its own bound (8 KiB). A request whose ticket would still exceed
/// [`crate::MAX_TICKET_LEN`] is refused the same way by the engine.
pub const AUTHORIZE_PARAMETER_LIMITS: &[(&str, usize)] = &[
    ("state", 2048),
    ("nonce", 512),
    ("login_hint", 512),
    ("id_token_hint", 4096),
    ("ui_locales", 256),
    ("acr_values", 512),
];

fn page(description: &'static str) -> AuthorizeRejection {
    AuthorizeRejection::ErrorPage(OAuthError::new(
        AuthorizeErrorCode::InvalidRequest,
        description,
    ))
}

/// Validates an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3).
///
/// `client` is what the store holds for the request's `client_id` (the caller looks it up
/// with [`Params::get`]). The client and redirect URI are checked first: until both are
/// trusted every error is an [`AuthorizeRejection::ErrorPage`]; after that errors are
/// redirected, in the requested `response_mode` once it is known to be supported and in the
/// client's default mode before ([`ResponseDelivery::default_for`]).
pub fn validate_authorization_request(
    params: &Params,
    client: Option<&Client>,
    issuer: &Issuer,
    policy: &Policy,
) -> Result<AuthorizationRequest, AuthorizeRejection> {
    validate_request(params, client, issuer, policy, Channel::Front)
}

/// How the parameters of an authorization request arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    /// Through the browser, to the authorization endpoint.
    Front,
    /// Pushed by the authenticated client (RFC 9126): at the PAR endpoint, or found by
    /// `request_uri` at the authorization endpoint.
    Pushed,
}

/// [`validate_authorization_request`] for parameters that arrived through `channel`.
pub(crate) fn validate_request(
    params: &Params,
    client: Option<&Client>,
    issuer: &Issuer,
    policy: &Policy,
    channel: Channel,
) -> Result<AuthorizationRequest, AuthorizeRejection> {
    let (client, redirect_uri, redirect_uri_sent) = trusted_redirect_uri(params, client)?;

    // From here on the redirect URI is trusted.
    let state = echoed_state(params);
    // An enabled implicit or hybrid type travels in the fragment by default, errors too
    // (OpenID Connect Core §3.2.2.5); any other is refused as before, in the query.
    let response_type = delivered_type(params, client, policy);
    let mut delivery = ResponseDelivery::default_for_type(response_type, client);
    let fail_in = |delivery: ResponseDelivery, code: AuthorizeErrorCode, description: String| {
        AuthorizeRejection::Redirect(error_redirect(
            Target {
                client_id: &client.id,
                redirect_uri: &redirect_uri,
                delivery,
            },
            OAuthError::new(code, description),
            state.as_deref(),
            issuer,
        ))
    };

    // RFC 9126 §5, §6: where pushing is required, a request that was not pushed is refused.
    // FAPI 2.0 §5.3.2.2: its clients push every request.
    let push_required = policy.pushed_authorization_requests.required
        || client.requests.require_pushed_authorization_requests
        || client.profile.is_fapi2()
        || policy.profile.is_fapi2();
    if push_required && channel == Channel::Front {
        return Err(fail_in(
            delivery,
            AuthorizeErrorCode::InvalidRequest,
            "this authorization request must be pushed first (RFC 9126)".into(),
        ));
    }
    if let Some(name) = params.first_repeated() {
        return Err(fail_in(
            delivery,
            AuthorizeErrorCode::InvalidRequest,
            format!("{name} was sent more than once"),
        ));
    }
    // An unsupported mode is refused in the default one (JARM §2.3, Multiple Response Type
    // Encoding Practices §2.1); every later error travels in the requested one.
    if let Some(mode) = params.get("response_mode") {
        match ResponseMode::parse(mode) {
            Some(mode) if mode.allowed_for(response_type) => {
                delivery = ResponseDelivery::for_response(mode, response_type, client)
            }
            Some(_) => {
                return Err(fail_in(
                    delivery,
                    AuthorizeErrorCode::InvalidRequest,
                    "tokens never travel in the query: use fragment or form_post \
                     (OAuth 2.0 Multiple Response Type Encoding Practices §2.1)"
                        .into(),
                ))
            }
            None => {
                return Err(fail_in(
                    delivery,
                    AuthorizeErrorCode::InvalidRequest,
                    "response_mode is not supported".into(),
                ))
            }
        }
    }
    let fail = |code: AuthorizeErrorCode, description: String| fail_in(delivery, code, description);
    for (name, limit) in AUTHORIZE_PARAMETER_LIMITS {
        if params.get(name).is_some_and(|v| v.len() > *limit) {
            return Err(fail(
                AuthorizeErrorCode::InvalidRequest,
                format!("{name} is longer than {limit} bytes"),
            ));
        }
    }
    if params.contains("request") {
        return Err(fail(
            AuthorizeErrorCode::RequestNotSupported,
            "request objects are not supported".into(),
        ));
    }
    if params.contains("request_uri") {
        return Err(fail(
            AuthorizeErrorCode::RequestUriNotSupported,
            "request_uri is not supported".into(),
        ));
    }
    match params
        .get("response_type")
        .map(|v| ResponseType::parse(v).map(|t| response_type_allowed(t, client, policy)))
    {
        None => {
            return Err(fail(
                AuthorizeErrorCode::InvalidRequest,
                "response_type is missing".into(),
            ))
        }
        Some(Some(Ok(()))) => {}
        Some(Some(Err(AuthorizeErrorCode::UnauthorizedClient))) => {
            return Err(fail(
                AuthorizeErrorCode::UnauthorizedClient,
                "the client did not register this response_type".into(),
            ))
        }
        Some(_) => {
            return Err(fail(
                AuthorizeErrorCode::UnsupportedResponseType,
                "only response_type=code is supported".into(),
            ))
        }
    }
    if response_type.has_code() && !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(fail(
            AuthorizeErrorCode::UnauthorizedClient,
            "client may not use the authorization code grant".into(),
        ));
    }
    let requested = match params.get("scope").map(ScopeSet::parse).transpose() {
        Ok(s) => s,
        Err(_) => {
            return Err(fail(
                AuthorizeErrorCode::InvalidScope,
                "scope is malformed".into(),
            ))
        }
    };
    let scopes = match negotiate_scopes(
        requested.as_ref(),
        &client.allowed_scopes,
        &client.default_scopes,
    ) {
        Ok(s) => s,
        Err(ScopeError::NotAllowed(s)) => {
            return Err(fail(
                AuthorizeErrorCode::InvalidScope,
                format!("scope not allowed: {s}"),
            ))
        }
        Err(ScopeError::Malformed) => {
            return Err(fail(
                AuthorizeErrorCode::InvalidScope,
                "scope is malformed".into(),
            ))
        }
    };
    // PKCE protects a code (RFC 7636): a response without one has nothing to bind.
    let challenge = match response_type.has_code() {
        true => pkce_challenge(params, client, policy),
        false => Ok(None),
    };
    let code_challenge = match challenge {
        Ok(c) => c,
        Err(description) => {
            return Err(fail(AuthorizeErrorCode::InvalidRequest, description.into()))
        }
    };

    let dpop_jkt = match params.get("dpop_jkt").map(dpop_jkt).transpose() {
        Ok(j) => j,
        Err(description) => {
            return Err(fail(AuthorizeErrorCode::InvalidRequest, description.into()))
        }
    };
    let resources = match requested_resources(params, &policy.resources, &client.id) {
        Ok(r) => r,
        Err(e) => return Err(fail(AuthorizeErrorCode::InvalidTarget, e.to_string())),
    };
    // RFC 9396 §5: refused as `invalid_authorization_details`, redirected.
    let authorization_details = match params.get("authorization_details").map(|json| {
        let types = client.tokens.authorization_details_types.as_ref();
        policy.authorization_details.parse(json, types)
    }) {
        None => Vec::new(),
        Some(Ok(details)) => details,
        Some(Err(e)) => {
            return Err(fail(
                AuthorizeErrorCode::InvalidAuthorizationDetails,
                e.to_string(),
            ))
        }
    };
    let oidc = if scopes.contains("openid") {
        match OidcRequest::parse(params) {
            Ok(o) => Some(o),
            Err(description) => {
                return Err(fail(AuthorizeErrorCode::InvalidRequest, description.into()))
            }
        }
    } else {
        None
    };
    if let Err(description) = front_channel_tokens_allowed(response_type, oidc.as_ref()) {
        return Err(fail(AuthorizeErrorCode::InvalidRequest, description.into()));
    }
    if response_type.has_access_token()
        && !front_channel_binding_possible(client, dpop_jkt.as_deref())
    {
        return Err(fail(
            AuthorizeErrorCode::InvalidRequest,
            "this client's access tokens are sender-constrained: they cannot come from the \
             authorization endpoint without dpop_jkt"
                .into(),
        ));
    }
    // RFC 9470 §4: a plain OAuth request may ask for a login as OpenID Connect defines it.
    let login = match oidc.is_none().then(|| LoginRequest::parse(params)) {
        Some(Ok(l)) => (!l.is_empty()).then_some(l),
        Some(Err(description)) => {
            return Err(fail(AuthorizeErrorCode::InvalidRequest, description.into()))
        }
        None => None,
    };

    Ok(AuthorizationRequest(RequestFields {
        client_id: client.id.clone(),
        redirect_uri,
        redirect_uri_sent,
        scopes,
        state,
        code_challenge,
        oidc,
        login,
        resources,
        dpop_jkt,
        delivery,
        authorization_details,
        response_type,
    }))
}

/// Whether `client` may use `response_type`: `code` always (its grant is checked next);
/// an implicit or hybrid type only under [`Policy::allows_implicit`] (else
/// `unsupported_response_type`, exactly as a type this server does not know) and when the
/// client registered it and is not held to FAPI 2.0 (else `unauthorized_client`, RFC 6749
/// §4.1.2.1).
pub(crate) fn response_type_allowed(
    response_type: ResponseType,
    client: &Client,
    policy: &Policy,
) -> Result<(), AuthorizeErrorCode> {
    if response_type == ResponseType::Code {
        Ok(())
    } else if !policy.allows_implicit() {
        Err(AuthorizeErrorCode::UnsupportedResponseType)
    } else if client.profile.is_fapi2() || !client.requests.response_types.contains(&response_type)
    {
        Err(AuthorizeErrorCode::UnauthorizedClient)
    } else {
        Ok(())
    }
}

/// An ID token from the authorization endpoint needs OpenID mode and a `nonce` to bind it
/// to the client's session (OpenID Connect Core §3.2.2.1, §3.3.2.11): else
/// `invalid_request`.
fn front_channel_tokens_allowed(
    response_type: ResponseType,
    oidc: Option<&OidcRequest>,
) -> Result<(), &'static str> {
    if !response_type.has_id_token() {
        return Ok(());
    }
    match oidc {
        None => Err("response_type id_token needs scope openid"),
        Some(o) if o.nonce.is_none() => Err(
            "nonce is required when an ID token comes from the authorization endpoint \
             (OpenID Connect Core §3.2.2.1)",
        ),
        Some(_) => Ok(()),
    }
}

/// Whether an access token from the authorization endpoint can be what the client's tokens
/// must be: a bearer token when the client does not require binding, a DPoP-bound one when
/// the request named the key (`dpop_jkt`, RFC 9449 §10); never certificate-bound (RFC 8705
/// §3: the browser presents no client certificate).
fn front_channel_binding_possible(client: &Client, dpop_jkt: Option<&str>) -> bool {
    let tokens = &client.tokens;
    !tokens.tls_client_certificate_bound_access_tokens
        && (!tokens.dpop_bound_access_tokens || dpop_jkt.is_some())
}

/// The client and redirect URI of a request, once both are trusted (RFC 6749 §4.1.2.1):
/// until then every error is a page. Also says whether `redirect_uri` was sent.
fn trusted_redirect_uri<'c>(
    params: &Params,
    client: Option<&'c Client>,
) -> Result<(&'c Client, String, bool), AuthorizeRejection> {
    if params.is_repeated("client_id") {
        return Err(page("client_id was sent more than once"));
    }
    let Some(client_id) = params.get("client_id") else {
        return Err(page("client_id is missing"));
    };
    let client = match client {
        Some(c) if c.id == client_id => c,
        _ => return Err(page("unknown client")),
    };
    if params.is_repeated("redirect_uri") {
        return Err(page("redirect_uri was sent more than once"));
    }
    // OpenID Connect Core §3.1.2.1: redirect_uri is required in OpenID requests.
    let openid = params
        .get("scope")
        .is_some_and(|s| s.split(' ').any(|t| t == "openid"));
    match params.get("redirect_uri") {
        Some(requested) => match client.find_redirect_uri(requested) {
            Some(_) => Ok((client, requested.to_owned(), true)),
            None => Err(page("redirect_uri is not registered for this client")),
        },
        // RFC 6749 §3.1.2.3: may be omitted only when exactly one URI is registered.
        None => match client.redirect_uris.as_slice() {
            [only] if !openid => Ok((client, only.as_str().to_owned(), false)),
            _ => Err(page("redirect_uri is required")),
        },
    }
}

/// `state`, echoed even on errors; a repeated `state` is itself the error and is not echoed.
fn echoed_state(params: &Params) -> Option<String> {
    (!params.is_repeated("state"))
        .then(|| params.get("state").map(str::to_owned))
        .flatten()
}

/// The response type whose delivery a request's responses, errors included, follow: its
/// `response_type` when `client` may use it, else `code`'s (a refused type's error travels
/// as before, in the query).
fn delivered_type(params: &Params, client: &Client, policy: &Policy) -> ResponseType {
    params
        .get("response_type")
        .and_then(ResponseType::parse)
        .filter(|t| response_type_allowed(*t, client, policy).is_ok())
        .unwrap_or_default()
}

/// Refuses the authorization request `params` of `client` with `error`: redirected when its
/// client and redirect URI are trusted, else on an error page. For errors found outside
/// [`validate_authorization_request`], e.g. in a verified request object (RFC 9101 §6.1).
/// The redirect travels as [`validate_authorization_request`] would send it: in the
/// requested `response_mode` when it suits the response type, else in the type's default
/// mode — the fragment for an enabled implicit or hybrid type (OpenID Connect Core
/// §3.2.2.6, §3.3.2.6; Multiple Response Type Encoding Practices §5), never the query.
pub fn reject_authorization_request(
    params: &Params,
    client: Option<&Client>,
    issuer: &Issuer,
    policy: &Policy,
    error: AuthError,
) -> AuthorizeRejection {
    match trusted_redirect_uri(params, client) {
        Ok((client, redirect_uri, _)) => AuthorizeRejection::Redirect(error_redirect(
            Target {
                client_id: &client.id,
                redirect_uri: &redirect_uri,
                delivery: {
                    let t = delivered_type(params, client, policy);
                    match params.get("response_mode").and_then(ResponseMode::parse) {
                        Some(mode) if mode.allowed_for(t) => {
                            ResponseDelivery::for_response(mode, t, client)
                        }
                        _ => ResponseDelivery::default_for_type(t, client),
                    }
                },
            },
            error,
            echoed_state(params).as_deref(),
            issuer,
        )),
        Err(_) => AuthorizeRejection::ErrorPage(error),
    }
}

/// `dpop_jkt` (RFC 9449 §10): the SHA-256 JWK thumbprint the code is to be bound to, 43
/// base64url characters (RFC 7638 §3).
fn dpop_jkt(value: &str) -> Result<String, &'static str> {
    let well_formed = value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if well_formed {
        Ok(value.to_owned())
    } else {
        Err("dpop_jkt is malformed")
    }
}

/// RFC 7636 §4.4.1: a missing challenge where one is required, or an unsupported
/// transformation, is `invalid_request`.
fn pkce_challenge(
    params: &Params,
    client: &Client,
    policy: &Policy,
) -> Result<Option<CodeChallenge>, &'static str> {
    let Some(value) = params.get("code_challenge") else {
        if params.contains("code_challenge_method") {
            return Err("code_challenge_method without code_challenge");
        }
        return match (client.is_public(), client.pkce) {
            (false, PkcePolicy::DangerousOptional) if !client.profile.is_fapi2() => Ok(None),
            _ => Err("code_challenge is required (PKCE, S256)"),
        };
    };
    let method = CodeChallengeMethod::parse(params.get("code_challenge_method"))
        .ok_or("code_challenge_method is not supported")?;
    if !policy.allows_challenge_method(method) || !client.profile.allows_challenge_method(method) {
        return Err("code_challenge_method must be S256");
    }
    CodeChallenge::new(method, value)
        .map(Some)
        .ok_or("code_challenge is malformed")
}

/// Where a response goes and how.
#[derive(Clone, Copy)]
struct Target<'a> {
    client_id: &'a str,
    redirect_uri: &'a str,
    delivery: ResponseDelivery,
}

fn error_redirect(
    to: Target<'_>,
    error: AuthError,
    state: Option<&str>,
    issuer: &Issuer,
) -> ErrorRedirect {
    let mut params = vec![
        ("error", error.code.as_str().to_owned()),
        ("error_description", error.description.to_string()),
    ];
    if let Some(s) = state {
        params.push(("state", s.to_owned()));
    }
    params.push(("iss", issuer.as_str().to_owned()));
    let response = AuthorizationResponse::new(to.client_id, to.redirect_uri, to.delivery, params);
    ErrorRedirect { error, response }
}

impl AuthorizationRequest {
    /// The client.
    pub fn client_id(&self) -> &str {
        &self.0.client_id
    }

    /// The scopes asked for (after defaults), to show on the consent page.
    pub fn scopes(&self) -> &ScopeSet {
        &self.0.scopes
    }

    /// The redirect URI the response will go to.
    pub fn redirect_uri(&self) -> &str {
        &self.0.redirect_uri
    }

    /// The resources asked for (RFC 8707), to show on the consent page.
    pub fn resources(&self) -> &[String] {
        &self.0.resources
    }

    /// The OpenID Connect parameters, when the request is in OpenID mode.
    pub fn oidc(&self) -> Option<&OidcRequest> {
        self.0.oidc.as_ref()
    }

    /// The DPoP key the code is to be bound to (`dpop_jkt`, RFC 9449 §10).
    pub(crate) fn dpop_jkt(&self) -> Option<&str> {
        self.0.dpop_jkt.as_deref()
    }

    /// The authorization details asked for (RFC 9396 §2), validated, to show on the consent
    /// page; empty when none.
    pub fn authorization_details(&self) -> &[AuthorizationDetail] {
        &self.0.authorization_details
    }

    /// The login the request asks for: its OpenID Connect parameters in OpenID mode, else
    /// the `max_age` and `acr_values` of a plain OAuth request (RFC 9470 §4) as OpenID
    /// Connect parameters with nothing else; `None` when a plain request asks for neither.
    pub fn login_request(&self) -> Option<Cow<'_, OidcRequest>> {
        match (&self.0.oidc, &self.0.login) {
            (Some(o), _) => Some(Cow::Borrowed(o)),
            (None, Some(l)) => Some(Cow::Owned(l.into())),
            (None, None) => None,
        }
    }

    /// `max_age`, in either mode: the user's authentication must be at most this old.
    pub fn max_age(&self) -> Option<u64> {
        match (&self.0.oidc, &self.0.login) {
            (Some(o), _) => o.max_age,
            (None, l) => l.as_ref().and_then(|l| l.max_age),
        }
    }

    /// `acr_values`, in either mode, in the client's order.
    pub fn acr_values(&self) -> &[String] {
        match (&self.0.oidc, &self.0.login) {
            (Some(o), _) => &o.acr_values,
            (None, Some(l)) => &l.acr_values,
            (None, None) => &[],
        }
    }

    /// The scopes granted when the user consented to `consented`: the intersection, so the
    /// host can narrow but never widen the request.
    pub fn granted_scopes(&self, consented: &ScopeSet) -> ScopeSet {
        self.0.scopes.intersection(consented)
    }

    /// An error redirect for this request (`access_denied` when the user or host refuses,
    /// `temporarily_unavailable` when the store fails).
    pub fn error_redirect(&self, error: AuthError, issuer: &Issuer) -> ErrorRedirect {
        error_redirect(self.target(), error, self.0.state.as_deref(), issuer)
    }

    /// How the response will be delivered (the request's `response_mode`, or the client's
    /// default).
    pub fn delivery(&self) -> ResponseDelivery {
        self.0.delivery
    }

    fn target(&self) -> Target<'_> {
        Target {
            client_id: &self.0.client_id,
            redirect_uri: &self.0.redirect_uri,
            delivery: self.0.delivery,
        }
    }

    /// Issues the authorization code for an approved request (RFC 6749 §4.1.2): 256 random
    /// bits, single use, bound to the client, redirect URI, PKCE challenge, scopes and
    /// subject. The response carries `iss` (RFC 9207).
    pub fn issue_code(
        &self,
        approval: &CodeApproval<'_>,
        issuer: &Issuer,
        now: UnixTime,
        lifetime: Duration,
        rng: &dyn SecureRandom,
    ) -> Result<IssuedCode, RandomError> {
        let code = SecretToken::generate(rng)?;
        let family_id = FamilyId::generate(rng)?;
        let record = CodeRecord {
            hash: code.hash(),
            issuer: issuer.clone(),
            client_id: self.0.client_id.clone(),
            redirect_uri: self
                .0
                .redirect_uri_sent
                .then(|| self.0.redirect_uri.clone()),
            code_challenge: self.0.code_challenge.clone(),
            scopes: approval.scopes.clone(),
            resources: self.0.resources.clone(),
            subject: approval.subject.to_owned(),
            auth_time: approval.auth_time,
            acr: approval.acr.map(str::to_owned),
            amr: approval.amr.map(<[String]>::to_vec),
            grant_id: approval.grant_id.clone(),
            family_id,
            oidc: approval.oidc.clone(),
            dpop_jkt: self.0.dpop_jkt.clone(),
            authorization_details: approval.authorization_details.to_vec(),
            issued_at: now,
            expires_at: now.plus(lifetime),
        };
        let response = self.success_response(vec![("code", code.expose().to_owned())], issuer);
        Ok(IssuedCode {
            code,
            record,
            response,
        })
    }
}

impl AuthorizationRequest {
    /// What an access token from the authorization endpoint is bound to: the key named by
    /// `dpop_jkt` (RFC 9449 §10 binds a code to it; the token is bound the same way, so its
    /// holder must prove the key), else nothing — a bearer token, since the browser cannot
    /// prove a key nor a client certificate.
    pub fn front_channel_confirmation(&self) -> Option<Confirmation> {
        self.0.dpop_jkt.as_ref().map(|jkt| Confirmation {
            jkt: Some(jkt.clone()),
            x5t_s256: None,
        })
    }

    /// The response type: `code`, or an implicit or hybrid one the policy and the client
    /// allowed.
    pub fn response_type(&self) -> ResponseType {
        self.0.response_type
    }

    /// The response of an implicit or hybrid flow (OpenID Connect Core §3.2.2.5,
    /// §3.3.2.5; RFC 6749 §4.2.2): `code` when the type has one, the access token with
    /// `token_type`, `expires_in` and `scope`, the ID token, then `state` and `iss`. `scope`
    /// is sent only when it differs from the request's (§4.2.2). Never a refresh token
    /// (§4.2.2: "MUST NOT issue a refresh token").
    pub fn tokens_response(
        &self,
        code: Option<&str>,
        tokens: &FrontChannelTokens<'_>,
        issuer: &Issuer,
    ) -> AuthorizationResponse {
        let mut params = Vec::new();
        if let Some(c) = code {
            params.push(("code", c.to_owned()));
        }
        if let Some(t) = &tokens.access_token {
            params.push(("access_token", t.token.to_owned()));
            params.push(("token_type", t.token_type.to_owned()));
            params.push(("expires_in", t.expires_in.to_string()));
            if t.scope != &self.0.scopes {
                params.push(("scope", t.scope.to_string()));
            }
        }
        if let Some(id_token) = tokens.id_token {
            params.push(("id_token", id_token.to_owned()));
        }
        self.success_response(params, issuer)
    }

    /// `params`, then `state` and `iss` (RFC 9207), to the redirect URI in the request's
    /// mode.
    fn success_response(
        &self,
        mut params: Vec<(&'static str, String)>,
        issuer: &Issuer,
    ) -> AuthorizationResponse {
        if let Some(s) = &self.0.state {
            params.push(("state", s.clone()));
        }
        params.push(("iss", issuer.as_str().to_owned()));
        let to = self.target();
        AuthorizationResponse::new(to.client_id, to.redirect_uri, to.delivery, params)
    }
}

/// The tokens an implicit or hybrid flow returns from the authorization endpoint.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrontChannelTokens<'a> {
    /// The access token, for a type with `token`.
    pub access_token: Option<FrontChannelAccessToken<'a>>,
    /// The signed ID token, for a type with `id_token`.
    pub id_token: Option<&'a str>,
}

/// An access token returned from the authorization endpoint (RFC 6749 §4.2.2).
#[derive(Clone, Copy)]
pub struct FrontChannelAccessToken<'a> {
    /// The token.
    pub token: &'a str,
    /// `Bearer`, or `DPoP` when bound by `dpop_jkt`.
    pub token_type: &'a str,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// Its scopes.
    pub scope: &'a ScopeSet,
}

impl std::fmt::Debug for FrontChannelAccessToken<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontChannelAccessToken")
            .field("token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

/// What the engine decided when the host approved a request.
#[derive(Debug, Clone)]
pub struct CodeApproval<'a> {
    /// The authenticated subject.
    pub subject: &'a str,
    /// When the subject authenticated.
    pub auth_time: UnixTime,
    /// The authentication context class reached (`acr`), in either mode.
    pub acr: Option<&'a str>,
    /// The authentication methods used (`amr`, RFC 8176), in either mode.
    pub amr: Option<&'a [String]>,
    /// Granted scopes ([`AuthorizationRequest::granted_scopes`]).
    pub scopes: &'a ScopeSet,
    /// The grant the code belongs to.
    pub grant_id: &'a GrantId,
    /// The OpenID Connect session, in OpenID mode.
    pub oidc: Option<OidcSession>,
    /// The authorization details approved (RFC 9396): some of those asked for, see
    /// [`crate::AuthorizationDetailsTypes::approved`].
    pub authorization_details: &'a [AuthorizationDetail],
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientKind;
    use crate::jose::Algorithm;
    use crate::redirect_uri::RedirectUri;
    use crate::response_type::ResponseTransport;
    use std::collections::BTreeSet;
    use url::Url;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn issuer() -> Issuer {
        Issuer::parse("https://as.example").unwrap()
    }

    fn client(uris: &[&str]) -> Client {
        Client {
            id: "app".into(),
            kind: ClientKind::Public,
            redirect_uris: uris
                .iter()
                .map(|u| RedirectUri::parse(u).unwrap())
                .collect(),
            allowed_scopes: ScopeSet::parse("read write").unwrap(),
            default_scopes: ScopeSet::parse("read").unwrap(),
            grant_types: BTreeSet::from([GrantType::AuthorizationCode]),
            pkce: PkcePolicy::Required,
            expires_at: None,
            oidc: Default::default(),
            first_party: false,
            dangerous_skip_consent_for_unverifiable_redirects: false,
            request_objects: Default::default(),
            registration: None,
            profile: Default::default(),
            tokens: Default::default(),
            requests: Default::default(),
        }
    }

    fn validate(query: &str, c: &Client) -> Result<AuthorizationRequest, AuthorizeRejection> {
        let params = Params::parse(query.as_bytes()).unwrap();
        validate_authorization_request(&params, Some(c), &issuer(), &Policy::default())
    }

    fn good(extra: &str) -> String {
        format!(
            "response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=xyz&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}"
        )
    }

    fn redirected(
        r: Result<AuthorizationRequest, AuthorizeRejection>,
    ) -> (AuthorizeErrorCode, Url) {
        match r {
            Err(AuthorizeRejection::Redirect(e)) => (
                e.error.code,
                Url::parse(&e.response.plain_location().unwrap()).unwrap(),
            ),
            other => panic!("expected a redirect, got {other:?}"),
        }
    }

    fn query(url: &Url, name: &str) -> Option<String> {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    #[test]
    fn valid_request_with_default_scope() {
        let c = client(&["https://app.example/cb"]);
        let req = validate(&good(""), &c).unwrap();
        assert_eq!(req.client_id(), "app");
        assert!(validate(&good("&response_mode=query"), &c).is_ok());
        let (code, _) = redirected(validate(&good("&response_mode=web_message"), &c));
        assert_eq!(code, AuthorizeErrorCode::InvalidRequest);
        assert_eq!(req.scopes().to_string(), "read");
        assert_eq!(req.redirect_uri(), "https://app.example/cb");
    }

    #[test]
    fn untrusted_client_or_redirect_gives_an_error_page() {
        let c = client(&["https://app.example/cb", "https://app.example/cb2"]);
        let cases = [
            "response_type=code".to_owned(),
            "client_id=app&client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb".into(),
            "client_id=other&redirect_uri=https%3A%2F%2Fapp.example%2Fcb".into(),
            "client_id=app&redirect_uri=https%3A%2F%2Fevil.example%2Fcb".into(),
            "client_id=app".into(),
            "client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&redirect_uri=https%3A%2F%2Fapp.example%2Fcb".into(),
        ];
        for q in cases {
            match validate(&q, &c) {
                Err(AuthorizeRejection::ErrorPage(e)) => {
                    assert_eq!(e.code, AuthorizeErrorCode::InvalidRequest, "{q}")
                }
                other => panic!("{q}: {other:?}"),
            }
        }
    }

    /// Values that could not travel in the ticket are refused before any page.
    #[test]
    fn oversized_parameters_are_invalid_request_up_front() {
        let c = client(&["https://app.example/cb"]);
        for (name, limit) in AUTHORIZE_PARAMETER_LIMITS {
            let scope = if *name == "state" {
                ""
            } else {
                "&scope=openid"
            };
            let c = Client {
                allowed_scopes: ScopeSet::parse("read openid").unwrap(),
                ..c.clone()
            };
            let at_limit =
                good(&format!("{scope}&{name}={}", "a".repeat(*limit))).replace("state=xyz&", "");
            assert!(validate(&at_limit, &c).is_ok(), "{name} at its limit");
            let over = good(&format!("{scope}&{name}={}", "a".repeat(limit + 1)))
                .replace("state=xyz&", "");
            let (code, url) = redirected(validate(&over, &c));
            assert_eq!(code, AuthorizeErrorCode::InvalidRequest, "{name}");
            assert!(query(&url, "code").is_none());
            assert_eq!(
                query(&url, "error_description").unwrap(),
                format!("{name} is longer than {limit} bytes")
            );
        }
    }

    #[test]
    fn redirect_uri_may_be_omitted_with_a_single_registration() {
        let c = client(&["https://app.example/cb"]);
        let q = format!("response_type=code&client_id=app&code_challenge={CHALLENGE}&code_challenge_method=S256");
        assert!(validate(&q, &c).is_ok());
        // OpenID Connect Core §3.1.2.1: not in an OpenID request.
        let c = Client {
            allowed_scopes: ScopeSet::parse("read openid").unwrap(),
            ..c
        };
        match validate(&format!("{q}&scope=openid"), &c) {
            Err(AuthorizeRejection::ErrorPage(e)) => {
                assert_eq!(e.code, AuthorizeErrorCode::InvalidRequest)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_after_the_redirect_is_trusted_are_redirected_with_state_and_iss() {
        let c = client(&["https://app.example/cb"]);
        let cases = [
            (
                good("&scope=read&scope=write"),
                AuthorizeErrorCode::InvalidRequest,
            ),
            (
                good("").replace("response_type=code&", ""),
                AuthorizeErrorCode::InvalidRequest,
            ),
            (
                good("").replace("response_type=code", "response_type=token"),
                AuthorizeErrorCode::UnsupportedResponseType,
            ),
            (good("&scope=admin"), AuthorizeErrorCode::InvalidScope),
            (good("&scope=a%22b"), AuthorizeErrorCode::InvalidScope),
            (
                good("").replace(
                    &format!("code_challenge={CHALLENGE}&code_challenge_method=S256"),
                    "x=1",
                ),
                AuthorizeErrorCode::InvalidRequest,
            ),
            (
                good("").replace("S256", "plain"),
                AuthorizeErrorCode::InvalidRequest,
            ),
            (
                good("").replace("S256", "S512"),
                AuthorizeErrorCode::InvalidRequest,
            ),
            (
                good("").replace(CHALLENGE, "short"),
                AuthorizeErrorCode::InvalidRequest,
            ),
        ];
        for (q, code) in cases {
            let (got, url) = redirected(validate(&q, &c));
            assert_eq!(got, code, "{q}");
            assert_eq!(
                url.as_str().split('?').next(),
                Some("https://app.example/cb")
            );
            assert_eq!(query(&url, "error").as_deref(), Some(code.as_str()));
            assert_eq!(query(&url, "state").as_deref(), Some("xyz"));
            assert_eq!(query(&url, "iss").as_deref(), Some("https://as.example"));
            assert!(query(&url, "error_description").is_some());
        }
    }

    #[test]
    fn client_without_code_grant_is_unauthorized() {
        let mut c = client(&["https://app.example/cb"]);
        c.grant_types = BTreeSet::from([GrantType::RefreshToken]);
        assert_eq!(
            redirected(validate(&good(""), &c)).0,
            AuthorizeErrorCode::UnauthorizedClient
        );
    }

    #[test]
    fn pkce_policy() {
        let mut c = client(&["https://app.example/cb"]);
        let no_pkce = "response_type=code&client_id=app";
        assert_eq!(
            redirected(validate(no_pkce, &c)).0,
            AuthorizeErrorCode::InvalidRequest
        );
        c.kind = ClientKind::confidential(
            crate::ClientSecretHash::sha256_of_generated(&"s".repeat(43)).unwrap(),
        );
        assert_eq!(
            redirected(validate(no_pkce, &c)).0,
            AuthorizeErrorCode::InvalidRequest
        );
        c.pkce = PkcePolicy::DangerousOptional;
        assert!(validate(no_pkce, &c).is_ok());

        let plain = format!(
            "response_type=code&client_id=app&code_challenge={}&code_challenge_method=plain",
            "a".repeat(43)
        );
        let params = Params::parse(plain.as_bytes()).unwrap();
        let policy = Policy {
            dangerous_allow_plain_pkce: true,
            ..Policy::default()
        };
        assert!(validate_authorization_request(&params, Some(&c), &issuer(), &policy).is_ok());
        // FAPI 2.0 §5.3.2.2: neither plain nor optional PKCE for a FAPI client (whose
        // requests are pushed).
        c.profile = crate::SecurityProfile::Fapi2;
        let pushed = |params: &Params, policy: &Policy| {
            validate_request(params, Some(&c), &issuer(), policy, Channel::Pushed)
        };
        assert!(pushed(&params, &policy).is_err());
        let no_pkce = Params::parse(no_pkce.as_bytes()).unwrap();
        assert!(pushed(&no_pkce, &Policy::default()).is_err());
        let good = Params::parse(good("").as_bytes()).unwrap();
        assert!(pushed(&good, &Policy::default()).is_ok());
    }

    /// Request objects are not supported (OpenID Connect Core §6.1, §6.2): `request` and
    /// `request_uri` are refused with their own codes rather than ignored; a
    /// `code_challenge_method` without a `code_challenge` is refused even where PKCE is optional
    /// (RFC 7636 §4.4.1).
    #[test]
    fn request_objects_and_a_lone_challenge_method_are_refused() {
        let mut c = client(&["https://app.example/cb"]);
        for (extra, code) in [
            (
                "&request=eyJhbGciOiJub25lIn0.e30.",
                AuthorizeErrorCode::RequestNotSupported,
            ),
            (
                "&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax",
                AuthorizeErrorCode::RequestUriNotSupported,
            ),
        ] {
            let (got, url) = redirected(validate(&good(extra), &c));
            assert_eq!(got, code, "{extra}");
            assert_eq!(query(&url, "error").as_deref(), Some(code.as_str()));
            assert_eq!(query(&url, "state").as_deref(), Some("xyz"));
        }
        // Sent without a value, they count as omitted (RFC 6749 §3.1).
        assert!(validate(&good("&request=&request_uri="), &c).is_ok());

        c.kind = ClientKind::confidential(
            crate::ClientSecretHash::sha256_of_generated(&"s".repeat(43)).unwrap(),
        );
        c.pkce = PkcePolicy::DangerousOptional;
        assert!(validate("response_type=code&client_id=app", &c).is_ok());
        let lone = "response_type=code&client_id=app&code_challenge_method=S256";
        match validate(lone, &c) {
            Err(AuthorizeRejection::Redirect(e)) => {
                assert_eq!(e.error.code, AuthorizeErrorCode::InvalidRequest);
                assert_eq!(
                    e.error.description,
                    "code_challenge_method without code_challenge"
                );
            }
            other => panic!("expected a redirect, got {other:?}"),
        }
    }

    #[test]
    fn issued_code_is_bound_and_redirected_with_state_and_iss() {
        let c = client(&["http://127.0.0.1/cb"]);
        let q = format!("response_type=code&client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A4567%2Fcb&state=s1&scope=read+write&code_challenge={CHALLENGE}&code_challenge_method=S256");
        let req = validate(&q, &c).unwrap();
        let consented = ScopeSet::parse("write delete").unwrap();
        let granted = req.granted_scopes(&consented);
        assert_eq!(granted.to_string(), "write");
        let rng = ring::rand::SystemRandom::new();
        let grant_id = GrantId::generate(&rng).unwrap();
        let amr = vec!["pwd".to_owned(), "otp".to_owned()];
        let approval = CodeApproval {
            subject: "alice",
            auth_time: UnixTime::from_secs(90),
            acr: Some("urn:example:mfa"),
            amr: Some(&amr),
            scopes: &granted,
            grant_id: &grant_id,
            oidc: None,
            authorization_details: &[],
        };
        let issued = req
            .issue_code(
                &approval,
                &issuer(),
                UnixTime::from_secs(100),
                Duration::from_secs(60),
                &rng,
            )
            .unwrap();
        let location = issued.response.plain_location().unwrap();
        let url = Url::parse(&location).unwrap();
        assert!(location.starts_with("http://127.0.0.1:4567/cb?"));
        assert_eq!(query(&url, "code").as_deref(), Some(issued.code.expose()));
        assert_eq!(query(&url, "state").as_deref(), Some("s1"));
        assert_eq!(query(&url, "iss").as_deref(), Some("https://as.example"));
        assert_eq!(issued.record.hash, issued.code.hash());
        assert_eq!(
            issued.record.redirect_uri.as_deref(),
            Some("http://127.0.0.1:4567/cb")
        );
        assert_eq!(issued.record.expires_at, UnixTime::from_secs(160));
        assert_eq!(issued.record.subject, "alice");
        // The login's acr and amr, without OpenID Connect too (RFC 9470 §6).
        assert_eq!(issued.record.acr.as_deref(), Some("urn:example:mfa"));
        assert_eq!(issued.record.amr, Some(amr));
        assert_eq!(issued.record.oidc, None);
    }

    /// RFC 9470 §4: a plain OAuth request may send `max_age` and `acr_values` as OpenID
    /// Connect defines them; they are read, shown and checked as in OpenID mode, and a
    /// malformed `max_age` is `invalid_request`, redirected.
    #[test]
    fn a_plain_request_may_ask_for_a_login() {
        let c = client(&["https://app.example/cb"]);
        let req = validate(&good("&max_age=0&acr_values=urn%3Aa+urn%3Ab"), &c).unwrap();
        assert_eq!(req.oidc(), None);
        assert_eq!(req.max_age(), Some(0));
        assert_eq!(req.acr_values(), ["urn:a", "urn:b"]);
        let login = req.login_request().unwrap();
        assert_eq!(
            (login.max_age, &login.acr_values[..]),
            (Some(0), req.acr_values())
        );
        assert_eq!(login.prompt, Default::default());
        let only_acr = validate(&good("&acr_values=urn%3Aa"), &c).unwrap();
        assert_eq!(
            (only_acr.max_age(), only_acr.acr_values()),
            (None, &["urn:a".to_owned()][..])
        );
        assert!(only_acr.login_request().is_some());
        let nothing = validate(&good(""), &c).unwrap();
        assert_eq!((nothing.max_age(), nothing.acr_values()), (None, &[][..]));
        assert_eq!(nothing.login_request(), None);
        for bad in ["-1", "1.5", "x", "18446744073709551616"] {
            let (code, url) = redirected(validate(&good(&format!("&max_age={bad}")), &c));
            assert_eq!(code, AuthorizeErrorCode::InvalidRequest, "{bad}");
            assert_eq!(
                query(&url, "error_description").as_deref(),
                Some("max_age must be a non-negative integer")
            );
        }
        // In OpenID mode they are the OpenID Connect parameters.
        let c = Client {
            allowed_scopes: ScopeSet::parse("read openid").unwrap(),
            ..c
        };
        let req = validate(&good("&scope=openid&max_age=5&acr_values=urn%3Ac"), &c).unwrap();
        let oidc = req.oidc().unwrap();
        assert_eq!(
            (oidc.max_age, &oidc.acr_values[..]),
            (Some(5), req.acr_values())
        );
        assert_eq!(req.max_age(), Some(5));
        assert!(matches!(req.login_request(), Some(Cow::Borrowed(o)) if o == oidc));
    }
    /// RFC 9449 §10: a well-formed `dpop_jkt` (43 base64url characters, RFC 7638 §3) is
    /// recorded on the code; anything else is `invalid_request`, redirected.
    #[test]
    fn dpop_jkt_is_recorded_on_the_code_when_well_formed() {
        let c = client(&["https://app.example/cb"]);
        let issue = |req: AuthorizationRequest| {
            let rng = ring::rand::SystemRandom::new();
            let approval = CodeApproval {
                subject: "alice",
                auth_time: UnixTime::from_secs(90),
                acr: None,
                amr: None,
                scopes: req.scopes(),
                grant_id: &GrantId::generate(&rng).unwrap(),
                oidc: None,
                authorization_details: &[],
            };
            let at = UnixTime::from_secs(100);
            let issued = req.issue_code(&approval, &issuer(), at, Duration::from_secs(60), &rng);
            issued.unwrap().record.dpop_jkt
        };
        let jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
        assert_eq!(jkt.len(), 43);
        let with = |v: &str| validate(&good(&format!("&dpop_jkt={v}")), &c);
        assert_eq!(issue(with(jkt).unwrap()).as_deref(), Some(jkt));
        let underscore = jkt.replace('-', "_");
        assert_eq!(
            issue(with(&underscore).unwrap()).as_deref(),
            Some(&*underscore)
        );
        assert_eq!(issue(validate(&good(""), &c).unwrap()), None);
        for bad in [
            &jkt[..42],
            &format!("{jkt}A"),
            &jkt.replace('-', "%2B"),
            &jkt.replace('-', "%2F"),
            &jkt.replace('-', "."),
            &format!("{}%3D", &jkt[..42]),
        ] {
            let (code, url) = redirected(with(bad));
            assert_eq!(code, AuthorizeErrorCode::InvalidRequest, "{bad}");
            assert_eq!(
                query(&url, "error_description").as_deref(),
                Some("dpop_jkt is malformed")
            );
        }
    }

    fn delivery_of(r: &Result<AuthorizationRequest, AuthorizeRejection>) -> ResponseDelivery {
        match r {
            Ok(req) => req.delivery(),
            Err(AuthorizeRejection::Redirect(e)) => e.response.delivery(),
            Err(other) => panic!("expected a redirect, got {other:?}"),
        }
    }

    /// An unsupported or repeated `response_mode` is `invalid_request` in the client's
    /// default mode; once the mode is known, errors and the code travel in it.
    #[test]
    fn response_mode_decides_how_responses_and_later_errors_travel() {
        use crate::response_type::ResponseTransport;
        let mut c = client(&["https://app.example/cb"]);
        let plain = ResponseDelivery::default();
        for extra in [
            "&response_mode=web_message",
            "&response_mode=query.JWT",
            "&response_mode=query&response_mode=query",
        ] {
            let r = validate(&good(extra), &c);
            assert_eq!(delivery_of(&r), plain, "{extra}");
            let (code, url) = redirected(r);
            assert_eq!(code, AuthorizeErrorCode::InvalidRequest, "{extra}");
            assert_eq!(query(&url, "state").as_deref(), Some("xyz"));
            assert_eq!(query(&url, "iss").as_deref(), Some("https://as.example"));
        }
        let fragment = validate(&good("&response_mode=fragment&scope=admin"), &c);
        assert_eq!(
            delivery_of(&fragment),
            ResponseDelivery {
                transport: ResponseTransport::Fragment,
                jwt_alg: None
            }
        );
        match fragment {
            Err(AuthorizeRejection::Redirect(e)) => {
                assert_eq!(e.error.code, AuthorizeErrorCode::InvalidScope);
                let location = e.response.plain_location().unwrap();
                assert!(location.starts_with("https://app.example/cb#error=invalid_scope&"));
            }
            other => panic!("{other:?}"),
        }
        let ok = validate(&good("&response_mode=form_post.jwt"), &c);
        assert_eq!(
            delivery_of(&ok),
            ResponseDelivery {
                transport: ResponseTransport::FormPost,
                jwt_alg: Some(Algorithm::RS256)
            }
        );
        // JARM §3: the client's registered algorithm signs, and makes `jwt` its default,
        // also for an unsupported mode's error.
        c.oidc.authorization_signed_response_alg = Some(Algorithm::EdDSA);
        let jarm = ResponseDelivery {
            transport: ResponseTransport::Query,
            jwt_alg: Some(Algorithm::EdDSA),
        };
        assert_eq!(delivery_of(&validate(&good(""), &c)), jarm);
        let refused = validate(&good("&response_mode=web_message"), &c);
        assert_eq!(delivery_of(&refused), jarm);
        match refused {
            Err(AuthorizeRejection::Redirect(e)) => {
                assert_eq!(e.response.param("error"), Some("invalid_request"));
                assert_eq!(
                    e.response.param("error_description"),
                    Some("response_mode is not supported")
                );
            }
            other => panic!("{other:?}"),
        }
        // A plain mode does not strip its signature (JARM §3).
        assert_eq!(
            delivery_of(&validate(&good("&response_mode=query"), &c)),
            jarm
        );
    }

    /// RFC 9396 §5: `authorization_details` of a registered type is kept for the consent page
    /// and, approved, on the code; anything else is `invalid_authorization_details`,
    /// redirected with `state` and `iss` once the redirect URI is trusted.
    #[test]
    fn authorization_details_are_validated_and_carried_to_the_code() {
        struct Any;
        impl crate::AuthorizationDetailsType for Any {
            fn validate(&self, d: &AuthorizationDetail) -> Result<(), String> {
                match d.get("refuse") {
                    Some(_) => Err("refused by the host".into()),
                    None => Ok(()),
                }
            }
        }
        let policy = Policy {
            authorization_details: crate::AuthorizationDetailsTypes::default()
                .with("account_information", Any)
                .with("payment_initiation", Any),
            ..Policy::default()
        };
        let mut c = client(&["https://app.example/cb"]);
        let run = |details: &str, c: &Client| {
            let q = good(&format!(
                "&authorization_details={}",
                url::form_urlencoded::byte_serialize(details.as_bytes()).collect::<String>()
            ));
            let params = Params::parse(q.as_bytes()).unwrap();
            validate_authorization_request(&params, Some(c), &issuer(), &policy)
        };
        let asked = r#"[{"type":"account_information","actions":["read"]}]"#;
        let req = run(asked, &c).unwrap();
        let expected: Vec<AuthorizationDetail> = serde_json::from_str(asked).unwrap();
        assert_eq!(req.authorization_details(), expected);
        assert!(validate(&good(""), &c)
            .unwrap()
            .authorization_details()
            .is_empty());
        let rng = ring::rand::SystemRandom::new();
        let approval = CodeApproval {
            subject: "alice",
            auth_time: UnixTime::from_secs(90),
            acr: None,
            amr: None,
            scopes: req.scopes(),
            grant_id: &GrantId::generate(&rng).unwrap(),
            oidc: None,
            authorization_details: req.authorization_details(),
        };
        let at = UnixTime::from_secs(100);
        let issued = req.issue_code(&approval, &issuer(), at, Duration::from_secs(60), &rng);
        assert_eq!(issued.unwrap().record.authorization_details, expected);

        c.tokens.authorization_details_types = Some(["payment_initiation".to_owned()].into());
        for (details, description) in [
            (
                asked,
                "authorization_details has a type this client may not use",
            ),
            (
                r#"[{"type":"other"}]"#,
                "authorization_details has an unknown type",
            ),
            ("{}", "authorization_details must be a JSON array"),
            (
                r#"[{"type":"payment_initiation","refuse":1}]"#,
                "authorization_details refused: refused by the host",
            ),
        ] {
            let (code, url) = redirected(run(details, &c));
            assert_eq!(
                code,
                AuthorizeErrorCode::InvalidAuthorizationDetails,
                "{details}"
            );
            assert_eq!(
                query(&url, "error").as_deref(),
                Some("invalid_authorization_details")
            );
            assert_eq!(
                query(&url, "error_description").as_deref(),
                Some(description)
            );
            assert_eq!(query(&url, "state").as_deref(), Some("xyz"));
            assert_eq!(query(&url, "iss").as_deref(), Some("https://as.example"));
        }
        assert!(run(r#"[{"type":"payment_initiation"}]"#, &c).is_ok());
    }

    /// FAPI 2.0 §5.3.2.2: under a FAPI 2.0 policy every client's requests are pushed, a
    /// standard client's too; the same request pushed is accepted.
    #[test]
    fn a_fapi2_policy_refuses_requests_that_were_not_pushed() {
        let c = client(&["https://app.example/cb"]);
        let params = Params::parse(good("").as_bytes()).unwrap();
        let policy = Policy {
            profile: crate::SecurityProfile::Fapi2,
            ..Policy::default()
        };
        let (code, url) = redirected(validate_authorization_request(
            &params,
            Some(&c),
            &issuer(),
            &policy,
        ));
        assert_eq!(code, AuthorizeErrorCode::InvalidRequest);
        assert_eq!(
            query(&url, "error_description").as_deref(),
            Some("this authorization request must be pushed first (RFC 9126)")
        );
        assert!(validate_request(&params, Some(&c), &issuer(), &policy, Channel::Pushed).is_ok());
    }

    fn implicit_policy() -> Policy {
        Policy {
            dangerous_allow_implicit: true,
            ..Policy::default()
        }
    }

    /// A client registered for every implicit and hybrid type.
    fn legacy_client() -> Client {
        let mut c = client(&["https://app.example/cb"]);
        c.allowed_scopes = ScopeSet::parse("openid read write").unwrap();
        c.requests.response_types = ResponseType::ALL.into_iter().skip(1).collect();
        c
    }

    fn legacy_query(response_type: &str, extra: &str) -> String {
        format!(
            "response_type={}&client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=xyz&scope=openid+read&nonce=n1&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
            response_type.replace(' ', "+")
        )
    }

    fn validate_under(
        query: &str,
        c: &Client,
        policy: &Policy,
    ) -> Result<AuthorizationRequest, AuthorizeRejection> {
        let params = Params::parse(query.as_bytes()).unwrap();
        validate_authorization_request(&params, Some(c), &issuer(), policy)
    }

    /// The error code and the transport of a redirected refusal.
    fn refusal(
        r: Result<AuthorizationRequest, AuthorizeRejection>,
    ) -> (AuthorizeErrorCode, ResponseTransport, String) {
        match r {
            Err(AuthorizeRejection::Redirect(e)) => (
                e.error.code,
                e.response.delivery().transport,
                e.error.description.to_string(),
            ),
            other => panic!("expected a redirect, got {other:?}"),
        }
    }

    /// Off by policy, every implicit and hybrid type is refused exactly as before
    /// (`unsupported_response_type` in the query); on, only for a client that registered
    /// it (`unauthorized_client`), never for a FAPI 2.0 client or policy.
    #[test]
    fn implicit_types_need_the_policy_and_the_client() {
        let legacy = legacy_client();
        for t in ResponseType::ALL.into_iter().skip(1) {
            let q = legacy_query(t.as_str(), "");
            let (code, transport, description) =
                refusal(validate_under(&q, &legacy, &Policy::default()));
            assert_eq!(code, AuthorizeErrorCode::UnsupportedResponseType, "{t:?}");
            assert_eq!(transport, ResponseTransport::Query);
            assert_eq!(description, "only response_type=code is supported");
            let (code, transport, _) = refusal(validate_under(
                &q,
                &client(&["https://app.example/cb"]),
                &implicit_policy(),
            ));
            assert_eq!(
                code,
                AuthorizeErrorCode::UnauthorizedClient,
                "{t:?}: not registered"
            );
            assert_eq!(transport, ResponseTransport::Query);
            let req = validate_under(&q, &legacy, &implicit_policy()).unwrap();
            assert_eq!(req.response_type(), t);
            assert_eq!(req.delivery().transport, ResponseTransport::Fragment);
        }
        let mut only_hybrid = legacy_client();
        only_hybrid.requests.response_types = [ResponseType::CodeIdToken].into();
        let q = legacy_query("id_token", "");
        let (code, transport, _) = refusal(validate_under(&q, &only_hybrid, &implicit_policy()));
        assert_eq!(code, AuthorizeErrorCode::UnauthorizedClient);
        assert_eq!(transport, ResponseTransport::Query);
        assert!(validate_under(
            &legacy_query("id_token code", ""),
            &only_hybrid,
            &implicit_policy()
        )
        .is_ok());
        // FAPI 2.0 (§5.3.2.2): code only, even pushed.
        let mut fapi_policy = Policy::fapi2();
        fapi_policy.dangerous_allow_implicit = true;
        let params = Params::parse(q.as_bytes()).unwrap();
        let pushed = |c: &Client, p: &Policy| {
            refusal(validate_request(
                &params,
                Some(c),
                &issuer(),
                p,
                Channel::Pushed,
            ))
            .0
        };
        assert_eq!(
            pushed(&legacy, &fapi_policy),
            AuthorizeErrorCode::UnsupportedResponseType
        );
        let fapi_client = legacy_client().with_profile(crate::SecurityProfile::Fapi2);
        assert_eq!(
            pushed(&fapi_client, &implicit_policy()),
            AuthorizeErrorCode::UnauthorizedClient
        );
        assert!(validate_request(
            &params,
            Some(&legacy),
            &issuer(),
            &implicit_policy(),
            Channel::Pushed
        )
        .is_ok());
    }

    /// Tokens never travel in a query, signed or not (Multiple Response Type Encoding
    /// Practices §2.1, JARM §2.3.1): `invalid_request`, in the fragment. `form_post` and
    /// `jwt` (then `fragment.jwt`) are fine.
    #[test]
    fn tokens_never_travel_in_the_query() {
        let legacy = legacy_client();
        let p = implicit_policy();
        for (t, mode) in [
            ("token", "query"),
            ("code id_token", "query.jwt"),
            ("id_token", "query"),
        ] {
            let q = legacy_query(t, &format!("&response_mode={mode}"));
            let (code, transport, _) = refusal(validate_under(&q, &legacy, &p));
            assert_eq!(
                (code, transport),
                (
                    AuthorizeErrorCode::InvalidRequest,
                    ResponseTransport::Fragment
                ),
                "{t} {mode}"
            );
        }
        let form = validate_under(
            &legacy_query("token", "&response_mode=form_post"),
            &legacy,
            &p,
        )
        .unwrap();
        assert_eq!(form.delivery().transport, ResponseTransport::FormPost);
        let jwt = validate_under(
            &legacy_query("code token", "&response_mode=jwt"),
            &legacy,
            &p,
        )
        .unwrap();
        assert_eq!(
            jwt.delivery(),
            ResponseDelivery {
                transport: ResponseTransport::Fragment,
                jwt_alg: Some(Algorithm::RS256)
            }
        );
        // `code` keeps its query.
        let code =
            validate_under(&legacy_query("code", "&response_mode=query"), &legacy, &p).unwrap();
        assert_eq!(code.delivery().transport, ResponseTransport::Query);
    }

    /// OpenID Connect Core §3.2.2.1, §3.3.2.11: an ID token from the authorization endpoint
    /// needs OpenID mode and a nonce; an access token alone needs neither.
    #[test]
    fn an_id_token_needs_openid_and_a_nonce() {
        let legacy = legacy_client();
        let p = implicit_policy();
        for t in [
            "id_token",
            "id_token token",
            "code id_token",
            "code id_token token",
        ] {
            let q = legacy_query(t, "").replace("&nonce=n1", "");
            let (code, transport, description) = refusal(validate_under(&q, &legacy, &p));
            assert_eq!(
                (code, transport),
                (
                    AuthorizeErrorCode::InvalidRequest,
                    ResponseTransport::Fragment
                ),
                "{t}"
            );
            assert!(
                description.starts_with("nonce is required"),
                "{description}"
            );
            let q = legacy_query(t, "").replace("scope=openid+read", "scope=read");
            let (code, _, description) = refusal(validate_under(&q, &legacy, &p));
            assert_eq!(code, AuthorizeErrorCode::InvalidRequest, "{t}");
            assert_eq!(description, "response_type id_token needs scope openid");
        }
        for t in ["token", "code token"] {
            let q = legacy_query(t, "")
                .replace("&nonce=n1", "")
                .replace("scope=openid+read", "scope=read");
            assert!(validate_under(&q, &legacy, &p).is_ok(), "{t}");
        }
    }

    /// PKCE binds a code: a type without one needs no challenge, a hybrid type does; the
    /// `authorization_code` grant is checked only for a type with a code.
    #[test]
    fn pkce_and_the_code_grant_only_with_a_code() {
        let mut legacy = legacy_client();
        let p = implicit_policy();
        let bare = |t: &str| {
            legacy_query(t, "").replace(
                &format!("&code_challenge={CHALLENGE}&code_challenge_method=S256"),
                "",
            )
        };
        assert!(validate_under(&bare("id_token token"), &legacy, &p).is_ok());
        let (code, _, _) = refusal(validate_under(&bare("code id_token"), &legacy, &p));
        assert_eq!(code, AuthorizeErrorCode::InvalidRequest);
        legacy.grant_types.clear();
        assert!(validate_under(&legacy_query("token", ""), &legacy, &p).is_ok());
        let (code, _, _) = refusal(validate_under(&legacy_query("code token", ""), &legacy, &p));
        assert_eq!(code, AuthorizeErrorCode::UnauthorizedClient);
    }

    /// A client whose access tokens must be sender-constrained gets none from the
    /// authorization endpoint, unless `dpop_jkt` names the DPoP key (then bound to it); a
    /// certificate-bound client never. An ID token alone is fine.
    #[test]
    fn bound_clients_get_front_channel_tokens_only_bound() {
        let p = implicit_policy();
        let jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
        let mut dpop = legacy_client();
        dpop.tokens.dpop_bound_access_tokens = true;
        let (code, _, _) = refusal(validate_under(&legacy_query("token", ""), &dpop, &p));
        assert_eq!(code, AuthorizeErrorCode::InvalidRequest);
        let bound = validate_under(
            &legacy_query("token", &format!("&dpop_jkt={jkt}")),
            &dpop,
            &p,
        )
        .unwrap();
        assert_eq!(
            bound.front_channel_confirmation().unwrap().jkt.as_deref(),
            Some(jkt)
        );
        assert!(validate_under(&legacy_query("id_token", ""), &dpop, &p).is_ok());
        let mut mtls = legacy_client();
        mtls.tokens.tls_client_certificate_bound_access_tokens = true;
        let (code, _, _) = refusal(validate_under(
            &legacy_query("code token", &format!("&dpop_jkt={jkt}")),
            &mtls,
            &p,
        ));
        assert_eq!(code, AuthorizeErrorCode::InvalidRequest);
        assert!(validate_under(&legacy_query("code id_token", ""), &mtls, &p).is_ok());
        let plain = validate_under(&legacy_query("token", ""), &legacy_client(), &p).unwrap();
        assert_eq!(plain.front_channel_confirmation(), None);
    }

    /// RFC 6749 §4.2.2, OpenID Connect Core §3.3.2.5: the parts in order, `scope` only when
    /// it differs from the request's, then `state` and `iss`; never a refresh token.
    #[test]
    fn the_tokens_response_lists_its_parts() {
        let req = validate_under(
            &legacy_query("code id_token token", ""),
            &legacy_client(),
            &implicit_policy(),
        )
        .unwrap();
        let asked = ScopeSet::parse("openid read").unwrap();
        let narrower = ScopeSet::parse("openid").unwrap();
        let names = |scope: &ScopeSet| {
            let access = FrontChannelAccessToken {
                token: "at",
                token_type: "Bearer",
                expires_in: 60,
                scope,
            };
            let tokens = FrontChannelTokens {
                access_token: Some(access),
                id_token: Some("a.b.c"),
            };
            let r = req.tokens_response(Some("c1"), &tokens, &issuer());
            assert_eq!(r.delivery().transport, ResponseTransport::Fragment);
            assert!(
                format!("{tokens:?}").contains("<redacted>")
                    && !format!("{tokens:?}").contains("\"at\"")
            );
            r.params().to_vec()
        };
        let params = names(&asked);
        let keys: Vec<&str> = params.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "code",
                "access_token",
                "token_type",
                "expires_in",
                "id_token",
                "state",
                "iss"
            ]
        );
        assert_eq!(params[3].1, "60");
        let params = names(&narrower);
        assert!(params.contains(&("scope", "openid".to_owned())));
        let only_id = req.tokens_response(
            None,
            &FrontChannelTokens {
                access_token: None,
                id_token: Some("x"),
            },
            &issuer(),
        );
        let keys: Vec<&str> = only_id.params().iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, ["id_token", "state", "iss"]);
    }

    /// Errors found outside validation (a request object's, RFC 9101 §6.1) travel as
    /// validation would send them: an enabled implicit or hybrid type's in the fragment or
    /// the form post asked for, never the query (OpenID Connect Core §3.2.2.6); a code's, or
    /// a type the client may not use, in the query as before.
    #[test]
    fn rejections_travel_in_the_response_types_mode() {
        let legacy = legacy_client();
        let rejected = |query: &str, policy: &Policy| {
            let params = Params::parse(query.as_bytes()).unwrap();
            let error = OAuthError::new(AuthorizeErrorCode::InvalidRequestObject, "bad");
            refusal(Err(reject_authorization_request(
                &params,
                Some(&legacy),
                &issuer(),
                policy,
                error,
            )))
        };
        let on = implicit_policy();
        for (t, mode, expected) in [
            ("id_token token", "", ResponseTransport::Fragment),
            (
                "code id_token",
                "&response_mode=query",
                ResponseTransport::Fragment,
            ),
            (
                "token",
                "&response_mode=form_post",
                ResponseTransport::FormPost,
            ),
            ("code", "", ResponseTransport::Query),
            (
                "code",
                "&response_mode=fragment",
                ResponseTransport::Fragment,
            ),
        ] {
            let (code, transport, _) = rejected(&legacy_query(t, mode), &on);
            assert_eq!(code, AuthorizeErrorCode::InvalidRequestObject);
            assert_eq!(transport, expected, "{t} {mode}");
        }
        // Not enabled: as a code's.
        let (_, transport, _) = rejected(&legacy_query("id_token", ""), &Policy::default());
        assert_eq!(transport, ResponseTransport::Query);
    }
}
