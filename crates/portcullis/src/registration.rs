//! Dynamic client registration (RFC 7591, OpenID Connect Dynamic Client Registration 1.0)
//! and client management (RFC 7592) at [`paths::REGISTER`]: `POST` registers; `GET`, `PUT`
//! and `DELETE` at the `registration_client_uri` (`…/register?client_id=ID`) read, replace
//! and delete, with the registration access token as a Bearer token (RFC 6750 §2.1).
//!
//! A client may register with every `token_endpoint_auth_method` discovery advertises (the
//! rules are filled from the same source): the secret methods and `none`, `private_key_jwt`
//! (inline `jwks`, or a `jwks_uri` when the host injected a fetcher), `client_secret_jwt`
//! (with a key-encryption key: the generated secret is shown once and kept sealed) and, as
//! far as the TLS layer offers them, `tls_client_auth` and `self_signed_tls_client_auth`
//! (RFC 8705 §2). A registered `token_endpoint_auth_signing_alg` is the only algorithm its
//! assertions may use (OpenID Connect Dynamic Client Registration 1.0 §2).
//!
//! Off unless the host sets a [`RegistrationPolicy`]. What one registration may carry is
//! bounded (`portcullis_core::registration_limits`); how often a caller may register is the
//! host's to limit (a rate limit in front of the endpoint, or its [`RegistrationHook`]).

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use portcullis_core::{
    bearer_credentials, constant_time_eq, needs_secret, random_id, BearerCredentials,
    BearerErrorCode, Client, ClientAuthMethod, ClientKind, ClientMetadata, ClientRegistration,
    ClientSecretHash, ClientTokens, JwtClientSecret, KeptSecret, OAuthError, Params, RandomError,
    RegistrationError, RegistrationErrorCode, RegistrationRequest, RegistrationRules, ScopeSet,
    SecretToken, TokenHash, UnixTime,
};
use portcullis_store::StoreError;
use serde::Serialize;

use crate::endpoint_error::{EndpointError, ErrorCode, Fault};
use crate::observability;
use crate::paths;
use crate::provider::Provider;
use crate::responses::{bearer_challenge, json, json_error};

/// Reviews a registration before it is stored: the host's hook.
#[crate::async_trait]
pub trait RegistrationHook: Send + Sync + 'static {
    /// Sees the validated metadata of a registration (`client_id` `None`) or of an update
    /// of `client_id` (RFC 7592 §2.2), with the request (its headers, its peer address
    /// extension), and may edit them (they are checked again afterwards) or refuse with an
    /// error of RFC 7591 §3.2.2 (e.g. `unapproved_software_statement`) and a description.
    async fn review(
        &self,
        request: &Request<Bytes>,
        client_id: Option<&str>,
        metadata: &mut ClientMetadata,
    ) -> Result<(), RegistrationError>;
}

/// Who may register.
#[derive(Clone)]
enum Access {
    Closed,
    Open,
    /// SHA-256 of each initial access token (RFC 7591 §3).
    InitialAccessTokens(Vec<TokenHash>),
}

/// Whether and how clients register themselves (RFC 7591 §3): closed (the default: the
/// endpoint answers 404 and discovery does not list it), open to anyone, or open to holders
/// of an initial access token; in every case optionally reviewed by the host's
/// [`RegistrationHook`].
#[derive(Clone)]
pub struct RegistrationPolicy {
    access: Access,
    rules: RegistrationRules,
    hook: Option<Arc<dyn RegistrationHook>>,
    rotate_secret_on_update: bool,
}

impl Default for RegistrationPolicy {
    fn default() -> Self {
        Self::closed()
    }
}

impl std::fmt::Debug for RegistrationPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let access = match &self.access {
            Access::Closed => "closed",
            Access::Open => "open",
            Access::InitialAccessTokens(_) => "initial access tokens",
        };
        f.debug_struct("RegistrationPolicy")
            .field("access", &access)
            .field("scopes", &self.rules.scopes)
            .field("hook", &self.hook.is_some())
            .field("rotate_secret_on_update", &self.rotate_secret_on_update)
            .finish()
    }
}

