//! Dynamic client registration (RFC 7591, OpenID Connect Dynamic Client Registration 1.0):
//! the JSON body read within limits, the client metadata validated, and a [`Client`] built
//! from it.
//!
//! Limits against registration spam (each refusal is `invalid_client_metadata` or
//! `invalid_redirect_uri`, see [`limits`]): a body of at most 32 KiB, nested at most 6
//! deep, at most 20 redirect (and post-logout redirect) URIs, each URI at most 2,000
//! bytes, every other string at most 1,000 bytes, at most 10 contacts and 10 keys. How often one caller may
//! register is the host's to limit (a rate limit in front of the endpoint, or its
//! registration hook).

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::backchannel_logout::is_registrable_backchannel_logout_uri;
use crate::client::{
    Client, ClientKeys, ClientKind, ClientOidc, ClientRequests, ClientTokens, GrantType,
    SecretMethod, SubjectType,
};
use crate::client_auth::ClientAuthMethod;
use crate::client_certificate::CertificateSubject;
use crate::client_secret::ClientSecretHash;
use crate::error::OAuthError;
use crate::jose::{Algorithm, Jwk, JwkSet, MacAlgorithm, PRIVATE_JWK_MEMBERS};
use crate::redirect_uri::RedirectUri;
use crate::request_object::ClientRequestObjects;
use crate::response_type::ResponseType;
use crate::scope::ScopeSet;
use crate::sealed_secret::SealedClientSecret;
use crate::secret::TokenHash;
use crate::time::UnixTime;

/// The limits on what one registration may carry (see the module's documentation).
pub mod limits {
    /// The largest registration (or update) body read, in bytes.
    pub const MAX_BODY_BYTES: usize = 32 * 1024;
    /// The deepest nesting of JSON arrays and objects in a body (a `jwks` needs 4).
    pub const MAX_DEPTH: usize = 6;
    /// The most `redirect_uris`, and the most `post_logout_redirect_uris`.
    pub const MAX_URIS: usize = 20;
    /// The longest URI, in bytes.
    pub const MAX_URI_LEN: usize = 2000;
    /// The longest other string (`client_name`, a contact, `software_id`, `scope`…), in bytes.
    pub const MAX_TEXT_LEN: usize = 1000;
    /// The most `contacts`.
    pub const MAX_CONTACTS: usize = 10;
    /// The most keys in an inline `jwks`.
    pub const MAX_JWKS_KEYS: usize = 10;
    /// The most `request_uris`.
    pub const MAX_REQUEST_URIS: usize = 10;
}

use limits::*;

/// Error codes of the registration endpoint (RFC 7591 §3.2.2); every one is HTTP 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationErrorCode {
    /// A redirect URI is missing or not allowed.
    InvalidRedirectUri,
    /// A metadata field is invalid, or the body is not client metadata.
    InvalidClientMetadata,
    /// The software statement is invalid (or cannot be verified).
    InvalidSoftwareStatement,
    /// The software statement is not approved.
    UnapprovedSoftwareStatement,
    /// The request itself is malformed (not `application/json`): RFC 6749 §5.2's code.
    InvalidRequest,
}

impl RegistrationErrorCode {
    /// The `error` value on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidSoftwareStatement => "invalid_software_statement",
            Self::UnapprovedSoftwareStatement => "unapproved_software_statement",
            Self::InvalidRequest => "invalid_request",
        }
    }

    /// The HTTP status: 400 (RFC 7591 §3.2.2).
    pub fn status(self) -> u16 {
        400
    }
}

/// A refusal of a registration.
pub type RegistrationError = OAuthError<RegistrationErrorCode>;

pub(crate) fn metadata_error(description: impl Into<Cow<'static, str>>) -> RegistrationError {
    OAuthError::new(RegistrationErrorCode::InvalidClientMetadata, description)
}

fn redirect_error(description: impl Into<Cow<'static, str>>) -> RegistrationError {
    OAuthError::new(RegistrationErrorCode::InvalidRedirectUri, description)
}

/// `application_type` (OpenID Connect Dynamic Client Registration 1.0 §2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationType {
    /// A web application: `https` redirect URIs only (the default).
    #[default]
    Web,
    /// A native application: loopback `http`, private-use scheme or `https` redirect URIs
    /// (RFC 8252 §7).
    Native,
}

/// What a registration allows: the host's side of the validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistrationRules {
    /// The scopes a registered client may get; a client registering without `scope` gets
    /// them all, one asking for another is refused (RFC 7591 §2).
    pub scopes: ScopeSet,
    /// The `token_endpoint_auth_method`s a client may register: those the provider
    /// advertises (RFC 8414 §2), so that discovery and registration agree.
    pub auth_methods: Vec<ClientAuthMethod>,
    /// The `token_endpoint_auth_signing_alg`s of `private_key_jwt`.
    pub private_key_jwt_algs: Vec<Algorithm>,
    /// The `token_endpoint_auth_signing_alg`s of `client_secret_jwt`.
    pub client_secret_jwt_algs: Vec<MacAlgorithm>,
    /// Whether a `private_key_jwt` client may register a `jwks_uri` (the provider can
    /// fetch it).
    pub jwks_uri: bool,
    /// Whether client certificates reach the provider, so a client may register
    /// `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.4).
    pub mutual_tls: bool,
    /// The authorization details types a client may register (RFC 9396 §10): those the
    /// provider accepts.
    pub authorization_details_types: BTreeSet<String>,
    /// Whether logout tokens are delivered, so a client may register a
    /// `backchannel_logout_uri` (Back-Channel Logout 1.0 §2.2).
    pub backchannel_logout: bool,
    /// Whether a client may register the implicit and hybrid `response_types`
    /// ([`crate::Policy::allows_implicit`]).
    pub implicit: bool,
    /// Whether a client may register the `password` grant type
    /// ([`crate::Policy::allows_password_grant`]).
    pub password_grant: bool,
}

impl RegistrationRules {
    /// Rules letting clients register for `scopes` with a secret method
    /// (`client_secret_basic`, `client_secret_post`) or none.
    pub fn new(scopes: ScopeSet) -> Self {
        Self {
            scopes,
            auth_methods: SECRET_METHODS.to_vec(),
            ..Self::default()
        }
    }

    /// These rules letting clients register with `methods`, signing (or MACing) JWT
    /// assertions with `private_key_jwt_algs` (or `client_secret_jwt_algs`), and a
    /// `jwks_uri` if `jwks_uri`.
    pub fn with_auth_methods(
        mut self,
        methods: Vec<ClientAuthMethod>,
        private_key_jwt_algs: Vec<Algorithm>,
        client_secret_jwt_algs: Vec<MacAlgorithm>,
        jwks_uri: bool,
    ) -> Self {
        self.auth_methods = methods;
        self.private_key_jwt_algs = private_key_jwt_algs;
        self.client_secret_jwt_algs = client_secret_jwt_algs;
        self.jwks_uri = jwks_uri;
        self
    }

    /// These rules with [`RegistrationRules::mutual_tls`] set.
    pub fn with_mutual_tls(mut self, mutual_tls: bool) -> Self {
        self.mutual_tls = mutual_tls;
        self
    }

    /// These rules with [`RegistrationRules::backchannel_logout`] set.
    pub fn with_backchannel_logout(mut self, backchannel_logout: bool) -> Self {
        self.backchannel_logout = backchannel_logout;
        self
    }

    /// These rules with [`RegistrationRules::implicit`] and
    /// [`RegistrationRules::password_grant`] set.
    pub fn with_legacy_flows(mut self, implicit: bool, password_grant: bool) -> Self {
        self.implicit = implicit;
        self.password_grant = password_grant;
        self
    }

    /// These rules with [`RegistrationRules::authorization_details_types`] set.
    pub fn with_authorization_details_types<'a>(
        mut self,
        types: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        self.authorization_details_types = types.into_iter().map(str::to_owned).collect();
        self
    }
}

/// Validated client metadata (RFC 7591 §2, OpenID Connect Dynamic Client Registration 1.0
/// §2), as registered and as echoed back (RFC 7591 §3.2.1). Members this server does not
/// know are ignored (RFC 7591 §2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientMetadata {
    /// `redirect_uris`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_uris: Vec<RedirectUri>,
    /// `token_endpoint_auth_method` (default `client_secret_basic`, RFC 7591 §2).
    #[serde(with = "auth_method")]
    pub token_endpoint_auth_method: ClientAuthMethod,
    /// `grant_types`.
    pub grant_types: BTreeSet<GrantType>,
    /// `response_types`: `["code"]` with `authorization_code`, else empty.
    pub response_types: Vec<String>,
    /// `application_type`.
    pub application_type: ApplicationType,
    /// `scope`: what the client may ask for.
    pub scope: ScopeSet,
    /// `client_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// `client_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// `logo_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// `tos_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// `policy_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// `contacts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
    /// `jwks`: the client's public keys by value (never with `jwks_uri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<JwkSet>,
    /// `jwks_uri`: the client's keys by reference (`https`, or loopback `http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// `token_endpoint_auth_signing_alg` (OpenID Connect Dynamic Client Registration 1.0
    /// §2): the one algorithm of the client's JWT assertions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<AssertionAlgorithm>,
    /// `tls_client_auth_subject_dn` (RFC 8705 §2.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    /// `tls_client_auth_san_dns` (RFC 8705 §2.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_dns: Option<String>,
    /// `tls_client_auth_san_uri` (RFC 8705 §2.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_uri: Option<String>,
    /// `tls_client_auth_san_ip` (RFC 8705 §2.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_ip: Option<String>,
    /// `tls_client_auth_san_email` (RFC 8705 §2.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_email: Option<String>,
    /// `software_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    /// `software_version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// `subject_type`: `public` or `pairwise` (OpenID Connect Core §8).
    pub subject_type: String,
    /// `id_token_signed_response_alg`; the provider's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<Algorithm>,
    /// `authorization_signed_response_alg` (JARM §3): authorization responses are signed
    /// JWTs by default, with this algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_signed_response_alg: Option<Algorithm>,
    /// `post_logout_redirect_uris` (RP-Initiated Logout 1.0 §3.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// `require_auth_time`.
    #[serde(default)]
    pub require_auth_time: bool,
    /// `dpop_bound_access_tokens` (RFC 9449 §5.2): every token request carries a DPoP proof.
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    /// `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.4): access tokens are
    /// bound to the client's TLS certificate.
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// `require_pushed_authorization_requests` (RFC 9126 §6): every authorization request
    /// must be pushed first.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    /// `require_signed_request_object` (RFC 9101 §10.5): every authorization request comes
    /// as a signed request object.
    #[serde(default)]
    pub require_signed_request_object: bool,
    /// `request_object_signing_alg` (OpenID Connect Dynamic Client Registration 1.0 §2):
    /// the one algorithm of the client's request objects (never `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_object_signing_alg: Option<Algorithm>,
    /// `request_uris` (OpenID Connect Dynamic Client Registration 1.0 §2): `https` URLs
    /// (no fragment) of request objects the provider may fetch (RFC 9101 §5.2), matched
    /// exactly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_uris: Vec<String>,
    /// `authorization_details_types` (RFC 9396 §10): the only types the client may ask
    /// for; every type the provider accepts when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_details_types: Option<BTreeSet<String>>,
    /// `backchannel_logout_uri` (Back-Channel Logout 1.0 §2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// `backchannel_logout_session_required` (Back-Channel Logout 1.0 §2.2).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub backchannel_logout_session_required: bool,
}

