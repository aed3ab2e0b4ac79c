//! How this resource server authenticates to the authorization server's introspection
//! endpoint (RFC 7662 §2.1: the caller must be authorized; here, as a confidential client).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine};
use http::HeaderValue;
use portcullis_core::{sign_compact, SecretToken, SigningKey, UnixTime, JWT_BEARER_ASSERTION_TYPE};
use ring::rand::SecureRandom;
use serde::Serialize;
use url::form_urlencoded::{byte_serialize, Serializer};

use crate::UpstreamError;

/// How long a `private_key_jwt` assertion lives: one request's worth, well within the
/// authorization server's bound (Portcullis: 5 minutes, `ClientAssertionPolicy`).
const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// This resource server's client credentials at the authorization server. The `Debug`
/// output shows the client id and method only, never the secret or key.
pub enum ClientCredentials {
    /// `client_secret_basic` (RFC 6749 §2.3.1): HTTP Basic over the form-urlencoded id and
    /// secret.
    SecretBasic {
        /// The client id.
        client_id: String,
        /// The client secret.
        secret: String,
    },
    /// `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): a fresh assertion per
    /// request, `iss` = `sub` = the client id, `aud` = the authorization server's issuer,
    /// a 256-bit random `jti`, living one minute.
    PrivateKeyJwt {
        /// The client id.
        client_id: String,
        /// The key the authorization server knows the public half of.
        key: Arc<SigningKey>,
    },
}

impl ClientCredentials {
    /// The client id.
    pub fn client_id(&self) -> &str {
        match self {
            Self::SecretBasic { client_id, .. } | Self::PrivateKeyJwt { client_id, .. } => {
                client_id
            }
        }
    }

    /// Authenticates one request: returns its `Authorization` header, if any, and adds the
    /// client assertion to `form` for `private_key_jwt`.
    pub(crate) fn authenticate(
        &self,
        form: &mut Serializer<'_, String>,
        audience: &str,
        now: UnixTime,
        rng: &dyn SecureRandom,
    ) -> Result<Option<HeaderValue>, UpstreamError> {
        match self {
            Self::SecretBasic { client_id, secret } => {
                let pair = format!("{}:{}", form_encode(client_id), form_encode(secret));
                let mut value = HeaderValue::try_from(format!("Basic {}", STANDARD.encode(pair)))
                    .map_err(|_| {
                    UpstreamError::new("the client credentials are not a header")
                })?;
                value.set_sensitive(true);
                Ok(Some(value))
            }
            Self::PrivateKeyJwt { client_id, key } => {
                let assertion = assertion(client_id, key, audience, now, rng)?;
                form.append_pair("client_assertion_type", JWT_BEARER_ASSERTION_TYPE)
                    .append_pair("client_assertion", &assertion);
                Ok(None)
            }
        }
    }
}

/// `application/x-www-form-urlencoded` (RFC 6749 Appendix B).
fn form_encode(value: &str) -> String {
    byte_serialize(value.as_bytes()).collect()
}

/// A `private_key_jwt` client assertion (RFC 7523 §3).
fn assertion(
    client_id: &str,
    key: &SigningKey,
    audience: &str,
    now: UnixTime,
    rng: &dyn SecureRandom,
) -> Result<String, UpstreamError> {
    #[derive(Serialize)]
    struct Claims<'a> {
        iss: &'a str,
        sub: &'a str,
        aud: &'a str,
        iat: UnixTime,
        exp: UnixTime,
        jti: &'a str,
    }
    let failed = || UpstreamError::new("could not sign the client assertion");
    let jti = SecretToken::generate(rng).map_err(|e| failed().with_source(e))?;
    let claims = Claims {
        iss: client_id,
        sub: client_id,
        aud: audience,
        iat: now,
        exp: now.plus(ASSERTION_LIFETIME),
        jti: jti.expose(),
    };
    let payload = serde_json::to_vec(&claims).map_err(|e| failed().with_source(e))?;
    sign_compact(&payload, Some("JWT"), key, rng).map_err(|e| failed().with_source(e))
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = match self {
            Self::SecretBasic { .. } => "client_secret_basic",
            Self::PrivateKeyJwt { .. } => "private_key_jwt",
        };
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id())
            .field("method", &method)
            .finish_non_exhaustive()
    }
}