impl RegistrationPolicy {
    /// No registration: the default.
    pub fn closed() -> Self {
        Self {
            access: Access::Closed,
            rules: RegistrationRules::default(),
            hook: None,
            rotate_secret_on_update: false,
        }
    }

    /// Anyone may register a client for (some of) `scopes`. Only with a rate limit in
    /// front of the endpoint, or a [`hook`](RegistrationPolicy::hook) that checks the caller.
    pub fn open(scopes: ScopeSet) -> Self {
        Self {
            access: Access::Open,
            rules: RegistrationRules::new(scopes),
            ..Self::closed()
        }
    }

    /// Callers presenting one of `tokens` as a Bearer token may register a client for (some
    /// of) `scopes` (RFC 7591 §3). Only their SHA-256 hashes are kept, compared in constant
    /// time: give high-entropy tokens (256 random bits).
    pub fn initial_access_tokens<T: AsRef<str>>(
        scopes: ScopeSet,
        tokens: impl IntoIterator<Item = T>,
    ) -> Self {
        let hashes = tokens
            .into_iter()
            .map(|t| TokenHash::of(t.as_ref()))
            .collect();
        Self {
            access: Access::InitialAccessTokens(hashes),
            ..Self::open(scopes)
        }
    }

    /// Has `hook` review every registration and update.
    pub fn hook(mut self, hook: Arc<dyn RegistrationHook>) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Issues a new `client_secret` on every update (RFC 7592 §2.2 lets the server); by
    /// default a confidential client keeps its secret.
    pub fn rotate_secret_on_update(mut self, rotate: bool) -> Self {
        self.rotate_secret_on_update = rotate;
        self
    }

    /// Whether clients may register at all.
    pub fn is_enabled(&self) -> bool {
        !matches!(self.access, Access::Closed)
    }
}

/// Why a registration request was not served.
enum Failure {
    /// Invalid metadata (RFC 7591 §3.2.2): 400.
    Invalid(RegistrationError),
    /// No valid (initial or registration) access token: 401 `invalid_token` (RFC 6750 §3.1),
    /// naming the error only when a token was sent.
    Unauthorized { token_sent: bool },
    /// A malformed `Authorization` header: 400 `invalid_request` (RFC 6750 §3.1).
    MalformedAuthorization,
    /// A method the URL does not serve: 405 with `Allow`.
    Method(&'static str),
    /// The server's fault: 503.
    Fault(Fault),
}

impl From<RegistrationError> for Failure {
    fn from(e: RegistrationError) -> Self {
        Self::Invalid(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Fault(e.into())
    }
}

impl From<Fault> for Failure {
    fn from(f: Fault) -> Self {
        Self::Fault(f)
    }
}

impl From<RandomError> for Failure {
    fn from(e: RandomError) -> Self {
        Self::Fault(e.into())
    }
}

impl ErrorCode for RegistrationErrorCode {
    /// Unused: faults are answered with the Bearer code ([`Failure::Fault`]).
    const UNAVAILABLE: Self = Self::InvalidRequest;

    fn wire(self) -> &'static str {
        self.as_str()
    }

    fn http_status(self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST)
    }
}

fn invalid(code: RegistrationErrorCode, description: &'static str) -> Failure {
    Failure::Invalid(OAuthError::new(code, description))
}

/// The answer to a registration, an update or a read (RFC 7591 §3.2.1, RFC 7592 §3).
#[derive(Serialize)]
struct Registered<'a> {
    client_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<&'a str>,
    /// `0`: the secret never expires; present for every confidential client.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret_expires_at: Option<u64>,
    client_id_issued_at: u64,
    /// On registration and update only: only its hash is kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    registration_access_token: Option<&'a str>,
    registration_client_uri: String,
    #[serde(flatten)]
    metadata: &'a ClientMetadata,
}

