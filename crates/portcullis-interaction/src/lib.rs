//! The web half of a Portcullis host's own pages (login, consent, logout confirmation),
//! framework-free on `http` types like the engine: what every host would otherwise copy.
//!
//! * [`SessionManager`]: server-side sessions that logout really ends, "sign out
//!   everywhere", and CSRF tokens bound to the session (or, before sign-in, to a pre-login
//!   binding cookie), on any [`SessionStore`](portcullis::store::SessionStore).
//! * [`LoginThrottle`]: exponential backoff of failed sign-ins per account and per address;
//!   [`PasswordCheck`]: passwords checked on the engine's blocking pool, with a decoy for
//!   unknown users.
//! * [`Form`] and [`SessionManager::check_form`]: a form post's fields, read once each, and
//!   the CSRF check every form starts with.
//! * [`Pages`]: the login, consent, logout-confirmation and message pages, from templates a
//!   host may replace (MiniJinja, HTML-escaped by default), with the security headers every
//!   response needs ([`add_security_headers`]): no framing, no script, no caching.
//! * [`Account`]: the user's account page (their grants, revoking one, signing out
//!   everywhere).
//!
//! The protocol stays in the engine (`portcullis`): this crate only carries the browser's
//! side of it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod account;
mod cookies;
mod csrf;
mod form;
mod pages;
mod password;
mod session;
mod throttle;

pub use account::Account;
pub use form::{CheckedForm, Form, FormGuard};
pub use pages::{
    add_security_headers, csp_redirecting_to, page, ConsentPage, LoginPage, LogoutPage, PageError,
    Pages, TemplateError, CSP,
};
pub use password::PasswordCheck;
pub use session::{
    LoginBinding, Session, SessionError, SessionManager, SessionManagerBuilder,
    DEFAULT_SESSION_LIFETIME,
};
pub use throttle::{
    Backoff, ClientAddress, LoginAttempt, LoginThrottle, ThrottlePolicy, Throttled,
};
