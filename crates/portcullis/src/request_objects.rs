//! Request objects (RFC 9101): the `request` parameter of an authorization request,
//! verified with the client's registered keys before the request is validated, its `jti`
//! spent once in the replay cache until its `exp`.
//!
//! `request_uri` by reference to a remote object (§5.2) is fetched only when the host
//! enabled it ([`ProviderBuilder::fetch_request_uris_on_clients_behalf`]), and only a URL
//! the client registered in its `request_uris`, exactly (§10.4.1; discovery's
//! `require_request_uri_registration`): through the host's [`Fetcher`], which refuses
//! private addresses (server-side request forgery), within [`FETCH_TIMEOUT`] and
//! [`MAX_REQUEST_OBJECT_BYTES`]; the object is then verified as a `request` is (§6.2).
//! Otherwise a `request_uri` stays `request_uri_not_supported` (the core's validation).
//! A pushed request's `urn:ietf:params:oauth:request_uri:` reference is the PAR
//! endpoint's (`pushed_requests.rs`), and never fetched.
//!
//! [`ProviderBuilder::fetch_request_uris_on_clients_behalf`]: crate::ProviderBuilder::fetch_request_uris_on_clients_behalf
//! [`Fetcher`]: crate::Fetcher
//! [`FETCH_TIMEOUT`]: crate::FETCH_TIMEOUT

use portcullis_core::{
    is_unsigned_request_object, reject_authorization_request, request_object_refusal,
    unsigned_request_object, verify_request_object, AuthorizeErrorCode, AuthorizeRejection, Client,
    ClientKind, OAuthError, Params, UnixTime, VerifiedRequestObject,
};
use portcullis_store::{ReplayNamespace, ReplayOutcome};

use crate::endpoint_error::EndpointError;
use crate::provider::Provider;

type AuthError = OAuthError<AuthorizeErrorCode>;

/// The namespace of spent request-object `jti`s (per client: the id hashes both).
const SPENT_REQUEST_OBJECTS: ReplayNamespace = ReplayNamespace::new("request_object");

/// Longest request object fetched from a `request_uri` (a compact JWS is at most as long).
pub const MAX_REQUEST_OBJECT_BYTES: usize = 64 * 1024;

fn page(code: AuthorizeErrorCode, description: &'static str) -> AuthorizeRejection {
    AuthorizeRejection::ErrorPage(OAuthError::new(code, description))
}

impl Provider {
    /// The parameters that count for the authorization request `params` of `client` (the
    /// one its outer `client_id` names): with a `request` — or a `request_uri` to fetch,
    /// when enabled — the request object's only (RFC 9101 §6.3) once it verified and passed
    /// the claim rules; without one, `params` themselves — unless the client requires
    /// signed request objects (§10.5: `invalid_request`). A pushed request's `request_uri`
    /// is left to the PAR code, which resolves its own pushes here.
    ///
    /// Refusals are `invalid_request_object` (§6.1) — `invalid_request_uri` for a
    /// `request_uri` that is not registered or could not be fetched — on an error page
    /// while the object is unverified (its `redirect_uri` is not trusted yet), and
    /// redirected after.
    pub(crate) async fn resolve_request_object(
        &self,
        params: &Params,
        client: Option<&Client>,
        now: UnixTime,
    ) -> Result<Params, AuthorizeRejection> {
        let issuer = &self.inner.issuer;
        let by_reference = self.inner.fetch_request_uris && params.contains("request_uri");
        if !params.contains("request") && !by_reference {
            let policy = &self.inner.policy.request_objects;
            let required = client.is_some_and(|c| policy.requires_signed(c));
            if required && !params.contains("request_uri") {
                let error = OAuthError::new(
                    AuthorizeErrorCode::InvalidRequest,
                    "this client must send a signed request object",
                );
                return Err(reject_authorization_request(
                    params,
                    client,
                    issuer,
                    &self.inner.policy,
                    error,
                ));
            }
            return Ok(params.clone());
        }
        let invalid = AuthorizeErrorCode::InvalidRequest;
        if params.is_repeated("request") {
            return Err(page(invalid, "request was sent more than once"));
        }
        if params.contains("request") && params.contains("request_uri") {
            return Err(page(
                invalid,
                "request and request_uri may not both be sent",
            ));
        }
        let Some(client) = client.filter(|c| params.get("client_id") == Some(c.id.as_str())) else {
            return Err(page(invalid, "unknown client"));
        };
        let fetched;
        let token = match params.get("request") {
            Some(token) => token,
            None => {
                fetched = self
                    .fetch_request_object(params, client)
                    .await
                    .map_err(AuthorizeRejection::ErrorPage)?;
                fetched.as_str()
            }
        };
        let verified = self
            .verify_request_object(token, client, now)
            .await
            .map_err(AuthorizeRejection::ErrorPage)?;
        let reject = |error: AuthError| match verified.params(&client.id) {
            Ok(object) => reject_authorization_request(
                &object,
                Some(client),
                issuer,
                &self.inner.policy,
                error,
            ),
            Err(_) => AuthorizeRejection::ErrorPage(error),
        };
        let policy = &self.inner.policy.request_objects;
        let accepted = verified
            .decide(&client.id, issuer.as_str(), policy, now)
            .map_err(reject)?;
        let outcome = self
            .inner
            .stores
            .replays
            .check_and_insert(
                issuer,
                SPENT_REQUEST_OBJECTS,
                &accepted.replay_id,
                accepted.expires_at,
                now,
            )
            .await;
        let error = match outcome {
            Ok(ReplayOutcome::Fresh) => return Ok(accepted.params),
            Ok(ReplayOutcome::Replayed) => OAuthError::new(
                AuthorizeErrorCode::InvalidRequestObject,
                "the request object was used before",
            ),
            Err(e) => EndpointError::from(e).into_oauth(),
        };
        Err(reject_authorization_request(
            &accepted.params,
            Some(client),
            issuer,
            &self.inner.policy,
            error,
        ))
    }