/// The secrets issued by a registration or an update, shown once.
struct Issued {
    secret: Option<SecretToken>,
    access_token: SecretToken,
}

impl Provider {
    /// The registration endpoint and the client configuration endpoint (RFC 7591 §3,
    /// RFC 7592 §2): `POST` registers a client (201); with `?client_id=ID`, `GET` reads it,
    /// `PUT` replaces its metadata (rotating its registration access token) and `DELETE`
    /// deletes it (204), its grants and tokens with it ([`Provider::remove_client`]). `404`
    /// while registration is closed.
    pub async fn registration(&self, req: Request<Bytes>) -> Response<Bytes> {
        observability::request("registration", self.registration_answer(req)).await
    }

    async fn registration_answer(&self, req: Request<Bytes>) -> Response<Bytes> {
        if !self.inner.registration.is_enabled() {
            let mut r = Response::new(Bytes::new());
            *r.status_mut() = StatusCode::NOT_FOUND;
            return r;
        }
        let query = Params::parse(req.uri().query().unwrap_or("").as_bytes()).ok();
        let client_id = query
            .as_ref()
            .and_then(|q| q.get("client_id"))
            .map(str::to_owned);
        let answer = match (req.method(), client_id) {
            (&Method::POST, None) => self.register_client_request(&req).await,
            (&Method::GET, Some(id)) => self.read_registration(&req, &id).await,
            (&Method::PUT, Some(id)) => self.update_registration(&req, &id).await,
            (&Method::DELETE, Some(id)) => self.delete_registration(&req, &id).await,
            (_, None) => Err(Failure::Method("POST")),
            (_, Some(_)) => Err(Failure::Method("GET, PUT, DELETE")),
        };
        answer.unwrap_or_else(|f| self.registration_failure(f))
    }

    fn registration_failure(&self, failure: Failure) -> Response<Bytes> {
        let issuer = &self.inner.issuer;
        match failure {
            Failure::Invalid(e) => json_error(&e, None),
            Failure::Unauthorized { token_sent } => {
                let code = BearerErrorCode::InvalidToken;
                let challenge = bearer_challenge(issuer, token_sent.then_some(code), None);
                let error = OAuthError::new(code, "the access token is missing or invalid");
                json_error(&error, Some(&challenge))
            }
            Failure::MalformedAuthorization => {
                let code = BearerErrorCode::InvalidRequest;
                let challenge = bearer_challenge(issuer, Some(code), None);
                let error = OAuthError::new(code, "the Authorization header is malformed");
                json_error(&error, Some(&challenge))
            }
            Failure::Method(allow) => {
                let mut r = Response::new(Bytes::new());
                *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
                r.headers_mut()
                    .insert(ALLOW, HeaderValue::from_static(allow));
                r
            }
            Failure::Fault(f) => json_error(
                &EndpointError::<BearerErrorCode>::from(f).into_oauth(),
                None,
            ),
        }
    }

    /// RFC 7591 §3.1: checks the initial access token if the policy wants one, reads and
    /// validates the metadata, has the host's hook review them, then issues the client.
    async fn register_client_request(
        &self,
        req: &Request<Bytes>,
    ) -> Result<Response<Bytes>, Failure> {
        let inner = &self.inner;
        let policy = &inner.registration;
        if let Access::InitialAccessTokens(hashes) = &policy.access {
            let presented = TokenHash::of(
                presented_bearer(req)?.ok_or(Failure::Unauthorized { token_sent: false })?,
            );
            // Every hash compared, so that the time says nothing about which one matched.
            let known = hashes.iter().fold(false, |found, h| {
                found | constant_time_eq(h.as_bytes(), presented.as_bytes())
            });
            if !known {
                return Err(Failure::Unauthorized { token_sent: true });
            }
        }
        let request = self.reviewed_request(req, None).await?;
        let now = inner.clock.now();
        let id = random_id(inner.rng.as_ref())?;
        let (client, issued) = self.issue(id, request.metadata, None, now)?;
        let saved = inner
            .stores
            .clients
            .save_client(&inner.issuer, &client)
            .await;
        inner.client_cache.invalidate(&client.id);
        saved?;
        Ok(self.registered(StatusCode::CREATED, &client, Some(&issued)))
    }

