//! The login decision: what an authorization request needs from the user, given the host's
//! session (OpenID Connect Core §3.1.2.1–§3.1.2.6, §5.5.1.1), and whether an approval's
//! authentication satisfies the request.
//!
//! The engine gathers the facts (the host's session, remembered consent, the subject the
//! `id_token_hint` names) and asks [`decide_login`] for the next step; [`oidc_session`]
//! checks the host's approval again, whatever way it was reached.

use crate::error::AuthorizeErrorCode;
use crate::oidc::{OidcRequest, OidcSession};
use crate::time::UnixTime;

/// Why a `prompt=none` request cannot proceed without the user (OpenID Connect Core
/// §3.1.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InteractionRequired {
    /// The user is not logged in.
    Login,
    /// The user has not consented.
    Consent,
    /// The user must choose among accounts.
    AccountSelection,
    /// Some other interaction is needed.
    Other,
}

impl InteractionRequired {
    /// The error code and description of the redirect.
    pub fn error(self) -> (AuthorizeErrorCode, &'static str) {
        match self {
            Self::Login => (AuthorizeErrorCode::LoginRequired, "the user must log in"),
            Self::Consent => (AuthorizeErrorCode::ConsentRequired, "the user must consent"),
            Self::AccountSelection => (
                AuthorizeErrorCode::AccountSelectionRequired,
                "the user must select an account",
            ),
            Self::Other => (
                AuthorizeErrorCode::InteractionRequired,
                "user interaction is required",
            ),
        }
    }
}

/// The host's signed-in user, as the decision sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedIn<'a> {
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// The authentication context class reached, if the host tracks it.
    pub acr: Option<&'a str>,
    /// Whether the user passed this request's login step: they authenticated after the
    /// request arrived (on its login page), which satisfies `prompt=login` and
    /// `prompt=select_account`. A session found when the request arrives never does.
    pub authenticated_for_request: bool,
    /// Whether the user is the one the request's `id_token_hint` names (`true` without a
    /// hint).
    pub is_hinted_user: bool,
    /// Whether the user must be asked for consent: the client's
    /// [`ConsentRule`](crate::ConsentRule) and the user's remembered consent.
    pub needs_consent: bool,
}

/// Why the login page is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginReason {
    /// Nobody is signed in.
    NoSession,
    /// `prompt=login`: the user must authenticate again (§3.1.2.1).
    PromptLogin,
    /// `prompt=select_account`: the user chooses the account to use (§3.1.2.1).
    SelectAccount,
    /// The session's authentication is older than `max_age` (§3.1.2.1).
    MaxAge,
    /// The `id_token_hint` names another user than the one signed in (§3.1.2.1).
    OtherUser,
    /// The session's `acr` is none of the essential values asked for (§5.5.1.1).
    Acr,
}

/// What the login page is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginPrompt {
    /// Why it is shown.
    pub reason: LoginReason,
    /// `login_hint`, e.g. to fill in the username (§3.1.2.1).
    pub login_hint: Option<String>,
    /// The authentication context classes asked for, in the client's order: `acr_values`
    /// (§3.1.2.1), then those of the `claims` parameter's `acr` (§5.5.1.1).
    pub acr_values: Vec<String>,
    /// Whether an authentication reaching none of the `claims` parameter's `acr` values fails
    /// (§5.5.1.1); `acr_values` alone are preferences.
    pub essential_acr: bool,
}

impl LoginPrompt {
    /// Whether a session exists but does not count: the user must authenticate again.
    pub fn reauthenticate(&self) -> bool {
        self.reason != LoginReason::NoSession
    }
}

/// The next step of an authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginDecision {
    /// Approve at once, for the signed-in user, with the scopes asked for.
    Approve,
    /// Show the login page.
    Login(LoginPrompt),
    /// Show the consent page to the signed-in user.
    Consent,
    /// Redirect with the error: the request forbids the interaction it needs (`prompt=none`).
    Refuse(InteractionRequired),
}

