//! The introspection endpoint (RFC 7662), with JWT responses (RFC 9701).

use std::sync::Arc;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION};
use http::{Method, Request, Response, StatusCode};
use portcullis_core::{
    bearer_credentials, may_introspect_access_token, may_introspect_refresh_token, token_type,
    AccessTokenRecord, ActiveToken, BearerCredentials, Client, HolderProof, Introspection,
    IntrospectionJwtClaims, IntrospectionRequest, Introspector, OAuthError, Params,
    RefreshTokenRecord, TokenErrorCode, TokenHash, TokenKind, TokenSubject, UnixTime, UnsignedJws,
};
use portcullis_store::RefreshState;

use crate::authorize::is_form;
use crate::client_certificate::certificate_thumbprint;
use crate::client_endpoint::{ClientRequest, TokenEndpointError};
use crate::keys::KeyError;
use crate::observability;
use crate::provider::Provider;
use crate::responses::{json, uncached};
use crate::signer::sign_jws;

/// RFC 9701 §4: the media type a caller asks for to get a signed response.
const JWT_MEDIA_TYPE: &str = "application/token-introspection+jwt";

/// Who is asking.
struct Caller {
    id: String,
    /// Authorized by a bearer token with the policy's introspection scope.
    designated: bool,
    params: Params,
    now: UnixTime,
}

impl Caller {
    fn introspector(&self) -> Introspector<'_> {
        if self.designated {
            Introspector::Designated(&self.id)
        } else {
            Introspector::Client(&self.id)
        }
    }
}

fn invalid_request(description: &'static str) -> TokenEndpointError {
    OAuthError::new(TokenErrorCode::InvalidRequest, description).into()
}

impl Provider {
    /// Introspection: the caller authenticates as a confidential client (public clients, which
    /// cannot authenticate, get 401 `invalid_client`: RFC 7662 §2.1), or with a bearer token
    /// carrying the policy's `introspection_scope`. Active tokens the caller may see
    /// ([`portcullis_core::may_introspect_access_token`]) report their RFC 7662 members, and
    /// a user's token its login's `auth_time` and `acr` (RFC 9470 §6.2) and `amr`;
    /// anything else is only `{"active": false}`.
    pub async fn introspect(&self, req: Request<Bytes>) -> Response<Bytes> {
        observability::request("introspection", self.introspect_answer(req)).await
    }

    async fn introspect_answer(&self, req: Request<Bytes>) -> Response<Bytes> {
        match self.introspection(&req).await {
            Ok((caller, result)) => self.introspection_response(&req, &caller, &result).await,
            Err(failure) => self.client_error_response(failure, &req),
        }
    }

    async fn introspection(
        &self,
        req: &Request<Bytes>,
    ) -> Result<(String, Introspection), TokenEndpointError> {
        let caller = self.introspection_caller(req).await?;
        let request = IntrospectionRequest::parse(&caller.params)?;
        let hash = TokenHash::of(&request.token);
        let mut result = Introspection::inactive();
        for kind in request.lookup_order() {
            let found = match kind {
                TokenKind::Refresh => self.introspect_refresh(&hash, &caller).await?,
                TokenKind::Access => self.introspect_access(&hash, &caller).await?,
            };
            if let Some(r) = found {
                result = r;
                break;
            }
        }
        Ok((caller.id, result))
    }

    async fn introspection_caller(
        &self,
        req: &Request<Bytes>,
    ) -> Result<Caller, TokenEndpointError> {
        let unauthorized = || {
            TokenEndpointError::from(OAuthError::new(
                TokenErrorCode::InvalidClient,
                "the caller is not allowed to introspect",
            ))
        };
        let credentials = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
        let bearer = match credentials.map(bearer_credentials) {
            Some(BearerCredentials::Token(t)) => t,
            Some(BearerCredentials::Malformed) => return Err(unauthorized()),
            None | Some(BearerCredentials::OtherScheme) => {
                let ClientRequest {
                    client,
                    params,
                    now,
                } = self
                    .authenticate_client_request(req, crate::paths::INTROSPECT)
                    .await?;
                // RFC 7662 §2.1: a client id alone authorizes nothing.
                if client.is_public() {
                    return Err(unauthorized());
                }
                return Ok(Caller {
                    id: client.id.clone(),
                    designated: false,
                    params,
                    now,
                });
            }
        };
        let inner = &self.inner;
        let now = inner.clock.now();
        let scope = inner
            .policy
            .introspection_scope
            .as_deref()
            .ok_or_else(unauthorized)?;
        if *req.method() != Method::POST || !is_form(req) {
            return Err(invalid_request("POST a form body"));
        }
        // A sender-constrained token is no bearer token (RFC 9449 §7.2, RFC 8705 §3): a
        // DPoP-bound one never authorizes here, a certificate-bound one only over a
        // connection with its certificate.
        let certificate = certificate_thumbprint(req);
        let presented = HolderProof {
            dpop_jkt: None,
            certificate_thumbprint: certificate.as_deref(),
        };
        let record = inner
            .stores
            .access_tokens
            .find_access_token(&inner.issuer, &TokenHash::of(bearer))
            .await?
            .filter(|t| now < t.expires_at && t.scopes_at(now).contains(scope))
            .filter(|t| {
                t.confirmation
                    .as_ref()
                    .is_none_or(|c| c.is_proven_by(&presented))
            })
            .ok_or_else(unauthorized)?;
        let params =
            Params::parse(req.body()).map_err(|_| invalid_request("malformed form body"))?;
        Ok(Caller {
            id: record.client_id,
            designated: true,
            params,
            now,
        })
    }

