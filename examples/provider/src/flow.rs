//! The pages' handlers, on `http` types (`app` mounts them): the kit's
//! [`LoginFlow`] answers login, consent and logout, and shows the account page.

use bytes::Bytes;
use http::Request;
use portcullis_interaction::LoginFlow;

/// A page.
pub(crate) type Page = http::Response<Bytes>;

/// `POST /login`: checks the password (unless throttled), then begins a new session.
pub(crate) async fn login(flow: LoginFlow, req: Request<Bytes>) -> Page {
    flow.login(&req).await
}

/// `POST /consent`: approve with the checked scopes, deny, or switch user.
pub(crate) async fn consent(flow: LoginFlow, req: Request<Bytes>) -> Page {
    flow.consent(&req).await
}

/// `POST /logout`: the answer to the logout confirmation.
pub(crate) async fn logout(flow: LoginFlow, req: Request<Bytes>) -> Page {
    flow.logout(&req).await
}

/// `GET /account`: the signed-in user's grants, and "sign out everywhere".
pub(crate) async fn account(flow: LoginFlow, req: Request<Bytes>) -> Page {
    flow.account().show(&req).await
}

/// `POST /account/revoke`: revokes one of the signed-in user's grants.
pub(crate) async fn revoke_grant(flow: LoginFlow, req: Request<Bytes>) -> Page {
    flow.account().revoke(&req).await
}

/// `POST /account/sign-out-everywhere`: ends every session of the signed-in user.
pub(crate) async fn sign_out_everywhere(flow: LoginFlow, req: Request<Bytes>) -> Page {
    flow.account().sign_out_everywhere(&req).await
}
