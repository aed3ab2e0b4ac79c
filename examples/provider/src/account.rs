//! The user's account page: which applications they gave access to, revoking one of them
//! (`Provider::grants`, `Provider::revoke_grant`), and signing out everywhere
//! (`SessionManager::sign_out_everywhere`). Revoking stops every token of that application at
//! once; the user's other applications keep working. Signing out everywhere ends every
//! session of the user, in every browser; the applications keep their access.
//!
//! Every form carries a CSRF token bound to the session (and to its action and grant). The
//! page is a template of the example's own (`templates/account.html`) on the kit's layout.

use std::sync::Arc;

use bytes::Bytes;
use http::header::SET_COOKIE;
use http::{HeaderMap, Request, StatusCode};
use portcullis::core::GrantId;
use portcullis_interaction::{FormGuard, PageError, Session, CSP};
use serde::Serialize;

use crate::app::AppState;
use crate::flow::{store_failed, Page, REVOKE, SIGN_OUT_EVERYWHERE};

const TITLE: &str = "Your account";

/// The template of the account page.
pub(crate) const TEMPLATE: &str = include_str!("../templates/account.html");

/// The request's live session, or the page to answer instead.
async fn session(state: &AppState, headers: &HeaderMap) -> Result<Session, Page> {
    match state.sessions.current(headers).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(state.pages.message(
            StatusCode::UNAUTHORIZED,
            TITLE,
            "You are not signed in. Sign in through an application first.",
        )),
        Err(e) => Err(store_failed(state, &e)),
    }
}

/// One application's access, with its revoke form's CSRF token (bound to the grant).
#[derive(Serialize)]
struct Grant {
    id: String,
    client_id: String,
    scopes: String,
    created: u64,
    used: u64,
    csrf: String,
}

/// `GET /account`: the signed-in user's grants, each with a revoke button, and a button that
/// signs out everywhere.
pub(crate) async fn show(state: Arc<AppState>, req: Request<Bytes>) -> Page {
    let session = match session(&state, req.headers()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let grants = match state.provider.grants(session.subject()).await {
        Ok(g) => g,
        Err(e) => {
            tracing::error!(error = %e, "cannot list grants");
            return state.pages.error(PageError::Unavailable);
        }
    };
    let grants: Vec<Grant> = grants
        .into_iter()
        .map(|g| Grant {
            csrf: state.sessions.form_token(&session, REVOKE, g.id.as_str()),
            id: g.id.as_str().to_owned(),
            client_id: g.client_id,
            scopes: g.scopes.to_string(),
            created: g.created_at.secs(),
            used: g.last_used_at.secs(),
        })
        .collect();
    #[derive(Serialize)]
    struct Account {
        grants: Vec<Grant>,
        csrf: String,
    }
    let csrf = state.sessions.form_token(&session, SIGN_OUT_EVERYWHERE, "");
    let account = Account { grants, csrf };
    state
        .pages
        .render(StatusCode::OK, CSP, "account.html", TITLE, account)
}

/// `POST /account/revoke`: revokes one of the signed-in user's grants.
pub(crate) async fn revoke(state: Arc<AppState>, req: Request<Bytes>) -> Page {
    let ticket = match state.sessions.check_form(&req, FormGuard::Session(REVOKE)) {
        Ok(f) => f.ticket,
        Err(e) => return state.pages.error(e),
    };
    let session = match session(&state, req.headers()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let grant = GrantId::from_stored(ticket);
    match state.provider.revoke_grant(session.subject(), &grant).await {
        Ok(true) => {
            tracing::info!("grant revoked by its user");
            state.pages.message(
                StatusCode::OK,
                "Access revoked",
                "That application no longer has access to your account.",
            )
        }
        Ok(false) => state
            .pages
            .message(StatusCode::NOT_FOUND, TITLE, "No such access."),
        Err(e) => {
            tracing::error!(error = %e, "cannot revoke a grant");
            state.pages.error(PageError::Unavailable)
        }
    }
}

/// `POST /account/sign-out-everywhere`: ends every session of the signed-in user.
pub(crate) async fn sign_out_everywhere(state: Arc<AppState>, req: Request<Bytes>) -> Page {
    let guard = FormGuard::Session(SIGN_OUT_EVERYWHERE);
    if let Err(e) = state.sessions.check_form(&req, guard) {
        return state.pages.error(e);
    }
    let session = match session(&state, req.headers()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match state.sessions.sign_out_everywhere(session.subject()).await {
        Ok(n) => {
            tracing::info!(sessions = n, "signed out everywhere");
            let mut response = state.pages.message(
                StatusCode::OK,
                "Signed out everywhere",
                "Every session of your account has ended, this one too.",
            );
            let cookie = state.sessions.clear_cookie();
            response.headers_mut().append(SET_COOKIE, cookie);
            response
        }
        Err(e) => store_failed(&state, &e),
    }
}
