//! An API gateway for the phantom-token pattern: tokens by reference outside, by value
//! inside.
//!
//! Outside, clients call the gateway with the access tokens the authorization server gave
//! them — opaque ones, or any the server can introspect. The gateway is the resource they
//! talk to: a [`ResourceServer`] with an [`IntrospectionValidator`] (RFC 7662, with client
//! credentials) validates each token, enforces its binding (a DPoP proof for this gateway's
//! URL, RFC 9449 §7; the TLS client certificate, RFC 8705 §3, when the host terminates TLS
//! and puts the `ClientCertificate` on the request), serves its RFC 9728 metadata, and
//! answers refusals itself with their challenges (RFC 6750 §3, RFC 9449 §7.1).
//!
//! Inside, the gateway forwards the request to the upstream API with `Authorization: Bearer
//! <internal token>`: an RFC 9068 `at+jwt` it signs with its own ES256 key — `iss` the
//! gateway's [`internal_issuer`](GatewayConfig::internal_issuer), `aud` the
//! [upstream's identifier](GatewayConfig::upstream_resource), `sub`, `client_id`, `scope`,
//! `auth_time` and `acr` copied from the introspection response, `exp` the earlier of the
//! token's `exp` and [`internal_lifetime`](GatewayConfig::internal_lifetime) from now, a
//! fresh `jti`. No `cnf`: the binding was proven here, and the upstream could not check it
//! (the proof is for the gateway's URL). The gateway publishes its public key at
//! [`jwks_path`](GatewayConfig::jwks_path); the upstream validates internal tokens with
//! portcullis-resource's `JwtValidator` over `IssuerKeys::from_jwks_uri`, as it would any
//! JWT access token. The client's `Authorization`, `DPoP` and `Proxy-Authorization`
//! headers, the hop-by-hop headers, and the headers an upstream may trust from its proxy
//! (`Forwarded`, `X-Forwarded-For`/`-Host`/`-Proto`, `X-Real-IP`, and the client
//! certificate headers; RFC 7239 §8) are not forwarded — the gateway sets its own
//! `Forwarded: for="<peer>";proto=http` when served by [`spawn`] (RFC 7239 §4); method,
//! path, query, the other headers and the body (at most
//! [`max_body_bytes`](GatewayConfig::max_body_bytes), else 413) are. The upstream's answer
//! comes back as it is, streamed — its 403 `insufficient_scope` and RFC 9470 step-up
//! challenges included, their `resource_metadata` (RFC 9728 §5.1) rewritten to the
//! gateway's own document, the resource the client calls. An unreachable upstream is a
//! 502, a slow one a 504.
//!
//! **Replicas.** Each gateway process keeps its own DPoP replay store (RFC 9449 §11.1): a
//! proof seen by one replica is unknown to the others, so behind a load balancer a captured
//! proof could be replayed once per replica within its acceptance window. In production,
//! share one replay cache across replicas (a `ReplayCache` in a shared store) and build the
//! gateway's resource server with it.
//!
//! The binary signs with a key generated at start (its `kid` from the start time): after a
//! restart the upstream's `IssuerKeys` meets an unknown `kid` and fetches the JWK Set again
//! (at most once a minute). [`Gateway::new`] takes any [`SigningKey`] for a key that
//! outlives the process.
//!
//! **Why an internal token, not the RFC 9701 introspection JWT.** The signed introspection
//! response is made for the gateway (its `aud` is the gateway's client id, its `typ`
//! `token-introspection+jwt`, its claims nested in `token_introspection`): forwarding it
//! would make every upstream accept tokens meant for someone else and parse a second token
//! format, and its lifetime is the introspection's, not one the gateway chooses. An internal
//! token is an ordinary RFC 9068 access token for exactly one upstream, valid for a minute,
//! signed by a key that signs nothing else: a leaked one is worth little, and the upstream
//! needs nothing beyond what it uses for JWT access tokens.
//!
//! **Caches and revocation.** Every request's external token is validated; the introspection
//! validator caches verdicts per token hash, never longer than the token's `exp` and
//! [`IntrospectionConfig::cache_max_age`] (the revocation delay). Internal tokens are cached
//! per token hash too (bounded by [`token_cache_capacity`](GatewayConfig::token_cache_capacity)),
//! and handed out during the first half of their life only while the introspected claims are
//! unchanged: a revoked token is refused at the edge once its verdict expires, whatever
//! internal token was minted for it.
//!
//! Start one in process with [`spawn`]; the binary (`portcullis-example-gateway --config
//! gateway.toml`) reads a small TOML file ([`FileConfig`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod file_config;
mod forward;
mod internal_token;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode, Uri};
use portcullis_core::{DpopPolicy, Issuer, SigningKey};
use portcullis_resource::{
    gateway, Authenticated, ClientCredentials, Clock, HttpClient, IntrospectionConfig,
    IntrospectionValidator, ResourceServer, ResourceServerError, SystemClock,
};
use portcullis_store_memory::MemoryStore;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use file_config::{FileConfig, FileConfigError};