    async fn introspect_access(
        &self,
        hash: &TokenHash,
        caller: &Caller,
    ) -> Result<Option<Introspection>, TokenEndpointError> {
        let inner = &self.inner;
        let Some(t) = inner
            .stores
            .access_tokens
            .find_access_token(&inner.issuer, hash)
            .await?
        else {
            return Ok(None);
        };
        let may_see = may_introspect_access_token(caller.introspector(), &t.client_id, &t.audience);
        if caller.now >= t.expires_at || !may_see {
            return Ok(Some(Introspection::inactive()));
        }
        let Some(client) = self.token_client(&t.client_id, caller.now).await? else {
            return Ok(Some(Introspection::inactive()));
        };
        let scopes = t.scopes_at(caller.now);
        let to = TokenSubject {
            issuer: &self.inner.issuer,
            client_id: &t.client_id,
            delegation: None,
            scopes: &scopes,
            audience: &t.audience,
            oidc: None,
            confirmation: t.confirmation.as_ref(),
            authorization_details: &t.authorization_details,
        };
        let mut active = self.describe_access(&t, &client, caller.now);
        active.extra = self
            .access_token_claims_for(t.subject.as_deref(), &to)
            .await?;
        // RFC 8693 §4.1: who acts for the subject, as the token says.
        if let Some(act) = &t.act {
            active.extra.insert("act".into(), act.clone());
        }
        Ok(Some(Introspection::active(active)))
    }

    async fn introspect_refresh(
        &self,
        hash: &TokenHash,
        caller: &Caller,
    ) -> Result<Option<Introspection>, TokenEndpointError> {
        let inner = &self.inner;
        let Some((t, state)) = inner
            .stores
            .refresh_tokens
            .find_refresh_token(&inner.issuer, hash)
            .await?
        else {
            return Ok(None);
        };
        let may_see = may_introspect_refresh_token(caller.introspector(), &t.client_id);
        if state != RefreshState::Active || caller.now >= t.expires_at || !may_see {
            return Ok(Some(Introspection::inactive()));
        }
        let Some(client) = self.token_client(&t.client_id, caller.now).await? else {
            return Ok(Some(Introspection::inactive()));
        };
        Ok(Some(Introspection::active(
            self.describe_refresh(&t, &client),
        )))
    }

    async fn token_client(
        &self,
        client_id: &str,
        now: UnixTime,
    ) -> Result<Option<Arc<Client>>, TokenEndpointError> {
        Ok(self.find_client(client_id, now).await?)
    }

    fn describe_access(
        &self,
        t: &AccessTokenRecord,
        client: &Client,
        now: UnixTime,
    ) -> ActiveToken {
        ActiveToken {
            scope: t.scopes_at(now).to_string(),
            client_id: t.client_id.clone(),
            sub: t.subject.as_deref().map(|s| self.subject_for(client, s)),
            token_type: Some(token_type(t.confirmation.as_ref())),
            cnf: t.confirmation.clone(),
            exp: t.expires_at,
            iat: t.issued_at,
            nbf: t.issued_at,
            aud: t.audience.clone(),
            iss: self.inner.issuer.to_string(),
            jti: Some(t.jti.clone()),
            auth_time: t.auth_time,
            acr: t.acr.clone(),
            amr: t.amr.clone(),
            authorization_details: t.authorization_details.clone(),
            extra: serde_json::Map::new(),
        }
    }

    fn describe_refresh(&self, t: &RefreshTokenRecord, client: &Client) -> ActiveToken {
        ActiveToken {
            scope: t.scopes.to_string(),
            client_id: t.client_id.clone(),
            sub: Some(self.subject_for(client, &t.subject)),
            token_type: None,
            cnf: t.confirmation.clone(),
            exp: t.expires_at,
            iat: t.issued_at,
            nbf: t.issued_at,
            aud: Vec::new(),
            iss: self.inner.issuer.to_string(),
            jti: None,
            auth_time: t.auth_time,
            acr: t.oidc.as_ref().and_then(|o| o.acr.clone()),
            amr: t.oidc.as_ref().and_then(|o| o.amr.clone()),
            authorization_details: t.authorization_details.clone(),
            extra: serde_json::Map::new(),
        }
    }

    /// JSON, or a signed JWT when the caller accepts `application/token-introspection+jwt`
    /// (RFC 9701 §4, §5).
    async fn introspection_response(
        &self,
        req: &Request<Bytes>,
        caller: &str,
        result: &Introspection,
    ) -> Response<Bytes> {
        let wants_jwt = req
            .headers()
            .get_all(ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',').any(|m| {
                    m.split(';')
                        .next()
                        .is_some_and(|m| m.trim().eq_ignore_ascii_case(JWT_MEDIA_TYPE))
                })
            });
        if !wants_jwt {
            return json(StatusCode::OK, result);
        }
        match self.introspection_jwt(caller, result).await {
            Ok(jwt) => uncached(StatusCode::OK, JWT_MEDIA_TYPE, Bytes::from(jwt)),
            Err(e) => self.client_error_response(e.into(), req),
        }
    }

    async fn introspection_jwt(
        &self,
        caller: &str,
        result: &Introspection,
    ) -> Result<String, KeyError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let key = self.signer(inner.policy.keys.default_alg, now).await?;
        let claims = IntrospectionJwtClaims {
            iss: inner.issuer.as_str(),
            aud: caller,
            iat: now,
            token_introspection: result,
        };
        let payload = serde_json::to_vec(&claims)
            .map_err(|_| KeyError::Generate(portcullis_core::JoseError::SigningFailed))?;
        let unsigned = UnsignedJws::new(
            key.alg(),
            key.kid(),
            Some("token-introspection+jwt"),
            &payload,
        )
        .map_err(KeyError::from)?;
        sign_jws(key.as_ref(), unsigned)
            .await
            .map_err(KeyError::from)
    }
}
