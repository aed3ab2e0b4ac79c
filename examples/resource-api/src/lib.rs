//! An API protected by `portcullis-resource`: three routes, each guarded by the resource
//! server's tower layer.
//!
//! - `GET /whoami`: any valid access token; answers its claims.
//! - `GET /notes`: scope `read` (else 403 `insufficient_scope`, RFC 6750 §3.1).
//! - `POST /payments`: a login no older than [`Settings::payment_max_age`] and of one of
//!   [`Settings::payment_acr_values`] (else 401 `insufficient_user_authentication` naming
//!   them, RFC 9470 §3), then scope `payment`. The login is checked first: a `payment` scope
//!   that faded with the age of the login (the provider's `scope_lifetimes`) is answered
//!   with the step-up challenge that restores it, not with a 403 the client cannot act on.
//!
//! The layer also serves the RFC 9728 metadata at `/.well-known/oauth-protected-resource`,
//! which every challenge names (`resource_metadata`, RFC 9728 §5.1): clients discover the
//! authorization server there. Tokens are validated as JWTs (RFC 9068, keys from the
//! issuer's RFC 8414 metadata) or by introspection (RFC 7662).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::{Json, Router};
use portcullis_core::{DpopPolicy, Issuer};
use portcullis_resource::{
    Authenticated, ClientCredentials, Clock, HttpClient, IntrospectionConfig,
    IntrospectionValidator, IssuerKeys, JwtValidator, ReqwestClient, ResourceServer,
    ResourceServerError, SystemClock, TokenValidator, UpstreamError,
};
use portcullis_store_memory::MemoryStore;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How access tokens are validated. Its `Debug` output never shows the secret.
#[derive(Clone)]
pub enum Validation {
    /// JWT access tokens (RFC 9068), verified with the issuer's published keys.
    Jwt,
    /// Opaque tokens, by introspection (RFC 7662) as this confidential client.
    Introspection {
        /// The API's client id at the authorization server.
        client_id: String,
        /// Its secret (`client_secret_basic`).
        client_secret: String,
        /// How long an active token's answer is cached: the revocation delay.
        cache_max_age: Duration,
    },
}

impl std::fmt::Debug for Validation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Jwt => f.write_str("Jwt"),
            Self::Introspection { client_id, .. } => f
                .debug_struct("Introspection")
                .field("client_id", client_id)
                .finish_non_exhaustive(),
        }
    }
}

/// What the API is and whom it trusts.
#[derive(Clone)]
pub struct Settings {
    /// The authorization server.
    pub issuer: Issuer,
    /// This API's resource identifier (RFC 8707, RFC 9728): the `aud` of its tokens.
    pub resource: String,
    /// JWT or introspection.
    pub validation: Validation,
    /// Whether DPoP-bound tokens are accepted (RFC 9449), besides bearer tokens.
    pub dpop: bool,
    /// The oldest login `POST /payments` accepts (RFC 9470 `max_age`).
    pub payment_max_age: Option<Duration>,
    /// The `acr` values `POST /payments` accepts (any when empty).
    pub payment_acr_values: Vec<String>,
    /// The clock (tests inject a manual one).
    pub clock: Arc<dyn Clock>,
}

impl Settings {
    /// JWT validation, DPoP accepted, payments within 5 minutes of the login, the system clock.
    pub fn new(issuer: Issuer, resource: impl Into<String>) -> Self {
        Self {
            issuer,
            resource: resource.into(),
            validation: Validation::Jwt,
            dpop: true,
            payment_max_age: Some(Duration::from_secs(300)),
            payment_acr_values: Vec::new(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// Why the API could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The resource server's configuration was refused.
    #[error(transparent)]
    ResourceServer(#[from] ResourceServerError),
    /// The HTTP client or the introspection endpoint's URL.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// Binding or serving failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The API's routes, each behind the resource server's layer.
pub fn app(settings: Settings) -> Result<Router, StartError> {
    let server = resource_server(&settings)?;
    // The layer checks the login before the scope (RFC 9470 §3).
    let payments = server
        .layer()
        .require_authentication(settings.payment_acr_values, settings.payment_max_age)
        .require_scope("payment");
    let notes = server.layer().require_scope("read");
    Ok(Router::new()
        .route("/whoami", get(whoami))
        .route("/notes", get(list_notes).route_layer(notes))
        .route("/payments", post(pay).route_layer(payments))
        .layer(server.layer()))
}

/// The resource server: its validator, DPoP, and its RFC 9728 metadata.
fn resource_server(settings: &Settings) -> Result<ResourceServer, StartError> {
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestClient::new()?);
    let issuer = settings.issuer.clone();
    let validator: Arc<dyn TokenValidator> = match &settings.validation {
        Validation::Jwt => Arc::new(JwtValidator::new(
            Arc::new(IssuerKeys::discover(issuer.clone(), http)),
            &settings.resource,
        )),
        Validation::Introspection {
            client_id,
            client_secret,
            cache_max_age,
        } => {
            let endpoint = issuer.endpoint("/introspect").parse().map_err(|_| {
                UpstreamError::new("the issuer's introspection endpoint is not a URL")
            })?;
            let credentials = ClientCredentials::SecretBasic {
                client_id: client_id.clone(),
                secret: client_secret.clone(),
            };
            let mut config =
                IntrospectionConfig::new(issuer.clone(), endpoint, &settings.resource, credentials);
            config.cache_max_age = *cache_max_age;
            Arc::new(IntrospectionValidator::new(config, http))
        }
    };
    let mut builder = ResourceServer::builder(&settings.resource, validator)
        .clock(settings.clock.clone())
        .authorization_server(&issuer)
        .scopes_supported(["read", "payment"])
        .resource_name("Portcullis example API");
    if settings.dpop {
        builder = builder.dpop(DpopPolicy::default(), Arc::new(MemoryStore::new()));
    }
    Ok(builder.build()?)
}

async fn whoami(auth: Authenticated) -> Json<Value> {
    let claims = auth.into_claims();
    let mut body = json!({
        "iss": claims.issuer, "sub": claims.subject, "client_id": claims.client_id,
        "aud": claims.audience, "scope": claims.scope.to_string(), "exp": claims.expires_at,
        "auth_time": claims.auth_time, "acr": claims.acr,
    });
    if let Some(jkt) = claims.confirmation.and_then(|c| c.jkt) {
        body["cnf"] = json!({ "jkt": jkt });
    }
    Json(body)
}

async fn list_notes(auth: Authenticated) -> Json<Value> {
    let owner = auth.claims().subject.clone().unwrap_or_default();
    Json(json!({ "owner": owner, "notes": ["Buy milk", "Feed the cat"] }))
}

async fn pay(auth: Authenticated) -> Json<Value> {
    Json(json!({ "paid_by": auth.claims().subject, "status": "accepted" }))
}

/// An API started by [`spawn`]; dropping it stops the server.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// The address the API listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until the server fails.
    pub async fn wait(mut self) -> std::io::Result<()> {
        (&mut self.task).await.map_err(std::io::Error::other)?
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the API on `listener` in a background task.
pub async fn spawn(settings: Settings, listener: TcpListener) -> Result<Running, StartError> {
    let addr = listener.local_addr()?;
    let router = app(settings)?;
    let task = tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(Running { addr, task })
}
