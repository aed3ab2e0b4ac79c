//! The UserInfo endpoint (OpenID Connect Core §5.3) with Bearer tokens (RFC 6750), DPoP-bound
//! tokens (RFC 9449 §7) and certificate-bound tokens (RFC 8705 §3).

use bytes::Bytes;
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use portcullis_core::{
    access_token_credentials, release_claims, AccessTokenCredentials, BearerErrorCode, Client,
    Confirmation, HolderProof, OAuthError, Params, TokenHash, TokenScheme, UnixTime,
};

use crate::authorize::is_form;
use crate::client_certificate::certificate_thumbprint;
use crate::dpop::DpopCheck;
use crate::endpoint_error::EndpointError;
use crate::observability;
use crate::provider::Provider;
use crate::responses::{bearer_challenge, dpop_challenge, json, json_error};

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

/// The access token of a request and the scheme it came with (a form body's is `Bearer`).
struct PresentedToken {
    scheme: TokenScheme,
    token: String,
}

/// The challenges of a refusal (RFC 6750 §3, RFC 9449 §7.1).
#[derive(Debug, Clone, Copy)]
enum Challenge {
    /// No token was sent: a `Bearer` and a `DPoP` challenge, naming no error.
    Either,
    /// The scheme the token came with, or `DPoP` for a DPoP-bound token, naming the error.
    Scheme(TokenScheme),
}

/// A refused request: the error and its challenge.
struct Refusal {
    error: EndpointError<BearerErrorCode>,
    challenge: Challenge,
}

impl Refusal {
    fn new(error: impl Into<EndpointError<BearerErrorCode>>, scheme: TokenScheme) -> Self {
        Self {
            error: error.into(),
            challenge: Challenge::Scheme(scheme),
        }
    }
}

impl Provider {
    /// UserInfo: GET or POST, the access token in the `Authorization` header, `Bearer` or
    /// `DPoP` with a proof (RFC 6750 §2.1, RFC 9449 §7.1), or a form body's `access_token`
    /// (RFC 6750 §2.2; never the query string). The sender must prove what the token is bound
    /// to: its DPoP key, its TLS client certificate (RFC 8705 §3). Returns the claims the
    /// token's scopes and `claims` request allow, with the client's `sub`; a response to a
    /// request with a DPoP proof carries a fresh `DPoP-Nonce` (RFC 9449 §8.2, §9).
    pub async fn userinfo(&self, req: Request<Bytes>) -> Response<Bytes> {
        observability::request("userinfo", self.userinfo_answer(req)).await
    }

    async fn userinfo_answer(&self, req: Request<Bytes>) -> Response<Bytes> {
        let response = match self.userinfo_claims(&req).await {
            Ok(claims) => json(StatusCode::OK, &claims),
            Err(refusal) => self.bearer_error_response(refusal, &req),
        };
        self.with_dpop_nonce(&req, response)
    }

