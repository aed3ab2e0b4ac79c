//! The user's account page: which applications they gave access to, revoking one of them
//! (`Provider::grants`, `Provider::revoke_grant`), and signing out everywhere
//! ([`SessionManager::sign_out_everywhere`]). Revoking stops every token of that application
//! at once; the user's other applications keep working. Signing out everywhere ends every
//! session of the user, in every browser; the applications keep their access. Either way,
//! applications that registered a `backchannel_logout_uri` are told (Back-Channel Logout
//! 1.0): the revoked one, or every one the user signed in to.
//!
//! Every form carries a CSRF token bound to the session, to its action and to its grant.

use bytes::Bytes;
use http::header::SET_COOKIE;
use http::{HeaderMap, Request, Response, StatusCode};
use portcullis::core::GrantId;
use portcullis::Provider;
use serde::Serialize;

use crate::form::FormGuard;
use crate::pages::{PageError, Pages, CSP};
use crate::session::{Session, SessionManager};

const TITLE: &str = "Your account";
/// The revoke buttons' action, in their CSRF tokens.
const REVOKE: &str = "revoke";
/// The "sign out everywhere" button's action, in its CSRF token.
const SIGN_OUT_EVERYWHERE: &str = "sign-out-everywhere";

/// One application's access, with its revoke form's CSRF token (bound to the grant).
#[derive(Serialize)]
struct Grant {
    id: String,
    client_id: String,
    client_name: Option<String>,
    scopes: String,
    created: u64,
    used: u64,
    csrf: String,
}

/// The account pages of one issuer: `GET /account` ([`Account::show`]),
/// `POST /account/revoke` ([`Account::revoke`]) and `POST /account/sign-out-everywhere`
/// ([`Account::sign_out_everywhere`]), below the issuer's path.
#[derive(Debug, Clone, Copy)]
pub struct Account<'a> {
    /// The provider whose grants are shown.
    pub provider: &'a Provider,
    /// The sessions of the issuer.
    pub sessions: &'a SessionManager,
    /// The templates (`account.html`).
    pub pages: &'a Pages,
}

