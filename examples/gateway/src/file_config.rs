//! The binary's configuration file (TOML).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use http::Uri;
use portcullis_core::Issuer;
use portcullis_resource::ClientCredentials;
use serde::Deserialize;

use crate::GatewayConfig;

/// The configuration file. Unknown keys are refused.
///
/// ```toml
/// listen = "127.0.0.1:8081"
/// resource = "http://127.0.0.1:8081"          # the URL clients call
/// upstream = "http://127.0.0.1:8082"          # the API
/// upstream_resource = "http://127.0.0.1:8082" # the internal tokens' aud
/// # internal_issuer = "http://127.0.0.1:8081" # their iss (default: resource)
/// # internal_lifetime_seconds = 60
/// # max_body_bytes = 1048576
/// # dpop = true
///
/// [authorization_server]
/// issuer = "http://127.0.0.1:8080"
/// introspection_endpoint = "http://127.0.0.1:8080/introspect"
/// client_id = "http://127.0.0.1:8081"         # the gateway, a confidential client
/// client_secret = "gateway-secret"
/// # cache_max_age_seconds = 60                # the revocation delay
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The address to listen on.
    pub listen: SocketAddr,
    resource: String,
    upstream: String,
    upstream_resource: String,
    internal_issuer: Option<String>,
    internal_lifetime_seconds: Option<u64>,
    max_body_bytes: Option<usize>,
    dpop: Option<bool>,
    authorization_server: FileAuthorizationServer,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAuthorizationServer {
    issuer: String,
    introspection_endpoint: String,
    client_id: String,
    client_secret: String,
    cache_max_age_seconds: Option<u64>,
}

impl std::fmt::Debug for FileAuthorizationServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileAuthorizationServer")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileConfigError {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Read(#[from] std::io::Error),
    /// The file is not valid TOML for this schema.
    #[error("{0}")]
    Syntax(#[from] toml::de::Error),
    /// A URL is invalid.
    #[error("`{0}` is not a valid URL")]
    Url(&'static str),
}

impl FileConfig {
    /// Reads `path`.
    pub fn load(path: &Path) -> Result<Self, FileConfigError> {
        Self::parse(&std::fs::read_to_string(path)?)
    }

    /// Parses configuration text.
    pub fn parse(text: &str) -> Result<Self, FileConfigError> {
        Ok(toml::from_str(text)?)
    }

    /// The gateway's configuration.
    pub fn gateway(self) -> Result<GatewayConfig, FileConfigError> {
        let a = self.authorization_server;
        let issuer = Issuer::parse(&a.issuer).map_err(|_| FileConfigError::Url("issuer"))?;
        let endpoint: Uri = a
            .introspection_endpoint
            .parse()
            .map_err(|_| FileConfigError::Url("introspection_endpoint"))?;
        let upstream: Uri = self
            .upstream
            .parse()
            .map_err(|_| FileConfigError::Url("upstream"))?;
        let credentials = ClientCredentials::SecretBasic {
            client_id: a.client_id,
            secret: a.client_secret,
        };
        let mut c = GatewayConfig::new(
            self.resource,
            issuer,
            endpoint,
            credentials,
            upstream,
            self.upstream_resource,
        );
        if let Some(iss) = self.internal_issuer {
            c.internal_issuer = iss;
        }
        if let Some(secs) = self.internal_lifetime_seconds {
            c.internal_lifetime = Duration::from_secs(secs);
        }
        if let Some(secs) = a.cache_max_age_seconds {
            c.introspection.cache_max_age = Duration::from_secs(secs);
        }
        c.max_body_bytes = self.max_body_bytes.unwrap_or(c.max_body_bytes);
        c.dpop = self.dpop.unwrap_or(c.dpop);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
listen = "127.0.0.1:8081"
resource = "http://127.0.0.1:8081"
upstream = "http://127.0.0.1:8082"
upstream_resource = "http://127.0.0.1:8082"
internal_lifetime_seconds = 30
[authorization_server]
issuer = "http://127.0.0.1:8080"
introspection_endpoint = "http://127.0.0.1:8080/introspect"
client_id = "http://127.0.0.1:8081"
client_secret = "gateway-secret"
cache_max_age_seconds = 10
"#;

    #[test]
    fn reads_the_file_and_keeps_the_secret_out_of_debug() {
        let file = FileConfig::parse(EXAMPLE).unwrap();
        assert!(!format!("{file:?}").contains("gateway-secret"));
        let c = file.gateway().unwrap();
        assert_eq!(c.internal_lifetime, Duration::from_secs(30));
        assert_eq!(c.introspection.cache_max_age, Duration::from_secs(10));
        assert_eq!(c.internal_issuer, "http://127.0.0.1:8081");
        assert!(!format!("{c:?}").contains("gateway-secret"));
    }

    #[test]
    fn unknown_keys_and_bad_urls_are_refused() {
        let unknown = format!("{EXAMPLE}\nextra = 1");
        assert!(matches!(
            FileConfig::parse(&unknown),
            Err(FileConfigError::Syntax(_))
        ));
        let bad = EXAMPLE.replace("\"http://127.0.0.1:8080\"", "\"not a url\"");
        let refused = FileConfig::parse(&bad).unwrap().gateway();
        assert!(matches!(refused, Err(FileConfigError::Url("issuer"))));
    }
}