    /// The body read (JSON only, RFC 7591 §3.1), validated, reviewed by the hook and checked
    /// again.
    async fn reviewed_request(
        &self,
        req: &Request<Bytes>,
        client_id: Option<&str>,
    ) -> Result<RegistrationRequest, Failure> {
        let policy = &self.inner.registration;
        if !is_json(req) {
            return Err(invalid(
                RegistrationErrorCode::InvalidRequest,
                "the body must be application/json",
            ));
        }
        let rules = self.registration_rules();
        let mut request = RegistrationRequest::parse(req.body(), &rules)?;
        if let Some(hook) = &policy.hook {
            hook.review(req, client_id, &mut request.metadata).await?;
            request.metadata.check(&rules)?;
        }
        Ok(request)
    }

    /// The policy's rules with the client authentication methods and algorithms discovery
    /// advertises (the same source: the two cannot disagree), `jwks_uri` only with a
    /// fetcher, and certificate-bound tokens only with mutual TLS.
    fn registration_rules(&self) -> RegistrationRules {
        let inner = &self.inner;
        let assertions = &inner.policy.client_assertions;
        inner
            .registration
            .rules
            .clone()
            .with_auth_methods(
                self.enabled_client_auth_methods(),
                assertions.private_key_jwt_algs.clone(),
                assertions.client_secret_jwt_algs.clone(),
                inner.fetcher.is_some(),
            )
            .with_mutual_tls(self.offers_mutual_tls())
            .with_backchannel_logout(self.backchannel_logout_supported())
            .with_authorization_details_types(inner.policy.authorization_details.names())
        // Never the implicit, hybrid or password flows: their `dangerous_` policies open
        // them to clients the host registers itself, not to anyone who can register
        // (RFC 9700 §2.1.2, §2.4).
    }

    /// The client `id` registered with `metadata` at `issued_at`: if its method needs a
    /// secret, the `kept` one (if of the method's form) or a new one, hashed or, for
    /// `client_secret_jwt`, sealed under the key-encryption key; a new registration access
    /// token.
    fn issue(
        &self,
        id: String,
        metadata: ClientMetadata,
        kept: Option<KeptSecret>,
        issued_at: UnixTime,
    ) -> Result<(Client, Issued), Failure> {
        let rng = self.inner.rng.as_ref();
        let method = metadata.token_endpoint_auth_method;
        let sealed = method == ClientAuthMethod::ClientSecretJwt;
        let kept = kept.filter(|k| matches!(k, KeptSecret::Sealed(_)) == sealed);
        let (secret, kept) = match kept {
            _ if !needs_secret(method) => (None, None),
            Some(kept) => (None, Some(kept)),
            None => {
                let secret = SecretToken::generate(rng)?;
                let kept = if sealed {
                    // 256 bits: never too short; sealing fails only without a KEK (then the
                    // rules refused the method) or randomness.
                    let clear = JwtClientSecret::new(secret.expose()).map_err(Fault::from)?;
                    let sealed = self.seal_client_secret(&id, &clear).map_err(Fault::from)?;
                    Some(KeptSecret::Sealed(sealed))
                } else {
                    // A generated secret has 256 bits: never too short for SHA-256.
                    ClientSecretHash::sha256_of_generated(secret.expose())
                        .ok()
                        .map(KeptSecret::Hashed)
                };
                (Some(secret), kept)
            }
        };
        let kind = metadata.client_kind(kept).ok_or_else(|| {
            invalid(
                RegistrationErrorCode::InvalidClientMetadata,
                "token_endpoint_auth_method is not supported",
            )
        })?;
        let access_token = SecretToken::generate(rng)?;
        let registration =
            ClientRegistration::new(metadata.clone(), access_token.hash(), issued_at);
        let client = metadata
            .to_client(id, kind, registration)?
            .with_profile(self.inner.policy.profile);
        // The provider's profile (FAPI 2.0 §5.3.2.1, §5.4.1) may refuse what the metadata
        // alone allowed.
        client.validate().map_err(|e| {
            Failure::Invalid(OAuthError::new(
                RegistrationErrorCode::InvalidClientMetadata,
                e.to_string(),
            ))
        })?;
        Ok((
            client,
            Issued {
                secret,
                access_token,
            },
        ))
    }