/// Decides the next step of a request (`oidc`: its OpenID Connect parameters, in OpenID mode)
/// for the host's signed-in user, if any, at `now` (OpenID Connect Core §3.1.2.1–§3.1.2.6):
///
/// - nobody signed in: log in;
/// - a session found when the request arrives does not count with `prompt=login` or
///   `prompt=select_account`: log in;
/// - an authentication older than `max_age`, a user other than the `id_token_hint`'s, or an
///   `acr` outside the essential values of the `claims` parameter (§5.5.1.1): log in;
/// - then the consent page if consent is needed, else approve.
///
/// With `prompt=none` no page is shown: `login_required` instead of any login page,
/// `consent_required` instead of the consent page (§3.1.2.6).
pub fn decide_login(
    oidc: Option<&OidcRequest>,
    user: Option<&SignedIn<'_>>,
    now: UnixTime,
) -> LoginDecision {
    let prompt = oidc.map(|o| o.prompt).unwrap_or_default();
    let login = |reason| {
        if prompt.none {
            LoginDecision::Refuse(InteractionRequired::Login)
        } else {
            LoginDecision::Login(login_prompt(oidc, reason))
        }
    };
    let Some(user) = user else {
        return login(LoginReason::NoSession);
    };
    if !user.authenticated_for_request {
        if prompt.login {
            return login(LoginReason::PromptLogin);
        }
        if prompt.select_account {
            return login(LoginReason::SelectAccount);
        }
    }
    if let Some(oidc) = oidc {
        if older_than_max_age(oidc, user.auth_time, now) {
            return login(LoginReason::MaxAge);
        }
        if !user.is_hinted_user {
            return login(LoginReason::OtherUser);
        }
        if !essential_acr_met(oidc, user.acr) {
            return login(LoginReason::Acr);
        }
    }
    match (user.needs_consent, prompt.none) {
        (false, _) => LoginDecision::Approve,
        (true, false) => LoginDecision::Consent,
        (true, true) => LoginDecision::Refuse(InteractionRequired::Consent),
    }
}

fn login_prompt(oidc: Option<&OidcRequest>, reason: LoginReason) -> LoginPrompt {
    let mut acr_values = Vec::new();
    let mut essential_acr = false;
    if let Some(o) = oidc {
        acr_values.extend(o.acr_values.iter().cloned());
        if let Some(acr) = &o.claims.id_token_acr {
            essential_acr = acr.essential;
            for v in &acr.values {
                if !acr_values.contains(v) {
                    acr_values.push(v.clone());
                }
            }
        }
    }
    LoginPrompt {
        reason,
        login_hint: oidc.and_then(|o| o.login_hint.clone()),
        acr_values,
        essential_acr,
    }
}

/// Whether an authentication at `auth_time` is older than the request's `max_age` at `now`
/// (§3.1.2.1).
fn older_than_max_age(oidc: &OidcRequest, auth_time: UnixTime, now: UnixTime) -> bool {
    oidc.max_age
        .is_some_and(|max_age| now.secs() > auth_time.secs().saturating_add(max_age))
}

/// Whether `acr` is one of the essential values the `claims` parameter asks for, or none are
/// essential (§5.5.1.1).
fn essential_acr_met(oidc: &OidcRequest, acr: Option<&str>) -> bool {
    match &oidc.claims.id_token_acr {
        Some(asked) if asked.essential => acr.is_some_and(|a| asked.values.iter().any(|v| v == a)),
        _ => true,
    }
}

/// The host's approval of an OpenID Connect request, as [`oidc_session`] checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApprovedAuthentication<'a> {
    /// When the user authenticated.
    pub auth_time: UnixTime,
    /// The authentication context class reached.
    pub acr: Option<&'a str>,
    /// The authentication methods used (RFC 8176).
    pub amr: Option<&'a [String]>,
}

