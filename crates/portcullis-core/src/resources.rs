//! Resource indicators (RFC 8707): which protected resources a token is for.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::params::Params;
use crate::scope::ScopeSet;

/// How an access token is issued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenFormat {
    /// By reference: an opaque string resolved by introspection.
    #[default]
    Opaque,
    /// By value: a signed JWT (RFC 9068).
    Jwt,
}

/// A protected resource (API) registered with the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// Its resource indicator: an absolute URI without fragment (RFC 8707 §2), which becomes
    /// the token's `aud`.
    pub uri: String,
    /// The scopes that mean something to it; a token for it carries only these.
    pub scopes: ScopeSet,
    /// The format of access tokens for it.
    #[serde(default)]
    pub token_format: TokenFormat,
    /// The clients that may ask for it; `None`: every client.
    #[serde(default)]
    pub clients: Option<BTreeSet<String>>,
}

/// Why the `resource` parameters were refused (`invalid_target`, RFC 8707 §2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceError {
    /// Not an absolute URI, or has a fragment.
    #[error("resource must be an absolute URI without a fragment")]
    Malformed,
    /// Not registered, or not for this client.
    #[error("resource is unknown or not allowed for this client")]
    NotAllowed,
    /// Not among the resources originally granted.
    #[error("resource was not granted")]
    NotGranted,
}

/// The `resource` values of a request, each checked against the registry for `client_id`.
pub fn requested_resources(
    params: &Params,
    registry: &[Resource],
    client_id: &str,
) -> Result<Vec<String>, ResourceError> {
    let mut out: Vec<String> = Vec::new();
    for uri in params.all("resource") {
        let parsed = Url::parse(uri).map_err(|_| ResourceError::Malformed)?;
        if parsed.fragment().is_some() || uri.contains('#') {
            return Err(ResourceError::Malformed);
        }
        let allowed = registry
            .iter()
            .any(|r| r.uri == uri && r.clients.as_ref().is_none_or(|c| c.contains(client_id)));
        if !allowed {
            return Err(ResourceError::NotAllowed);
        }
        if !out.iter().any(|o| o == uri) {
            out.push(uri.to_owned());
        }
    }
    Ok(out)
}

/// At the token endpoint a client may narrow to some of the granted resources (RFC 8707
/// §2.2); asking for none keeps them all.
pub fn narrow_resources(
    requested: Vec<String>,
    granted: &[String],
) -> Result<Vec<String>, ResourceError> {
    if requested.is_empty() {
        return Ok(granted.to_vec());
    }
    if requested.iter().all(|r| granted.contains(r)) {
        Ok(requested)
    } else {
        Err(ResourceError::NotGranted)
    }
}

/// The scopes a token for `audience` may carry: those of `scopes` that some resource of the
/// audience understands. Without an audience, all of them.
pub fn scopes_for_audience(
    scopes: &ScopeSet,
    audience: &[String],
    registry: &[Resource],
) -> ScopeSet {
    if audience.is_empty() {
        return scopes.clone();
    }
    let mut understood = ScopeSet::new();
    for r in registry.iter().filter(|r| audience.contains(&r.uri)) {
        understood = understood.union(&r.scopes);
    }
    // `openid` is the provider's own (UserInfo), whatever the audience.
    if scopes.contains("openid") {
        understood = understood.union(&ScopeSet::parse("openid").unwrap_or_default());
    }
    scopes.intersection(&understood)
}

/// The token format for `audience`: JWT when every resource in it asks for JWTs.
pub fn format_for_audience(audience: &[String], registry: &[Resource]) -> TokenFormat {
    let formats: Vec<TokenFormat> = registry
        .iter()
        .filter(|r| audience.contains(&r.uri))
        .map(|r| r.token_format)
        .collect();
    if !formats.is_empty() && formats.iter().all(|f| *f == TokenFormat::Jwt) {
        TokenFormat::Jwt
    } else {
        TokenFormat::Opaque
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Vec<Resource> {
        vec![
            Resource {
                uri: "https://api.example/".into(),
                scopes: ScopeSet::parse("read write").unwrap(),
                token_format: TokenFormat::Jwt,
                clients: None,
            },
            Resource {
                uri: "https://admin.example/".into(),
                scopes: ScopeSet::parse("admin").unwrap(),
                token_format: TokenFormat::Opaque,
                clients: Some(BTreeSet::from(["ops".to_owned()])),
            },
        ]
    }

    fn req(q: &str, client: &str) -> Result<Vec<String>, ResourceError> {
        requested_resources(&Params::parse(q.as_bytes()).unwrap(), &registry(), client)
    }

    #[test]
    fn only_registered_resources_for_allowed_clients() {
        assert_eq!(
            req("resource=https%3A%2F%2Fapi.example%2F", "web").unwrap(),
            vec!["https://api.example/"]
        );
        assert_eq!(
            req("resource=https%3A%2F%2Fadmin.example%2F", "web"),
            Err(ResourceError::NotAllowed)
        );
        assert!(req("resource=https%3A%2F%2Fadmin.example%2F", "ops").is_ok());
        assert_eq!(
            req("resource=https%3A%2F%2Fother.example%2F", "web"),
            Err(ResourceError::NotAllowed)
        );
        assert_eq!(
            req("resource=%2Frelative", "web"),
            Err(ResourceError::Malformed)
        );
        assert_eq!(
            req("resource=https%3A%2F%2Fapi.example%2F%23f", "web"),
            Err(ResourceError::Malformed)
        );
        assert!(req("", "web").unwrap().is_empty());
    }

    #[test]
    fn narrowing_scopes_and_format() {
        let granted = vec![
            "https://api.example/".to_owned(),
            "https://admin.example/".to_owned(),
        ];
        assert_eq!(narrow_resources(vec![], &granted).unwrap(), granted);
        assert_eq!(
            narrow_resources(vec![granted[1].clone()], &granted).unwrap(),
            vec![granted[1].clone()]
        );
        assert_eq!(
            narrow_resources(vec!["https://x/".into()], &granted),
            Err(ResourceError::NotGranted)
        );
        let scopes = ScopeSet::parse("openid read admin").unwrap();
        assert_eq!(
            scopes_for_audience(&scopes, &granted[..1], &registry()).to_string(),
            "openid read"
        );
        assert_eq!(
            format_for_audience(&granted[..1], &registry()),
            TokenFormat::Jwt
        );
        assert_eq!(
            format_for_audience(&granted, &registry()),
            TokenFormat::Opaque
        );
        assert_eq!(format_for_audience(&[], &registry()), TokenFormat::Opaque);
    }
}
