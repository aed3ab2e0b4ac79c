//! Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document, the MCP
//! authorization specification's way for clients to identify themselves): the `client_id`
//! is an `https` URL, and the JSON document served there is the client's metadata. The
//! decisions live here: which `client_id`s are such URLs, whether a fetched document
//! describes a client (validated like a registration, RFC 7591 §2), and how long it is
//! trusted. The engine fetches.

use std::net::IpAddr;
use std::time::Duration;

use crate::client::{Client, GrantType};
use crate::client_auth::ClientAuthMethod;
use crate::public_address::is_public_address;
use crate::registration::{
    limits::MAX_URI_LEN, metadata_error, RegistrationError, RegistrationRequest, RegistrationRules,
};

/// The largest document read (the draft's Security Considerations suggest a limit of
/// 5 kilobytes).
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// The shortest time a fetched document is trusted, whatever its `Cache-Control` says:
/// each `client_id` URL is fetched at most once a minute.
pub const MIN_DOCUMENT_AGE: Duration = Duration::from_secs(60);
/// The longest time a fetched document is trusted before it is fetched again.
pub const MAX_DOCUMENT_AGE: Duration = Duration::from_secs(24 * 3600);
/// How long a document served without caching information is trusted.
pub const DEFAULT_DOCUMENT_AGE: Duration = Duration::from_secs(600);

/// Whether `client_id` is a client identifier URL (the draft's §3, "Client Identifier"):
/// `https`, with a path component (other than `/`), no single-dot or double-dot path
/// segments, no fragment, no username or password; a query and a port are allowed.
/// Beyond the draft, the URL must be in its canonical form (as the WHATWG URL parser
/// serializes it: a lowercase host, no default port, dot segments resolved — which is how
/// they are refused here): the string compared with the document's `client_id` is then
/// the one fetched. At most 2,000 bytes, as a registered URI. Also refused, so that a
/// path cannot leave a prefix the host allows on a server that decodes or normalises it:
/// encoded `/`, `\` and `.` (`%2F`, `%5C`, `%2E`) and `;` in the path; and a host that is
/// an IP address other than a public one ([`is_public_address`]).
pub fn is_client_id_url(client_id: &str) -> bool {
    if client_id.len() > MAX_URI_LEN {
        return false;
    }
    let Ok(url) = url::Url::parse(client_id) else {
        return false;
    };
    let path = url.path().to_ascii_lowercase();
    let hidden_segments = ["%2f", "%5c", "%2e", ";"].iter().any(|s| path.contains(s));
    let private_host = match url.host() {
        Some(url::Host::Ipv4(a)) => !is_public_address(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => !is_public_address(IpAddr::V6(a)),
        _ => false,
    };
    url.scheme() == "https"
        && url.as_str() == client_id
        && url.path() != "/"
        && !hidden_segments
        && !private_host
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
}

/// The client that the document `body` fetched from `client_id` describes (the draft's
/// §4, "Client Metadata"): at most [`MAX_DOCUMENT_BYTES`], client metadata validated
/// against `rules` exactly as a registration is ([`RegistrationRequest::parse`]), and:
/// - its `client_id` equals `client_id` (simple string comparison, RFC 3986 §6.2.1);
/// - no `client_credentials` grant: a client anyone can describe gets tokens only for a
///   user who consented, never on its own behalf (RFC 6749 §4.4);
/// - no `client_secret` nor `client_secret_expires_at`, and a `token_endpoint_auth_method`
///   based on no shared secret: nothing can be shared with a client known by a URL. This
///   server accepts `none` (public clients) and `private_key_jwt` (RFC 7523, keys by
///   `jwks` or `jwks_uri`), as far as `rules` allow them; the `client_secret_basic` that
///   RFC 7591 §2 implies when the member is absent is refused.
///
/// Every refusal is `invalid_client_metadata` (or `invalid_redirect_uri`), for the log:
/// the client is then unknown.
pub fn client_from_metadata_document(
    client_id: &str,
    body: &[u8],
    rules: &RegistrationRules,
) -> Result<Client, RegistrationError> {
    if !is_client_id_url(client_id) {
        return Err(metadata_error(
            "the client_id is not a client identifier URL",
        ));
    }
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(metadata_error(
            "the client metadata document is larger than 5 KiB",
        ));
    }
    let request = RegistrationRequest::parse(body, rules)?;
    if request.client_id.as_deref() != Some(client_id) {
        return Err(metadata_error(
            "the document's client_id is not the URL it was fetched from",
        ));
    }
    // Parsed (bounded, depth-checked) once already: only the members' names are read.
    let members: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(body).unwrap_or_default();
    if members.contains_key("client_secret") || members.contains_key("client_secret_expires_at") {
        return Err(metadata_error(
            "a client metadata document carries no client_secret",
        ));
    }
    let metadata = request.metadata;
    if metadata.grant_types.contains(&GrantType::ClientCredentials) {
        return Err(metadata_error(
            "a client metadata document cannot ask for client_credentials",
        ));
    }
    let kind = match metadata.token_endpoint_auth_method {
        ClientAuthMethod::None | ClientAuthMethod::PrivateKeyJwt => metadata.client_kind(None),
        _ => None,
    };
    let kind = kind.ok_or_else(|| {
        metadata_error(
            "a client metadata document's token_endpoint_auth_method must be none or \
             private_key_jwt",
        )
    })?;
    metadata.client_of_kind(client_id.to_owned(), kind)
}

