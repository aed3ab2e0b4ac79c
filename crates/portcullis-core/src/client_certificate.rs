//! Mutual-TLS client authentication (RFC 8705 §2): what a client registers, the certificate
//! the TLS layer hands over, and whether the two match.
//!
//! Certificates are parsed with `x509-cert` (RustCrypto, DER only); nothing here verifies a
//! signature or a chain: the TLS layer did (RFC 8705 §2.1) or, for self-signed certificates,
//! deliberately did not (§2.2), and says which in [`ClientCertificate::chain`].

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Tag, Tagged};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::name::RdnSequence;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;

use crate::client::{Client, ClientError, ClientKind};
use crate::client_auth::{ClientAuthMethod, ClientAuthentication, PresentedCredentials};
use crate::error::{OAuthError, TokenErrorCode};
use crate::jose::{JwkSet, PublicMaterial};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");

/// What the TLS layer established about a client certificate's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateChain {
    /// The certificate chains to a client CA the host trusts, verified (with its validity
    /// period) during the handshake: good for `tls_client_auth` (RFC 8705 §2.1).
    ClientCa,
    /// Accepted without chain validation (a self-signed certificate): only its public key
    /// counts, for `self_signed_tls_client_auth` (RFC 8705 §2.2), never for `tls_client_auth`.
    Unverified,
}

/// The client's certificate as the TLS layer received it: the leaf's DER, and whether its
/// chain was verified. The adapters hand it to the engine as a request extension; a header
/// never stands in for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    der: Arc<[u8]>,
    chain: CertificateChain,
}

impl ClientCertificate {
    /// The end-entity certificate `der`, verified as `chain` says. The client proved that it
    /// holds the private key in the handshake (TLS `CertificateVerify`).
    pub fn new(der: impl Into<Arc<[u8]>>, chain: CertificateChain) -> Self {
        Self {
            der: der.into(),
            chain,
        }
    }

    /// The certificate's DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// What the TLS layer verified.
    pub fn chain(&self) -> CertificateChain {
        self.chain
    }
}

/// The one subject a `tls_client_auth` client registers (RFC 8705 §2.1.2), with its metadata
/// name: the certificate must carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertificateSubject {
    /// `tls_client_auth_subject_dn`: the subject DN, as an RFC 4514 string. Compared
    /// attribute by attribute (see [`CertificateSubject::matches`]).
    #[serde(rename = "tls_client_auth_subject_dn")]
    SubjectDn(String),
    /// `tls_client_auth_san_dns`: a `dNSName` SAN, compared ASCII case-insensitively, no
    /// wildcards.
    #[serde(rename = "tls_client_auth_san_dns")]
    SanDns(String),
    /// `tls_client_auth_san_uri`: a `uniformResourceIdentifier` SAN, compared exactly.
    #[serde(rename = "tls_client_auth_san_uri")]
    SanUri(String),
    /// `tls_client_auth_san_ip`: an `iPAddress` SAN, compared by its octets.
    #[serde(rename = "tls_client_auth_san_ip")]
    SanIp(IpAddr),
    /// `tls_client_auth_san_email`: an `rfc822Name` SAN; the local part compared exactly,
    /// the domain ASCII case-insensitively (RFC 5280 §7.5).
    #[serde(rename = "tls_client_auth_san_email")]
    SanEmail(String),
}

/// Which mutual-TLS methods the provider offers: only what the TLS layer in front of it
/// supports (it requests client certificates; for `tls_client_auth`, it also verifies them
/// against the host's client CA). Discovery lists only what is offered, and a client of a
/// method not offered cannot authenticate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientCertificateAuth {
    /// No client certificates reach the provider (the default): neither method.
    #[default]
    Disabled,
    /// Client certificates are requested but not verified: `self_signed_tls_client_auth`.
    SelfSigned,
    /// Client certificates are requested, and those that chain to the host's client CA are
    /// marked [`CertificateChain::ClientCa`]: both methods.
    SelfSignedAndClientCa,
}