/// `token_endpoint_auth_method` by its wire name.
mod auth_method {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::client_auth::ClientAuthMethod;

    pub(super) fn serialize<S: Serializer>(m: &ClientAuthMethod, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(m.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<ClientAuthMethod, D::Error> {
        let name = String::deserialize(d)?;
        super::auth_method_named(&name)
            .ok_or_else(|| serde::de::Error::custom("unknown token_endpoint_auth_method"))
    }
}

/// The methods [`client_kind`] maps: those whose only credential is a hashed secret, or none.
const SECRET_METHODS: [ClientAuthMethod; 3] = [
    ClientAuthMethod::ClientSecretBasic,
    ClientAuthMethod::ClientSecretPost,
    ClientAuthMethod::None,
];

/// The method called `name`.
fn auth_method_named(name: &str) -> Option<ClientAuthMethod> {
    ClientAuthMethod::ALL
        .into_iter()
        .find(|m| m.as_str() == name)
}

/// A `token_endpoint_auth_signing_alg`: a signature algorithm (`private_key_jwt`) or an
/// HMAC one (`client_secret_jwt`), by its JWS name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AssertionAlgorithm {
    /// An asymmetric signature algorithm.
    Signature(Algorithm),
    /// An HMAC algorithm.
    Mac(MacAlgorithm),
}

impl AssertionAlgorithm {
    /// Parses a JWS `alg` this server verifies assertions with; `None` otherwise (`none`).
    pub fn parse(name: &str) -> Option<Self> {
        Algorithm::parse(name)
            .map(Self::Signature)
            .or_else(|| MacAlgorithm::parse(name).map(Self::Mac))
    }
}

/// The secret the server issued a registered client, as it keeps it: hashed for the secret
/// methods, sealed under the key-encryption key for `client_secret_jwt` (which needs it in
/// the clear to check MACs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeptSecret {
    /// `client_secret_basic`, `client_secret_post`.
    Hashed(ClientSecretHash),
    /// `client_secret_jwt`.
    Sealed(SealedClientSecret),
}

/// The [`ClientKind`] of a client registered with `method`: the one place metadata becomes
/// a kind. `secret` is the hash of the secret issued to it, for the methods that need one
/// ([`needs_secret`]).
pub fn client_kind(
    method: ClientAuthMethod,
    secret: Option<ClientSecretHash>,
) -> Option<ClientKind> {
    match (method, secret) {
        (ClientAuthMethod::None, _) => Some(ClientKind::Public),
        // Held to the one secret method it registered (RFC 7591 §2).
        (ClientAuthMethod::ClientSecretBasic, Some(secret)) => {
            Some(ClientKind::confidential_with(secret, SecretMethod::Basic))
        }
        (ClientAuthMethod::ClientSecretPost, Some(secret)) => {
            Some(ClientKind::confidential_with(secret, SecretMethod::Post))
        }
        _ => None,
    }
}

/// Whether a client registered with `method` is issued a `client_secret`: the secret
/// methods and `client_secret_jwt` (RFC 7591 §3.2.1).
pub fn needs_secret(method: ClientAuthMethod) -> bool {
    matches!(
        method,
        ClientAuthMethod::ClientSecretBasic
            | ClientAuthMethod::ClientSecretPost
            | ClientAuthMethod::ClientSecretJwt
    )
}

/// The body as the client sent it: every member optional, unknown ones ignored.
#[derive(Deserialize)]
struct Wire {
    redirect_uris: Option<Vec<String>>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    application_type: Option<String>,
    scope: Option<String>,
    client_name: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    tos_uri: Option<String>,
    policy_uri: Option<String>,
    contacts: Option<Vec<String>>,
    jwks: Option<serde_json::Value>,
    jwks_uri: Option<String>,
    token_endpoint_auth_signing_alg: Option<String>,
    tls_client_auth_subject_dn: Option<String>,
    tls_client_auth_san_dns: Option<String>,
    tls_client_auth_san_uri: Option<String>,
    tls_client_auth_san_ip: Option<String>,
    tls_client_auth_san_email: Option<String>,
    software_id: Option<String>,
    software_version: Option<String>,
    software_statement: Option<serde_json::Value>,
    subject_type: Option<String>,
    sector_identifier_uri: Option<serde_json::Value>,
    id_token_signed_response_alg: Option<String>,
    authorization_signed_response_alg: Option<String>,
    authorization_encrypted_response_alg: Option<serde_json::Value>,
    authorization_encrypted_response_enc: Option<serde_json::Value>,
    post_logout_redirect_uris: Option<Vec<String>>,
    require_auth_time: Option<bool>,
    dpop_bound_access_tokens: Option<bool>,
    tls_client_certificate_bound_access_tokens: Option<bool>,
    require_pushed_authorization_requests: Option<bool>,
    require_signed_request_object: Option<bool>,
    request_object_signing_alg: Option<String>,
    request_uris: Option<Vec<String>>,
    authorization_details_types: Option<Vec<String>>,
    backchannel_logout_uri: Option<String>,
    backchannel_logout_session_required: Option<bool>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// A registration or update request's body, read (RFC 7591 §3.1, RFC 7592 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistrationRequest {
    /// The validated metadata.
    pub metadata: ClientMetadata,
    /// `client_id`, which an update must carry (RFC 7592 §2.2).
    pub client_id: Option<String>,
    /// `client_secret`, which an update may carry to be compared (RFC 7592 §2.2).
    pub client_secret: Option<String>,
}

impl RegistrationRequest {
    /// Reads a JSON body: at most [`MAX_BODY_BYTES`], nested at most [`MAX_DEPTH`] deep
    /// (checked before parsing), an object of client metadata validated against `rules`
    /// ([`ClientMetadata::check`]). A `software_statement` is refused
    /// (`invalid_software_statement`): this server verifies none, and never trusts one it
    /// has not verified (RFC 7591 §2.3).
    pub fn parse(body: &[u8], rules: &RegistrationRules) -> Result<Self, RegistrationError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(metadata_error("the registration body is too large"));
        }
        if !depth_within(body, MAX_DEPTH) {
            return Err(metadata_error("the registration body is nested too deeply"));
        }
        let wire: Wire = serde_json::from_slice(body)
            .map_err(|_| metadata_error("the body is not a JSON object of client metadata"))?;
        if wire.software_statement.is_some() {
            return Err(OAuthError::new(
                RegistrationErrorCode::InvalidSoftwareStatement,
                "software statements are not accepted",
            ));
        }
        if wire.sector_identifier_uri.is_some() {
            return Err(metadata_error("sector_identifier_uri is not supported"));
        }
        let client_id = wire.client_id.clone();
        let client_secret = wire.client_secret.clone();
        let metadata = ClientMetadata::from_wire(wire, rules)?;
        metadata.check(rules)?;
        Ok(Self {
            metadata,
            client_id,
            client_secret,
        })
    }
}

/// Whether JSON arrays and objects in `body` nest at most `max` deep (strings skipped).
fn depth_within(body: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// How a `tls_client_auth_*` value becomes a [`CertificateSubject`]; `None` if it cannot.
type SubjectOf = fn(&str) -> Option<CertificateSubject>;

/// An inline `jwks` (RFC 7591 §2): a JWK Set of at most [`MAX_JWKS_KEYS`] keys, each a
/// public key this server can verify signatures with. A key with private members is
/// refused, not stripped: the client has leaked it.
fn public_jwks(value: serde_json::Value) -> Result<JwkSet, RegistrationError> {
    let keys = match value {
        serde_json::Value::Object(mut set) => set.remove("keys"),
        _ => None,
    };
    let Some(serde_json::Value::Array(keys)) = keys else {
        return Err(metadata_error("jwks is not a JWK Set"));
    };
    if keys.len() > MAX_JWKS_KEYS {
        return Err(metadata_error("jwks has too many keys"));
    }
    let keys = keys
        .into_iter()
        .map(|key| {
            let private = key
                .as_object()
                .is_some_and(|k| PRIVATE_JWK_MEMBERS.iter().any(|m| k.contains_key(*m)));
            if private {
                return Err(metadata_error("jwks must hold public keys only"));
            }
            serde_json::from_value::<Jwk>(key)
                .ok()
                .filter(|jwk| jwk.to_verifying_key().is_ok())
                .ok_or_else(|| metadata_error("a jwks key is not a usable public key"))
        })
        .collect::<Result<_, _>>()?;
    Ok(JwkSet { keys })
}

/// A string of at most [`MAX_TEXT_LEN`] bytes.
fn text(name: &str, value: Option<String>) -> Result<Option<String>, RegistrationError> {
    match value {
        Some(v) if v.len() > MAX_TEXT_LEN => Err(metadata_error(format!("{name} is too long"))),
        v => Ok(v),
    }
}

/// An `https` URL of at most [`MAX_URI_LEN`] bytes, without a fragment.
fn https_url(name: &str, value: Option<String>) -> Result<Option<String>, RegistrationError> {
    let Some(v) = value else { return Ok(None) };
    let ok = v.len() <= MAX_URI_LEN
        && !v.contains('#')
        && url::Url::parse(&v).is_ok_and(|u| u.scheme() == "https" && u.host().is_some());
    if ok {
        Ok(Some(v))
    } else {
        Err(metadata_error(format!("{name} must be an https URL")))
    }
}

/// Schemes a redirect must never use: they run code or read local data in the browser.
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "file",
    "vbscript",
    "blob",
    "about",
    "filesystem",
    "view-source",
    "ws",
    "wss",
    "ftp",
    "mailto",
];