use crate::forward::Upstream;
use crate::internal_token::{InternalTokens, MintError};

/// How long clients and upstreams may cache the gateway's JWK Set.
const JWKS_MAX_AGE: &str = "max-age=300";

/// What the gateway protects and where it forwards.
#[derive(Debug)]
#[non_exhaustive]
pub struct GatewayConfig {
    /// This gateway's resource identifier (RFC 9728 §1.2): the URL clients call, which DPoP
    /// proofs name (`htu`) and tokens' `aud` carries.
    pub resource: String,
    /// How external tokens are introspected: the authorization server, its endpoint, the
    /// gateway's credentials, and the verdict cache (its `cache_max_age` is the revocation
    /// delay). [`require_audience`](IntrospectionConfig::require_audience) is on: the gateway
    /// mints an internal token only from one audience-restricted to it (RFC 8707 §2,
    /// RFC 9068 §4), never from a token with no `aud` that some other resource might take too.
    pub introspection: IntrospectionConfig,
    /// The upstream API's base URL (`http://host:port`, optionally with a path prefix).
    pub upstream: Uri,
    /// The upstream's resource identifier: the internal tokens' `aud`.
    pub upstream_resource: String,
    /// The internal tokens' `iss` (default: [`resource`](Self::resource)).
    pub internal_issuer: String,
    /// The longest an internal token lives (default 60 s).
    pub internal_lifetime: Duration,
    /// Where the gateway serves its JWK Set (default `/.well-known/gateway-jwks.json`).
    pub jwks_path: String,
    /// The largest request body forwarded (default 1 MiB).
    pub max_body_bytes: usize,
    /// How long the upstream may take to connect and answer with its head (default 10 s).
    pub upstream_timeout: Duration,
    /// How many internal tokens are cached at most (default 10 000; `0`: none).
    pub token_cache_capacity: usize,
    /// Whether the `DPoP` scheme is accepted (default `true`; DPoP-bound tokens are
    /// refused without it).
    pub dpop: bool,
}

impl GatewayConfig {
    /// A gateway at `resource` for the tokens of `authorization_server`, introspected at
    /// `introspection_endpoint` with `credentials`, forwarding to `upstream` (whose
    /// identifier is `upstream_resource`); the other settings at their defaults.
    pub fn new(
        resource: impl Into<String>,
        authorization_server: Issuer,
        introspection_endpoint: Uri,
        credentials: ClientCredentials,
        upstream: Uri,
        upstream_resource: impl Into<String>,
    ) -> Self {
        let resource = resource.into();
        let mut introspection = IntrospectionConfig::new(
            authorization_server,
            introspection_endpoint,
            resource.clone(),
            credentials,
        );
        introspection.require_audience = true;
        Self {
            internal_issuer: resource.clone(),
            resource,
            introspection,
            upstream,
            upstream_resource: upstream_resource.into(),
            internal_lifetime: Duration::from_secs(60),
            jwks_path: "/.well-known/gateway-jwks.json".into(),
            max_body_bytes: 1024 * 1024,
            upstream_timeout: Duration::from_secs(10),
            token_cache_capacity: 10_000,
            dpop: true,
        }
    }
}