impl ClientCertificateAuth {
    /// Whether the provider offers `method`: every method that is not mutual TLS, and the
    /// mutual-TLS ones as configured.
    pub fn offers(self, method: ClientAuthMethod) -> bool {
        match method {
            ClientAuthMethod::TlsClientAuth => self == Self::SelfSignedAndClientCa,
            ClientAuthMethod::SelfSignedTlsClientAuth => self != Self::Disabled,
            _ => true,
        }
    }
}

/// A certificate, parsed. Refuses what is not exactly one DER certificate.
fn parse(der: &[u8]) -> Option<Certificate> {
    Certificate::from_der(der).ok()
}

/// Checks a mutual-TLS client's registration: a subject DN must be an RFC 4514 string, and
/// a self-signed client needs at least one usable public key.
pub(crate) fn check_registration(client: &Client) -> Result<(), ClientError> {
    match &client.kind {
        ClientKind::TlsClientAuth {
            subject: CertificateSubject::SubjectDn(dn),
        } if normalised_dn_of(dn).is_none() => {
            Err(ClientError::InvalidSubjectDn(client.id.clone()))
        }
        ClientKind::SelfSignedTlsClientAuth { keys } if keys.verifying_keys().is_empty() => {
            Err(ClientError::NoCertificateKeys(client.id.clone()))
        }
        _ => Ok(()),
    }
}

/// An RDN sequence in comparable form: each RDN's (type, value) pairs, sorted.
type NormalisedDn = Vec<Vec<(ObjectIdentifier, String)>>;

/// The registered RFC 4514 string, normalised; `None` if it is not one.
fn normalised_dn_of(dn: &str) -> Option<NormalisedDn> {
    normalised(&RdnSequence::from_str(dn).ok()?)
}

/// How two subject DNs are compared (RFC 8705 §2.1.2 leaves it to RFC 4514/4517): RDN by
/// RDN in order; within an RDN, the attributes as a set; attribute types by OID; values
/// (PrintableString, UTF8String, IA5String or TeletexString, any other type never matches)
/// with leading and trailing spaces removed, inner runs of spaces made one, and lowercased
/// (RFC 4517 §4.2.3 caseIgnoreMatch, approximately: no Unicode normalisation).
fn normalised(dn: &RdnSequence) -> Option<NormalisedDn> {
    dn.0.iter()
        .map(|rdn| {
            let mut attributes = rdn
                .0
                .iter()
                .map(|atv| Some((atv.oid, normalised_value(&atv.value)?)))
                .collect::<Option<Vec<_>>>()?;
            attributes.sort();
            Some(attributes)
        })
        .collect()
}

