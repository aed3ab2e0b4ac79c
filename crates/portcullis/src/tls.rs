//! Serving over TLS (rustls, on ring) with optional client certificates, for mutual-TLS
//! client authentication (RFC 8705 §2). The adapters' TLS servers use this; the engine
//! itself never reads a certificate from anywhere but the [`ClientCertificate`] extension
//! they set.
//!
//! Client certificates are requested, never required (a client may use another method).
//! One that chains to the host's client CA is [`CertificateChain::ClientCa`]; any other
//! certificate — self-signed, say — is still accepted by the handshake, whose
//! `CertificateVerify` proves the client holds its key, but only as
//! [`CertificateChain::Unverified`]: good for `self_signed_tls_client_auth` (RFC 8705 §2.2,
//! where the TLS layer does not validate the chain), never for `tls_client_auth`.

use std::sync::Arc;

use portcullis_core::{CertificateChain, ClientCertificate, ClientCertificateAuth};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file held no certificate, or no private key.
    #[error("{0}: no PEM {1} found")]
    Pem(&'static str, &'static str),
    /// A PEM section could not be read.
    #[error("{0}: unreadable PEM")]
    UnreadablePem(&'static str),
    /// rustls refused the certificates, key or client CA.
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
    /// The client CA could not make a verifier.
    #[error("client CA: {0}")]
    ClientCa(#[from] rustls::server::VerifierBuilderError),
}

/// A TLS server configuration (rustls on ring, TLS 1.2 and 1.3) that requests client
/// certificates, and the verifier that tells, per connection, which [`ClientCertificate`]
/// the client presented.
#[derive(Debug, Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    verifier: Arc<ClientCertificates>,
}

impl ServerTls {
    /// The server's certificate chain and private key; client certificates verified against
    /// `client_ca` if given (then `tls_client_auth` works), and accepted unverified otherwise
    /// (`self_signed_tls_client_auth`).
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        client_ca: Option<RootCertStore>,
    ) -> Result<Self, TlsError> {
        // Deprecated since rustls 0.23.48 because ring has no post-quantum key exchange; ring
        // is this workspace's only cryptography (no aws-lc-rs).
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let ca = match client_ca {
            Some(roots) => Some(
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .allow_unauthenticated()
                    .build()?,
            ),
            None => None,
        };
        let verifier = Arc::new(ClientCertificates {
            ca,
            provider: provider.clone(),
        });
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier.clone())
            .with_single_cert(chain, key)?;
        Ok(Self {
            config: Arc::new(config),
            verifier,
        })
    }

    /// [`ServerTls::new`] from PEM: the server's certificate chain, its private key
    /// (PKCS#8, PKCS#1 or SEC1), and the client CA's certificates.
    pub fn from_pem(chain: &[u8], key: &[u8], client_ca: Option<&[u8]>) -> Result<Self, TlsError> {
        let chain = certificates(chain, "certificate chain")?;
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|_| TlsError::Pem("private key", "private key"))?;
        let roots = match client_ca {
            Some(pem) => {
                let mut roots = RootCertStore::empty();
                for cert in certificates(pem, "client CA")? {
                    roots.add(cert)?;
                }
                Some(roots)
            }
            None => None,
        };
        Self::new(chain, key, roots)
    }

    /// The rustls configuration, for the server's acceptor.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }

    /// The mutual-TLS methods this configuration supports: give it to
    /// [`ProviderBuilder::client_certificate_auth`](crate::ProviderBuilder::client_certificate_auth).
    pub fn client_certificate_auth(&self) -> ClientCertificateAuth {
        if self.verifier.ca.is_some() {
            ClientCertificateAuth::SelfSignedAndClientCa
        } else {
            ClientCertificateAuth::SelfSigned
        }
    }

    /// The certificate a connection's client presented (rustls' `peer_certificates` after
    /// the handshake: the leaf first), marked by whether it chains to the client CA; `None`
    /// without one. Put it on each of the connection's requests as an extension.
    pub fn client_certificate(
        &self,
        peer_certificates: Option<&[CertificateDer<'_>]>,
    ) -> Option<ClientCertificate> {
        let (leaf, intermediates) = peer_certificates?.split_first()?;
        let chain = match &self.verifier.ca {
            Some(ca)
                if ca
                    .verify_client_cert(leaf, intermediates, UnixTime::now())
                    .is_ok() =>
            {
                CertificateChain::ClientCa
            }
            _ => CertificateChain::Unverified,
        };
        Some(ClientCertificate::new(leaf.as_ref(), chain))
    }
}

fn certificates(pem: &[u8], what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsError::UnreadablePem(what))?;
    if certs.is_empty() {
        return Err(TlsError::Pem(what, "certificate"));
    }
    Ok(certs)
}

/// Requests a client certificate and accepts any the client proves it holds the key of:
/// chain validation (against the client CA) is redone by [`ServerTls::client_certificate`]
/// to mark it, not to refuse it.
#[derive(Debug)]
struct ClientCertificates {
    ca: Option<Arc<dyn ClientCertVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for ClientCertificates {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: a client should send its certificate whoever issued it.
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // RFC 8705 §2.2: the chain is not validated here; the engine decides by the
        // certificate's mark and content.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
