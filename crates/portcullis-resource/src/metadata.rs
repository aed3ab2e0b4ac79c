//! OAuth 2.0 Protected Resource Metadata (RFC 9728): the document that tells a client which
//! authorization servers issue tokens for this resource and how to present them, and where
//! it is published (§3.1).

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use serde::{Deserialize, Serialize};
use url::Url;

/// The well-known URI suffix of the document (RFC 9728 §3).
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-protected-resource";

/// A protected resource's metadata (RFC 9728 §2); members without a value are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProtectedResourceMetadata {
    /// `resource`: the resource identifier (§2), the URL the document describes.
    pub resource: String,
    /// `authorization_servers`: issuer identifiers of the authorization servers (RFC 8414).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_servers: Vec<String>,
    /// `jwks_uri`: the resource's own public keys (for signed responses), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// `scopes_supported`: scopes a client may request for this resource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// `bearer_methods_supported`: `header`, `body`, `query` (RFC 6750 §2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bearer_methods_supported: Vec<String>,
    /// `resource_name`: a human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// `resource_documentation`: a page for developers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_documentation: Option<String>,
    /// `tls_client_certificate_bound_access_tokens`: certificate-bound tokens (RFC 8705 §3).
    #[serde(default)]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// `dpop_signing_alg_values_supported`: the DPoP proof algorithms (RFC 9449 §7.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// `dpop_bound_access_tokens_required`: only DPoP-bound tokens are accepted.
    #[serde(default)]
    pub dpop_bound_access_tokens_required: bool,
}

impl ProtectedResourceMetadata {
    /// The document as JSON: 200, `Content-Type: application/json` (RFC 9728 §3.2),
    /// cacheable for an hour (it changes only with the configuration).
    pub fn to_response(&self) -> Response<Bytes> {
        let body = serde_json::to_vec(self).unwrap_or_default();
        let mut response = Response::new(Bytes::from(body));
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
        response
    }
}

/// Where a resource's metadata is published (RFC 9728 §3.1): the well-known suffix between
/// the host and the resource's path, a terminating `/` of the path dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MetadataLocation {
    /// The document's URL: `resource_metadata` in challenges (§5.1).
    pub(crate) url: String,
    /// The paths served: the §3.1 path, and the bare well-known path when it differs.
    pub(crate) paths: Vec<String>,
}

impl MetadataLocation {
    /// The location for the resource `url`.
    pub(crate) fn of(resource: &Url) -> Self {
        let suffix = resource.path().trim_end_matches('/');
        let path = format!("{WELL_KNOWN_PATH}{suffix}");
        let mut paths = vec![path.clone()];
        if !suffix.is_empty() {
            paths.push(WELL_KNOWN_PATH.to_owned());
        }
        Self {
            url: format!("{}{path}", resource.origin().ascii_serialization()),
            paths,
        }
    }

    /// Whether `path` is one the document is served at.
    pub(crate) fn serves(&self, path: &str) -> bool {
        self.paths.iter().any(|p| p == path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(resource: &str) -> MetadataLocation {
        MetadataLocation::of(&Url::parse(resource).unwrap())
    }

    #[test]
    fn the_well_known_suffix_goes_between_host_and_path() {
        let l = location("https://api.example");
        assert_eq!(
            l.url,
            "https://api.example/.well-known/oauth-protected-resource"
        );
        assert_eq!(l.paths, [WELL_KNOWN_PATH]);
        let l = location("https://api.example:8443/v1/mcp/");
        assert_eq!(
            l.url,
            "https://api.example:8443/.well-known/oauth-protected-resource/v1/mcp"
        );
        assert!(l.serves("/.well-known/oauth-protected-resource/v1/mcp"));
        assert!(l.serves(WELL_KNOWN_PATH));
        assert!(!l.serves("/v1/mcp"));
    }

    #[test]
    fn the_document_leaves_out_what_is_not_set() {
        let m = ProtectedResourceMetadata {
            resource: "https://api.example".into(),
            ..Default::default()
        };
        let response = m.to_response();
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        let json: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "resource": "https://api.example",
                "tls_client_certificate_bound_access_tokens": false,
                "dpop_bound_access_tokens_required": false,
            })
        );
    }
}
