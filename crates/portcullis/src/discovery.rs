//! Discovery (OpenID Connect Discovery 1.0 §3, RFC 8414 §2) and the JWKS (RFC 7517 §5).
//! Every URL derives from the configured issuer, never from request headers.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::Response;
use portcullis_core::{
    Algorithm, ClientAuthMethod, CodeChallengeMethod, GrantType, Issuer, JwkSet, Prompt,
    ResponseMode, ResponseType, SubjectType, TokenErrorCode, STANDARD_CLAIMS,
};
use serde::Serialize;

use crate::endpoint_error::EndpointError;
use crate::keys::KeyError;
use crate::observability;
use crate::provider::Provider;
use crate::responses::json_error;

/// Where the endpoints live below the issuer.
pub mod paths {
    /// Authorization endpoint (RFC 6749 §3.1).
    pub const AUTHORIZE: &str = "/authorize";
    /// Token endpoint (RFC 6749 §3.2).
    pub const TOKEN: &str = "/token";
    /// Pushed authorization request endpoint (RFC 9126 §2).
    pub const PAR: &str = "/par";
    /// Device authorization endpoint (RFC 8628 §3.1).
    pub const DEVICE_AUTHORIZATION: &str = "/device_authorization";
    /// JWK Set (RFC 7517 §5).
    pub const JWKS: &str = "/jwks";
    /// Token introspection (RFC 7662 §2).
    pub const INTROSPECT: &str = "/introspect";
    /// Token revocation (RFC 7009 §2).
    pub const REVOKE: &str = "/revoke";
    /// Client registration and management (RFC 7591 §3, RFC 7592 §2).
    pub const REGISTER: &str = "/register";
    /// UserInfo (OpenID Connect Core §5.3).
    pub const USERINFO: &str = "/userinfo";
    /// RP-Initiated Logout (OpenID Connect RP-Initiated Logout 1.0 §2).
    pub const END_SESSION: &str = "/session/end";
    /// OpenID Provider metadata (OpenID Connect Discovery 1.0 §4).
    pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
    /// Authorization server metadata (RFC 8414 §3).
    pub const OAUTH_AUTHORIZATION_SERVER: &str = "/.well-known/oauth-authorization-server";
}

/// The scopes every provider lists: OpenID Connect's (Core §3.1.2.1, §5.4, §11), before the
/// host's own ([`ProviderBuilder::advertise_scopes`](crate::ProviderBuilder::advertise_scopes)).
const OPENID_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
];

/// The wire names of `values`.
fn names<T: Copy>(values: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
    values.iter().map(|v| name(*v)).collect()
}

#[derive(Serialize)]
struct Metadata<'a> {
    issuer: &'a str,
    authorization_endpoint: String,
    jwks_uri: String,
    end_session_endpoint: String,
    /// Back-Channel Logout 1.0 §2.1: logout tokens are delivered — only when the host
    /// configured a sender.
    backchannel_logout_supported: bool,
    /// With `sid` in logout tokens and ID tokens: only when the host also declared that it
    /// names its sessions (`BackchannelLogout::sessions_named`).
    backchannel_logout_session_supported: bool,
    #[serde(flatten)]
    endpoints: AliasedEndpoints,
    /// RFC 8705 §5: the same endpoints on the host that asks for client certificates.
    #[serde(skip_serializing_if = "Option::is_none")]
    mtls_endpoint_aliases: Option<AliasedEndpoints>,
    introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    token_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    introspection_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    revocation_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    scopes_supported: Vec<&'a str>,
    response_types_supported: Vec<&'static str>,
    response_modes_supported: Vec<&'static str>,
    /// JARM §4: the algorithms authorization responses are signed with.
    authorization_signing_alg_values_supported: Vec<&'static str>,
    grant_types_supported: Vec<&'static str>,
    subject_types_supported: &'static [&'static str],
    id_token_signing_alg_values_supported: Vec<&'static str>,
    token_endpoint_auth_methods_supported: Vec<&'static str>,
    code_challenge_methods_supported: Vec<&'static str>,
    claims_supported: Vec<&'static str>,
    claim_types_supported: &'static [&'static str],
    claims_parameter_supported: bool,
    request_parameter_supported: bool,
    /// RFC 9101 §10.1 (OpenID Connect Discovery 1.0 §3).
    request_object_signing_alg_values_supported: Vec<&'static str>,
    /// RFC 9101 §10.5: every client must send signed request objects.
    require_signed_request_object: bool,
    request_uri_parameter_supported: bool,
    require_request_uri_registration: bool,
    authorization_response_iss_parameter_supported: bool,
    prompt_values_supported: &'static [&'static str],
    /// draft-ietf-oauth-client-id-metadata-document, "Authorization Server Metadata".
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    client_id_metadata_document_supported: bool,
    /// RFC 9449 §5.1.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dpop_signing_alg_values_supported: Vec<&'static str>,
    /// RFC 8705 §3.3: client certificates reach the provider, so it binds tokens to them.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_client_certificate_bound_access_tokens: bool,
    /// RFC 9126 §5.
    require_pushed_authorization_requests: bool,
    /// RFC 9396 §10: the registered types; absent when none is.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authorization_details_types_supported: Vec<&'a str>,
}

