//! The user's account page: which applications they gave access to, and revoking one of
//! them (`Provider::grants`, `Provider::revoke_grant`). Revoking stops every token of that
//! application at once; the user's other applications keep working.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use http::header::SET_COOKIE;
use http::StatusCode;
use portcullis::core::GrantId;
use portcullis::GrantSummary;

use crate::app::AppState;
use crate::flow::{checked_form, CheckedForm};
use crate::pages::{self, esc};

/// `GET /account`: the signed-in user's grants, each with a revoke button.
pub(crate) async fn show(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let headers = req.headers();
    let now = state.clock.now();
    let Some(session) = state.sessions.read(headers, now) else {
        return pages::message(
            StatusCode::UNAUTHORIZED,
            "Your account",
            "You are not signed in. Sign in through an application first.",
        );
    };
    let Ok(binding) = state.csrf.binding(headers, &state.rng) else {
        return pages::message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Your account",
            "Try again later.",
        );
    };
    let grants = match state.provider.grants(&session.username).await {
        Ok(g) => g,
        Err(e) => {
            tracing::error!(error = %e, "cannot list grants");
            return pages::message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Your account",
                "Try again later.",
            );
        }
    };
    let rows: String = grants
        .iter()
        .map(|g| row(&state, g, &state.csrf.token(&binding.value, g.id.as_str())))
        .collect();
    let body = if rows.is_empty() {
        "<p>No application has access to your account.</p>".to_owned()
    } else {
        rows
    };
    let mut response = pages::page(
        StatusCode::OK,
        pages::CSP,
        pages::titled("Your account", &body),
    );
    if let Some(cookie) = state.csrf.set_cookie(&binding) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// One application's access, with its revoke form (the CSRF token is bound to the grant).
fn row(state: &AppState, g: &GrantSummary, csrf: &str) -> String {
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
        id = esc(g.id.as_str()),
        csrf = esc(csrf),
    )
}

/// `POST /account/revoke`: revokes one of the signed-in user's grants (CSRF-checked).
pub(crate) async fn revoke(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let CheckedForm {
        headers, ticket, ..
    } = match checked_form(&state, req).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(session) = state.sessions.read(&headers, state.clock.now()) else {
        return pages::message(
            StatusCode::UNAUTHORIZED,
            "Your account",
            "You are not signed in.",
        );
    };
    let grant = GrantId::from_stored(ticket);
    match state.provider.revoke_grant(&session.username, &grant).await {
        Ok(true) => {
            tracing::info!("grant revoked by its user");
            pages::message(
                StatusCode::OK,
                "Access revoked",
                "That application no longer has access to your account.",
            )
        }
        Ok(false) => pages::message(StatusCode::NOT_FOUND, "Your account", "No such access."),
        Err(e) => {
            tracing::error!(error = %e, "cannot revoke a grant");
            pages::message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Your account",
                "Try again later.",
            )
        }
    }
}
