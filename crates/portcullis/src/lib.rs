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
//! For the host's own pages the engine offers what every login page needs, framework-free on
//! `http` types: [`SessionManager`] (server-side sessions that logout really ends, "sign
//! out everywhere", and CSRF tokens bound to the session, on any `SessionStore`), and
//! [`LoginThrottle`] (exponential backoff of failed sign-ins per account and per address).
//!
//! Nothing is global: several providers (one per tenant, say) can share one process and one
//! store, each with its own issuer, clients, policy and keys.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod authorize;
mod blocking;
mod claims;
mod client_endpoint;
mod clock;
mod cookies;
mod csrf;
mod discovery;
mod grants;
mod id_tokens;
mod interaction;
mod introspect;
mod keygen;
mod keys;
mod login;
mod logout;
mod provider;
mod refresh_grace;
mod responses;
mod revoke;
mod session;
mod signer;
mod throttle;
mod tickets;
mod token;
mod userinfo;

pub use authorize::{
    is_form, Approval, AuthorizeOutcome, InteractionError, InteractionRequired,
    PendingAuthorization,
};
pub use blocking::{BlockingError, BlockingPool};
pub use claims::{ClaimsError, NoUserClaims, UserClaims};
pub use clock::{Clock, ManualClock, SystemClock};
pub use discovery::paths;
pub use grants::GrantSummary;
pub use interaction::Interaction;
pub use keys::KeyError;
pub use login::{NextStep, SessionFacts};
pub use logout::{LogoutOutcome, PendingLogout};
pub use provider::{BuildError, Provider, ProviderBuilder, RegisterError, Stores};
pub use session::{
    LoginBinding, Session, SessionError, SessionManager, SessionManagerBuilder,
    DEFAULT_SESSION_LIFETIME,
};
pub use signer::{JwsSigner, RingSigner, SignError};
pub use throttle::{Backoff, LoginAttempt, LoginThrottle, ThrottlePolicy, Throttled};

pub use async_trait::async_trait;
pub use portcullis_core as core;
pub use portcullis_core::{LoginPrompt, LoginReason};
pub use portcullis_store as store;
