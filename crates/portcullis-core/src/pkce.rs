//! Proof Key for Code Exchange (RFC 7636).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ring::digest::{digest, SHA256};
use serde::{Deserialize, Serialize};

use crate::secret::constant_time_eq;

/// How the challenge was derived from the verifier (RFC 7636 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CodeChallengeMethod {
    /// `BASE64URL(SHA256(verifier))`: the only method accepted by default.
    S256,
    /// The verifier itself. Offers no protection against a leaked authorization request;
    /// accepted only when the host opts in (`dangerous_allow_plain_pkce`).
    Plain,
}

impl CodeChallengeMethod {
    /// Both methods, the preferred first.
    pub const ALL: [Self; 2] = [Self::S256, Self::Plain];

    /// The `code_challenge_method` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S256 => "S256",
            Self::Plain => "plain",
        }
    }

    /// Parses `code_challenge_method`; absent means `plain` (RFC 7636 §4.3).
    pub fn parse(value: Option<&str>) -> Option<Self> {
        match value {
            Some("S256") => Some(Self::S256),
            Some("plain") | None => Some(Self::Plain),
            Some(_) => None,
        }
    }
}

/// A code challenge, as bound to an authorization code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeChallenge {
    method: CodeChallengeMethod,
    value: String,
}

impl CodeChallenge {
    /// A challenge whose value has the verifier's syntax (43–128 unreserved characters,
    /// RFC 7636 §4.2); an S256 challenge is exactly 43 base64url characters.
    pub fn new(method: CodeChallengeMethod, value: &str) -> Option<Self> {
        let ok = match method {
            CodeChallengeMethod::S256 => {
                value.len() == 43
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }
            CodeChallengeMethod::Plain => is_verifier_syntax(value),
        };
        ok.then(|| Self {
            method,
            value: value.to_owned(),
        })
    }

    /// The method.
    pub fn method(&self) -> CodeChallengeMethod {
        self.method
    }

    /// Whether `verifier` answers this challenge (RFC 7636 §4.6), compared in constant time.
    /// A verifier outside the syntax of §4.1 never does.
    pub fn verify(&self, verifier: &str) -> bool {
        if !is_verifier_syntax(verifier) {
            return false;
        }
        match self.method {
            CodeChallengeMethod::S256 => {
                let derived = URL_SAFE_NO_PAD.encode(digest(&SHA256, verifier.as_bytes()));
                constant_time_eq(derived.as_bytes(), self.value.as_bytes())
            }
            CodeChallengeMethod::Plain => {
                constant_time_eq(verifier.as_bytes(), self.value.as_bytes())
            }
        }
    }
}

/// `code-verifier = 43*128unreserved` (RFC 7636 §4.1).
fn is_verifier_syntax(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc7636_appendix_b() {
        let c = CodeChallenge::new(CodeChallengeMethod::S256, CHALLENGE).unwrap();
        assert!(c.verify(VERIFIER));
        assert!(!c.verify(&VERIFIER.replace('d', "e")));
    }

    #[test]
    fn verifier_syntax() {
        let c = CodeChallenge::new(CodeChallengeMethod::Plain, &"a".repeat(43)).unwrap();
        assert!(c.verify(&"a".repeat(43)));
        assert!(CodeChallenge::new(CodeChallengeMethod::Plain, &"a".repeat(42)).is_none());
        assert!(CodeChallenge::new(CodeChallengeMethod::Plain, &"a".repeat(129)).is_none());
        assert!(CodeChallenge::new(CodeChallengeMethod::S256, "short").is_none());
        assert!(CodeChallenge::new(CodeChallengeMethod::Plain, &"a+".repeat(30)).is_none());
    }

    #[test]
    fn methods_parse_from_their_names() {
        for m in CodeChallengeMethod::ALL {
            assert_eq!(CodeChallengeMethod::parse(Some(m.as_str())), Some(m));
        }
    }

    #[test]
    fn plain_only_when_the_policy_allows_it() {
        let mut policy = crate::Policy::default();
        assert!(policy.allows_challenge_method(CodeChallengeMethod::S256));
        assert!(!policy.allows_challenge_method(CodeChallengeMethod::Plain));
        policy.dangerous_allow_plain_pkce = true;
        assert!(policy.allows_challenge_method(CodeChallengeMethod::S256));
        assert!(policy.allows_challenge_method(CodeChallengeMethod::Plain));
    }

    #[test]
    fn method_parsing() {
        assert_eq!(
            CodeChallengeMethod::parse(None),
            Some(CodeChallengeMethod::Plain)
        );
        assert_eq!(
            CodeChallengeMethod::parse(Some("S256")),
            Some(CodeChallengeMethod::S256)
        );
        assert_eq!(CodeChallengeMethod::parse(Some("s256")), None);
    }

    proptest! {
        /// Only the matching verifier is accepted.
        #[test]
        fn only_the_matching_verifier(v in "[A-Za-z0-9._~-]{43,128}", w in "[A-Za-z0-9._~-]{43,128}") {
            let challenge = URL_SAFE_NO_PAD.encode(digest(&SHA256, v.as_bytes()));
            let c = CodeChallenge::new(CodeChallengeMethod::S256, &challenge).unwrap();
            prop_assert!(c.verify(&v));
            prop_assert_eq!(c.verify(&w), v == w);
        }
    }
}
