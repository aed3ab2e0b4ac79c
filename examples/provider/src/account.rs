//! The user's account page: which applications they gave access to, revoking one of them
//! (`Provider::grants`, `Provider::revoke_grant`), and signing out everywhere
//! (`SessionManager::sign_out_everywhere`). Revoking stops every token of that application at
//! once; the user's other applications keep working. Signing out everywhere ends every
//! session of the user, in every browser; the applications keep their access.
//!
//! Every form carries a CSRF token bound to the session (and to its action and grant).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use http::header::SET_COOKIE;
use http::StatusCode;
use portcullis::core::GrantId;
use portcullis::GrantSummary;
use portcullis_interaction::Session;

use crate::app::AppState;
use crate::flow::{
    session_form, store_failed, unavailable, CheckedForm, REVOKE, SIGN_OUT_EVERYWHERE,
};
use crate::pages::{self, esc};

const TITLE: &str = "Your account";

fn not_signed_in() -> Response {
    pages::message(
        StatusCode::UNAUTHORIZED,
        TITLE,
        "You are not signed in. Sign in through an application first.",
    )
}

/// The request's live session, or the page to answer instead.
async fn session(state: &AppState, headers: &http::HeaderMap) -> Result<Session, Response> {
    match state.sessions.current(headers).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(not_signed_in()),
        Err(e) => Err(store_failed(&e)),
    }
}

/// `GET /account`: the signed-in user's grants, each with a revoke button, and a button that
/// signs out everywhere.
pub(crate) async fn show(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let session = match session(&state, req.headers()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let grants = match state.provider.grants(session.subject()).await {
        Ok(g) => g,
        Err(e) => {
            tracing::error!(error = %e, "cannot list grants");
            return unavailable();
        }
    };
    let rows: String = grants.iter().map(|g| row(&state, &session, g)).collect();
    let rows = if rows.is_empty() {
        "<p>No application has access to your account.</p>".to_owned()
    } else {
        rows
    };
    let everywhere = state.csrf_token(&session, SIGN_OUT_EVERYWHERE, "");
    let body = format!(
        "{rows}<form method=\"post\" action=\"{base}/account/sign-out-everywhere\">\
         <p>Signed in somewhere you no longer use? This ends every session of your account, \
         in every browser (applications keep their access: revoke it above).</p>\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button>Sign out everywhere</button></form>",
        base = esc(&state.base),
        csrf = esc(&everywhere),
    );
    pages::page(StatusCode::OK, pages::CSP, pages::titled(TITLE, &body))
}

/// One application's access, with its revoke form (the CSRF token is bound to the grant).
fn row(state: &AppState, session: &Session, g: &GrantSummary) -> String {
    let id = g.id.as_str();
    format!(
        "<form method=\"post\" action=\"{base}/account/revoke\"><p><code>{client}</code>: {scopes}\
         <br>since {created}, last used {used}</p>\
         <input type=\"hidden\" name=\"ticket\" value=\"{id}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button>Revoke access</button></form>",
        base = esc(&state.base),
        client = esc(&g.client_id),
        scopes = esc(&g.scopes.to_string()),
        created = g.created_at.secs(),
        used = g.last_used_at.secs(),
        id = esc(id),
        csrf = esc(&state.csrf_token(session, REVOKE, id)),
    )
}

/// `POST /account/revoke`: revokes one of the signed-in user's grants.
pub(crate) async fn revoke(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let CheckedForm {
        headers, ticket, ..
    } = match session_form(&state, req, REVOKE).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let session = match session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let grant = GrantId::from_stored(ticket);
    match state.provider.revoke_grant(session.subject(), &grant).await {
        Ok(true) => {
            tracing::info!("grant revoked by its user");
            pages::message(
                StatusCode::OK,
                "Access revoked",
                "That application no longer has access to your account.",
            )
        }
        Ok(false) => pages::message(StatusCode::NOT_FOUND, TITLE, "No such access."),
        Err(e) => {
            tracing::error!(error = %e, "cannot revoke a grant");
            unavailable()
        }
    }
}

/// `POST /account/sign-out-everywhere`: ends every session of the signed-in user.
pub(crate) async fn sign_out_everywhere(
    State(state): State<Arc<AppState>>,
    req: Request,
) -> Response {
    let headers = match session_form(&state, req, SIGN_OUT_EVERYWHERE).await {
        Ok(f) => f.headers,
        Err(r) => return r,
    };
    let session = match session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match state.sessions.sign_out_everywhere(session.subject()).await {
        Ok(n) => {
            tracing::info!(sessions = n, "signed out everywhere");
            let mut response = pages::message(
                StatusCode::OK,
                "Signed out everywhere",
                "Every session of your account has ended, this one too.",
            );
            let cookie = state.sessions.clear_cookie();
            response.headers_mut().append(SET_COOKIE, cookie);
            response
        }
        Err(e) => store_failed(&e),
    }
}