impl Account<'_> {
    /// The request's live session, or the page to answer instead.
    async fn session(&self, headers: &HeaderMap) -> Result<Session, Response<Bytes>> {
        match self.sessions.current(headers).await {
            Ok(Some(s)) => Ok(s),
            Ok(None) => Err(self.pages.message(
                StatusCode::UNAUTHORIZED,
                TITLE,
                "You are not signed in. Sign in through an application first.",
            )),
            Err(e) => Err(self.unavailable(&e)),
        }
    }

    fn unavailable(&self, e: &dyn std::error::Error) -> Response<Bytes> {
        tracing::error!(error = %e, "account page: store failure");
        self.pages.error(PageError::Unavailable)
    }

    /// `GET /account`: the signed-in user's grants, each with a revoke button, and a button
    /// that signs out everywhere; `401` without a session.
    pub async fn show(&self, req: &Request<Bytes>) -> Response<Bytes> {
        let session = match self.session(req.headers()).await {
            Ok(s) => s,
            Err(r) => return r,
        };
        let grants = match self.provider.grants(session.subject()).await {
            Ok(g) => g,
            Err(e) => return self.unavailable(&e),
        };
        let grants: Vec<Grant> = grants
            .into_iter()
            .map(|g| Grant {
                csrf: self.sessions.form_token(&session, REVOKE, g.id.as_str()),
                id: g.id.as_str().to_owned(),
                client_name: self.pages.client_name(&g.client_id).map(str::to_owned),
                client_id: g.client_id,
                scopes: g.scopes.to_string(),
                created: g.created_at.secs(),
                used: g.last_used_at.secs(),
            })
            .collect();
        #[derive(Serialize)]
        struct Page {
            grants: Vec<Grant>,
            csrf: String,
        }
        let csrf = self.sessions.form_token(&session, SIGN_OUT_EVERYWHERE, "");
        let page = Page { grants, csrf };
        self.pages
            .render(StatusCode::OK, CSP, "account.html", TITLE, page)
    }

    /// `POST /account/revoke`: revokes the signed-in user's grant named by the form's
    /// `ticket`; `404` if it is not theirs.
    pub async fn revoke(&self, req: &Request<Bytes>) -> Response<Bytes> {
        let ticket = match self.sessions.check_form(req, FormGuard::Session(REVOKE)) {
            Ok(f) => f.ticket,
            Err(e) => return self.pages.error(e),
        };
        let session = match self.session(req.headers()).await {
            Ok(s) => s,
            Err(r) => return r,
        };
        let grant = GrantId::from_stored(ticket);
        match self.provider.revoke_grant(session.subject(), &grant).await {
            Ok(true) => {
                tracing::info!("grant revoked by its user");
                self.pages.message(
                    StatusCode::OK,
                    "Access revoked",
                    "That application no longer has access to your account.",
                )
            }
            Ok(false) => self
                .pages
                .message(StatusCode::NOT_FOUND, TITLE, "No such access."),
            Err(e) => self.unavailable(&e),
        }
    }

    /// `POST /account/sign-out-everywhere`: ends every session of the signed-in user.
    pub async fn sign_out_everywhere(&self, req: &Request<Bytes>) -> Response<Bytes> {
        let guard = FormGuard::Session(SIGN_OUT_EVERYWHERE);
        if let Err(e) = self.sessions.check_form(req, guard) {
            return self.pages.error(e);
        }
        let session = match self.session(req.headers()).await {
            Ok(s) => s,
            Err(r) => return r,
        };
        match self.sessions.sign_out_everywhere(session.subject()).await {
            Ok(n) => {
                tracing::info!(sessions = n, "signed out everywhere");
                // The applications' sessions end too (Back-Channel Logout 1.0), told
                // without waiting for them.
                let _running = self.provider.every_session_ended(session.subject());
                let mut response = self.pages.message(
                    StatusCode::OK,
                    "Signed out everywhere",
                    "Every session of your account has ended, this one too.",
                );
                let cookie = self.sessions.clear_cookie();
                response.headers_mut().append(SET_COOKIE, cookie);
                response
            }
            Err(e) => self.unavailable(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{CONTENT_TYPE, COOKIE};
    use http::HeaderValue;
    use portcullis::core::Issuer;
    use portcullis::Stores;
    use portcullis_store_memory::MemoryStore;
    use std::sync::Arc;

    fn request(post: bool, cookie: &str, form: &str) -> Request<Bytes> {
        let builder = if post {
            Request::post("/account/x").header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        } else {
            Request::get("/account")
        };
        let builder = builder.header(COOKIE, cookie);
        builder.body(Bytes::from(form.to_owned())).unwrap()
    }

    fn body(r: &Response<Bytes>) -> String {
        String::from_utf8(r.body().to_vec()).unwrap()
    }

    #[tokio::test]
    async fn signed_in_users_see_their_account_and_sign_out_everywhere_with_its_token() {
        let issuer = Issuer::parse("http://127.0.0.1:8080").unwrap();
        let store = Arc::new(MemoryStore::new());
        let provider = Provider::builder(issuer.clone())
            .stores(Stores::shared(store.clone()))
            .build()
            .unwrap();
        let sessions = SessionManager::builder(issuer.clone(), store)
            .build()
            .unwrap();
        let pages = Pages::new(&issuer);
        let account = Account {
            provider: &provider,
            sessions: &sessions,
            pages: &pages,
        };
        let anonymous = account.show(&request(false, "", "")).await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

        let (session, cookie) = sessions
            .sign_in(&HeaderMap::new(), "alice", sessions.now())
            .await
            .unwrap();
        let cookie = cookie
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let page = account.show(&request(false, &cookie, "")).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = body(&page);
        assert!(html.contains("No application has access"), "{html}");
        assert!(
            html.contains("action=\"/account/sign-out-everywhere\""),
            "{html}"
        );
        let token = sessions.form_token(&session, SIGN_OUT_EVERYWHERE, "");
        assert!(html.contains(&format!("value=\"{token}\"")), "{html}");

        // Another form's token does not pass, nor does none.
        let other = sessions.form_token(&session, REVOKE, "");
        for form in [String::new(), format!("csrf={other}")] {
            let r = account
                .sign_out_everywhere(&request(true, &cookie, &form))
                .await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{form}");
        }
        let revoke = account
            .revoke(&request(true, &cookie, &format!("csrf={token}&ticket=")))
            .await;
        assert_eq!(revoke.status(), StatusCode::FORBIDDEN);
        let r = account
            .sign_out_everywhere(&request(true, &cookie, &format!("csrf={token}")))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[SET_COOKIE].to_str().unwrap().split(';').next(),
            Some("session=")
        );
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(&cookie).unwrap());
        assert_eq!(sessions.current(&headers).await.unwrap(), None);
    }
}
