//! Mutual-TLS client certificates (RFC 8705 §2, §3; RFC 8705 §7.5): the DER a client sends in
//! the handshake, which in self-signed mode anyone controls, matched against registered
//! subjects (`CertificateSubject::matches`: RFC 4514 subject DNs and SANs), against registered
//! keys (`certificate_key_registered`), and thumbprinted for certificate-bound tokens.
//!
//! Input: a registered subject DN (RFC 4514, also tried as each kind of SAN) up to the first
//! newline, then the certificate's DER.
#![no_main]

use std::net::IpAddr;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portcullis_core::{
    certificate_key_registered, certificate_thumbprint, CertificateSubject, JwkSet,
};

/// A registered P-256 key (RFC 7517 Appendix A.1's).
fn keys() -> &'static JwkSet {
    static K: OnceLock<JwkSet> = OnceLock::new();
    K.get_or_init(|| {
        JwkSet::parse(
            br#"{"keys":[{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","use":"sig"}]}"#,
        )
        .unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(newline) = data.iter().position(|b| *b == b'\n') else {
        return;
    };
    let (subject, der) = (&data[..newline], &data[newline + 1..]);
    let Ok(subject) = std::str::from_utf8(subject) else {
        return;
    };
    let mut registered = vec![
        CertificateSubject::SubjectDn(subject.to_owned()),
        CertificateSubject::SanDns(subject.to_owned()),
        CertificateSubject::SanUri(subject.to_owned()),
        CertificateSubject::SanEmail(subject.to_owned()),
    ];
    if let Ok(ip) = subject.parse::<IpAddr>() {
        registered.push(CertificateSubject::SanIp(ip));
    }
    for s in &registered {
        let _ = s.matches(der);
    }
    let _ = certificate_key_registered(keys(), der);
    assert_eq!(certificate_thumbprint(der).len(), 43);
});
