//! Portcullis: an embeddable OAuth 2.0 authorization server engine.
//!
//! A [`Provider`] serves one issuer. It has one async method per endpoint, taking an
//! `http::Request<Bytes>` and answering an `http::Response<Bytes>`, so any web framework can
//! mount it (see `portcullis-axum`). It drives the sans-I/O protocol core
//! (`portcullis-core`) and the host's stores (`portcullis-store`).
//!
//! The host supplies only what it alone knows: who the user is and what they agreed to. The
//! authorization endpoint answers with an [`AuthorizeOutcome`]: either a response to send
//! (an error page or an error redirect), or a [`PendingAuthorization`] that the host carries
//! through its login and consent pages (as an opaque, sealed ticket) and then resolves with
//! [`Provider::approve`] or [`Provider::deny`]. What to show is the engine's decision:
//! [`PendingAuthorization::next_step`] takes the host's [`SessionFacts`] and answers with a
//! [`NextStep`] (approve at once, the login page with its [`LoginPrompt`], the consent page,
//! or a `prompt=none` refusal), so the host implements no OpenID Connect rule itself. Adapters
//! hand the request to the host's [`Interaction`].
//!
//! The web half of the host's own pages (sessions, CSRF, cookies, login throttling, forms and
//! templates) is in `portcullis-interaction`, on the same `http` types.
//!
//! Nothing is global: several providers (one per tenant, say) can share one process and one
//! store, each with its own issuer, clients, policy and keys.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod authorization_response;
mod authorize;
mod backchannel;
mod blocking;
mod claims;
mod client_admin;
mod client_assertions;
mod client_cache;
mod client_certificate;
mod client_documents;
mod client_endpoint;
mod client_keys;
mod consented_grant;
mod device_authorization;
mod discovery;
mod dpop;
mod endpoint_error;
mod front_channel;
mod grants;
mod host_routes;
#[cfg(feature = "http-fetcher")]
mod http_fetcher;
mod id_tokens;
mod instrumented_stores;
mod interaction;
mod introspect;
mod jwt_bearer;
mod key_ring;
mod keygen;
mod keys;
mod login;
mod logout;
mod mount;
pub mod observability;
mod password_grant;
mod provider;
mod pushed_requests;
mod refresh_grace;
mod registration;
mod request_objects;
mod responses;
mod revoke;
mod server_limits;
mod signer;
mod stores;
pub mod throttle;
mod tickets;
#[cfg(feature = "tls")]
pub mod tls;
mod token;
mod token_exchange;
mod userinfo;

pub use authorize::{
    is_form, Approval, AuthorizeOutcome, InteractionError, InteractionRequired,
    PendingAuthorization,
};
pub use backchannel::{BackchannelLogout, DeliveryReport, LogoutDeliveries, LogoutSender};
pub use blocking::{BlockingError, BlockingPool};
pub use claims::{ClaimsError, NoUserClaims, UserClaims};
pub use client_admin::{RotateSecretError, RotatedSecret};
pub use client_documents::{
    ClientIdMetadataDocuments, DOCUMENT_RETRY_AFTER, MAX_CONCURRENT_FETCHES,
};
pub use client_keys::{
    FetchError, Fetched, Fetcher, FETCH_TIMEOUT, JWKS_MAX_AGE, MAX_JWKS_BYTES, REFETCH_INTERVAL,
};
pub use device_authorization::PendingDeviceAuthorization;
pub use discovery::paths;
pub use grants::GrantSummary;
pub use host_routes::HostRoutes;
#[cfg(feature = "http-fetcher")]
pub use http_fetcher::ReqwestFetcher;
pub use interaction::Interaction;
pub use jwt_bearer::SubjectMapper;
pub use keys::KeyError;
pub use login::{NextStep, SessionFacts};
pub use logout::{LogoutOutcome, PendingLogout};
pub use mount::{IssuerMount, MountError};
pub use password_grant::{PasswordAuthenticator, PasswordLogin};
pub use portcullis_store::{Clock, ManualClock, SystemClock};
pub use provider::{BuildError, Provider, ProviderBuilder, RegisterError};
pub use registration::{RegistrationHook, RegistrationPolicy};
pub use request_objects::MAX_REQUEST_OBJECT_BYTES;
pub use server_limits::ServerLimits;
pub use signer::{JwsSigner, RingSigner, SignError};
pub use stores::Stores;
pub use token_exchange::{ExchangeFacts, TokenExchangeHook};

pub use async_trait::async_trait;
pub use portcullis_core as core;
pub use portcullis_core::{
    CertificateChain, ClientCertificate, ClientCertificateAuth, LoginPrompt, LoginReason,
};
pub use portcullis_store as store;
