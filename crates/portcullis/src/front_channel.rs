//! The implicit and hybrid flows (OpenID Connect Core §3.2, §3.3; RFC 6749 §4.2), only under
//! `Policy::dangerous_allow_implicit` and for clients that registered them: on approval the
//! authorization endpoint returns the code, an access token and an ID token as the response
//! type asks, in the fragment or a form post, never in the query and never a refresh token.

use bytes::Bytes;
use http::Response;
use portcullis_core::{
    AuthorizationRequest, AuthorizeErrorCode, Client, CodeApproval, Delegation, FamilyId,
    FrontChannelAccessToken, FrontChannelTokens, OAuthError, TokenSubject, UnixTime,
};

use crate::consented_grant::{ConsentedGrant, GrantStored};
use crate::endpoint_error::{EndpointError, Fault};
use crate::id_tokens::IdTokenFor;
use crate::provider::Provider;

type AuthorizeError = EndpointError<AuthorizeErrorCode>;

impl Provider {
    /// Issues what `request`'s implicit or hybrid response type asks for under the user's
    /// `approval` and sends it to the client. The code (hybrid) is stored and redeemed as
    /// usual; the access token shares its family, so a replayed code revokes it too
    /// (RFC 6749 §4.1.2). The access token is bearer unless the request sent `dpop_jkt`
    /// ([`AuthorizationRequest::front_channel_confirmation`]). The ID token carries the
    /// request's `nonce` and, signed with its own algorithm, `at_hash` and `c_hash`
    /// (OpenID Connect Core §3.2.2.10, §3.3.2.11). Nothing is delivered unless everything was
    /// stored: the grant last, as for a code.
    pub(crate) async fn approve_front_channel(
        &self,
        request: &AuthorizationRequest,
        client: &Client,
        approval: &CodeApproval<'_>,
        grant: &ConsentedGrant,
        now: UnixTime,
    ) -> Response<Bytes> {
        match self
            .front_channel_response(request, client, approval, grant, now)
            .await
        {
            Ok(response) => self.deliver(response).await,
            Err(e) => {
                let error = e.into_oauth();
                self.deliver(request.error_redirect(error, &self.inner.issuer).response)
                    .await
            }
        }
    }

    async fn front_channel_response(
        &self,
        request: &AuthorizationRequest,
        client: &Client,
        approval: &CodeApproval<'_>,
        grant: &ConsentedGrant,
        now: UnixTime,
    ) -> Result<portcullis_core::AuthorizationResponse, AuthorizeError> {
        let inner = &self.inner;
        let response_type = request.response_type();
        let issued = if response_type.has_code() {
            let lifetime = client
                .profile
                .code_lifetime(inner.policy.lifetimes.authorization_code);
            Some(
                request
                    .issue_code(approval, &inner.issuer, now, lifetime, inner.rng.as_ref())
                    .map_err(|_| Fault::Random)?,
            )
        } else {
            None
        };
        let family_id = match &issued {
            Some(i) => i.record.family_id.clone(),
            None => FamilyId::generate(inner.rng.as_ref()).map_err(|_| Fault::Random)?,
        };
        let confirmation = request.front_channel_confirmation();
        let access = if response_type.has_access_token() {
            let to = TokenSubject {
                issuer: &inner.issuer,
                client_id: &client.id,
                delegation: Some(Delegation {
                    subject: approval.subject,
                    auth_time: Some(approval.auth_time),
                    acr: approval.acr,
                    amr: approval.amr,
                    grant_id: approval.grant_id,
                    family_id: &family_id,
                }),
                scopes: approval.scopes,
                audience: request.resources(),
                oidc: approval.oidc.as_ref(),
                confirmation: confirmation.as_ref(),
                authorization_details: approval.authorization_details,
            };
            Some(
                self.access_token(client, &to, now)
                    .await
                    .map_err(token_fault)?,
            )
        } else {
            None
        };
        let code = issued.as_ref().map(|i| i.code.expose());
        let id_token = match (response_type.has_id_token(), approval.oidc.as_ref()) {
            (true, Some(session)) => Some(
                self.issue_id_token(
                    &IdTokenFor {
                        client,
                        subject: approval.subject,
                        auth_time: Some(approval.auth_time),
                        scopes: approval.scopes,
                        session,
                        access_token: access.as_ref().map(|a| a.secret.expose()),
                        code,
                    },
                    now,
                )
                .await?,
            ),
            // Validation refused an ID token type outside OpenID mode.
            (true, None) => {
                return Err(OAuthError::new(
                    AuthorizeErrorCode::InvalidRequest,
                    "response_type id_token needs scope openid",
                )
                .into())
            }
            (false, _) => None,
        };
        let stores = &inner.stores;
        if let Some(i) = &issued {
            stores.codes.insert_code(&i.record).await?;
        }
        if let Some(a) = &access {
            stores.access_tokens.insert_access_token(&a.record).await?;
        }
        if self.store_consented_grant(grant).await? == GrantStored::Revoked {
            return Err(
                OAuthError::new(AuthorizeErrorCode::AccessDenied, "the grant was revoked").into(),
            );
        }
        count_front_channel_issued(issued.is_some(), access.is_some(), id_token.is_some());
        let access_token = access.as_ref().map(|a| FrontChannelAccessToken {
            token: a.secret.expose(),
            token_type: portcullis_core::token_type(a.record.confirmation.as_ref()),
            expires_in: now.seconds_until(a.record.expires_at),
            scope: &a.record.scopes,
        });
        let tokens = FrontChannelTokens {
            access_token,
            id_token: id_token.as_deref(),
        };
        Ok(request.tokens_response(code, &tokens, &inner.issuer))
    }
}

/// Minting an access token fails only by the server's fault; a refusal cannot happen here,
/// and would be the server's error too.
fn token_fault(e: crate::client_endpoint::TokenEndpointError) -> AuthorizeError {
    match e {
        EndpointError::Fault(f) => EndpointError::Fault(f),
        EndpointError::Refused(_) => OAuthError::new(
            AuthorizeErrorCode::ServerError,
            "the server could not continue",
        )
        .into(),
    }
}

/// Counts what the authorization endpoint issued: a code (grant type `authorization_code`,
/// redeemed later), an access or ID token (`implicit`, OAuth 2.0 Multiple Response Types).
fn count_front_channel_issued(code: bool, access_token: bool, id_token: bool) {
    use crate::observability::issued_at_authorization as issued;
    if code {
        issued("authorization_code", "authorization_code");
    }
    if access_token {
        issued("access_token", "implicit");
    }
    if id_token {
        issued("id_token", "implicit");
    }
}
