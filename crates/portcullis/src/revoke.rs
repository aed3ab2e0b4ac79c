//! The revocation endpoint (RFC 7009).

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use portcullis_core::{RevocationRequest, TokenHash, TokenKind};

use crate::client_endpoint::{ClientRequest, TokenEndpointError};
use crate::observability;
use crate::provider::Provider;
use crate::responses::json;

impl Provider {
    /// Revocation: a client revokes a token issued to it. An unknown or already revoked token
    /// still answers 200 (RFC 7009 §2.2); `token_type_hint` only orders the lookup. Revoking
    /// a refresh token revokes its whole family, access tokens included.
    pub async fn revoke(&self, req: Request<Bytes>) -> Response<Bytes> {
        observability::request("revocation", self.revoke_answer(req)).await
    }

    async fn revoke_answer(&self, req: Request<Bytes>) -> Response<Bytes> {
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
        } = self
            .authenticate_client_request(req, crate::paths::REVOKE)
            .await?;
        let request = RevocationRequest::parse(&params)?;
        let inner = &self.inner;
        let stores = &inner.stores;
        let hash = TokenHash::of(&request.token);
        for kind in request.lookup_order() {
            match kind {
                TokenKind::Refresh => {
                    if let Some((t, _)) = stores
                        .refresh_tokens
                        .find_refresh_token(&inner.issuer, &hash)
                        .await?
                    {
                        request.check_owner(&t.client_id, &client.id)?;
                        let until = now.plus(inner.policy.lifetimes.longest_token());
                        stores
                            .grants
                            .revoke_family(&inner.issuer, &t.family_id, until)
                            .await?;
                        observability::revoked("refresh_token");
                        return Ok(());
                    }
                }
                TokenKind::Access => {
                    if let Some(t) = stores
                        .access_tokens
                        .find_access_token(&inner.issuer, &hash)
                        .await?
                    {
                        request.check_owner(&t.client_id, &client.id)?;
                        stores
                            .access_tokens
                            .revoke_access_token(&inner.issuer, &hash)
                            .await?;
                        observability::revoked("access_token");
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }
}