/// The endpoints a client calls with its credentials: those RFC 8705 §5 aliases.
#[derive(Serialize)]
struct AliasedEndpoints {
    token_endpoint: String,
    /// RFC 9126 §5.
    pushed_authorization_request_endpoint: String,
    userinfo_endpoint: String,
    introspection_endpoint: String,
    revocation_endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    registration_endpoint: Option<String>,
    /// RFC 8628 §4: only when the device grant is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    device_authorization_endpoint: Option<String>,
}

impl AliasedEndpoints {
    /// The endpoints below `base`; registration's only if `registration` is open, device
    /// authorization's only if `device` is on.
    fn below(base: &Issuer, registration: bool, device: bool) -> Self {
        Self {
            token_endpoint: base.endpoint(paths::TOKEN),
            pushed_authorization_request_endpoint: base.endpoint(paths::PAR),
            userinfo_endpoint: base.endpoint(paths::USERINFO),
            introspection_endpoint: base.endpoint(paths::INTROSPECT),
            revocation_endpoint: base.endpoint(paths::REVOKE),
            registration_endpoint: registration.then(|| base.endpoint(paths::REGISTER)),
            device_authorization_endpoint: device
                .then(|| base.endpoint(paths::DEVICE_AUTHORIZATION)),
        }
    }
}

impl Provider {
    /// `code`, and the implicit and hybrid types only under `Policy::allows_implicit`.
    fn response_types_supported(&self) -> Vec<&'static str> {
        let implicit = self.inner.policy.allows_implicit();
        ResponseType::ALL
            .into_iter()
            .filter(|t| implicit || *t == ResponseType::Code)
            .map(ResponseType::as_str)
            .collect()
    }

    /// Every grant type this provider offers ([`Provider::offers_grant`]), and `implicit`
    /// (RFC 8414 §2) with the implicit response types.
    fn grant_types_supported(&self) -> Vec<&'static str> {
        let inner = &self.inner;
        let mut names: Vec<&'static str> = GrantType::ALL
            .into_iter()
            .filter(|g| self.offers_grant(*g))
            .map(GrantType::as_str)
            .collect();
        if inner.policy.allows_implicit() {
            names.push("implicit");
        }
        names
    }
}

impl Provider {
    /// `/.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`:
    /// exactly what this provider supports, at URLs built from the issuer.
    pub fn discovery(&self) -> Response<Bytes> {
        let inner = &self.inner;
        let iss = &inner.issuer;
        let registration = inner.registration.is_enabled();
        let device = inner.policy.device_authorization.is_enabled();
        let enabled = self.enabled_client_auth_methods();
        let client_auth_methods = names(&enabled, ClientAuthMethod::as_str);
        // RFC 7662 §2.1: a caller of the introspection endpoint authenticates.
        let introspection_auth_methods = enabled
            .iter()
            .filter(|m| **m != ClientAuthMethod::None)
            .map(|m| m.as_str())
            .collect();
        let assertion_algs = self.client_assertion_algs(&enabled);
        let pkce: Vec<_> = CodeChallengeMethod::ALL
            .into_iter()
            .filter(|m| inner.policy.allows_challenge_method(*m))
            .collect();
        let metadata = Metadata {
            issuer: iss.as_str(),
            authorization_endpoint: iss.endpoint(paths::AUTHORIZE),
            jwks_uri: iss.endpoint(paths::JWKS),
            end_session_endpoint: iss.endpoint(paths::END_SESSION),
            backchannel_logout_supported: self.backchannel_logout_supported(),
            backchannel_logout_session_supported: self.backchannel_logout_session_supported(),
            endpoints: AliasedEndpoints::below(iss, registration, device),
            mtls_endpoint_aliases: inner
                .mtls_aliases
                .as_ref()
                .map(|base| AliasedEndpoints::below(base, registration, device)),
            introspection_endpoint_auth_methods_supported: introspection_auth_methods,
            revocation_endpoint_auth_methods_supported: client_auth_methods.clone(),
            token_endpoint_auth_signing_alg_values_supported: assertion_algs.clone(),
            introspection_endpoint_auth_signing_alg_values_supported: assertion_algs.clone(),
            revocation_endpoint_auth_signing_alg_values_supported: assertion_algs,
            scopes_supported: OPENID_SCOPES
                .iter()
                .copied()
                .chain(
                    inner
                        .advertised_scopes
                        .iter()
                        .filter(|s| !OPENID_SCOPES.contains(s)),
                )
                .collect(),
            response_types_supported: self.response_types_supported(),
            response_modes_supported: names(&ResponseMode::ALL, ResponseMode::as_str),
            authorization_signing_alg_values_supported: Algorithm::ALL
                .into_iter()
                .filter(|a| inner.policy.profile.allows_algorithm(*a))
                .map(Algorithm::as_str)
                .collect(),
            grant_types_supported: self.grant_types_supported(),
            subject_types_supported: &SubjectType::NAMES,
            id_token_signing_alg_values_supported: Algorithm::ALL
                .into_iter()
                .filter(|a| inner.policy.profile.allows_algorithm(*a))
                .map(Algorithm::as_str)
                .collect(),
            token_endpoint_auth_methods_supported: client_auth_methods,
            code_challenge_methods_supported: names(&pkce, CodeChallengeMethod::as_str),
            claims_supported: STANDARD_CLAIMS.iter().map(|c| c.name).collect(),
            claim_types_supported: &["normal"],
            claims_parameter_supported: true,
            request_parameter_supported: true,
            request_object_signing_alg_values_supported: names(
                &inner.policy.request_objects.algs,
                Algorithm::as_str,
            ),
            require_signed_request_object: inner.policy.request_objects.require_signed,
            // RFC 9101 §5.2 (OpenID Connect Discovery 1.0 §3): fetched only when the host
            // enabled it, and only registered request_uris.
            request_uri_parameter_supported: inner.fetch_request_uris,
            require_request_uri_registration: inner.fetch_request_uris,
            authorization_response_iss_parameter_supported: true,
            prompt_values_supported: &Prompt::VALUES,
            client_id_metadata_document_supported: inner.client_documents.is_enabled(),
            dpop_signing_alg_values_supported: names(
                &inner.policy.dpop.algorithms,
                Algorithm::as_str,
            ),
            tls_client_certificate_bound_access_tokens: self.offers_mutual_tls(),
            // FAPI 2.0 requires pushing of every client whatever the PAR policy says.
            require_pushed_authorization_requests: inner
                .policy
                .pushed_authorization_requests
                .required
                || inner.policy.profile.is_fapi2(),
            authorization_details_types_supported: inner
                .policy
                .authorization_details
                .names()
                .collect(),
        };
        cacheable(serde_json::to_vec(&metadata).unwrap_or_default(), 300)
    }