/// Why a gateway could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The resource server configuration is refused.
    #[error("the gateway's resource: {0}")]
    Resource(#[from] ResourceServerError),
    /// The upstream URL has no scheme or authority.
    #[error("the upstream must be an absolute http URL")]
    Upstream,
    /// The JWKS path does not start with `/`.
    #[error("the JWKS path must start with /")]
    JwksPath,
}

/// A gateway, ready to serve ([`Gateway::router`]).
pub struct Gateway {
    server: ResourceServer,
    state: Arc<Inner>,
    jwks_path: String,
}

struct Inner {
    upstream: Upstream,
    tokens: InternalTokens,
    /// The gateway's RFC 9728 metadata URL, which the upstream's challenges are made to name.
    metadata_url: String,
}

impl Gateway {
    /// A gateway signing internal tokens with `key` (ES256 recommended: small, fast),
    /// introspecting through `http`, reading the time from `clock`.
    pub fn new(
        config: GatewayConfig,
        key: SigningKey,
        http: Arc<dyn HttpClient>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, GatewayError> {
        if config.upstream.scheme().is_none() || config.upstream.authority().is_none() {
            return Err(GatewayError::Upstream);
        }
        if !config.jwks_path.starts_with('/') {
            return Err(GatewayError::JwksPath);
        }
        let authorization_server = config.introspection.issuer.clone();
        let validator = IntrospectionValidator::new(config.introspection, http);
        let mut builder = ResourceServer::builder(config.resource, Arc::new(validator))
            .clock(clock)
            .authorization_server(&authorization_server);
        if config.dpop {
            builder = builder.dpop(DpopPolicy::default(), Arc::new(MemoryStore::new()));
        }
        let server = builder.build()?;
        let metadata_url = server.metadata_url().to_owned();
        let tokens = InternalTokens::new(
            config.internal_issuer,
            config.upstream_resource,
            config.internal_lifetime,
            key,
            config.token_cache_capacity,
        );
        let upstream = Upstream::new(
            config.upstream,
            config.max_body_bytes,
            config.upstream_timeout,
        );
        Ok(Self {
            server,
            state: Arc::new(Inner {
                upstream,
                tokens,
                metadata_url,
            }),
            jwks_path: config.jwks_path,
        })
    }

    /// The path of the gateway's JWK Set.
    pub fn jwks_path(&self) -> &str {
        &self.jwks_path
    }

    /// The resource server at the edge.
    pub fn resource_server(&self) -> &ResourceServer {
        &self.server
    }

    /// The gateway's routes: its JWK Set, its RFC 9728 metadata, and every other request
    /// authenticated and forwarded.
    pub fn router(&self) -> Router {
        let protected = Router::new()
            .fallback(forward)
            .layer(self.server.layer())
            .with_state(self.state.clone());
        Router::new()
            .route(&self.jwks_path, get(jwks))
            .with_state(self.state.clone())
            .fallback_service(protected)
            .layer(axum::middleware::from_fn(refuse_unsafe_targets))
    }
}

/// The gateway's public keys (RFC 7517), for the upstream's key cache.
async fn jwks(State(gateway): State<Arc<Inner>>) -> Response {
    match serde_json::to_vec(&gateway.tokens.jwks()) {
        Ok(body) => (
            [
                (CONTENT_TYPE, HeaderValue::from_static("application/json")),
                (CACHE_CONTROL, HeaderValue::from_static(JWKS_MAX_AGE)),
            ],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// Refuses with 400, before authentication, a request target the gateway would not forward
/// faithfully: not origin-form, or with dot segments (`gateway::is_forwardable_target`).
async fn refuse_unsafe_targets(request: Request, next: axum::middleware::Next) -> Response {
    if gateway::is_forwardable_target(request.uri()) {
        next.run(request).await
    } else {
        (
            StatusCode::BAD_REQUEST,
            "the request target is not forwarded",
        )
            .into_response()
    }
}

/// Forwards an authenticated request with its internal token.
async fn forward(
    State(gateway): State<Arc<Inner>>,
    auth: Authenticated,
    request: Request,
) -> Response {
    // The layer took the token from the Authorization header (the only place allowed).
    let Some(token) = presented_token(request.headers()) else {
        return (StatusCode::BAD_REQUEST, "no access token").into_response();
    };
    let internal = gateway
        .tokens
        .for_token(token, auth.claims(), auth.authenticated_at());
    let internal = match internal {
        Ok(internal) => internal,
        // RFC 9068 §2.2 requires `sub`: the token will never do here, retrying would not help.
        Err(MintError::NoSubject) => {
            return auth
                .invalid_token("the token names no subject")
                .into_response()
        }
        Err(MintError::Signing(_)) => {
            tracing::error!("could not sign an internal token");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "could not sign an internal token",
            )
                .into_response();
        }
    };
    match gateway.upstream.forward(request, &internal).await {
        Ok(mut response) => {
            gateway::rewrite_resource_metadata(response.headers_mut(), &gateway.metadata_url);
            response
        }
        Err(e) => {
            tracing::warn!(error = %e, "forwarding failed");
            e.to_response()
        }
    }
}

/// The token of the `Authorization` header (`Bearer` or `DPoP` scheme, RFC 6750 §2.1,
/// RFC 9449 §7.1), as the resource server validated it.
fn presented_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (_, token) = value.split_once(' ')?;
    Some(token.trim_start_matches(' '))
}

/// A gateway serving on a listener; stops when dropped.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Running {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of `path` on it.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `gateway` on `listener` in a background task.
pub fn spawn(gateway: &Gateway, listener: TcpListener) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let router = gateway.router();
    let task = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, service).await {
            tracing::error!(error = %e, "the gateway stopped");
        }
    });
    Ok(Running { addr, task })
}

