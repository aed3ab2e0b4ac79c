//! The device verification pages (RFC 8628 §3.3): enter the code the device shows → sign in
//! → consent that names the device's client and scopes → done.
//!
//! `GET /device` shows the code form (filled in from `?user_code=`, the
//! `verification_uri_complete`). `POST /device` looks the code up, throttled per browser and
//! per address like sign-ins and capped for the whole provider
//! (`LoginThrottle::begin_user_code`; RFC 8628 §5.1: a user code is short enough to guess), then
//! shows the consent page of a live session or the sign-in form. `POST /device/login` signs
//! in (throttled like `POST /login`) and shows the consent page; `POST /device/consent`
//! approves with the checked scopes or denies. The device's next poll gets the answer.

use bytes::Bytes;
use http::header::SET_COOKIE;
use http::{HeaderMap, Request, Response, StatusCode};
use portcullis::core::ScopeSet;
use portcullis::PendingDeviceAuthorization;

use super::{facts, Inner, LoginFlow, SecondFactor};
use crate::form::FormGuard;
use crate::pages::{ConsentPage, DevicePage, LoginPage, PageError, CSP};
use crate::session::Session;
use crate::totp::{MFA_ACR, MFA_AMR};
use portcullis::throttle::ClientAddress;

/// The code form's ticket: fixed, the form stands for no request yet.
const DEVICE_ENTRY: &str = "device";
/// The CSRF purpose of the device consent form.
const DEVICE_CONSENT: &str = "device-consent";
/// Where the device sign-in form posts.
const DEVICE_LOGIN_ACTION: &str = "/device/login";
/// Where the device consent form posts.
const DEVICE_CONSENT_ACTION: &str = "/device/consent";