    /// The registration as JSON: with the secrets just `issued`, if any.
    fn registered(
        &self,
        status: StatusCode,
        client: &Client,
        issued: Option<&Issued>,
    ) -> Response<Bytes> {
        let Some(registration) = client.registration.as_deref() else {
            return self.registration_failure(Failure::Unauthorized { token_sent: true });
        };
        let confidential = matches!(
            client.kind,
            ClientKind::Confidential { .. } | ClientKind::SecretJwt { .. }
        );
        let body = Registered {
            client_id: &client.id,
            client_secret: issued
                .and_then(|i| i.secret.as_ref())
                .map(SecretToken::expose),
            client_secret_expires_at: confidential.then_some(0),
            client_id_issued_at: registration.issued_at.secs(),
            registration_access_token: issued.map(|i| i.access_token.expose()),
            registration_client_uri: self.registration_client_uri(&client.id),
            metadata: &registration.metadata,
        };
        json(status, &body)
    }

    /// Where a registered client manages itself (RFC 7592 §3): its id in the query of the
    /// registration endpoint (ids this server generates are base64url).
    fn registration_client_uri(&self, client_id: &str) -> String {
        format!(
            "{}?client_id={client_id}",
            self.inner.issuer.endpoint(paths::REGISTER)
        )
    }

    /// The dynamically registered client `client_id`, if the request's Bearer token is its
    /// registration access token (constant time). Otherwise 401 `invalid_token`, whether the
    /// client is unknown, not dynamically registered or another's (RFC 7592 §2).
    async fn managed_client(
        &self,
        req: &Request<Bytes>,
        client_id: &str,
    ) -> Result<Arc<Client>, Failure> {
        let inner = &self.inner;
        let token = presented_bearer(req)?.ok_or(Failure::Unauthorized { token_sent: false })?;
        let client = inner
            .stores
            .clients
            .find_client(&inner.issuer, client_id, inner.clock.now())
            .await?;
        match client {
            Some(c) if c.registration.as_ref().is_some_and(|r| r.accepts(token)) => Ok(c),
            _ => Err(Failure::Unauthorized { token_sent: true }),
        }
    }

    /// RFC 7592 §2.1: the registration as stored (no secret: only hashes are kept).
    async fn read_registration(
        &self,
        req: &Request<Bytes>,
        client_id: &str,
    ) -> Result<Response<Bytes>, Failure> {
        let client = self.managed_client(req, client_id).await?;
        Ok(self.registered(StatusCode::OK, &client, None))
    }

