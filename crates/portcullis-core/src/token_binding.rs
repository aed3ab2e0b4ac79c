//! Holder-of-key tokens: what a token is bound to (RFC 7800 `cnf`) and the token endpoint's
//! binding rules for DPoP (RFC 9449 §5, §10) and certificate-bound tokens (RFC 8705 §3, §4).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::digest::{digest, SHA256};
use serde::{Deserialize, Serialize};

use crate::client::{Client, ClientKind};
use crate::error::{OAuthError, TokenErrorCode};
use crate::secret::constant_time_eq;

type TokenError = OAuthError<TokenErrorCode>;

/// What a token's holder must prove besides holding it: the confirmation claim `cnf`
/// (RFC 7800 §3.1). Empty for a bearer token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// The RFC 7638 SHA-256 thumbprint of the DPoP key (RFC 9449 §6.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
    /// The SHA-256 thumbprint of the client's TLS certificate (RFC 8705 §3.1).
    #[serde(rename = "x5t#S256", default, skip_serializing_if = "Option::is_none")]
    pub x5t_s256: Option<String>,
}

impl Confirmation {
    /// Binds nothing: a bearer token.
    pub fn is_empty(&self) -> bool {
        self.jkt.is_none() && self.x5t_s256.is_none()
    }

    /// The `cnf` to record: `None` when it binds nothing.
    pub fn as_cnf(&self) -> Option<&Self> {
        (!self.is_empty()).then_some(self)
    }

    /// Whether `presented` proves this binding: the DPoP key and the TLS certificate it
    /// names, each compared in constant time. An empty confirmation is proven by anyone.
    pub fn is_proven_by(&self, presented: &HolderProof<'_>) -> bool {
        same(self.jkt.as_deref(), presented.dpop_jkt)
            && same(self.x5t_s256.as_deref(), presented.certificate_thumbprint)
    }
}

/// Whether a bound value is proven: nothing bound, or the presented value equals it.
fn same(bound: Option<&str>, presented: Option<&str>) -> bool {
    match (bound, presented) {
        (None, _) => true,
        (Some(b), Some(p)) => constant_time_eq(b.as_bytes(), p.as_bytes()),
        (Some(_), None) => false,
    }
}

/// The SHA-256 thumbprint of a DER certificate, base64url: `x5t#S256` (RFC 8705 §3.1).
pub fn certificate_thumbprint(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, der))
}

/// What a request proves about its sender: the key of its verified DPoP proof and the
/// certificate of its mutual-TLS connection, each as its thumbprint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HolderProof<'a> {
    /// The `jkt` of a verified DPoP proof ([`crate::VerifiedDpopProof::jkt`]).
    pub dpop_jkt: Option<&'a str>,
    /// The [`certificate_thumbprint`] of the TLS client certificate.
    pub certificate_thumbprint: Option<&'a str>,
}

/// What the tokens of one token response are bound to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenBinding {
    /// The access token's confirmation.
    pub access: Confirmation,
    /// The refresh token's: a public client's refresh token is bound like its access
    /// token (RFC 9449 §5, RFC 8705 §4); a confidential client's is bound by its client
    /// authentication already, and stays unbound.
    pub refresh: Confirmation,
}

/// The `token_type` of an access token bound by `confirmation`: `DPoP` for a DPoP-bound
/// one (RFC 9449 §5, §6.2), else `Bearer` (a certificate-bound token is a Bearer token,
/// RFC 8705 §3).
pub fn token_type(confirmation: Option<&Confirmation>) -> &'static str {
    if confirmation.is_some_and(|c| c.jkt.is_some()) {
        "DPoP"
    } else {
        "Bearer"
    }
}