/// How long a fetched document is trusted: its `Cache-Control` lifetime (see
/// [`cache_control_max_age`]; [`DEFAULT_DOCUMENT_AGE`] without one) within
/// [`MIN_DOCUMENT_AGE`] and [`MAX_DOCUMENT_AGE`] (the draft lets the server cache
/// documents, respecting HTTP cache headers, and bound how long).
pub fn document_max_age(max_age: Option<Duration>) -> Duration {
    max_age
        .unwrap_or(DEFAULT_DOCUMENT_AGE)
        .clamp(MIN_DOCUMENT_AGE, MAX_DOCUMENT_AGE)
}

/// The freshness lifetime a `Cache-Control` value gives (RFC 9111 §5.2.2): `max-age`'s
/// seconds, zero for `no-store` or `no-cache`, the least when there are several; `None`
/// when it names none of them.
pub fn cache_control_max_age(value: &str) -> Option<Duration> {
    value
        .split(',')
        .filter_map(|directive| {
            let directive = directive.trim().to_ascii_lowercase();
            match directive.split_once('=') {
                Some(("max-age", secs)) => secs.trim_matches('"').parse().ok(),
                None if directive == "no-store" || directive == "no-cache" => Some(0),
                _ => None,
            }
        })
        .min()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{ClientKeys, ClientKind};
    use crate::jose::Algorithm;
    use crate::registration::RegistrationErrorCode;
    use crate::scope::ScopeSet;
    use serde_json::json;

    const ID: &str = "https://app.example/oauth/client.json";

    fn rules() -> RegistrationRules {
        RegistrationRules::new(ScopeSet::parse("openid read").unwrap())
    }

    fn document() -> serde_json::Value {
        json!({
            "client_id": ID,
            "client_name": "App",
            "redirect_uris": ["https://app.example/cb"],
            "token_endpoint_auth_method": "none",
        })
    }

    fn refusal(body: serde_json::Value) -> String {
        let body = serde_json::to_vec(&body).unwrap();
        let e = client_from_metadata_document(ID, &body, &rules()).unwrap_err();
        assert_eq!(
            e.code,
            RegistrationErrorCode::InvalidClientMetadata,
            "{e:?}"
        );
        e.description.into_owned()
    }

    #[test]
    fn client_identifier_urls_follow_section_3() {
        for ok in [
            ID,
            "https://app.example/c",
            "https://app.example:8443/c",
            "https://app.example/c?v=1",
            "https://app.example/a/b/",
        ] {
            assert!(is_client_id_url(ok), "{ok}");
        }
        for bad in [
            "http://app.example/c",
            "https://app.example",
            "https://app.example/",
            "https://app.example/c#f",
            "https://app.example/c#",
            "https://u@app.example/c",
            "https://u:p@app.example/c",
            "https://:p@app.example/c",
            "https://app.example/./c",
            "https://app.example/a/../c",
            "https://app.example/a/%2e%2e/c",
            "https://APP.example/c",
            "https://app.example:443/c",
            "app.example/c",
            "client-1",
            "",
        ] {
            assert!(!is_client_id_url(bad), "{bad}");
        }
        let long = format!("https://app.example/{}", "a".repeat(MAX_URI_LEN));
        assert!(!is_client_id_url(&long));
        let longest = format!("https://app.example/{}", "a".repeat(MAX_URI_LEN - 20));
        assert_eq!(longest.len(), MAX_URI_LEN);
        assert!(is_client_id_url(&longest));
    }

    #[test]
    fn no_path_hidden_behind_encodings_and_no_internal_address() {
        for bad in [
            "https://app.example/apps/..%2F..%2Fuploads/evil.json",
            "https://app.example/apps/..%2f..%2fuploads/evil.json",
            "https://app.example/apps/%2E%2E/evil.json",
            "https://app.example/apps/..%5Cevil.json",
            "https://app.example/apps/..;/evil.json",
            "https://127.0.0.1/c",
            "https://10.0.0.5/c",
            "https://169.254.169.254/latest",
            "https://[::1]/c",
            "https://[fd00:ec2::254]/c",
        ] {
            assert!(!is_client_id_url(bad), "{bad}");
        }
        for ok in [
            "https://93.184.215.14/c",
            "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/c",
        ] {
            assert!(is_client_id_url(ok), "{ok}");
        }
    }

    #[test]
    fn no_client_credentials() {
        let mut d = document();
        d["grant_types"] = json!(["authorization_code", "client_credentials"]);
        assert!(refusal(d).contains("client_credentials"));
        let mut d = document();
        d["token_endpoint_auth_method"] = json!("private_key_jwt");
        d["jwks_uri"] = json!("https://app.example/jwks.json");
        d["grant_types"] = json!(["client_credentials"]);
        d["redirect_uris"] = json!([]);
        d["response_types"] = json!([]);
        let keys = rules().with_auth_methods(
            vec![ClientAuthMethod::None, ClientAuthMethod::PrivateKeyJwt],
            vec![Algorithm::ES256],
            Vec::new(),
            true,
        );
        let body = serde_json::to_vec(&d).unwrap();
        let e = client_from_metadata_document(ID, &body, &keys).unwrap_err();
        assert_eq!(e.code, RegistrationErrorCode::InvalidClientMetadata);
        assert!(e.description.contains("client_credentials"), "{e:?}");
    }

    #[test]
    fn a_document_describes_a_public_client() {
        let body = serde_json::to_vec(&document()).unwrap();
        let c = client_from_metadata_document(ID, &body, &rules()).unwrap();
        assert_eq!(c.id, ID);
        assert_eq!(c.kind, ClientKind::Public);
        assert_eq!(c.redirect_uris[0].as_str(), "https://app.example/cb");
        assert_eq!(c.allowed_scopes, rules().scopes);
        assert!(c.registration.is_none());
    }

    /// RFC 9449 §5.2, RFC 8705 §3.4: a document binds its client's tokens like a
    /// registration, certificate binding only where client certificates arrive.
    #[test]
    fn a_document_binds_its_clients_tokens() {
        let mut doc = document();
        doc["dpop_bound_access_tokens"] = json!(true);
        let body = serde_json::to_vec(&doc).unwrap();
        let c = client_from_metadata_document(ID, &body, &rules()).unwrap();
        assert!(c.tokens.dpop_bound_access_tokens);
        assert!(!c.tokens.tls_client_certificate_bound_access_tokens);
        assert!(!c.requests.require_pushed_authorization_requests);
        doc["require_pushed_authorization_requests"] = json!(true);
        let body = serde_json::to_vec(&doc).unwrap();
        let c = client_from_metadata_document(ID, &body, &rules()).unwrap();
        assert!(
            c.requests.require_pushed_authorization_requests,
            "RFC 9126 §6"
        );
        doc["tls_client_certificate_bound_access_tokens"] = json!(true);
        assert!(refusal(doc.clone()).contains("mutual TLS"));
        let body = serde_json::to_vec(&doc).unwrap();
        let mtls = rules().with_mutual_tls(true);
        let c = client_from_metadata_document(ID, &body, &mtls).unwrap();
        assert!(c.tokens.tls_client_certificate_bound_access_tokens);
    }

    /// RFC 9101 §10.5, OpenID Connect Dynamic Client Registration §2: a document may
    /// require signed request objects, name their algorithm and register `request_uris`,
    /// like a registration; a keyless client requiring signed objects could never sign one.
    #[test]
    fn a_document_may_require_signed_request_objects() {
        let c =
            client_from_metadata_document(ID, &serde_json::to_vec(&document()).unwrap(), &rules())
                .unwrap();
        assert_eq!(c.request_objects, Default::default());
        let mut doc = document();
        doc["require_signed_request_object"] = json!(true);
        assert!(refusal(doc.clone()).contains("require_signed_request_object needs"));
        doc["token_endpoint_auth_method"] = json!("private_key_jwt");
        doc["jwks_uri"] = json!("https://app.example/jwks.json");
        doc["request_object_signing_alg"] = json!("PS256");
        doc["request_uris"] = json!(["https://app.example/r/1"]);
        let keys = rules().with_auth_methods(
            vec![ClientAuthMethod::None, ClientAuthMethod::PrivateKeyJwt],
            vec![Algorithm::PS256],
            Vec::new(),
            true,
        );
        let body = serde_json::to_vec(&doc).unwrap();
        let c = client_from_metadata_document(ID, &body, &keys).unwrap();
        assert!(c.request_objects.require_signed);
        assert_eq!(c.request_objects.signing_alg, Some(Algorithm::PS256));
        assert_eq!(c.request_objects.request_uris, ["https://app.example/r/1"]);
        assert!(!c.request_objects.dangerous_allow_unsigned);
        doc["request_uris"] = json!(["http://app.example/r/1"]);
        let body = serde_json::to_vec(&doc).unwrap();
        let e = client_from_metadata_document(ID, &body, &keys).unwrap_err();
        assert_eq!(e.description, "request_uris must be an https URL");
        doc["request_object_signing_alg"] = json!("none");
        assert!(refusal(doc).contains("request_object_signing_alg is not supported"));
    }

    #[test]
    fn a_document_describes_a_private_key_jwt_client_if_the_rules_allow() {
        let mut d = document();
        d["token_endpoint_auth_method"] = json!("private_key_jwt");
        d["jwks_uri"] = json!("https://app.example/jwks.json");
        let body = serde_json::to_vec(&d).unwrap();
        // RegistrationRules::new offers the secret methods and none only.
        let e = client_from_metadata_document(ID, &body, &rules()).unwrap_err();
        assert_eq!(e.code, RegistrationErrorCode::InvalidClientMetadata);
        let keys = rules().with_auth_methods(
            vec![ClientAuthMethod::None, ClientAuthMethod::PrivateKeyJwt],
            vec![Algorithm::ES256],
            Vec::new(),
            true,
        );
        let c = client_from_metadata_document(ID, &body, &keys).unwrap();
        assert_eq!(
            c.kind,
            ClientKind::PrivateKeyJwt {
                keys: ClientKeys::JwksUri("https://app.example/jwks.json".into())
            }
        );
        // Keys it must have.
        d.as_object_mut().unwrap().remove("jwks_uri");
        let body = serde_json::to_vec(&d).unwrap();
        let e = client_from_metadata_document(ID, &body, &keys).unwrap_err();
        assert_eq!(e.code, RegistrationErrorCode::InvalidClientMetadata);
    }

    #[test]
    fn the_document_must_name_its_own_url() {
        for other in [
            json!("https://app.example/oauth/other.json"),
            json!("https://app.example/oauth/client.json/"),
            json!("HTTPS://app.example/oauth/client.json"),
        ] {
            let mut d = document();
            d["client_id"] = other;
            assert!(refusal(d).contains("client_id"));
        }
        let mut d = document();
        d.as_object_mut().unwrap().remove("client_id");
        assert!(refusal(d).contains("client_id"));
        // A client_id that is not a URL is refused before the document is read.
        let body = serde_json::to_vec(&document()).unwrap();
        let e = client_from_metadata_document("client-1", &body, &rules()).unwrap_err();
        assert!(e.description.contains("identifier URL"));
    }

    #[test]
    fn no_shared_secret() {
        for (member, value) in [
            ("client_secret", json!("s")),
            ("client_secret", json!(null)),
            ("client_secret_expires_at", json!(0)),
        ] {
            let mut d = document();
            d[member] = value;
            assert!(refusal(d).contains("client_secret"), "{member}");
        }
        for method in ["client_secret_basic", "client_secret_post"] {
            let mut d = document();
            d["token_endpoint_auth_method"] = json!(method);
            assert!(
                refusal(d).contains("must be none or private_key_jwt"),
                "{method}"
            );
        }
        // Absent, RFC 7591 §2's default client_secret_basic.
        let mut d = document();
        d.as_object_mut()
            .unwrap()
            .remove("token_endpoint_auth_method");
        assert!(refusal(d).contains("must be none or private_key_jwt"));
        for method in ["client_secret_jwt", "tls_client_auth"] {
            let mut d = document();
            d["token_endpoint_auth_method"] = json!(method);
            refusal(d);
        }
    }

    #[test]
    fn validated_like_a_registration_and_bounded() {
        let mut d = document();
        d["scope"] = json!("openid admin");
        assert!(refusal(d).contains("admin"));
        let mut d = document();
        d["redirect_uris"] = json!(["javascript:alert(1)"]);
        let body = serde_json::to_vec(&d).unwrap();
        let e = client_from_metadata_document(ID, &body, &rules()).unwrap_err();
        assert_eq!(e.code, RegistrationErrorCode::InvalidRedirectUri);
        for junk in [&b"not json"[..], b"[]", b""] {
            let e = client_from_metadata_document(ID, junk, &rules()).unwrap_err();
            assert_eq!(e.code, RegistrationErrorCode::InvalidClientMetadata);
        }
        assert_eq!(MAX_DOCUMENT_BYTES, 5120);
        let mut body = serde_json::to_vec(&document()).unwrap();
        body.resize(MAX_DOCUMENT_BYTES, b' ');
        assert!(client_from_metadata_document(ID, &body, &rules()).is_ok());
        body.push(b' ');
        let e = client_from_metadata_document(ID, &body, &rules()).unwrap_err();
        assert!(e.description.contains("larger than 5 KiB"));
    }

    #[test]
    fn trusted_for_its_cache_lifetime_within_bounds() {
        let s = Duration::from_secs;
        assert_eq!(document_max_age(None), DEFAULT_DOCUMENT_AGE);
        assert_eq!(document_max_age(Some(s(0))), MIN_DOCUMENT_AGE);
        assert_eq!(document_max_age(Some(s(59))), MIN_DOCUMENT_AGE);
        assert_eq!(document_max_age(Some(s(61))), s(61));
        assert_eq!(document_max_age(Some(s(86_399))), s(86_399));
        assert_eq!(document_max_age(Some(s(86_401))), MAX_DOCUMENT_AGE);
        assert_eq!(document_max_age(Some(s(u64::MAX))), MAX_DOCUMENT_AGE);
    }

    #[test]
    fn cache_control_lifetimes() {
        let s = |n| Some(Duration::from_secs(n));
        for (value, age) in [
            ("max-age=300", s(300)),
            ("public, Max-Age=\"120\"", s(120)),
            (" max-age = 7 ", None),
            ("max-age=300, no-store", s(0)),
            ("no-cache", s(0)),
            ("NO-STORE", s(0)),
            ("max-age=10, max-age=20", s(10)),
            ("max-age=x", None),
            ("must-revalidate", None),
            ("no-store=1", None),
            ("s-maxage=5", None),
            ("", None),
        ] {
            assert_eq!(cache_control_max_age(value), age, "{value}");
        }
    }
}