/// A redirect URI an `application_type` client may register: absolute, no fragment (RFC
/// 6749 §3.1.2), no [`FORBIDDEN_SCHEMES`]; `https` for a web client (OpenID Connect Dynamic
/// Client Registration 1.0 §2); for a native one also loopback `http` (RFC 8252 §7.3) or a
/// private-use scheme in reverse domain name form (RFC 8252 §7.1).
fn redirect_uri(raw: &str, app: ApplicationType) -> Result<RedirectUri, RegistrationError> {
    if raw.len() > MAX_URI_LEN {
        return Err(redirect_error("a redirect URI is too long"));
    }
    let uri = RedirectUri::parse(raw).map_err(|e| redirect_error(e.to_string()))?;
    let scheme = raw
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if FORBIDDEN_SCHEMES.contains(&scheme.as_str()) {
        return Err(redirect_error("a redirect URI has a forbidden scheme"));
    }
    let https = scheme == "https";
    let allowed = match app {
        ApplicationType::Web => https,
        ApplicationType::Native => https || scheme == "http" || scheme.contains('.'),
    };
    if !allowed {
        return Err(redirect_error(match app {
            ApplicationType::Web => "a web client's redirect URIs must be https",
            ApplicationType::Native => {
                "a native client's redirect URIs must be https, loopback http or a \
                 reverse-domain private-use scheme"
            }
        }));
    }
    if https && !uri.identifies_client() {
        return Err(redirect_error(
            "an https redirect URI needs a host: https://",
        ));
    }
    Ok(uri)
}

fn redirect_uris(
    name: &str,
    raw: Option<Vec<String>>,
    app: ApplicationType,
) -> Result<Vec<RedirectUri>, RegistrationError> {
    let raw = raw.unwrap_or_default();
    if raw.len() > MAX_URIS {
        return Err(redirect_error(format!("too many {name}")));
    }
    raw.iter().map(|u| redirect_uri(u, app)).collect()
}

impl ClientMetadata {
    fn from_wire(w: Wire, rules: &RegistrationRules) -> Result<Self, RegistrationError> {
        let application_type = match w.application_type.as_deref() {
            None | Some("web") => ApplicationType::Web,
            Some("native") => ApplicationType::Native,
            Some(_) => return Err(metadata_error("application_type must be web or native")),
        };
        let token_endpoint_auth_method = match w.token_endpoint_auth_method.as_deref() {
            None => ClientAuthMethod::ClientSecretBasic,
            Some(name) => auth_method_named(name)
                .ok_or_else(|| metadata_error("token_endpoint_auth_method is not supported"))?,
        };
        let grant_types = match w.grant_types {
            None => BTreeSet::from([GrantType::AuthorizationCode]),
            // `implicit` names no token request (RFC 7591 §2.1): the response types say it.
            Some(names) => names
                .iter()
                .filter(|n| !(rules.implicit && *n == "implicit"))
                .map(|n| GrantType::parse(n))
                .collect::<Option<_>>()
                .ok_or_else(|| metadata_error("a grant type is not supported"))?,
        };
        let response_types = match w.response_types {
            None if grant_types.contains(&GrantType::AuthorizationCode) => {
                vec![ResponseType::Code.as_str().to_owned()]
            }
            None => Vec::new(),
            Some(names) => {
                if names.iter().any(|n| ResponseType::parse(n).is_none()) {
                    return Err(metadata_error("a response type is not supported"));
                }
                let mut names = names;
                names.dedup();
                names
            }
        };
        let scope = match text("scope", w.scope)? {
            None => rules.scopes.clone(),
            Some(s) => ScopeSet::parse(&s).map_err(|_| metadata_error("scope is malformed"))?,
        };
        let contacts = w.contacts.unwrap_or_default();
        if contacts.len() > MAX_CONTACTS {
            return Err(metadata_error("too many contacts"));
        }
        let contacts = contacts
            .into_iter()
            .map(|c| text("contacts", Some(c)).map(Option::unwrap_or_default))
            .collect::<Result<_, _>>()?;
        let jwks = w.jwks.map(public_jwks).transpose()?;
        let jwks_uri = match w.jwks_uri {
            Some(uri) if uri.len() > MAX_URI_LEN || !ClientKeys::is_acceptable_uri(&uri) => {
                return Err(metadata_error(
                    "jwks_uri must be an https URL (or http on a loopback address)",
                ))
            }
            uri => uri,
        };
        let token_endpoint_auth_signing_alg = match w.token_endpoint_auth_signing_alg {
            None => None,
            Some(alg) => Some(AssertionAlgorithm::parse(&alg).ok_or_else(|| {
                metadata_error("token_endpoint_auth_signing_alg is not supported")
            })?),
        };
        let subject_type = match w.subject_type {
            None => SubjectType::NAMES[0].to_owned(),
            Some(t) if SubjectType::NAMES.contains(&t.as_str()) => t,
            Some(_) => return Err(metadata_error("subject_type must be public or pairwise")),
        };
        let id_token_signed_response_alg =
            match w.id_token_signed_response_alg {
                None => None,
                Some(alg) => Some(Algorithm::parse(&alg).ok_or_else(|| {
                    metadata_error("id_token_signed_response_alg is not supported")
                })?),
            };
        let request_object_signing_alg = match w.request_object_signing_alg {
            None => None,
            Some(alg) => Some(
                Algorithm::parse(&alg)
                    .ok_or_else(|| metadata_error("request_object_signing_alg is not supported"))?,
            ),
        };
        let request_uris = w.request_uris.unwrap_or_default();
        if request_uris.len() > MAX_REQUEST_URIS {
            return Err(metadata_error("too many request_uris"));
        }
        let request_uris = request_uris
            .into_iter()
            .map(|u| https_url("request_uris", Some(u)).map(Option::unwrap_or_default))
            .collect::<Result<_, _>>()?;
        // JARM §3: this provider signs responses and encrypts none.
        if w.authorization_encrypted_response_alg.is_some()
            || w.authorization_encrypted_response_enc.is_some()
        {
            return Err(metadata_error(
                "encrypted authorization responses are not supported",
            ));
        }
        let native = application_type == ApplicationType::Native;
        let backchannel_logout_uri = match w.backchannel_logout_uri {
            Some(uri)
                if uri.len() > MAX_URI_LEN
                    || !is_registrable_backchannel_logout_uri(&uri, native) =>
            {
                return Err(metadata_error(
                    "backchannel_logout_uri must be an https URL without fragment",
                ))
            }
            uri => uri,
        };
        let authorization_signed_response_alg = match w.authorization_signed_response_alg {
            None => None,
            Some(alg) => Some(Algorithm::parse(&alg).ok_or_else(|| {
                metadata_error("authorization_signed_response_alg is not supported")
            })?),
        };
        Ok(Self {
            redirect_uris: redirect_uris("redirect_uris", w.redirect_uris, application_type)?,
            token_endpoint_auth_method,
            grant_types,
            response_types,
            application_type,
            scope,
            client_name: text("client_name", w.client_name)?,
            client_uri: https_url("client_uri", w.client_uri)?,
            logo_uri: https_url("logo_uri", w.logo_uri)?,
            tos_uri: https_url("tos_uri", w.tos_uri)?,
            policy_uri: https_url("policy_uri", w.policy_uri)?,
            contacts,
            jwks,
            jwks_uri,
            token_endpoint_auth_signing_alg,
            tls_client_auth_subject_dn: text(
                "tls_client_auth_subject_dn",
                w.tls_client_auth_subject_dn,
            )?,
            tls_client_auth_san_dns: text("tls_client_auth_san_dns", w.tls_client_auth_san_dns)?,
            tls_client_auth_san_uri: text("tls_client_auth_san_uri", w.tls_client_auth_san_uri)?,
            tls_client_auth_san_ip: text("tls_client_auth_san_ip", w.tls_client_auth_san_ip)?,
            tls_client_auth_san_email: text(
                "tls_client_auth_san_email",
                w.tls_client_auth_san_email,
            )?,
            software_id: text("software_id", w.software_id)?,
            software_version: text("software_version", w.software_version)?,
            subject_type,
            id_token_signed_response_alg,
            authorization_signed_response_alg,
            post_logout_redirect_uris: redirect_uris(
                "post_logout_redirect_uris",
                w.post_logout_redirect_uris,
                application_type,
            )?,
            require_auth_time: w.require_auth_time.unwrap_or(false),
            dpop_bound_access_tokens: w.dpop_bound_access_tokens.unwrap_or(false),
            tls_client_certificate_bound_access_tokens: w
                .tls_client_certificate_bound_access_tokens
                .unwrap_or(false),
            require_pushed_authorization_requests: w
                .require_pushed_authorization_requests
                .unwrap_or(false),
            require_signed_request_object: w.require_signed_request_object.unwrap_or(false),
            request_object_signing_alg,
            request_uris,
            authorization_details_types: w
                .authorization_details_types
                .map(|types| types.into_iter().collect()),
            backchannel_logout_uri,
            backchannel_logout_session_required: w
                .backchannel_logout_session_required
                .unwrap_or(false),
        })
    }

