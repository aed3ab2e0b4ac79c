//! The UserInfo endpoint (OpenID Connect Core §5.3) with Bearer tokens (RFC 6750).

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{Method, Request, Response, StatusCode};
use portcullis_core::{bearer_credentials, release_claims, BearerCredentials, Params, TokenHash};

use crate::authorize::is_form;
use crate::provider::Provider;
use crate::responses::{json, json_error};

/// A UserInfo failure, answered per RFC 6750 §3.
enum Refusal {
    /// 400 `invalid_request`.
    BadRequest(&'static str),
    /// 401 without an error code: no token was sent (RFC 6750 §3.1).
    NoToken,
    /// 401 `invalid_token`.
    InvalidToken,
    /// 403 `insufficient_scope`: the token lacks `openid`.
    InsufficientScope,
    /// 503: the store failed.
    Unavailable,
}

impl Provider {
    /// UserInfo: GET or POST, the access token in the `Authorization: Bearer` header or a
    /// form body's `access_token` (RFC 6750 §2.1, §2.2; never the query string). Returns the
    /// claims the token's scopes and `claims` request allow, with the client's `sub`.
    pub async fn userinfo(&self, req: Request<Bytes>) -> Response<Bytes> {
        match self.userinfo_claims(&req).await {
            Ok(claims) => json(StatusCode::OK, &claims),
            Err(refusal) => self.refuse(refusal, &req),
        }
    }

    fn refuse(&self, refusal: Refusal, req: &Request<Bytes>) -> Response<Bytes> {
        let realm = format!("Bearer realm=\"{}\"", self.inner.issuer);
        let (status, error, description, challenge) = match refusal {
            Refusal::BadRequest(d) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                d,
                Some(format!("{realm}, error=\"invalid_request\"")),
            ),
            Refusal::NoToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "no access token",
                Some(realm),
            ),
            Refusal::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "the access token is invalid or expired",
                Some(format!("{realm}, error=\"invalid_token\"")),
            ),
            Refusal::InsufficientScope => (
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "the access token does not carry the openid scope",
                Some(format!(
                    "{realm}, error=\"insufficient_scope\", scope=\"openid\""
                )),
            ),
            Refusal::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the server is temporarily unavailable",
                None,
            ),
        };
        let mut r = json_error(status, error, description, challenge.as_deref());
        if !matches!(*req.method(), Method::GET | Method::POST) {
            *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            r.headers_mut().insert(
                http::header::ALLOW,
                http::HeaderValue::from_static("GET, POST"),
            );
        }
        r
    }

    async fn userinfo_claims(
        &self,
        req: &Request<Bytes>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Refusal> {
        let token = bearer_token(req)?;
        let inner = &self.inner;
        let now = inner.clock.now();
        let store_down = |e: portcullis_store::StoreError| {
            tracing::error!(error = %e, "store failure");
            Refusal::Unavailable
        };
        let record = inner
            .stores
            .access_tokens
            .find_access_token(&inner.issuer, &TokenHash::of(&token))
            .await
            .map_err(store_down)?
            .filter(|r| now < r.expires_at)
            .ok_or(Refusal::InvalidToken)?;
        let scopes = record.scopes_at(now);
        let subject = match &record.subject {
            Some(s) if scopes.contains("openid") => s,
            _ => return Err(Refusal::InsufficientScope),
        };
        let client = inner
            .stores
            .clients
            .find_client(&inner.issuer, &record.client_id, now)
            .await
            .map_err(store_down)?
            .ok_or(Refusal::InvalidToken)?;
        let all = inner.claims.claims(subject).await.map_err(|e| {
            tracing::error!(error = %e, "claims source failure");
            Refusal::Unavailable
        })?;
        let mut claims = release_claims(&all, &scopes, &record.userinfo_claims);
        claims.insert("sub".into(), self.subject_for(&client, subject).into());
        Ok(claims)
    }
}

/// The one access token of the request (RFC 6750 §2): header or form body, not both, never
/// the query.
fn bearer_token(req: &Request<Bytes>) -> Result<String, Refusal> {
    if !matches!(*req.method(), Method::GET | Method::POST) {
        return Err(Refusal::BadRequest("use GET or POST"));
    }
    if req
        .uri()
        .query()
        .is_some_and(|q| Params::parse(q.as_bytes()).map_or(true, |p| p.contains("access_token")))
    {
        return Err(Refusal::BadRequest(
            "access tokens are not accepted in the query string",
        ));
    }
    let mut headers = req.headers().get_all(AUTHORIZATION).iter();
    let header = headers.next();
    if headers.next().is_some() {
        return Err(Refusal::BadRequest("more than one Authorization header"));
    }
    let from_header = match header {
        None => None,
        Some(v) => match bearer_credentials(v.as_bytes()) {
            BearerCredentials::Token(t) => Some(t.to_owned()),
            BearerCredentials::OtherScheme => return Err(Refusal::NoToken),
            BearerCredentials::Malformed => return Err(Refusal::InvalidToken),
        },
    };
    let from_body = if *req.method() == Method::POST && is_form(req) {
        let params =
            Params::parse(req.body()).map_err(|_| Refusal::BadRequest("malformed form body"))?;
        if params.is_repeated("access_token") {
            return Err(Refusal::BadRequest("access_token was sent more than once"));
        }
        params.get("access_token").map(str::to_owned)
    } else {
        None
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(Refusal::BadRequest("more than one access token")),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(Refusal::NoToken),
    }
}