    /// RFC 7592 §2.2: the metadata replaced by the body's (which must name the client, and
    /// may carry its current secret, never a new one), validated as a registration; a new
    /// registration access token; a new secret only if the client had none or the policy
    /// rotates secrets.
    async fn update_registration(
        &self,
        req: &Request<Bytes>,
        client_id: &str,
    ) -> Result<Response<Bytes>, Failure> {
        let inner = &self.inner;
        let old = self.managed_client(req, client_id).await?;
        let request = self.reviewed_request(req, Some(client_id)).await?;
        if request.client_id.as_deref() != Some(client_id) {
            return Err(invalid(
                RegistrationErrorCode::InvalidClientMetadata,
                "client_id must be the client's own",
            ));
        }
        let current = match &old.kind {
            ClientKind::Confidential { secret, .. } => Some(KeptSecret::Hashed(secret.clone())),
            ClientKind::SecretJwt { secret } => Some(KeptSecret::Sealed(secret.clone())),
            _ => None,
        };
        if let Some(presented) = &request.client_secret {
            if !self.is_current_secret(client_id, current.as_ref(), presented)? {
                return Err(invalid(
                    RegistrationErrorCode::InvalidClientMetadata,
                    "client_secret is not the client's current secret",
                ));
            }
        }
        let issued_at = old
            .registration
            .as_ref()
            .map_or(inner.clock.now(), |r| r.issued_at);
        let kept = current.filter(|_| !inner.registration.rotate_secret_on_update);
        let (mut client, issued) =
            self.issue(client_id.to_owned(), request.metadata, kept, issued_at)?;
        // The host's token settings stay; the registrable binding flags are the update's.
        client.tokens = ClientTokens {
            dpop_bound_access_tokens: client.tokens.dpop_bound_access_tokens,
            tls_client_certificate_bound_access_tokens: client
                .tokens
                .tls_client_certificate_bound_access_tokens,
            authorization_details_types: client.tokens.authorization_details_types.clone(),
            ..old.tokens.clone()
        };
        client.expires_at = old.expires_at;
        let saved = inner
            .stores
            .clients
            .save_client(&inner.issuer, &client)
            .await;
        inner.client_cache.invalidate(&client.id);
        saved?;
        Ok(self.registered(StatusCode::OK, &client, Some(&issued)))
    }

    /// Whether `presented` is the `current` secret of `client_id` (constant time): its hash,
    /// or the sealed secret opened.
    fn is_current_secret(
        &self,
        client_id: &str,
        current: Option<&KeptSecret>,
        presented: &str,
    ) -> Result<bool, Failure> {
        let inner = &self.inner;
        Ok(match current {
            Some(KeptSecret::Hashed(hash)) => hash.verify(presented),
            Some(KeptSecret::Sealed(sealed)) => {
                let secret = sealed
                    .open(&inner.issuer, client_id, inner.keks.as_ref())
                    .map_err(Fault::from)?;
                constant_time_eq(secret.expose().as_bytes(), presented.as_bytes())
            }
            None => false,
        })
    }

    /// RFC 7592 §2.3: the client deleted with its grants and tokens; 204.
    async fn delete_registration(
        &self,
        req: &Request<Bytes>,
        client_id: &str,
    ) -> Result<Response<Bytes>, Failure> {
        self.managed_client(req, client_id).await?;
        self.remove_client(client_id).await?;
        let mut r = Response::new(Bytes::new());
        *r.status_mut() = StatusCode::NO_CONTENT;
        Ok(r)
    }
}

/// The Bearer token of the one `Authorization` header (RFC 6750 §2.1), `None` without one;
/// several headers, or a malformed one, are `invalid_request`.
fn presented_bearer(req: &Request<Bytes>) -> Result<Option<&str>, Failure> {
    let mut headers = req.headers().get_all(AUTHORIZATION).iter();
    let Some(value) = headers.next() else {
        return Ok(None);
    };
    if headers.next().is_some() {
        return Err(Failure::MalformedAuthorization);
    }
    match bearer_credentials(value.as_bytes()) {
        BearerCredentials::Token(t) => Ok(Some(t)),
        BearerCredentials::OtherScheme => Ok(None),
        BearerCredentials::Malformed => Err(Failure::MalformedAuthorization),
    }
}

/// Whether the body is declared `application/json` (parameters such as `charset` allowed).
fn is_json(req: &Request<Bytes>) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}
