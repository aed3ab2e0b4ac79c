//! Server-side sessions for the host's pages, and the CSRF tokens bound to them: reusable by
//! any host, on `http` types.
//!
//! A session cookie holds a random 256-bit id and nothing else; the [`SessionStore`] keeps
//! the session under the id's SHA-256 (RFC 6819 §5.1.4.1.3), with its subject, `auth_time`
//! and expiry. Logging out deletes the record, so every copy of the cookie — one taken
//! before the logout too — opens nothing afterwards (the logout of RP-Initiated Logout 1.0
//! §2 is real); "sign out everywhere" deletes every record of the subject. Each sign-in
//! issues a new id and deletes the one the browser carried, so an id planted before sign-in
//! never becomes a session (session fixation).
//!
//! Cookies are `HttpOnly`, `SameSite=Lax`, host-only and for `/`; with an `https` issuer
//! they are `Secure` and named with the `__Host-` prefix (`__Host-session`, `__Host-csrf`),
//! which browsers accept only from this very host (RFC 6265bis §4.1.3.2). A cookie sent
//! twice counts as none. The CSRF tokens are described in the `csrf` module: bound to the
//! session for every form that acts for a signed-in user ([`SessionManager::csrf_token`]),
//! to a per-browser binding for the login form ([`SessionManager::login_binding`]).
//!
//! ```no_run
//! # async fn f(store: std::sync::Arc<portcullis_store_memory::MemoryStore>,
//! #     headers: http::HeaderMap) -> Result<(), Box<dyn std::error::Error>> {
//! use portcullis::core::Issuer;
//! use portcullis_interaction::SessionManager;
//!
//! let sessions = SessionManager::builder(Issuer::parse("https://auth.example")?, store)
//!     .csrf_key([7; 32]) // shared by every node of the issuer
//!     .build()?;
//! // After checking the password: a new session, and its cookie for the response.
//! let (session, set_cookie) = sessions.sign_in(&headers, "alice", sessions.now()).await?;
//! // On later requests:
//! if let Some(session) = sessions.current(&headers).await? {
//!     let token = sessions.csrf_token(&session, "the form's ticket");
//! }
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use portcullis::core::{Issuer, RandomError, SecretToken, SessionRecord, TokenHash, UnixTime};
use portcullis::store::{SessionStore, StoreError};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::cookies;
use crate::csrf::{self, is_random_value};
use portcullis::{Clock, SystemClock};

/// Default session lifetime: 8 hours.
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// A signed-in browser's session, as found in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    record: SessionRecord,
}

impl Session {
    /// Who signed in.
    pub fn subject(&self) -> &str {
        &self.record.subject
    }

    /// When they authenticated (OpenID Connect Core §2 `auth_time`).
    pub fn auth_time(&self) -> UnixTime {
        self.record.auth_time
    }

    /// The authentication context class the sign-in reached (`acr`), if recorded
    /// ([`SessionManager::sign_in_with`]).
    pub fn acr(&self) -> Option<&str> {
        self.record.acr.as_deref()
    }

    /// The authentication methods of the sign-in (`amr`, RFC 8176), if recorded.
    pub fn amr(&self) -> Option<&[String]> {
        self.record.amr.as_deref()
    }

    /// When the session ends at the latest.
    pub fn expires_at(&self) -> UnixTime {
        self.record.expires_at
    }

    /// The session's id for the engine (`Approval::with_session`,
    /// `PendingLogout::ending_session`, `Provider::session_ended`): stable while it lasts,
    /// not a secret, and no way back to the cookie (a hash of the stored hash).
    pub fn public_id(&self) -> String {
        use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
        let id = TokenHash::of_parts(&[b"public session id", self.record.hash.as_bytes()]);
        URL_SAFE_NO_PAD.encode(id.as_bytes())
    }
}

/// A browser's pre-login binding (see [`SessionManager::login_binding`]).
#[derive(Clone)]
pub struct LoginBinding {
    value: String,
    set_cookie: Option<HeaderValue>,
}