    /// The JSON error with its status (RFC 6750 §3.1) and, but for a server fault, the
    /// challenges of `refusal`: the scope needed after `insufficient_scope`, and the DPoP
    /// algorithms in a `DPoP` challenge (RFC 9449 §7.1). `405` + `Allow` for a method other
    /// than GET or POST.
    fn bearer_error_response(&self, refusal: Refusal, req: &Request<Bytes>) -> Response<Bytes> {
        let error = refusal.error.into_oauth();
        let code = error.code;
        let scope = (code == BearerErrorCode::InsufficientScope).then_some(USERINFO_SCOPE);
        let issuer = &self.inner.issuer;
        let algs = &self.inner.policy.dpop.algorithms;
        let challenges = match (code, refusal.challenge) {
            (BearerErrorCode::TemporarilyUnavailable, _) => vec![],
            (_, Challenge::Either) => vec![
                bearer_challenge(issuer, None, None),
                dpop_challenge(issuer, None, None, algs),
            ],
            (_, Challenge::Scheme(TokenScheme::Bearer)) => {
                vec![bearer_challenge(issuer, Some(code), scope)]
            }
            (_, Challenge::Scheme(TokenScheme::Dpop)) => {
                vec![dpop_challenge(issuer, Some(code), scope, algs)]
            }
        };
        let mut r = json_error(&error, None);
        for challenge in challenges {
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                r.headers_mut().append(WWW_AUTHENTICATE, value);
            }
        }
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
        let presented = match presented_token(req)? {
            Some(p) => p,
            // RFC 6750 §3.1: a request without any token gets a challenge with no error.
            None => {
                return Err(Refusal {
                    error: OAuthError::new(BearerErrorCode::InvalidToken, "no access token").into(),
                    challenge: Challenge::Either,
                })
            }
        };
        let inner = &self.inner;
        let now = inner.clock.now();
        let refused = |e: EndpointError<BearerErrorCode>| Refusal::new(e, presented.scheme);
        let record = inner
            .stores
            .access_tokens
            .find_access_token(&inner.issuer, &TokenHash::of(&presented.token))
            .await
            .map_err(|e| refused(e.into()))?
            .filter(|r| now < r.expires_at)
            .ok_or_else(|| refused(invalid_token().into()))?;
        let bound = record.confirmation.clone().unwrap_or_default();
        // RFC 9449 §7.1: a DPoP-bound token is challenged with the DPoP scheme, however sent.
        let scheme = if bound.jkt.is_some() {
            TokenScheme::Dpop
        } else {
            presented.scheme
        };
        let refused = |e: EndpointError<BearerErrorCode>| Refusal::new(e, scheme);
        let client = self
            .find_client(&record.client_id, now)
            .await
            .map_err(|e| refused(e.into()))?
            .ok_or_else(|| refused(invalid_token().into()))?;
        self.check_holder(req, &presented, &bound, &client, now)
            .await
            .map_err(refused)?;
        let scopes = record.scopes_at(now);
        let subject = match &record.subject {
            Some(s) if scopes.contains(USERINFO_SCOPE) => s,
            _ => {
                return Err(refused(
                    OAuthError::new(
                        BearerErrorCode::InsufficientScope,
                        "the access token does not carry the openid scope",
                    )
                    .into(),
                ))
            }
        };
        let all = inner
            .claims
            .claims(subject)
            .await
            .map_err(|e| refused(e.into()))?;
        let mut claims = release_claims(&all, &scopes, &record.userinfo_claims);
        claims.insert("sub".into(), self.subject_for(&client, subject).into());
        Ok(claims)
    }

    /// Whether the request proves the binding of its token (`bound`): a DPoP-bound token comes
    /// with the `DPoP` scheme and a proof of its key for this request and token (RFC 9449
    /// §7.1: `htm`, `htu`, `ath`, the jti spent, the server's nonce when the policy or the
    /// client requires one); a certificate-bound token over a TLS connection with its
    /// certificate (RFC 8705 §3). The `DPoP` scheme with a token bound to no key is refused.
    async fn check_holder(
        &self,
        req: &Request<Bytes>,
        presented: &PresentedToken,
        bound: &Confirmation,
        client: &Client,
        now: UnixTime,
    ) -> Result<(), EndpointError<BearerErrorCode>> {
        let proof = match presented.scheme {
            TokenScheme::Bearer => None,
            TokenScheme::Dpop if bound.jkt.is_none() => {
                return Err(OAuthError::new(
                    BearerErrorCode::InvalidToken,
                    "the access token is not DPoP-bound: present it with the Bearer scheme",
                )
                .into())
            }
            TokenScheme::Dpop => {
                let check = DpopCheck {
                    path: crate::paths::USERINFO,
                    access_token: Some(&presented.token),
                    client,
                    now,
                };
                let proof = self.dpop_proof(req, &check).await?;
                Some(proof.ok_or_else(|| {
                    OAuthError::new(
                        BearerErrorCode::InvalidDpopProof,
                        "the DPoP scheme needs a DPoP proof",
                    )
                })?)
            }
        };
        let certificate = certificate_thumbprint(req);
        let holder = HolderProof {
            dpop_jkt: proof.as_ref().map(|p| p.jkt.as_str()),
            certificate_thumbprint: certificate.as_deref(),
        };
        if bound.is_proven_by(&holder) {
            Ok(())
        } else {
            Err(OAuthError::new(
                BearerErrorCode::InvalidToken,
                "the request does not prove the DPoP key or TLS certificate the access token is bound to",
            )
            .into())
        }
    }
}

/// The one access token of the request (RFC 6750 §2, RFC 9449 §7.1): header or form body, not
/// both, never the query; `None` when the request sends none. A refusal is challenged with
/// the scheme of the `Authorization` header, if it names one.
fn presented_token(req: &Request<Bytes>) -> Result<Option<PresentedToken>, Refusal> {
    let mut headers = req.headers().get_all(AUTHORIZATION).iter();
    let header = headers.next();
    if headers.next().is_some() {
        return Err(Refusal::new(
            invalid_request("more than one Authorization header"),
            TokenScheme::Bearer,
        ));
    }
    let from_header = match header.map(|v| access_token_credentials(v.as_bytes())) {
        None | Some(AccessTokenCredentials::OtherScheme) => None,
        Some(AccessTokenCredentials::Token(scheme, token)) => Some(PresentedToken {
            scheme,
            token: token.to_owned(),
        }),
        Some(AccessTokenCredentials::Malformed(scheme)) => {
            return Err(Refusal::new(
                invalid_token(),
                scheme.unwrap_or(TokenScheme::Bearer),
            ))
        }
    };
    let scheme = from_header
        .as_ref()
        .map_or(TokenScheme::Bearer, |p| p.scheme);
    let refused = |e| Refusal::new(e, scheme);
    if !matches!(*req.method(), Method::GET | Method::POST) {
        return Err(refused(invalid_request("use GET or POST")));
    }
    if req
        .uri()
        .query()
        .is_some_and(|q| Params::parse(q.as_bytes()).map_or(true, |p| p.contains("access_token")))
    {
        return Err(refused(invalid_request(
            "access tokens are not accepted in the query string",
        )));
    }
    let from_body = if *req.method() == Method::POST && is_form(req) {
        let params = Params::parse(req.body())
            .map_err(|_| refused(invalid_request("malformed form body")))?;
        if params.is_repeated("access_token") {
            return Err(refused(invalid_request(
                "access_token was sent more than once",
            )));
        }
        params.get("access_token").map(|token| PresentedToken {
            scheme: TokenScheme::Bearer,
            token: token.to_owned(),
        })
    } else {
        None
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(refused(invalid_request("more than one access token"))),
        (Some(t), None) | (None, Some(t)) => Ok(Some(t)),
        (None, None) => Ok(None),
    }
}