    /// The registered `response_types`, each already known to parse.
    fn parsed_response_types(&self) -> impl Iterator<Item = ResponseType> + '_ {
        self.response_types
            .iter()
            .filter_map(|t| ResponseType::parse(t))
    }

    /// Checks the metadata for contradictions and against `rules` (again after a host's
    /// hook edited it): grant and response types consistent (RFC 7591 §2.1), redirect URIs
    /// for the authorization code, no `client_credentials` for a public client (RFC 6749
    /// §4.4), `jwks` xor `jwks_uri` (RFC 7591 §2), the scope within the rules', a pairwise
    /// sector known (OpenID Connect Core §8.1), certificate-bound tokens only where client
    /// certificates reach the provider (RFC 8705 §3.4), and the authentication method one the
    /// rules allow, with what it needs ([`ClientMetadata::check_auth_method`]).
    pub fn check(&self, rules: &RegistrationRules) -> Result<(), RegistrationError> {
        let code = self.grant_types.contains(&GrantType::AuthorizationCode);
        let code_response = self.parsed_response_types().any(ResponseType::has_code);
        if !rules.implicit
            && self
                .parsed_response_types()
                .any(|t| t != ResponseType::Code)
        {
            return Err(metadata_error("a response type is not supported"));
        }
        if !rules.password_grant && self.grant_types.contains(&GrantType::Password) {
            return Err(metadata_error("a grant type is not supported"));
        }
        if code != code_response {
            return Err(metadata_error(
                "grant_types authorization_code and response_types code go together",
            ));
        }
        if code && self.redirect_uris.is_empty() {
            return Err(redirect_error("authorization_code needs redirect_uris"));
        }
        if !self.response_types.is_empty() && self.redirect_uris.is_empty() {
            return Err(redirect_error("response_types need redirect_uris"));
        }
        if self.token_endpoint_auth_method == ClientAuthMethod::None
            && self.grant_types.contains(&GrantType::ClientCredentials)
        {
            return Err(metadata_error(
                "a public client cannot use client_credentials",
            ));
        }
        // Token exchange and JWT bearer assertions act for users without their consent at
        // this server: only for clients the host registers itself.
        if self.grant_types.contains(&GrantType::TokenExchange)
            || self.grant_types.contains(&GrantType::JwtBearer)
        {
            return Err(metadata_error(
                "token exchange and JWT bearer grants are for clients the host registers",
            ));
        }
        if self.jwks.is_some() && self.jwks_uri.is_some() {
            return Err(metadata_error("jwks and jwks_uri are mutually exclusive"));
        }
        if let Some(scope) = self.scope.first_missing_from(&rules.scopes) {
            return Err(metadata_error(format!("scope {scope} is not allowed")));
        }
        self.subject_type()?;
        if self.tls_client_certificate_bound_access_tokens && !rules.mutual_tls {
            return Err(metadata_error(
                "tls_client_certificate_bound_access_tokens needs mutual TLS, which is not offered",
            ));
        }
        // RFC 9101 §10.5: signed request objects verify with the client's keys only.
        if self.require_signed_request_object
            && !matches!(
                self.token_endpoint_auth_method,
                ClientAuthMethod::PrivateKeyJwt | ClientAuthMethod::SelfSignedTlsClientAuth
            )
        {
            return Err(metadata_error(
                "require_signed_request_object needs the client's keys (jwks or jwks_uri, \
                 with private_key_jwt or self_signed_tls_client_auth)",
            ));
        }
        if let Some(t) = self
            .authorization_details_types
            .iter()
            .flatten()
            .find(|t| !rules.authorization_details_types.contains(*t))
        {
            return Err(metadata_error(format!(
                "authorization_details_types: {t} is not supported"
            )));
        }
        if self.backchannel_logout_uri.is_some() && !rules.backchannel_logout {
            return Err(metadata_error("back-channel logout is not supported"));
        }
        self.check_auth_method(rules)
    }

    /// The `token_endpoint_auth_method` is one of the rules' (what discovery advertises),
    /// with its material: `private_key_jwt` exactly one of `jwks` and `jwks_uri` (RFC 7591
    /// §2; `jwks_uri` only if the rules allow it), `self_signed_tls_client_auth` a `jwks`
    /// (RFC 8705 §2.2; no `jwks_uri`, which this server does not fetch for it),
    /// `tls_client_auth` exactly one subject member and every other method none (RFC 8705
    /// §2.1.2); a `token_endpoint_auth_signing_alg` only for a JWT method, and one of its
    /// algorithms in the rules (OpenID Connect Dynamic Client Registration 1.0 §2).
    pub fn check_auth_method(&self, rules: &RegistrationRules) -> Result<(), RegistrationError> {
        use ClientAuthMethod::{ClientSecretJwt, PrivateKeyJwt, SelfSignedTlsClientAuth};
        let method = self.token_endpoint_auth_method;
        if !rules.auth_methods.contains(&method) {
            return Err(metadata_error(
                "token_endpoint_auth_method is not supported",
            ));
        }
        let by_key = matches!(method, PrivateKeyJwt | SelfSignedTlsClientAuth);
        if by_key && self.jwks.is_some() == self.jwks_uri.is_some() {
            return Err(metadata_error(format!(
                "{} needs exactly one of jwks and jwks_uri",
                method.as_str()
            )));
        }
        if self.jwks_uri.is_some() && method == SelfSignedTlsClientAuth {
            return Err(metadata_error(
                "self_signed_tls_client_auth needs jwks: jwks_uri is not supported for it",
            ));
        }
        if self.jwks_uri.is_some() && method == PrivateKeyJwt && !rules.jwks_uri {
            return Err(metadata_error("jwks_uri is not supported: register jwks"));
        }
        let subjects = self.subject_members().count();
        match (method == ClientAuthMethod::TlsClientAuth, subjects) {
            (true, 1) | (false, 0) => {}
            (true, _) => {
                return Err(metadata_error(
                    "tls_client_auth needs exactly one tls_client_auth_* subject member",
                ))
            }
            (false, _) => {
                return Err(metadata_error(
                    "tls_client_auth_* members are for tls_client_auth only",
                ))
            }
        }
        self.certificate_subject()?;
        match (method, self.token_endpoint_auth_signing_alg) {
            (_, None) => Ok(()),
            (PrivateKeyJwt, Some(AssertionAlgorithm::Signature(alg)))
                if rules.private_key_jwt_algs.contains(&alg) =>
            {
                Ok(())
            }
            (ClientSecretJwt, Some(AssertionAlgorithm::Mac(alg)))
                if rules.client_secret_jwt_algs.contains(&alg) =>
            {
                Ok(())
            }
            _ => Err(metadata_error(
                "token_endpoint_auth_signing_alg is not allowed for token_endpoint_auth_method",
            )),
        }
    }

    /// The `tls_client_auth_*` members present: each value with how it becomes a subject.
    fn subject_members(&self) -> impl Iterator<Item = (&str, SubjectOf)> {
        let members: [(&Option<String>, SubjectOf); 5] = [
            (&self.tls_client_auth_subject_dn, |v| {
                Some(CertificateSubject::SubjectDn(v.to_owned()))
            }),
            (&self.tls_client_auth_san_dns, |v| {
                Some(CertificateSubject::SanDns(v.to_owned()))
            }),
            (&self.tls_client_auth_san_uri, |v| {
                Some(CertificateSubject::SanUri(v.to_owned()))
            }),
            (&self.tls_client_auth_san_ip, |v| {
                v.parse().ok().map(CertificateSubject::SanIp)
            }),
            (&self.tls_client_auth_san_email, |v| {
                Some(CertificateSubject::SanEmail(v.to_owned()))
            }),
        ];
        members
            .into_iter()
            .filter_map(|(value, of)| value.as_deref().map(|v| (v, of)))
    }

    /// The subject a `tls_client_auth` client registered (RFC 8705 §2.1.2), if any: the
    /// first subject member's; an empty value, or a `tls_client_auth_san_ip` that is no IP
    /// address, is invalid.
    fn certificate_subject(&self) -> Result<Option<CertificateSubject>, RegistrationError> {
        let Some((value, of)) = self.subject_members().next() else {
            return Ok(None);
        };
        Some(value)
            .filter(|v| !v.is_empty())
            .and_then(of)
            .map(Some)
            .ok_or_else(|| metadata_error("a tls_client_auth_* member is invalid"))
    }

    /// The [`ClientKind`] of a client registered with these (checked) metadata: its keys,
    /// its certificate subject, or `secret`, the one the server issued it if its method
    /// needs one ([`needs_secret`]). `None` when that secret is missing or of another form.
    pub fn client_kind(&self, secret: Option<KeptSecret>) -> Option<ClientKind> {
        let method = self.token_endpoint_auth_method;
        match (method, secret) {
            (ClientAuthMethod::ClientSecretJwt, Some(KeptSecret::Sealed(secret))) => {
                Some(ClientKind::SecretJwt { secret })
            }
            (ClientAuthMethod::PrivateKeyJwt, _) => {
                let keys = match (&self.jwks, &self.jwks_uri) {
                    (Some(set), _) => ClientKeys::Jwks(set.clone()),
                    (None, Some(uri)) => ClientKeys::JwksUri(uri.clone()),
                    (None, None) => return None,
                };
                Some(ClientKind::PrivateKeyJwt { keys })
            }
            (ClientAuthMethod::SelfSignedTlsClientAuth, _) => self
                .jwks
                .clone()
                .map(|keys| ClientKind::SelfSignedTlsClientAuth { keys }),
            (ClientAuthMethod::TlsClientAuth, _) => self
                .certificate_subject()
                .ok()
                .flatten()
                .map(|subject| ClientKind::TlsClientAuth { subject }),
            (_, Some(KeptSecret::Hashed(hash))) => client_kind(method, Some(hash)),
            _ => client_kind(method, None),
        }
    }

    fn subject_type(&self) -> Result<SubjectType, RegistrationError> {
        if self.subject_type == SubjectType::NAMES[0] {
            return Ok(SubjectType::Public);
        }
        SubjectType::pairwise(None, &self.redirect_uris)
            .map_err(|_| metadata_error("a pairwise client's redirect URIs must share one host"))
    }

    /// The client `id` of `kind` these metadata register, with `registration` kept beside
    /// it. The metadata must have passed [`ClientMetadata::check`].
    pub fn to_client(
        &self,
        id: String,
        kind: ClientKind,
        registration: ClientRegistration,
    ) -> Result<Client, RegistrationError> {
        let mut client = self.client_of_kind(id, kind)?;
        client.registration = Some(Box::new(registration));
        Ok(client)
    }

    /// The client `id` of `kind` these (checked) metadata describe, validated; shared with
    /// client ID metadata documents, which have no registration to keep.
    pub(crate) fn client_of_kind(
        &self,
        id: String,
        kind: ClientKind,
    ) -> Result<Client, RegistrationError> {
        let oidc = ClientOidc {
            id_token_signed_response_alg: self.id_token_signed_response_alg,
            subject_type: self.subject_type()?,
            require_auth_time: self.require_auth_time,
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            authorization_signed_response_alg: self.authorization_signed_response_alg,
            backchannel_logout_uri: self.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: self.backchannel_logout_session_required,
        };
        let client = Client::new(id, kind)
            .with_redirect_uris(self.redirect_uris.iter().cloned())
            .with_allowed_scopes(self.scope.clone())
            .with_grant_types(self.grant_types.iter().copied())
            .with_oidc(oidc)
            .with_tokens(ClientTokens {
                dpop_bound_access_tokens: self.dpop_bound_access_tokens,
                tls_client_certificate_bound_access_tokens: self
                    .tls_client_certificate_bound_access_tokens,
                authorization_details_types: self.authorization_details_types.clone(),
                ..ClientTokens::default()
            })
            .with_requests(ClientRequests {
                require_pushed_authorization_requests: self.require_pushed_authorization_requests,
                response_types: self
                    .parsed_response_types()
                    .filter(|t| *t != ResponseType::Code)
                    .collect(),
            })
            .with_request_objects(ClientRequestObjects {
                require_signed: self.require_signed_request_object,
                signing_alg: self.request_object_signing_alg,
                request_uris: self.request_uris.clone(),
                ..ClientRequestObjects::default()
            });
        client
            .validate()
            .map_err(|e| metadata_error(e.to_string()))?;
        Ok(client)
    }
}

/// What a dynamically registered client keeps beside its [`Client`] record: its metadata
/// as registered and the hash of its registration access token (RFC 7592 §1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientRegistration {
    /// The metadata, as registered or last updated.
    pub metadata: ClientMetadata,
    /// SHA-256 of the registration access token (a 256-bit secret).
    pub access_token: TokenHash,
    /// `client_id_issued_at`.
    pub issued_at: UnixTime,
}

impl ClientRegistration {
    /// The registration of `metadata` at `issued_at`, managed with the token hashed to
    /// `access_token`.
    pub fn new(metadata: ClientMetadata, access_token: TokenHash, issued_at: UnixTime) -> Self {
        Self {
            metadata,
            access_token,
            issued_at,
        }
    }