impl LoginBinding {
    /// The `Set-Cookie` to send when the binding is new; `None` when the browser has it.
    pub fn set_cookie(&self) -> Option<&HeaderValue> {
        self.set_cookie.as_ref()
    }
}

impl fmt::Debug for LoginBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginBinding")
            .field("fresh", &self.set_cookie.is_some())
            .finish_non_exhaustive()
    }
}

/// Why a session could not begin.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The random number generator failed: no id was drawn.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Configures a [`SessionManager`].
pub struct SessionManagerBuilder {
    issuer: Issuer,
    store: Arc<dyn SessionStore>,
    lifetime: Duration,
    csrf_key: Option<[u8; 32]>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn SecureRandom + Send + Sync>,
}

impl SessionManagerBuilder {
    /// Sets how long a session lasts from sign-in (default [`DEFAULT_SESSION_LIFETIME`]).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Sets the key of the CSRF tokens. Every node of one issuer needs the same key (a form
    /// rendered by one is checked by another), and it must stay stable across restarts for
    /// forms in flight to pass; by default each manager draws its own.
    pub fn csrf_key(mut self, key: [u8; 32]) -> Self {
        self.csrf_key = Some(key);
        self
    }

    /// Sets the clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the random number generator (default: ring's `SystemRandom`).
    pub fn rng(mut self, rng: Arc<dyn SecureRandom + Send + Sync>) -> Self {
        self.rng = rng;
        self
    }

    /// Builds the manager.
    pub fn build(self) -> Result<SessionManager, RandomError> {
        let key = match self.csrf_key {
            Some(k) => k,
            None => {
                let mut k = [0u8; 32];
                self.rng.fill(&mut k).map_err(|_| RandomError)?;
                k
            }
        };
        let secure = self.issuer.as_str().starts_with("https:");
        Ok(SessionManager {
            inner: Arc::new(Inner {
                session_cookie: cookies::name("session", secure),
                binding_cookie: cookies::name("csrf", secure),
                secure,
                issuer: self.issuer,
                store: self.store,
                lifetime: self.lifetime,
                key: hmac::Key::new(hmac::HMAC_SHA256, &key),
                clock: self.clock,
                rng: self.rng,
            }),
        })
    }
}

struct Inner {
    issuer: Issuer,
    store: Arc<dyn SessionStore>,
    lifetime: Duration,
    key: hmac::Key,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn SecureRandom + Send + Sync>,
    secure: bool,
    session_cookie: String,
    binding_cookie: String,
}

/// Server-side sessions of one issuer and the CSRF tokens of the host's forms. Cheap to
/// clone (shared state).
#[derive(Clone)]
pub struct SessionManager {
    inner: Arc<Inner>,
}

impl fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionManager")
            .field("issuer", &self.inner.issuer)
            .field("lifetime", &self.inner.lifetime)
            .field("cookie", &self.inner.session_cookie)
            .finish_non_exhaustive()
    }
}

impl SessionManager {
    /// Starts configuring sessions of `issuer`, kept in `store`.
    pub fn builder(issuer: Issuer, store: Arc<dyn SessionStore>) -> SessionManagerBuilder {
        SessionManagerBuilder {
            issuer,
            store,
            lifetime: DEFAULT_SESSION_LIFETIME,
            csrf_key: None,
            clock: Arc::new(SystemClock),
            rng: Arc::new(SystemRandom::new()),
        }
    }

    /// The time on the manager's clock.
    pub fn now(&self) -> UnixTime {
        self.inner.clock.now()
    }

    /// The hash of the session id the request's cookie carries, if it has the shape of one.
    fn presented(&self, headers: &HeaderMap) -> Option<TokenHash> {
        cookies::read(headers, &self.inner.session_cookie)
            .filter(|id| is_random_value(id))
            .map(|id| TokenHash::of(&id))
    }