    /// Verifies `token` with `client`'s registered keys (`private_key_jwt`'s, inline or
    /// from its `jwks_uri`, or `self_signed_tls_client_auth`'s), for the algorithms the
    /// policy and the client allow; unsigned only if the client opted in.
    async fn verify_request_object(
        &self,
        token: &str,
        client: &Client,
        now: UnixTime,
    ) -> Result<VerifiedRequestObject, AuthError> {
        let policy = &self.inner.policy.request_objects;
        if is_unsigned_request_object(token) {
            let object = unsigned_request_object(token, client, policy)?;
            object.check_type(client)?;
            return Ok(object);
        }
        let algs = policy.algs_for(client);
        let verified = match &client.kind {
            ClientKind::PrivateKeyJwt { keys } => {
                self.verify_with_client_keys(client, keys, now, |k| {
                    verify_request_object(token, k, &algs)
                })
                .await
            }
            ClientKind::SelfSignedTlsClientAuth { keys } => {
                verify_request_object(token, &keys.verifying_keys(), &algs)
            }
            _ => {
                return Err(OAuthError::new(
                    AuthorizeErrorCode::InvalidRequestObject,
                    "the client has no registered keys to sign request objects with",
                ))
            }
        };
        let object = verified.map_err(|e| request_object_refusal(&e))?;
        object.check_type(client)?;
        Ok(object)
    }

    /// The request object at `params`' `request_uri` for `client` (RFC 9101 §5.2, §6.2):
    /// one of its registered `request_uris`, exactly; fetched through the host's fetcher
    /// (public addresses only), at most [`MAX_REQUEST_OBJECT_BYTES`] within the fetch
    /// timeout. Not registered, or not fetched: `invalid_request_uri`.
    async fn fetch_request_object(
        &self,
        params: &Params,
        client: &Client,
    ) -> Result<String, AuthError> {
        let invalid_uri =
            |description| OAuthError::new(AuthorizeErrorCode::InvalidRequestUri, description);
        let uri = match params.get("request_uri") {
            Some(uri) if !params.is_repeated("request_uri") => uri,
            _ => {
                return Err(OAuthError::new(
                    AuthorizeErrorCode::InvalidRequest,
                    "request_uri was sent more than once",
                ))
            }
        };
        if !client.request_objects.registers_request_uri(uri) {
            return Err(invalid_uri("request_uri is not registered for this client"));
        }
        let body = self
            .fetch_bounded(uri, MAX_REQUEST_OBJECT_BYTES)
            .await
            .map_err(|e| {
                tracing::warn!(client_id = %client.id, error = %e, "request_uri fetch failed");
                invalid_uri("the request_uri could not be fetched")
            })?;
        String::from_utf8(body)
            .map(|text| text.trim().to_owned())
            .map_err(|_| {
                OAuthError::new(
                    AuthorizeErrorCode::InvalidRequestObject,
                    "the request object is not text",
                )
            })
    }
}