    /// Whether `presented` is the registration access token, compared in constant time.
    pub fn accepts(&self, presented: &str) -> bool {
        crate::secret::constant_time_eq(
            TokenHash::of(presented).as_bytes(),
            self.access_token.as_bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use RegistrationErrorCode::*;

    fn rules() -> RegistrationRules {
        RegistrationRules::new(ScopeSet::parse("openid profile read").unwrap())
    }

    fn parse(body: serde_json::Value) -> Result<RegistrationRequest, RegistrationError> {
        RegistrationRequest::parse(&serde_json::to_vec(&body).unwrap(), &rules())
    }

    fn code_of(body: serde_json::Value) -> RegistrationErrorCode {
        parse(body).expect_err("refused").code
    }

    const WEB: &str = "https://rp.example/cb";

    #[test]
    fn codes_are_rfc_7591s_and_all_400() {
        for (code, wire) in [
            (InvalidRedirectUri, "invalid_redirect_uri"),
            (InvalidClientMetadata, "invalid_client_metadata"),
            (InvalidSoftwareStatement, "invalid_software_statement"),
            (UnapprovedSoftwareStatement, "unapproved_software_statement"),
            (InvalidRequest, "invalid_request"),
        ] {
            assert_eq!((code.as_str(), code.status()), (wire, 400));
        }
    }

    /// RFC 7591 §2: the defaults, and unknown members ignored.
    #[test]
    fn a_minimal_registration_gets_the_defaults() {
        let r = parse(json!({"redirect_uris": [WEB], "unknown": {"x": 1}, "client_name#ja": "x"}))
            .unwrap();
        let m = &r.metadata;
        assert_eq!(
            m.token_endpoint_auth_method,
            ClientAuthMethod::ClientSecretBasic
        );
        assert_eq!(
            m.grant_types,
            BTreeSet::from([GrantType::AuthorizationCode])
        );
        assert_eq!(m.response_types, ["code"]);
        assert_eq!(m.application_type, ApplicationType::Web);
        assert_eq!(m.scope, rules().scopes);
        assert_eq!(m.subject_type, "public");
        assert!(!m.require_auth_time);
        assert_eq!((r.client_id, r.client_secret), (None, None));
        // Round trip through the stored form.
        let stored: ClientMetadata =
            serde_json::from_value(serde_json::to_value(m).unwrap()).unwrap();
        assert_eq!(&stored, m);
    }

    /// JARM §3: `authorization_signed_response_alg` is kept, echoed and carried to the
    /// client.
    #[test]
    fn the_authorization_response_algorithm_is_kept() {
        let m =
            parse(json!({"redirect_uris": [WEB], "authorization_signed_response_alg": "PS256"}))
                .unwrap()
                .metadata;
        assert_eq!(m.authorization_signed_response_alg, Some(Algorithm::PS256));
        let echoed = serde_json::to_value(&m).unwrap();
        assert_eq!(echoed["authorization_signed_response_alg"], "PS256");
        let client = m.client_of_kind("c".into(), ClientKind::Public).unwrap();
        assert_eq!(
            client.oidc.authorization_signed_response_alg,
            Some(Algorithm::PS256)
        );
        let plain = parse(json!({"redirect_uris": [WEB]})).unwrap().metadata;
        assert_eq!(plain.authorization_signed_response_alg, None);
        let echoed = serde_json::to_value(&plain).unwrap();
        assert!(echoed.get("authorization_signed_response_alg").is_none());
    }

    #[test]
    fn everything_registrable_is_kept() {
        let r = parse(json!({
            "redirect_uris": ["com.example.app:/cb", "http://127.0.0.1/cb", WEB],
            "application_type": "native",
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": "openid read",
            "client_name": "App", "client_uri": "https://rp.example",
            "logo_uri": "https://rp.example/l.png", "tos_uri": "https://rp.example/tos",
            "policy_uri": "https://rp.example/p", "contacts": ["a@rp.example"],
            "jwks_uri": "https://rp.example/jwks", "software_id": "id", "software_version": "1",
            "subject_type": "public", "id_token_signed_response_alg": "ES256",
            "post_logout_redirect_uris": ["https://rp.example/bye"], "require_auth_time": true,
            "client_id": "c1", "client_secret": "s"
        }))
        .unwrap();
        let m = r.metadata;
        assert_eq!(m.redirect_uris.len(), 3);
        assert_eq!(m.token_endpoint_auth_method, ClientAuthMethod::None);
        assert_eq!(m.scope.as_str(), "openid read");
        assert_eq!(m.client_name.as_deref(), Some("App"));
        assert_eq!(m.contacts, ["a@rp.example"]);
        assert_eq!(m.jwks_uri.as_deref(), Some("https://rp.example/jwks"));
        assert_eq!(
            (m.software_id.as_deref(), m.software_version.as_deref()),
            (Some("id"), Some("1"))
        );
        assert_eq!(m.id_token_signed_response_alg, Some(Algorithm::ES256));
        assert_eq!(m.post_logout_redirect_uris.len(), 1);
        assert!(m.require_auth_time);
        assert_eq!(
            (r.client_id.as_deref(), r.client_secret.as_deref()),
            (Some("c1"), Some("s"))
        );
        assert_eq!(
            (m.client_uri, m.logo_uri, m.tos_uri, m.policy_uri),
            (
                Some("https://rp.example".into()),
                Some("https://rp.example/l.png".into()),
                Some("https://rp.example/tos".into()),
                Some("https://rp.example/p".into())
            )
        );
    }

    #[test]
    fn redirect_uris_follow_the_application_type() {
        for (uri, app) in [
            ("http://127.0.0.1:8080/cb", "web"),
            ("com.example.app:/cb", "web"),
            ("http://localhost/cb", "native"),
            ("http://rp.example/cb", "native"),
            ("myapp:/cb", "native"),
            ("https://rp.example/cb#frag", "web"),
            ("/relative", "web"),
            ("javascript:alert(1)", "native"),
            ("data:text/html,x", "native"),
            ("file:///etc/passwd", "native"),
            ("JavaScript:alert(1)", "native"),
            ("https:/no-host", "web"),
        ] {
            let body = json!({"redirect_uris": [uri], "application_type": app});
            assert_eq!(code_of(body), InvalidRedirectUri, "{uri} {app}");
        }
        for (uri, app) in [
            (WEB, "web"),
            (WEB, "native"),
            ("http://127.0.0.1:8080/cb", "native"),
            ("http://[::1]/cb", "native"),
            ("com.example.app:/cb", "native"),
        ] {
            let body = json!({"redirect_uris": [uri], "application_type": app});
            assert!(parse(body).is_ok(), "{uri} {app}");
        }
        let long = format!("https://rp.example/{}", "a".repeat(limits::MAX_URI_LEN));
        assert_eq!(
            code_of(json!({"redirect_uris": [long]})),
            InvalidRedirectUri
        );
        let many: Vec<String> = (0..=limits::MAX_URIS)
            .map(|i| format!("{WEB}{i}"))
            .collect();
        assert_eq!(code_of(json!({"redirect_uris": many})), InvalidRedirectUri);
        let enough: Vec<String> = (0..limits::MAX_URIS).map(|i| format!("{WEB}{i}")).collect();
        assert!(parse(json!({"redirect_uris": enough})).is_ok());
        let logout =
            json!({"redirect_uris": [WEB], "post_logout_redirect_uris": ["http://rp.example/"]});
        assert_eq!(code_of(logout), InvalidRedirectUri);
        // The code flow needs a redirect URI.
        assert_eq!(code_of(json!({})), InvalidRedirectUri);
        assert_eq!(code_of(json!({"redirect_uris": []})), InvalidRedirectUri);
    }

    /// RFC 7591 §2.1: grant and response types go together.
    #[test]
    fn grant_and_response_types_must_agree() {
        let service = json!({"grant_types": ["client_credentials"]});
        let m = parse(service).unwrap().metadata;
        assert!(m.response_types.is_empty());
        assert!(m.redirect_uris.is_empty());
        for body in [
            json!({"grant_types": ["client_credentials"], "response_types": ["code"]}),
            json!({"redirect_uris": [WEB], "response_types": []}),
            json!({"redirect_uris": [WEB], "grant_types": ["implicit"]}),
            json!({"redirect_uris": [WEB], "response_types": ["token"]}),
            json!({"redirect_uris": [WEB], "response_types": ["code id_token"]}),
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
        ] {
            assert_eq!(code_of(body.clone()), InvalidClientMetadata, "{body}");
        }
        let twice = json!({"redirect_uris": [WEB], "response_types": ["code", "code"]});
        assert_eq!(parse(twice).unwrap().metadata.response_types, ["code"]);
    }

    /// Token exchange and JWT bearer grants act for users without asking them here: never
    /// for a client that registers itself.
    #[test]
    fn token_exchange_and_jwt_bearer_are_not_for_registered_clients() {
        for grant in [
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
        ] {
            let body = json!({"grant_types": ["client_credentials", grant]});
            let e = parse(body).unwrap_err();
            assert_eq!(e.code, InvalidClientMetadata, "{grant}");
            assert_eq!(
                e.description,
                "token exchange and JWT bearer grants are for clients the host registers"
            );
        }
    }

    /// The implicit and hybrid response types and the password grant register only when
    /// the rules (the provider's policy) allow them; the client then carries them.
    #[test]
    fn legacy_flows_register_only_when_allowed() {
        let legacy = |body: serde_json::Value, implicit, password| {
            let rules = rules().with_legacy_flows(implicit, password);
            RegistrationRequest::parse(&serde_json::to_vec(&body).unwrap(), &rules)
        };
        let hybrid = json!({"redirect_uris": [WEB], "response_types": ["code", "id_token code"]});
        let implicit = json!({"redirect_uris": [WEB], "grant_types": ["implicit"],
            "response_types": ["id_token token"]});
        let password = json!({"grant_types": ["password", "refresh_token"],
            "token_endpoint_auth_method": "client_secret_basic"});
        for body in [&hybrid, &implicit] {
            let e = legacy(body.clone(), false, true).unwrap_err();
            assert_eq!(e.code, InvalidClientMetadata, "{body}");
        }
        let e = legacy(password.clone(), true, false).unwrap_err();
        assert_eq!(e.code, InvalidClientMetadata);
        let registered_types = |r: RegistrationRequest| {
            let client = r.metadata.client_of_kind("c".into(), ClientKind::Public);
            client.unwrap().requests.response_types
        };
        let r = legacy(hybrid, true, false).unwrap();
        assert_eq!(
            registered_types(r),
            BTreeSet::from([ResponseType::CodeIdToken])
        );
        let r = legacy(implicit, true, false).unwrap();
        assert!(r.metadata.grant_types.is_empty());
        assert_eq!(
            registered_types(r),
            BTreeSet::from([ResponseType::IdTokenToken])
        );
        let r = legacy(password, false, true).unwrap();
        assert!(r.metadata.grant_types.contains(&GrantType::Password));
        let no_uri = json!({"grant_types": [], "response_types": ["token"]});
        assert_eq!(
            legacy(no_uri, true, false).unwrap_err().code,
            InvalidRedirectUri
        );
    }

    #[test]
    fn only_supported_methods_algorithms_and_scopes() {
        for method in [
            "private_key_jwt",
            "client_secret_jwt",
            "tls_client_auth",
            "self_signed_tls_client_auth",
            "other",
        ] {
            let body = json!({"redirect_uris": [WEB], "token_endpoint_auth_method": method});
            assert_eq!(code_of(body), InvalidClientMetadata, "{method}");
        }
        for (member, value) in [
            ("id_token_signed_response_alg", json!("none")),
            ("id_token_signed_response_alg", json!("HS256")),
            ("authorization_signed_response_alg", json!("none")),
            ("authorization_signed_response_alg", json!("HS256")),
            ("authorization_signed_response_alg", json!(256)),
            (
                "authorization_encrypted_response_alg",
                json!("RSA-OAEP-256"),
            ),
            ("authorization_encrypted_response_enc", json!("A128GCM")),
            ("scope", json!("openid admin")),
            ("scope", json!("bad\"scope")),
            ("application_type", json!("desktop")),
            ("subject_type", json!("secret")),
            ("client_uri", json!("http://rp.example")),
            ("logo_uri", json!("javascript:x")),
            ("tos_uri", json!("https://rp.example/#x")),
            ("policy_uri", json!("nope")),
            ("jwks_uri", json!("http://rp.example/jwks")),
            ("jwks", json!({"nokeys": []})),
            ("jwks", json!("string")),
            ("client_name", json!(5)),
            ("redirect_uris", json!("https://rp.example/cb")),
            ("require_auth_time", json!("yes")),
            ("dpop_bound_access_tokens", json!("yes")),
            ("tls_client_certificate_bound_access_tokens", json!(1)),
            ("require_pushed_authorization_requests", json!("yes")),
            ("sector_identifier_uri", json!("https://rp.example/s.json")),
            ("client_name", json!("n".repeat(limits::MAX_TEXT_LEN + 1))),
            ("contacts", json!(vec!["a"; limits::MAX_CONTACTS + 1])),
            ("contacts", json!(["c".repeat(limits::MAX_TEXT_LEN + 1)])),
            ("software_id", json!("s".repeat(limits::MAX_TEXT_LEN + 1))),
            (
                "software_version",
                json!("v".repeat(limits::MAX_TEXT_LEN + 1)),
            ),
        ] {
            let mut body = json!({"redirect_uris": [WEB]});
            body[member] = value.clone();
            assert_eq!(code_of(body), InvalidClientMetadata, "{member}: {value}");
        }
        let ok = json!({"redirect_uris": [WEB], "client_name": "n".repeat(limits::MAX_TEXT_LEN),
            "contacts": vec!["a"; limits::MAX_CONTACTS]});
        assert!(parse(ok).is_ok());
    }

    fn jwk() -> serde_json::Value {
        json!({"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
               "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})
    }

    #[test]
    fn jwks_xor_jwks_uri_and_bounded() {
        let inline = json!({"redirect_uris": [WEB], "jwks": {"keys": [jwk()]}});
        assert_eq!(parse(inline).unwrap().metadata.jwks.unwrap().keys.len(), 1);
        let both = json!({"redirect_uris": [WEB], "jwks": {"keys": [jwk()]},
            "jwks_uri": "https://rp.example/jwks"});
        assert_eq!(code_of(both), InvalidClientMetadata);
        let keys = vec![jwk(); limits::MAX_JWKS_KEYS + 1];
        assert_eq!(
            code_of(json!({"redirect_uris": [WEB], "jwks": {"keys": keys}})),
            InvalidClientMetadata
        );
        let keys = vec![jwk(); limits::MAX_JWKS_KEYS];
        assert!(parse(json!({"redirect_uris": [WEB], "jwks": {"keys": keys}})).is_ok());
    }

    /// Rules allowing every method, all algorithms and `jwks_uri`.
    fn all_methods() -> RegistrationRules {
        rules().with_auth_methods(
            ClientAuthMethod::ALL.to_vec(),
            Algorithm::ALL.to_vec(),
            MacAlgorithm::ALL.to_vec(),
            true,
        )
    }

    fn parse_with(
        rules: &RegistrationRules,
        body: serde_json::Value,
    ) -> Result<RegistrationRequest, RegistrationError> {
        RegistrationRequest::parse(&serde_json::to_vec(&body).unwrap(), rules)
    }

    /// A `client_credentials` body of `method` with `extra` members.
    fn service(method: &str, extra: serde_json::Value) -> serde_json::Value {
        let mut body = json!({"grant_types": ["client_credentials"],
            "token_endpoint_auth_method": method});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    }

    fn refused_with(rules: &RegistrationRules, body: serde_json::Value) -> String {
        let e = parse_with(rules, body.clone()).expect_err(&body.to_string());
        assert_eq!(e.code, InvalidClientMetadata, "{body}");
        e.description.into_owned()
    }

    /// RFC 7591 §2: `private_key_jwt` and `self_signed_tls_client_auth` need exactly one of
    /// `jwks` and `jwks_uri`; RFC 8705 §2.2: the self-signed one only `jwks` here.
    #[test]
    fn key_methods_need_exactly_one_key_source() {
        let rules = all_methods();
        let jwks = json!({"keys": [jwk()]});
        let uri = "https://rp.example/jwks";
        let loopback = "http://127.0.0.1:9000/jwks";
        for method in ["private_key_jwt", "self_signed_tls_client_auth"] {
            let d = refused_with(&rules, service(method, json!({})));
            assert_eq!(
                d,
                format!("{method} needs exactly one of jwks and jwks_uri")
            );
            let both = service(method, json!({"jwks": jwks, "jwks_uri": uri}));
            assert_eq!(
                refused_with(&rules, both),
                "jwks and jwks_uri are mutually exclusive"
            );
            let m = parse_with(&rules, service(method, json!({"jwks": jwks})))
                .unwrap()
                .metadata;
            assert_eq!(m.jwks.as_ref().unwrap().keys.len(), 1);
        }
        let m = parse_with(
            &rules,
            service("private_key_jwt", json!({"jwks_uri": loopback})),
        )
        .unwrap()
        .metadata;
        assert_eq!(m.jwks_uri.as_deref(), Some(loopback));
        assert!(parse_with(&rules, service("private_key_jwt", json!({"jwks_uri": uri}))).is_ok());
        let d = refused_with(
            &rules,
            service("self_signed_tls_client_auth", json!({"jwks_uri": uri})),
        );
        assert!(d.contains("needs jwks"), "{d}");
        // Without a fetcher, no jwks_uri.
        let no_fetch = rules.clone().with_auth_methods(
            ClientAuthMethod::ALL.to_vec(),
            Algorithm::ALL.to_vec(),
            Vec::new(),
            false,
        );
        let d = refused_with(
            &no_fetch,
            service("private_key_jwt", json!({"jwks_uri": uri})),
        );
        assert_eq!(d, "jwks_uri is not supported: register jwks");
        assert!(parse_with(&no_fetch, service("private_key_jwt", json!({"jwks": jwks}))).is_ok());
        for bad in [
            "http://rp.example/jwks",
            "https://u:p@rp.example/jwks",
            "https://rp.example/jwks#f",
            "ftp://rp.example/jwks",
        ] {
            let d = refused_with(&rules, service("private_key_jwt", json!({"jwks_uri": bad})));
            assert!(d.starts_with("jwks_uri must be"), "{bad}: {d}");
        }
        let long = format!("https://rp.example/{}", "a".repeat(limits::MAX_URI_LEN));
        refused_with(
            &rules,
            service("private_key_jwt", json!({"jwks_uri": long})),
        );
    }

    /// URIs of exactly the longest length pass (cargo-mutants pinned the bounds).
    #[test]
    fn uris_of_the_longest_length_pass() {
        let longest =
            |prefix: &str| format!("{prefix}{}", "a".repeat(limits::MAX_URI_LEN - prefix.len()));
        let redirect = longest("https://rp.example/");
        assert!(parse(json!({"redirect_uris": [redirect]})).is_ok());
        let jwks_uri = longest("https://rp.example/");
        let body = service("private_key_jwt", json!({ "jwks_uri": jwks_uri }));
        assert!(parse_with(&all_methods(), body).is_ok());
    }

    /// A client registers public keys only, each one this server can verify with.
    #[test]
    fn jwks_holds_usable_public_keys_only() {
        let rules = all_methods();
        for member in PRIVATE_JWK_MEMBERS {
            let mut key = jwk();
            key[member] = json!("AAAA");
            let body = service("private_key_jwt", json!({"jwks": {"keys": [key]}}));
            assert_eq!(
                refused_with(&rules, body),
                "jwks must hold public keys only",
                "{member}"
            );
        }
        for key in [
            json!({"kty": "oct", "kid": "s"}),
            json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}),
            json!({"crv": "P-256"}),
            json!("key"),
        ] {
            let body = service("private_key_jwt", json!({"jwks": {"keys": [jwk(), key]}}));
            assert_eq!(
                refused_with(&rules, body),
                "a jwks key is not a usable public key"
            );
        }
        for set in [json!({"keys": "x"}), json!({"keys": {}}), json!([jwk()])] {
            let body = service("private_key_jwt", json!({ "jwks": set }));
            assert_eq!(refused_with(&rules, body), "jwks is not a JWK Set");
        }
    }

    /// RFC 8705 §2.1.2: exactly one subject member, for `tls_client_auth` only.
    #[test]
    fn tls_client_auth_needs_exactly_one_subject() {
        let rules = all_methods();
        let members = [
            ("tls_client_auth_subject_dn", "CN=app,O=Example"),
            ("tls_client_auth_san_dns", "app.example"),
            ("tls_client_auth_san_uri", "https://app.example"),
            ("tls_client_auth_san_ip", "192.0.2.1"),
            ("tls_client_auth_san_email", "app@example.com"),
        ];
        for (member, value) in members {
            let body = service("tls_client_auth", json!({ member: value }));
            let m = parse_with(&rules, body).unwrap().metadata;
            let subject = m.certificate_subject().unwrap().unwrap();
            assert_eq!(subject.metadata_name(), member);
            assert_eq!(
                m.client_kind(None),
                Some(ClientKind::TlsClientAuth { subject })
            );
            let body = service("client_secret_basic", json!({ member: value }));
            assert_eq!(
                refused_with(&rules, body),
                "tls_client_auth_* members are for tls_client_auth only"
            );
        }
        let none = service("tls_client_auth", json!({}));
        let two = service(
            "tls_client_auth",
            json!({"tls_client_auth_san_dns": "a.example", "tls_client_auth_san_ip": "::1"}),
        );
        for body in [none, two] {
            assert_eq!(
                refused_with(&rules, body),
                "tls_client_auth needs exactly one tls_client_auth_* subject member"
            );
        }
        for (member, value) in [
            ("tls_client_auth_san_ip", "not-an-ip"),
            ("tls_client_auth_san_dns", ""),
        ] {
            let body = service("tls_client_auth", json!({ member: value }));
            assert_eq!(
                refused_with(&rules, body),
                "a tls_client_auth_* member is invalid"
            );
        }
        let long = "d".repeat(limits::MAX_TEXT_LEN + 1);
        refused_with(
            &rules,
            service("tls_client_auth", json!({"tls_client_auth_san_dns": long})),
        );
    }

    /// OpenID Connect Dynamic Client Registration 1.0 §2: the signing algorithm belongs to
    /// a JWT method and must be one of its algorithms here.
    #[test]
    fn the_signing_alg_fits_the_method() {
        let rules = all_methods().with_auth_methods(
            ClientAuthMethod::ALL.to_vec(),
            vec![Algorithm::ES256],
            vec![MacAlgorithm::HS256],
            true,
        );
        let jwks = json!({"keys": [jwk()]});
        let alg = |method: &str, alg: &str| {
            let mut extra = json!({ "token_endpoint_auth_signing_alg": alg });
            if method == "private_key_jwt" {
                extra["jwks"] = jwks.clone();
            }
            service(method, extra)
        };
        let m = parse_with(&rules, alg("private_key_jwt", "ES256"))
            .unwrap()
            .metadata;
        assert_eq!(
            m.token_endpoint_auth_signing_alg,
            Some(AssertionAlgorithm::Signature(Algorithm::ES256))
        );
        let m = parse_with(&rules, alg("client_secret_jwt", "HS256"))
            .unwrap()
            .metadata;
        assert_eq!(
            m.token_endpoint_auth_signing_alg,
            Some(AssertionAlgorithm::Mac(MacAlgorithm::HS256))
        );
        for (method, name) in [
            ("private_key_jwt", "RS256"),
            ("private_key_jwt", "HS256"),
            ("client_secret_jwt", "HS512"),
            ("client_secret_jwt", "ES256"),
            ("client_secret_basic", "HS256"),
            ("client_secret_post", "ES256"),
        ] {
            assert_eq!(
                refused_with(&rules, alg(method, name)),
                "token_endpoint_auth_signing_alg is not allowed for token_endpoint_auth_method",
                "{method} {name}"
            );
        }
        for name in ["none", "HS1", "es256"] {
            assert_eq!(
                refused_with(&rules, alg("private_key_jwt", name)),
                "token_endpoint_auth_signing_alg is not supported"
            );
        }
        // Stored and read back as its name.
        let stored = serde_json::to_value(&m).unwrap();
        assert_eq!(stored["token_endpoint_auth_signing_alg"], "HS256");
        assert_eq!(serde_json::from_value::<ClientMetadata>(stored).unwrap(), m);
    }

    /// Only the methods the rules (discovery) list may be registered.
    #[test]
    fn only_enabled_methods() {
        let jwks = json!({"keys": [jwk()]});
        let bodies = [
            service("client_secret_jwt", json!({})),
            service("private_key_jwt", json!({"jwks": jwks})),
            service("self_signed_tls_client_auth", json!({"jwks": jwks})),
            service(
                "tls_client_auth",
                json!({"tls_client_auth_san_dns": "a.example"}),
            ),
            service("client_secret_post", json!({})),
        ];
        for body in &bodies {
            assert!(parse_with(&all_methods(), body.clone()).is_ok(), "{body}");
        }
        let basic_only = rules().with_auth_methods(
            vec![ClientAuthMethod::ClientSecretBasic],
            Algorithm::ALL.to_vec(),
            MacAlgorithm::ALL.to_vec(),
            true,
        );
        for body in bodies {
            assert_eq!(
                refused_with(&basic_only, body),
                "token_endpoint_auth_method is not supported"
            );
        }
        assert_eq!(
            refused_with(&all_methods(), service("other", json!({}))),
            "token_endpoint_auth_method is not supported"
        );
    }

    /// Each method's metadata become its kind, with the secret in the form it needs.
    #[test]
    fn every_method_becomes_its_kind() {
        let rules = all_methods();
        let set: JwkSet = serde_json::from_value(json!({"keys": [jwk()]})).unwrap();
        let metadata = |body| parse_with(&rules, body).unwrap().metadata;
        let hash = ClientSecretHash::sha256_of_generated(&"s".repeat(43)).unwrap();
        let sealed: SealedClientSecret = serde_json::from_value(json!("AAAA")).unwrap();
        let (hashed, kept_sealed) = (
            KeptSecret::Hashed(hash.clone()),
            KeptSecret::Sealed(sealed.clone()),
        );

        let pk = metadata(service("private_key_jwt", json!({"jwks": set})));
        let keys = ClientKeys::Jwks(set.clone());
        assert_eq!(
            pk.client_kind(None),
            Some(ClientKind::PrivateKeyJwt { keys })
        );
        let uri = metadata(service(
            "private_key_jwt",
            json!({"jwks_uri": "https://rp.example/j"}),
        ));
        let keys = ClientKeys::JwksUri("https://rp.example/j".into());
        assert_eq!(
            uri.client_kind(None),
            Some(ClientKind::PrivateKeyJwt { keys })
        );
        let selfs = metadata(service("self_signed_tls_client_auth", json!({"jwks": set})));
        assert_eq!(
            selfs.client_kind(None),
            Some(ClientKind::SelfSignedTlsClientAuth { keys: set.clone() })
        );
        let sj = metadata(service("client_secret_jwt", json!({})));
        assert_eq!(
            sj.client_kind(Some(kept_sealed.clone())),
            Some(ClientKind::SecretJwt { secret: sealed })
        );
        assert_eq!(sj.client_kind(Some(hashed.clone())), None);
        assert_eq!(sj.client_kind(None), None);
        let post = metadata(service("client_secret_post", json!({})));
        assert_eq!(
            post.client_kind(Some(hashed)),
            Some(ClientKind::confidential_with(hash, SecretMethod::Post))
        );
        assert_eq!(post.client_kind(Some(kept_sealed)), None);
        assert_eq!(post.client_kind(None), None);
        // Metadata a hook broke after the check become no kind.
        let mut broken = pk.clone();
        broken.jwks = None;
        assert_eq!(broken.client_kind(None), None);
        let mut broken = selfs;
        broken.jwks = None;
        assert_eq!(broken.client_kind(None), None);
        let mut tls = metadata(service(
            "tls_client_auth",
            json!({"tls_client_auth_san_ip": "::1"}),
        ));
        tls.tls_client_auth_san_ip = Some("x".into());
        assert_eq!(tls.client_kind(None), None);
        tls.tls_client_auth_san_ip = None;
        assert_eq!(tls.client_kind(None), None);

        assert!(needs_secret(ClientAuthMethod::ClientSecretJwt));
        for m in [
            ClientAuthMethod::PrivateKeyJwt,
            ClientAuthMethod::TlsClientAuth,
            ClientAuthMethod::SelfSignedTlsClientAuth,
        ] {
            assert!(!needs_secret(m), "{m:?}");
        }
        // A registration's client of each kind is valid.
        let reg = ClientRegistration::new(pk.clone(), TokenHash::of("t"), UnixTime::from_secs(1));
        let kind = pk.client_kind(None).unwrap();
        assert!(pk.to_client("c".into(), kind, reg).is_ok());
    }

    /// The new members are optional in the stored form: records from before them still load.
    #[test]
    fn stored_metadata_without_the_new_members_load() {
        let m = parse(json!({"redirect_uris": [WEB]})).unwrap().metadata;
        let stored = serde_json::to_value(&m).unwrap();
        for member in [
            "token_endpoint_auth_signing_alg",
            "tls_client_auth_subject_dn",
            "tls_client_auth_san_dns",
            "tls_client_auth_san_uri",
            "tls_client_auth_san_ip",
            "tls_client_auth_san_email",
        ] {
            assert!(stored.get(member).is_none(), "{member}");
        }
        let mut stored = stored;
        for member in [
            "dpop_bound_access_tokens",
            "tls_client_certificate_bound_access_tokens",
            "require_pushed_authorization_requests",
        ] {
            assert_eq!(
                stored.as_object_mut().unwrap().remove(member),
                Some(json!(false))
            );
        }
        assert_eq!(serde_json::from_value::<ClientMetadata>(stored).unwrap(), m);
    }

    /// RFC 7591 §2.3: an unverified statement is never trusted.
    #[test]
    fn software_statements_are_refused() {
        let body = json!({"redirect_uris": [WEB], "software_statement": "eyJ.e30.x"});
        assert_eq!(code_of(body), InvalidSoftwareStatement);
    }

    #[test]
    fn pairwise_needs_one_host() {
        let two =
            json!({"redirect_uris": [WEB, "https://other.example/cb"], "subject_type": "pairwise"});
        assert_eq!(code_of(two), InvalidClientMetadata);
    }

    #[test]
    fn the_body_is_bounded_before_it_is_parsed() {
        let rules = rules();
        let big = vec![b' '; limits::MAX_BODY_BYTES + 1];
        let e = RegistrationRequest::parse(&big, &rules).unwrap_err();
        assert_eq!(e.code, InvalidClientMetadata);
        assert!(e.description.contains("too large"));
        let mut fits = br#"{"redirect_uris":["https://rp.example/cb"]}"#.to_vec();
        fits.resize(limits::MAX_BODY_BYTES, b' ');
        assert!(RegistrationRequest::parse(&fits, &rules).is_ok());

        let deep = |n: usize| {
            format!(
                r#"{{"redirect_uris":["{WEB}"],"x":{}1{}}}"#,
                "[".repeat(n - 1),
                "]".repeat(n - 1)
            )
        };
        let e =
            RegistrationRequest::parse(deep(limits::MAX_DEPTH + 1).as_bytes(), &rules).unwrap_err();
        assert!(e.description.contains("nested"), "{e:?}");
        assert!(RegistrationRequest::parse(deep(limits::MAX_DEPTH).as_bytes(), &rules).is_ok());
        // Brackets inside strings, escaped quotes included, do not count.
        let quoted = format!(
            r#"{{"redirect_uris":["{WEB}"],"x":"\"{}"}}"#,
            "[".repeat(50)
        );
        assert!(RegistrationRequest::parse(quoted.as_bytes(), &rules).is_ok());
        let escaped = format!(
            r#"{{"redirect_uris":["{WEB}"],"x":"\\","y":{}1{}}}"#,
            "[".repeat(6),
            "]".repeat(6)
        );
        assert!(RegistrationRequest::parse(escaped.as_bytes(), &rules).is_err());
        for junk in [&b"[]"[..], b"", b"null", b"{", b"\xff"] {
            let e = RegistrationRequest::parse(junk, &rules).unwrap_err();
            assert_eq!(e.code, InvalidClientMetadata);
        }
    }

    /// RFC 9449 §5.2, RFC 8705 §3.4: the binding flags default to false, become the
    /// client's token flags, and certificate binding needs client certificates to arrive.
    #[test]
    fn token_binding_metadata_become_the_clients_flags() {
        let bound = json!({"redirect_uris": [WEB], "dpop_bound_access_tokens": true,
            "tls_client_certificate_bound_access_tokens": true});
        let e = parse(bound.clone()).unwrap_err();
        assert_eq!((e.code, e.code.status()), (InvalidClientMetadata, 400));
        let mtls = rules().with_mutual_tls(true);
        let body = serde_json::to_vec(&bound).unwrap();
        let m = RegistrationRequest::parse(&body, &mtls).unwrap().metadata;
        let c = m.client_of_kind("c1".into(), ClientKind::Public).unwrap();
        assert!(c.tokens.dpop_bound_access_tokens);
        assert!(c.tokens.tls_client_certificate_bound_access_tokens);
        assert!(!c.tokens.require_dpop_nonce);
        let wire = serde_json::to_value(&m).unwrap();
        assert_eq!(wire["dpop_bound_access_tokens"], true);
        assert_eq!(wire["tls_client_certificate_bound_access_tokens"], true);
        let m = parse(json!({"redirect_uris": [WEB]})).unwrap().metadata;
        let c = m.client_of_kind("c1".into(), ClientKind::Public).unwrap();
        assert_eq!(c.tokens, ClientTokens::default());
    }

    /// RFC 9126 §6: `require_pushed_authorization_requests` defaults to false, becomes the
    /// client's request flag and is echoed.
    #[test]
    fn pushed_request_requirement_becomes_the_clients_flag() {
        let m = parse(json!({"redirect_uris": [WEB],
            "require_pushed_authorization_requests": true}))
        .unwrap()
        .metadata;
        let c = m.client_of_kind("c1".into(), ClientKind::Public).unwrap();
        assert!(c.requests.require_pushed_authorization_requests);
        let wire = serde_json::to_value(&m).unwrap();
        assert_eq!(wire["require_pushed_authorization_requests"], true);
        let m = parse(json!({"redirect_uris": [WEB]})).unwrap().metadata;
        let c = m.client_of_kind("c1".into(), ClientKind::Public).unwrap();
        assert_eq!(c.requests, ClientRequests::default());
    }

    #[test]
    fn metadata_become_a_client() {
        let m = parse(
            json!({"redirect_uris": [WEB], "scope": "openid", "subject_type": "pairwise",
            "require_auth_time": true, "id_token_signed_response_alg": "EdDSA"}),
        )
        .unwrap()
        .metadata;
        let hash = ClientSecretHash::sha256_of_generated(&"s".repeat(43)).unwrap();
        let kind = client_kind(m.token_endpoint_auth_method, Some(hash.clone())).unwrap();
        assert_eq!(
            kind,
            ClientKind::confidential_with(hash, SecretMethod::Basic)
        );
        let reg = ClientRegistration::new(m.clone(), TokenHash::of("t"), UnixTime::from_secs(7));
        let c = m.to_client("c1".into(), kind, reg.clone()).unwrap();
        assert_eq!(c.id, "c1");
        assert_eq!(c.redirect_uris, m.redirect_uris);
        assert_eq!(c.allowed_scopes.as_str(), "openid");
        assert!(c.default_scopes.is_empty());
        assert_eq!(c.grant_types, m.grant_types);
        assert!(c.oidc.require_auth_time);
        assert_eq!(c.oidc.id_token_signed_response_alg, Some(Algorithm::EdDSA));
        assert_eq!(
            c.oidc.subject_type,
            SubjectType::Pairwise {
                sector_identifier: "rp.example".into()
            }
        );
        assert_eq!(c.registration.as_deref(), Some(&reg));
        assert!(reg.accepts("t") && !reg.accepts("u"));

        assert_eq!(
            client_kind(ClientAuthMethod::None, None),
            Some(ClientKind::Public)
        );
        assert_eq!(client_kind(ClientAuthMethod::ClientSecretPost, None), None);
        assert!(needs_secret(ClientAuthMethod::ClientSecretPost));
        assert!(needs_secret(ClientAuthMethod::ClientSecretBasic));
        assert!(!needs_secret(ClientAuthMethod::None));

        // A client the core refuses is invalid metadata, e.g. a public client's refresh.
        let public = parse(json!({"grant_types": ["client_credentials"]}))
            .unwrap()
            .metadata;
        let err = public
            .to_client("c2".into(), ClientKind::Public, reg)
            .unwrap_err();
        assert_eq!(err.code, InvalidClientMetadata);
    }

    /// RFC 9396 §10: `authorization_details_types` names only types the provider accepts,
    /// and becomes the client's list.
    #[test]
    fn authorization_details_types_are_the_providers_and_become_the_clients() {
        let body = json!({"redirect_uris": [WEB],
            "authorization_details_types": ["payment_initiation"]});
        let e = parse(body.clone()).unwrap_err();
        assert_eq!((e.code, e.code.status()), (InvalidClientMetadata, 400));
        assert_eq!(
            e.description,
            "authorization_details_types: payment_initiation is not supported"
        );
        let rules = rules().with_authorization_details_types(["payment_initiation", "other"]);
        let bytes = serde_json::to_vec(&body).unwrap();
        let m = RegistrationRequest::parse(&bytes, &rules).unwrap().metadata;
        let c = m.client_of_kind("c1".into(), ClientKind::Public).unwrap();
        assert_eq!(
            c.tokens.authorization_details_types,
            Some(BTreeSet::from(["payment_initiation".to_owned()]))
        );
        let unknown = json!({"redirect_uris": [WEB], "authorization_details_types": ["x"]});
        let bytes = serde_json::to_vec(&unknown).unwrap();
        let e = RegistrationRequest::parse(&bytes, &rules).unwrap_err();
        assert_eq!(e.code, InvalidClientMetadata);
        assert_eq!(
            e.description,
            "authorization_details_types: x is not supported"
        );
    }

    /// RFC 9101 §10.5: a client that requires signed request objects needs keys to sign
    /// them with (a keyless one could never authorize); `request_uris` are `https` URLs,
    /// bounded in number and length, kept for the client.
    #[test]
    fn request_object_metadata_is_consistent_and_bounded() {
        let rules = all_methods();
        let jwks = json!({"keys": [jwk()]});
        let signed = |method: &str, extra: serde_json::Value| {
            let mut body = json!({"redirect_uris": [WEB], "token_endpoint_auth_method": method,
                "require_signed_request_object": true});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            body
        };
        let needs = "require_signed_request_object needs the client's keys (jwks or jwks_uri, \
                     with private_key_jwt or self_signed_tls_client_auth)";
        for method in ["none", "client_secret_basic", "client_secret_post"] {
            assert_eq!(refused_with(&rules, signed(method, json!({}))), needs);
        }
        // Keys registered beside a secret method are not the client's signing keys.
        assert_eq!(
            refused_with(&rules, signed("client_secret_basic", json!({"jwks": jwks}))),
            needs
        );
        for method in ["private_key_jwt", "self_signed_tls_client_auth"] {
            let m = parse_with(&rules, signed(method, json!({"jwks": jwks})))
                .unwrap()
                .metadata;
            assert!(m.require_signed_request_object, "{method}");
        }
        let uris = |list: serde_json::Value| json!({"redirect_uris": [WEB], "request_uris": list});
        let longest = format!(
            "https://rp.example/{}",
            "a".repeat(limits::MAX_URI_LEN - "https://rp.example/".len())
        );
        let many: Vec<String> = (0..limits::MAX_REQUEST_URIS)
            .map(|i| format!("https://rp.example/r/{i}"))
            .collect();
        let m = parse(uris(json!(many))).unwrap().metadata;
        assert_eq!(m.request_uris, many);
        let registration =
            ClientRegistration::new(m.clone(), TokenHash::of("t"), UnixTime::from_secs(0));
        let client = m.to_client("c".into(), ClientKind::Public, registration);
        assert_eq!(client.unwrap().request_objects.request_uris, many);
        assert!(parse(uris(json!([longest]))).is_ok());
        let mut too_many = many;
        too_many.push("https://rp.example/r/x".into());
        assert_eq!(
            refused_with(&rules, uris(json!(too_many))),
            "too many request_uris"
        );
        for bad in [
            "http://rp.example/r",
            "https://rp.example/r#frag",
            "urn:ietf:params:oauth:request_uri:x",
            "https://",
        ] {
            assert_eq!(
                refused_with(&rules, uris(json!([bad]))),
                "request_uris must be an https URL",
                "{bad}"
            );
        }
        assert_eq!(
            refused_with(&rules, uris(json!([format!("{longest}a")]))),
            "request_uris must be an https URL"
        );
        assert!(parse(json!({"redirect_uris": [WEB]}))
            .unwrap()
            .metadata
            .request_uris
            .is_empty());
    }

    /// Back-Channel Logout 1.0 §2.2: a web client's `backchannel_logout_uri` is an `https`
    /// URL of at most `MAX_URI_LEN` bytes without fragment; a native client's may be
    /// loopback `http`, as its redirect URIs (RFC 8252 §7.3).
    #[test]
    fn backchannel_logout_uris_are_https_except_a_native_clients_loopback() {
        let rules = rules().with_backchannel_logout(true);
        let native = |uri: &str| {
            json!({"application_type": "native", "redirect_uris": ["http://127.0.0.1/cb"],
                   "token_endpoint_auth_method": "none", "backchannel_logout_uri": uri})
        };
        let web = |uri: &str| json!({"redirect_uris": [WEB], "backchannel_logout_uri": uri});
        let registered = |body| {
            parse_with(&rules, body)
                .expect("registered")
                .metadata
                .backchannel_logout_uri
        };
        let https = "https://rp.example/bcl";
        assert_eq!(registered(web(https)).as_deref(), Some(https));
        let loopback = "http://127.0.0.1:8080/bcl";
        assert_eq!(registered(native(loopback)).as_deref(), Some(loopback));
        let longest = format!("https://rp.example/{}", "a".repeat(MAX_URI_LEN - 19));
        assert_eq!(registered(web(&longest)), Some(longest.clone()));
        let refusal = "backchannel_logout_uri must be an https URL without fragment";
        for body in [
            web(loopback),
            web("https://rp.example/bcl#f"),
            web(&format!("{longest}a")),
        ] {
            assert_eq!(refused_with(&rules, body), refusal);
        }
    }
}
