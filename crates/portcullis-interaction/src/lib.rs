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
//!   response needs ([`add_security_headers`]): no framing, no script, no caching. The
//!   consent page shows authorization details with their hidden characters (bidirectional
//!   overrides, zero-width and other format characters) escaped
//!   ([`reveal_hidden_characters`]).
//! * [`Account`]: the user's account page (their grants, revoking one, signing out
//!   everywhere).
//! * [`TotpCheck`]: a second factor, one-time codes (RFC 6238) checked in constant time,
//!   each accepted once per user and step; a sign-in with one reaches [`MFA_ACR`].
//! * [`LoginFlow`]: all of the above put together for users who sign in with a password
//!   and, if they enrolled, a one-time code (the host's [`UserDirectory`]): the engine's
//!   `Interaction` and the handlers of the login, consent and logout forms, each taking
//!   the engine's next step.
//! * [`purge_periodically`]: the expired records of the provider and the sessions removed
//!   on a timer.
//! * [`HostSecrets`]: the secrets the provider and the pages must keep stable and share
//!   between nodes, checked complete for a shared store, or kept in a private secrets file
//!   beside a single node's database.
//!
//! What a host gets, and why:
//! * Sessions are server-side ([`SessionManager`], in the host's store): the
//!   `HttpOnly`, `SameSite=Lax` cookie (`__Host-` prefixed and `Secure` with an `https`
//!   issuer) holds only a random 256-bit id, the store only its hash. Every sign-in issues a
//!   new id; logging out deletes the session, so a copy of the cookie opens nothing
//!   afterwards; the account page ([`Account`]) signs the user out everywhere. Sessions
//!   expire.
//! * Every form of a signed-in user (consent, logout confirmation, the account page's) carries
//!   a CSRF token bound by HMAC to the session and to the form's action and ticket; the login
//!   form, before any session, one bound to a pre-login binding cookie and the ticket. A POST
//!   without a valid token gets 403, and a planted cookie does not help another site
//!   (RFC 6749 §10.12, RFC 9700 §4.7).
//! * Failed sign-ins are throttled per account and per client address
//!   ([`LoginThrottle`], in this process): after 5 failures of an account (20 of an
//!   address) the next attempt waits 1 s, doubling with each failure up to 15 min, and is
//!   answered `429` with `Retry-After` without its password being checked; unknown users get
//!   the same answers (RFC 6819 §5.1.4.2.3–§5.1.4.2.4).
//! * Every page forbids framing (`X-Frame-Options`, CSP `frame-ancestors`) against
//!   clickjacking (RFC 6749 §10.13, RFC 9700 §4.16) and is never cached. Forms may post only
//!   to this server; a form answered with a redirect to the client (consent, logout) may also
//!   go to that client's origin, and no other (CSP `form-action`).
//!
//! The protocol stays in the engine (`portcullis`): this crate only carries the browser's
//! side of it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod account;
mod cookies;
mod csrf;
mod flow;
mod form;
mod hidden_characters;
mod pages;
mod password;
mod purge;
mod secrets;
mod session;
mod totp;

pub use account::Account;
pub use flow::{LoginFlow, UserDirectory};
pub use form::{CheckedForm, Form, FormGuard};
pub use hidden_characters::reveal_hidden_characters;
pub use pages::{
    add_security_headers, csp_redirecting_to, page, ConsentPage, DevicePage, LoginPage, LogoutPage,
    PageError, Pages, TemplateError, CSP,
};
pub use password::PasswordCheck;
pub use portcullis::throttle::{
    with_client_address, Backoff, ClientAddress, LoginAttempt, LoginThrottle, ThrottlePolicy,
    Throttled, UserCodeCap,
};
pub use purge::purge_periodically;
pub use secrets::{HostSecrets, NamedKey, Secret32, SecretsFileError, SharedSecret};
pub use session::{
    LoginBinding, Session, SessionError, SessionManager, SessionManagerBuilder,
    DEFAULT_SESSION_LIFETIME,
};
pub use totp::{TotpCheck, TotpSecret, TotpSecretError, MFA_ACR, MFA_AMR};
