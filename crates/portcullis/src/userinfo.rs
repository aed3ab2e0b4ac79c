//! The UserInfo endpoint (OpenID Connect Core §5.3) with Bearer tokens (RFC 6750).

use bytes::Bytes;
use http::header::AUTHORIZATION;
use http::{Method, Request, Response, StatusCode};
use portcullis_core::{
    bearer_credentials, release_claims, BearerCredentials, BearerErrorCode, OAuthError, Params,
    TokenHash,
};

use crate::authorize::is_form;
use crate::endpoint_error::EndpointError;
use crate::provider::Provider;
use crate::responses::{bearer_challenge, json, json_error};

type BearerError = OAuthError<BearerErrorCode>;

fn invalid_request(description: &'static str) -> BearerError {
    OAuthError::new(BearerErrorCode::InvalidRequest, description)
}

fn invalid_token() -> BearerError {
    OAuthError::new(
        BearerErrorCode::InvalidToken,
        "the access token is invalid or expired",
    )
}

/// The scope UserInfo needs (OpenID Connect Core §5.3.1).
const USERINFO_SCOPE: &str = "openid";

impl Provider {
    /// UserInfo: GET or POST, the access token in the `Authorization: Bearer` header or a
    /// form body's `access_token` (RFC 6750 §2.1, §2.2; never the query string). Returns the
    /// claims the token's scopes and `claims` request allow, with the client's `sub`.
    pub async fn userinfo(&self, req: Request<Bytes>) -> Response<Bytes> {
        let token = match bearer_token(&req) {
            Ok(Some(token)) => token,
            // RFC 6750 §3.1: a request without any token gets a challenge with no error.
            Ok(None) => {
                let no_token = OAuthError::new(BearerErrorCode::InvalidToken, "no access token");
                return self.bearer_error_response(&no_token, false, &req);
            }
            Err(e) => return self.bearer_error_response(&e, true, &req),
        };
        match self.userinfo_claims(&token).await {
            Ok(claims) => json(StatusCode::OK, &claims),
            Err(e) => self.bearer_error_response(&e.into_oauth(), true, &req),
        }
    }

    /// The JSON error with its status (RFC 6750 §3.1) and, but for a server fault, a
    /// `Bearer` challenge: naming the error when the request sent a token (`with_code`),
    /// and the scope needed after `insufficient_scope`. `405` + `Allow` for a method other
    /// than GET or POST.
    fn bearer_error_response(
        &self,
        error: &BearerError,
        with_code: bool,
        req: &Request<Bytes>,
    ) -> Response<Bytes> {
        let code = error.code;
        let challenge = match code {
            BearerErrorCode::TemporarilyUnavailable => None,
            BearerErrorCode::InsufficientScope => Some(bearer_challenge(
                &self.inner.issuer,
                Some(code),
                Some(USERINFO_SCOPE),
            )),
            _ => Some(bearer_challenge(
                &self.inner.issuer,
                with_code.then_some(code),
                None,
            )),
        };
        let mut r = json_error(error, challenge.as_deref());
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
        token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, EndpointError<BearerErrorCode>> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let record = inner
            .stores
            .access_tokens
            .find_access_token(&inner.issuer, &TokenHash::of(token))
            .await?
            .filter(|r| now < r.expires_at)
            .ok_or_else(invalid_token)?;
        let scopes = record.scopes_at(now);
        let subject = match &record.subject {
            Some(s) if scopes.contains(USERINFO_SCOPE) => s,
            _ => {
                return Err(OAuthError::new(
                    BearerErrorCode::InsufficientScope,
                    "the access token does not carry the openid scope",
                )
                .into())
            }
        };
        let client = self
            .find_client(&record.client_id, now)
            .await?
            .ok_or_else(invalid_token)?;
        let all = inner.claims.claims(subject).await?;
        let mut claims = release_claims(&all, &scopes, &record.userinfo_claims);
        claims.insert("sub".into(), self.subject_for(&client, subject).into());
        Ok(claims)
    }
}

/// The one access token of the request (RFC 6750 §2): header or form body, not both, never
/// the query; `None` when the request sends none.
fn bearer_token(req: &Request<Bytes>) -> Result<Option<String>, BearerError> {
    if !matches!(*req.method(), Method::GET | Method::POST) {
        return Err(invalid_request("use GET or POST"));
    }
    if req
        .uri()
        .query()
        .is_some_and(|q| Params::parse(q.as_bytes()).map_or(true, |p| p.contains("access_token")))
    {
        return Err(invalid_request(
            "access tokens are not accepted in the query string",
        ));
    }
    let mut headers = req.headers().get_all(AUTHORIZATION).iter();
    let header = headers.next();
    if headers.next().is_some() {
        return Err(invalid_request("more than one Authorization header"));
    }
    let from_header = match header {
        None => None,
        Some(v) => match bearer_credentials(v.as_bytes()) {
            BearerCredentials::Token(t) => Some(t.to_owned()),
            BearerCredentials::OtherScheme => return Ok(None),
            BearerCredentials::Malformed => return Err(invalid_token()),
        },
    };
    let from_body = if *req.method() == Method::POST && is_form(req) {
        let params =
            Params::parse(req.body()).map_err(|_| invalid_request("malformed form body"))?;
        if params.is_repeated("access_token") {
            return Err(invalid_request("access_token was sent more than once"));
        }
        params.get("access_token").map(str::to_owned)
    } else {
        None
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(invalid_request("more than one access token")),
        (Some(t), None) | (None, Some(t)) => Ok(Some(t)),
        (None, None) => Ok(None),
    }
}