impl LoginFlow {
    /// `GET /device`: the code form, filled in from the query's `user_code`.
    pub async fn device(&self, req: &Request<Bytes>) -> Response<Bytes> {
        let query = req.uri().query().unwrap_or_default();
        let typed = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "user_code")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        self.device_form(StatusCode::OK, req.headers(), &typed, None)
    }

    /// `POST /device`: looks the typed `user_code` up (unless throttled: `429` with
    /// `Retry-After`), then the consent page of a live session, or the sign-in form.
    pub async fn device_code(&self, req: &Request<Bytes>) -> Response<Bytes> {
        let Inner {
            provider,
            sessions,
            pages,
            throttle,
            ..
        } = &*self.inner;
        let form = match sessions.check_form(req, FormGuard::Login) {
            Ok(f) if f.ticket == DEVICE_ENTRY => f.form,
            Ok(_) => return pages.error(PageError::BadForm),
            Err(e) => return pages.error(e),
        };
        let headers = req.headers();
        let Ok(Some(typed)) = form.one("user_code") else {
            return pages.error(PageError::BadForm);
        };
        let address = ClientAddress::of(req);
        let browser = sessions.binding_value(headers).unwrap_or_default();
        let attempt = match throttle.begin_user_code(&browser, address) {
            Ok(a) => a,
            Err(throttled) => {
                tracing::warn!("device code entry throttled");
                let secs = throttled.retry_after_secs;
                let error = format!("Too many wrong codes. Try again in {secs} seconds.");
                let status = StatusCode::TOO_MANY_REQUESTS;
                let mut r = self.device_form(status, headers, typed, Some(&error));
                r.headers_mut()
                    .insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
                return r;
            }
        };
        let pending = match provider.find_device_authorization(typed).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                tracing::info!("unknown device code entered");
                let error = Some("That code is wrong or has expired.");
                return self.device_form(StatusCode::BAD_REQUEST, headers, typed, error);
            }
            Err(e) => return self.store_failed(&e),
        };
        attempt.succeeded();
        match self.session_for(headers).await {
            Ok(Some(session)) => self.device_consent_page(&pending, &session).await,
            Ok(None) => self.device_login_page(StatusCode::OK, &pending, headers, "", None),
            Err(e) => self.store_failed(&e),
        }
    }

    /// `POST /device/login`: checks the password (unless throttled) and the optional
    /// one-time code, begins a new session, then the consent page.
    pub async fn device_login(&self, req: &Request<Bytes>) -> Response<Bytes> {
        let Inner {
            provider,
            sessions,
            pages,
            throttle,
            users,
        } = &*self.inner;
        let checked = match sessions.check_form(req, FormGuard::Login) {
            Ok(f) => f,
            Err(e) => return pages.error(e),
        };
        let pending = match provider.resume_device_authorization(&checked.ticket).await {
            Ok(Some(p)) => p,
            Ok(None) => return pages.error(PageError::Expired("device sign-in")),
            Err(e) => return self.store_failed(&e),
        };
        let (headers, form) = (req.headers(), checked.form);
        let (username, password, otp) =
            match (form.one("username"), form.one("password"), form.one("otp")) {
                (Ok(u), Ok(p), Ok(o)) => (u.unwrap_or_default(), p.unwrap_or_default(), o),
                _ => return pages.error(PageError::BadForm),
            };
        let address = ClientAddress::of(req);
        let attempt = match throttle.begin(username, address) {
            Ok(a) => a,
            Err(throttled) => {
                let secs = throttled.retry_after_secs;
                let error = format!("Too many failed sign-ins. Try again in {secs} seconds.");
                let status = StatusCode::TOO_MANY_REQUESTS;
                let mut r =
                    self.device_login_page(status, &pending, headers, username, Some(&error));
                r.headers_mut()
                    .insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
                return r;
            }
        };
        let subject = match users.authenticate(username, password).await {
            Ok(Some(subject)) => subject,
            Ok(None) => {
                let error = Some("The username or password is incorrect.");
                let status = StatusCode::UNAUTHORIZED;
                return self.device_login_page(status, &pending, headers, username, error);
            }
            Err(e) => return self.store_failed(&e),
        };
        let mfa = match self.second_factor(&subject, otp, false).await {
            Ok(SecondFactor::None) => false,
            Ok(SecondFactor::Passed) => true,
            Ok(SecondFactor::Failed(error)) => {
                let status = StatusCode::UNAUTHORIZED;
                return self.device_login_page(status, &pending, headers, username, Some(error));
            }
            Err(e) => return self.store_failed(&e),
        };
        attempt.succeeded();
        tracing::info!(
            username,
            client_id = pending.client_id(),
            "signed in for a device"
        );
        let (acr, amr) = match mfa {
            true => (Some(MFA_ACR), &MFA_AMR[..]),
            false => (None, &MFA_AMR[..1]),
        };
        let signed_in = sessions.sign_in_with(headers, &subject, sessions.now(), acr, Some(amr));
        let (session, cookie) = match signed_in.await {
            Ok(s) => s,
            Err(e) => return self.store_failed(&e),
        };
        let mut response = self.device_consent_page(&pending, &session).await;
        response.headers_mut().append(SET_COOKIE, cookie);
        response
    }

    /// `POST /device/consent`: `decision=approve` with the checked `scope` boxes, or
    /// `decision=deny`; then a page telling the user to go back to their device.
    pub async fn device_consent(&self, req: &Request<Bytes>) -> Response<Bytes> {
        let Inner {
            provider,
            sessions,
            pages,
            ..
        } = &*self.inner;
        let checked = match sessions.check_form(req, FormGuard::Session(DEVICE_CONSENT)) {
            Ok(f) => f,
            Err(e) => return pages.error(e),
        };
        let pending = match provider.resume_device_authorization(&checked.ticket).await {
            Ok(Some(p)) => p,
            Ok(None) => return pages.error(PageError::Expired("device")),
            Err(e) => return self.store_failed(&e),
        };
        let headers = req.headers();
        let client_id = pending.client_id();
        let answered = match checked.form.one("decision") {
            Ok(Some("deny")) => {
                tracing::info!(client_id, "device authorization denied");
                provider.deny_device_authorization(&pending).await
            }
            Ok(Some("approve")) => {
                let session = match self.session_for(headers).await {
                    Ok(Some(s)) => facts(&s),
                    Ok(None) => {
                        let error = Some("Your session has ended. Sign in again.");
                        let status = StatusCode::UNAUTHORIZED;
                        return self.device_login_page(status, &pending, headers, "", error);
                    }
                    Err(e) => return self.store_failed(&e),
                };
                let Ok(granted) = ScopeSet::from_tokens(checked.form.all("scope")) else {
                    return pages.error(PageError::BadForm);
                };
                tracing::info!(client_id, scopes = %granted, "device authorization approved");
                provider
                    .approve_device_authorization(&pending, session.approval(granted))
                    .await
            }
            _ => return pages.error(PageError::BadForm),
        };
        match answered {
            Ok(true) => pages.message(
                StatusCode::OK,
                "Done",
                "You have answered. Go back to your device: it continues on its own.",
            ),
            Ok(false) => pages.error(PageError::Expired("device")),
            Err(e) => self.store_failed(&e),
        }
    }

    fn device_form(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        user_code: &str,
        error: Option<&str>,
    ) -> Response<Bytes> {
        let page = DevicePage {
            ticket: DEVICE_ENTRY,
            user_code,
            error,
        };
        let Inner {
            sessions, pages, ..
        } = &*self.inner;
        pages.device(sessions, headers, status, &page)
    }

    fn device_login_page(
        &self,
        status: StatusCode,
        pending: &PendingDeviceAuthorization,
        headers: &HeaderMap,
        username: &str,
        error: Option<&str>,
    ) -> Response<Bytes> {
        let Inner {
            sessions, pages, ..
        } = &*self.inner;
        let login = device_login(pending, username, error);
        pages.login_at(DEVICE_LOGIN_ACTION, sessions, headers, status, &login)
    }

    async fn device_consent_page(
        &self,
        pending: &PendingDeviceAuthorization,
        session: &Session,
    ) -> Response<Bytes> {
        let user = match self.greeting(session.subject()).await {
            Ok(u) => u,
            Err(e) => return self.store_failed(&e),
        };
        let csrf = self
            .inner
            .sessions
            .form_token(session, DEVICE_CONSENT, pending.ticket());
        let consent = ConsentPage {
            client_id: pending.client_id(),
            user: &user,
            scopes: pending.scopes(),
            authorization_details: &[],
            ticket: pending.ticket(),
            csrf: &csrf,
            redirect_uri: "",
        };
        self.inner
            .pages
            .consent_at(DEVICE_CONSENT_ACTION, CSP, &consent)
    }
}

fn device_login<'a>(
    pending: &'a PendingDeviceAuthorization,
    username: &'a str,
    error: Option<&'a str>,
) -> LoginPage<'a> {
    LoginPage {
        client_id: pending.client_id(),
        ticket: pending.ticket(),
        username,
        error,
        ask_code: false,
    }
}