/// The OpenID Connect session of an approved request (what its ID tokens carry), after
/// checking that the approval's authentication satisfies the request at `now`: not older
/// than `max_age`, after `requested_at` with `prompt=login` (§3.1.2.1), and reaching an
/// essential `acr` of the `claims` parameter (§5.5.1.1). `Err` is the description of a
/// `login_required` redirect.
///
/// `auth_time` goes in the ID tokens when `max_age` was asked, `auth_time` was asked for by
/// the `claims` parameter (§5.5.1; §2 requires it when essential), or the client requires it
/// (`client_requires_auth_time`: OpenID Connect Dynamic Client Registration §2
/// `require_auth_time`).
pub fn oidc_session(
    request: &OidcRequest,
    client_requires_auth_time: bool,
    auth: &ApprovedAuthentication<'_>,
    requested_at: UnixTime,
    now: UnixTime,
) -> Result<OidcSession, &'static str> {
    if older_than_max_age(request, auth.auth_time, now) {
        return Err("the authentication is older than max_age");
    }
    if request.prompt.login && auth.auth_time < requested_at {
        return Err("prompt=login requires a fresh authentication");
    }
    if !essential_acr_met(request, auth.acr) {
        return Err("the authentication does not reach an essential acr value");
    }
    Ok(OidcSession {
        nonce: request.nonce.clone(),
        acr: auth.acr.map(str::to_owned),
        amr: auth.amr.map(<[String]>::to_vec),
        auth_time_required: request.max_age.is_some()
            || client_requires_auth_time
            || request.claims.id_token.iter().any(|c| c == "auth_time"),
        claims: request.claims.clone(),
        sid: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::{AcrClaim, ClaimsRequest, Prompt};

    const NOW: u64 = 10_000;

    fn at(secs: u64) -> UnixTime {
        UnixTime::from_secs(secs)
    }

    /// Alice, signed in 100 s ago before the request, hinted, with consent remembered.
    fn alice() -> SignedIn<'static> {
        SignedIn {
            auth_time: at(NOW - 100),
            acr: Some("urn:loa:1"),
            authenticated_for_request: false,
            is_hinted_user: true,
            needs_consent: false,
        }
    }

    fn request(edit: impl FnOnce(&mut OidcRequest)) -> OidcRequest {
        let mut o = OidcRequest {
            login_hint: Some("alice@example".into()),
            ..OidcRequest::default()
        };
        edit(&mut o);
        o
    }

    fn prompt(edit: impl FnOnce(&mut Prompt)) -> OidcRequest {
        request(|o| edit(&mut o.prompt))
    }

    fn essential(values: &[&str]) -> OidcRequest {
        request(|o| {
            o.claims.id_token_acr = Some(AcrClaim {
                essential: true,
                values: values.iter().map(|v| (*v).to_owned()).collect(),
            })
        })
    }

    fn decide(o: &OidcRequest, user: Option<SignedIn<'_>>) -> LoginDecision {
        decide_login(Some(o), user.as_ref(), at(NOW))
    }

    fn login(reason: LoginReason) -> LoginDecision {
        LoginDecision::Login(LoginPrompt {
            reason,
            login_hint: Some("alice@example".into()),
            acr_values: Vec::new(),
            essential_acr: false,
        })
    }

    const REFUSE_LOGIN: LoginDecision = LoginDecision::Refuse(InteractionRequired::Login);

    #[test]
    fn nobody_signed_in_logs_in_or_is_login_required() {
        let o = request(|_| {});
        assert_eq!(decide(&o, None), login(LoginReason::NoSession));
        assert_eq!(decide(&prompt(|p| p.none = true), None), REFUSE_LOGIN);
        // A plain OAuth request: the login page, no hint.
        let plain = decide_login(None, None, at(NOW));
        let LoginDecision::Login(p) = plain else {
            panic!("{plain:?}")
        };
        assert_eq!(p.reason, LoginReason::NoSession);
        assert!(!p.reauthenticate());
        assert_eq!(p.login_hint, None);
    }

    #[test]
    fn a_session_approves_or_asks_consent() {
        let o = request(|_| {});
        assert_eq!(decide(&o, Some(alice())), LoginDecision::Approve);
        let asks = SignedIn {
            needs_consent: true,
            ..alice()
        };
        assert_eq!(decide(&o, Some(asks)), LoginDecision::Consent);
        let none = prompt(|p| p.none = true);
        assert_eq!(decide(&none, Some(alice())), LoginDecision::Approve);
        assert_eq!(
            decide(&none, Some(asks)),
            LoginDecision::Refuse(InteractionRequired::Consent)
        );
        // Plain OAuth: no OpenID rule applies, even to a stale or unhinted session.
        let odd = SignedIn {
            auth_time: at(0),
            is_hinted_user: false,
            acr: None,
            ..asks
        };
        assert_eq!(
            decide_login(None, Some(&odd), at(NOW)),
            LoginDecision::Consent
        );
    }

    #[test]
    fn prompt_login_and_select_account_need_the_requests_own_login() {
        for (o, reason) in [
            (prompt(|p| p.login = true), LoginReason::PromptLogin),
            (
                prompt(|p| p.select_account = true),
                LoginReason::SelectAccount,
            ),
            (
                prompt(|p| {
                    p.login = true;
                    p.select_account = true
                }),
                LoginReason::PromptLogin,
            ),
        ] {
            let found = decide(&o, Some(alice()));
            assert_eq!(found, login(reason));
            let LoginDecision::Login(p) = found else {
                unreachable!()
            };
            assert!(p.reauthenticate());
            // Once the user signed in on its login page, the request proceeds.
            let fresh = SignedIn {
                auth_time: at(NOW),
                authenticated_for_request: true,
                ..alice()
            };
            assert_eq!(decide(&o, Some(fresh)), LoginDecision::Approve);
        }
    }

    #[test]
    fn max_age_counts_whole_seconds_since_the_authentication() {
        for (max_age, expected) in [
            (100, LoginDecision::Approve),
            (101, LoginDecision::Approve),
            (99, login(LoginReason::MaxAge)),
            (0, login(LoginReason::MaxAge)),
        ] {
            let o = request(|o| o.max_age = Some(max_age));
            assert_eq!(decide(&o, Some(alice())), expected, "max_age={max_age}");
        }
        let o = request(|o| o.max_age = Some(0));
        let just_now = SignedIn {
            auth_time: at(NOW),
            authenticated_for_request: true,
            ..alice()
        };
        assert_eq!(decide(&o, Some(just_now)), LoginDecision::Approve);
        // An overflowing max_age never expires.
        let o = request(|o| o.max_age = Some(u64::MAX));
        assert_eq!(decide(&o, Some(alice())), LoginDecision::Approve);
        let o = request(|o| {
            o.max_age = Some(10);
            o.prompt.none = true
        });
        assert_eq!(decide(&o, Some(alice())), REFUSE_LOGIN);
    }

    #[test]
    fn another_user_than_the_hinted_one_logs_in_again() {
        let bob = SignedIn {
            is_hinted_user: false,
            ..alice()
        };
        assert_eq!(
            decide(&request(|_| {}), Some(bob)),
            login(LoginReason::OtherUser)
        );
        let fresh_bob = SignedIn {
            authenticated_for_request: true,
            ..bob
        };
        assert_eq!(
            decide(&request(|_| {}), Some(fresh_bob)),
            login(LoginReason::OtherUser)
        );
        assert_eq!(decide(&prompt(|p| p.none = true), Some(bob)), REFUSE_LOGIN);
    }

    #[test]
    fn an_essential_acr_must_be_reached() {
        let o = essential(&["urn:loa:2", "urn:loa:3"]);
        let expected = LoginDecision::Login(LoginPrompt {
            reason: LoginReason::Acr,
            login_hint: Some("alice@example".into()),
            acr_values: vec!["urn:loa:2".into(), "urn:loa:3".into()],
            essential_acr: true,
        });
        assert_eq!(decide(&o, Some(alice())), expected);
        let no_acr = SignedIn {
            acr: None,
            ..alice()
        };
        assert_eq!(decide(&o, Some(no_acr)), expected);
        for reached in ["urn:loa:2", "urn:loa:3"] {
            let stepped_up = SignedIn {
                acr: Some(reached),
                ..alice()
            };
            assert_eq!(decide(&o, Some(stepped_up)), LoginDecision::Approve);
        }
        let mut none = o.clone();
        none.prompt.none = true;
        assert_eq!(decide(&none, Some(alice())), REFUSE_LOGIN);
        // Voluntary values are preferences: passed to the login page, never required.
        let mut voluntary = o.clone();
        voluntary.acr_values = vec!["urn:loa:3".into(), "urn:loa:9".into()];
        voluntary.claims.id_token_acr.as_mut().unwrap().essential = false;
        assert_eq!(decide(&voluntary, Some(alice())), LoginDecision::Approve);
        assert_eq!(
            decide(&voluntary, None),
            LoginDecision::Login(LoginPrompt {
                reason: LoginReason::NoSession,
                login_hint: Some("alice@example".into()),
                acr_values: vec!["urn:loa:3".into(), "urn:loa:9".into(), "urn:loa:2".into()],
                essential_acr: false,
            })
        );
    }

    #[test]
    fn the_first_unmet_rule_is_the_reason() {
        let everything = request(|o| {
            o.max_age = Some(1);
            o.prompt.login = true;
            o.claims.id_token_acr = essential(&["urn:loa:2"]).claims.id_token_acr;
        });
        let user = SignedIn {
            is_hinted_user: false,
            needs_consent: true,
            ..alice()
        };
        assert_eq!(
            decide(&everything, Some(user)),
            login(LoginReason::PromptLogin).with_essential(&["urn:loa:2"])
        );
        let user = SignedIn {
            authenticated_for_request: true,
            ..user
        };
        assert_eq!(
            decide(&everything, Some(user)),
            login(LoginReason::MaxAge).with_essential(&["urn:loa:2"])
        );
        let user = SignedIn {
            auth_time: at(NOW),
            ..user
        };
        assert_eq!(
            decide(&everything, Some(user)),
            login(LoginReason::OtherUser).with_essential(&["urn:loa:2"])
        );
        let user = SignedIn {
            is_hinted_user: true,
            ..user
        };
        assert_eq!(
            decide(&everything, Some(user)),
            login(LoginReason::Acr).with_essential(&["urn:loa:2"])
        );
        let user = SignedIn {
            acr: Some("urn:loa:2"),
            ..user
        };
        assert_eq!(decide(&everything, Some(user)), LoginDecision::Consent);
    }

    impl LoginDecision {
        fn with_essential(self, values: &[&str]) -> Self {
            let LoginDecision::Login(mut p) = self else {
                return self;
            };
            p.acr_values = values.iter().map(|v| (*v).to_owned()).collect();
            p.essential_acr = true;
            LoginDecision::Login(p)
        }
    }

    #[test]
    fn interaction_required_maps_to_its_code() {
        for (reason, code) in [
            (InteractionRequired::Login, "login_required"),
            (InteractionRequired::Consent, "consent_required"),
            (
                InteractionRequired::AccountSelection,
                "account_selection_required",
            ),
            (InteractionRequired::Other, "interaction_required"),
        ] {
            assert_eq!(reason.error().0.as_str(), code);
        }
    }

    fn approved(auth_time: u64, acr: Option<&str>) -> ApprovedAuthentication<'_> {
        ApprovedAuthentication {
            auth_time: at(auth_time),
            acr,
            amr: None,
        }
    }

    #[test]
    fn the_approval_must_satisfy_the_request() {
        let check = |o: &OidcRequest, auth: ApprovedAuthentication<'_>| {
            oidc_session(o, false, &auth, at(NOW - 10), at(NOW)).map(|_| ())
        };
        let recent = approved(NOW - 10, None);
        assert_eq!(check(&request(|o| o.max_age = Some(10)), recent), Ok(()));
        assert_eq!(
            check(&request(|o| o.max_age = Some(9)), recent),
            Err("the authentication is older than max_age")
        );
        let login = prompt(|p| p.login = true);
        assert_eq!(check(&login, recent), Ok(()));
        assert_eq!(
            check(&login, approved(NOW - 11, None)),
            Err("prompt=login requires a fresh authentication")
        );
        let o = essential(&["urn:loa:2"]);
        assert_eq!(check(&o, approved(NOW, Some("urn:loa:2"))), Ok(()));
        for acr in [None, Some("urn:loa:1")] {
            assert_eq!(
                check(&o, approved(NOW, acr)),
                Err("the authentication does not reach an essential acr value")
            );
        }
    }

    #[test]
    fn the_session_carries_what_id_tokens_need() {
        let amr = vec!["pwd".to_owned()];
        let auth = ApprovedAuthentication {
            auth_time: at(NOW),
            acr: Some("urn:loa:1"),
            amr: Some(&amr),
        };
        let session = |o: &OidcRequest, require: bool| {
            oidc_session(o, require, &auth, at(NOW), at(NOW)).unwrap()
        };
        let o = request(|o| o.nonce = Some("n".into()));
        let s = session(&o, false);
        assert_eq!(s.nonce.as_deref(), Some("n"));
        assert_eq!(s.acr.as_deref(), Some("urn:loa:1"));
        assert_eq!(s.amr, Some(amr.clone()));
        assert!(!s.auth_time_required);
        assert!(session(&o, true).auth_time_required);
        assert!(session(&request(|o| o.max_age = Some(60)), false).auth_time_required);
        // auth_time asked for by the claims parameter (§5.5.1; essential: §2).
        let claims = ClaimsRequest::parse(r#"{"id_token":{"auth_time":{"essential":true}}}"#);
        let asked = request(|o| o.claims = claims.unwrap());
        let s = session(&asked, false);
        assert!(s.auth_time_required);
        assert_eq!(s.claims, asked.claims);
        let in_userinfo = ClaimsRequest::parse(r#"{"userinfo":{"auth_time":null}}"#);
        let elsewhere = request(|o| o.claims = in_userinfo.unwrap());
        assert!(!session(&elsewhere, false).auth_time_required);
    }
}