/// A gateway with the system clock and reqwest for introspection, from `config`, with a
/// fresh ES256 signing key (its `kid` from the current time, so a restarted gateway's key
/// is told apart by the upstream's key cache).
pub fn with_fresh_key(config: GatewayConfig) -> Result<Gateway, StartError> {
    let rng = ring::rand::SystemRandom::new();
    let kid = format!("gw-{}", SystemClock.now().secs());
    let key = SigningKey::generate(kid, portcullis_core::Algorithm::ES256, &rng)
        .map_err(|_| StartError::Key)?;
    let http = portcullis_resource::ReqwestClient::new().map_err(|_| StartError::Http)?;
    Ok(Gateway::new(
        config,
        key,
        Arc::new(http),
        Arc::new(SystemClock),
    )?)
}

/// Why the binary's gateway could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is refused.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// No signing key could be generated.
    #[error("no signing key could be generated")]
    Key,
    /// The HTTP client for introspection could not be built.
    #[error("the HTTP client could not be built")]
    Http,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_without_audience_are_refused_at_the_edge() {
        let config = GatewayConfig::new(
            "https://gw.example",
            Issuer::parse("https://as.example").unwrap(),
            "https://as.example/introspect".parse().unwrap(),
            ClientCredentials::SecretBasic {
                client_id: "https://gw.example".into(),
                secret: "s".into(),
            },
            "http://api:8080".parse().unwrap(),
            "https://api.internal",
        );
        assert!(config.introspection.require_audience);
    }
}