fn normalised_value(value: &x509_cert::der::Any) -> Option<String> {
    let text = match value.tag() {
        Tag::PrintableString | Tag::Utf8String | Tag::Ia5String | Tag::TeletexString => {
            std::str::from_utf8(value.value()).ok()?
        }
        _ => return None,
    };
    Some(
        text.split(' ')
            .filter(|word| !word.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase(),
    )
}

impl CertificateSubject {
    /// The metadata name of this kind of subject (RFC 8705 §2.1.2).
    pub fn metadata_name(&self) -> &'static str {
        match self {
            Self::SubjectDn(_) => "tls_client_auth_subject_dn",
            Self::SanDns(_) => "tls_client_auth_san_dns",
            Self::SanUri(_) => "tls_client_auth_san_uri",
            Self::SanIp(_) => "tls_client_auth_san_ip",
            Self::SanEmail(_) => "tls_client_auth_san_email",
        }
    }

    /// Whether `certificate` (DER) has this subject: its subject DN, or one of its subject
    /// alternative names of this kind. An unparsable certificate or SAN extension matches
    /// nothing.
    pub fn matches(&self, certificate: &[u8]) -> bool {
        let Some(cert) = parse(certificate) else {
            return false;
        };
        let tbs = &cert.tbs_certificate;
        if let Self::SubjectDn(dn) = self {
            return normalised_dn_of(dn).is_some_and(|dn| normalised(&tbs.subject) == Some(dn));
        }
        let sans = tbs
            .extensions
            .iter()
            .flatten()
            .filter(|e| e.extn_id == SUBJECT_ALT_NAME)
            .map(|e| SubjectAltName::from_der(e.extn_value.as_bytes()).ok())
            .collect::<Option<Vec<_>>>();
        sans.is_some_and(|sans| {
            sans.iter()
                .flat_map(|san| &san.0)
                .any(|name| self.is_san(name))
        })
    }

    fn is_san(&self, name: &GeneralName) -> bool {
        match (self, name) {
            (Self::SanDns(dns), GeneralName::DnsName(n)) => dns.eq_ignore_ascii_case(n.as_str()),
            (Self::SanUri(uri), GeneralName::UniformResourceIdentifier(n)) => uri == n.as_str(),
            (Self::SanIp(ip), GeneralName::IpAddress(n)) => {
                let octets = match ip {
                    IpAddr::V4(v4) => v4.octets().to_vec(),
                    IpAddr::V6(v6) => v6.octets().to_vec(),
                };
                octets == n.as_bytes()
            }
            (Self::SanEmail(email), GeneralName::Rfc822Name(n)) => same_email(email, n.as_str()),
            _ => false,
        }
    }
}

/// `local@domain`: the local part exactly, the domain case-insensitively (RFC 5280 §7.5).
fn same_email(registered: &str, presented: &str) -> bool {
    match (registered.rsplit_once('@'), presented.rsplit_once('@')) {
        (Some((a_local, a_domain)), Some((b_local, b_domain))) => {
            a_local == b_local && a_domain.eq_ignore_ascii_case(b_domain)
        }
        _ => false,
    }
}

/// The certificate's public key in the form a JWK's is kept: RSA, P-256 or Ed25519.
fn public_material(spki: &SubjectPublicKeyInfoOwned) -> Option<PublicMaterial> {
    let bits = spki.subject_public_key.as_bytes()?;
    let algorithm = &spki.algorithm;
    if algorithm.oid == RSA_ENCRYPTION {
        let key = pkcs1::RsaPublicKey::from_der(bits).ok()?;
        return Some(PublicMaterial::rsa(
            key.modulus.as_bytes(),
            key.public_exponent.as_bytes(),
        ));
    }
    let curve = algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    match (algorithm.oid, curve) {
        (EC_PUBLIC_KEY, Some(P256)) => Some(PublicMaterial::P256(bits.to_vec())),
        (ED25519, None) => Some(PublicMaterial::Ed25519(bits.to_vec())),
        _ => None,
    }
}

/// Whether `certificate`'s (DER) public key is one of `keys` (RFC 8705 §2.2): the
/// SubjectPublicKeyInfo compared with each JWK's key, by its components (RSA modulus and
/// exponent, the P-256 point, the Ed25519 key). Keys the JWK Set cannot use for signatures
/// count for nothing; `x5c` is not needed.
pub fn certificate_key_registered(keys: &JwkSet, certificate: &[u8]) -> bool {
    let Some(presented) = parse(certificate)
        .and_then(|c| public_material(&c.tbs_certificate.subject_public_key_info))
    else {
        return false;
    };
    keys.verifying_keys()
        .iter()
        .any(|key| key.material == presented)
}