    /// The client authentication methods that work here: `client_secret_jwt` only with a
    /// key-encryption key (its secrets are sealed) and JWT methods only with an algorithm.
    pub(crate) fn enabled_client_auth_methods(&self) -> Vec<ClientAuthMethod> {
        let policy = &self.inner.policy.client_assertions;
        let profile = self.inner.policy.profile;
        ClientAuthMethod::ALL
            .into_iter()
            .filter(|m| profile.allows_auth_method(*m))
            .filter(|m| match m {
                ClientAuthMethod::ClientSecretJwt => {
                    self.inner.keks.is_some() && !policy.client_secret_jwt_algs.is_empty()
                }
                ClientAuthMethod::PrivateKeyJwt => !policy.private_key_jwt_algs.is_empty(),
                // Mutual TLS only as far as the TLS layer supports it (RFC 8705 §2).
                m => self.inner.client_certificates.offers(*m),
            })
            .collect()
    }

    /// `*_endpoint_auth_signing_alg_values_supported`: the algorithms of the enabled JWT
    /// methods (RFC 8414 §2).
    fn client_assertion_algs(&self, enabled: &[ClientAuthMethod]) -> Vec<&'static str> {
        let policy = &self.inner.policy.client_assertions;
        let mut algs = Vec::new();
        if enabled.contains(&ClientAuthMethod::PrivateKeyJwt) {
            algs.extend(policy.private_key_jwt_algs.iter().map(|a| a.as_str()));
        }
        if enabled.contains(&ClientAuthMethod::ClientSecretJwt) {
            algs.extend(policy.client_secret_jwt_algs.iter().map(|a| a.as_str()));
        }
        algs
    }

    /// The JWK Set: every published public key (RFC 7517 §5), cached for less than a key's
    /// `publish_ahead`, so relying parties see a new key before it signs.
    pub async fn jwks(&self) -> Response<Bytes> {
        observability::request("jwks", self.jwks_answer()).await
    }

    async fn jwks_answer(&self) -> Response<Bytes> {
        let inner = &self.inner;
        let now = inner.clock.now();
        // Every advertised algorithm has a published key before anything is signed with it:
        // a relying party that cached this JWKS must know the key of any client's algorithm.
        for alg in Algorithm::ALL {
            if let Err(e) = self.signer(alg, now).await {
                return keys_unavailable(e);
            }
        }
        let snapshot = match self.key_snapshot(now, false).await {
            Ok(s) => s,
            Err(e) => return keys_unavailable(e),
        };
        let set = JwkSet {
            keys: snapshot.published(now).iter().map(|k| k.to_jwk()).collect(),
        };
        cacheable(
            serde_json::to_vec(&set).unwrap_or_default(),
            inner.policy.keys.jwks_max_age.as_secs(),
        )
    }
}

/// `temporarily_unavailable` (503) in the JSON of RFC 6749 §5.2: the keys could not be had.
fn keys_unavailable(e: KeyError) -> Response<Bytes> {
    json_error(&EndpointError::<TokenErrorCode>::from(e).into_oauth(), None)
}

fn cacheable(body: Vec<u8>, max_age: u64) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from(body));
    let headers = r.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = http::HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        headers.insert(CACHE_CONTROL, v);
    }
    r
}