    /// The live session the request's cookie names: `None` without a cookie (or with two),
    /// or when the session ended (logged out, signed out everywhere) or expired.
    pub async fn current(&self, headers: &HeaderMap) -> Result<Option<Session>, StoreError> {
        let Some(hash) = self.presented(headers) else {
            return Ok(None);
        };
        let inner = &self.inner;
        let found = inner
            .store
            .find_session(&inner.issuer, &hash, inner.clock.now())
            .await?;
        Ok(found.map(|record| Session { record }))
    }

    /// Signs `subject` in (after the host verified them, at `auth_time`): ends the session the
    /// request carries, if any, and begins a new one with a fresh random id, lasting the
    /// configured lifetime from now. Returns it and the `Set-Cookie` for the response.
    pub async fn sign_in(
        &self,
        headers: &HeaderMap,
        subject: &str,
        auth_time: UnixTime,
    ) -> Result<(Session, HeaderValue), SessionError> {
        self.sign_in_with(headers, subject, auth_time, None, None)
            .await
    }

    /// [`SessionManager::sign_in`], recording how the user authenticated: the `acr` reached
    /// and the `amr` used (RFC 8176), which the session then reports ([`Session::acr`],
    /// [`Session::amr`]).
    pub async fn sign_in_with(
        &self,
        headers: &HeaderMap,
        subject: &str,
        auth_time: UnixTime,
        acr: Option<&str>,
        amr: Option<&[&str]>,
    ) -> Result<(Session, HeaderValue), SessionError> {
        let inner = &self.inner;
        if let Some(old) = self.presented(headers) {
            inner.store.delete_session(&inner.issuer, &old).await?;
        }
        let id = SecretToken::generate(inner.rng.as_ref())?;
        let now = inner.clock.now();
        let record = SessionRecord {
            hash: id.hash(),
            issuer: inner.issuer.clone(),
            subject: subject.to_owned(),
            auth_time,
            acr: acr.map(str::to_owned),
            amr: amr.map(|m| m.iter().map(|&s| s.to_owned()).collect()),
            created_at: now,
            expires_at: now.plus(inner.lifetime),
        };
        inner.store.insert_session(&record).await?;
        let cookie = cookies::set(
            &inner.session_cookie,
            id.expose(),
            Some(inner.lifetime),
            inner.secure,
        );
        Ok((Session { record }, cookie))
    }

    /// Ends the session the request carries (deleting its record, so no copy of the cookie
    /// opens it again); returns the `Set-Cookie` that removes the cookie.
    pub async fn sign_out(&self, headers: &HeaderMap) -> Result<HeaderValue, StoreError> {
        if let Some(hash) = self.presented(headers) {
            let inner = &self.inner;
            inner.store.delete_session(&inner.issuer, &hash).await?;
        }
        Ok(self.clear_cookie())
    }

    /// Ends every session of `subject` at this issuer, in every browser; returns how many.
    /// Send [`SessionManager::clear_cookie`] to the browser that asked.
    pub async fn sign_out_everywhere(&self, subject: &str) -> Result<u64, StoreError> {
        let inner = &self.inner;
        inner
            .store
            .delete_sessions_of_subject(&inner.issuer, subject)
            .await
    }

    /// The `Set-Cookie` that removes the session cookie.
    pub fn clear_cookie(&self) -> HeaderValue {
        cookies::clear(&self.inner.session_cookie, self.inner.secure)
    }

