//! Which rule authenticates a client: its secret (RFC 6749 §2.3.1) or, for a mutual-TLS
//! client, the certificate the TLS layer received (RFC 8705 §2).

use bytes::Bytes;
use http::Request;
use portcullis_core::{
    authenticate_client, authenticate_client_certificate, Client, ClientAuthentication,
    ClientCertificate, ClientCertificateAuth, ClientKind, OAuthError, TokenErrorCode, UnixTime,
};

use crate::provider::Provider;

impl Provider {
    /// Authenticates `client` (the store's answer for `auth.client_id`) by its registered
    /// method only. A mutual-TLS client needs the [`ClientCertificate`] extension an adapter
    /// put on `req` from the TLS layer (never a header); any other client's certificate is
    /// ignored.
    pub(crate) fn authenticate(
        &self,
        auth: &ClientAuthentication,
        client: Option<&Client>,
        secret_matches: bool,
        now: UnixTime,
        req: &Request<Bytes>,
    ) -> Result<(), OAuthError<TokenErrorCode>> {
        match client {
            Some(
                c @ Client {
                    kind:
                        ClientKind::TlsClientAuth { .. } | ClientKind::SelfSignedTlsClientAuth { .. },
                    ..
                },
            ) => authenticate_client_certificate(
                auth,
                c,
                req.extensions().get::<ClientCertificate>(),
                self.inner.client_certificates,
            ),
            _ => authenticate_client(auth, client, secret_matches, now),
        }
    }

    /// Whether client certificates reach the provider: what certificate-bound tokens need
    /// (RFC 8705 §3).
    pub(crate) fn offers_mutual_tls(&self) -> bool {
        self.inner.client_certificates != ClientCertificateAuth::Disabled
    }
}

/// The SHA-256 thumbprint of the request's TLS client certificate, if it sent one: what a
/// certificate-bound token is bound to (RFC 8705 §3.1).
pub(crate) fn certificate_thumbprint(req: &Request<Bytes>) -> Option<String> {
    req.extensions()
        .get::<ClientCertificate>()
        .map(|c| portcullis_core::certificate_thumbprint(c.der()))
}
