//! The revocation endpoint (RFC 7009).

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use portcullis_core::{OAuthError, TokenErrorCode, TokenHash};

use crate::client_endpoint::{ClientRequest, TokenEndpointError};
use crate::provider::Provider;
use crate::responses::json;

impl Provider {
    /// Revocation: a client revokes a token issued to it. An unknown or already revoked token
    /// still answers 200 (RFC 7009 §2.2); `token_type_hint` only orders the lookup. Revoking
    /// a refresh token revokes its whole family, access tokens included.
    pub async fn revoke(&self, req: Request<Bytes>) -> Response<Bytes> {
        match self.revocation(&req).await {
            Ok(()) => json(StatusCode::OK, &serde_json::json!({})),
            Err(failure) => self.client_error_response(failure, &req),
        }
    }

    async fn revocation(&self, req: &Request<Bytes>) -> Result<(), TokenEndpointError> {
        let ClientRequest {
            client,
            params,
            now,
        } = self.authenticate_client_request(req).await?;
        let fail = |code, description| TokenEndpointError::from(OAuthError::new(code, description));
        if params.first_repeated().is_some() {
            return Err(fail(
                TokenErrorCode::InvalidRequest,
                "a parameter was sent more than once",
            ));
        }
        let token = params
            .get("token")
            .ok_or_else(|| fail(TokenErrorCode::InvalidRequest, "token is missing"))?;
        let refresh_first = match params.get("token_type_hint") {
            None | Some("access_token") => false,
            Some("refresh_token") => true,
            Some(_) => {
                return Err(fail(
                    TokenErrorCode::UnsupportedTokenType,
                    "only access and refresh tokens can be revoked",
                ))
            }
        };
        let inner = &self.inner;
        let stores = &inner.stores;
        let hash = TokenHash::of(token);
        let not_yours = || {
            fail(
                TokenErrorCode::UnauthorizedClient,
                "the token was not issued to this client",
            )
        };
        for refresh in [refresh_first, !refresh_first] {
            if refresh {
                if let Some((t, _)) = stores
                    .refresh_tokens
                    .find_refresh_token(&inner.issuer, &hash)
                    .await?
                {
                    if t.client_id != client.id {
                        return Err(not_yours());
                    }
                    let until = now.plus(inner.policy.lifetimes.longest_token());
                    stores
                        .grants
                        .revoke_family(&inner.issuer, &t.family_id, until)
                        .await?;
                    return Ok(());
                }
            } else if let Some(t) = stores
                .access_tokens
                .find_access_token(&inner.issuer, &hash)
                .await?
            {
                if t.client_id != client.id {
                    return Err(not_yours());
                }
                stores
                    .access_tokens
                    .revoke_access_token(&inner.issuer, &hash)
                    .await?;
                return Ok(());
            }
        }
        Ok(())
    }
}