    /// Removes expired sessions from the store; returns how many went. Run it periodically
    /// with `Provider::purge_expired` (the memory store also sweeps on its own).
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        self.inner.store.purge_expired(self.inner.clock.now()).await
    }

    /// The CSRF token of a form that acts for `session`'s user, for `purpose` (the form's
    /// ticket, or a name of the action): valid only with this session's cookie.
    pub fn csrf_token(&self, session: &Session, purpose: &str) -> String {
        csrf::session_token(&self.inner.key, &session.record.hash, purpose)
    }

    /// Whether `token` is the CSRF token for `purpose` of the session the request's cookie
    /// names (checked in constant time). The session may have ended since: look it up with
    /// [`SessionManager::current`] before acting for it.
    pub fn check_csrf(&self, headers: &HeaderMap, purpose: &str, token: Option<&str>) -> bool {
        self.presented(headers)
            .is_some_and(|hash| csrf::verify_session_token(&self.inner.key, &hash, purpose, token))
    }

    /// The browser's pre-login binding, for the login form (no session yet): from its
    /// binding cookie, or a fresh random one (whose cookie the response must set, see
    /// [`LoginBinding::set_cookie`]).
    pub fn login_binding(&self, headers: &HeaderMap) -> Result<LoginBinding, RandomError> {
        let inner = &self.inner;
        if let Some(value) =
            cookies::read(headers, &inner.binding_cookie).filter(|v| is_random_value(v))
        {
            return Ok(LoginBinding {
                value,
                set_cookie: None,
            });
        }
        let value = SecretToken::generate(inner.rng.as_ref())?
            .expose()
            .to_owned();
        let set_cookie = cookies::set(&inner.binding_cookie, &value, None, inner.secure);
        Ok(LoginBinding {
            value,
            set_cookie: Some(set_cookie),
        })
    }

    /// The browser's pre-login binding as its cookie carries it, if it does: a key to
    /// throttle one browser by.
    pub(crate) fn binding_value(&self, headers: &HeaderMap) -> Option<String> {
        cookies::read(headers, &self.inner.binding_cookie).filter(|v| is_random_value(v))
    }

    /// The CSRF token of the login form of `ticket` in the browser bound by `binding`.
    pub fn login_csrf_token(&self, binding: &LoginBinding, ticket: &str) -> String {
        csrf::login_token(&self.inner.key, &binding.value, ticket)
    }

    /// Whether `token` is the login form's CSRF token for `ticket` in the browser whose
    /// binding cookie the request carries (checked in constant time).
    pub fn check_login_csrf(&self, headers: &HeaderMap, ticket: &str, token: Option<&str>) -> bool {
        cookies::read(headers, &self.inner.binding_cookie)
            .filter(|v| is_random_value(v))
            .is_some_and(|b| csrf::verify_login_token(&self.inner.key, &b, ticket, token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::COOKIE;
    use portcullis::ManualClock;
    use portcullis_store_memory::MemoryStore;

    struct Fixture {
        clock: Arc<ManualClock>,
        sessions: SessionManager,
    }

    fn fixture(issuer: &str) -> Fixture {
        let clock = Arc::new(ManualClock::new(UnixTime::from_secs(1_000_000)));
        let sessions =
            SessionManager::builder(Issuer::parse(issuer).unwrap(), Arc::new(MemoryStore::new()))
                .lifetime(Duration::from_secs(3600))
                .csrf_key([7; 32])
                .clock(clock.clone())
                .build()
                .unwrap();
        Fixture { clock, sessions }
    }

    /// A request carrying the cookies set by `set_cookies` (their `name=value` parts).
    fn request_with(set_cookies: &[&HeaderValue]) -> HeaderMap {
        let pairs: Vec<&str> = set_cookies
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap())
            .collect();
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(&pairs.join("; ")).unwrap());
        h
    }

    async fn sign_in(f: &Fixture, previous: &HeaderMap, who: &str) -> (Session, HeaderMap) {
        let now = f.clock.now();
        let (session, cookie) = f.sessions.sign_in(previous, who, now).await.unwrap();
        (session, request_with(&[&cookie]))
    }

    #[tokio::test]
    async fn a_copy_of_the_cookie_opens_nothing_after_sign_out() {
        let f = fixture("http://127.0.0.1:8080");
        let (session, browser) = sign_in(&f, &HeaderMap::new(), "alice").await;
        assert_eq!(session.subject(), "alice");
        assert_eq!(
            session.expires_at(),
            f.clock.now().plus(Duration::from_secs(3600))
        );
        let copy = browser.clone();
        assert_eq!(f.sessions.current(&browser).await.unwrap(), Some(session));
        let cleared = f.sessions.sign_out(&browser).await.unwrap();
        let cleared = cleared.to_str().unwrap();
        assert!(cleared.starts_with("session=;") && cleared.contains("Max-Age=0"));
        assert_eq!(f.sessions.current(&copy).await.unwrap(), None);
        // Signing out without a session is harmless.
        f.sessions.sign_out(&HeaderMap::new()).await.unwrap();
    }

    #[tokio::test]
    async fn a_session_expires_after_its_lifetime() {
        let f = fixture("http://127.0.0.1:8080");
        let (_, browser) = sign_in(&f, &HeaderMap::new(), "alice").await;
        f.clock.advance(3599);
        assert!(f.sessions.current(&browser).await.unwrap().is_some());
        f.clock.advance(1);
        assert_eq!(f.sessions.current(&browser).await.unwrap(), None);
    }

    #[tokio::test]
    async fn every_sign_in_issues_a_new_id_and_ends_the_old_one() {
        let f = fixture("http://127.0.0.1:8080");
        let (_, first) = sign_in(&f, &HeaderMap::new(), "alice").await;
        let (second, renewed) = sign_in(&f, &first, "alice").await;
        assert_ne!(first, renewed, "a new id");
        assert_eq!(
            f.sessions.current(&first).await.unwrap(),
            None,
            "old id dead"
        );
        assert_eq!(f.sessions.current(&renewed).await.unwrap(), Some(second));
        // An id the server never issued (planted before sign-in) opens nothing.
        let planted = request_with(&[&HeaderValue::from_static(
            "session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )]);
        assert_eq!(f.sessions.current(&planted).await.unwrap(), None);
    }

    #[tokio::test]
    async fn sign_out_everywhere_ends_every_browser_of_that_user_only() {
        let f = fixture("http://127.0.0.1:8080");
        let (_, laptop) = sign_in(&f, &HeaderMap::new(), "alice").await;
        let (_, phone) = sign_in(&f, &HeaderMap::new(), "alice").await;
        let (bob, bobs) = sign_in(&f, &HeaderMap::new(), "bob").await;
        assert_eq!(f.sessions.sign_out_everywhere("alice").await.unwrap(), 2);
        for browser in [&laptop, &phone] {
            assert_eq!(f.sessions.current(browser).await.unwrap(), None);
        }
        assert_eq!(f.sessions.current(&bobs).await.unwrap(), Some(bob));
    }

    #[tokio::test]
    async fn a_cookie_sent_twice_counts_as_none() {
        let f = fixture("http://127.0.0.1:8080");
        let (_, a) = sign_in(&f, &HeaderMap::new(), "alice").await;
        let (_, b) = sign_in(&f, &HeaderMap::new(), "alice").await;
        let mut both = a.clone();
        both.append(COOKIE, b[COOKIE].clone());
        assert_eq!(f.sessions.current(&both).await.unwrap(), None);
    }

    #[tokio::test]
    async fn https_issuers_get_host_prefixed_secure_cookies() {
        let f = fixture("https://auth.example");
        let (_, cookie) = f
            .sessions
            .sign_in(&HeaderMap::new(), "alice", f.clock.now())
            .await
            .unwrap();
        let text = cookie.to_str().unwrap();
        assert!(text.starts_with("__Host-session="), "{text}");
        for attribute in [
            "; Secure",
            "; HttpOnly",
            "; SameSite=Lax",
            "; Path=/",
            "; Max-Age=3600",
        ] {
            assert!(text.contains(attribute), "{text} lacks {attribute}");
        }
        assert!(!text.contains("Domain"), "{text}");
        assert!(f
            .sessions
            .current(&request_with(&[&cookie]))
            .await
            .unwrap()
            .is_some());
        // The unprefixed name means nothing to an https issuer.
        let bare = text.replacen("__Host-session", "session", 1);
        let bare = request_with(&[&HeaderValue::from_str(&bare).unwrap()]);
        assert_eq!(f.sessions.current(&bare).await.unwrap(), None);
        let binding = f.sessions.login_binding(&HeaderMap::new()).unwrap();
        let set = binding.set_cookie().unwrap().to_str().unwrap();
        assert!(
            set.starts_with("__Host-csrf=") && set.contains("; Secure"),
            "{set}"
        );
        assert!(f
            .sessions
            .clear_cookie()
            .to_str()
            .unwrap()
            .starts_with("__Host-session=;"));
        let http = fixture("http://127.0.0.1:8080");
        let (_, cookie) = http
            .sessions
            .sign_in(&HeaderMap::new(), "alice", http.clock.now())
            .await
            .unwrap();
        let text = cookie.to_str().unwrap();
        assert!(
            text.starts_with("session=") && !text.contains("Secure"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_csrf_token_passes_only_with_its_own_session() {
        let f = fixture("http://127.0.0.1:8080");
        let (victim, victims) = sign_in(&f, &HeaderMap::new(), "alice").await;
        let (attacker, attackers) = sign_in(&f, &HeaderMap::new(), "mallory").await;
        let token = f.sessions.csrf_token(&victim, "ticket");
        assert!(f.sessions.check_csrf(&victims, "ticket", Some(&token)));
        assert!(!f.sessions.check_csrf(&victims, "other", Some(&token)));
        assert!(!f.sessions.check_csrf(&victims, "ticket", None));
        assert!(!f
            .sessions
            .check_csrf(&HeaderMap::new(), "ticket", Some(&token)));
        // The attacker's own token, with the victim's session and any planted binding
        // cookie, fails: the token is bound to the session, not to a cookie of its own.
        let own = f.sessions.csrf_token(&attacker, "ticket");
        assert!(f.sessions.check_csrf(&attackers, "ticket", Some(&own)));
        let mut planted = victims.clone();
        planted.append(
            COOKIE,
            HeaderValue::from_static("csrf=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        );
        assert!(!f.sessions.check_csrf(&planted, "ticket", Some(&own)));
        let binding = f.sessions.login_binding(&planted).unwrap();
        assert!(
            binding.set_cookie().is_none(),
            "the planted binding is read"
        );
        let login = f.sessions.login_csrf_token(&binding, "ticket");
        assert!(!f.sessions.check_csrf(&planted, "ticket", Some(&login)));
        // A token stays valid after the session ends (the host then finds no session).
        f.sessions.sign_out(&victims).await.unwrap();
        assert!(f.sessions.check_csrf(&victims, "ticket", Some(&token)));
        assert_eq!(f.sessions.current(&victims).await.unwrap(), None);
    }

    #[tokio::test]
    async fn login_tokens_are_bound_to_the_browser_binding_and_the_ticket() {
        let f = fixture("http://127.0.0.1:8080");
        let fresh = f.sessions.login_binding(&HeaderMap::new()).unwrap();
        let browser = request_with(&[fresh.set_cookie().unwrap()]);
        let token = f.sessions.login_csrf_token(&fresh, "ticket");
        assert!(f
            .sessions
            .check_login_csrf(&browser, "ticket", Some(&token)));
        assert!(!f.sessions.check_login_csrf(&browser, "other", Some(&token)));
        assert!(!f
            .sessions
            .check_login_csrf(&HeaderMap::new(), "ticket", Some(&token)));
        let again = f.sessions.login_binding(&browser).unwrap();
        assert!(again.set_cookie().is_none(), "kept");
        assert_eq!(f.sessions.login_csrf_token(&again, "ticket"), token);
        let other = f.sessions.login_binding(&HeaderMap::new()).unwrap();
        let other = request_with(&[other.set_cookie().unwrap()]);
        assert!(!f.sessions.check_login_csrf(&other, "ticket", Some(&token)));
        let malformed = request_with(&[&HeaderValue::from_static("csrf=short")]);
        assert!(f
            .sessions
            .login_binding(&malformed)
            .unwrap()
            .set_cookie()
            .is_some());
    }

    #[test]
    fn debug_shows_no_key_or_binding() {
        let f = fixture("http://127.0.0.1:8080");
        let text = format!("{:?}", f.sessions);
        assert!(
            text.contains("SessionManager") && !text.contains("key"),
            "{text}"
        );
        let binding = f.sessions.login_binding(&HeaderMap::new()).unwrap();
        assert!(!format!("{binding:?}").contains(&binding.value));
    }
}