/// Authenticates a mutual-TLS client (RFC 8705 §2): it names itself with `client_id` alone
/// (no secret, no other method), the provider offers its method (`offered`), and the TLS
/// layer's `certificate` proves it: for `tls_client_auth`, a certificate that chains to the
/// host's client CA and has the registered subject (§2.1); for `self_signed_tls_client_auth`,
/// a certificate whose public key the client registered (§2.2), chain verified or not. Every
/// other client, and every failure, is `invalid_client`, without saying which check failed.
pub fn authenticate_client_certificate(
    auth: &ClientAuthentication,
    client: &Client,
    certificate: Option<&ClientCertificate>,
    offered: ClientCertificateAuth,
) -> Result<(), OAuthError<TokenErrorCode>> {
    let proven = client.id == auth.client_id
        && auth.credentials == PresentedCredentials::None
        && certificate.is_some_and(|cert| match &client.kind {
            ClientKind::TlsClientAuth { subject } => {
                offered.offers(ClientAuthMethod::TlsClientAuth)
                    && cert.chain == CertificateChain::ClientCa
                    && subject.matches(&cert.der)
            }
            ClientKind::SelfSignedTlsClientAuth { keys } => {
                offered.offers(ClientAuthMethod::SelfSignedTlsClientAuth)
                    && certificate_key_registered(keys, &cert.der)
            }
            _ => false,
        });
    if proven {
        Ok(())
    } else {
        Err(OAuthError::new(
            TokenErrorCode::InvalidClient,
            "client authentication failed",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{Algorithm, Jwk, SigningKey};
    use rcgen::{
        CertificateParams, DistinguishedName, DnType, DnValue, KeyPair, SanType,
        PKCS_ECDSA_P256_SHA256, PKCS_ED25519, PKCS_RSA_SHA256,
    };

    /// An RSA key for tests only (ring cannot generate RSA keys).
    const RSA_PEM: &str = include_str!("../testdata/rsa-2048-test-only.pem");

    fn dn(pairs: &[(DnType, DnValue)]) -> DistinguishedName {
        let mut dn = DistinguishedName::new();
        for (t, v) in pairs {
            dn.push(t.clone(), v.clone());
        }
        dn
    }

    fn utf8(s: &str) -> DnValue {
        DnValue::Utf8String(s.into())
    }

    /// A certificate for `key` with `subject` and `sans`, self-signed.
    fn cert(key: &KeyPair, subject: DistinguishedName, sans: Vec<SanType>) -> Vec<u8> {
        let mut params = CertificateParams::default();
        params.distinguished_name = subject;
        params.subject_alt_names = sans;
        params.self_signed(key).unwrap().der().to_vec()
    }

    fn ec_key() -> KeyPair {
        KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()
    }

    fn jwk_of(key: &KeyPair, alg: Algorithm) -> Jwk {
        let rng = ring::rand::SystemRandom::new();
        SigningKey::from_pkcs8("k", alg, &key.serialize_der(), &rng)
            .unwrap()
            .public_jwk()
    }

    fn ia5(s: &str) -> rcgen::Ia5String {
        s.try_into().unwrap()
    }

    fn client(kind: ClientKind) -> Client {
        Client::new("app", kind)
    }

    fn subject_dn(s: &str) -> CertificateSubject {
        CertificateSubject::SubjectDn(s.into())
    }

    #[test]
    fn subject_dn_compares_attribute_by_attribute() {
        let key = ec_key();
        let printable = |s: &str| DnValue::PrintableString(s.try_into().unwrap());
        let der = cert(
            &key,
            dn(&[
                (DnType::CountryName, printable("SE")),
                (DnType::OrganizationName, printable("Example  AB")),
                (DnType::CommonName, utf8("client, one")),
            ]),
            vec![],
        );
        // RFC 4514: most specific RDN first; escapes undone; case and spacing ignored.
        for ok in [
            r"CN=client\, one,O=Example AB,C=SE",
            r"cn=CLIENT\, ONE,o=example  ab,c=se",
            r"2.5.4.3=client\, one,O=Example AB,C=SE",
            r"CN=\ client\, one,O=Example AB,C=SE",
        ] {
            assert!(subject_dn(ok).matches(&der), "{ok}");
        }
        for wrong in [
            r"CN=client\, one,O=Example AB",
            r"O=Example AB,CN=client\, one,C=SE",
            r"CN=client\, two,O=Example AB,C=SE",
            r"CN=client\, one,O=Example AB,C=SE,DC=extra",
            r"CN=client\, one,OU=Example AB,C=SE",
            "CN=client",
            "not a DN",
        ] {
            assert!(!subject_dn(wrong).matches(&der), "{wrong}");
        }
        // A multi-valued RDN is a set: its order does not count.
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(&[(DnType::CommonName, utf8("a"))]);
        let plain = params.self_signed(&key).unwrap().der().to_vec();
        assert!(subject_dn("CN=a").matches(&plain));
        assert!(!subject_dn("CN=a+O=b").matches(&plain));
        // A value type it cannot read never matches.
        let bmp = cert(
            &key,
            dn(&[(
                DnType::CommonName,
                DnValue::BmpString("a".try_into().unwrap()),
            )]),
            vec![],
        );
        assert!(!subject_dn("CN=a").matches(&bmp));
    }

    #[test]
    fn sans_match_their_own_kind_only() {
        let key = ec_key();
        let der = cert(
            &key,
            dn(&[(DnType::CommonName, utf8("client.example"))]),
            vec![
                SanType::DnsName(ia5("Client.Example")),
                SanType::URI(ia5("https://client.example/id")),
                SanType::IpAddress("192.0.2.7".parse().unwrap()),
                SanType::IpAddress("2001:db8::7".parse().unwrap()),
                SanType::Rfc822Name(ia5("Ops@Client.Example")),
            ],
        );
        let yes = [
            CertificateSubject::SanDns("client.example".into()),
            CertificateSubject::SanUri("https://client.example/id".into()),
            CertificateSubject::SanIp("192.0.2.7".parse().unwrap()),
            CertificateSubject::SanIp("2001:db8::7".parse().unwrap()),
            CertificateSubject::SanEmail("Ops@client.example".into()),
        ];
        for s in &yes {
            assert!(s.matches(&der), "{s:?}");
        }
        let no = [
            CertificateSubject::SanDns("other.example".into()),
            CertificateSubject::SanDns("https://client.example/id".into()),
            CertificateSubject::SanDns("*.example".into()),
            CertificateSubject::SanUri("https://client.example/ID".into()),
            CertificateSubject::SanUri("client.example".into()),
            CertificateSubject::SanIp("192.0.2.8".parse().unwrap()),
            CertificateSubject::SanIp("::ffff:192.0.2.7".parse().unwrap()),
            CertificateSubject::SanEmail("ops@client.example".into()),
            CertificateSubject::SanEmail("Ops@other.example".into()),
            CertificateSubject::SanEmail("client.example".into()),
            // The subject's CN is not a SAN.
            CertificateSubject::SanDns("client.example.".into()),
        ];
        for s in &no {
            assert!(!s.matches(&der), "{s:?}");
        }
        // Without a SAN extension, no SAN matches.
        let bare = cert(&key, dn(&[(DnType::CommonName, utf8("x"))]), vec![]);
        assert!(!CertificateSubject::SanDns("x".into()).matches(&bare));
        assert!(!same_email("a@b", "a"));
    }

    #[test]
    fn unparsable_certificates_match_nothing() {
        let key = ec_key();
        let mut der = cert(&key, dn(&[(DnType::CommonName, utf8("a"))]), vec![]);
        let keys = JwkSet {
            keys: vec![jwk_of(&key, Algorithm::ES256)],
        };
        assert!(certificate_key_registered(&keys, &der));
        der.push(0);
        for bad in [&der[..], &der[..10], b"", b"\x30\x00"] {
            assert!(!subject_dn("CN=a").matches(bad));
            assert!(!certificate_key_registered(&keys, bad));
        }
    }

    #[test]
    fn the_public_key_must_be_registered() {
        let rsa = KeyPair::from_pkcs8_pem_and_sign_algo(RSA_PEM, &PKCS_RSA_SHA256).unwrap();
        let cases = [
            (ec_key(), Algorithm::ES256),
            (
                KeyPair::generate_for(&PKCS_ED25519).unwrap(),
                Algorithm::EdDSA,
            ),
            (rsa, Algorithm::RS256),
        ];
        let name = || dn(&[(DnType::CommonName, utf8("self"))]);
        let all = JwkSet {
            keys: cases.iter().map(|(k, alg)| jwk_of(k, *alg)).collect(),
        };
        for (i, (key, alg)) in cases.iter().enumerate() {
            let der = cert(key, name(), vec![]);
            assert!(certificate_key_registered(&all, &der), "{alg:?}");
            let others = JwkSet {
                keys: cases
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, (k, a))| jwk_of(k, *a))
                    .collect(),
            };
            assert!(!certificate_key_registered(&others, &der), "{alg:?}");
            // A JWK for encryption is not a key the client signs with.
            let mut enc = jwk_of(key, *alg);
            enc.use_ = Some("enc".into());
            let enc = JwkSet { keys: vec![enc] };
            assert!(!certificate_key_registered(&enc, &der), "{alg:?}");
        }
        // Another P-256 key of the same shape does not match.
        let other = cert(&ec_key(), name(), vec![]);
        assert!(!certificate_key_registered(&all, &other));
        assert!(!certificate_key_registered(&JwkSet::default(), &other));
    }

    #[test]
    fn rsa_components_lose_their_leading_zeros() {
        assert_eq!(
            PublicMaterial::rsa(&[0, 0, 1, 0], &[0, 1]),
            PublicMaterial::Rsa {
                n: vec![1, 0],
                e: vec![1]
            }
        );
    }

    fn auth(id: &str, credentials: PresentedCredentials) -> ClientAuthentication {
        ClientAuthentication {
            client_id: id.into(),
            credentials,
        }
    }

    #[test]
    fn each_method_takes_only_its_own_certificate() {
        let key = ec_key();
        let der = cert(
            &key,
            dn(&[(DnType::CommonName, utf8("app"))]),
            vec![SanType::DnsName(ia5("app.example"))],
        );
        let ca = ClientCertificate::new(der.clone(), CertificateChain::ClientCa);
        let unverified = ClientCertificate::new(der.clone(), CertificateChain::Unverified);
        assert_eq!(ca.der(), &der[..]);
        assert_eq!(unverified.chain(), CertificateChain::Unverified);
        let pki = client(ClientKind::TlsClientAuth {
            subject: CertificateSubject::SanDns("app.example".into()),
        });
        let self_signed = client(ClientKind::SelfSignedTlsClientAuth {
            keys: JwkSet {
                keys: vec![jwk_of(&key, Algorithm::ES256)],
            },
        });
        let both = ClientCertificateAuth::SelfSignedAndClientCa;
        let name_only = auth("app", PresentedCredentials::None);
        let check = |c: &Client, cert: Option<&ClientCertificate>, offered| {
            authenticate_client_certificate(&name_only, c, cert, offered)
        };
        assert_eq!(check(&pki, Some(&ca), both), Ok(()));
        assert_eq!(check(&self_signed, Some(&ca), both), Ok(()));
        assert_eq!(check(&self_signed, Some(&unverified), both), Ok(()));
        assert_eq!(
            check(
                &self_signed,
                Some(&unverified),
                ClientCertificateAuth::SelfSigned
            ),
            Ok(())
        );
        let refused = [
            // An unverified certificate never serves tls_client_auth.
            check(&pki, Some(&unverified), both),
            check(&pki, None, both),
            check(&self_signed, None, both),
            // Methods the provider does not offer.
            check(&pki, Some(&ca), ClientCertificateAuth::SelfSigned),
            check(&pki, Some(&ca), ClientCertificateAuth::Disabled),
            check(&self_signed, Some(&ca), ClientCertificateAuth::Disabled),
            // A client of another method.
            check(&client(ClientKind::Public), Some(&ca), both),
            // Another subject, another key.
            check(
                &client(ClientKind::TlsClientAuth {
                    subject: CertificateSubject::SanDns("other.example".into()),
                }),
                Some(&ca),
                both,
            ),
            check(
                &client(ClientKind::SelfSignedTlsClientAuth {
                    keys: JwkSet {
                        keys: vec![jwk_of(&ec_key(), Algorithm::ES256)],
                    },
                }),
                Some(&ca),
                both,
            ),
            // A secret, or another client's name, alongside the right certificate.
            authenticate_client_certificate(
                &auth("app", PresentedCredentials::Post { secret: "s".into() }),
                &pki,
                Some(&ca),
                both,
            ),
            authenticate_client_certificate(
                &auth("other", PresentedCredentials::None),
                &pki,
                Some(&ca),
                both,
            ),
        ];
        for (i, r) in refused.into_iter().enumerate() {
            let e = r.unwrap_err();
            assert_eq!(
                (e.code, e.code.status()),
                (TokenErrorCode::InvalidClient, 401),
                "{i}"
            );
        }
    }

    #[test]
    fn offered_methods() {
        use ClientAuthMethod as M;
        use ClientCertificateAuth as A;
        for m in [M::ClientSecretBasic, M::ClientSecretPost, M::None] {
            assert!(A::Disabled.offers(m) && A::SelfSigned.offers(m));
        }
        let offered = |a: A| [M::TlsClientAuth, M::SelfSignedTlsClientAuth].map(|m| a.offers(m));
        assert_eq!(offered(A::Disabled), [false, false]);
        assert_eq!(offered(A::SelfSigned), [false, true]);
        assert_eq!(offered(A::SelfSignedAndClientCa), [true, true]);
        assert_eq!(A::default(), A::Disabled);
    }

    #[test]
    fn registrations_are_checked_and_named() {
        let bad_dn = client(ClientKind::TlsClientAuth {
            subject: subject_dn("no equals sign"),
        });
        assert_eq!(
            bad_dn.validate(),
            Err(ClientError::InvalidSubjectDn("app".into()))
        );
        let no_keys = client(ClientKind::SelfSignedTlsClientAuth {
            keys: JwkSet::default(),
        });
        assert_eq!(
            no_keys.validate(),
            Err(ClientError::NoCertificateKeys("app".into()))
        );
        let good = [
            ClientKind::TlsClientAuth {
                subject: subject_dn("CN=app,O=Example"),
            },
            ClientKind::TlsClientAuth {
                subject: CertificateSubject::SanEmail("a@b".into()),
            },
            ClientKind::SelfSignedTlsClientAuth {
                keys: JwkSet {
                    keys: vec![jwk_of(&ec_key(), Algorithm::ES256)],
                },
            },
        ];
        for kind in good {
            let c = client(kind);
            assert_eq!(c.validate(), Ok(()));
            assert!(!c.is_public());
            // The store keeps it as JSON: the kind round-trips, with RFC 8705's names.
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<Client>(&json).unwrap(), c);
        }
        let json = serde_json::to_value(CertificateSubject::SanIp("192.0.2.1".parse().unwrap()));
        assert_eq!(
            json.unwrap(),
            serde_json::json!({"tls_client_auth_san_ip": "192.0.2.1"})
        );
        let names = [
            subject_dn(""),
            CertificateSubject::SanDns(String::new()),
            CertificateSubject::SanUri(String::new()),
            CertificateSubject::SanIp("::1".parse().unwrap()),
            CertificateSubject::SanEmail(String::new()),
        ];
        for s in names {
            let json = serde_json::to_value(&s).unwrap();
            assert!(json.get(s.metadata_name()).is_some(), "{json}");
        }
    }
}