/// Decides what the tokens of a token request are bound to, and refuses a request that
/// cannot be served:
/// * a client registered with `dpop_bound_access_tokens` must send a DPoP proof (RFC 9449
///   §5.2), else `invalid_dpop_proof`;
/// * a client registered with `tls_client_certificate_bound_access_tokens` must connect with
///   a client certificate (RFC 8705 §3), else `invalid_request`;
/// * a grant bound ahead — an authorization code with `dpop_jkt` (RFC 9449 §10), a bound
///   refresh token (§5, RFC 8705 §4) — must be redeemed with the same key and certificate:
///   without a proof `invalid_dpop_proof`, with another key or certificate `invalid_grant`.
///
/// * a FAPI 2.0 client gets sender-constrained access tokens only (FAPI 2.0 §5.3.2.1): a
///   request with neither a DPoP proof nor a client certificate is `invalid_request`.
///
/// With a proof the access token is bound to its key; with a certificate, to the
/// certificate when the client asked for certificate-bound tokens, or is a FAPI 2.0 client
/// that sent no proof.
pub fn decide_token_binding(
    client: &Client,
    presented: &HolderProof<'_>,
    bound_ahead: Option<&Confirmation>,
) -> Result<TokenBinding, TokenError> {
    let fapi2 = client.profile.is_fapi2();
    if fapi2 && presented.dpop_jkt.is_none() && presented.certificate_thumbprint.is_none() {
        return Err(OAuthError::new(
            TokenErrorCode::InvalidRequest,
            "FAPI 2.0: access tokens are sender-constrained: send a DPoP proof or use mutual TLS",
        ));
    }
    let wants = &client.tokens;
    let dpop_needed =
        wants.dpop_bound_access_tokens || bound_ahead.is_some_and(|b| b.jkt.is_some());
    if dpop_needed && presented.dpop_jkt.is_none() {
        return Err(OAuthError::new(
            TokenErrorCode::InvalidDpopProof,
            "a DPoP proof is required",
        ));
    }
    let certificate = presented.certificate_thumbprint.filter(|_| {
        wants.tls_client_certificate_bound_access_tokens || (fapi2 && presented.dpop_jkt.is_none())
    });
    if wants.tls_client_certificate_bound_access_tokens && certificate.is_none() {
        return Err(OAuthError::new(
            TokenErrorCode::InvalidRequest,
            "this client's tokens are bound to its TLS client certificate: use mutual TLS",
        ));
    }
    if let Some(bound) = bound_ahead {
        if !bound.is_proven_by(presented) {
            return Err(OAuthError::new(
                TokenErrorCode::InvalidGrant,
                "the grant is bound to another key or certificate",
            ));
        }
    }
    let access = Confirmation {
        jkt: presented.dpop_jkt.map(str::to_owned),
        x5t_s256: certificate.map(str::to_owned),
    };
    let refresh = if matches!(client.kind, ClientKind::Public) {
        access.clone()
    } else {
        Confirmation::default()
    };
    Ok(TokenBinding { access, refresh })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::test_support::confidential_client;

    const KEY: HolderProof<'static> = HolderProof {
        dpop_jkt: Some("jkt-1"),
        certificate_thumbprint: None,
    };

    fn public() -> Client {
        Client::new("app", ClientKind::Public)
    }

    fn code(e: Result<TokenBinding, TokenError>) -> TokenErrorCode {
        e.unwrap_err().code
    }

    #[test]
    fn only_a_confirmation_binding_something_is_a_cnf() {
        let empty = Confirmation::default();
        assert!(empty.is_empty());
        assert_eq!(empty.as_cnf(), None);
        let jkt = Confirmation {
            jkt: Some("jkt-1".into()),
            x5t_s256: None,
        };
        let x5t = Confirmation {
            jkt: None,
            x5t_s256: Some("x5t-1".into()),
        };
        let both = Confirmation {
            x5t_s256: x5t.x5t_s256.clone(),
            ..jkt.clone()
        };
        for c in [jkt, x5t, both] {
            assert!(!c.is_empty(), "{c:?}");
            assert_eq!(c.as_cnf(), Some(&c));
        }
    }

    #[test]
    fn a_proof_binds_the_access_token_and_a_public_clients_refresh_token() {
        let b = decide_token_binding(&public(), &KEY, None).unwrap();
        assert_eq!(b.access.jkt.as_deref(), Some("jkt-1"));
        assert_eq!(b.refresh, b.access);
        assert_eq!(token_type(Some(&b.access)), "DPoP");
        let b = decide_token_binding(&confidential_client(), &KEY, None).unwrap();
        assert_eq!(b.access.jkt.as_deref(), Some("jkt-1"));
        assert!(b.refresh.is_empty());
        let b = decide_token_binding(&public(), &HolderProof::default(), None).unwrap();
        assert_eq!(b, TokenBinding::default());
        assert_eq!(token_type(Some(&b.access)), "Bearer");
    }

    #[test]
    fn a_client_that_wants_dpop_must_send_a_proof() {
        let mut c = public();
        c.tokens.dpop_bound_access_tokens = true;
        assert_eq!(
            code(decide_token_binding(&c, &HolderProof::default(), None)),
            TokenErrorCode::InvalidDpopProof
        );
        assert!(decide_token_binding(&c, &KEY, None).is_ok());
    }

    #[test]
    fn a_certificate_binds_only_for_a_client_that_asked() {
        let cert = HolderProof {
            dpop_jkt: None,
            certificate_thumbprint: Some("x5t"),
        };
        let b = decide_token_binding(&confidential_client(), &cert, None).unwrap();
        assert!(b.access.is_empty());
        let mut c = confidential_client();
        c.tokens.tls_client_certificate_bound_access_tokens = true;
        let b = decide_token_binding(&c, &cert, None).unwrap();
        assert_eq!(b.access.x5t_s256.as_deref(), Some("x5t"));
        assert_eq!(token_type(Some(&b.access)), "Bearer");
        assert_eq!(
            code(decide_token_binding(&c, &KEY, None)),
            TokenErrorCode::InvalidRequest
        );
    }

    #[test]
    fn a_grant_bound_ahead_needs_the_same_key_and_certificate() {
        let to_key = Confirmation {
            jkt: Some("jkt-1".into()),
            x5t_s256: None,
        };
        assert!(decide_token_binding(&public(), &KEY, Some(&to_key)).is_ok());
        assert_eq!(
            code(decide_token_binding(
                &public(),
                &HolderProof::default(),
                Some(&to_key)
            )),
            TokenErrorCode::InvalidDpopProof
        );
        let other = HolderProof {
            dpop_jkt: Some("jkt-2"),
            certificate_thumbprint: None,
        };
        assert_eq!(
            code(decide_token_binding(&public(), &other, Some(&to_key))),
            TokenErrorCode::InvalidGrant
        );
        let to_cert = Confirmation {
            jkt: None,
            x5t_s256: Some("x5t".into()),
        };
        assert_eq!(
            code(decide_token_binding(&public(), &KEY, Some(&to_cert))),
            TokenErrorCode::InvalidGrant
        );
        let cert = HolderProof {
            dpop_jkt: None,
            certificate_thumbprint: Some("x5t"),
        };
        assert!(decide_token_binding(&public(), &cert, Some(&to_cert)).is_ok());
        assert!(decide_token_binding(&public(), &KEY, Some(&Confirmation::default())).is_ok());
    }

    /// RFC 9449 §10: a code's `dpop_jkt` is what its redemption must prove.
    #[test]
    fn a_codes_dpop_jkt_binds_its_redemption() {
        let mut record = crate::token::test_support::code_record();
        assert_eq!(record.confirmation(), None);
        record.dpop_jkt = Some("jkt-1".into());
        let bound = record.confirmation();
        assert!(decide_token_binding(&public(), &KEY, bound.as_ref()).is_ok());
        let other = HolderProof {
            dpop_jkt: Some("jkt-2"),
            certificate_thumbprint: None,
        };
        assert_eq!(
            code(decide_token_binding(&public(), &other, bound.as_ref())),
            TokenErrorCode::InvalidGrant
        );
    }

    #[test]
    fn confirmation_serialises_as_cnf() {
        let c = Confirmation {
            jkt: Some("a".into()),
            x5t_s256: Some("b".into()),
        };
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::json!({"jkt": "a", "x5t#S256": "b"})
        );
        assert_eq!(
            serde_json::to_value(Confirmation::default()).unwrap(),
            serde_json::json!({})
        );
        assert_eq!(
            certificate_thumbprint(b"der"),
            URL_SAFE_NO_PAD.encode(digest(&SHA256, b"der"))
        );
    }
}
