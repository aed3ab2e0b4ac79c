//! The issuer identifier (RFC 8414 §2, RFC 9207).

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

/// Why an issuer identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssuerError {
    /// Not an absolute URL.
    #[error("issuer must be an absolute URL")]
    NotUrl,
    /// Not `https` (plain `http` is accepted only for loopback hosts, for development).
    #[error("issuer must use https (http only for localhost)")]
    NotHttps,
    /// Has a query or fragment (RFC 8414 §2).
    #[error("issuer must not have a query or fragment")]
    QueryOrFragment,
}

/// The issuer: an `https` URL with no query or fragment that names one provider. Every
/// endpoint URL derives from it, never from request headers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Issuer(String);

impl Issuer {
    /// Validates an issuer identifier.
    pub fn parse(value: &str) -> Result<Self, IssuerError> {
        let url = Url::parse(value).map_err(|_| IssuerError::NotUrl)?;
        if url.query().is_some() || url.fragment().is_some() || value.contains(['?', '#']) {
            return Err(IssuerError::QueryOrFragment);
        }
        let loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(IssuerError::NotHttps),
        }
        Ok(Self(value.to_owned()))
    }

    /// The identifier exactly as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL of an endpoint at `path` (which starts with `/`) below the issuer.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.0.trim_end_matches('/'), path)
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Issuer {
    type Error = IssuerError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Issuer::parse(&value)
    }
}

impl From<Issuer> for String {
    fn from(value: Issuer) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_rules() {
        assert!(Issuer::parse("https://as.example").is_ok());
        assert!(Issuer::parse("https://as.example/tenant-a").is_ok());
        assert!(Issuer::parse("http://127.0.0.1:8080").is_ok());
        assert_eq!(
            Issuer::parse("http://as.example"),
            Err(IssuerError::NotHttps)
        );
        assert_eq!(
            Issuer::parse("https://as.example/?a=b"),
            Err(IssuerError::QueryOrFragment)
        );
        assert_eq!(Issuer::parse("as.example"), Err(IssuerError::NotUrl));
        assert_eq!(
            Issuer::parse("https://as.example/t/")
                .unwrap()
                .endpoint("/token"),
            "https://as.example/t/token"
        );
    }
}
